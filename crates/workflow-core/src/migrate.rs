//! Moving running requests to a newer version of their workflow (`linli migrate-tickets`).
//! A plan maps every open state of the old version to a state of the new one and says, per
//! SLA clock the two share, whether the deadline is kept as it was set or recomputed from
//! the new version's targets (the time already run still counts). The move is one
//! `migrated` event: everything before it stays, and replay needs nothing but the events.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::calendar::{add_working, working_between};
use crate::command::{Decision, Timer, TimerChange, TimerKey};
use crate::decide::next_warning;
use crate::definition::Workflow;
use crate::event::{ActorRef, Event, EventKind};
use crate::role::Role;
use crate::ticket::{ClockState, ClockStatus, Ticket};

/// What happens to a clock's deadline when its request moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockPolicy {
    /// The deadline stays as the old version set it.
    Keep,
    /// The deadline follows the new version's target for the request's category and
    /// urgency (plus any extension granted), counted from when the clock started.
    Recompute,
}

impl ClockPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockPolicy::Keep => "keep",
            ClockPolicy::Recompute => "recompute",
        }
    }
}

/// A migration plan, as its TOML file says it:
///
/// ```toml
/// [states]
/// submitted = "submitted"
/// in_progress = "in_progress"
/// [clocks]
/// resolution = "recompute"
/// response = "keep"
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationPlan {
    #[serde(default)]
    pub states: BTreeMap<String, String>,
    #[serde(default)]
    pub clocks: BTreeMap<String, ClockPolicy>,
}

impl MigrationPlan {
    /// Reads a plan; the error names the line.
    pub fn parse(name: &str, text: &str) -> Result<MigrationPlan, String> {
        toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map_or(1, |s| text[..s.start].matches('\n').count() + 1);
            format!("{name}:{line}: {}", e.message())
        })
    }

    /// Every problem with the plan for this pair of versions; empty when it can run.
    pub fn check(&self, from: &Workflow, to: &Workflow) -> Vec<String> {
        let mut problems = Vec::new();
        if from.id != to.id || to.version <= from.version {
            problems.push(format!(
                "{} moves to a newer version of the same workflow, not to {}",
                from.key(),
                to.key()
            ));
        }
        for s in from.states.iter().filter(|s| !s.terminal) {
            if !self.states.contains_key(&s.name) {
                problems.push(format!(
                    "state {:?} of {} is not mapped: add `{} = \"…\"` under [states]",
                    s.name,
                    from.key(),
                    s.name
                ));
            }
        }
        for (old, new) in &self.states {
            match from.state_id(old) {
                None => problems.push(format!(
                    "[states] maps {old:?}, which {} does not have",
                    from.key()
                )),
                Some(id) if from.state(id).terminal => problems.push(format!(
                    "[states] maps {old:?}, a terminal state: finished requests stay where they are"
                )),
                Some(_) => {}
            }
            match to.state_id(new) {
                None => problems.push(format!(
                    "[states] maps {old:?} to {new:?}, which {} does not have",
                    to.key()
                )),
                Some(id) if to.state(id).terminal => problems.push(format!(
                    "[states] maps {old:?} to {new:?}, a terminal state: a migration finishes no request"
                )),
                Some(_) => {}
            }
        }
        for c in to
            .clocks
            .iter()
            .filter(|c| from.clocks.iter().any(|o| o.name == c.name))
        {
            if !self.clocks.contains_key(&c.name) {
                problems.push(format!(
                    "clock {:?} is in both versions: say `{} = \"keep\"` or `\"recompute\"` under [clocks]",
                    c.name, c.name
                ));
            }
        }
        for name in self.clocks.keys() {
            if !to.clocks.iter().any(|c| &c.name == name)
                || !from.clocks.iter().any(|c| &c.name == name)
            {
                problems.push(format!(
                    "[clocks] names {name:?}, which is not a clock of both {} and {}",
                    from.key(),
                    to.key()
                ));
            }
        }
        problems
    }
}

/// What moving one request changes, for the dry run's report and the real run's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    pub ticket: uuid::Uuid,
    pub state_before: String,
    pub state: String,
    pub clocks: Vec<ClockMove>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClockMove {
    pub clock: String,
    /// `None`: a clock the new version adds (not started) or drops.
    pub policy: Option<ClockPolicy>,
    pub due_before: Option<Timestamp>,
    pub due: Option<Timestamp>,
}

