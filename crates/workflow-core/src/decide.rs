//! The decision: (workflow, ticket, actor, command, now) → a [`Decision`] or a refusal.
//! Pure: no clock is read, nothing is stored. Every change is an event folded into the ticket
//! as it is made, so the decision's ticket always equals the replay of its events.

use jiff::Timestamp;

use crate::calendar::{add_working, working_between};
use crate::command::*;
use crate::definition::{AssignEffect, ClockDef, Field, StateId, TransitionDef, Warning, Workflow};
use crate::duration::Span;
use crate::event::{ActorRef, Credit, Event, EventKind, Recorded, Submitted};
use crate::role::{Party, Role};
use crate::ticket::{Assignee, ClockStatus, Ticket};

/// Decides a new request against the workflow that serves its category.
pub fn decide_submission(
    wf: &Workflow,
    actor: &Actor,
    sub: &Submission,
    now: Timestamp,
) -> Result<Decision, CommandError> {
    // Someone who asks for a resident is recorded as the proxy, with the role they acted in.
    let Some(role) = crate::access::entering_role(actor, sub.requester) else {
        return Err(CommandError::RoleNotAllowed {
            action: "submit".into(),
        });
    };
    let proxy = (actor.id != sub.requester).then_some(actor.id);
    if !CHANNELS.contains(&sub.channel.as_str()) {
        return Err(CommandError::InvalidField {
            field: "channel",
            reason: format!("{:?} is not one of {}", sub.channel, CHANNELS.join(", ")),
        });
    }
    let description = sub.description.trim();
    if description.is_empty() {
        return Err(CommandError::MissingField {
            action: "submit".into(),
            field: "description",
        });
    }
    check_length("description", description, MAX_DESCRIPTION_CHARS)?;
    let initial = wf.state(wf.initial);
    let now = whole_seconds(now);
    let first = Event {
        ticket_id: sub.id,
        seq: 1,
        at: now,
        actor: ActorRef {
            id: Some(actor.id),
            role,
        },
        kind: EventKind::Submitted(Submitted {
            workflow_id: wf.id.clone(),
            workflow_version: wf.version,
            category: sub.category.clone(),
            urgency: sub.urgency,
            description: description.to_owned(),
            channel: sub.channel.clone(),
            state: initial.name.clone(),
            requester: sub.requester,
            proxy,
            community_id: sub.community_id,
            branch_id: sub.branch_id,
            building_id: sub.building_id,
            clocks: wf.clocks.iter().map(|c| c.name.clone()).collect(),
            on_wall: initial.wall,
        }),
    };
    let ticket = Ticket::from_submission(&first).expect("a submission event starts a ticket");
    let mut b = Builder::new(wf, ticket, actor, now, 0);
    b.record(first);
    b.enter_state(None, wf.initial);
    Ok(b.finish())
}

/// Decides a workflow action on a ticket. The ticket is taken by value: the decision carries
/// the ticket after the action, and a caller that wants the one before keeps a clone.
pub fn decide(
    wf: &Workflow,
    ticket: Ticket,
    actor: &Actor,
    act: &Act,
    now: Timestamp,
) -> Result<Decision, CommandError> {
    check_workflow(wf, &ticket)?;
    if !wf.has_action(&act.action) {
        return Err(CommandError::UnknownAction {
            action: act.action.clone(),
        });
    }
    if act.expected_version != ticket.version {
        return Err(CommandError::StaleVersion {
            expected: act.expected_version,
            actual: ticket.version,
        });
    }
    let from = current_state(wf, &ticket);
    let Some(tr) = from.and_then(|s| wf.transition(s, &act.action)) else {
        return Err(CommandError::NotAllowedInState {
            action: act.action.clone(),
            state: ticket.state.clone(),
        });
    };
    let Some(role) = acting_role(tr, &ticket, actor) else {
        return Err(CommandError::RoleNotAllowed {
            action: act.action.clone(),
        });
    };
    let recorded = check_fields(tr, &act.fields)?;
    if let Some(reason) = refusal(wf, &ticket, tr, actor, now) {
        return Err(CommandError::NotNow {
            action: act.action.clone(),
            reason,
        });
    }
    let step = practice_step(wf, &ticket, tr, &recorded)?;
    // The system's own events (timers) are never refused: only people's actions count here,
    // with room left for the clock events an action may bring.
    if ticket.version + 8 > MAX_EVENTS_PER_TICKET {
        return Err(CommandError::TicketFull);
    }
    let version = ticket.version;
    let mut b = Builder::new(wf, ticket, actor, now, version);
    b.transition(tr, role, recorded, act.fields.assignee, None);
    if let Some(step) = step {
        b.practice(step);
    }
    Ok(b.finish())
}

