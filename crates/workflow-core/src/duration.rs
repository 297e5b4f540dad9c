//! Durations as workflow files write them: `"30m"`, `"2h"`, `"3d"`, `"1h30m"`, `"3wd"`.
//!
//! A [`Span`] only exists valid. Plain units (`s`, `m`, `h`, `d`) are a number of seconds; `wd`
//! (working days) is kept apart because its length depends on the calendar it is measured in.

use std::fmt;

/// A parsed, positive-or-zero duration from a workflow file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Span {
    /// Seconds of (working, when a calendar applies) time.
    Seconds(i64),
    /// Whole working days by the calendar; without a calendar a working day is 24 hours.
    WorkingDays(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "bad duration {input:?}: {reason} (expected e.g. \"30m\", \"2h\", \"3d\", \"1h30m\", \"3wd\")"
)]
pub struct DurationError {
    pub input: String,
    pub reason: &'static str,
}

impl Span {
    pub const ZERO: Span = Span::Seconds(0);

    pub fn parse(input: &str) -> Result<Span, DurationError> {
        let err = |reason| DurationError {
            input: input.to_owned(),
            reason,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(err("it is empty"));
        }
        if let Some(days) = s.strip_suffix("wd") {
            let n: u32 = days
                .parse()
                .map_err(|_| err("working days take a whole number, alone: \"3wd\""))?;
            return Ok(Span::WorkingDays(n));
        }
        let mut total: i64 = 0;
        let mut number: Option<i64> = None;
        let mut last_unit_rank = usize::MAX;
        for c in s.chars() {
            if let Some(d) = c.to_digit(10) {
                let n = number.unwrap_or(0);
                number = Some(
                    n.checked_mul(10)
                        .and_then(|n| n.checked_add(i64::from(d)))
                        .ok_or_else(|| err("it is too large"))?,
                );
                continue;
            }
            let (rank, unit) = match c {
                'd' => (0, 86_400),
                'h' => (1, 3_600),
                'm' => (2, 60),
                's' => (3, 1),
                _ => return Err(err("unknown unit (use d, h, m, s or wd)")),
            };
            let n = number
                .take()
                .ok_or_else(|| err("a unit without a number"))?;
            if last_unit_rank != usize::MAX && rank <= last_unit_rank {
                return Err(err("units must go from larger to smaller, each once"));
            }
            last_unit_rank = rank;
            total = n
                .checked_mul(unit)
                .and_then(|v| total.checked_add(v))
                .ok_or_else(|| err("it is too large"))?;
        }
        if number.is_some() {
            return Err(err("a number without a unit"));
        }
        // Ten years is far past any service deadline; it also keeps calendar walks bounded.
        if total > 10 * 366 * 86_400 {
            return Err(err("it is longer than ten years"));
        }
        Ok(Span::Seconds(total))
    }

    /// Seconds of working time this span stands for, given the length of a working day.
    pub fn seconds(self, working_day_secs: i64) -> i64 {
        match self {
            Span::Seconds(s) => s,
            Span::WorkingDays(n) => i64::from(n) * working_day_secs,
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Span::WorkingDays(n) => write!(f, "{n}wd"),
            Span::Seconds(0) => f.write_str("0m"),
            Span::Seconds(mut s) => {
                for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
                    if s >= len {
                        write!(f, "{}{unit}", s / len)?;
                        s %= len;
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_workflow_files_use() {
        assert_eq!(Span::parse("30m"), Ok(Span::Seconds(1800)));
        assert_eq!(Span::parse("2h"), Ok(Span::Seconds(7200)));
        assert_eq!(Span::parse("3d"), Ok(Span::Seconds(3 * 86_400)));
        assert_eq!(Span::parse("1h30m"), Ok(Span::Seconds(5400)));
        assert_eq!(Span::parse("0m"), Ok(Span::ZERO));
        assert_eq!(Span::parse("3wd"), Ok(Span::WorkingDays(3)));
        assert_eq!(Span::parse("13wd"), Ok(Span::WorkingDays(13)));
    }

    #[test]
    fn rejects_malformed_durations_with_a_reason() {
        for bad in [
            "",
            "30",
            "m",
            "2x",
            "1m1h",
            "1h1h",
            "-5m",
            "3.5h",
            "1h3wd",
            "wd",
            "99999999999d",
        ] {
            let e = Span::parse(bad).expect_err(bad);
            assert!(e.to_string().contains("bad duration"), "{bad}: {e}");
        }
    }

    #[test]
    fn displays_in_the_same_notation() {
        for s in ["30m", "2h", "3d", "1h30m", "3wd", "1d2h3m4s"] {
            assert_eq!(Span::parse(s).unwrap().to_string(), s);
        }
    }
}
