//! The timer worker: sleeps until the earliest due timer, fires due timers through the
//! Engine, and wakes early when this process sets an earlier timer or (PostgreSQL) another
//! node announces one with NOTIFY. A bounded poll is the safety net for a lost wake-up.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jiff::SignedDuration;
use storage::SqlStore;
use storage::announce::{LONGEST_SLEEP, TIMER_CHANNEL};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;
use workflow_core::clock::Clock;
use workflow_core::engine::Engine;
use workflow_core::store::Store;

use super::Wakeup;

/// Whether an announcement on [`TIMER_CHANNEL`] wakes a worker that means to look at
/// `target_us` anyway: unless it names a later time. One it cannot read (an older node's
/// empty one) wakes it.
fn wakes(payload: &str, target_us: i64) -> bool {
    payload.parse::<i64>().map_or(true, |due| due < target_us)
}

#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub batch: u32,
    /// How long a claim holds before another node may take the timer over.
    pub lease: SignedDuration,
    /// The longest the worker sleeps without looking (safety net); at most [`LONGEST_SLEEP`].
    pub max_sleep: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            batch: 200,
            lease: SignedDuration::from_secs(60),
            max_sleep: LONGEST_SLEEP,
        }
    }
}

/// Runs the timer worker until `shutdown` turns true; then finishes the timer in hand and
/// releases its claims.
pub fn spawn_timer_worker(
    engine: Arc<Engine>,
    store: SqlStore,
    clock: Arc<dyn Clock>,
    wake: Arc<Wakeup>,
    config: WorkerConfig,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let owner = Uuid::now_v7();
        let mut listener = match store.pg_pool() {
            Some(pool) => match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(mut l) => match l.listen(TIMER_CHANNEL).await {
                    Ok(()) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = %e, "LISTEN failed; polling only");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "no listener connection; polling only");
                    None
                }
            },
            None => None,
        };
        tracing::info!(%owner, "timer worker started");
        while !*shutdown.borrow() {
            let mut sleep = config.max_sleep.min(LONGEST_SLEEP);
            wake.timer_passes.fetch_add(1, Ordering::Relaxed);
            match engine.fire_due(owner, config.batch, config.lease).await {
                Ok(f) if f.claimed as u32 >= config.batch => {
                    record(&f);
                    continue;
                }
                Ok(f) => {
                    record(&f);
                    if f.claimed > 0 {
                        tracing::debug!(
                            fired = f.fired,
                            discarded = f.discarded,
                            lost = f.lost,
                            "timers"
                        );
                    }
                    match store.next_due().await {
                        Ok(Some(next)) => {
                            let wait = next.as_microsecond() - clock.now().as_microsecond();
                            sleep = sleep.min(Duration::from_micros(wait.max(0) as u64));
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "next_due failed"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "firing timers failed; retrying");
                    sleep = Duration::from_secs(1);
                }
            }
            let target = clock
                .now()
                .as_microsecond()
                .saturating_add(sleep.as_micros() as i64);
            wake.timer_target_us.store(target, Ordering::Relaxed);
            let notified = async {
                let Some(l) = listener.as_mut() else {
                    return std::future::pending().await;
                };
                loop {
                    match l.recv().await {
                        Ok(n) if !wakes(n.payload(), target) => continue,
                        Ok(_) => return,
                        // The listener reconnects by itself; meanwhile fall back to sleeping.
                        Err(_) => return tokio::time::sleep(Duration::from_secs(1)).await,
                    }
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {}
                _ = wake.timers.notified() => {}
                _ = notified => {}
                _ = shutdown.changed() => {}
            }
            wake.timer_target_us.store(i64::MAX, Ordering::Relaxed);
        }
        if let Err(e) = store.release_claims(owner).await {
            tracing::warn!(error = %e, "could not release timer claims; they expire with their lease");
        }
        tracing::info!(%owner, "timer worker stopped");
    })
}

/// Timers fired by kind; SLA breaches are the `sla_breach` kind.
fn record(f: &workflow_core::engine::Fired) {
    for (kind, n) in &f.by_kind {
        metrics::counter!("linli_timers_fired_total", "kind" => *kind).increment(*n as u64);
        if *kind == "sla_breach" {
            metrics::counter!("linli_sla_breaches_total").increment(*n as u64);
        }
    }
}

#[cfg(test)]
#[test]
fn only_an_announcement_before_the_workers_next_look_wakes_it() {
    let at = jiff::Timestamp::from_second(1_800_000_000).unwrap();
    let target = at.as_microsecond();
    assert!(wakes(
        &storage::announce::timer_announcement(at - SignedDuration::from_secs(1)),
        target
    ));
    assert!(!wakes(&storage::announce::timer_announcement(at), target));
    assert!(!wakes(
        &storage::announce::timer_announcement(at + SignedDuration::from_secs(1)),
        target
    ));
    assert!(wakes("", target), "an older node's announcement");
}
