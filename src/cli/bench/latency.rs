//! Latencies per action and outcomes by status, kept whole (a run holds at most a few
//! hundred thousand requests) so the percentiles are exact.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default, Debug)]
pub struct Record {
    /// Microseconds, per action.
    latencies: BTreeMap<&'static str, Vec<u32>>,
    /// Answers other than the expected one, by status code (`io` for no answer).
    pub errors: BTreeMap<String, u64>,
    pub lifecycles: u64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Record {
    pub fn took(&mut self, action: &'static str, took: Duration) {
        let us = u32::try_from(took.as_micros()).unwrap_or(u32::MAX);
        self.latencies.entry(action).or_default().push(us);
    }

    pub fn failed(&mut self, code: impl Into<String>) {
        *self.errors.entry(code.into()).or_default() += 1;
    }

    pub fn merge(&mut self, other: Record) {
        for (action, mut l) in other.latencies {
            self.latencies.entry(action).or_default().append(&mut l);
        }
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
        self.lifecycles += other.lifecycles;
    }

    pub fn requests(&self) -> usize {
        self.latencies.values().map(Vec::len).sum()
    }

    pub fn action(&self, action: &str) -> Option<Percentiles> {
        self.latencies.get(action).and_then(|l| percentiles(l))
    }

    /// Every request, whatever its action.
    pub fn all(&self) -> Option<Percentiles> {
        let all: Vec<u32> = self.latencies.values().flatten().copied().collect();
        percentiles(&all)
    }
}

/// Nearest-rank percentiles.
fn percentiles(samples: &[u32]) -> Option<Percentiles> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * s.len() as f64).ceil() as usize;
        f64::from(s[rank.clamp(1, s.len()) - 1]) / 1000.0
    };
    Some(Percentiles {
        count: s.len(),
        p50_ms: at(50.0),
        p90_ms: at(90.0),
        p99_ms: at(99.0),
        max_ms: f64::from(s[s.len() - 1]) / 1000.0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut r = Record::default();
        for ms in 1..=100u64 {
            r.took("accept", Duration::from_millis(ms));
        }
        let p = r.action("accept").unwrap();
        assert_eq!(
            (p.count, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms),
            (100, 50.0, 90.0, 99.0, 100.0)
        );
        assert_eq!(r.action("submit"), None);
    }

    #[test]
    fn merging_keeps_every_sample_and_error() {
        let mut a = Record::default();
        a.took("submit", Duration::from_millis(2));
        a.failed("409");
        let mut b = Record::default();
        b.took("submit", Duration::from_millis(4));
        b.failed("409");
        b.lifecycles = 1;
        a.merge(b);
        assert_eq!(a.requests(), 2);
        assert_eq!(a.errors["409"], 2);
        assert_eq!(a.lifecycles, 1);
        assert_eq!(a.all().unwrap().max_ms, 4.0);
    }
}
