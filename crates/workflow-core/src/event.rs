//! Events: the append-only history of a ticket, and the fold that projects them into a
//! [`Ticket`]. Events carry every value the fold needs (due times, elapsed working time,
//! whether a state is terminal), so replay needs no workflow definition and no calendar.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;
use crate::ticket::{
    Assignee, ClockState, ClockStatus, CoHandler, FollowUp, PendingExtension, Ticket, Urgency,
};

/// Who caused an event. `id` is `None` for the system (timers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub id: Option<Uuid>,
    pub role: Role,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub ticket_id: Uuid,
    pub seq: u64,
    pub at: Timestamp,
    pub actor: ActorRef,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What a ticket is created with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub workflow_id: String,
    pub workflow_version: u32,
    pub category: String,
    pub urgency: Urgency,
    pub description: String,
    pub channel: String,
    pub state: String,
    pub requester: Uuid,
    /// Who entered it on the requester's behalf (a volunteer, a building head, staff).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Uuid>,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    pub building_id: Option<Uuid>,
    pub clocks: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_wall: bool,
}

/// What an action credited its holder with (志愿时长 · 志愿积分): the ledger's entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub person: Uuid,
    pub minutes: u32,
    pub points: i32,
}

/// The data an action carried, as recorded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<Assignee>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_minutes: Option<u32>,
    /// More time asked for, as written (`"2wd"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_by: Option<String>,
    /// The request merged under, or followed (并单).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Uuid>,
}

/// A co-handler's note as it stood when the co-handling closed (`None`: never reported).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoNote {
    pub person: Uuid,
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Submitted(Submitted),
    Transitioned {
        action: String,
        from: String,
        to: String,
        terminal: bool,
        /// An action without `to`: the ticket stays in its state, which is not re-entered
        /// (its timers keep running). Any other action enters `to`, even when it is `from`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        stays: bool,
        /// Whether `to` is a wall state.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        on_wall: bool,
        /// For those who handle the request only (an internal action): never shown or told
        /// to the resident.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        internal: bool,
        /// The holder returned the dispatch (an `[objections]` action, 退单异议): counted.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        objection: bool,
        /// The ticket's holder after the action (unchanged actions repeat it).
        assignee_after: Option<Assignee>,
        #[serde(flatten)]
        data: Recorded,
        /// For a timer's action: when the timer was due (the event's `at` is when it fired).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timer_due: Option<Timestamp>,
        /// Hours and points credited to the holder by this action (a `[credit]` rule).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credit: Option<Credit>,
        /// The volunteer who held it and handed it back unfinished (declined, let it expire,
        /// sent back by the resident).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        released: Option<Uuid>,
    },
    /// Automatic dispatch gave up: the attempts ran out, or nobody eligible was left. The
    /// secretary is told and dispatches by hand.
    AutoDispatchStopped {
        attempts: u32,
        no_candidate: bool,
    },
    ClockStarted {
        clock: String,
        cycle: u32,
        target_secs: i64,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    },
    ClockPaused {
        clock: String,
        /// The state that paused it.
        reason: String,
        elapsed_secs: i64,
    },
    ClockResumed {
        clock: String,
        due: Timestamp,
        warn_at: Option<Timestamp>,
    },
    ClockStopped {
        clock: String,
        elapsed_secs: i64,
        overrun_secs: i64,
    },
    SlaWarning {
        clock: String,
        due: Timestamp,
        timer_due: Timestamp,
        /// A warning at this percentage of the target run; absent: the lead-time warning.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        share: Option<u8>,
        /// The chase notice (催办), the last before the deadline: `sla_chase`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        chase: bool,
        /// When the clock's next warning falls due, if it has another.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_at: Option<Timestamp>,
    },
    SlaBreached {
        clock: String,
        due: Timestamp,
        /// How late the breach was noticed relative to the deadline, in seconds.
        late_by_secs: i64,
        timer_due: Timestamp,
    },
    /// The holder asked for more time (延期) on a clock; the level above decides.
    ExtensionRequested {
        clock: String,
        by_secs: i64,
        reason: String,
    },
    /// The extension was approved: the deadline moved from `due_before` to `due`.
    ClockExtended {
        clock: String,
        by_secs: i64,
        due_before: Timestamp,
        due: Timestamp,
        /// The deadline before any extension of this cycle.
        original_due: Timestamp,
        warn_at: Option<Timestamp>,
        /// Why more time was asked for (the resident is told).
        reason: String,
    },
    ExtensionRefused {
        clock: String,
    },
    /// The follow-up call (回访) is due: a task for the branch.
    FollowUpDue {
        timer_due: Timestamp,
    },
    /// The follow-up was recorded (by the `[follow_up]` action just before).
    FollowUpDone,
    /// The request moved to a newer version of its workflow (`linli migrate-tickets`): its
    /// state by the plan's map, its clocks as the new version has them.
    Migrated {
        workflow_version_before: u32,
        workflow_version: u32,
        state_before: String,
        state: String,
        on_wall: bool,
        clocks: Vec<ClockState>,
    },
    /// Merged under `parent` (并单): the work is done there, once.
    MergedInto {
        parent: Uuid,
    },
    /// No longer merged under `parent`: undone by hand, or the parent will not be done.
    Unmerged {
        parent: Uuid,
    },
    /// A request was merged under this one; its resident is told with it and rates it.
    DuplicateAttached {
        child: Uuid,
    },
    DuplicateDetached {
        child: Uuid,
    },
    /// A co-handler (协办) was added beside the lead, with their own deadline.
    CoHandlerAdded {
        person: Uuid,
        due: Timestamp,
    },
    /// A co-handler reported their part (by the `[co_handling]` report action just before).
    CoHandlerReported {
        person: Uuid,
        note: String,
    },
    /// A co-handler's own deadline passed without their report.
    CoHandlerBreached {
        person: Uuid,
        due: Timestamp,
        late_by_secs: i64,
        timer_due: Timestamp,
    },
    /// The lead completed the request (or it ended): every co-handler's note as it stood.
    CoHandlingClosed {
        notes: Vec<CoNote>,
    },
    /// Returned dispatches reached the `[objections]` count: the request goes up to `to`.
    ObjectionsEscalated {
        returns: u32,
        to: Role,
    },
    Escalated {
        clock: String,
        level: u8,
        to: Role,
        assign: bool,
        raise_priority: bool,
        timer_due: Timestamp,
    },
}

