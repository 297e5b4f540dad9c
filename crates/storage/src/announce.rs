//! Telling the other nodes (PostgreSQL `NOTIFY`) that timers were set or messages written,
//! once the writes that did so have committed.
//!
//! The `NOTIFY` was once part of each write's own statement, atomic with it. But PostgreSQL
//! serializes the commits of the transactions that notify: each takes a database-wide lock
//! before its commit and holds it until its commit record is on disk (`PreCommit_Notify` in
//! the server's `async.c`). Nearly every batch notified, so no two batches ever flushed
//! together: the writers waited on that lock (`wait_event` `object`) through each other's
//! fsync. Sent afterwards by one task per node, the wake-ups of every write committed
//! meanwhile travel together in one small transaction, which commits without waiting for the
//! disk: a wake-up needs no durability.
//!
//! What a crash between a commit and its announcement loses is a wake-up, never a write: the
//! timer workers look again within their `max_sleep` and the outbox's readers on their own
//! schedule, as after a lost listener connection.

use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use sqlx::PgPool;
use tokio::sync::mpsc;

use crate::worker::{OUTBOX_CHANNEL, TIMER_CHANNEL, timer_announcement};

/// The one statement that announces: in its own transaction, committed asynchronously
/// (`set_config(…, true)` sets it for that transaction alone).
const NOTIFY: &str = "\
SELECT set_config('synchronous_commit', 'off', true),
    CASE WHEN $1::text IS NOT NULL THEN pg_notify($2, $1::text) END,
    CASE WHEN $3 THEN pg_notify($4, '') END";

/// What is still to be announced.
#[derive(Debug, Default, PartialEq, Eq)]
struct Pending {
    /// The earliest timer set (the workers' [`TIMER_CHANNEL`] payload).
    earliest_timer: Option<Timestamp>,
    /// Whether messages were written ([`OUTBOX_CHANNEL`]).
    messages: bool,
}

impl Pending {
    fn is_empty(&self) -> bool {
        *self == Pending::default()
    }
}

/// The writers' side of a node's announcing task; the task ends when this is dropped.
#[derive(Debug)]
pub(crate) struct Announcer {
    pending: Arc<Mutex<Pending>>,
    /// Holds at most one wake-up: a full channel means the task has yet to take what is
    /// pending, and will take what is added meanwhile with it.
    wake: mpsc::Sender<()>,
}

impl Announcer {
    /// Starts the task, which announces on connections of `pool`.
    pub(crate) fn spawn(pool: PgPool) -> Announcer {
        let pending = Arc::<Mutex<Pending>>::default();
        let (wake, mut woken) = mpsc::channel(1);
        let taken = pending.clone();
        tokio::spawn(async move {
            while woken.recv().await.is_some() {
                let due = std::mem::take(&mut *taken.lock().unwrap_or_else(|e| e.into_inner()));
                if due.is_empty() {
                    continue;
                }
                if let Err(e) = sqlx::query(NOTIFY)
                    .bind(due.earliest_timer.map(timer_announcement))
                    .bind(TIMER_CHANNEL)
                    .bind(due.messages)
                    .bind(OUTBOX_CHANNEL)
                    .execute(&pool)
                    .await
                {
                    tracing::warn!(error = %e, "could not announce to the other nodes; they find it on their next look");
                }
            }
        });
        Announcer { pending, wake }
    }

    /// Announces, soon, that committed writes set a timer due at `earliest_timer` and (if
    /// `messages`) wrote messages.
    pub(crate) fn announce(&self, earliest_timer: Option<Timestamp>, messages: bool) {
        if earliest_timer.is_none() && !messages {
            return;
        }
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.earliest_timer = pending
                .earliest_timer
                .into_iter()
                .chain(earliest_timer)
                .min();
            pending.messages |= messages;
        }
        let _ = self.wake.try_send(());
    }
}
