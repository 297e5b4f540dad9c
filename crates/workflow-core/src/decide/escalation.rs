//! The escalation ladder: after a breach, each level in turn (who is told or handed the
//! request, after what delay), until the clock stops.

use jiff::Timestamp;

use crate::calendar::add_working;
use crate::command::*;
use crate::definition::{ClockDef, LadderLevel};
use crate::event::EventKind;
use crate::ticket::ClockStatus;

use super::Builder;

impl<'w> Builder<'w> {
    /// The clock's definition and the ladder level it reaches next (its index), if any is
    /// left.
    fn next_level(&self, clock: usize) -> Option<(&'w ClockDef, usize, &'w LadderLevel)> {
        let def = &self.wf.clocks[clock];
        let next = usize::from(self.ticket.clocks[clock].escalation_level);
        let level = def.ladder.as_ref()?.levels.get(next)?;
        Some((def, next, level))
    }

    /// Sets the timer for the next ladder level; a level with no delay is taken at once.
    pub(super) fn schedule_escalation(&mut self, clock: usize, epoch: u64, timer_due: Timestamp) {
        let Some((def, _, level)) = self.next_level(clock) else {
            return;
        };
        let delay = level.after.seconds(def.working_day_secs());
        if delay == 0 {
            self.take_escalation_step(clock, timer_due, epoch);
        } else {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::Escalation(def.name.clone()),
                due_at: add_working(def.calendar.as_deref(), self.now, delay),
                epoch,
            }));
        }
    }

    pub(super) fn take_escalation_step(&mut self, clock: usize, timer_due: Timestamp, epoch: u64) {
        let Some((def, next, level)) = self.next_level(clock) else {
            return;
        };
        self.push(EventKind::Escalated {
            clock: def.name.clone(),
            level: (next + 1) as u8,
            to: level.to,
            assign: level.assign,
            raise_priority: level.raise_priority,
            timer_due,
        });
        self.schedule_escalation(clock, epoch, timer_due);
    }

    pub(super) fn escalate(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        let live = matches!(c.status, ClockStatus::Running | ClockStatus::Paused);
        if !live || u64::from(c.cycle) != firing.epoch || !c.breached {
            return false;
        }
        let before = self.events.len();
        self.take_escalation_step(i, firing.due_at, firing.epoch);
        self.events.len() > before
    }
}
