//! Accumulates one decision: each event is folded into the ticket as soon as it is made,
//! and what it implies (timers, notifications, clocks) is added with it.

use jiff::Timestamp;

use crate::calendar::add_working;
use crate::command::*;
use crate::credit::{CreditContext, assess};
use crate::definition::{AssignEffect, StateId, TransitionDef, Workflow};
use crate::event::{ActorRef, Credit, Event, EventKind, Recorded};
use crate::role::Role;
use crate::ticket::{Assignee, Ticket};

use super::guards::current_state;

/// Accumulates one decision: each event is folded into the ticket as soon as it is made.
pub(crate) struct Builder<'w> {
    pub(super) wf: &'w Workflow,
    pub(super) ticket: Ticket,
    pub(super) actor: ActorRef,
    pub(super) actor_id: uuid::Uuid,
    /// Every role of who acts (the event names only the one they acted in).
    pub(super) actor_roles: crate::role::RoleSet,
    pub(super) now: Timestamp,
    pub(super) expected_version: u64,
    pub(super) events: Vec<Event>,
    pub(super) timers: Vec<TimerChange>,
    pub(super) notifications: Vec<Notification>,
    /// What the Engine read for a crediting action's caps and doubts (none: nothing read).
    pub(super) credit_context: CreditContext,
}

impl<'w> Builder<'w> {
    pub(crate) fn new(
        wf: &'w Workflow,
        ticket: Ticket,
        actor: &Actor,
        now: Timestamp,
        expected_version: u64,
    ) -> Self {
        let role = actor.roles.iter().next().unwrap_or(Role::System);
        Builder {
            wf,
            ticket,
            actor: ActorRef {
                id: (!actor.is_system()).then_some(actor.id),
                role,
            },
            actor_id: actor.id,
            actor_roles: actor.roles,
            now,
            expected_version,
            events: Vec::new(),
            timers: Vec::new(),
            notifications: Vec::new(),
            credit_context: CreditContext::default(),
        }
    }

    pub(crate) fn finish(self) -> Decision {
        Decision {
            ticket: self.ticket,
            expected_version: self.expected_version,
            events: self.events,
            timers: self.timers,
            notifications: self.notifications,
            time: Vec::new(),
        }
    }

    /// Records an already-built event (the submission).
    pub(super) fn record(&mut self, event: Event) {
        self.notify(&event);
        self.events.push(event);
    }

    pub(crate) fn push(&mut self, kind: EventKind) {
        let event = Event {
            ticket_id: self.ticket.id,
            seq: self.ticket.version + 1,
            at: self.now,
            // What follows from an action on its own is the system's, not the person's.
            actor: if kind.is_automatic() {
                ActorRef::system()
            } else {
                self.actor
            },
            kind,
        };
        self.ticket
            .apply(&event)
            .expect("events built by the decision fold into its ticket");
        self.notify(&event);
        self.events.push(event);
    }

    pub(crate) fn transition(
        &mut self,
        tr: &TransitionDef,
        role: Role,
        data: Recorded,
        assignee: Option<Assignee>,
        timer_due: Option<Timestamp>,
    ) {
        let from =
            current_state(self.wf, &self.ticket).expect("the ticket's state is in its workflow");
        let assignee_after = match tr.assign {
            AssignEffect::Keep => self.ticket.assignee,
            AssignEffect::Set => assignee,
            AssignEffect::Clear => None,
            AssignEffect::Claim => Some(Assignee::Person(self.actor_id)),
        };
        self.actor.role = role;
        let (credit, doubts) = match (self.credit(tr, &data), &self.wf.credit) {
            (Some(c), Some(rule)) => {
                let (c, doubts) = assess(rule, c, &self.credit_context);
                (Some(c), doubts)
            }
            _ => (None, Vec::new()),
        };
        let objection = self
            .wf
            .objections
            .as_ref()
            .is_some_and(|o| o.on.contains(&tr.action));
        let released = match (self.ticket.assignee, assignee_after) {
            (Some(Assignee::Person(p)), None) if !self.wf.state(tr.to.unwrap_or(from)).terminal => {
                Some(p)
            }
            _ => None,
        };
        let to_id = tr.to.unwrap_or(from);
        let to = self.wf.state(to_id);
        self.push(EventKind::Transitioned {
            action: tr.action.clone(),
            from: self.ticket.state.clone(),
            to: to.name.clone(),
            terminal: to.terminal,
            stays: tr.to.is_none(),
            on_wall: to.wall,
            internal: tr.internal,
            objection,
            assignee_after,
            data,
            timer_due,
            credit,
            released,
        });
        if let Some(c) = credit.filter(|_| !doubts.is_empty()) {
            self.push(EventKind::CreditQuestioned {
                person: c.person,
                doubts,
            });
        }
        if tr.to.is_some() {
            self.enter_state(Some(from), to_id);
        }
        // The rule's count of returns goes up a level once; a level already reached (by a
        // clock's ladder, or by hand) is not told again.
        if let Some(rule) = self.wf.objections.as_ref().filter(|_| objection)
            && self.ticket.returns >= rule.escalate_after
            && self.ticket.escalated_to.is_none_or(|r| r < rule.to)
        {
            self.push(EventKind::ObjectionsEscalated {
                returns: self.ticket.returns,
                to: rule.to,
            });
        }
        // The lead completing (or the request ending) closes the co-handling, with every
        // co-handler's note as it stands; deadlines still running stop.
        let closes = self
            .wf
            .co_handling
            .as_ref()
            .is_some_and(|r| r.closes.contains(&tr.action))
            || (to.terminal && tr.to.is_some());
        if closes && self.ticket.co_handlers.iter().any(|c| !c.closed) {
            let open: Vec<_> = self
                .ticket
                .co_handlers
                .iter()
                .filter(|c| !c.closed)
                .map(|c| (c.person, c.note.clone(), c.reported_at.is_none()))
                .collect();
            for (person, _, running) in &open {
                if *running {
                    self.timers
                        .push(TimerChange::Cancel(TimerKey::CoHandler(person.to_string())));
                }
            }
            let notes = open
                .into_iter()
                .map(|(person, note, _)| crate::event::CoNote { person, note })
                .collect();
            self.push(EventKind::CoHandlingClosed { notes });
        }
    }

