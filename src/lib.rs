//! `linli`: the composition root and the runtime. [`app`] builds a server from its
//! configuration, the one way the `linli` binary, the tests and the benchmarks do;
//! [`runtime`] holds what runs around the Engine in a server (the clock, the wake-ups, the
//! timer worker, the relay of other nodes' announcements, webhook delivery). The binary's
//! command line is `src/main.rs` and `src/cli/`.

pub mod app;
pub mod demo_history;
pub mod runtime;
pub mod workflows;
