//! Business calendars: working hours per weekday in a time zone, public holidays and make-up
//! working days (调休). SLA clocks measure working time through a calendar; a clock without
//! a calendar runs around the clock.
//!
//! Working intervals are civil times (`08:30–12:00`) turned into instants day by day in the
//! calendar's time zone, so a calendar stays right across DST changes in zones that have them.

use std::collections::HashSet;
use std::sync::OnceLock;

use jiff::civil::{Date, DateTime, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// The zone of a calendar that names none, and of a deployment without calendars: the
/// communities Linli serves keep China Standard Time.
pub const DEFAULT_ZONE: &str = "Asia/Shanghai";

/// [`DEFAULT_ZONE`] as a zone (the bundled database always has it).
pub fn default_zone() -> TimeZone {
    TimeZone::get(DEFAULT_ZONE).unwrap_or(TimeZone::UTC)
}

/// Seconds since local midnight; `86_400` stands for the 24:00 that closes a day.
pub type DaySecond = u32;

/// One working interval of a day, `[start, end)` in seconds since local midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub start: DaySecond,
    pub end: DaySecond,
}

impl Interval {
    /// Parses `"08:30-12:00"`; the end may be `24:00`.
    pub fn parse(s: &str) -> Result<Interval, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("working hours {s:?} should look like \"08:30-12:00\""))?;
        let start = parse_hhmm(a.trim())?;
        let end = parse_hhmm(b.trim())?;
        if start >= end {
            return Err(format!("working hours {s:?} end before they start"));
        }
        Ok(Interval { start, end })
    }

    fn secs(self) -> i64 {
        i64::from(self.end - self.start)
    }
}

