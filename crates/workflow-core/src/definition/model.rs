//! The validated, immutable workflow model. Values of these types only come out of the
//! loader, so every state, action, calendar and role they name exists; deciding is lookups.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::calendar::Calendar;
use crate::duration::Span;
use crate::label::Label;
use crate::role::{Party, Role};
use crate::ticket::{Ticket, Urgency};

/// Index of a state within its workflow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateId(pub(crate) u16);

impl StateId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

#[derive(Clone, Debug)]
pub struct StateDef {
    pub name: String,
    pub label: Label,
    pub terminal: bool,
    /// Tickets in this state are shown to every member of their community (the micro-wish
    /// wall), not only to whoever holds them.
    pub wall: bool,
}

/// Fields a command may carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Assignee,
    Reason,
    Note,
    Rating,
    Hours,
    /// More time asked for (延期), as a duration: `"4h"`, `"2wd"`.
    ExtendBy,
    /// The request a duplicate is merged under (并单).
    Parent,
    /// Whether the requester was contacted about the result (已联系诉求人), `true`/`false`.
    Contacted,
}

impl Field {
    pub const ALL: [Field; 8] = [
        Field::Assignee,
        Field::Reason,
        Field::Note,
        Field::Rating,
        Field::Hours,
        Field::ExtendBy,
        Field::Parent,
        Field::Contacted,
    ];

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Field::Assignee => "assignee",
            Field::Reason => "reason",
            Field::Note => "note",
            Field::Rating => "rating",
            Field::Hours => "hours",
            Field::ExtendBy => "extend_by",
            Field::Parent => "parent",
            Field::Contacted => "contacted",
        }
    }
}

/// A set of [`Field`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldSet(u8);

