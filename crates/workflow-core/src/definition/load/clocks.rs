//! Time in a workflow: its escalation ladders, its SLA clocks (which states start, stop and
//! pause them, targets, warnings, calendar, ladder) and its state timers.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::super::model::*;
use super::super::raw::*;
use super::states::States;
use super::{Cx, label, targets};
use crate::calendar::Calendar;
use crate::role::{Party, Role};

/// The calendar a clock or timer names, if it names one: `None` (an error said why) if it
/// names one not declared.
pub(super) fn calendar_ref(
    cx: &mut Cx,
    calendars: &BTreeMap<String, Arc<Calendar>>,
    c: Option<&Name>,
) -> Option<Option<Arc<Calendar>>> {
    match c {
        None => Some(None),
        Some(name) => match calendars.get(name.get_ref()) {
            Some(cal) => Some(Some(cal.clone())),
            None => {
                cx.err(
                    name.span(),
                    format!(
                        "unknown calendar {:?}: declare it under [calendars.{}]",
                        name.get_ref(),
                        name.get_ref()
                    ),
                );
                None
            }
        },
    }
}

/// The file's escalation ladders, by name.
pub(super) fn ladders<'f>(cx: &mut Cx, f: &'f RawFile) -> HashMap<&'f str, Arc<Ladder>> {
    let mut ladders: HashMap<&str, Arc<Ladder>> = HashMap::new();
    for (name, raw) in &f.escalations {
        if raw.levels.get_ref().is_empty() {
            cx.err(
                raw.levels.span(),
                format!("escalation {:?} has no levels", name.get_ref()),
            );
        }
        let mut levels = Vec::new();
        for level in raw.levels.get_ref() {
            let l = level.get_ref();
            let to = match Role::parse(l.to.get_ref()) {
                Some(r) if r.is_staff() => Some(r),
                Some(_) => {
                    cx.err(
                        l.to.span(),
                        format!(
                            "escalation level {:?} must be secretary, community or street",
                            l.to.get_ref()
                        ),
                    );
                    None
                }
                None => {
                    cx.err(
                        l.to.span(),
                        format!(
                            "unknown role {:?} (expected secretary, community or street)",
                            l.to.get_ref()
                        ),
                    );
                    None
                }
            };
            let after = cx.span(&l.after);
            let (mut assign, mut raise_priority) = (false, false);
            for e in &l.effects {
                match e.get_ref().as_str() {
                    "notify" => {}
                    "assign" => assign = true,
                    "raise_priority" => raise_priority = true,
                    other => cx.err(e.span(), format!("unknown escalation effect {other:?} (expected notify, assign or raise_priority)")),
                }
            }
            if let (Some(to), Some(after)) = (to, after) {
                levels.push(LadderLevel {
                    to,
                    after,
                    assign,
                    raise_priority,
                });
            }
        }
        ladders.insert(
            name.get_ref(),
            Arc::new(Ladder {
                name: name.get_ref().clone(),
                levels,
            }),
        );
    }
    ladders
}

