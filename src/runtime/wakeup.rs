//! Wake-ups from the Engine to this process's workers and event streams.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use jiff::Timestamp;
use tokio::sync::{Notify, watch};
use workflow_core::engine::Signals;

/// Wake-ups from the Engine to the workers of this process.
#[derive(Debug)]
pub struct Wakeup {
    pub(crate) timers: Notify,
    /// Bumped whenever messages were written (here, or on another node: see
    /// [`super::relay`]); the delivery worker and every event stream watch it, so
    /// none misses a bump that happened while it was busy.
    outbox: watch::Sender<u64>,
    /// When the timer worker means to wake next (Unix µs); an earlier timer wakes it now.
    pub(crate) timer_target_us: AtomicI64,
    /// How many times the timer worker looked for due timers.
    pub(crate) timer_passes: AtomicU64,
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

    pub(crate) fn bump_outbox(&self) {
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
