//! Loading: TOML sources → a validated [`Catalog`], or every problem found, each as
//! `file:line:col: message`. The loader reads no files itself; callers hand it the texts.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::model::*;
use super::raw::*;
use crate::calendar::{Calendar, Interval};
use crate::duration::Span;
use crate::label::Label;
use crate::role::{Party, Role};

/// One workflow file: its name for messages (usually the path) and its text.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: String,
}

/// A problem in a workflow file, located precisely.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct LoadError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Event names a `notify` rule may name besides the workflow's actions.
pub const SYSTEM_EVENTS: [&str; 7] = [
    "submitted",
    "sla_warning",
    "sla_chase",
    "sla_breach",
    "escalation",
    "clock_extended",
    "follow_up_due",
];

/// Where errors go while one file is checked.
struct Cx<'a> {
    source: &'a Source,
    errors: &'a mut Vec<LoadError>,
}

impl Cx<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, col) = line_col(&self.source.text, span.start);
        self.errors.push(LoadError {
            file: self.source.name.clone(),
            line,
            col,
            message: message.into(),
        });
    }

    fn count(&self) -> usize {
        self.errors.len()
    }

    fn span(&mut self, raw: &Name) -> Option<Span> {
        Span::parse(raw.get_ref())
            .map_err(|e| self.err(raw.span(), e.to_string()))
            .ok()
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn label(raw: Option<&RawLabel>, fallback: &str) -> Label {
    match raw {
        Some(l) => Label::new(&l.zh_cn, l.en.as_deref().unwrap_or(&l.zh_cn)),
        None => Label::new(fallback, fallback),
    }
}

/// Loads and validates every source. Either the whole catalog is valid, or nothing loads.
pub fn load(sources: &[Source]) -> Result<Catalog, Vec<LoadError>> {
    let mut errors = Vec::new();
    let mut parsed = Vec::new();
    for source in sources {
        match toml::from_str::<RawFile>(&source.text) {
            Ok(file) => parsed.push((source, file)),
            Err(e) => Cx {
                source,
                errors: &mut errors,
            }
            .err(e.span().unwrap_or(0..0), e.message().trim().to_owned()),
        }
    }

    let mut catalog = Catalog::default();
    for (source, file) in &parsed {
        let mut cx = Cx {
            source,
            errors: &mut errors,
        };
        for (name, raw) in &file.calendars {
            if catalog.calendars.contains_key(name.get_ref()) {
                cx.err(
                    name.span(),
                    format!("calendar {:?} is declared twice", name.get_ref()),
                );
            } else if let Some(c) = calendar(&mut cx, name, raw) {
                catalog
                    .calendars
                    .insert(name.get_ref().clone(), Arc::new(c));
            }
        }
    }

    let mut origin: HashMap<WorkflowKey, String> = HashMap::new();
    let mut declared: HashSet<String> = HashSet::new();
    for (source, file) in &parsed {
        let mut cx = Cx {
            source,
            errors: &mut errors,
        };
        let declares_workflow =
            file.id.is_some() || !file.states.is_empty() || !file.transitions.is_empty();
        if !declares_workflow {
            continue;
        }
        if let Some(id) = &file.id {
            declared.insert(id.get_ref().clone());
        }
        let Some(wf) = workflow(&mut cx, file, &catalog.calendars) else {
            continue;
        };
        let key = wf.key();
        if let Some(first) = origin.get(&key) {
            let span = file.id.as_ref().map_or(0..0, |i| i.span());
            cx.err(
                span,
                format!("workflow {key} is already defined in {first}"),
            );
            continue;
        }
        origin.insert(key.clone(), source.name.clone());
        catalog.workflows.insert(key, Arc::new(wf));
    }

    for (source, file) in &parsed {
        let mut cx = Cx {
            source,
            errors: &mut errors,
        };
        for (code, raw) in &file.categories {
            if catalog.categories.contains_key(code.get_ref()) {
                cx.err(
                    code.span(),
                    format!("category {:?} is declared twice", code.get_ref()),
                );
            } else if let Some(c) = category(&mut cx, code, raw, &catalog, &declared) {
                catalog.categories.insert(c.code.clone(), c);
            }
        }
    }

    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
        return Err(errors);
    }
    apply_category_targets(&mut catalog);
    Ok(catalog)
}