    /// The holder's hours and points, when the workflow's `[credit]` rule names the action.
    /// Nobody earns on a request they asked for or entered for someone (hours and points
    /// are not to be farmed on one's own requests: OWASP API6).
    pub(super) fn credit(&self, tr: &TransitionDef, data: &Recorded) -> Option<Credit> {
        let rule = self.wf.credit.as_ref()?;
        if !rule.on.contains(&tr.action) {
            return None;
        }
        let Some(Assignee::Person(person)) = self.ticket.assignee else {
            return None;
        };
        if person == self.ticket.requester || self.ticket.proxy == Some(person) {
            return None;
        }
        let weight = self.wf.category_rules(&self.ticket.category).points;
        Some(Credit {
            person,
            minutes: self.ticket.service_minutes + data.service_minutes.unwrap_or(0),
            points: rule.points(weight, data.rating),
        })
    }

    /// Entering the automatic-dispatch state: a dispatch due now, or, when the category's
    /// attempts are spent, the secretary is told that the system has stopped trying.
    pub(super) fn auto_dispatch(&mut self, from: Option<StateId>, to: StateId) {
        let Some(auto) = &self.wf.auto_dispatch else {
            return;
        };
        let key = TimerKey::AutoDispatch(auto.action.clone());
        if from == Some(auto.state) && to != auto.state {
            self.timers.push(TimerChange::Cancel(key.clone()));
        }
        let attempts = self.wf.category_rules(&self.ticket.category).auto_dispatch;
        if to != auto.state || attempts == 0 {
            return;
        }
        if self.ticket.auto_dispatches < attempts {
            self.timers.push(TimerChange::Set(Timer {
                key,
                due_at: self.now,
                epoch: self.ticket.state_entered_seq,
            }));
        } else if !self.ticket.auto_dispatch_spent {
            // Told once: a later return to the state (a decline after a manual dispatch)
            // does not tell the secretary again.
            self.push(EventKind::AutoDispatchStopped {
                attempts,
                no_candidate: false,
            });
        }
    }

    /// Reconciles clocks and state timers on entering `to`.
    pub(super) fn enter_state(&mut self, from: Option<StateId>, to: StateId) {
        for (i, def) in self.wf.clocks.iter().enumerate() {
            self.reconcile_clock(i, def, to);
        }
        self.auto_dispatch(from, to);
        if let Some(rule) = &self.wf.follow_up
            && rule.state == to
            && self.wf.category_rules(&self.ticket.category).follow_up
        {
            let cal = rule.calendar.as_deref();
            let secs = rule
                .after
                .seconds(cal.map_or(86_400, |c| c.working_day_secs()));
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::FollowUp(rule.action.clone()),
                due_at: add_working(cal, self.now, secs),
                epoch: self.ticket.state_entered_seq,
            }));
        }
        if let Some(from) = from {
            for t in self.wf.timers.iter().filter(|t| t.state == from) {
                self.timers
                    .push(TimerChange::Cancel(TimerKey::State(t.action.clone())));
            }
        }
        for t in self.wf.timers.iter().filter(|t| t.state == to) {
            let secs = t
                .after
                .seconds(t.calendar.as_ref().map_or(86_400, |c| c.working_day_secs()));
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::State(t.action.clone()),
                due_at: add_working(t.calendar.as_deref(), self.now, secs),
                epoch: self.ticket.state_entered_seq,
            }));
        }
    }
}
