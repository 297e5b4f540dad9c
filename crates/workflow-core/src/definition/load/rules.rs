//! A workflow's rules beside its graph and clocks: who is told of what (`[[notify]]`), and
//! the practice's rules (automatic dispatch, credit, objections, extensions, follow-up
//! calls, merges, co-handlers), each checked against the transitions it names.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::super::model::*;
use super::super::raw::*;
use super::clocks::calendar_ref;
use super::states::States;
use super::{Cx, SYSTEM_EVENTS, is_action, named, party};
use crate::calendar::Calendar;
use crate::duration::Span;
use crate::role::{Party, Role};

/// Who is told of each event.
pub(super) fn notify(
    cx: &mut Cx,
    f: &RawFile,
    transitions: &[TransitionDef],
) -> HashMap<String, Vec<Party>> {
    let mut notify: HashMap<String, Vec<Party>> = HashMap::new();
    for rule in &f.notify {
        let span = rule.span();
        let r = rule.get_ref();
        let to = r.to.iter().filter_map(|p| party(cx, p)).collect::<Vec<_>>();
        if r.to.is_empty() {
            cx.err(span.clone(), "a notify rule names nobody in `to`");
        }
        for on in &r.on.get_ref().0 {
            let known = SYSTEM_EVENTS.contains(&on.as_str()) || is_action(&f.transitions, on);
            if !known {
                cx.err(r.on.span(), format!("notify rule names unknown event {on:?}: not an action of this workflow nor one of {SYSTEM_EVENTS:?}"));
            }
            let internal = transitions.iter().any(|t| t.action == *on && t.internal);
            let resident = |p: &Party| matches!(p, Party::Requester | Party::Role(Role::Resident));
            if internal && to.iter().any(resident) {
                cx.err(
                    r.on.span(),
                    format!("action {on:?} is internal: the resident is never told of it"),
                );
            }
            let list = notify.entry(on.clone()).or_default();
            for p in &to {
                if !list.contains(p) {
                    list.push(*p);
                }
            }
        }
    }
    notify
}

/// The practice's rules, set on the assembled workflow.
pub(super) struct Practice {
    pub auto_dispatch: Option<AutoDispatchDef>,
    pub credit: Option<CreditRule>,
    pub objections: Option<ObjectionRule>,
    pub extensions: Option<ExtensionRule>,
    pub follow_up: Option<FollowUpRule>,
    pub merging: Option<MergingRule>,
    pub co_handling: Option<CoHandlingRule>,
}

/// The practice's rules, each checked against the transitions and clocks it names, and the
/// fields and relations only one of them may use.
pub(super) fn practice(
    cx: &mut Cx,
    f: &RawFile,
    states: &States,
    transitions: &[TransitionDef],
    clocks: &[ClockDef],
    calendars: &BTreeMap<String, Arc<Calendar>>,
) -> Practice {
    let auto_dispatch = f.auto_dispatch.as_ref().and_then(|a| {
        let a = a.get_ref();
        let st = states.find(
            cx,
            a.state.get_ref(),
            a.state.span(),
            "`in` of [auto_dispatch]",
        )?;
        auto_dispatch(cx, a, st, transitions)
    });
    let credit = f
        .credit
        .as_ref()
        .and_then(|c| credit(cx, c, &f.transitions));
    let objections = f
        .objections
        .as_ref()
        .and_then(|o| objections(cx, o, &f.transitions));
    let extensions = f
        .extensions
        .as_ref()
        .and_then(|e| extensions(cx, e.get_ref(), transitions, clocks));
    for t in transitions
        .iter()
        .filter(|t| t.requires.contains(Field::ExtendBy) || t.optional.contains(Field::ExtendBy))
    {
        if extensions.as_ref().is_none_or(|e| e.request != t.action) {
            let span = f
                .transitions
                .iter()
                .filter(|r| r.get_ref().action.get_ref() == &t.action)
                .flat_map(|r| r.get_ref().requires.iter().chain(&r.get_ref().optional))
                .find(|n| n.get_ref() == Field::ExtendBy.as_str())
                .map_or(0..0, |n| n.span());
            cx.err(
                span,
                format!(
                    "action {:?} takes extend_by, which only the [extensions] request action may take",
                    t.action
                ),
            );
        }
    }
    let follow_up = f.follow_up.as_ref().and_then(|r| {
        let r = r.get_ref();
        let st = states.find(cx, r.state.get_ref(), r.state.span(), "`in` of [follow_up]")?;
        let after = cx.span(&r.after)?;
        let calendar = calendar_ref(cx, calendars, r.calendar.as_ref())?;
        follow_up(cx, r, st, &states.defs, after, calendar, transitions)
    });
    let merging = f.merging.as_ref().and_then(|r| {
        let r = r.get_ref();
        let st = states.find(cx, r.state.get_ref(), r.state.span(), "`in` of [merging]")?;
        let window = cx.span(&r.window)?;
        merging(cx, r, st, &states.defs, window, transitions)
    });
    let co_handling = f.co_handling.as_ref().and_then(|r| {
        let r = r.get_ref();
        let within = cx.span(&r.within)?;
        let calendar = calendar_ref(cx, calendars, r.calendar.as_ref())?;
        co_handling(cx, r, within, calendar, transitions)
    });
    for t in &f.transitions {
        let t = t.get_ref();
        let takes_parent = t.requires.iter().chain(&t.optional);
        if let Some(n) = takes_parent
            .into_iter()
            .find(|n| n.get_ref() == Field::Parent.as_str())
            && f.merging
                .as_ref()
                .is_none_or(|m| m.get_ref().merge.get_ref() != t.action.get_ref())
        {
            cx.err(
                n.span(),
                format!(
                    "action {:?} takes parent, which only the [merging] merge action may take",
                    t.action.get_ref()
                ),
            );
        }
        let co = t.roles.iter().flat_map(|r| r.get_ref());
        if let Some(n) = co.into_iter().find(|n| n.get_ref() == "co_handler")
            && f.co_handling
                .as_ref()
                .is_none_or(|c| c.get_ref().report.get_ref() != t.action.get_ref())
        {
            cx.err(
                n.span(),
                format!(
                    "action {:?} admits co_handler, which only the [co_handling] report action may",
                    t.action.get_ref()
                ),
            );
        }
    }
    Practice {
        auto_dispatch,
        credit,
        objections,
        extensions,
        follow_up,
        merging,
        co_handling,
    }
}