/// What an action of the workflow's `[extensions]` or `[follow_up]` rule does besides the
/// transition itself.
enum PracticeStep {
    AskExtension {
        clock: usize,
        by_secs: i64,
        reason: String,
    },
    ApproveExtension,
    RefuseExtension,
    FollowUpDone,
    AddCoHandler(uuid::Uuid),
    CoReport(String),
    Merge(uuid::Uuid),
    Unmerge,
}

/// Why the ticket's circumstances forbid an action its state allows, if they do: the
/// guards of `[extensions]` and `[follow_up]`. `allowed_actions` asks the same question.
fn refusal(
    wf: &Workflow,
    ticket: &Ticket,
    tr: &TransitionDef,
    actor: &Actor,
    now: Timestamp,
) -> Option<String> {
    if let Some(rule) = &wf.follow_up
        && tr.action == rule.action
        && !ticket.follow_up_due()
    {
        return Some("no follow-up is due for this request".into());
    }
    if let Some(rule) = &wf.co_handling
        && tr.action == rule.report
        && ticket
            .co_handler(actor.id)
            .is_some_and(|c| c.reported_at.is_some())
    {
        return Some("your part is reported already".into());
    }
    let Some(rule) = &wf.extensions else {
        return None;
    };
    let clock = &ticket.clocks[rule.clock];
    let running = || -> Option<String> {
        match clock.due {
            _ if clock.status != ClockStatus::Running => Some(format!(
                "the {} deadline is not running (paused or stopped)",
                clock.name
            )),
            Some(due) if due <= now || clock.breached => Some(format!(
                "the {} deadline has passed: more time is asked for, and given, before it",
                clock.name
            )),
            _ => None,
        }
    };
    if tr.action == rule.request {
        if ticket.extension.is_some() {
            return Some("an extension is already waiting for a decision".into());
        }
        return running();
    }
    if tr.action == rule.approve || tr.action == rule.refuse {
        let Some(pending) = &ticket.extension else {
            return Some("no extension is waiting for a decision".into());
        };
        if pending.asked_by == Some(actor.id) {
            return Some("an extension is decided by someone other than who asked for it".into());
        }
        if tr.action == rule.approve {
            return running();
        }
    }
    None
}

/// The rule's own effect of an action that passed [`refusal`]; the time asked for is checked
/// against the rule's most.
fn practice_step(
    wf: &Workflow,
    ticket: &Ticket,
    tr: &TransitionDef,
    data: &Recorded,
) -> Result<Option<PracticeStep>, CommandError> {
    if wf.follow_up.as_ref().is_some_and(|r| r.action == tr.action) {
        return Ok(Some(PracticeStep::FollowUpDone));
    }
    if let Some(rule) = &wf.merging {
        if tr.action == rule.merge
            && let Some(parent) = data.parent
        {
            return Ok(Some(PracticeStep::Merge(parent)));
        }
        if tr.action == rule.unmerge {
            return Ok(Some(PracticeStep::Unmerge));
        }
    }
    if let Some(rule) = &wf.co_handling {
        if tr.action == rule.report {
            return Ok(Some(PracticeStep::CoReport(
                data.note.clone().unwrap_or_default(),
            )));
        }
        if tr.action == rule.add {
            let invalid = |reason: &str| CommandError::InvalidField {
                field: "assignee",
                reason: reason.into(),
            };
            let Some(Assignee::Person(person)) = data.assignee else {
                return Err(invalid("a co-handler is one person, not a team"));
            };
            if ticket.assignee == Some(Assignee::Person(person)) {
                return Err(invalid("this person holds the request and leads it"));
            }
            if ticket.co_handler(person).is_some() {
                return Err(invalid("this person is a co-handler already"));
            }
            return Ok(Some(PracticeStep::AddCoHandler(person)));
        }
    }
    let Some(rule) = &wf.extensions else {
        return Ok(None);
    };
    if tr.action == rule.approve {
        return Ok(Some(PracticeStep::ApproveExtension));
    }
    if tr.action == rule.refuse {
        return Ok(Some(PracticeStep::RefuseExtension));
    }
    if tr.action != rule.request {
        return Ok(None);
    }
    let def = &wf.clocks[rule.clock];
    let day = def.working_day_secs();
    let asked = data
        .extend_by
        .as_deref()
        .map(Span::parse)
        .transpose()
        .map_err(|e| CommandError::InvalidField {
            field: "extend_by",
            reason: e.to_string(),
        })?
        .map_or(0, |s| s.seconds(day));
    let most = rule.max.seconds(day);
    if asked <= 0 || asked > most {
        return Err(CommandError::InvalidField {
            field: "extend_by",
            reason: format!(
                "more than nothing and at most {} ({most} working seconds)",
                rule.max
            ),
        });
    }
    Ok(Some(PracticeStep::AskExtension {
        clock: rule.clock,
        by_secs: asked,
        reason: data.reason.clone().unwrap_or_default(),
    }))
}

