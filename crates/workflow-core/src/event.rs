//! Events: the append-only history of a ticket, and the fold that projects them into a
//! [`Ticket`]. Events carry every value the fold needs (due times, elapsed working time,
//! whether a state is terminal), so replay needs no workflow definition and no calendar.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::role::Role;
use crate::ticket::{Assignee, ClockState, ClockStatus, Ticket, Urgency};

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
    },
    SlaBreached {
        clock: String,
        due: Timestamp,
        /// How late the breach was noticed relative to the deadline, in seconds.
        late_by_secs: i64,
        timer_due: Timestamp,
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
            EventKind::SlaWarning { .. } => "sla_warning",
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
            proxy: s.proxy,
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
                self.terminal = *terminal;
                if *terminal {
                    self.closed_at = Some(event.at);
                    self.auto_closed = event.actor.role == Role::System;
                } else {
                    self.closed_at = None;
                    self.auto_closed = false;
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
                    breached: false,
                    escalation_level: 0,
                    stopped_at: None,
                    overrun_secs: None,
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
            }
            EventKind::SlaWarning { clock, .. } => self.clock_mut(clock, seq)?.warned = true,
            EventKind::SlaBreached { clock, .. } => self.clock_mut(clock, seq)?.breached = true,
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
