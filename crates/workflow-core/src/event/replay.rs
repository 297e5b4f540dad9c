//! The fold: a ticket is its events applied in order ([`Ticket::replay`]); the Engine's
//! decisions and the stored rows are checked against it.

use uuid::Uuid;

use super::{Event, EventKind};
use crate::role::Role;
use crate::ticket::{Assignee, ClockState, CoHandler, FollowUp, PendingExtension, Ticket, Urgency};

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
            hotline: s.hotline.clone(),
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
                let c = self.clock_mut(clock, seq)?;
                c.start_cycle(*cycle, *target_secs, event.at, *due, *warn_at);
            }
            EventKind::ClockPaused {
                clock,
                elapsed_secs,
                ..
            } => self.clock_mut(clock, seq)?.pause(*elapsed_secs),
            EventKind::ClockResumed {
                clock,
                due,
                warn_at,
            } => self.clock_mut(clock, seq)?.resume(event.at, *due, *warn_at),
            EventKind::ClockStopped {
                clock,
                elapsed_secs,
                overrun_secs,
            } => {
                let c = self.clock_mut(clock, seq)?;
                c.stop(event.at, *elapsed_secs, *overrun_secs);
                self.drop_extension(clock);
            }
            EventKind::SlaWarning { clock, next_at, .. } => {
                self.clock_mut(clock, seq)?.warn(*next_at);
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
                c.extend(*by_secs, *original_due, *due, *warn_at);
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
            // The credit itself is on the transition; the doubt changes nothing of the ticket.
            EventKind::CreditQuestioned { .. } => {}
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
            EventKind::OrderUpdated(update) => {
                if let Some(facts) = &mut self.hotline {
                    update.apply(facts, &mut self.description);
                }
            }
            EventKind::PlatformReminder { supervision, .. } => {
                if let Some(facts) = &mut self.hotline {
                    match supervision {
                        true => facts.supervisions += 1,
                        false => facts.reminders += 1,
                    }
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