/// Decides a due timer. `None` means the timer outlived its reason (the ticket moved on, the
/// clock stopped or restarted) and is to be discarded without effect.
pub fn decide_firing(
    wf: &Workflow,
    ticket: &Ticket,
    firing: &Firing,
    now: Timestamp,
) -> Result<Option<Decision>, CommandError> {
    check_workflow(wf, ticket)?;
    let system = Actor::system();
    let mut b = Builder::new(wf, ticket.clone(), &system, now, ticket.version);
    let fired = match &firing.key {
        TimerKey::State(action) => {
            let tr = current_state(wf, ticket).and_then(|s| wf.transition(s, action));
            match tr {
                Some(tr) if firing.epoch == ticket.state_entered_seq => {
                    b.transition(
                        tr,
                        Role::System,
                        Recorded::default(),
                        None,
                        Some(firing.due_at),
                    );
                    true
                }
                _ => false,
            }
        }
        TimerKey::AutoDispatch(_) => return decide_auto_dispatch(wf, ticket, firing, None, now),
        TimerKey::FollowUp(_) => {
            let due = ticket.follow_up.is_none()
                && wf.follow_up.is_some()
                && firing.epoch == ticket.state_entered_seq;
            if due {
                b.push(EventKind::FollowUpDue {
                    timer_due: firing.due_at,
                });
            }
            due
        }
        TimerKey::CoHandler(person) => b.co_handler_breach(person, firing),
        TimerKey::SlaWarning(clock) => b.warn(clock, firing),
        TimerKey::SlaBreach(clock) => b.breach(clock, firing),
        TimerKey::Escalation(clock) => b.escalate(clock, firing),
    };
    Ok(fired.then(|| b.finish()))
}

/// Decides an automatic dispatch timer with the volunteer the caller picked (the best-ranked
/// eligible one, see [`crate::dispatch`]); `None`: nobody is eligible, and the system gives
/// up and tells the secretary. `Ok(None)`: the timer outlived its reason.
pub fn decide_auto_dispatch(
    wf: &Workflow,
    ticket: &Ticket,
    firing: &Firing,
    pick: Option<Assignee>,
    now: Timestamp,
) -> Result<Option<Decision>, CommandError> {
    check_workflow(wf, ticket)?;
    let TimerKey::AutoDispatch(action) = &firing.key else {
        return decide_firing(wf, ticket, firing, now);
    };
    let tr = current_state(wf, ticket).and_then(|s| wf.transition(s, action));
    let Some(tr) = tr.filter(|_| firing.epoch == ticket.state_entered_seq) else {
        return Ok(None);
    };
    let system = Actor::system();
    let mut b = Builder::new(wf, ticket.clone(), &system, now, ticket.version);
    match pick {
        Some(a) => {
            let data = Recorded {
                assignee: Some(a),
                ..Recorded::default()
            };
            b.transition(tr, Role::System, data, Some(a), Some(firing.due_at));
        }
        None => b.push(EventKind::AutoDispatchStopped {
            attempts: ticket.auto_dispatches,
            no_candidate: true,
        }),
    }
    Ok(Some(b.finish()))
}

/// The actions this actor may take on this ticket now (for the API's `allowed_actions`).
pub fn allowed_actions<'w>(
    wf: &'w Workflow,
    ticket: &Ticket,
    actor: &Actor,
    now: Timestamp,
) -> Vec<&'w TransitionDef> {
    let Some(state) = current_state(wf, ticket) else {
        return Vec::new();
    };
    wf.transitions_from(state)
        .filter(|t| acting_role(t, ticket, actor).is_some())
        .filter(|t| refusal(wf, ticket, t, actor, now).is_none())
        .collect()
}