/// Categories may override SLA targets and carry points and automatic dispatch; each
/// workflow version gets the overrides for the clocks it has.
fn apply_category_targets(catalog: &mut Catalog) {
    let categories: Vec<Category> = catalog.categories.values().cloned().collect();
    for wf in catalog.workflows.values_mut() {
        let wf = Arc::get_mut(wf).expect("catalog workflows are not shared while loading");
        for c in categories.iter().filter(|c| c.workflow == wf.id) {
            wf.category_rules.insert(
                c.code.clone(),
                CategoryRules {
                    points: c.points,
                    auto_dispatch: if wf.auto_dispatch.is_some() {
                        c.auto_dispatch
                    } else {
                        0
                    },
                    follow_up: c.follow_up && wf.follow_up.is_some(),
                },
            );
            for (clock, targets) in &c.sla {
                if let Some(ix) = wf.clocks.iter().position(|k| &k.name == clock) {
                    let n = wf.clocks.len();
                    wf.category_targets
                        .entry(c.code.clone())
                        .or_insert_with(|| vec![None; n])[ix] = Some(*targets);
                }
            }
        }
    }
}

fn calendar(cx: &mut Cx, name: &Name, raw: &RawCalendar) -> Option<Calendar> {
    let before = cx.count();
    let tz_name = raw
        .time_zone
        .as_ref()
        .map_or("Asia/Shanghai", |t| t.get_ref());
    let tz = match TimeZone::get(tz_name) {
        Ok(tz) => Some(tz),
        Err(_) => {
            let span = raw.time_zone.as_ref().map_or(name.span(), |t| t.span());
            cx.err(span, format!("unknown time zone {tz_name:?} (expected an IANA name such as \"Asia/Shanghai\")"));
            None
        }
    };
    let w = raw.week.get_ref();
    let intervals = |cx: &mut Cx, list: &[Name]| -> Vec<Interval> {
        list.iter()
            .filter_map(|s| {
                Interval::parse(s.get_ref())
                    .map_err(|e| cx.err(s.span(), e))
                    .ok()
            })
            .collect()
    };
    let week = [
        intervals(cx, &w.mon),
        intervals(cx, &w.tue),
        intervals(cx, &w.wed),
        intervals(cx, &w.thu),
        intervals(cx, &w.fri),
        intervals(cx, &w.sat),
        intervals(cx, &w.sun),
    ];
    let makeup_hours = raw.makeup_hours.as_ref().map(|h| intervals(cx, h));
    let holidays = dates(cx, &raw.holidays);
    let makeup_days = dates(cx, &raw.makeup_days);
    if cx.count() > before {
        return None;
    }
    match Calendar::new(
        name.get_ref(),
        tz?,
        week,
        makeup_hours,
        holidays,
        makeup_days,
    ) {
        Ok(c) => Some(c),
        Err(e) if e.contains("no working hours") => {
            cx.err(
                raw.week.span(),
                format!(
                    "calendar {:?} has an empty week: no weekday has working hours",
                    name.get_ref()
                ),
            );
            None
        }
        Err(e) => {
            cx.err(
                raw.week.span(),
                format!("calendar {:?}: {e}", name.get_ref()),
            );
            None
        }
    }
}

/// `"2026-01-01"` or an inclusive range `"2026-02-15..2026-02-23"`.
fn dates(cx: &mut Cx, list: &[Name]) -> HashSet<Date> {
    let mut out = HashSet::new();
    for item in list {
        let s = item.get_ref();
        let parse = |d: &str| d.trim().parse::<Date>().ok();
        let range = match s.split_once("..") {
            Some((a, b)) => parse(a).zip(parse(b)),
            None => parse(s).map(|d| (d, d)),
        };
        match range {
            Some((a, b)) if a <= b && (b - a).get_days() <= 366 => {
                let mut d = a;
                while d <= b {
                    out.insert(d);
                    match d.tomorrow() {
                        Ok(next) => d = next,
                        Err(_) => break,
                    }
                }
            }
            _ => cx.err(
                item.span(),
                format!("bad date {s:?}: expected \"2026-01-01\" or \"2026-02-15..2026-02-23\" (a range of at most a year)"),
            ),
        }
    }
    out
}

