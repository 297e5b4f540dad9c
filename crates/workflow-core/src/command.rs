//! What the core is asked to do, by whom, and what it answers: commands in, a [`Decision`]
//! (events, timers to set and cancel, notifications) out.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::role::{Role, RoleSet};
use crate::ticket::{Assignee, Ticket, Urgency};

/// The person acting, with what they are in the organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub id: Uuid,
    pub roles: RoleSet,
    /// Teams whose pools this person may take from.
    pub teams: Vec<Uuid>,
}

impl Actor {
    pub fn new(id: Uuid, roles: impl IntoIterator<Item = Role>) -> Actor {
        Actor {
            id,
            roles: roles.into_iter().collect(),
            teams: Vec::new(),
        }
    }

    pub fn with_teams(mut self, teams: Vec<Uuid>) -> Actor {
        self.teams = teams;
        self
    }

    /// The timer worker.
    pub fn system() -> Actor {
        Actor::new(Uuid::nil(), [Role::System])
    }

    pub fn is_system(&self) -> bool {
        self.roles.contains(Role::System)
    }
}

/// Fields an action may carry (which ones each action takes is the workflow's word).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    pub assignee: Option<Assignee>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub rating: Option<u8>,
    pub hours: Option<f64>,
    /// More time asked for (延期): `"4h"`, `"2wd"`.
    pub extend_by: Option<String>,
    /// The request to merge this one under (并单).
    pub parent: Option<Uuid>,
    /// Whether the requester was contacted about the result (已联系诉求人): a hotline order's
    /// completion says so to the platform.
    pub contacted: Option<bool>,
}

/// Limits on free text, in characters: long enough for a real account, short enough that a
/// ticket page stays readable and a hostile client cannot store megabytes.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
pub const MAX_REASON_CHARS: usize = 500;
pub const MAX_NOTE_CHARS: usize = 2000;
/// A single completion records at most a day of service.
pub const MAX_HOURS: f64 = 24.0;
/// A ticket's history is capped: a real request needs a few dozen events; a client adding
/// notes in a loop must not grow one row without bound.
pub const MAX_EVENTS_PER_TICKET: u64 = 1000;

/// The ways a request reaches the community (every request carries one): a visit to the
/// office or a home visit, a phone call, the city's 12345 hotline, WeChat, an Open311 client,
/// the web console, another program through the API.
pub const CHANNELS: [&str; 7] = [
    "visit", "phone", "12345", "wechat", "open311", "console", "api",
];

/// A workflow action on an existing ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct Act {
    pub action: String,
    /// The ticket version the caller saw; a different current version is a conflict.
    pub expected_version: u64,
    pub fields: Fields,
}

/// A new request (点单).
#[derive(Clone, Debug, PartialEq)]
pub struct Submission {
    pub id: Uuid,
    pub category: String,
    pub urgency: Urgency,
    pub description: String,
    pub channel: String,
    pub requester: Uuid,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    pub building_id: Option<Uuid>,
    /// A city hotline work order's facts (12345), for a ticket made from one.
    pub hotline: Option<crate::hotline::Facts>,
}

/// What a timer does when it fires. The string form (`sla_breach:response`) is its key in
/// storage: setting a timer with a key replaces the ticket's timer of that key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TimerKey {
    SlaWarning(String),
    SlaBreach(String),
    Escalation(String),
    /// A state timer's action (dispatch expiry, auto-close).
    State(String),
    /// Automatic dispatch with this action: due as soon as the ticket enters the state.
    AutoDispatch(String),
    /// The follow-up task (回访), recorded by this action.
    FollowUp(String),
    /// A co-handler's own deadline (协办): the person's id.
    CoHandler(String),
}

impl TimerKey {
    pub fn parse(s: &str) -> Option<TimerKey> {
        let (kind, name) = s.split_once(':')?;
        let name = name.to_owned();
        match kind {
            "sla_warning" => Some(TimerKey::SlaWarning(name)),
            "sla_breach" => Some(TimerKey::SlaBreach(name)),
            "escalation" => Some(TimerKey::Escalation(name)),
            "state" => Some(TimerKey::State(name)),
            "auto_dispatch" => Some(TimerKey::AutoDispatch(name)),
            "follow_up" => Some(TimerKey::FollowUp(name)),
            "co_handler" => Some(TimerKey::CoHandler(name)),
            _ => None,
        }
    }

