//! What runs around the Engine in a server: the wall clock, the wake-ups the Engine gives,
//! the timer worker, the relay of other nodes' announcements, webhook delivery, and the
//! hourly housekeeping (retention, time bank expiry). The
//! storage crate only stores and announces; the core only decides; these keep time and go
//! looking.

pub mod callback;
pub mod clock;
pub mod delivery;
pub mod egress;
pub mod expiry;
pub mod hotline;
pub mod relay;
pub mod retention;
pub mod timers;
pub mod wakeup;
pub mod webhooks;

pub use clock::SystemClock;
pub use wakeup::Wakeup;
