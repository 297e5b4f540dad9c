//! SLA clocks: started, paused, resumed and stopped as the ticket moves; their warning and
//! deadline timers; what a warning or a breach records when it fires.

use jiff::Timestamp;

use crate::calendar::{add_working, working_between};
use crate::command::*;
use crate::definition::{ClockDef, StateId, Warning};
use crate::event::EventKind;
use crate::ticket::ClockStatus;

use super::Builder;

impl Builder<'_> {
    pub(super) fn reconcile_clock(&mut self, i: usize, def: &ClockDef, to: StateId) {
        let cal = def.calendar.as_deref();
        let c = &self.ticket.clocks[i];
        let s = to.index();
        // Entering a terminal state stops every clock, whatever the workflow lists.
        let stops = def.stop[s] || self.wf.state(to).terminal;
        let live = matches!(c.status, ClockStatus::Running | ClockStatus::Paused);
        let elapsed = || {
            c.elapsed_secs
                + c.since
                    .map_or(0, |since| working_between(cal, since, self.now))
        };
        let event = if stops && live {
            let elapsed = elapsed();
            EventKind::ClockStopped {
                clock: c.name.clone(),
                elapsed_secs: elapsed,
                overrun_secs: elapsed - c.target_secs,
            }
        } else if def.start[s] && !live {
            let target = self
                .wf
                .target(&self.ticket, i)
                .seconds(def.working_day_secs());
            EventKind::ClockStarted {
                clock: c.name.clone(),
                cycle: c.cycle + 1,
                target_secs: target,
                due: add_working(cal, self.now, target),
                warn_at: next_warning(def, 0, target, 0, self.now),
            }
        } else if def.pause[s] && c.status == ClockStatus::Running {
            EventKind::ClockPaused {
                clock: c.name.clone(),
                reason: self.wf.state(to).name.clone(),
                elapsed_secs: elapsed(),
            }
        } else if !def.pause[s] && c.status == ClockStatus::Paused {
            let remaining = (c.target_secs - c.elapsed_secs).max(0);
            EventKind::ClockResumed {
                clock: c.name.clone(),
                due: add_working(cal, self.now, remaining),
                warn_at: next_warning(
                    def,
                    c.warnings_given(),
                    c.target_secs,
                    c.elapsed_secs,
                    self.now,
                ),
            }
        } else {
            return;
        };
        let (name, epoch, breached) = (c.name.clone(), u64::from(c.cycle), c.breached);
        match &event {
            EventKind::ClockStopped { .. } => self.cancel_clock_timers(&name, true),
            // A clock only starts fresh or after a stop, which cancelled its timers already.
            EventKind::ClockStarted {
                due,
                warn_at,
                cycle,
                ..
            } => self.set_clock_timers(&name, *due, *warn_at, u64::from(*cycle), true),
            EventKind::ClockPaused { .. } => self.cancel_clock_timers(&name, false),
            EventKind::ClockResumed { due, warn_at, .. } => {
                self.set_clock_timers(&name, *due, *warn_at, epoch, !breached)
            }
            _ => {}
        }
        self.push(event);
    }

    pub(super) fn cancel_clock_timers(&mut self, clock: &str, with_escalation: bool) {
        self.timers
            .push(TimerChange::Cancel(TimerKey::SlaWarning(clock.into())));
        self.timers
            .push(TimerChange::Cancel(TimerKey::SlaBreach(clock.into())));
        if with_escalation {
            self.timers
                .push(TimerChange::Cancel(TimerKey::Escalation(clock.into())));
        }
    }

    pub(super) fn set_clock_timers(
        &mut self,
        clock: &str,
        due: Timestamp,
        warn: Option<Timestamp>,
        epoch: u64,
        breach: bool,
    ) {
        if let Some(at) = warn {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::SlaWarning(clock.into()),
                due_at: at,
                epoch,
            }));
        }
        if breach {
            self.timers.push(TimerChange::Set(Timer {
                key: TimerKey::SlaBreach(clock.into()),
                due_at: due,
                epoch,
            }));
        }
    }

    pub(super) fn clock_index(&self, clock: &str) -> Option<usize> {
        self.ticket.clocks.iter().position(|c| c.name == clock)
    }

    pub(super) fn warn(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        // A warning that comes after the breach (a late worker) would only be noise; one
        // already given is not given again (the clock's next is the next threshold).
        if c.status != ClockStatus::Running || u64::from(c.cycle) != firing.epoch || c.breached {
            return false;
        }
        let def = &self.wf.clocks[i];
        let given = c.warnings_given();
        let points = def.warnings(c.target_secs);
        let Some(&(_, kind)) = points.get(usize::from(given)) else {
            return false;
        };
        let run = c.elapsed_secs
            + c.since
                .map_or(0, |s| working_between(def.calendar.as_deref(), s, self.now));
        let next_at = next_warning(def, given + 1, c.target_secs, run, self.now);
        let (due, epoch) = (c.due.unwrap_or(self.now), u64::from(c.cycle));
        self.push(EventKind::SlaWarning {
            clock: clock.into(),
            due,
            timer_due: firing.due_at,
            share: match kind {
                Warning::Share(p) => Some(p),
                _ => None,
            },
            chase: kind == Warning::Chase,
            next_at,
        });
        if let Some(at) = next_at {
            self.set_clock_timers(clock, due, Some(at), epoch, false);
        }
        true
    }

    pub(super) fn breach(&mut self, clock: &str, firing: &Firing) -> bool {
        let Some(i) = self.clock_index(clock) else {
            return false;
        };
        let c = &self.ticket.clocks[i];
        let Some(due) = c.due else { return false };
        if c.status != ClockStatus::Running
            || u64::from(c.cycle) != firing.epoch
            || c.breached
            || due > self.now
        {
            return false;
        }
        let late_by = self.now.as_second() - due.as_second();
        self.push(EventKind::SlaBreached {
            clock: clock.into(),
            due,
            late_by_secs: late_by,
            timer_due: firing.due_at,
        });
        self.schedule_escalation(i, firing.epoch, firing.due_at);
        true
    }
}

/// When the clock's warning after the first `given` falls due, `run` working seconds into
/// a `target` at `now` (see [`ClockDef::warnings`]); one already passed is due at once.
pub(crate) fn next_warning(
    def: &ClockDef,
    given: u8,
    target: i64,
    run: i64,
    now: Timestamp,
) -> Option<Timestamp> {
    let (at, _) = *def.warnings(target).get(usize::from(given))?;
    Some(add_working(def.calendar.as_deref(), now, (at - run).max(0)))
}
