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
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub elapsed_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Timestamp>,
    /// When the next warning falls due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub warned: bool,
    /// Warnings given in this cycle (a clock may warn at several thresholds).
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub warnings: u8,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub breached: bool,
    /// Escalation steps taken in this cycle.
    #[serde(default, skip_serializing_if = "is_zero_u8")]
    pub escalation_level: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<Timestamp>,
    /// At stop: working seconds over (positive, breached) or under (negative, met) the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

    /// A new cycle: everything but the name starts over, running from `at`.
    pub(crate) fn start_cycle(
        &mut self,
        cycle: u32,
        target_secs: i64,
        at: Timestamp,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    ) {
        *self = ClockState {
            cycle,
            status: ClockStatus::Running,
            target_secs,
            since: Some(at),
            due: Some(due),
            warn_at,
            ..ClockState::new(std::mem::take(&mut self.name))
        };
    }

    /// Paused with `elapsed_secs` counted: no deadline until it resumes.
    pub(crate) fn pause(&mut self, elapsed_secs: i64) {
        self.status = ClockStatus::Paused;
        self.elapsed_secs = elapsed_secs;
        self.since = None;
        self.due = None;
        self.warn_at = None;
    }

    pub(crate) fn resume(&mut self, at: Timestamp, due: Timestamp, warn_at: Option<Timestamp>) {
        self.status = ClockStatus::Running;
        self.since = Some(at);
        self.due = Some(due);
        self.warn_at = warn_at;
    }

    /// Stopped at `at`, `overrun_secs` over the target (breached if positive).
    pub(crate) fn stop(&mut self, at: Timestamp, elapsed_secs: i64, overrun_secs: i64) {
        self.status = ClockStatus::Stopped;
        self.elapsed_secs = elapsed_secs;
        self.overrun_secs = Some(overrun_secs);
        self.breached |= overrun_secs > 0;
        self.stopped_at = Some(at);
        self.since = None;
        self.warn_at = None;
    }

    /// One more warning given; the next (if any) falls due at `next_at`.
    pub(crate) fn warn(&mut self, next_at: Option<Timestamp>) {
        self.warnings = self.warnings_given().saturating_add(1);
        self.warned = true;
        self.warn_at = next_at;
    }

    /// The deadline moved by an approved extension; the cycle's first deadline is kept.
    pub(crate) fn extend(
        &mut self,
        by_secs: i64,
        original_due: Timestamp,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    ) {
        self.target_secs += by_secs;
        self.extended_secs += by_secs;
        self.original_due = Some(original_due);
        self.due = Some(due);
        self.warn_at = warn_at;
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

/// The projection of a ticket's events. Serialized, a field at its default (none, false, zero)
/// is left out and read back as that default: the serialized form is what a store rewrites
/// on every transition, and a closed ticket's is a quarter smaller for it.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    /// The team pool it was dispatched to, kept after a member claims it: the team goes on
    /// seeing its ticket (and a member who lost the race gets a conflict, not "not found").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_team: Option<Uuid>,
    /// In a `wall` state: shown to every member of the community.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_wall: bool,
    /// The sequence number of the last event: the optimistic-concurrency version.
    pub version: u64,
    /// The sequence number of the event that entered the current state; state timers carry it
    /// as their epoch so a timer of a state the ticket has left never fires.
    pub state_entered_seq: u64,
    pub clocks: Vec<ClockState>,
    /// The highest staff level the ticket has been escalated to, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_to: Option<Role>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    /// Volunteer service time recorded on completion, in minutes (志愿时长).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub service_minutes: u32,
    /// Closed by the system (no rating) rather than by the resident.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_closed: bool,
    /// How many times the system dispatched it (automatic dispatch).
    #[serde(default, skip_serializing_if = "is_zero")]
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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub terminal: bool,
    /// Made from a city hotline work order (12345): the order's facts, as updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hotline: Option<crate::hotline::Facts>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

fn is_zero_u8(n: &u8) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A closed ticket as stores wrote it before defaults were left out.
    const WITH_EVERY_FIELD: &str = r#"{"id":"01a23326-1712-7580-aa80-88f822117dcd","workflow_id":"community-service","workflow_version":4,"category":"repair","urgency":"normal","description":"楼道灯不亮，晚上看不见","channel":"api","state":"closed","requester":"01a23326-16f5-76a3-b4c6-a95db625b424","community_id":"01a23326-16e9-778f-a6e9-cbf100468e44","branch_id":"01a23326-16f0-72b4-af7c-c93ed47b9ae5","building_id":"01a23326-16eb-728a-a232-6aab4ffe6c57","assignee":{"person":"01a23326-16f4-76b3-b5a8-30baec8ce063"},"pool_team":null,"on_wall":false,"version":11,"state_entered_seq":11,"clocks":[{"name":"resolution","cycle":1,"status":"stopped","target_secs":50400,"elapsed_secs":0,"since":null,"due":"2026-12-03T09:30:00Z","warn_at":null,"warned":false,"warnings":0,"breached":false,"escalation_level":0,"stopped_at":"2026-12-01T19:47:44.037751897Z","overrun_secs":-50400},{"name":"response","cycle":1,"status":"stopped","target_secs":7200,"elapsed_secs":0,"since":null,"due":"2026-12-02T02:30:00Z","warn_at":null,"warned":false,"warnings":0,"breached":false,"escalation_level":0,"stopped_at":"2026-12-01T19:47:44.031231056Z","overrun_secs":-7200}],"escalated_to":null,"rating":5,"service_minutes":60,"auto_closed":false,"auto_dispatches":0,"terminal":true,"created_at":"2026-12-01T19:47:44Z","updated_at":"2026-12-01T19:47:44.040858308Z","closed_at":"2026-12-01T19:47:44.040858308Z"}"#;

    #[test]
    fn a_ticket_leaves_its_defaults_out_and_reads_them_back() {
        let old: Ticket = serde_json::from_str(WITH_EVERY_FIELD).unwrap();
        let new = serde_json::to_string(&old).unwrap();
        assert!(
            new.len() * 5 < WITH_EVERY_FIELD.len() * 4,
            "{} bytes, was {}: {new}",
            new.len(),
            WITH_EVERY_FIELD.len()
        );
        for left_out in ["null", "false", ":0,", "\"warnings\"", "\"elapsed_secs\""] {
            assert!(!new.contains(left_out), "{left_out} in {new}");
        }
        assert_eq!(serde_json::from_str::<Ticket>(&new).unwrap(), old);

        // Every field away from its default survives too.
        let mut busy = old.clone();
        busy.on_wall = true;
        busy.pool_team = Some(Uuid::nil());
        busy.escalated_to = Some(Role::Street);
        busy.auto_closed = true;
        busy.auto_dispatches = 2;
        busy.terminal = false;
        busy.closed_at = None;
        let clock = &mut busy.clocks[0];
        clock.elapsed_secs = 30;
        clock.since = Some(busy.created_at);
        clock.warn_at = Some(busy.created_at);
        clock.warned = true;
        clock.warnings = 2;
        clock.breached = true;
        clock.escalation_level = 1;
        let json = serde_json::to_string(&busy).unwrap();
        assert_eq!(serde_json::from_str::<Ticket>(&json).unwrap(), busy);
    }
}