fn check_workflow(wf: &Workflow, ticket: &Ticket) -> Result<(), CommandError> {
    if wf.id != ticket.workflow_id || wf.version != ticket.workflow_version {
        return Err(CommandError::WrongWorkflow {
            ticket: format!("{}@{}", ticket.workflow_id, ticket.workflow_version),
            given: wf.key().to_string(),
        });
    }
    Ok(())
}

fn current_state(wf: &Workflow, ticket: &Ticket) -> Option<StateId> {
    wf.state_id(&ticket.state)
}

/// The role under which `actor` may take `tr`, if any. Staff roles nest: what a secretary
/// may do, the community office and the street may do too.
pub fn acting_role(tr: &TransitionDef, ticket: &Ticket, actor: &Actor) -> Option<Role> {
    let has = |r: Role| actor.roles.contains(r);
    let volunteer = || {
        if has(Role::Member) {
            Role::Member
        } else {
            actor.roles.iter().next().unwrap_or(Role::Member)
        }
    };
    tr.roles.iter().find_map(|p| match *p {
        Party::Role(Role::Secretary) => [Role::Secretary, Role::Community, Role::Street]
            .into_iter()
            .find(|r| has(*r)),
        Party::Role(Role::Community) => [Role::Community, Role::Street]
            .into_iter()
            .find(|r| has(*r)),
        Party::Role(r) => has(r).then_some(r),
        Party::Requester => (actor.id == ticket.requester).then(|| {
            if has(Role::Resident) {
                Role::Resident
            } else {
                actor.roles.iter().next().unwrap_or(Role::Resident)
            }
        }),
        Party::Assignee => ticket
            .is_assigned_to(actor.id, &actor.teams)
            .then(volunteer),
        Party::CoHandler => ticket.co_handler(actor.id).map(|_| volunteer()),
    })
}

fn check_length(field: &'static str, s: &str, max: usize) -> Result<(), CommandError> {
    let n = s.chars().count();
    if n > max {
        return Err(CommandError::InvalidField {
            field,
            reason: format!("at most {max} characters, got {n}"),
        });
    }
    if s.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t' && c != '\r')
    {
        return Err(CommandError::InvalidField {
            field,
            reason: "control characters are not allowed".into(),
        });
    }
    Ok(())
}

fn check_fields(tr: &TransitionDef, f: &Fields) -> Result<Recorded, CommandError> {
    let present = [
        (Field::Assignee, f.assignee.is_some()),
        (Field::Reason, f.reason.is_some()),
        (Field::Note, f.note.is_some()),
        (Field::Rating, f.rating.is_some()),
        (Field::Hours, f.hours.is_some()),
        (Field::ExtendBy, f.extend_by.is_some()),
        (Field::Parent, f.parent.is_some()),
    ];
    for (field, given) in present {
        let accepted =
            tr.requires.contains(field) || tr.optional.contains(field) || field == Field::Note;
        if given && !accepted {
            return Err(CommandError::FieldNotAccepted {
                action: tr.action.clone(),
                field: field.as_str(),
            });
        }
        if !given && tr.requires.contains(field) {
            return Err(CommandError::MissingField {
                action: tr.action.clone(),
                field: field.as_str(),
            });
        }
    }
    let text =
        |field: &'static str, v: &Option<String>, max| -> Result<Option<String>, CommandError> {
            match v.as_deref().map(str::trim) {
                None => Ok(None),
                Some("")
                    if tr
                        .requires
                        .contains(Field::parse(field).expect("known field")) =>
                {
                    Err(CommandError::MissingField {
                        action: tr.action.clone(),
                        field,
                    })
                }
                Some("") => Ok(None),
                Some(s) => check_length(field, s, max).map(|()| Some(s.to_owned())),
            }
        };
    let rating = match f.rating {
        Some(r) if !(1..=5).contains(&r) => {
            return Err(CommandError::InvalidField {
                field: "rating",
                reason: format!("a rating is 1 to 5 stars, got {r}"),
            });
        }
        r => r,
    };
    let service_minutes = match f.hours {
        Some(h) if !(h.is_finite() && h > 0.0 && h <= MAX_HOURS) => {
            return Err(CommandError::InvalidField {
                field: "hours",
                reason: format!("hours are more than 0 and at most {MAX_HOURS}, got {h}"),
            });
        }
        Some(h) => Some((h * 60.0).round() as u32),
        None => None,
    };
    Ok(Recorded {
        assignee: f.assignee,
        reason: text("reason", &f.reason, MAX_REASON_CHARS)?,
        note: text("note", &f.note, MAX_NOTE_CHARS)?,
        rating,
        service_minutes,
        extend_by: f.extend_by.as_deref().map(|s| s.trim().to_owned()),
        parent: f.parent,
    })
}

