//! Other nodes' new messages, heard here (PostgreSQL `LISTEN`).

use std::sync::Arc;
use std::time::Duration;

use storage::SqlStore;
use storage::announce::OUTBOX_CHANNEL;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::Wakeup;

/// On PostgreSQL, relays other nodes' announcements of new messages (NOTIFY on
/// [`OUTBOX_CHANNEL`]) to this process's [`Wakeup`], until `shutdown`. Nothing to do on
/// SQLite: one process owns the file.
pub fn spawn_outbox_listener(
    store: SqlStore,
    wake: Arc<Wakeup>,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let pool = store.pg_pool()?.clone();
    Some(tokio::spawn(async move {
        let mut listener = loop {
            if let Ok(mut l) = sqlx::postgres::PgListener::connect_with(&pool).await
                && l.listen(OUTBOX_CHANNEL).await.is_ok()
            {
                break l;
            }
            tracing::warn!("outbox LISTEN failed; retrying in 5 s");
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
        };
        loop {
            tokio::select! {
                n = listener.recv() => match n {
                    Ok(_) => wake.bump_outbox(),
                    // The listener reconnects by itself; what was missed meanwhile is found
                    // by the readers' own periodic look.
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                },
                _ = shutdown.changed() => return,
            }
        }
    }))
}
