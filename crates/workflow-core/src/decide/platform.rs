//! A city hotline platform's word on its work orders (12345): an order taken in as a ticket,
//! and what the platform says of one that is not an action of the workflow (a changed
//! re-send, a reminder). Its answers to extension requests, returns and follow-up calls are
//! the workflow's actions, taken by the system ([`crate::hotline::PlatformEvent::action`]).

use jiff::Timestamp;

use super::guards::check_workflow;
use super::{Builder, submission};
use crate::command::{Actor, CommandError, Decision, MAX_EVENTS_PER_TICKET, Submission};
use crate::definition::Workflow;
use crate::event::EventKind;
use crate::role::Role;
use crate::ticket::Ticket;

/// A work order taken in as a ticket, entered by the office's integration (recorded as the
/// proxy, in its office role) for the resident who called.
pub fn decide_order(
    wf: &Workflow,
    actor: &Actor,
    sub: &Submission,
    now: Timestamp,
) -> Result<Decision, CommandError> {
    let role = [Role::Street, Role::Community]
        .into_iter()
        .find(|r| actor.roles.contains(*r));
    match (role, &sub.hotline) {
        (Some(role), Some(_)) if actor.id != sub.requester => submission(wf, actor, role, sub, now),
        _ => Err(CommandError::RoleNotAllowed {
            action: "take_order".into(),
        }),
    }
}

/// A changed re-send ([`EventKind::OrderUpdated`]) or a reminder
/// ([`EventKind::PlatformReminder`]) recorded on a hotline ticket, and told as the workflow
/// says.
pub fn decide_platform_event(
    wf: &Workflow,
    ticket: Ticket,
    actor: &Actor,
    kind: EventKind,
    now: Timestamp,
) -> Result<Decision, CommandError> {
    check_workflow(wf, &ticket)?;
    let platforms = matches!(
        kind,
        EventKind::OrderUpdated(_) | EventKind::PlatformReminder { .. }
    );
    if !platforms || ticket.hotline.is_none() {
        return Err(CommandError::InvalidField {
            field: "type",
            reason: "only a hotline order takes the platform's events".into(),
        });
    }
    if ticket.version + 8 > MAX_EVENTS_PER_TICKET {
        return Err(CommandError::TicketFull);
    }
    let version = ticket.version;
    let mut b = Builder::new(wf, ticket, actor, now, version);
    b.push(kind);
    Ok(b.finish())
}