/// Accumulates one decision: each event is folded into the ticket as soon as it is made.
pub(crate) struct Builder<'w> {
    wf: &'w Workflow,
    ticket: Ticket,
    actor: ActorRef,
    actor_id: uuid::Uuid,
    now: Timestamp,
    expected_version: u64,
    events: Vec<Event>,
    timers: Vec<TimerChange>,
    notifications: Vec<Notification>,
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
            now,
            expected_version,
            events: Vec::new(),
            timers: Vec::new(),
            notifications: Vec::new(),
        }
    }

    pub(crate) fn finish(self) -> Decision {
        Decision {
            ticket: self.ticket,
            expected_version: self.expected_version,
            events: self.events,
            timers: self.timers,
            notifications: self.notifications,
        }
    }

    /// Records an already-built event (the submission).
    fn record(&mut self, event: Event) {
        self.notify(&event);
        self.events.push(event);
    }

    pub(crate) fn push(&mut self, kind: EventKind) {
        let event = Event {
            ticket_id: self.ticket.id,
            seq: self.ticket.version + 1,
            at: self.now,
            actor: self.actor,
            kind,
        };
        self.ticket
            .apply(&event)
            .expect("events built by the decision fold into its ticket");
        self.notify(&event);
        self.events.push(event);
    }

    /// Queues the notifications the workflow declares for this event.
    fn notify(&mut self, event: &Event) {
        // Clock bookkeeping is never announced: rules may only name actions and the events
        // in `SYSTEM_EVENTS`, so there is nothing to look up.
        if matches!(
            event.kind,
            EventKind::ClockStarted { .. }
                | EventKind::ClockPaused { .. }
                | EventKind::ClockResumed { .. }
                | EventKind::ClockStopped { .. }
        ) {
            return;
        }
        let name = event.kind.name();
        let mut recipients: Vec<Recipient> = Vec::new();
        match event.kind {
            EventKind::Escalated { to, .. } | EventKind::ObjectionsEscalated { to, .. } => {
                recipients.push(Recipient::Staff(to))
            }
            // Automatic dispatch hands the ticket back to the branch, and a follow-up is
            // the branch's task: always say so.
            EventKind::AutoDispatchStopped { .. } | EventKind::FollowUpDue { .. } => {
                recipients.push(Recipient::Staff(Role::Secretary))
            }
            // A co-handler is told of their part, and of their deadline passing (with the
            // branch).
            EventKind::CoHandlerAdded { person, .. } => recipients.push(Recipient::Person(person)),
            EventKind::CoHandlerBreached { person, .. } => {
                recipients.push(Recipient::Person(person));
                recipients.push(Recipient::Staff(Role::Secretary));
            }
            // A request entered for a resident: the resident is told it exists.
            EventKind::Submitted(Submitted { proxy: Some(_), .. }) => {
                recipients.push(Recipient::Person(self.ticket.requester))
            }
            _ => {}
        }
        for party in self.wf.notify.get(name).into_iter().flatten() {
            let r = match *party {
                Party::Requester | Party::Role(Role::Resident) => {
                    Some(Recipient::Person(self.ticket.requester))
                }
                Party::Assignee | Party::Role(Role::Member) => {
                    self.ticket.assignee.map(|a| match a {
                        Assignee::Person(p) => Recipient::Person(p),
                        Assignee::Team(t) => Recipient::Team(t),
                    })
                }
                Party::Role(r) if r.is_staff() => Some(Recipient::Staff(r)),
                Party::Role(_) => None,
                Party::CoHandler => {
                    recipients.extend(
                        self.ticket
                            .co_handlers
                            .iter()
                            .filter(|c| !c.closed)
                            .map(|c| Recipient::Person(c.person)),
                    );
                    None
                }
            };
            recipients.extend(r);
        }
        let actor = self.actor_id;
        for r in recipients {
            let own = r == Recipient::Person(actor);
            let dup = self
                .notifications
                .iter()
                .any(|n| n.event_seq == event.seq && n.recipient == r);
            if !own && !dup {
                self.notifications.push(Notification {
                    ticket_id: self.ticket.id,
                    event_seq: event.seq,
                    event: name.to_owned(),
                    recipient: r,
                });
            }
        }
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
        let credit = self.credit(tr, &data);
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
    fn credit(&self, tr: &TransitionDef, data: &Recorded) -> Option<Credit> {
        let rule = self.wf.credit.as_ref()?;
        if !rule.on.contains(&tr.action) {
            return None;
        }
        let Some(Assignee::Person(person)) = self.ticket.assignee else {
            return None;
        };
        let weight = self.wf.category_rules(&self.ticket.category).points;
        Some(Credit {
            person,
            minutes: self.ticket.service_minutes + data.service_minutes.unwrap_or(0),
            points: rule.points(weight, data.rating),
        })
    }

    /// Entering the automatic-dispatch state: a dispatch due now, or, when the category's
    /// attempts are spent, the secretary is told that the system has stopped trying.
    fn auto_dispatch(&mut self, from: Option<StateId>, to: StateId) {
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
    fn enter_state(&mut self, from: Option<StateId>, to: StateId) {
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

    fn reconcile_clock(&mut self, i: usize, def: &ClockDef, to: StateId) {
        let cal = def.calendar.as_deref();
        let c = &self.ticket.clocks[i];
        let s = to.index();
        // Entering a terminal state stops every clock, whatever the workflow lists.
        let stops = def.stop[s] || self.wf.state(to).terminal;
        let live = matches!(c.status, ClockStatus::Running | ClockStatus::Paused);
        let elapsed = || {
            c.elapsed_secs
                + c.since
                    .map_or(0, |since| working_between(cal, since, self.now))
        };
        let event = if stops && live {
            let elapsed = elapsed();
            EventKind::ClockStopped {
                clock: c.name.clone(),
                elapsed_secs: elapsed,
                overrun_secs: elapsed - c.target_secs,
            }
        } else if def.start[s] && !live {
            let target = self
                .wf
                .targets(&self.ticket.category, i)
                .for_urgency(self.ticket.urgency)
                .seconds(def.working_day_secs());
            EventKind::ClockStarted {
                clock: c.name.clone(),
                cycle: c.cycle + 1,
                target_secs: target,
                due: add_working(cal, self.now, target),
                warn_at: next_warning(def, 0, target, 0, self.now),
            }
        } else if def.pause[s] && c.status == ClockStatus::Running {
            EventKind::ClockPaused {
                clock: c.name.clone(),
                reason: self.wf.state(to).name.clone(),
                elapsed_secs: elapsed(),
            }
        } else if !def.pause[s] && c.status == ClockStatus::Paused {
            let remaining = (c.target_secs - c.elapsed_secs).max(0);
            EventKind::ClockResumed {
                clock: c.name.clone(),
                due: add_working(cal, self.now, remaining),
                warn_at: next_warning(
                    def,
                    c.warnings_given(),
                    c.target_secs,
                    c.elapsed_secs,
                    self.now,
                ),
            }
        } else {
            return;
        };
        let (name, epoch, breached) = (c.name.clone(), u64::from(c.cycle), c.breached);
        match &event {
            EventKind::ClockStopped { .. } => self.cancel_clock_timers(&name, true),
            // A clock only starts fresh or after a stop, which cancelled its timers already.
            EventKind::ClockStarted {
                due,
                warn_at,
                cycle,
                ..
            } => self.set_clock_timers(&name, *due, *warn_at, u64::from(*cycle), true),
            EventKind::ClockPaused { .. } => self.cancel_clock_timers(&name, false),
            EventKind::ClockResumed { due, warn_at, .. } => {
                self.set_clock_timers(&name, *due, *warn_at, epoch, !breached)
            }
            _ => {}
        }
        self.push(event);
    }

    fn cancel_clock_timers(&mut self, clock: &str, with_escalation: bool) {
        self.timers
            .push(TimerChange::Cancel(TimerKey::SlaWarning(clock.into())));
        self.timers
            .push(TimerChange::Cancel(TimerKey::SlaBreach(clock.into())));
        if with_escalation {
            self.timers
                .push(TimerChange::Cancel(TimerKey::Escalation(clock.into())));
        }
    }

    fn set_clock_timers(
        &mut self,
        clock: &str,
        due: Timestamp,
        warn: Option<Timestamp>,
        epoch: u64,
        breach: bool,
    ) {
        if let Some(at) = warn {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::SlaWarning(clock.into()),
                due_at: at,
                epoch,
            }));
        }
        if breach {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::SlaBreach(clock.into()),
                due_at: due,
                epoch,
            }));
        }
    }

    fn clock_index(&self, clock: &str) -> Option<usize> {
        self.ticket.clocks.iter().position(|c| c.name == clock)
    }

    fn warn(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        // A warning that comes after the breach (a late worker) would only be noise; one
        // already given is not given again (the clock's next is the next threshold).
        if c.status != ClockStatus::Running || u64::from(c.cycle) != firing.epoch || c.breached {
            return false;
        }
        let def = &self.wf.clocks[i];
        let given = c.warnings_given();
        let points = def.warnings(c.target_secs);
        let Some(&(_, kind)) = points.get(usize::from(given)) else {
            return false;
        };
        let run = c.elapsed_secs
            + c.since
                .map_or(0, |s| working_between(def.calendar.as_deref(), s, self.now));
        let next_at = next_warning(def, given + 1, c.target_secs, run, self.now);
        let (due, epoch) = (c.due.unwrap_or(self.now), u64::from(c.cycle));
        self.push(EventKind::SlaWarning {
            clock: clock.into(),
            due,
            timer_due: firing.due_at,
            share: match kind {
                Warning::Share(p) => Some(p),
                _ => None,
            },
            chase: kind == Warning::Chase,
            next_at,
        });
        if let Some(at) = next_at {
            self.set_clock_timers(clock, due, Some(at), epoch, false);
        }
        true
    }

    /// The rule's own effect of an action just recorded (see [`practice_step`]).
    fn practice(&mut self, step: PracticeStep) {
        match step {
            PracticeStep::AskExtension {
                clock,
                by_secs,
                reason,
            } => self.push(EventKind::ExtensionRequested {
                clock: self.ticket.clocks[clock].name.clone(),
                by_secs,
                reason,
            }),
            PracticeStep::ApproveExtension => self.extend(),
            PracticeStep::RefuseExtension => {
                if let Some(clock) = self.ticket.extension.as_ref().map(|p| p.clock.clone()) {
                    self.push(EventKind::ExtensionRefused { clock });
                }
            }
            PracticeStep::FollowUpDone => self.push(EventKind::FollowUpDone),
            PracticeStep::AddCoHandler(person) => {
                let rule = self.wf.co_handling.as_ref().expect("a co-handling step");
                let cal = rule.calendar.as_deref();
                let secs = rule
                    .within
                    .seconds(cal.map_or(86_400, |c| c.working_day_secs()));
                let due = add_working(cal, self.now, secs);
                self.push(EventKind::CoHandlerAdded { person, due });
                self.timers.push(TimerChange::Set(Timer {
                    key: TimerKey::CoHandler(person.to_string()),
                    due_at: due,
                    epoch: self.ticket.version,
                }));
            }
            PracticeStep::CoReport(note) => {
                let person = self.actor_id;
                self.push(EventKind::CoHandlerReported { person, note });
                self.timers
                    .push(TimerChange::Cancel(TimerKey::CoHandler(person.to_string())));
            }
            PracticeStep::Merge(parent) => self.push(EventKind::MergedInto { parent }),
            PracticeStep::Unmerge => {
                if let Some(parent) = self.ticket.parent {
                    self.push(EventKind::Unmerged { parent });
                }
            }
        }
    }

    /// A co-handler's own deadline passed without their report.
    fn co_handler_breach(&mut self, person: &str, firing: &Firing) -> bool {
        let Ok(person) = person.parse::<uuid::Uuid>() else {
            return false;
        };
        let Some(c) = self.ticket.co_handler(person) else {
            return false;
        };
        if c.added_seq != firing.epoch || c.breached || c.reported_at.is_some() || c.due > self.now
        {
            return false;
        }
        let due = c.due;
        self.push(EventKind::CoHandlerBreached {
            person,
            due,
            late_by_secs: self.now.as_second() - due.as_second(),
            timer_due: firing.due_at,
        });
        true
    }

    /// Moves the running clock's deadline by the time asked for: the target grows, the
    /// warnings and the breach are set again from the new deadline.
    fn extend(&mut self) {
        let Some(pending) = self.ticket.extension.clone() else {
            return;
        };
        let Some(i) = self.clock_index(&pending.clock) else {
            return;
        };
        let def = &self.wf.clocks[i];
        let cal = def.calendar.as_deref();
        let c = &self.ticket.clocks[i];
        let Some(due_before) = c.due else { return };
        let run = c.elapsed_secs + c.since.map_or(0, |s| working_between(cal, s, self.now));
        let target = c.target_secs + pending.by_secs;
        let due = add_working(cal, self.now, (target - run).max(0));
        let warn_at = next_warning(def, c.warnings_given(), target, run, self.now);
        let (name, epoch) = (c.name.clone(), u64::from(c.cycle));
        let original_due = c.original_due.unwrap_or(due_before);
        self.cancel_clock_timers(&name, false);
        self.set_clock_timers(&name, due, warn_at, epoch, true);
        self.push(EventKind::ClockExtended {
            clock: name,
            by_secs: pending.by_secs,
            due_before,
            due,
            original_due,
            warn_at,
            reason: pending.reason,
        });
    }

    fn breach(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        let Some(due) = c.due else { return false };
        if c.status != ClockStatus::Running
            || u64::from(c.cycle) != firing.epoch
            || c.breached
            || due > self.now
        {
            return false;
        }
        let late_by = self.now.as_second() - due.as_second();
        self.push(EventKind::SlaBreached {
            clock: clock.into(),
            due,
            late_by_secs: late_by,
            timer_due: firing.due_at,
        });
        self.schedule_escalation(i, firing.epoch, firing.due_at);
        true
    }

    /// Sets the timer for the next ladder level; a level with no delay is taken at once.
    fn schedule_escalation(&mut self, clock: usize, epoch: u64, timer_due: Timestamp) {
        let def = &self.wf.clocks[clock];
        let Some(ladder) = def.ladder.as_ref() else {
            return;
        };
        let next = usize::from(self.ticket.clocks[clock].escalation_level);
        let Some(level) = ladder.levels.get(next) else {
            return;
        };
        let delay = level.after.seconds(def.working_day_secs());
        if delay == 0 {
            self.take_escalation_step(clock, timer_due, epoch);
        } else {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::Escalation(def.name.clone()),
                due_at: add_working(def.calendar.as_deref(), self.now, delay),
                epoch,
            }));
        }
    }

    fn take_escalation_step(&mut self, clock: usize, timer_due: Timestamp, epoch: u64) {
        let def = &self.wf.clocks[clock];
        let Some(ladder) = def.ladder.as_ref() else {
            return;
        };
        let next = usize::from(self.ticket.clocks[clock].escalation_level);
        let Some(level) = ladder.levels.get(next) else {
            return;
        };
        self.push(EventKind::Escalated {
            clock: def.name.clone(),
            level: (next + 1) as u8,
            to: level.to,
            assign: level.assign,
            raise_priority: level.raise_priority,
            timer_due,
        });
        self.schedule_escalation(clock, epoch, timer_due);
    }

    fn escalate(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        let live = matches!(c.status, ClockStatus::Running | ClockStatus::Paused);
        if !live || u64::from(c.cycle) != firing.epoch || !c.breached {
            return false;
        }
        let before = self.events.len();
        self.take_escalation_step(i, firing.due_at, firing.epoch);
        self.events.len() > before
    }
}

/// When the clock's warning after the first `given` falls due, `run` working seconds into
/// a `target` at `now` (see [`ClockDef::warnings`]); one already passed is due at once.
pub(crate) fn next_warning(
    def: &ClockDef,
    given: u8,
    target: i64,
    run: i64,
    now: Timestamp,
) -> Option<Timestamp> {
    let (at, _) = *def.warnings(target).get(usize::from(given))?;
    Some(add_working(def.calendar.as_deref(), now, (at - run).max(0)))
}

/// Remaining working seconds until a running clock's deadline (negative once past it).
pub fn remaining_secs(
    def: &ClockDef,
    state: &crate::ticket::ClockState,
    now: Timestamp,
) -> Option<i64> {
    let cal = def.calendar.as_deref();
    match state.status {
        ClockStatus::Running => {
            let elapsed =
                state.elapsed_secs + state.since.map_or(0, |s| working_between(cal, s, now));
            Some(state.target_secs - elapsed)
        }
        ClockStatus::Paused => Some(state.target_secs - state.elapsed_secs),
        _ => None,
    }
}

/// Deadlines are kept to the second, and so is every instant a decision records.
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}