/// The action must leave the state, hand the ticket to someone and admit the system.
fn auto_dispatch(
    cx: &mut Cx,
    raw: &RawAutoDispatch,
    st: StateId,
    transitions: &[TransitionDef],
) -> Option<AutoDispatchDef> {
    let action = raw.action.get_ref();
    let tr = transitions
        .iter()
        .find(|tr| &tr.action == action && tr.from.contains(&st));
    let problem = match tr {
        None => Some(format!(
            "auto_dispatch action {action:?} is not an action out of state {:?}",
            raw.state.get_ref()
        )),
        Some(tr) if tr.assign != AssignEffect::Set => Some(format!(
            "auto_dispatch action {action:?} must take an assignee (requires = [\"assignee\"])"
        )),
        Some(tr) if !tr.roles.contains(&Party::Role(Role::System)) => Some(format!(
            "auto_dispatch action {action:?} must admit the `system` role"
        )),
        Some(tr)
            if !tr
                .requires
                .iter()
                .all(|f| f == Field::Note || f == Field::Assignee) =>
        {
            Some(format!(
                "auto_dispatch action {action:?} requires fields the system cannot give"
            ))
        }
        Some(_) => None,
    };
    if let Some(p) = problem {
        cx.err(raw.action.span(), p);
        return None;
    }
    Some(AutoDispatchDef {
        state: st,
        action: action.clone(),
    })
}

fn credit(
    cx: &mut Cx,
    raw: &toml::Spanned<RawCredit>,
    transitions: &[toml::Spanned<RawTransition>],
) -> Option<CreditRule> {
    let r = raw.get_ref();
    let before = cx.count();
    for on in &r.on.get_ref().0 {
        if !is_action(transitions, on) {
            cx.err(r.on.span(), format!("credit names unknown action {on:?}"));
        }
    }
    let mut rating_bonus = [0; 5];
    if let Some(b) = &r.rating_bonus {
        match <[i32; 5]>::try_from(b.get_ref().as_slice()) {
            Ok(v) => rating_bonus = v,
            Err(_) => cx.err(
                b.span(),
                format!(
                    "rating_bonus lists the bonus for 1 to 5 stars: 5 numbers, got {}",
                    b.get_ref().len()
                ),
            ),
        }
    }
    let mut seconds = |raw: &Option<Name>, what: &str| {
        let raw = raw.as_ref()?;
        match cx.span(raw)? {
            Span::Seconds(s) => Some(s),
            Span::WorkingDays(_) => {
                cx.err(
                    raw.span(),
                    format!("{what} is clock time (\"8h\"), not working days"),
                );
                None
            }
        }
    };
    let daily_minutes = seconds(&r.daily_time, "daily_time").map(|s| (s / 60) as u32);
    let question_under_secs = seconds(&r.question_under, "question_under");
    (cx.count() == before).then(|| CreditRule {
        on: r.on.get_ref().0.clone(),
        rating_bonus,
        daily_minutes,
        daily_points: r.daily_points.as_ref().map(|p| i32::from(*p.get_ref())),
        question_under_secs,
    })
}

