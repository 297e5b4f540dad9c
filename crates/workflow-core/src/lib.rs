//! `workflow-core`: Linli's pure domain.
//!
//! Workflow definitions loaded from TOML into a validated model ([`definition`]), business
//! calendars ([`calendar`]), the ticket and its events ([`ticket`], [`event`]), the one
//! function that decides every change ([`decide`]), and the one policy of who sees what and
//! who may do what beyond a workflow's transitions ([`access`]). Time comes in through
//! [`clock::Clock`].
//!
//! This crate must not depend on a database, an HTTP stack or the file system: adapters
//! (the `storage` and `http` crates, the `linli` binary) do IO and call in.

pub mod access;
pub mod calendar;
pub mod certificate;
pub mod clock;
pub mod command;
pub mod credit;
pub mod decide;
pub mod definition;
pub mod directory;
pub mod dispatch;
pub mod duration;
pub mod engine;
pub mod erase;
pub mod event;
pub mod figures;
mod hash;
pub mod hotline;
pub mod label;
pub mod link;
pub mod migrate;
pub mod report_in;
pub mod role;
pub mod session;
pub mod store;
pub mod ticket;
pub mod time_bank;

pub use command::{
    Act, Actor, CommandError, Decision, Fields, Firing, Notification, Recipient, Submission, Timer,
    TimerChange, TimerKey,
};
pub use decide::{
    allowed_actions, decide, decide_auto_dispatch, decide_firing, decide_firing_with,
    decide_submission, decide_with,
};
pub use definition::{Catalog, LoadError, Source, Workflow, load};
pub use engine::{Engine, EngineError, NewRequest, Signals};
pub use event::{Event, EventKind};
pub use role::{Party, Role, RoleSet};
pub use ticket::{Assignee, Ticket, Urgency};
