//! Notifications that reach people here: the outbox rows each transition writes are streamed
//! to the people they concern ([`stream`]); webhook delivery is the runtime's (the `linli`
//! crate). Who is told of what is declared in the workflow files (`[[notify]]`); this module
//! only carries it.

pub mod stream;
