//! Whether an action may be taken: by whom (the workflow's roles and relations), with what
//! fields, and not in the circumstances the practice's rules forbid.

use jiff::Timestamp;

use crate::command::*;
use crate::definition::{Field, StateId, TransitionDef, Workflow};
use crate::event::Recorded;
use crate::role::{Party, Role};
use crate::ticket::{ClockStatus, Ticket};

pub(super) fn check_workflow(wf: &Workflow, ticket: &Ticket) -> Result<(), CommandError> {
    if wf.id != ticket.workflow_id || wf.version != ticket.workflow_version {
        return Err(CommandError::WrongWorkflow {
            ticket: format!("{}@{}", ticket.workflow_id, ticket.workflow_version),
            given: wf.key().to_string(),
        });
    }
    Ok(())
}

pub(super) fn current_state(wf: &Workflow, ticket: &Ticket) -> Option<StateId> {
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
        // Told, never acting: the loader refuses it among a transition's roles.
        Party::Platform => None,
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

pub(super) fn check_length(field: &'static str, s: &str, max: usize) -> Result<(), CommandError> {
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

pub(super) fn check_fields(tr: &TransitionDef, f: &Fields) -> Result<Recorded, CommandError> {
    let present = [
        (Field::Assignee, f.assignee.is_some()),
        (Field::Reason, f.reason.is_some()),
        (Field::Note, f.note.is_some()),
        (Field::Rating, f.rating.is_some()),
        (Field::Hours, f.hours.is_some()),
        (Field::ExtendBy, f.extend_by.is_some()),
        (Field::Parent, f.parent.is_some()),
        (Field::Contacted, f.contacted.is_some()),
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
        contacted: f.contacted,
    })
}

/// Why the ticket's circumstances forbid an action its state allows, if they do: the
/// guards of `[extensions]` and `[follow_up]`. `allowed_actions` asks the same question.
pub(super) fn refusal(
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