fn parse_hhmm(s: &str) -> Result<DaySecond, String> {
    let bad = || format!("time {s:?} should be HH:MM between 00:00 and 24:00");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// A validated business calendar.
#[derive(Debug)]
pub struct Calendar {
    pub name: String,
    pub time_zone: TimeZone,
    /// Working intervals per weekday, Monday first; sorted and disjoint.
    week: [Vec<Interval>; 7],
    /// The hours of a make-up working day (调休), usually a normal weekday's.
    makeup_hours: Vec<Interval>,
    holidays: HashSet<Date>,
    makeup_days: HashSet<Date>,
    working_day_secs: i64,
    /// Built on first use: every working interval of [`TABLE_YEARS`] as instants with running
    /// totals, so arithmetic inside those years is two binary searches.
    table: OnceLock<Table>,
}

/// The years the interval table covers; outside them arithmetic walks day by day.
pub const TABLE_YEARS: (i16, i16) = (2020, 2050);

/// Working intervals as whole-second instants, sorted, with the working seconds before each.
#[derive(Debug, Default)]
struct Table {
    /// The instants the table is exact for: `[lo, hi)`.
    lo: i64,
    hi: i64,
    starts: Vec<i64>,
    ends: Vec<i64>,
    /// `before[i]`: working seconds from `lo` to `starts[i]`; `before[n]`: the total.
    before: Vec<i64>,
}

impl Table {
    /// Working seconds from `lo` to `t`, if `t` is inside the table.
    fn total_at(&self, t: i64) -> Option<i64> {
        if t < self.lo || t >= self.hi {
            return None;
        }
        let i = self.starts.partition_point(|&s| s <= t);
        if i == 0 {
            return Some(0);
        }
        let j = i - 1;
        Some(self.before[j] + (t.min(self.ends[j]) - self.starts[j]))
    }

    /// The instant at which the running total reaches `total`, if inside the table.
    fn instant_at(&self, total: i64) -> Option<i64> {
        // The first interval whose end total reaches `total`.
        let k = self.before[1..].partition_point(|&end| end < total);
        (k < self.starts.len()).then(|| self.starts[k] + (total - self.before[k]))
    }
}

/// Past this many days without finding working time, arithmetic gives up and saturates.
/// Validation guarantees a non-empty week, so only absurd holiday lists could reach it.
const MAX_DAYS_SCANNED: usize = 200_000;

impl Calendar {
    /// Builds a calendar; `week` is Monday first. Fails if no weekday has working hours or
    /// intervals overlap.
    pub fn new(
        name: impl Into<String>,
        time_zone: TimeZone,
        mut week: [Vec<Interval>; 7],
        makeup_hours: Option<Vec<Interval>>,
        holidays: HashSet<Date>,
        makeup_days: HashSet<Date>,
    ) -> Result<Calendar, String> {
        for day in week.iter_mut() {
            sort_disjoint(day)?;
        }
        let working_day_secs = week
            .iter()
            .map(|d| d.iter().map(|i| i.secs()).sum::<i64>())
            .max()
            .unwrap_or(0);
        if working_day_secs == 0 {
            return Err("the calendar's week has no working hours".into());
        }
        let makeup_hours = match makeup_hours {
            Some(mut h) => {
                sort_disjoint(&mut h)?;
                h
            }
            None => week
                .iter()
                .find(|d| !d.is_empty())
                .cloned()
                .unwrap_or_default(),
        };
        Ok(Calendar {
            name: name.into(),
            time_zone,
            week,
            makeup_hours,
            holidays,
            makeup_days,
            working_day_secs,
            table: OnceLock::new(),
        })
    }

    fn table(&self) -> &Table {
        self.table.get_or_init(|| {
            let first = Date::new(TABLE_YEARS.0, 1, 1).expect("a valid date");
            let last = Date::new(TABLE_YEARS.1, 12, 31).expect("a valid date");
            let mut t = Table {
                lo: self.instant(first, 0).as_second(),
                hi: self.instant(last, 86_400).as_second(),
                ..Table::default()
            };
            t.before.push(0);
            let days = std::iter::successors(Some(first), |d| d.tomorrow().ok())
                .take_while(|d| *d <= last);
            let mut midnight = t.lo;
            for date in days {
                let next = self.instant(date, 86_400).as_second();
                // One zone lookup a day: on a day without an offset change, instants are
                // midnight plus the civil seconds.
                let plain = next - midnight == 86_400;
                let at = |second: DaySecond| match plain {
                    true => midnight + i64::from(second),
                    false => self.instant(date, second).as_second(),
                };
                for i in self.intervals_on(date) {
                    let (s, e) = (at(i.start), at(i.end));
                    t.starts.push(s);
                    t.ends.push(e);
                    t.before
                        .push(t.before.last().copied().unwrap_or(0) + (e - s));
                }
                midnight = next;
            }
            t
        })
    }

    /// The length of the longest working day: what one `wd` stands for.
    pub fn working_day_secs(&self) -> i64 {
        self.working_day_secs
    }

    /// Working intervals on a local date: none on a holiday, the make-up hours on a make-up day.
    pub fn intervals_on(&self, date: Date) -> &[Interval] {
        if self.makeup_days.contains(&date) {
            &self.makeup_hours
        } else if self.holidays.contains(&date) {
            &[]
        } else {
            &self.week[weekday_index(date.weekday())]
        }
    }

    fn instant(&self, date: Date, second: DaySecond) -> Timestamp {
        let dt = DateTime::from(date)
            .checked_add(SignedDuration::from_secs(i64::from(second)))
            .unwrap_or(DateTime::MAX);
        self.time_zone
            .to_ambiguous_timestamp(dt)
            .compatible()
            .unwrap_or(Timestamp::MAX)
    }

    fn local_date(&self, t: Timestamp) -> Date {
        t.to_zoned(self.time_zone.clone()).date()
    }

    /// Working intervals as instants, from the local day of `from` onwards.
    fn working_intervals(
        &self,
        from: Timestamp,
    ) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        let first = self.local_date(from);
        std::iter::successors(Some(first), |d| d.tomorrow().ok())
            .take(MAX_DAYS_SCANNED)
            .flat_map(move |date| {
                self.intervals_on(date)
                    .iter()
                    .map(move |i| (self.instant(date, i.start), self.instant(date, i.end)))
            })
    }

    /// The instant `secs` of working time after `t`. `add(t, 0) == t`; otherwise the result
    /// lies in working time or at the end of a working interval.
    pub fn add(&self, t: Timestamp, secs: i64) -> Timestamp {
        if secs <= 0 {
            return t;
        }
        if t.subsec_nanosecond() == 0 {
            let table = self.table();
            let found = table
                .total_at(t.as_second())
                .and_then(|total| table.instant_at(total + secs))
                .and_then(|s| Timestamp::from_second(s).ok());
            if let Some(due) = found {
                return due;
            }
        }
        self.add_by_walking(t, secs)
    }

    fn add_by_walking(&self, t: Timestamp, secs: i64) -> Timestamp {
        let mut remaining = secs;
        for (start, end) in self.working_intervals(t) {
            if end <= t {
                continue;
            }
            let start = start.max(t);
            let available = end.as_second() - start.as_second();
            if available >= remaining {
                return start
                    .checked_add(SignedDuration::from_secs(remaining))
                    .unwrap_or(Timestamp::MAX);
            }
            remaining -= available;
        }
        Timestamp::MAX
    }

    /// Seconds of working time in `[a, b)`.
    pub fn working_between(&self, a: Timestamp, b: Timestamp) -> i64 {
        if b <= a {
            return 0;
        }
        let table = self.table();
        if let (Some(x), Some(y)) = (table.total_at(a.as_second()), table.total_at(b.as_second())) {
            return y - x;
        }
        self.working_between_by_walking(a, b)
    }

    fn working_between_by_walking(&self, a: Timestamp, b: Timestamp) -> i64 {
        let mut total = 0;
        for (start, end) in self.working_intervals(a) {
            if start >= b {
                break;
            }
            let (s, e) = (start.max(a), end.min(b));
            if e > s {
                total += e.as_second() - s.as_second();
            }
        }
        total
    }

    /// Whether `t` is inside a working interval or exactly at the end of one.
    pub fn is_working_or_closing(&self, t: Timestamp) -> bool {
        let date = self.local_date(t);
        let yesterday = date.yesterday().unwrap_or(date);
        [yesterday, date].into_iter().any(|d| {
            self.intervals_on(d).iter().any(|i| {
                let (s, e) = (self.instant(d, i.start), self.instant(d, i.end));
                s < t && t <= e || s == t
            })
        })
    }
}