impl Event {
    /// Recorded for those who handle the request only (an internal note): the resident
    /// never sees it.
    pub fn is_internal(&self) -> bool {
        matches!(self.kind, EventKind::Transitioned { internal: true, .. })
    }

    /// Goes on a volunteer's record, which dispatch ranking weighs: a holder handed the
    /// request back (declined, let it expire, was sent back), or the resident rated it.
    pub fn is_on_record(&self) -> bool {
        matches!(
            &self.kind,
            EventKind::Transitioned { released, data, .. }
                if released.is_some() || data.rating.is_some()
        )
    }
}

impl EventKind {
    /// The stable name used in notifications and the audit trail.
    pub fn name(&self) -> &str {
        match self {
            EventKind::Submitted(_) => "submitted",
            EventKind::Transitioned { action, .. } => action,
            EventKind::ClockStarted { .. } => "clock_started",
            EventKind::ClockPaused { .. } => "clock_paused",
            EventKind::ClockResumed { .. } => "clock_resumed",
            EventKind::ClockStopped { .. } => "clock_stopped",
            EventKind::SlaWarning { chase: true, .. } => "sla_chase",
            EventKind::SlaWarning { .. } => "sla_warning",
            EventKind::ExtensionRequested { .. } => "extension_requested",
            EventKind::ClockExtended { .. } => "clock_extended",
            EventKind::ExtensionRefused { .. } => "extension_refused",
            EventKind::FollowUpDue { .. } => "follow_up_due",
            EventKind::FollowUpDone => "follow_up_done",
            EventKind::Migrated { .. } => "migrated",
            EventKind::MergedInto { .. } => "merged_into",
            EventKind::Unmerged { .. } => "unmerged",
            EventKind::DuplicateAttached { .. } => "duplicate_attached",
            EventKind::DuplicateDetached { .. } => "duplicate_detached",
            EventKind::CoHandlerAdded { .. } => "co_handler_added",
            EventKind::CoHandlerReported { .. } => "co_handler_reported",
            EventKind::CoHandlerBreached { .. } => "co_handler_breached",
            EventKind::CoHandlingClosed { .. } => "co_handling_closed",
            EventKind::SlaBreached { .. } => "sla_breach",
            EventKind::Escalated { .. } => "escalation",
            EventKind::ObjectionsEscalated { .. } => "objections_escalated",
            EventKind::AutoDispatchStopped { .. } => "auto_dispatch_stopped",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ReplayError {
    #[error("the first event of ticket {0} is not `submitted`")]
    NotStartedBySubmission(Uuid),
    #[error("event {seq} of ticket {ticket} is out of order (expected {expected})")]
    OutOfOrder {
        ticket: Uuid,
        seq: u64,
        expected: u64,
    },
    #[error("event {seq} of ticket {ticket} names clock {clock:?}, which the ticket does not have")]
    UnknownClock {
        ticket: Uuid,
        seq: u64,
        clock: String,
    },
}

impl Ticket {
    /// Creates a ticket from its first event.
    pub fn from_submission(event: &Event) -> Result<Ticket, ReplayError> {
        let EventKind::Submitted(s) = &event.kind else {
            return Err(ReplayError::NotStartedBySubmission(event.ticket_id));
        };
        Ok(Ticket {
            id: event.ticket_id,
            workflow_id: s.workflow_id.clone(),
            workflow_version: s.workflow_version,
            category: s.category.clone(),
            urgency: s.urgency,
            description: s.description.clone(),
            channel: s.channel.clone(),
            state: s.state.clone(),
            requester: s.requester,
            community_id: s.community_id,
            branch_id: s.branch_id,
            building_id: s.building_id,
            assignee: None,
            pool_team: None,
            on_wall: s.on_wall,
            version: event.seq,
            state_entered_seq: event.seq,
            clocks: s.clocks.iter().map(ClockState::new).collect(),
            escalated_to: None,
            rating: None,
            service_minutes: 0,
            auto_closed: false,
            auto_dispatches: 0,
            auto_dispatch_spent: false,
            extension: None,
            follow_up: None,
            proxy: s.proxy,
            parent: None,
            duplicates: Vec::new(),
            co_handlers: Vec::new(),
            returns: 0,
            tried: Vec::new(),
            terminal: false,
            created_at: event.at,
            updated_at: event.at,
            closed_at: None,
        })
    }

    /// Folds one event into the ticket.
    pub fn apply(&mut self, event: &Event) -> Result<(), ReplayError> {
        let expected = self.version + 1;
        if event.seq != expected {
            return Err(ReplayError::OutOfOrder {
                ticket: self.id,
                seq: event.seq,
                expected,
            });
        }
        self.version = event.seq;
        self.updated_at = event.at;
        let seq = event.seq;
        match &event.kind {
            EventKind::Submitted(_) => return Err(ReplayError::NotStartedBySubmission(self.id)),
            EventKind::Transitioned {
                to,
                terminal,
                stays,
                on_wall,
                assignee_after,
                data,
                released,
                objection,
                ..
            } => {
                self.returns += u32::from(*objection);
                if !stays {
                    self.state_entered_seq = seq;
                }
                self.on_wall = *on_wall;
                self.pool_team = match (self.assignee, *assignee_after) {
                    (_, Some(Assignee::Team(t))) => Some(t),
                    // Claimed from the pool, or the same holder: the pool stays.
                    (Some(Assignee::Team(_)), Some(Assignee::Person(_))) => self.pool_team,
                    (before, after @ Some(Assignee::Person(_))) if before == after => {
                        self.pool_team
                    }
                    _ => None,
                };
                if event.actor.role == Role::System && data.assignee.is_some() {
                    self.auto_dispatches += 1;
                }
                if let Some(p) = released
                    && !self.tried.contains(p)
                {
                    self.tried.push(*p);
                }
                self.state.clone_from(to);
                self.assignee = *assignee_after;
                if let Some(r) = data.rating {
                    self.rating = Some(r);
                }
                if let Some(m) = data.service_minutes {
                    self.service_minutes += m;
                }
                // An action that stays (a note, the follow-up call on a closed request)
                // leaves when and how the request was closed as they were.
                self.terminal = *terminal;
                if !stays {
                    self.closed_at = terminal.then_some(event.at);
                    self.auto_closed = *terminal && event.actor.role == Role::System;
                }
            }
            EventKind::ClockStarted {
                clock,
                cycle,
                target_secs,
                due,
                warn_at,
            } => {
                // A new cycle: everything but the name starts over.
                let c = self.clock_mut(clock, seq)?;
                let name = std::mem::take(&mut c.name);
                *c = ClockState {
                    name,
                    cycle: *cycle,
                    status: ClockStatus::Running,
                    target_secs: *target_secs,
                    elapsed_secs: 0,
                    since: Some(event.at),
                    due: Some(*due),
                    warn_at: *warn_at,
                    warned: false,
                    warnings: 0,
                    breached: false,
                    escalation_level: 0,
                    stopped_at: None,
                    overrun_secs: None,
                    original_due: None,
                    extended_secs: 0,
                };
            }
            EventKind::ClockPaused {
                clock,
                elapsed_secs,
                ..
            } => {
                let c = self.clock_mut(clock, seq)?;
                c.status = ClockStatus::Paused;
                c.elapsed_secs = *elapsed_secs;
                c.since = None;
                c.due = None;
                c.warn_at = None;
            }
            EventKind::ClockResumed {
                clock,
                due,
                warn_at,
            } => {
                let c = self.clock_mut(clock, seq)?;
                c.status = ClockStatus::Running;
                c.since = Some(event.at);
                c.due = Some(*due);
                c.warn_at = *warn_at;
            }
            EventKind::ClockStopped {
                clock,
                elapsed_secs,
                overrun_secs,
            } => {
                let c = self.clock_mut(clock, seq)?;
                c.status = ClockStatus::Stopped;
                c.elapsed_secs = *elapsed_secs;
                c.overrun_secs = Some(*overrun_secs);
                c.breached |= *overrun_secs > 0;
                c.stopped_at = Some(event.at);
                c.since = None;
                c.warn_at = None;
                self.drop_extension(clock);
            }
            EventKind::SlaWarning { clock, next_at, .. } => {
                let c = self.clock_mut(clock, seq)?;
                c.warnings = c.warnings_given().saturating_add(1);
                c.warned = true;
                c.warn_at = *next_at;
            }
            EventKind::SlaBreached { clock, .. } => {
                self.clock_mut(clock, seq)?.breached = true;
                // An extension not decided by the deadline lapses: it is asked for before.
                self.drop_extension(clock);
            }
            EventKind::ExtensionRequested {
                clock,
                by_secs,
                reason,
            } => {
                self.clock_mut(clock, seq)?;
                self.extension = Some(PendingExtension {
                    clock: clock.clone(),
                    by_secs: *by_secs,
                    reason: reason.clone(),
                    asked_by: event.actor.id,
                    asked_at: event.at,
                });
            }
            EventKind::ClockExtended {
                clock,
                by_secs,
                due,
                original_due,
                warn_at,
                ..
            } => {
                let c = self.clock_mut(clock, seq)?;
                c.target_secs += by_secs;
                c.extended_secs += by_secs;
                c.original_due = Some(*original_due);
                c.due = Some(*due);
                c.warn_at = *warn_at;
                self.extension = None;
            }
            EventKind::ExtensionRefused { clock } => self.drop_extension(clock),
            EventKind::FollowUpDue { .. } => {
                self.follow_up = Some(FollowUp {
                    due_at: event.at,
                    done_at: None,
                });
            }
            EventKind::FollowUpDone => {
                if let Some(f) = &mut self.follow_up {
                    f.done_at = Some(event.at);
                }
            }
            EventKind::Migrated {
                workflow_version,
                state,
                on_wall,
                clocks,
                ..
            } => {
                self.workflow_version = *workflow_version;
                self.state.clone_from(state);
                self.on_wall = *on_wall;
                self.clocks.clone_from(clocks);
                // A pending extension names a clock the new version may not have.
                if let Some(e) = &self.extension
                    && !clocks.iter().any(|c| c.name == e.clock)
                {
                    self.extension = None;
                }
            }
            EventKind::MergedInto { parent } => self.parent = Some(*parent),
            EventKind::Unmerged { .. } => self.parent = None,
            EventKind::DuplicateAttached { child } => {
                if !self.duplicates.contains(child) {
                    self.duplicates.push(*child);
                }
            }
            EventKind::DuplicateDetached { child } => self.duplicates.retain(|c| c != child),
            EventKind::CoHandlerAdded { person, due } => {
                // Added again after an earlier co-handling closed: a fresh part.
                self.co_handlers.retain(|c| c.person != *person);
                self.co_handlers.push(CoHandler {
                    person: *person,
                    added_at: event.at,
                    added_seq: seq,
                    due: *due,
                    breached: false,
                    reported_at: None,
                    note: None,
                    closed: false,
                });
            }
            EventKind::CoHandlerReported { person, note } => {
                if let Some(c) = self.open_co_handler(*person) {
                    c.reported_at = Some(event.at);
                    c.note = Some(note.clone());
                }
            }
            EventKind::CoHandlerBreached { person, .. } => {
                if let Some(c) = self.open_co_handler(*person) {
                    c.breached = true;
                }
            }
            EventKind::CoHandlingClosed { .. } => {
                for c in &mut self.co_handlers {
                    c.closed = true;
                }
            }
            EventKind::AutoDispatchStopped { no_candidate, .. } => {
                self.auto_dispatch_spent |= !no_candidate;
            }
            EventKind::ObjectionsEscalated { to, .. } => {
                if self.escalated_to.is_none_or(|r| r < *to) {
                    self.escalated_to = Some(*to);
                }
            }
            EventKind::Escalated {
                clock,
                level,
                to,
                raise_priority,
                ..
            } => {
                self.clock_mut(clock, seq)?.escalation_level = *level;
                if self.escalated_to.is_none_or(|r| r < *to) {
                    self.escalated_to = Some(*to);
                }
                if *raise_priority {
                    self.urgency = Urgency::Urgent;
                }
            }
        }
        Ok(())
    }

    fn open_co_handler(&mut self, person: Uuid) -> Option<&mut CoHandler> {
        self.co_handlers
            .iter_mut()
            .find(|c| c.person == person && !c.closed)
    }

    fn drop_extension(&mut self, clock: &str) {
        if self.extension.as_ref().is_some_and(|e| e.clock == clock) {
            self.extension = None;
        }
    }

    fn clock_mut(&mut self, name: &str, seq: u64) -> Result<&mut ClockState, ReplayError> {
        let ticket = self.id;
        self.clocks
            .iter_mut()
            .find(|c| c.name == name)
            .ok_or_else(|| ReplayError::UnknownClock {
                ticket,
                seq,
                clock: name.to_owned(),
            })
    }

    /// Rebuilds a ticket from its whole history.
    pub fn replay(events: &[Event]) -> Result<Ticket, ReplayError> {
        let (first, rest) = events
            .split_first()
            .ok_or(ReplayError::NotStartedBySubmission(Uuid::nil()))?;
        let mut ticket = Ticket::from_submission(first)?;
        for e in rest {
            ticket.apply(e)?;
        }
        Ok(ticket)
    }
}
