//! A workflow's states and transitions, and the checks on the graph they make: every state
//! reachable, every state but a terminal one with a way out.

use std::collections::{HashMap, VecDeque};
use std::ops::Range;

use super::super::model::*;
use super::super::raw::*;
use super::{Cx, fields, label, line_col, parties, valid_name};

/// The states a file declares, in its order, and how a name finds one.
pub(super) struct States<'f> {
    pub raw: Vec<(&'f Name, &'f RawState)>,
    pub defs: Vec<StateDef>,
    ix: HashMap<&'f str, StateId>,
}

impl States<'_> {
    /// The state `name`, or an error at `span` saying where it was named (`what`).
    pub fn find(&self, cx: &mut Cx, name: &str, span: Range<usize>, what: &str) -> Option<StateId> {
        let found = self.ix.get(name).copied();
        if found.is_none() {
            cx.err(
                span,
                format!("unknown state {name:?} in {what}: it is not declared under [states]"),
            );
        }
        found
    }
}

/// The file's states, with at least one and at most `u16::MAX`, and a terminal one.
pub(super) fn states<'f>(
    cx: &mut Cx,
    f: &'f RawFile,
    id_span: &Range<usize>,
) -> Option<States<'f>> {
    let mut raw_states: Vec<(&'f Name, &'f RawState)> = f.states.iter().collect();
    raw_states.sort_by_key(|(n, _)| n.span().start);
    if raw_states.is_empty() {
        cx.err(id_span.clone(), "the workflow declares no states");
        return None;
    }
    if raw_states.len() > usize::from(u16::MAX) {
        cx.err(id_span.clone(), "the workflow declares too many states");
        return None;
    }
    let states: Vec<StateDef> = raw_states
        .iter()
        .map(|(n, s)| StateDef {
            name: n.get_ref().clone(),
            label: label(s.label.as_ref(), n.get_ref()),
            terminal: s.terminal,
            wall: s.wall,
        })
        .collect();
    let ix: HashMap<&'f str, StateId> = raw_states
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.get_ref().as_str(), StateId(i as u16)))
        .collect();
    let states = States {
        raw: raw_states,
        defs: states,
        ix,
    };
    if !states.defs.iter().any(|s| s.terminal) {
        cx.err(
            id_span.clone(),
            "the workflow has no terminal state (mark one with `terminal = true`)",
        );
    }
    Some(states)
}

/// The file's transitions, each checked (names, states, roles, fields, assign effect, a
/// state change never internal, no action twice from one state).
pub(super) fn transitions(cx: &mut Cx, f: &RawFile, states: &States) -> Vec<TransitionDef> {
    let mut transitions = Vec::new();
    let mut seen: HashMap<(String, StateId), usize> = HashMap::new();
    for t in &f.transitions {
        let span = t.span();
        let t = t.get_ref();
        let action = t.action.get_ref();
        if !valid_name(action) {
            cx.err(
                t.action.span(),
                format!("action name {action:?} must be lowercase letters, digits, '-' or '_'"),
            );
        }
        let from_names = &t.from.get_ref().0;
        if from_names.is_empty() {
            cx.err(
                t.from.span(),
                format!("action {action:?} lists no `from` state"),
            );
        }
        let from: Vec<StateId> = from_names
            .iter()
            .filter_map(|n| {
                states.find(
                    cx,
                    n,
                    t.from.span(),
                    &format!("`from` of action {action:?}"),
                )
            })
            .collect();
        let to = match &t.to {
            Some(to) => states
                .find(
                    cx,
                    to.get_ref(),
                    to.span(),
                    &format!("`to` of action {action:?}"),
                )
                .map(Some),
            None => Some(None),
        };
        let roles = parties(
            cx,
            t.roles.as_ref(),
            t.action.span(),
            &format!("action {action:?}"),
        );
        let requires = fields(cx, &t.requires);
        let optional = fields(cx, &t.optional);
        let assign = match t.assign.as_ref().map(|a| (a.get_ref().as_str(), a.span())) {
            None if requires.contains(Field::Assignee) => AssignEffect::Set,
            None => AssignEffect::Keep,
            Some(("keep", _)) => AssignEffect::Keep,
            Some(("set", s)) => {
                if !requires.contains(Field::Assignee) {
                    cx.err(s, format!("action {action:?} sets the assignee but does not require the `assignee` field"));
                }
                AssignEffect::Set
            }
            Some(("clear", _)) => AssignEffect::Clear,
            Some(("claim", _)) => AssignEffect::Claim,
            Some((other, s)) => {
                cx.err(
                    s,
                    format!("unknown assign effect {other:?} (expected keep, set, clear or claim)"),
                );
                AssignEffect::Keep
            }
        };
        let internal = match &t.internal {
            Some(i) if *i.get_ref() && t.to.is_some() => {
                cx.err(
                    i.span(),
                    format!("action {action:?} changes the state, which the resident sees: it cannot be internal"),
                );
                true
            }
            Some(i) => *i.get_ref(),
            None => false,
        };
        for f in &from {
            if let Some(first) = seen.insert((action.clone(), *f), span.start) {
                let (line, _) = line_col(&cx.source.text, first);
                cx.err(
                    t.action.span(),
                    format!("duplicate action {action:?} from state {:?} (first declared on line {line})", states.defs[f.index()].name),
                );
            }
        }
        // Kept even with errors so that one mistake does not also report every state after it
        // as unreachable.
        if let Some(to) = to {
            transitions.push(TransitionDef {
                action: action.clone(),
                label: label(t.label.as_ref(), action),
                from,
                to,
                roles,
                requires,
                optional,
                assign,
                internal,
            });
        }
    }
    transitions
}

/// Every state reachable from `initial`; every state but a terminal one with a way out.
/// Not checked when a transition did not resolve (`graph_complete` false): its own error
/// says what is wrong, and guessing the graph without it would report states "unreachable"
/// that are not.
pub(super) fn check_graph(
    cx: &mut Cx,
    states: &States,
    transitions: &[TransitionDef],
    initial: Option<StateId>,
    graph_complete: bool,
) {
    if let Some(initial) = initial.filter(|_| graph_complete) {
        let mut reached = vec![false; states.defs.len()];
        reached[initial.index()] = true;
        let mut queue = VecDeque::from([initial]);
        while let Some(s) = queue.pop_front() {
            for to in transitions
                .iter()
                .filter(|t| t.from.contains(&s))
                .filter_map(|t| t.to)
            {
                if !reached[to.index()] {
                    reached[to.index()] = true;
                    queue.push_back(to);
                }
            }
        }
        for (i, (name, _)) in states.raw.iter().enumerate() {
            if !reached[i] {
                cx.err(
                    name.span(),
                    format!(
                        "state {:?} is unreachable from the initial state {:?}",
                        name.get_ref(),
                        states.defs[initial.index()].name
                    ),
                );
            }
        }
    }
    for (i, (name, s)) in states.raw.iter().enumerate() {
        let id = StateId(i as u16);
        let leaves = |t: &TransitionDef| t.from.contains(&id) && t.to.is_some_and(|to| to != id);
        if graph_complete && !s.terminal && !transitions.iter().any(leaves) {
            cx.err(
                name.span(),
                format!(
                    "state {:?} is not terminal and has no way out",
                    name.get_ref()
                ),
            );
        }
    }
}
