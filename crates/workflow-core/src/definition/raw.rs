//! The TOML shape of workflow files, as written, with spans kept for error messages.
//! Nothing here is trusted; [`super::load`] turns it into the validated model.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use toml::Spanned;

pub(crate) type Name = Spanned<String>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    pub id: Option<Name>,
    pub version: Option<Spanned<u32>>,
    pub name: Option<RawLabel>,
    pub initial: Option<Name>,
    #[serde(default)]
    pub states: BTreeMap<Name, RawState>,
    #[serde(default)]
    pub transitions: Vec<Spanned<RawTransition>>,
    #[serde(default)]
    pub sla: BTreeMap<Name, RawClock>,
    #[serde(default)]
    pub escalations: BTreeMap<Name, RawLadder>,
    #[serde(default)]
    pub timers: Vec<Spanned<RawTimer>>,
    #[serde(default)]
    pub notify: Vec<Spanned<RawNotify>>,
    #[serde(default)]
    pub calendars: BTreeMap<Name, RawCalendar>,
    #[serde(default)]
    pub categories: BTreeMap<Name, RawCategory>,
    pub auto_dispatch: Option<Spanned<RawAutoDispatch>>,
    pub credit: Option<Spanned<RawCredit>>,
    pub objections: Option<Spanned<RawObjections>>,
    pub extensions: Option<Spanned<RawExtensions>>,
    pub follow_up: Option<Spanned<RawFollowUp>>,
    pub merging: Option<Spanned<RawMerging>>,
    pub co_handling: Option<Spanned<RawCoHandling>>,
    /// Rates (三率) over the workflow's tickets: [`crate::definition::RateDef`].
    #[serde(default)]
    pub rates: BTreeMap<Name, RawRate>,
}

/// `[rates.NAME]`: a rate's label, which tickets it counts over (`of`) and which of those it
/// counts (`count`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRate {
    pub label: Option<RawLabel>,
    pub of: Option<Spanned<RawCondition>>,
    pub count: Spanned<RawCondition>,
}

/// An event a ticket must have: one of these actions or events, or a stop of this clock
/// (on time or not), with at least this rating.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCondition {
    pub event: Option<Spanned<OneOrMany>>,
    pub clock: Option<Name>,
    pub on_time: Option<bool>,
    pub rating_at_least: Option<Spanned<u8>>,
}

/// `[merging]` (并单): see [`crate::definition::MergingRule`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMerging {
    #[serde(rename = "in")]
    pub state: Name,
    pub merge: Name,
    pub unmerge: Name,
    #[serde(default)]
    pub done: BTreeMap<Name, Name>,
    #[serde(default)]
    pub released: BTreeMap<Name, Name>,
    pub window: Name,
}

/// `[co_handling]` (主办/协办): see [`crate::definition::CoHandlingRule`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoHandling {
    pub add: Name,
    pub report: Name,
    pub within: Name,
    pub calendar: Option<Name>,
    pub closes: Spanned<OneOrMany>,
}

/// `[extensions]`: the actions that ask for more time on a clock, approve and refuse it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExtensions {
    pub clock: Name,
    pub request: Name,
    pub approve: Name,
    pub refuse: Name,
    pub max: Name,
}

/// `[follow_up]`: entering `in`, a follow-up task falls due `after`; `action` records it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFollowUp {
    #[serde(rename = "in")]
    pub state: Name,
    pub after: Name,
    pub calendar: Option<Name>,
    pub action: Name,
}

/// `[objections]`: actions by which a holder returns a dispatch ("not ours", 退单异议), and
/// after how many returns the request goes up a level (no ping-pong).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawObjections {
    pub on: Spanned<OneOrMany>,
    pub escalate_after: Spanned<u32>,
    pub to: Name,
}

/// `[auto_dispatch]`: in this state, the system dispatches to the best-ranked volunteer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAutoDispatch {
    #[serde(rename = "in")]
    pub state: Name,
    pub action: Name,
}

