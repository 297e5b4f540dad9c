//! A workflow's rates (`[rates.NAME]`): each condition names events the workflow has, or a
//! clock it runs.

use super::super::model::*;
use super::super::raw::*;
use super::{Cx, SYSTEM_EVENTS, is_action, label};

/// Events a rate may count besides the workflow's actions and [`SYSTEM_EVENTS`].
const COUNTABLE: [&str; 2] = ["clock_stopped", "sla_breach"];

pub(super) fn rates(cx: &mut Cx, f: &RawFile, clocks: &[ClockDef]) -> Vec<RateDef> {
    let mut out = Vec::new();
    for (name, raw) in &f.rates {
        let what = format!("rate {:?}", name.get_ref());
        // `None`: a condition with errors; `Some(None)`: no `of`, every ticket counts.
        let of = match &raw.of {
            None => Some(None),
            Some(c) => condition(cx, f, clocks, c, &what).map(Some),
        };
        let count = condition(cx, f, clocks, &raw.count, &what);
        if let (Some(of), Some(count)) = (of, count) {
            out.push(RateDef {
                name: name.get_ref().clone(),
                label: label(raw.label.as_ref(), name.get_ref()),
                of,
                count,
            });
        }
    }
    out
}

fn condition(
    cx: &mut Cx,
    f: &RawFile,
    clocks: &[ClockDef],
    raw: &toml::Spanned<RawCondition>,
    what: &str,
) -> Option<Condition> {
    let before = cx.count();
    let c = raw.get_ref();
    let mut events: Vec<String> = c
        .event
        .as_ref()
        .map(|e| e.get_ref().0.clone())
        .unwrap_or_default();
    for e in &events {
        let known = SYSTEM_EVENTS.contains(&e.as_str())
            || COUNTABLE.contains(&e.as_str())
            || is_action(&f.transitions, e);
        if !known {
            let span = c.event.as_ref().map_or(raw.span(), |e| e.span());
            cx.err(span, format!("{what} names unknown event {e:?}: not an action of this workflow nor one of its events"));
        }
    }
    if let Some(clock) = &c.clock {
        if !events.is_empty() {
            cx.err(
                clock.span(),
                format!("{what}: a condition names an event or a clock, not both"),
            );
        }
        if !clocks.iter().any(|k| &k.name == clock.get_ref()) {
            cx.err(
                clock.span(),
                format!("{what} names unknown SLA clock {:?}", clock.get_ref()),
            );
        }
        events = vec!["clock_stopped".into()];
    } else if c.on_time.is_some() {
        cx.err(
            raw.span(),
            format!("{what}: on_time is said of a clock: name it in `clock`"),
        );
    }
    if events.is_empty() {
        cx.err(
            raw.span(),
            format!("{what}: a condition names an event (`event`) or a clock (`clock`)"),
        );
    }
    if let Some(r) = &c.rating_at_least
        && !(1..=5).contains(r.get_ref())
    {
        cx.err(r.span(), format!("{what}: rating_at_least is 1 to 5 stars"));
    }
    (cx.count() == before).then(|| Condition {
        events,
        clock: c.clock.as_ref().map(|k| k.get_ref().clone()),
        on_time: c.on_time.unwrap_or(false),
        rating_at_least: c.rating_at_least.as_ref().map(|r| *r.get_ref()),
    })
}