impl FieldSet {
    pub fn contains(self, f: Field) -> bool {
        self.0 & (1 << f as u8) != 0
    }
    pub fn insert(&mut self, f: Field) {
        self.0 |= 1 << f as u8;
    }
    pub fn iter(self) -> impl Iterator<Item = Field> {
        Field::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// What an action does to the ticket's holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignEffect {
    /// Leave it as it is.
    Keep,
    /// Hand the ticket to the command's `assignee` (a person or a team pool).
    Set,
    /// Take the ticket from whoever holds it (back to the branch queue).
    Clear,
    /// The acting member takes it (accepting from a team pool makes them the holder).
    Claim,
}

#[derive(Clone, Debug)]
pub struct TransitionDef {
    pub action: String,
    pub label: Label,
    pub from: Vec<StateId>,
    /// `None`: the ticket stays in the state it is in.
    pub to: Option<StateId>,
    pub roles: Vec<Party>,
    pub requires: FieldSet,
    pub optional: FieldSet,
    pub assign: AssignEffect,
    /// What it records is for those who handle the request, never for the resident (an
    /// internal note); only actions that keep the ticket where it is may be internal.
    pub internal: bool,
}

/// A step of an escalation ladder.
#[derive(Clone, Debug, PartialEq)]
pub struct LadderLevel {
    pub to: Role,
    /// Delay after the breach (first level) or after the previous level.
    pub after: Span,
    /// Hand the ticket to this level's queue, besides telling it.
    pub assign: bool,
    pub raise_priority: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ladder {
    pub name: String,
    pub levels: Vec<LadderLevel>,
}

/// Targets of an SLA clock by urgency.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Targets {
    pub normal: Span,
    pub urgent: Span,
}

impl Targets {
    pub fn for_urgency(self, u: Urgency) -> Span {
        match u {
            Urgency::Normal => self.normal,
            Urgency::Urgent => self.urgent,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClockDef {
    pub name: String,
    pub label: Label,
    /// Indexed by state: entering one of these starts the clock (or restarts a stopped one).
    pub start: Vec<bool>,
    pub stop: Vec<bool>,
    pub pause: Vec<bool>,
    pub targets: Targets,
    /// Targets for a city hotline order's request type (接诉即办 deadlines), which come
    /// before the category's and the urgency's.
    pub by_type: Vec<(crate::hotline::RequestType, Span)>,
    /// Warn this long before the deadline (working time).
    pub warn_before: Option<Span>,
    /// Warn when these percentages of the target have run (`warn = ["50%", "75%"]`).
    pub warn_shares: Vec<u8>,
    /// The chase notice (催办) to the holder and their secretary, this long before the deadline.
    pub chase_before: Option<Span>,
    pub calendar: Option<Arc<Calendar>>,
    pub ladder: Option<Arc<Ladder>>,
}

/// What a warning of a clock is: a share of the target run, the lead time before the
/// deadline, or the chase notice (催办) just before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Warning {
    Share(u8),
    Before,
    Chase,
}

impl ClockDef {
    pub fn working_day_secs(&self) -> i64 {
        self.calendar
            .as_ref()
            .map_or(86_400, |c| c.working_day_secs())
    }

    /// The clock's warnings for a target, as the working seconds run when each falls due,
    /// earliest first. A warning at the start or at the deadline itself is no warning; two
    /// at the same moment are one, the stronger (the chase, then the lead time).
    pub fn warnings(&self, target_secs: i64) -> Vec<(i64, Warning)> {
        let day = self.working_day_secs();
        let before = |s: Span| target_secs - s.seconds(day);
        let mut points: Vec<(i64, Warning)> = self
            .warn_shares
            .iter()
            .map(|p| (target_secs * i64::from(*p) / 100, Warning::Share(*p)))
            .chain(self.warn_before.map(|s| (before(s), Warning::Before)))
            .chain(self.chase_before.map(|s| (before(s), Warning::Chase)))
            .filter(|(at, _)| *at > 0 && *at < target_secs)
            .collect();
        let strength = |w: &Warning| match w {
            Warning::Share(_) => 0,
            Warning::Before => 1,
            Warning::Chase => 2,
        };
        points.sort_by_key(|(at, w)| (*at, std::cmp::Reverse(strength(w))));
        points.dedup_by_key(|(at, _)| *at);
        points
    }
}

/// A system action taken after a time in a state (dispatch expiry, auto-close).
#[derive(Clone, Debug)]
pub struct StateTimerDef {
    pub state: StateId,
    pub after: Span,
    pub action: String,
    pub calendar: Option<Arc<Calendar>>,
}

/// `[auto_dispatch]`: on entering `state`, a ticket of a category that asks for it is
/// dispatched by the system, with `action`, to the best-ranked eligible volunteer.
#[derive(Clone, Debug)]
pub struct AutoDispatchDef {
    pub state: StateId,
    pub action: String,
}

/// `[credit]`: the actions that credit the ticket's holder with its service time and with
/// points: the category's weight plus the bonus for the rating given (none when unrated);
/// what one person may be credited in a day, and how soon after taking a request a report of
/// it done is questioned ([`crate::credit`]).
#[derive(Clone, Debug)]
pub struct CreditRule {
    pub on: Vec<String>,
    pub rating_bonus: [i32; 5],
    /// `daily_time`: the most service time credited to one person in a civil day.
    pub daily_minutes: Option<u32>,
    /// `daily_points`: the most points credited to one person in a civil day.
    pub daily_points: Option<i32>,
    /// `question_under`: work reported done sooner than this after it was taken is questioned.
    pub question_under_secs: Option<i64>,
}

impl CreditRule {
    pub fn points(&self, weight: u32, rating: Option<u8>) -> i32 {
        let bonus = rating.map_or(0, |r| self.rating_bonus[usize::from(r.clamp(1, 5)) - 1]);
        (weight as i32 + bonus).max(0)
    }
}

/// `[objections]`: returning a dispatch with a reason (退单异议) is counted per request; the
/// `escalate_after`-th return takes the request up to `to`.
#[derive(Clone, Debug)]
pub struct ObjectionRule {
    pub on: Vec<String>,
    pub escalate_after: u32,
    pub to: Role,
}

/// `[extensions]` (延期): the holder asks for more time on one clock, before its deadline,
/// with a reason; the level above approves (the deadline moves, the resident is told) or
/// refuses. Each is an action of the workflow that keeps the ticket where it is.
#[derive(Clone, Debug)]
pub struct ExtensionRule {
    /// Index of the clock extended, in [`Workflow::clocks`].
    pub clock: usize,
    pub request: String,
    pub approve: String,
    pub refuse: String,
    /// The most one extension may add.
    pub max: Span,
}

/// `[follow_up]` (回访): for categories that ask for it, entering `state` (closed) sets a
/// follow-up task due `after` (working time); `action` records it, and ends the task.
#[derive(Clone, Debug)]
pub struct FollowUpRule {
    pub state: StateId,
    pub after: Span,
    pub calendar: Option<Arc<Calendar>>,
    pub action: String,
}

/// `[merging]` (并单): the branch merges a near-identical request under another (the parent)
/// with `merge`; it waits in `state` while the parent's work is done once. When the parent
/// enters a state named in `done`, each request merged under it takes that action (to its
/// own confirmation: its resident is told and rates it); in a state named in `released`
/// (the parent will not be done), it takes that action, unlinked, back to the branch.
/// `unmerge` undoes a merge by hand.
#[derive(Clone, Debug)]
pub struct MergingRule {
    pub state: StateId,
    pub merge: String,
    pub unmerge: String,
    /// Parent state → the action each request merged under it takes.
    pub done: Vec<(String, String)>,
    pub released: Vec<(String, String)>,
    /// Suggested parents were asked within this of the request (either side).
    pub window: Span,
}

impl MergingRule {
    /// What a request merged under a parent does when the parent enters `parent_state`:
    /// the action, and whether it leaves the parent (released).
    pub fn follow(&self, parent_state: &str) -> Option<(&str, bool)> {
        fn find<'a>(list: &'a [(String, String)], state: &str) -> Option<&'a str> {
            list.iter()
                .find(|(s, _)| s == state)
                .map(|(_, a)| a.as_str())
        }
        find(&self.done, parent_state)
            .map(|a| (a, false))
            .or_else(|| find(&self.released, parent_state).map(|a| (a, true)))
    }
}

/// `[co_handling]` (主办/协办): the branch adds co-handlers (a person each) beside the holder,
/// the lead, with `add`; each has their own deadline, `within` after being added, and
/// reports their part with `report` (a note). `closes` are the lead's actions that complete
/// the request: they close the co-handling with every co-handler's note.
#[derive(Clone, Debug)]
pub struct CoHandlingRule {
    pub add: String,
    pub report: String,
    pub within: Span,
    pub calendar: Option<Arc<Calendar>>,
    pub closes: Vec<String>,
}

/// What a category adds to the workflow that serves it.
#[derive(Clone, Copy, Debug, Default)]
pub struct CategoryRules {
    /// Volunteer points weight.
    pub points: u32,
    /// Automatic dispatch attempts (0: the secretary dispatches).
    pub auto_dispatch: u32,
    /// A follow-up call (回访) after the request is closed.
    pub follow_up: bool,
}

/// A rate over a workflow's tickets (the 三率 and the like: 响应率, 解决率, 满意率, 及时率,
/// 回访率): of the tickets asked for in a period that meet `of` (all of them when it is
/// `None`), the share that also meet `count`. No national formula fixes them; each
/// deployment's workflow file says what counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateDef {
    pub name: String,
    pub label: Label,
    pub of: Option<Condition>,
    pub count: Condition,
}

