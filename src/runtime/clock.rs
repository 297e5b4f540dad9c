//! The wall clock, for the Engine of a running server.

use jiff::Timestamp;
use workflow_core::clock::Clock;

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}
