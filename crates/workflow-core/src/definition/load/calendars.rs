//! Business calendars as the files declare them: time zone, working hours by weekday,
//! holidays and make-up working days (调休).

use std::collections::HashSet;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::super::raw::*;
use super::Cx;
use crate::calendar::{Calendar, Interval};

pub(super) fn calendar(cx: &mut Cx, name: &Name, raw: &RawCalendar) -> Option<Calendar> {
    let before = cx.count();
    let tz_name = raw
        .time_zone
        .as_ref()
        .map_or(crate::calendar::DEFAULT_ZONE, |t| t.get_ref());
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