fn sort_disjoint(day: &mut [Interval]) -> Result<(), String> {
    day.sort_by_key(|i| i.start);
    for pair in day.windows(2) {
        if pair[1].start < pair[0].end {
            return Err("working hours of one day overlap".into());
        }
    }
    Ok(())
}

fn weekday_index(w: Weekday) -> usize {
    usize::from(w.to_monday_zero_offset().unsigned_abs())
}

/// Time arithmetic for a clock that may or may not have a calendar (none = 24×7).
pub fn add_working(calendar: Option<&Calendar>, t: Timestamp, secs: i64) -> Timestamp {
    match calendar {
        Some(c) => c.add(t, secs),
        None => t
            .checked_add(SignedDuration::from_secs(secs.max(0)))
            .unwrap_or(Timestamp::MAX),
    }
}

/// Working seconds in `[a, b)` for a clock that may or may not have a calendar.
pub fn working_between(calendar: Option<&Calendar>, a: Timestamp, b: Timestamp) -> i64 {
    match calendar {
        Some(c) => c.working_between(a, b),
        None => (b.as_second() - a.as_second()).max(0),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    /// The office calendar of the shipped workflows, in miniature: weekdays 08:30–12:00 and
    /// 14:00–17:30 in Shanghai, the 2026 Spring Festival break and its make-up Saturday.
    pub(crate) fn office() -> &'static Calendar {
        static OFFICE: std::sync::LazyLock<Calendar> = std::sync::LazyLock::new(build_office);
        &OFFICE
    }

    fn build_office() -> Calendar {
        let day = || {
            vec![
                Interval::parse("08:30-12:00").unwrap(),
                Interval::parse("14:00-17:30").unwrap(),
            ]
        };
        let holidays = (15..=23).map(|d| date(2026, 2, d)).collect();
        let makeup = [date(2026, 2, 14), date(2026, 2, 28)].into_iter().collect();
        Calendar::new(
            "office",
            TimeZone::get("Asia/Shanghai").unwrap(),
            [day(), day(), day(), day(), day(), vec![], vec![]],
            None,
            holidays,
            makeup,
        )
        .unwrap()
    }

    fn at(s: &str) -> Timestamp {
        s.parse::<jiff::Zoned>()
            .map(|z| z.timestamp())
            .unwrap_or_else(|_| panic!("bad test instant {s}"))
    }

    #[test]
    fn two_working_hours_from_friday_afternoon_end_monday_morning() {
        let cal = office();
        // Friday 2026-03-06 16:30 → one hour left on Friday, one more from Monday 08:30.
        let due = cal.add(at("2026-03-06T16:30+08[Asia/Shanghai]"), 7200);
        assert_eq!(due, at("2026-03-09T09:30+08[Asia/Shanghai]"));
    }

    #[test]
    fn the_lunch_break_does_not_count() {
        let cal = office();
        let due = cal.add(at("2026-03-09T11:00+08[Asia/Shanghai]"), 7200);
        assert_eq!(due, at("2026-03-09T15:00+08[Asia/Shanghai]"));
    }

    #[test]
    fn holidays_are_skipped_and_make_up_saturdays_work() {
        let cal = office();
        // Friday 13 Feb 17:00: half an hour left, then Saturday 14th is a make-up working day.
        let due = cal.add(at("2026-02-13T17:00+08[Asia/Shanghai]"), 3600);
        assert_eq!(due, at("2026-02-14T09:00+08[Asia/Shanghai]"));
        // Saturday 14th 17:00: the holiday runs 15th–23rd, so work resumes on Tuesday 24th.
        let due = cal.add(at("2026-02-14T17:00+08[Asia/Shanghai]"), 3600);
        assert_eq!(due, at("2026-02-24T09:00+08[Asia/Shanghai]"));
    }

    #[test]
    fn working_time_between_spans_nights_and_weekends() {
        let cal = office();
        let a = at("2026-03-06T16:30+08[Asia/Shanghai]");
        let b = at("2026-03-09T09:30+08[Asia/Shanghai]");
        assert_eq!(cal.working_between(a, b), 7200);
        assert_eq!(cal.working_between(b, a), 0);
    }

    #[test]
    fn a_week_without_hours_is_refused() {
        let tz = TimeZone::get("Asia/Shanghai").unwrap();
        let empty: [Vec<Interval>; 7] = Default::default();
        let err = Calendar::new("x", tz, empty, None, HashSet::new(), HashSet::new()).unwrap_err();
        assert!(err.contains("no working hours"), "{err}");
    }

    #[test]
    fn intervals_parse_and_reject_nonsense() {
        assert_eq!(
            Interval::parse("08:30-24:00"),
            Ok(Interval {
                start: 30600,
                end: 86400
            })
        );
        for bad in [
            "0830-1200",
            "12:00-08:00",
            "25:00-26:00",
            "08:61-09:00",
            "x",
        ] {
            assert!(Interval::parse(bad).is_err(), "{bad}");
        }
    }

    fn instant_2026() -> impl Strategy<Value = Timestamp> {
        // Any second in 2026, which holds the holidays and make-up days above.
        (1_767_196_800i64..1_798_732_800).prop_map(|s| Timestamp::from_second(s).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn adding_is_monotonic(t in instant_2026(), x in 0i64..2_000_000, y in 0i64..2_000_000) {
            let cal = office();
            let (lo, hi) = (x.min(y), x.max(y));
            prop_assert!(cal.add(t, lo) <= cal.add(t, hi));
        }

        #[test]
        fn adding_is_additive(t in instant_2026(), x in 0i64..500_000, y in 0i64..500_000) {
            let cal = office();
            prop_assert_eq!(cal.add(cal.add(t, x), y), cal.add(t, x + y));
        }

        #[test]
        fn adding_lands_in_working_time(t in instant_2026(), x in 1i64..2_000_000) {
            let cal = office();
            let due = cal.add(t, x);
            prop_assert!(cal.is_working_or_closing(due), "{} + {}s = {}", t, x, due);
        }

        #[test]
        fn the_table_agrees_with_walking_day_by_day(t in instant_2026(), x in 1i64..2_000_000, y in instant_2026()) {
            let cal = office();
            prop_assert_eq!(cal.add(t, x), cal.add_by_walking(t, x));
            let (a, b) = (t.min(y), t.max(y));
            prop_assert_eq!(cal.working_between(a, b), cal.working_between_by_walking(a, b));
        }

        #[test]
        fn working_between_inverts_add(t in instant_2026(), x in 0i64..2_000_000) {
            let cal = office();
            prop_assert_eq!(cal.working_between(t, cal.add(t, x)), x);
        }
    }
}