/// The file's SLA clocks.
pub(super) fn clocks(
    cx: &mut Cx,
    f: &RawFile,
    states: &States,
    calendars: &BTreeMap<String, Arc<Calendar>>,
    ladders: &HashMap<&str, Arc<Ladder>>,
) -> Vec<ClockDef> {
    let mut clocks = Vec::new();
    for (name, raw) in &f.sla {
        let what = format!("SLA clock {:?}", name.get_ref());
        let set = |cx: &mut Cx, list: &[Name], part: &str| -> Vec<bool> {
            let mut v = vec![false; states.defs.len()];
            for n in list {
                if let Some(s) =
                    states.find(cx, n.get_ref(), n.span(), &format!("`{part}` of {what}"))
                {
                    v[s.index()] = true;
                }
            }
            v
        };
        let start_names = raw.start.as_ref().map_or(&[][..], |s| s.get_ref());
        if start_names.is_empty() {
            let span = raw.start.as_ref().map_or(name.span(), |s| s.span());
            cx.err(span, format!("{what} has no `start` state"));
        }
        let start = set(cx, start_names, "start");
        let stop = set(cx, &raw.stop, "stop");
        let pause = set(cx, &raw.pause, "pause");
        for (i, s) in states.defs.iter().enumerate() {
            if start[i] && stop[i] {
                cx.err(
                    name.span(),
                    format!("{what} both starts and stops in state {:?}", s.name),
                );
            }
        }
        let targets = targets(cx, raw.target.get_ref());
        let by_type = raw
            .by_type
            .iter()
            .filter_map(|(kind, span)| {
                let t = crate::hotline::RequestType::ALL
                    .into_iter()
                    .find(|t| t.as_str() == kind.get_ref());
                if t.is_none() {
                    cx.err(
                        kind.span(),
                        format!(
                            "{what}: unknown request type {:?} in by_type (expected consult, help, complaint, report, suggestion or thanks)",
                            kind.get_ref()
                        ),
                    );
                }
                Some((t?, cx.span(span)?))
            })
            .collect();
        let warn_before = raw.warn_before.as_ref().and_then(|w| cx.span(w));
        let chase_before = raw.chase_before.as_ref().and_then(|w| cx.span(w));
        let warn_shares = raw
            .warn
            .iter()
            .filter_map(|w| {
                let share = w
                    .get_ref()
                    .strip_suffix('%')
                    .and_then(|p| p.trim().parse::<u8>().ok())
                    .filter(|p| (1..100).contains(p));
                if share.is_none() {
                    cx.err(
                        w.span(),
                        format!(
                            "{what}: warn lists shares of the target run, from \"1%\" to \"99%\", not {:?}",
                            w.get_ref()
                        ),
                    );
                }
                share
            })
            .collect();
        let calendar = calendar_ref(cx, calendars, raw.calendar.as_ref());
        let ladder = match &raw.escalation {
            None => Some(None),
            Some(l) => match ladders.get(l.get_ref().as_str()) {
                Some(l) => Some(Some(l.clone())),
                None => {
                    cx.err(
                        l.span(),
                        format!(
                            "unknown escalation {:?}: declare it under [escalations.{}]",
                            l.get_ref(),
                            l.get_ref()
                        ),
                    );
                    None
                }
            },
        };
        if let (Some(targets), Some(calendar), Some(ladder)) = (targets, calendar, ladder) {
            clocks.push(ClockDef {
                name: name.get_ref().clone(),
                label: label(raw.label.as_ref(), name.get_ref()),
                start,
                stop,
                pause,
                targets,
                by_type,
                warn_before,
                warn_shares,
                chase_before,
                calendar,
                ladder,
            });
        }
    }
    clocks
}

/// The file's state timers: each an action out of its state that the system may take.
pub(super) fn state_timers(
    cx: &mut Cx,
    f: &RawFile,
    states: &States,
    transitions: &[TransitionDef],
    calendars: &BTreeMap<String, Arc<Calendar>>,
) -> Vec<StateTimerDef> {
    let mut timers = Vec::new();
    for t in &f.timers {
        let t = t.get_ref();
        let st = states.find(cx, t.state.get_ref(), t.state.span(), "`in` of a timer");
        let after = cx.span(&t.after);
        let calendar = calendar_ref(cx, calendars, t.calendar.as_ref());
        let action = t.action.get_ref();
        if let Some(st) = st {
            let tr = transitions
                .iter()
                .find(|tr| &tr.action == action && tr.from.contains(&st));
            match tr {
                None => cx.err(
                    t.action.span(),
                    format!(
                        "timer action {action:?} is not an action out of state {:?}",
                        t.state.get_ref()
                    ),
                ),
                Some(tr) if !tr.roles.contains(&Party::Role(Role::System)) => cx.err(
                    t.action.span(),
                    format!("timer action {action:?} must admit the `system` role"),
                ),
                Some(tr) if !tr.requires.iter().all(|f| f == Field::Note) => cx.err(
                    t.action.span(),
                    format!("timer action {action:?} requires fields a timer cannot give"),
                ),
                Some(_) => {}
            }
        }
        if let (Some(state), Some(after), Some(calendar)) = (st, after, calendar) {
            timers.push(StateTimerDef {
                state,
                after,
                action: action.clone(),
                calendar,
            });
        }
    }
    timers
}
