//! Notifications that reach people: the outbox rows each transition writes are delivered to
//! webhooks ([`webhook`]) and streamed to the people they concern ([`stream`]). Who is told
//! of what is declared in the workflow files (`[[notify]]`); this module only carries it.

pub mod stream;
pub mod webhook;