/// The actions must exist, the count must be at least one, and the level must be staff.
fn objections(
    cx: &mut Cx,
    raw: &toml::Spanned<RawObjections>,
    transitions: &[toml::Spanned<RawTransition>],
) -> Option<ObjectionRule> {
    let r = raw.get_ref();
    let before = cx.count();
    for on in &r.on.get_ref().0 {
        if !is_action(transitions, on) {
            cx.err(
                r.on.span(),
                format!("objections name unknown action {on:?}"),
            );
        }
    }
    if *r.escalate_after.get_ref() == 0 {
        cx.err(
            r.escalate_after.span(),
            "escalate_after counts returns: at least 1".to_owned(),
        );
    }
    let to = Role::parse(r.to.get_ref()).filter(|role| role.is_staff());
    if to.is_none() {
        cx.err(
            r.to.span(),
            format!(
                "objections go up to a staff level (secretary, community, street), not {:?}",
                r.to.get_ref()
            ),
        );
    }
    (cx.count() == before).then(|| ObjectionRule {
        on: r.on.get_ref().0.clone(),
        escalate_after: *r.escalate_after.get_ref(),
        to: to.expect("checked above"),
    })
}

/// The clock must exist; the three actions must keep the ticket where it is; the request
/// must take the reason and the time asked for, the refusal its reason.
fn extensions(
    cx: &mut Cx,
    r: &RawExtensions,
    transitions: &[TransitionDef],
    clocks: &[ClockDef],
) -> Option<ExtensionRule> {
    let before = cx.count();
    let clock = clocks.iter().position(|c| &c.name == r.clock.get_ref());
    if clock.is_none() {
        cx.err(
            r.clock.span(),
            format!(
                "[extensions] names unknown SLA clock {:?}",
                r.clock.get_ref()
            ),
        );
    }
    let needs: [(&Name, &[Field]); 3] = [
        (&r.request, &[Field::Reason, Field::ExtendBy]),
        (&r.approve, &[]),
        (&r.refuse, &[Field::Reason]),
    ];
    for (name, required) in needs {
        let action = name.get_ref();
        let found: Vec<&TransitionDef> =
            transitions.iter().filter(|t| &t.action == action).collect();
        if found.is_empty() {
            cx.err(
                name.span(),
                format!("[extensions] names unknown action {action:?}"),
            );
        } else if found.iter().any(|t| t.to.is_some()) {
            cx.err(
                name.span(),
                format!("extension action {action:?} must keep the ticket where it is (no `to`)"),
            );
        } else if let Some(f) = required
            .iter()
            .find(|f| !found.iter().all(|t| t.requires.contains(**f)))
        {
            cx.err(
                name.span(),
                format!("extension action {action:?} must require {:?}", f.as_str()),
            );
        }
    }
    let max = cx.span(&r.max);
    (cx.count() == before).then(|| ExtensionRule {
        clock: clock.expect("checked above"),
        request: r.request.get_ref().clone(),
        approve: r.approve.get_ref().clone(),
        refuse: r.refuse.get_ref().clone(),
        max: max.expect("checked above"),
    })
}

/// The state must be terminal (a follow-up comes after the request is done), and the action
/// must be a staff action out of it that keeps the ticket there.
fn follow_up(
    cx: &mut Cx,
    r: &RawFollowUp,
    state: StateId,
    states: &[StateDef],
    after: Span,
    calendar: Option<Arc<Calendar>>,
    transitions: &[TransitionDef],
) -> Option<FollowUpRule> {
    let action = r.action.get_ref();
    let tr = transitions
        .iter()
        .find(|t| &t.action == action && t.from.contains(&state));
    if !states[state.index()].terminal {
        cx.err(
            r.state.span(),
            format!(
                "[follow_up] is in a terminal state: the request is done first, not {:?}",
                r.state.get_ref()
            ),
        );
        return None;
    }
    let problem = match tr {
        None => Some(format!(
            "follow_up action {action:?} is not an action out of state {:?}",
            r.state.get_ref()
        )),
        Some(t) if t.to.is_some() => Some(format!(
            "follow_up action {action:?} must keep the ticket where it is (no `to`)"
        )),
        Some(t)
            if !t
                .roles
                .iter()
                .all(|p| matches!(p, Party::Role(r) if r.is_staff())) =>
        {
            Some(format!(
                "follow_up action {action:?} is the office's: its roles are staff levels"
            ))
        }
        Some(_) => None,
    };
    if let Some(p) = problem {
        cx.err(r.action.span(), p);
        return None;
    }
    Some(FollowUpRule {
        state,
        after,
        calendar,
        action: action.clone(),
    })
}

