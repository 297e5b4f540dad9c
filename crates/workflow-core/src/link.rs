//! Links between tickets: duplicates merged under a parent (并单). A link changes more than
//! one ticket: the request merged and its parent, or a parent and every request merged
//! under it. The decisions made here are applied together, in one transaction, or not at
//! all ([`crate::store::Store::apply_linked`]).

use jiff::Timestamp;

use crate::command::{Act, Actor, CommandError, Decision};
use crate::decide::{Builder, decide};
use crate::definition::{MergingRule, Workflow};
use crate::event::{EventKind, Recorded};
use crate::role::Role;
use crate::ticket::Ticket;

/// Decides the `[merging]` merge or unmerge action on `child`, with the parent it names
/// (merge: the field `parent`; unmerge: the one it is merged under): the child's decision
/// first, then the parent's.
pub fn decide_link(
    wf: &Workflow,
    child: Ticket,
    parent_wf: &Workflow,
    parent: Ticket,
    actor: &Actor,
    act: &Act,
    now: Timestamp,
) -> Result<[Decision; 2], CommandError> {
    let rule = wf
        .merging
        .as_ref()
        .ok_or_else(|| CommandError::UnknownAction {
            action: act.action.clone(),
        })?;
    let merging = act.action == rule.merge;
    // The child's own decision first: who may merge, in which state, with which fields.
    let child_decision = decide(wf, child.clone(), actor, act, now)?;
    if merging {
        check_parent(rule, &child, &parent)?;
    }
    let child_id = child.id;
    let version = parent.version;
    let mut b = Builder::new(parent_wf, parent, actor, now, version);
    b.push(if merging {
        EventKind::DuplicateAttached { child: child_id }
    } else {
        EventKind::DuplicateDetached { child: child_id }
    });
    Ok([child_decision, b.finish()])
}

/// The parent's side of `child` leaving the merge by an action of its own (not the unmerge,
/// not following the parent): its resident cancelled it. The parent lets go of it
/// (`duplicate_detached`, the system's). `None` when `child` did not leave a merge or the parent no longer
/// lists it.
pub fn decide_leaving(
    wf: &Workflow,
    child: &Decision,
    parent_wf: &Workflow,
    parent: Ticket,
    now: Timestamp,
) -> Option<Decision> {
    let rule = wf.merging.as_ref()?;
    let waiting = &wf.state(rule.state).name;
    let left = child.events.iter().any(|e| {
        matches!(&e.kind, EventKind::Transitioned { action, from, stays: false, .. }
            if from == waiting && *action != rule.unmerge && e.actor.id.is_some())
    });
    if !left || !parent.duplicates.contains(&child.ticket.id) {
        return None;
    }
    // The system's, on the parent: its resident is not told who cancelled what.
    let version = parent.version;
    let mut b = Builder::new(parent_wf, parent, &Actor::system(), now, version);
    b.push(EventKind::DuplicateDetached {
        child: child.ticket.id,
    });
    Some(b.finish())
}

/// Why `parent` cannot take `child` under it, if it cannot: a request is merged under an
/// open request of the same kind and community, which is not itself merged and whose work
/// is not done yet; and a request with others merged under it is not merged itself.
fn check_parent(rule: &MergingRule, child: &Ticket, parent: &Ticket) -> Result<(), CommandError> {
    let problem = if parent.id == child.id {
        Some("a request is not merged under itself")
    } else if parent.community_id != child.community_id || parent.workflow_id != child.workflow_id {
        Some("a request is merged under one of the same kind in the same community")
    } else if parent.terminal || rule.follow(&parent.state).is_some() {
        Some("that request is finished: it can no longer take others")
    } else if parent.parent.is_some() {
        Some("that request is itself merged under another: merge under that one")
    } else if !child.duplicates.is_empty() {
        Some("other requests are merged under this one: unmerge them first")
    } else {
        None
    };
    match problem {
        Some(reason) => Err(CommandError::InvalidField {
            field: "parent",
            reason: reason.into(),
        }),
        None => Ok(()),
    }
}

/// What a request merged under `parent` does now that the parent has entered its current
/// state: the `[merging]` action for that state (to its own confirmation, with the parent's
/// note; or back to the branch, unlinked), taken by the system. `None`: it does nothing
/// (not merged under this parent, no longer waiting, or nothing to follow).
pub fn decide_follow(
    wf: &Workflow,
    child: Ticket,
    parent: &Ticket,
    note: Option<String>,
    now: Timestamp,
) -> Option<Decision> {
    let rule = wf.merging.as_ref()?;
    if child.parent != Some(parent.id) || wf.state_id(&child.state) != Some(rule.state) {
        return None;
    }
    let (action, released) = rule.follow(&parent.state)?;
    let tr = wf.transition(rule.state, action)?;
    let version = child.version;
    let system = Actor::system();
    let mut b = Builder::new(wf, child, &system, now, version);
    let data = Recorded {
        note,
        parent: Some(parent.id),
        ..Recorded::default()
    };
    b.transition(tr, Role::System, data, None, None);
    if released {
        b.push(EventKind::Unmerged { parent: parent.id });
    }
    Some(b.finish())
}
