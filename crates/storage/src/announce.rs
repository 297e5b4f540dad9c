//! Telling the other nodes on a PostgreSQL server that messages were written (`NOTIFY` on
//! [`OUTBOX_CHANNEL`]), so that their event streams and deliveries look now rather than at
//! their next poll.
//!
//! Not inside the write's transaction. A transaction that sends a `NOTIFY` takes a lock of
//! the whole server (every database on it) from just before its commit until the commit is
//! flushed, so that the notifications queue in commit order: every such commit waits for the
//! one before it, ours, another node's or another application's. Sent with every batch,
//! that put all of a node's commits, and every node's, in one line, and one slow flush held
//! them all (waits of 25 to 80 ms for it in `log_lock_waits` under `linli bench http`).
//!
//! So the announcement is sent once the write has committed, from a connection of the
//! pool, and at most once every [`GAP`] however many writes there were: other nodes hear
//! of a message at most that much later, and never of one whose write rolled back. One lost
//! to a crash between the commit and the announcement is found by the readers' own poll.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

use crate::worker::OUTBOX_CHANNEL;

/// The shortest time between two announcements of one store.
pub const GAP: Duration = Duration::from_millis(50);

/// A store's announcer: what its writes tell once committed.
#[derive(Debug)]
pub(crate) struct Announcer {
    wanted: watch::Sender<()>,
}

impl Announcer {
    /// Starts the task that announces, on `pool`. It ends when the announcer is dropped.
    pub(crate) fn spawn(pool: PgPool) -> Announcer {
        let (wanted, heard) = watch::channel(());
        tokio::spawn(announce(pool, heard));
        Announcer { wanted }
    }

    /// Messages were written and committed: the other nodes are told soon, with whatever
    /// else is written meanwhile.
    pub(crate) fn messages_written(&self) {
        self.wanted.send_replace(());
    }
}

async fn announce(pool: PgPool, mut wanted: watch::Receiver<()>) {
    // `changed` returns once for any number of writes since it last did.
    while wanted.changed().await.is_ok() {
        let sent = sqlx::query("SELECT pg_notify($1, '')")
            .bind(OUTBOX_CHANNEL)
            .execute(&pool)
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "announcing new messages failed; the other nodes' poll finds them");
        }
        tokio::time::sleep(GAP).await;
    }
}