    /// The kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            TimerKey::SlaWarning(_) => "sla_warning",
            TimerKey::SlaBreach(_) => "sla_breach",
            TimerKey::Escalation(_) => "escalation",
            TimerKey::State(_) => "state",
            TimerKey::AutoDispatch(_) => "auto_dispatch",
            TimerKey::FollowUp(_) => "follow_up",
            TimerKey::CoHandler(_) => "co_handler",
        }
    }

    fn name(&self) -> &str {
        match self {
            TimerKey::SlaWarning(n)
            | TimerKey::SlaBreach(n)
            | TimerKey::Escalation(n)
            | TimerKey::State(n)
            | TimerKey::AutoDispatch(n)
            | TimerKey::FollowUp(n)
            | TimerKey::CoHandler(n) => n,
        }
    }
}

impl fmt::Display for TimerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.name())
    }
}

/// A timer to set. `epoch` ties it to what it was set for (a clock's cycle, or the event that
/// entered the state), so a timer that outlived its reason is discarded, not fired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timer {
    pub key: TimerKey,
    pub due_at: Timestamp,
    pub epoch: u64,
}

/// A due timer handed back to the core.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Firing {
    pub key: TimerKey,
    pub due_at: Timestamp,
    pub epoch: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerChange {
    Set(Timer),
    Cancel(TimerKey),
}

/// Who is to be told. Staff roles are resolved by the store against the ticket's branch and
/// community (the secretary of *this* branch, the community office of *this* community…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    Person(Uuid),
    Team(Uuid),
    Staff(Role),
    /// The city hotline platform a ticket's work order came from (its callback URL).
    Platform,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub ticket_id: Uuid,
    pub event_seq: u64,
    /// The event's name: an action, `submitted`, `sla_warning`, `sla_breach`, `escalation`.
    pub event: String,
    pub recipient: Recipient,
}

/// Everything a command changes, for the store to apply in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The ticket after the events; equal to folding `events` into the ticket before.
    pub ticket: Ticket,
    /// The version the ticket had before (0 for a submission): the store's compare-and-set.
    pub expected_version: u64,
    pub events: Vec<Event>,
    pub timers: Vec<TimerChange>,
    pub notifications: Vec<Notification>,
    /// What it moves in its community's time bank (时间银行), written with it.
    pub time: Vec<crate::time_bank::Movement>,
}

/// Why a command was refused. Each maps to one HTTP status and problem `code`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown action {action:?}")]
    UnknownAction { action: String },
    #[error("action {action:?} is not allowed in state {state:?}")]
    NotAllowedInState { action: String, state: String },
    /// The state allows the action, the ticket's circumstances do not (an extension asked
    /// for after the deadline, a second one while the first waits).
    #[error("action {action:?} is not possible now: {reason}")]
    NotNow { action: String, reason: String },
    #[error("your role may not take action {action:?}")]
    RoleNotAllowed { action: String },
    #[error("the ticket is at version {actual}, not {expected}: reload and try again")]
    StaleVersion { expected: u64, actual: u64 },
    #[error("action {action:?} requires the field {field:?}")]
    MissingField { action: String, field: &'static str },
    #[error("field {field:?} is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("action {action:?} does not take the field {field:?}")]
    FieldNotAccepted { action: String, field: &'static str },
    #[error("unknown category {0:?}")]
    UnknownCategory(String),
    #[error("the ticket has reached its limit of {MAX_EVENTS_PER_TICKET} events")]
    TicketFull,
    #[error("ticket uses workflow {ticket}, not {given}")]
    WrongWorkflow { ticket: String, given: String },
}

impl CommandError {
    /// The stable machine-readable code (problem+json `code`).
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::UnknownAction { .. } => "unknown_action",
            CommandError::NotAllowedInState { .. } => "action_not_allowed",
            CommandError::NotNow { .. } => "not_now",
            CommandError::RoleNotAllowed { .. } => "role_not_allowed",
            CommandError::StaleVersion { .. } => "stale_version",
            CommandError::MissingField { .. } => "missing_field",
            CommandError::InvalidField { .. } => "invalid_field",
            CommandError::FieldNotAccepted { .. } => "field_not_accepted",
            CommandError::UnknownCategory(_) => "unknown_category",
            CommandError::TicketFull => "ticket_full",
            CommandError::WrongWorkflow { .. } => "wrong_workflow",
        }
    }
}