/// Decides the move of one open request on `from` to `to` by a plan that passed
/// [`MigrationPlan::check`]. `None`: the request is finished or on another version.
pub fn decide_migration(
    from: &Workflow,
    to: &Workflow,
    plan: &MigrationPlan,
    ticket: &Ticket,
    now: Timestamp,
) -> Option<(Decision, Move)> {
    if ticket.terminal || ticket.workflow_id != from.id || ticket.workflow_version != from.version {
        return None;
    }
    let state = plan.states.get(&ticket.state)?;
    let to_state = to.state(to.state_id(state)?);
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let mut clocks = Vec::with_capacity(to.clocks.len());
    let mut timers = Vec::new();
    let mut moves = Vec::new();
    for (i, def) in to.clocks.iter().enumerate() {
        let policy = plan.clocks.get(&def.name).copied();
        let Some(old) = ticket.clock(&def.name) else {
            clocks.push(ClockState::new(def.name.clone()));
            moves.push(ClockMove {
                clock: def.name.clone(),
                policy: None,
                due_before: None,
                due: None,
            });
            continue;
        };
        let mut c = old.clone();
        if policy == Some(ClockPolicy::Recompute)
            && matches!(c.status, ClockStatus::Running | ClockStatus::Paused)
        {
            let cal = def.calendar.as_deref();
            c.target_secs = to.target(ticket, i).seconds(def.working_day_secs()) + c.extended_secs;
            if c.status == ClockStatus::Running {
                let run = c.elapsed_secs + c.since.map_or(0, |s| working_between(cal, s, now));
                let due = add_working(cal, now, (c.target_secs - run).max(0));
                c.due = Some(due);
                c.warn_at = next_warning(def, c.warnings_given(), c.target_secs, run, now);
                let epoch = u64::from(c.cycle);
                timers.push(TimerChange::Cancel(TimerKey::SlaWarning(def.name.clone())));
                if let Some(at) = c.warn_at.filter(|_| !c.breached) {
                    timers.push(TimerChange::Set(Timer {
                        key: TimerKey::SlaWarning(def.name.clone()),
                        due_at: at,
                        epoch,
                    }));
                }
                if !c.breached {
                    timers.push(TimerChange::Set(Timer {
                        key: TimerKey::SlaBreach(def.name.clone()),
                        due_at: due,
                        epoch,
                    }));
                }
            }
        }
        moves.push(ClockMove {
            clock: def.name.clone(),
            policy,
            due_before: old.due,
            due: c.due,
        });
        clocks.push(c);
    }
    // Clocks the new version does not have stop counting: their timers go.
    for old in &ticket.clocks {
        if !to.clocks.iter().any(|d| d.name == old.name) {
            for key in [
                TimerKey::SlaWarning(old.name.clone()),
                TimerKey::SlaBreach(old.name.clone()),
                TimerKey::Escalation(old.name.clone()),
            ] {
                timers.push(TimerChange::Cancel(key));
            }
            moves.push(ClockMove {
                clock: old.name.clone(),
                policy: None,
                due_before: old.due,
                due: None,
            });
        }
    }
    let event = Event {
        ticket_id: ticket.id,
        seq: ticket.version + 1,
        at: now,
        actor: ActorRef {
            id: None,
            role: Role::System,
        },
        kind: EventKind::Migrated {
            workflow_version_before: from.version,
            workflow_version: to.version,
            state_before: ticket.state.clone(),
            state: to_state.name.clone(),
            on_wall: to_state.wall,
            clocks,
        },
    };
    let mut after = ticket.clone();
    after
        .apply(&event)
        .expect("a migration event folds into its ticket");
    let report = Move {
        ticket: ticket.id,
        state_before: ticket.state.clone(),
        state: to_state.name.clone(),
        clocks: moves,
    };
    let decision = Decision {
        ticket: after,
        expected_version: ticket.version,
        events: vec![event],
        timers,
        notifications: Vec::new(),
        time: Vec::new(),
    };
    Some((decision, report))
}
