//! What a world did, counted as it went: requests, transitions, timer firings by kind, the
//! actions the workflow refused the simulated people, and the day-by-day and week-by-week
//! series the report draws.

use std::collections::BTreeMap;

use workflow_core::engine::{EngineError, Fired};

#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub requests: u64,
    pub transitions: u64,
    pub firings: u64,
    pub by_kind: BTreeMap<&'static str, u64>,
    pub refused: BTreeMap<String, u64>,
    /// Requests submitted on each day of the run.
    pub per_day: Vec<u32>,
    /// Requests not yet finished as each day ended.
    pub backlog: Vec<u32>,
    /// Warnings, breaches and escalations fired in each week of the run.
    pub weekly: Vec<[u32; 3]>,
}

impl Tally {
    pub fn new(days: usize) -> Tally {
        Tally {
            per_day: vec![0; days],
            backlog: vec![0; days],
            weekly: vec![[0; 3]; days.div_ceil(7)],
            ..Tally::default()
        }
    }

    pub fn submitted(&mut self, day: usize) {
        self.requests += 1;
        if let Some(n) = self.per_day.get_mut(day) {
            *n += 1;
        }
    }

    pub fn fired(&mut self, f: &Fired, week: usize) {
        self.firings += f.fired as u64;
        for (kind, n) in &f.by_kind {
            *self.by_kind.entry(kind).or_default() += *n as u64;
            let slot = match *kind {
                "sla_warning" => 0,
                "sla_breach" => 1,
                "escalation" => 2,
                _ => continue,
            };
            if let Some(w) = self.weekly.get_mut(week) {
                w[slot] += *n as u32;
            }
        }
    }

    /// An action the workflow refused: by what was tried and the kind of refusal.
    pub fn refused(&mut self, what: &str, e: &EngineError) {
        let reason: String = e.to_string().chars().take(80).collect();
        *self.refused.entry(format!("{what}: {reason}")).or_default() += 1;
    }

    pub fn backlog(&mut self, day: usize, open: u32) {
        if let Some(n) = self.backlog.get_mut(day) {
            *n = open;
        }
    }

    /// Adds another world's counts (the street's total).
    pub fn add(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.transitions += o.transitions;
        self.firings += o.firings;
        for (k, n) in &o.by_kind {
            *self.by_kind.entry(k).or_default() += n;
        }
        for (k, n) in &o.refused {
            *self.refused.entry(k.clone()).or_default() += n;
        }
        let sum = |a: &mut Vec<u32>, b: &[u32]| {
            a.resize(a.len().max(b.len()), 0);
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        };
        sum(&mut self.per_day, &o.per_day);
        sum(&mut self.backlog, &o.backlog);
        self.weekly
            .resize(self.weekly.len().max(o.weekly.len()), [0; 3]);
        for (a, b) in self.weekly.iter_mut().zip(&o.weekly) {
            (0..3).for_each(|i| a[i] += b[i]);
        }
    }
}