/// `[credit]`: which actions credit the holder with volunteer hours and points.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCredit {
    pub on: Spanned<OneOrMany>,
    /// Points added to the category's weight for a rating of 1…5 stars.
    pub rating_bonus: Option<Spanned<Vec<i32>>>,
    /// The most service time credited to one person in a civil day (`"8h"`).
    pub daily_time: Option<Name>,
    /// The most points credited to one person in a civil day.
    pub daily_points: Option<Spanned<u16>>,
    /// Work reported done sooner than this after it was taken is questioned (`"5m"`).
    pub question_under: Option<Name>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLabel {
    #[serde(rename = "zh-CN")]
    pub zh_cn: String,
    pub en: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawState {
    pub label: Option<RawLabel>,
    #[serde(default)]
    pub terminal: bool,
    #[serde(default)]
    pub wall: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTransition {
    pub action: Name,
    pub label: Option<RawLabel>,
    pub from: Spanned<OneOrMany>,
    /// Absent: the action keeps the ticket in the state it was in (a note, an escalation).
    pub to: Option<Name>,
    pub roles: Option<Spanned<Vec<Name>>>,
    #[serde(default)]
    pub requires: Vec<Name>,
    #[serde(default)]
    pub optional: Vec<Name>,
    pub assign: Option<Name>,
    /// Staff only: the resident never sees what this action recorded, nor hears of it.
    pub internal: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawClock {
    pub label: Option<RawLabel>,
    pub start: Option<Spanned<Vec<Name>>>,
    #[serde(default)]
    pub stop: Vec<Name>,
    #[serde(default)]
    pub pause: Vec<Name>,
    pub target: Spanned<RawTargets>,
    /// Targets by a hotline order's request type (`by_type = { consult = "1wd" }`), before
    /// the category's and the urgency's.
    #[serde(default)]
    pub by_type: BTreeMap<Name, Name>,
    pub warn_before: Option<Name>,
    /// Shares of the target at which to warn: `["50%", "75%"]`.
    #[serde(default)]
    pub warn: Vec<Name>,
    pub chase_before: Option<Name>,
    pub calendar: Option<Name>,
    pub escalation: Option<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTargets {
    pub normal: Name,
    pub urgent: Option<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLadder {
    pub levels: Spanned<Vec<Spanned<RawLevel>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLevel {
    pub to: Name,
    pub after: Name,
    #[serde(default, rename = "do")]
    pub effects: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimer {
    #[serde(rename = "in")]
    pub state: Name,
    pub after: Name,
    pub action: Name,
    pub calendar: Option<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNotify {
    pub on: Spanned<OneOrMany>,
    pub to: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCalendar {
    pub time_zone: Option<Name>,
    pub week: Spanned<RawWeek>,
    #[serde(default)]
    pub holidays: Vec<Name>,
    #[serde(default)]
    pub makeup_days: Vec<Name>,
    pub makeup_hours: Option<Vec<Name>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawWeek {
    #[serde(default)]
    pub mon: Vec<Name>,
    #[serde(default)]
    pub tue: Vec<Name>,
    #[serde(default)]
    pub wed: Vec<Name>,
    #[serde(default)]
    pub thu: Vec<Name>,
    #[serde(default)]
    pub fri: Vec<Name>,
    #[serde(default)]
    pub sat: Vec<Name>,
    #[serde(default)]
    pub sun: Vec<Name>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCategory {
    pub label: RawLabel,
    pub workflow: Name,
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub icon: String,
    #[serde(default = "one")]
    pub points: u32,
    #[serde(default)]
    pub sla: BTreeMap<Name, Spanned<RawTargets>>,
    /// How many volunteers the system tries in turn before handing back to the secretary.
    pub auto_dispatch: Option<Spanned<u32>>,
    /// A follow-up call (回访) after closing, by the workflow's `[follow_up]`.
    pub follow_up: Option<Spanned<bool>>,
    /// Personal in itself (health, legal): never public, read only by who handles it.
    #[serde(default)]
    pub sensitive: bool,
}

fn one() -> u32 {
    1
}

/// `from = "a"` or `from = ["a", "b"]`.
#[derive(Default)]
pub(crate) struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a state name or a list of state names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(OneOrMany(out))
            }
        }
        d.deserialize_any(V)
    }
}