fn workflow(
    cx: &mut Cx,
    f: &RawFile,
    calendars: &BTreeMap<String, Arc<Calendar>>,
) -> Option<Workflow> {
    let before = cx.count();
    let id = match &f.id {
        Some(id) if valid_name(id.get_ref()) => Some(id.get_ref().clone()),
        Some(id) => {
            cx.err(
                id.span(),
                format!(
                    "workflow id {:?} must be lowercase letters, digits, '-' or '_'",
                    id.get_ref()
                ),
            );
            None
        }
        None => {
            cx.err(0..0, "the workflow has no `id`");
            None
        }
    };
    let version = match &f.version {
        Some(v) if *v.get_ref() >= 1 => Some(*v.get_ref()),
        Some(v) => {
            cx.err(v.span(), "`version` must be 1 or more");
            None
        }
        None => {
            cx.err(0..0, "the workflow has no `version`");
            None
        }
    };
    let id_span = f.id.as_ref().map_or(0..0, |i| i.span());

    // States, in the order the file declares them.
    let mut raw_states: Vec<(&Name, &RawState)> = f.states.iter().collect();
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
    let ix: HashMap<&str, StateId> = states
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), StateId(i as u16)))
        .collect();
    let state = |cx: &mut Cx, name: &str, span: Range<usize>, what: &str| -> Option<StateId> {
        let found = ix.get(name).copied();
        if found.is_none() {
            cx.err(
                span,
                format!("unknown state {name:?} in {what}: it is not declared under [states]"),
            );
        }
        found
    };
    if !states.iter().any(|s| s.terminal) {
        cx.err(
            id_span.clone(),
            "the workflow has no terminal state (mark one with `terminal = true`)",
        );
    }
    let initial = match &f.initial {
        Some(i) => state(cx, i.get_ref(), i.span(), "`initial`"),
        None => {
            cx.err(id_span.clone(), "the workflow has no `initial` state");
            None
        }
    };

    // Transitions.
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
                state(
                    cx,
                    n,
                    t.from.span(),
                    &format!("`from` of action {action:?}"),
                )
            })
            .collect();
        let to = match &t.to {
            Some(to) => state(
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
                    format!("duplicate action {action:?} from state {:?} (first declared on line {line})", states[f.index()].name),
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

    // Every state reachable; every non-terminal state has a way out. Skipped when a
    // transition did not resolve: its own error says what is wrong, and guessing the graph
    // without it would report states "unreachable" that are not.
    let graph_complete = transitions.len() == f.transitions.len();
    if let Some(initial) = initial.filter(|_| graph_complete) {
        let mut reached = vec![false; states.len()];
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
        for (i, (name, _)) in raw_states.iter().enumerate() {
            if !reached[i] {
                cx.err(
                    name.span(),
                    format!(
                        "state {:?} is unreachable from the initial state {:?}",
                        name.get_ref(),
                        states[initial.index()].name
                    ),
                );
            }
        }
    }
    for (i, (name, s)) in raw_states.iter().enumerate() {
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

    // Escalation ladders.
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

    let calendar_ref = |cx: &mut Cx, c: Option<&Name>| -> Option<Option<Arc<Calendar>>> {
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
    };

    // SLA clocks.
    let mut clocks = Vec::new();
    for (name, raw) in &f.sla {
        let what = format!("SLA clock {:?}", name.get_ref());
        let set = |cx: &mut Cx, list: &[Name], part: &str| -> Vec<bool> {
            let mut v = vec![false; states.len()];
            for n in list {
                if let Some(s) = state(cx, n.get_ref(), n.span(), &format!("`{part}` of {what}")) {
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
        for (i, s) in states.iter().enumerate() {
            if start[i] && stop[i] {
                cx.err(
                    name.span(),
                    format!("{what} both starts and stops in state {:?}", s.name),
                );
            }
        }
        let targets = targets(cx, raw.target.get_ref());
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
        let calendar = calendar_ref(cx, raw.calendar.as_ref());
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
                warn_before,
                warn_shares,
                chase_before,
                calendar,
                ladder,
            });
        }
    }

    // State timers.
    let mut timers = Vec::new();
    for t in &f.timers {
        let t = t.get_ref();
        let st = state(cx, t.state.get_ref(), t.state.span(), "`in` of a timer");
        let after = cx.span(&t.after);
        let calendar = calendar_ref(cx, t.calendar.as_ref());
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

    // Notification rules.
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

    let auto_dispatch = f.auto_dispatch.as_ref().and_then(|a| {
        let a = a.get_ref();
        let st = state(
            cx,
            a.state.get_ref(),
            a.state.span(),
            "`in` of [auto_dispatch]",
        )?;
        auto_dispatch(cx, a, st, &transitions)
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
        .and_then(|e| extensions(cx, e.get_ref(), &transitions, &clocks));
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
        let st = state(cx, r.state.get_ref(), r.state.span(), "`in` of [follow_up]")?;
        let after = cx.span(&r.after)?;
        let calendar = calendar_ref(cx, r.calendar.as_ref())?;
        follow_up(cx, r, st, &states, after, calendar, &transitions)
    });
    let merging = f.merging.as_ref().and_then(|r| {
        let r = r.get_ref();
        let st = state(cx, r.state.get_ref(), r.state.span(), "`in` of [merging]")?;
        let window = cx.span(&r.window)?;
        merging(cx, r, st, &states, window, &transitions)
    });
    let co_handling = f.co_handling.as_ref().and_then(|r| {
        let r = r.get_ref();
        let within = cx.span(&r.within)?;
        let calendar = calendar_ref(cx, r.calendar.as_ref())?;
        co_handling(cx, r, within, calendar, &transitions)
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

    if cx.count() > before {
        return None;
    }
    let mut wf = Workflow::assemble(
        id?,
        version?,
        label(f.name.as_ref(), f.id.as_ref()?.get_ref()),
        initial?,
        states,
        transitions,
        clocks,
        timers,
        notify,
        cx.source.name.clone(),
        cx.source.text.clone(),
    );
    wf.auto_dispatch = auto_dispatch;
    wf.credit = credit;
    wf.objections = objections;
    wf.extensions = extensions;
    wf.follow_up = follow_up;
    wf.merging = merging;
    wf.co_handling = co_handling;
    Some(wf)
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
    (cx.count() == before).then(|| CreditRule {
        on: r.on.get_ref().0.clone(),
        rating_bonus,
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

/// The transitions bearing this action name.
fn named<'a>(
    transitions: &'a [TransitionDef],
    action: &'a str,
) -> impl Iterator<Item = &'a TransitionDef> {
    transitions.iter().filter(move |t| t.action == action)
}

/// Whether the file declares an action of this name.
fn is_action(transitions: &[toml::Spanned<RawTransition>], name: &str) -> bool {
    transitions
        .iter()
        .any(|t| t.get_ref().action.get_ref() == name)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn party(cx: &mut Cx, name: &Name) -> Option<Party> {
    let p = Party::parse(name.get_ref());
    if p == Some(Party::Role(Role::Supervisor)) {
        cx.err(
            name.span(),
            "supervisor is read-only oversight (督单): it takes no action and is told nothing",
        );
        return None;
    }
    if p.is_none() {
        cx.err(name.span(), format!(
            "unknown role {:?} (expected resident, secretary, member, community, street, system, requester, assignee or co_handler)",
            name.get_ref()
        ));
    }
    p
}

fn parties(
    cx: &mut Cx,
    raw: Option<&toml::Spanned<Vec<Name>>>,
    span: Range<usize>,
    what: &str,
) -> Vec<Party> {
    let Some(list) = raw.filter(|l| !l.get_ref().is_empty()) else {
        cx.err(
            span,
            format!("{what} has no role: list who may take it in `roles`"),
        );
        return Vec::new();
    };
    list.get_ref().iter().filter_map(|n| party(cx, n)).collect()
}

fn fields(cx: &mut Cx, raw: &[Name]) -> FieldSet {
    let mut set = FieldSet::default();
    for n in raw {
        match Field::parse(n.get_ref()) {
            Some(f) => set.insert(f),
            None => cx.err(
                n.span(),
                format!(
                    "unknown field {:?} (expected assignee, reason, note, rating, hours or extend_by)",
                    n.get_ref()
                ),
            ),
        }
    }
    set
}

fn targets(cx: &mut Cx, raw: &RawTargets) -> Option<Targets> {
    let normal = cx.span(&raw.normal);
    let urgent = match &raw.urgent {
        Some(u) => cx.span(u),
        None => normal,
    };
    Some(Targets {
        normal: normal?,
        urgent: urgent?,
    })
}

/// `declared` holds every workflow id some file declares, valid or not: a category of a
/// workflow that failed validation is not reported again.
fn category(
    cx: &mut Cx,
    code: &Name,
    raw: &RawCategory,
    catalog: &Catalog,
    declared: &HashSet<String>,
) -> Option<Category> {
    let before = cx.count();
    if !valid_name(code.get_ref()) {
        cx.err(
            code.span(),
            format!(
                "category code {:?} must be lowercase letters, digits, '-' or '_'",
                code.get_ref()
            ),
        );
    }
    let wf_id = raw.workflow.get_ref();
    let wf = catalog.latest(wf_id);
    if wf.is_none() && !declared.contains(wf_id) {
        cx.err(
            raw.workflow.span(),
            format!(
                "category {:?} names unknown workflow {wf_id:?}",
                code.get_ref()
            ),
        );
    }
    if let (Some(wf), Some(n)) = (wf, &raw.auto_dispatch)
        && *n.get_ref() > 0
        && wf.auto_dispatch.is_none()
    {
        cx.err(
            n.span(),
            format!(
                "category {:?} asks for automatic dispatch, but workflow {wf_id:?} has no [auto_dispatch] section",
                code.get_ref()
            ),
        );
    }
    // Versions without the section simply make no follow-up (requests still running on an
    // older version); a workflow none of whose versions has one is a mistake.
    let any_follow_up = catalog
        .workflows
        .values()
        .any(|w| &w.id == wf_id && w.follow_up.is_some());
    if let (Some(_), Some(f)) = (wf, &raw.follow_up)
        && *f.get_ref()
        && !any_follow_up
    {
        cx.err(
            f.span(),
            format!(
                "category {:?} asks for a follow-up, but no version of workflow {wf_id:?} has a [follow_up] section",
                code.get_ref()
            ),
        );
    }
    let mut sla = BTreeMap::new();
    for (clock, t) in &raw.sla {
        if let Some(wf) = wf
            && !wf.clocks.iter().any(|c| &c.name == clock.get_ref())
        {
            cx.err(
                clock.span(),
                format!(
                    "category {:?} overrides unknown SLA clock {:?} of workflow {wf_id:?}",
                    code.get_ref(),
                    clock.get_ref()
                ),
            );
        }
        if let Some(t) = targets(cx, t.get_ref()) {
            sla.insert(clock.get_ref().clone(), t);
        }
    }
    (cx.count() == before).then(|| Category {
        code: code.get_ref().clone(),
        label: label(Some(&raw.label), code.get_ref()),
        workflow: wf_id.clone(),
        skills: raw.skills.clone(),
        icon: raw.icon.clone(),
        points: raw.points,
        sla,
        auto_dispatch: raw.auto_dispatch.as_ref().map_or(0, |n| *n.get_ref()),
        follow_up: raw.follow_up.as_ref().is_some_and(|f| *f.get_ref()),
    })
}