/// The waiting state is open; `merge` enters it and names the parent; `unmerge` and every
/// follow action leave it, and the follow actions are the system's, needing no field.
fn merging(
    cx: &mut Cx,
    r: &RawMerging,
    state: StateId,
    states: &[StateDef],
    window: Span,
    transitions: &[TransitionDef],
) -> Option<MergingRule> {
    let before = cx.count();
    if states[state.index()].terminal {
        cx.err(
            r.state.span(),
            "[merging] `in` is where a merged request waits for its parent: not a terminal state",
        );
    }
    let named = |action| named(transitions, action);
    let merge = r.merge.get_ref();
    if named(merge).next().is_none() {
        cx.err(
            r.merge.span(),
            format!("[merging] names unknown action {merge:?}"),
        );
    } else if !named(merge).all(|t| t.to == Some(state) && t.requires.contains(Field::Parent)) {
        cx.err(
            r.merge.span(),
            format!(
                "merge action {merge:?} must go to {:?} and require \"parent\"",
                r.state.get_ref()
            ),
        );
    }
    let unmerge = r.unmerge.get_ref();
    let leaves = |t: &TransitionDef| t.from.contains(&state) && t.to.is_some_and(|to| to != state);
    if !named(unmerge).any(leaves) {
        cx.err(
            r.unmerge.span(),
            format!(
                "unmerge action {unmerge:?} must lead out of {:?}",
                r.state.get_ref()
            ),
        );
    }
    // Parent state → the action each request merged under it takes, for `done`, `released`.
    let mut follows = [Vec::new(), Vec::new()];
    for (pairs, (list, what)) in follows
        .iter_mut()
        .zip([(&r.done, "done"), (&r.released, "released")])
    {
        for (parent_state, action) in list {
            if !states.iter().any(|s| &s.name == parent_state.get_ref()) {
                cx.err(
                    parent_state.span(),
                    format!(
                        "unknown state {:?} in [merging] {what}: it is not declared under [states]",
                        parent_state.get_ref()
                    ),
                );
            }
            let follows_out = named(action.get_ref()).any(|t| {
                leaves(t)
                    && t.roles.contains(&Party::Role(Role::System))
                    && t.requires.iter().all(|f| f == Field::Note)
            });
            if !follows_out {
                cx.err(
                    action.span(),
                    format!(
                        "[merging] action {:?} must lead out of {:?}, admit the system and require no field but a note",
                        action.get_ref(),
                        r.state.get_ref()
                    ),
                );
            }
            pairs.push((parent_state.get_ref().clone(), action.get_ref().clone()));
        }
    }
    let [done, released] = follows;
    (cx.count() == before).then(|| MergingRule {
        state,
        merge: merge.clone(),
        unmerge: unmerge.clone(),
        done,
        released,
        window,
    })
}

/// `add` and `report` keep the ticket where it is; `add` is the office's and names the
/// co-handler (leaving the holder as it is); `report` is the co-handler's, with a note.
fn co_handling(
    cx: &mut Cx,
    r: &RawCoHandling,
    within: Span,
    calendar: Option<Arc<Calendar>>,
    transitions: &[TransitionDef],
) -> Option<CoHandlingRule> {
    let before = cx.count();
    let named = |action| named(transitions, action);
    let add = r.add.get_ref();
    let staff = |t: &TransitionDef| {
        t.roles
            .iter()
            .all(|p| matches!(p, Party::Role(r) if r.is_staff()))
    };
    if named(add).next().is_none()
        || !named(add).all(|t| {
            t.to.is_none()
                && t.requires.contains(Field::Assignee)
                && t.assign == AssignEffect::Keep
                && staff(t)
        })
    {
        cx.err(
            r.add.span(),
            format!("[co_handling] add action {add:?} must be a staff action that keeps the ticket where it is, requires \"assignee\" and has assign = \"keep\""),
        );
    }
    let report = r.report.get_ref();
    if named(report).next().is_none()
        || !named(report).all(|t| {
            t.to.is_none() && t.requires.contains(Field::Note) && t.roles == [Party::CoHandler]
        })
    {
        cx.err(
            r.report.span(),
            format!("[co_handling] report action {report:?} must keep the ticket where it is, require \"note\" and admit only co_handler"),
        );
    }
    for action in &r.closes.get_ref().0 {
        if named(action).next().is_none() {
            cx.err(
                r.closes.span(),
                format!("[co_handling] closes names unknown action {action:?}"),
            );
        }
    }
    (cx.count() == before).then(|| CoHandlingRule {
        add: add.clone(),
        report: report.clone(),
        within,
        calendar,
        closes: r.closes.get_ref().0.clone(),
    })
}
