//! The timer worker: sleeps until the earliest due timer, fires due timers through the
//! Engine, and wakes early when this process sets an earlier timer or (PostgreSQL) another
//! node announces one with NOTIFY. A bounded poll is the safety net for a lost wake-up.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;
use workflow_core::clock::Clock;
use workflow_core::engine::{Engine, Signals};
use workflow_core::store::Store;

use crate::SqlStore;

/// How many tickets' timers a PostgreSQL node fires at once (see `Engine::with_timer_parallelism`).
pub const PG_TIMER_PARALLELISM: usize = 8;

/// The channel PostgreSQL nodes announce new timers on, with the earliest due time set
/// ([`timer_announcement`]).
pub const TIMER_CHANNEL: &str = "linli_timers";

/// What a write announces on [`TIMER_CHANNEL`]: the earliest timer it set, in Unix µs. A
/// worker that means to look before then sleeps on: every write that sets a timer announces
/// it, the node's own included, and waking for each (three queries) was two fifths of the
/// database's statements under load, a tenth of their execution time.
pub fn timer_announcement(due: Timestamp) -> String {
    due.as_microsecond().to_string()
}

/// The longest a timer worker sleeps without looking for due timers: a longer
/// [`WorkerConfig::max_sleep`] is held to it, because [`announced`] counts on it.
pub const LONGEST_SLEEP: Duration = Duration::from_secs(30);

/// A timer due later than this after it was set is not announced: every worker looks again
/// within [`LONGEST_SLEEP`], finds it, and sleeps no longer than until it is due. The other
/// half is room for the nodes' clocks to disagree.
const ANNOUNCED_WITHIN: SignedDuration =
    SignedDuration::from_secs(2 * LONGEST_SLEEP.as_secs() as i64);

/// Whether a timer set by a decision taken at `decided_at` and due at `due` is announced on
/// [`TIMER_CHANNEL`]. Most are not: an SLA's warning and deadline, a state's expiry and a
/// follow-up are hours or days away, and a NOTIFY is not free (PostgreSQL orders the commits
/// that send one, and wakes every listening connection of every node for each).
pub fn announced(due: Timestamp, decided_at: Timestamp) -> bool {
    decided_at
        .checked_add(ANNOUNCED_WITHIN)
        .is_ok_and(|horizon| due < horizon)
}

/// Whether an announcement on [`TIMER_CHANNEL`] wakes a worker that means to look at
/// `target_us` anyway: unless it names a later time. One it cannot read (an older node's
/// empty one) wakes it.
fn wakes(payload: &str, target_us: i64) -> bool {
    payload.parse::<i64>().map_or(true, |due| due < target_us)
}

/// The channel PostgreSQL nodes announce new outbox messages on (event streams, delivery).
pub const OUTBOX_CHANNEL: &str = "linli_outbox";

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// Wake-ups from the Engine to the workers of this process.
#[derive(Debug)]
pub struct Wakeup {
    timers: Notify,
    /// Bumped whenever messages were written (here, or on another node: see
    /// [`spawn_outbox_listener`]); the delivery worker and every event stream watch it, so
    /// none misses a bump that happened while it was busy.
    outbox: watch::Sender<u64>,
    /// When the timer worker means to wake next (Unix µs); an earlier timer wakes it now.
    timer_target_us: AtomicI64,
    /// How many times the timer worker looked for due timers.
    timer_passes: AtomicU64,
}

impl Default for Wakeup {
    fn default() -> Self {
        Wakeup {
            timers: Notify::new(),
            outbox: watch::Sender::new(0),
            timer_target_us: AtomicI64::new(i64::MAX),
            timer_passes: AtomicU64::new(0),
        }
    }
}

impl Wakeup {
    /// Changes whenever messages were written: what the delivery worker and the event
    /// streams wait on.
    pub fn outbox_changes(&self) -> watch::Receiver<u64> {
        self.outbox.subscribe()
    }

    /// How many times the timer worker has looked for due timers (each look is a few
    /// queries): what shows that it sleeps when nothing is due.
    pub fn timer_passes(&self) -> u64 {
        self.timer_passes.load(Ordering::Relaxed)
    }

    fn bump_outbox(&self) {
        self.outbox.send_modify(|n| *n = n.wrapping_add(1));
    }
}

impl Signals for Wakeup {
    fn timer_set(&self, due: Timestamp) {
        if due.as_microsecond() < self.timer_target_us.load(Ordering::Relaxed) {
            self.timers.notify_one();
        }
    }

    fn outbox_written(&self) {
        self.bump_outbox();
    }
}

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
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let target = at.as_microsecond();
    assert!(wakes(
        &timer_announcement(at - SignedDuration::from_secs(1)),
        target
    ));
    assert!(!wakes(&timer_announcement(at), target));
    assert!(!wakes(
        &timer_announcement(at + SignedDuration::from_secs(1)),
        target
    ));
    assert!(wakes("", target), "an older node's announcement");
}

#[cfg(test)]
#[test]
fn a_timer_is_announced_only_if_due_before_every_worker_looks_again_with_room_to_spare() {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let after = |secs| at + SignedDuration::from_secs(secs);
    assert!(announced(after(2), at));
    assert!(announced(after(59), at));
    assert!(!announced(after(60), at));
    assert!(!announced(after(3600), at), "an SLA deadline an hour away");
    assert!(
        announced(at - SignedDuration::from_secs(5), at),
        "one already due"
    );
    assert!(
        ANNOUNCED_WITHIN >= SignedDuration::try_from(LONGEST_SLEEP).unwrap(),
        "a worker could sleep through one it was not told of"
    );
}