/// A ticket meets a condition when one of its events does: an event of one of `events`
/// (an action, or an event such as `clock_stopped`), of the clock `clock` if named (only
/// `clock_stopped` names one), stopped within its target if `on_time`, rated at least
/// `rating_at_least` if given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Condition {
    pub events: Vec<String>,
    pub clock: Option<String>,
    pub on_time: bool,
    pub rating_at_least: Option<u8>,
}

/// A validated workflow definition, one version of it.
#[derive(Debug)]
pub struct Workflow {
    pub id: String,
    pub version: u32,
    pub name: Label,
    pub initial: StateId,
    pub states: Vec<StateDef>,
    pub transitions: Vec<TransitionDef>,
    pub clocks: Vec<ClockDef>,
    pub timers: Vec<StateTimerDef>,
    /// Event name (an action, `sla_warning`, `sla_breach`, `escalation`) → who is told.
    pub notify: HashMap<String, Vec<Party>>,
    /// Per category, per clock index: overriding targets.
    pub category_targets: HashMap<String, Vec<Option<Targets>>>,
    /// Per category: points weight and automatic dispatch.
    pub category_rules: HashMap<String, CategoryRules>,
    pub auto_dispatch: Option<AutoDispatchDef>,
    pub credit: Option<CreditRule>,
    pub objections: Option<ObjectionRule>,
    pub extensions: Option<ExtensionRule>,
    pub follow_up: Option<FollowUpRule>,
    pub merging: Option<MergingRule>,
    pub co_handling: Option<CoHandlingRule>,
    /// Rates over its tickets, by name.
    pub rates: Vec<RateDef>,
    /// Where it was loaded from, and its text, for registration and messages.
    pub source_name: String,
    pub source: String,
    /// SHA-256 of the source text, hex.
    pub content_hash: String,
    state_ix: HashMap<String, StateId>,
    /// action → per state → transition index.
    moves: HashMap<String, Vec<Option<u16>>>,
}

