//! The practice's rules beside the transitions: extensions (延期), follow-up calls (回访),
//! co-handlers (协办) and merges (并单): what an action of theirs does, and their timers.

use crate::calendar::{add_working, working_between};
use crate::command::*;
use crate::definition::{TransitionDef, Workflow};
use crate::duration::Span;
use crate::event::{EventKind, Recorded};
use crate::ticket::{Assignee, Ticket};

use super::Builder;
use super::clocks::next_warning;

/// What an action of the workflow's `[extensions]` or `[follow_up]` rule does besides the
/// transition itself.
pub(super) enum PracticeStep {
    AskExtension {
        clock: usize,
        by_secs: i64,
        reason: String,
    },
    ApproveExtension,
    RefuseExtension,
    FollowUpDone,
    AddCoHandler(uuid::Uuid),
    CoReport(String),
    Merge(uuid::Uuid),
    Unmerge,
}

/// The rule's own effect of an action that passed [`refusal`]; the time asked for is checked
/// against the rule's most.
pub(super) fn practice_step(
    wf: &Workflow,
    ticket: &Ticket,
    tr: &TransitionDef,
    data: &Recorded,
) -> Result<Option<PracticeStep>, CommandError> {
    if wf.follow_up.as_ref().is_some_and(|r| r.action == tr.action) {
        return Ok(Some(PracticeStep::FollowUpDone));
    }
    if let Some(rule) = &wf.merging {
        if tr.action == rule.merge
            && let Some(parent) = data.parent
        {
            return Ok(Some(PracticeStep::Merge(parent)));
        }
        if tr.action == rule.unmerge {
            return Ok(Some(PracticeStep::Unmerge));
        }
    }
    if let Some(rule) = &wf.co_handling {
        if tr.action == rule.report {
            return Ok(Some(PracticeStep::CoReport(
                data.note.clone().unwrap_or_default(),
            )));
        }
        if tr.action == rule.add {
            let invalid = |reason: &str| CommandError::InvalidField {
                field: "assignee",
                reason: reason.into(),
            };
            let Some(Assignee::Person(person)) = data.assignee else {
                return Err(invalid("a co-handler is one person, not a team"));
            };
            if ticket.assignee == Some(Assignee::Person(person)) {
                return Err(invalid("this person holds the request and leads it"));
            }
            if ticket.co_handler(person).is_some() {
                return Err(invalid("this person is a co-handler already"));
            }
            return Ok(Some(PracticeStep::AddCoHandler(person)));
        }
    }
    let Some(rule) = &wf.extensions else {
        return Ok(None);
    };
    if tr.action == rule.approve {
        return Ok(Some(PracticeStep::ApproveExtension));
    }
    if tr.action == rule.refuse {
        return Ok(Some(PracticeStep::RefuseExtension));
    }
    if tr.action != rule.request {
        return Ok(None);
    }
    let def = &wf.clocks[rule.clock];
    let day = def.working_day_secs();
    let asked = data
        .extend_by
        .as_deref()
        .map(Span::parse)
        .transpose()
        .map_err(|e| CommandError::InvalidField {
            field: "extend_by",
            reason: e.to_string(),
        })?
        .map_or(0, |s| s.seconds(day));
    let most = rule.max.seconds(day);
    if asked <= 0 || asked > most {
        return Err(CommandError::InvalidField {
            field: "extend_by",
            reason: format!(
                "more than nothing and at most {} ({most} working seconds)",
                rule.max
            ),
        });
    }
    Ok(Some(PracticeStep::AskExtension {
        clock: rule.clock,
        by_secs: asked,
        reason: data.reason.clone().unwrap_or_default(),
    }))
}

impl Builder<'_> {
    /// The rule's own effect of an action just recorded (see [`practice_step`]).
    pub(super) fn practice(&mut self, step: PracticeStep) {
        match step {
            PracticeStep::AskExtension {
                clock,
                by_secs,
                reason,
            } => self.push(EventKind::ExtensionRequested {
                clock: self.ticket.clocks[clock].name.clone(),
                by_secs,
                reason,
            }),
            PracticeStep::ApproveExtension => self.extend(),
            PracticeStep::RefuseExtension => {
                if let Some(clock) = self.ticket.extension.as_ref().map(|p| p.clock.clone()) {
                    self.push(EventKind::ExtensionRefused { clock });
                }
            }
            PracticeStep::FollowUpDone => self.push(EventKind::FollowUpDone),
            PracticeStep::AddCoHandler(person) => {
                let rule = self.wf.co_handling.as_ref().expect("a co-handling step");
                let cal = rule.calendar.as_deref();
                let secs = rule
                    .within
                    .seconds(cal.map_or(86_400, |c| c.working_day_secs()));
                let due = add_working(cal, self.now, secs);
                self.push(EventKind::CoHandlerAdded { person, due });
                self.timers.push(TimerChange::Set(Timer {
                    key: TimerKey::CoHandler(person.to_string()),
                    due_at: due,
                    epoch: self.ticket.version,
                }));
            }
            PracticeStep::CoReport(note) => {
                let person = self.actor_id;
                self.push(EventKind::CoHandlerReported { person, note });
                self.timers
                    .push(TimerChange::Cancel(TimerKey::CoHandler(person.to_string())));
            }
            PracticeStep::Merge(parent) => self.push(EventKind::MergedInto { parent }),
            PracticeStep::Unmerge => {
                if let Some(parent) = self.ticket.parent {
                    self.push(EventKind::Unmerged { parent });
                }
            }
        }
    }

    /// A co-handler's own deadline passed without their report.
    pub(super) fn co_handler_breach(&mut self, person: &str, firing: &Firing) -> bool {
        let Ok(person) = person.parse::<uuid::Uuid>() else {
            return false;
        };
        let Some(c) = self.ticket.co_handler(person) else {
            return false;
        };
        if c.added_seq != firing.epoch || c.breached || c.reported_at.is_some() || c.due > self.now
        {
            return false;
        }
        let due = c.due;
        self.push(EventKind::CoHandlerBreached {
            person,
            due,
            late_by_secs: self.now.as_second() - due.as_second(),
            timer_due: firing.due_at,
        });
        true
    }

    /// Moves the running clock's deadline by the time asked for: the target grows, the
    /// warnings and the breach are set again from the new deadline.
    pub(super) fn extend(&mut self) {
        let Some(pending) = self.ticket.extension.clone() else {
            return;
        };
        let Some(i) = self.clock_index(&pending.clock) else {
            return;
        };
        let def = &self.wf.clocks[i];
        let cal = def.calendar.as_deref();
        let c = &self.ticket.clocks[i];
        let Some(due_before) = c.due else { return };
        let run = c.elapsed_secs + c.since.map_or(0, |s| working_between(cal, s, self.now));
        let target = c.target_secs + pending.by_secs;
        let due = add_working(cal, self.now, (target - run).max(0));
        let warn_at = next_warning(def, c.warnings_given(), target, run, self.now);
        let (name, epoch) = (c.name.clone(), u64::from(c.cycle));
        let original_due = c.original_due.unwrap_or(due_before);
        self.cancel_clock_timers(&name, false);
        self.set_clock_timers(&name, due, warn_at, epoch, true);
        self.push(EventKind::ClockExtended {
            clock: name,
            by_secs: pending.by_secs,
            due_before,
            due,
            original_due,
            warn_at,
            reason: pending.reason,
        });
    }
}
