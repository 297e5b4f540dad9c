//! 时间银行 expiry: once an hour, the hours a bank's deployment says expire (unspent longer
//! than its `expire_after_days`) are retired to the community's issue account, each a movement
//! in the person's passbook; a run that expired anything is recorded. Banks that say nothing
//! never expire hours, and this finds nothing to do for them.

use std::sync::Arc;
use std::time::Duration;

use storage::SqlStore;
use storage::audit::AuditRecord;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workflow_core::clock::Clock;

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(3600);

/// Expires what is due now; how many accounts had hours expire (recorded).
pub async fn run_once(store: &SqlStore, clock: &dyn Clock) -> anyhow::Result<u64> {
    let now = clock.now();
    let expired = store.expire_time(now).await?;
    if expired > 0 {
        store
            .record(&AuditRecord {
                at: now,
                kind: "time_bank_expiry".into(),
                actor: None,
                subject: None,
                community: None,
                detail: format!("unspent time bank hours expired in {expired} accounts"),
                ticket: None,
                request_id: None,
                address: None,
            })
            .await?;
        tracing::info!(expired, "time bank: hours expired");
    }
    Ok(expired)
}

/// Runs [`run_once`] every hour until `shutdown`.
pub fn spawn(
    store: SqlStore,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&store, clock.as_ref()).await {
                tracing::warn!(error = %e, "time bank expiry: will try again");
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}
