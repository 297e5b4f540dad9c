//! Retention (PIPL art. 19): the words written on requests closed longer ago than the
//! deployment keeps them are anonymised, once an hour, with a record of each run that
//! touched anything. Figures do not change: counts, deadlines, ratings and hours stay.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use storage::SqlStore;
use storage::audit::AuditRecord;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workflow_core::clock::Clock;

/// How often the worker looks.
const EVERY: Duration = Duration::from_secs(3600);

/// Anonymises what closed more than `keep` ago; how many requests it touched (recorded).
pub async fn run_once(
    store: &SqlStore,
    clock: &dyn Clock,
    keep: SignedDuration,
) -> anyhow::Result<u64> {
    let now = clock.now();
    let cutoff = now - keep;
    let touched = store.anonymise_closed_before(cutoff, now).await?;
    if touched > 0 {
        store
            .record(&AuditRecord {
                at: now,
                kind: "retention".into(),
                actor: None,
                subject: None,
                community: None,
                detail: format!(
                    "{touched} requests closed before {cutoff} anonymised, their photos deleted"
                ),
                ticket: None,
                request_id: None,
                address: None,
            })
            .await?;
        tracing::info!(touched, %cutoff, "retention: requests anonymised");
    }
    Ok(touched)
}

/// Runs [`run_once`] every hour until `shutdown`; `keep` of zero keeps everything.
pub fn spawn(
    store: SqlStore,
    clock: Arc<dyn Clock>,
    keep: SignedDuration,
    mut shutdown: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    if keep.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        loop {
            if let Err(e) = run_once(&store, clock.as_ref(), keep).await {
                tracing::warn!(error = %e, "retention: will try again");
            }
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }))
}
