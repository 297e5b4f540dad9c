//! The ticket (诉求/工单): a projection of its events. Nothing here decides; [`crate::event`]
//! folds events into a ticket and [`crate::decide`] produces the events.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    #[default]
    Normal,
    Urgent,
}

impl Urgency {
    pub fn as_str(self) -> &'static str {
        match self {
            Urgency::Normal => "normal",
            Urgency::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Urgency> {
        match s {
            "normal" => Some(Urgency::Normal),
            "urgent" => Some(Urgency::Urgent),
            _ => None,
        }
    }
}

/// Who holds a ticket: one person, or a team's pool (抢单) until a member claims it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assignee {
    Person(Uuid),
    Team(Uuid),
}

impl Assignee {
    /// The person's or the team's id.
    pub fn id(self) -> Uuid {
        match self {
            Assignee::Person(id) | Assignee::Team(id) => id,
        }
    }

    pub fn person(self) -> Option<Uuid> {
        match self {
            Assignee::Person(p) => Some(p),
            Assignee::Team(_) => None,
        }
    }

    pub fn team(self) -> Option<Uuid> {
        match self {
            Assignee::Team(t) => Some(t),
            Assignee::Person(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockStatus {
    #[default]
    NotStarted,
    Running,
    Paused,
    Stopped,
}

/// The state of one SLA clock on one ticket. Working seconds are counted through the clock's
/// calendar; `elapsed_secs` holds what was counted before the current run began at `since`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockState {
    pub name: String,
    /// 0 before the first start; a reopen that restarts the clock begins a new cycle.
    pub cycle: u32,
    pub status: ClockStatus,
    pub target_secs: i64,
    pub elapsed_secs: i64,
    pub since: Option<Timestamp>,
    pub due: Option<Timestamp>,
    /// When the next warning falls due.
    pub warn_at: Option<Timestamp>,
    pub warned: bool,
    /// Warnings given in this cycle (a clock may warn at several thresholds).
    #[serde(default)]
    pub warnings: u8,
    pub breached: bool,
    /// Escalation steps taken in this cycle.
    pub escalation_level: u8,
    pub stopped_at: Option<Timestamp>,
    /// At stop: working seconds over (positive, breached) or under (negative, met) the target.
    pub overrun_secs: Option<i64>,
    /// The deadline before the first approved extension (延期) of this cycle, kept for the audit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_due: Option<Timestamp>,
    /// Working seconds added to the target by approved extensions in this cycle.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub extended_secs: i64,
}

impl ClockState {
    pub fn new(name: impl Into<String>) -> ClockState {
        ClockState {
            name: name.into(),
            cycle: 0,
            status: ClockStatus::NotStarted,
            target_secs: 0,
            elapsed_secs: 0,
            since: None,
            due: None,
            warn_at: None,
            warned: false,
            warnings: 0,
            breached: false,
            escalation_level: 0,
            stopped_at: None,
            overrun_secs: None,
            original_due: None,
            extended_secs: 0,
        }
    }

    /// Warnings given in this cycle; a ticket recorded before clocks warned more than once
    /// knows only whether it warned.
    pub fn warnings_given(&self) -> u8 {
        self.warnings.max(u8::from(self.warned))
    }
}

/// An extension (延期) asked for and not yet decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingExtension {
    pub clock: String,
    /// Working seconds asked for.
    pub by_secs: i64,
    pub reason: String,
    pub asked_by: Option<Uuid>,
    pub asked_at: Timestamp,
}

/// The follow-up call (回访) after a request is closed: due, then done.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub due_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Timestamp>,
}

/// A co-handler (协办) beside the holder, who leads (主办): their own deadline, their part
/// reported with a note. Closed when the lead completes the request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoHandler {
    pub person: Uuid,
    pub added_at: Timestamp,
    /// The event that added them: their deadline timer's epoch.
    pub added_seq: u64,
    pub due: Timestamp,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub breached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
}

/// The projection of a ticket's events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: Uuid,
    pub workflow_id: String,
    pub workflow_version: u32,
    pub category: String,
    pub urgency: Urgency,
    pub description: String,
    pub channel: String,
    pub state: String,
    pub requester: Uuid,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    pub building_id: Option<Uuid>,
    pub assignee: Option<Assignee>,
    /// The team pool it was dispatched to, kept after a member claims it: the team goes on
    /// seeing its ticket (and a member who lost the race gets a conflict, not "not found").
    pub pool_team: Option<Uuid>,
    /// In a `wall` state: shown to every member of the community.
    pub on_wall: bool,
    /// The sequence number of the last event: the optimistic-concurrency version.
    pub version: u64,
    /// The sequence number of the event that entered the current state; state timers carry it
    /// as their epoch so a timer of a state the ticket has left never fires.
    pub state_entered_seq: u64,
    pub clocks: Vec<ClockState>,
    /// The highest staff level the ticket has been escalated to, if any.
    pub escalated_to: Option<Role>,
    pub rating: Option<u8>,
    /// Volunteer service time recorded on completion, in minutes (志愿时长).
    pub service_minutes: u32,
    /// Closed by the system (no rating) rather than by the resident.
    pub auto_closed: bool,
    /// How many times the system dispatched it (automatic dispatch).
    #[serde(default)]
    pub auto_dispatches: u32,
    /// The secretary has been told that automatic dispatch used up its attempts (told once).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_dispatch_spent: bool,
    /// Dispatches returned by their holder (退单异议), counted for `[objections]`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub returns: u32,
    /// Who entered it on the requester's behalf (代办), if someone did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Uuid>,
    /// An extension waiting for the level above to decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<PendingExtension>,
    /// The follow-up task, once it fell due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp>,
    /// The request this one is merged under (并单): set by the merge, kept once the parent's
    /// work is done (its resident still confirms and rates this one), cleared by an unmerge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Uuid>,
    /// Requests merged under this one, first first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<Uuid>,
    /// Co-handlers (协办), beside the holder who leads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub co_handlers: Vec<CoHandler>,
    /// Volunteers who held it and handed it back unfinished, first first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tried: Vec<Uuid>,
    pub terminal: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

impl Ticket {
    /// A follow-up task that fell due and is not yet recorded.
    pub fn follow_up_due(&self) -> bool {
        self.follow_up.as_ref().is_some_and(|f| f.done_at.is_none())
    }

    /// This person's co-handling, while it is open.
    pub fn co_handler(&self, person: Uuid) -> Option<&CoHandler> {
        self.co_handlers
            .iter()
            .find(|c| c.person == person && !c.closed)
    }

    pub fn clock(&self, name: &str) -> Option<&ClockState> {
        self.clocks.iter().find(|c| c.name == name)
    }

    pub fn is_assigned_to(&self, person: Uuid, teams: &[Uuid]) -> bool {
        match self.assignee {
            Some(Assignee::Person(p)) => p == person,
            Some(Assignee::Team(t)) => teams.contains(&t),
            None => false,
        }
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}