impl Workflow {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        id: String,
        version: u32,
        name: Label,
        initial: StateId,
        states: Vec<StateDef>,
        transitions: Vec<TransitionDef>,
        clocks: Vec<ClockDef>,
        timers: Vec<StateTimerDef>,
        notify: HashMap<String, Vec<Party>>,
        source_name: String,
        source: String,
    ) -> Workflow {
        let state_ix = states
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), StateId(i as u16)))
            .collect();
        let mut moves: HashMap<String, Vec<Option<u16>>> = HashMap::new();
        for (i, t) in transitions.iter().enumerate() {
            let row = moves
                .entry(t.action.clone())
                .or_insert_with(|| vec![None; states.len()]);
            for f in &t.from {
                row[f.index()] = Some(i as u16);
            }
        }
        let content_hash = crate::hash::sha256_hex(source.as_bytes());
        Workflow {
            id,
            version,
            name,
            initial,
            states,
            transitions,
            clocks,
            timers,
            notify,
            category_targets: HashMap::new(),
            category_rules: HashMap::new(),
            auto_dispatch: None,
            credit: None,
            objections: None,
            extensions: None,
            follow_up: None,
            merging: None,
            co_handling: None,
            rates: Vec::new(),
            source_name,
            source,
            content_hash,
            state_ix,
            moves,
        }
    }

    pub fn state_id(&self, name: &str) -> Option<StateId> {
        self.state_ix.get(name).copied()
    }

    pub fn state(&self, id: StateId) -> &StateDef {
        &self.states[id.index()]
    }

    /// Whether any transition bears this action name.
    pub fn has_action(&self, action: &str) -> bool {
        self.moves.contains_key(action)
    }

    /// The transition for `action` out of `state`, if the workflow has one.
    pub fn transition(&self, state: StateId, action: &str) -> Option<&TransitionDef> {
        let ix = (*self.moves.get(action)?.get(state.index())?)?;
        Some(&self.transitions[usize::from(ix)])
    }

    /// Transitions leaving `state`.
    pub fn transitions_from(&self, state: StateId) -> impl Iterator<Item = &TransitionDef> {
        self.transitions
            .iter()
            .filter(move |t| t.from.contains(&state))
    }

    /// The target of clock `clock` for `ticket`: by its hotline request type if the clock
    /// names one, else its category's (or the clock's) for its urgency.
    pub fn target(&self, ticket: &Ticket, clock: usize) -> Span {
        let def = &self.clocks[clock];
        let by_type = ticket.hotline.as_ref().and_then(|h| {
            def.by_type
                .iter()
                .find(|(t, _)| *t == h.request_type)
                .map(|(_, span)| *span)
        });
        by_type.unwrap_or_else(|| {
            self.category_targets
                .get(&ticket.category)
                .and_then(|per_clock| per_clock[clock])
                .unwrap_or(def.targets)
                .for_urgency(ticket.urgency)
        })
    }

    pub fn category_rules(&self, category: &str) -> CategoryRules {
        self.category_rules
            .get(category)
            .copied()
            .unwrap_or_default()
    }

    pub fn key(&self) -> WorkflowKey {
        WorkflowKey {
            id: self.id.clone(),
            version: self.version,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkflowKey {
    pub id: String,
    pub version: u32,
}

impl std::fmt::Display for WorkflowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// A request category (助老, 维修, …) and the workflow that serves it.
#[derive(Clone, Debug)]
pub struct Category {
    pub code: String,
    pub label: Label,
    pub workflow: String,
    pub skills: Vec<String>,
    pub icon: String,
    /// Weight of a completed request of this category in volunteer points.
    pub points: u32,
    pub sla: BTreeMap<String, Targets>,
    /// Automatic dispatch attempts before the secretary takes over (0: off).
    pub auto_dispatch: u32,
    /// Closed requests of this category get a follow-up call (回访).
    pub follow_up: bool,
    /// Personal in itself (health, legal advice): never on the public board, the wall or
    /// Open311's anonymous reads; its description and the requester's contact are read
    /// only by the volunteer holding it and branch staff, each such read recorded.
    pub sensitive: bool,
}

/// Everything loaded from a workflows directory.
#[derive(Debug, Default)]
pub struct Catalog {
    pub workflows: BTreeMap<WorkflowKey, Arc<Workflow>>,
    pub categories: BTreeMap<String, Category>,
    pub calendars: BTreeMap<String, Arc<Calendar>>,
}

impl Catalog {
    /// The deployment's civil time zone, in which dates are read and written (a report's
    /// `from=2026-11-01`, a volunteer's `away_until`, the board's months): its first
    /// calendar's (the office calendar's), else [`crate::calendar::DEFAULT_ZONE`].
    pub fn time_zone(&self) -> jiff::tz::TimeZone {
        match self.calendars.values().next() {
            Some(c) => c.time_zone.clone(),
            None => crate::calendar::default_zone(),
        }
    }

    /// The shared vocabulary of skills: those the categories ask for.
    pub fn skills(&self) -> std::collections::BTreeSet<String> {
        self.categories
            .values()
            .flat_map(|c| c.skills.iter().cloned())
            .collect()
    }

    /// A skill in words: the label of the category that asks for it (the vocabulary of skills
    /// is the categories'), else the skill as written.
    pub fn skill_label(&self, skill: &str) -> Option<&Label> {
        self.categories
            .values()
            .find(|c| c.skills.iter().any(|s| s == skill))
            .map(|c| &c.label)
    }

    pub fn workflow(&self, id: &str, version: u32) -> Option<&Arc<Workflow>> {
        self.workflows.get(&WorkflowKey {
            id: id.to_owned(),
            version,
        })
    }

    /// The newest version of a workflow: what new tickets start on.
    pub fn latest(&self, id: &str) -> Option<&Arc<Workflow>> {
        self.workflows
            .range(
                WorkflowKey {
                    id: id.to_owned(),
                    version: 0,
                }..=WorkflowKey {
                    id: id.to_owned(),
                    version: u32::MAX,
                },
            )
            .next_back()
            .map(|(_, w)| w)
    }

    pub fn category(&self, code: &str) -> Option<&Category> {
        self.categories.get(code)
    }
}
