//! Loading: TOML sources → a validated [`Catalog`], or every problem found, each as
//! `file:line:col: message`. The loader reads no files itself; callers hand it the texts.
//!
//! [`load`] reads the calendars, then each workflow ([`workflow`]: its states and
//! transitions, its clocks and timers, its rules), then the categories; each part is a
//! module of its own.

mod calendars;
mod categories;
mod clocks;
mod rates;
mod rules;
mod states;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;

use super::model::*;
use super::raw::*;
use crate::calendar::Calendar;
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
pub const SYSTEM_EVENTS: [&str; 10] = [
    "submitted",
    "order_updated",
    "platform_reminder",
    "platform_supervision",
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
            } else if let Some(c) = calendars::calendar(&mut cx, name, raw) {
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
            } else if let Some(c) = categories::category(&mut cx, code, raw, &catalog, &declared) {
                catalog.categories.insert(c.code.clone(), c);
            }
        }
    }

    if !errors.is_empty() {
        errors.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
        return Err(errors);
    }
    categories::apply_category_targets(&mut catalog);
    Ok(catalog)
}

/// One workflow file, checked part by part; `None` if any part has an error.
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

    let states = states::states(cx, f, &id_span)?;
    let initial = match &f.initial {
        Some(i) => states.find(cx, i.get_ref(), i.span(), "`initial`"),
        None => {
            cx.err(id_span.clone(), "the workflow has no `initial` state");
            None
        }
    };
    let transitions = states::transitions(cx, f, &states);
    // Kept even with errors, so that one mistake does not also report every state after it
    // as unreachable; the graph is checked only when every transition resolved.
    let graph_complete = transitions.len() == f.transitions.len();
    states::check_graph(cx, &states, &transitions, initial, graph_complete);
    let ladders = clocks::ladders(cx, f);
    let clocks = clocks::clocks(cx, f, &states, calendars, &ladders);
    let timers = clocks::state_timers(cx, f, &states, &transitions, calendars);
    let notify = rules::notify(cx, f, &transitions);
    let practice = rules::practice(cx, f, &states, &transitions, &clocks, calendars);
    let rates = rates::rates(cx, f, &clocks);
    if cx.count() > before {
        return None;
    }
    let mut wf = Workflow::assemble(
        id?,
        version?,
        label(f.name.as_ref(), f.id.as_ref()?.get_ref()),
        initial?,
        states.defs,
        transitions,
        clocks,
        timers,
        notify,
        cx.source.name.clone(),
        cx.source.text.clone(),
    );
    wf.auto_dispatch = practice.auto_dispatch;
    wf.credit = practice.credit;
    wf.objections = practice.objections;
    wf.extensions = practice.extensions;
    wf.follow_up = practice.follow_up;
    wf.merging = practice.merging;
    wf.co_handling = practice.co_handling;
    wf.rates = rates;
    Some(wf)
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
    let mut roles = Vec::new();
    for n in list.get_ref() {
        match party(cx, n) {
            Some(Party::Platform) => cx.err(
                n.span(),
                "platform is told (`[[notify]]`), never acting: its answers are the system's actions",
            ),
            Some(p) => roles.push(p),
            None => {}
        }
    }
    roles
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
