//! The decision: (workflow, ticket, actor, command, now) → a [`Decision`] or a refusal.
//! Pure: no clock is read, nothing is stored. Every change is an event folded into the ticket
//! as it is made, so the decision's ticket always equals the replay of its events.
//!
//! The entry points are here; [`guards`] says whether an action may be taken, the
//! [`builder`] makes the decision's events, and its other parts are by concern: who is told
//! ([`notify`]), SLA clocks and their timers ([`clocks`]), the escalation ladder
//! ([`escalation`]), the practice's rules (extensions, follow-ups, co-handlers, merges:
//! [`practice`]).

mod builder;
mod clocks;
mod escalation;
mod guards;
mod notify;
mod platform;
mod practice;

pub(crate) use builder::Builder;
pub(crate) use clocks::next_warning;
pub use guards::acting_role;
use guards::{check_fields, check_length, check_workflow, current_state, refusal};
pub use platform::{decide_order, decide_platform_event};
use practice::practice_step;

use jiff::Timestamp;

use crate::calendar::working_between;
use crate::command::*;
use crate::credit::CreditContext;
use crate::definition::{ClockDef, TransitionDef, Workflow};
use crate::event::{ActorRef, Event, EventKind, Recorded, Submitted};
use crate::role::Role;
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
    submission(wf, actor, role, sub, now)
}

/// A new ticket entered by `actor` in `role` (checked by the caller).
fn submission(
    wf: &Workflow,
    actor: &Actor,
    role: crate::role::Role,
    sub: &Submission,
    now: Timestamp,
) -> Result<Decision, CommandError> {
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
            hotline: sub.hotline.clone(),
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
    decide_with(wf, ticket, actor, act, now, &CreditContext::default())
}

/// [`decide`], with what was read for a crediting action's daily caps and doubts.
pub fn decide_with(
    wf: &Workflow,
    ticket: Ticket,
    actor: &Actor,
    act: &Act,
    now: Timestamp,
    credit: &CreditContext,
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
    let (tr, role) = may_take(wf, &ticket, actor, &act.action)?;
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
    b.credit_context = *credit;
    b.transition(tr, role, recorded, act.fields.assignee, None);
    if let Some(step) = step {
        b.practice(step);
    }
    Ok(b.finish())
}

/// The transition `action` takes from the ticket's state, and the role the actor takes it
/// in: refused when the state has no such action, then when the actor has no such role.
/// Checked before anything else about the action (its fields, the request it names).
pub fn may_take<'w>(
    wf: &'w Workflow,
    ticket: &Ticket,
    actor: &Actor,
    action: &str,
) -> Result<(&'w TransitionDef, Role), CommandError> {
    let from = current_state(wf, ticket);
    let Some(tr) = from.and_then(|s| wf.transition(s, action)) else {
        return Err(CommandError::NotAllowedInState {
            action: action.to_owned(),
            state: ticket.state.clone(),
        });
    };
    let role = acting_role(tr, ticket, actor).ok_or_else(|| CommandError::RoleNotAllowed {
        action: action.to_owned(),
    })?;
    Ok((tr, role))
}

/// Decides a due timer. `None` means the timer outlived its reason (the ticket moved on, the
/// clock stopped or restarted) and is to be discarded without effect.
pub fn decide_firing(
    wf: &Workflow,
    ticket: &Ticket,
    firing: &Firing,
    now: Timestamp,
) -> Result<Option<Decision>, CommandError> {
    decide_firing_with(wf, ticket, firing, now, &CreditContext::default())
}

/// [`decide_firing`], with what was read for a crediting timer's daily caps and doubts (an
/// automatic close credits the volunteer as the resident's confirmation would).
pub fn decide_firing_with(
    wf: &Workflow,
    ticket: &Ticket,
    firing: &Firing,
    now: Timestamp,
    credit: &CreditContext,
) -> Result<Option<Decision>, CommandError> {
    check_workflow(wf, ticket)?;
    let system = Actor::system();
    let mut b = Builder::new(wf, ticket.clone(), &system, now, ticket.version);
    b.credit_context = *credit;
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

/// A submission is recorded to the whole second: its creation time and the deadlines its
/// first clocks start with (later events keep the microsecond they happened at).
fn whole_seconds(t: Timestamp) -> Timestamp {
    Timestamp::from_second(t.as_second()).unwrap_or(t)
}
