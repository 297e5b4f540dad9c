//! Hours and points that cannot be farmed (OWASP API6, business flows).
//!
//! A `[credit]` rule may cap what one person is credited in a civil day, across all the
//! requests they finish, and may question work reported done implausibly soon after it was
//! taken. Both look past the one request being decided: the Engine reads what they need (the
//! person's credits so far today, when they took this request and when they reported it
//! done) into a [`CreditContext`], and [`assess`] decides on it, purely.
//!
//! A cut or a doubt never refuses the resident's confirmation: the request closes, the credit
//! is what the rule allows, and the branch is told (a `credit_questioned` event, internal:
//! the resident does not see it) to look. Each check is the rule's to ask for: a workflow
//! version without them credits as it always did.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::definition::CreditRule;
use crate::event::{Credit, Event, EventKind};

/// What a person was credited with over some span (the ledger's sums).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Earned {
    pub minutes: i64,
    pub points: i64,
}

/// What the Engine read beside the ticket for an action that credits its holder.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreditContext {
    /// Credited to the holder earlier in the same civil day (the deployment's zone).
    pub earned_today: Earned,
    /// When the holder took the request (their first action on it) and when they last
    /// reported their service time, from its history ([`work_span`]).
    pub work_span: Option<(Timestamp, Timestamp)>,
}

/// Why a credit was cut or is questioned. Told to the branch, kept in the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "doubt", rename_all = "snake_case")]
pub enum Doubt {
    /// Reported done within `secs` of being taken, under the rule's `question_under`.
    Fast { secs: i64 },
    /// More service time reported than passed between taking the request and reporting.
    BeyondHeld {
        reported_minutes: u32,
        held_minutes: i64,
    },
    /// The day's cap was reached: what the action would have credited, and what it did.
    DailyCap {
        would_minutes: u32,
        would_points: i32,
        minutes: u32,
        points: i32,
    },
}

/// When `person` last reported service time on the request, and when they took it for that
/// (their first action on it after it was last given to them before the report), if they did
/// both. What came after the report (the resident's confirmation) does not move it.
pub fn work_span(events: &[Event], person: Uuid) -> Option<(Timestamp, Timestamp)> {
    // The last report of service time by the person, and what came before it: events after
    // it (the resident's confirmation, a later note) do not move the span.
    let reported = events.iter().rposition(|e| match &e.kind {
        EventKind::Transitioned { data, .. } => {
            e.actor.id == Some(person) && data.service_minutes.is_some()
        }
        _ => false,
    })?;
    let before = &events[..=reported];
    let given = before.iter().rposition(|e| {
        matches!(&e.kind, EventKind::Transitioned { assignee_after, .. }
            if assignee_after.and_then(|a| a.person()) == Some(person))
            && e.actor.id != Some(person)
    });
    let since = &before[given.map_or(0, |i| i + 1)..];
    let taken = since.iter().find(|e| e.actor.id == Some(person))?.at;
    let reported = events[reported].at;
    (reported >= taken).then_some((taken, reported))
}

/// More service time reported than passed between taking the request and reporting it done
/// (travel is not service time, so it cannot be more): the doubt, if so. Records of service
/// carry it for the branch whatever a workflow's rule says (民政部令第67号: a record is true);
/// a rule's `question_under` also tells the branch when the credit is made.
pub fn beyond_held(reported_minutes: u32, span: (Timestamp, Timestamp)) -> Option<Doubt> {
    let held_minutes = span.1.duration_since(span.0).as_secs() / 60;
    (i64::from(reported_minutes) > held_minutes).then_some(Doubt::BeyondHeld {
        reported_minutes,
        held_minutes,
    })
}

/// The credit the rule allows, given what the holder earned earlier today, and the doubts
/// the branch is told of.
pub fn assess(rule: &CreditRule, credit: Credit, cx: &CreditContext) -> (Credit, Vec<Doubt>) {
    let mut doubts = Vec::new();
    if let (Some(under), Some((taken, reported))) = (rule.question_under_secs, cx.work_span) {
        let held = reported.duration_since(taken).as_secs();
        if held < under {
            doubts.push(Doubt::Fast { secs: held });
        }
        doubts.extend(beyond_held(credit.minutes, (taken, reported)));
    }
    let left = |cap: Option<i64>, earned: i64, would: i64| {
        cap.map_or(would, |cap| would.min((cap - earned).max(0)))
    };
    let minutes = left(
        rule.daily_minutes.map(i64::from),
        cx.earned_today.minutes,
        i64::from(credit.minutes),
    );
    let points = left(
        rule.daily_points.map(i64::from),
        cx.earned_today.points,
        i64::from(credit.points),
    );
    let capped = Credit {
        person: credit.person,
        minutes: u32::try_from(minutes).unwrap_or(0),
        points: i32::try_from(points).unwrap_or(0),
    };
    if capped != credit {
        doubts.push(Doubt::DailyCap {
            would_minutes: credit.minutes,
            would_points: credit.points,
            minutes: capped.minutes,
            points: capped.points,
        });
    }
    (capped, doubts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRef, Recorded};
    use crate::role::Role;
    use crate::ticket::Assignee;

    fn rule() -> CreditRule {
        CreditRule {
            on: vec!["confirm".into()],
            rating_bonus: [0; 5],
            daily_minutes: Some(480),
            daily_points: Some(20),
            question_under_secs: Some(300),
        }
    }

    fn credit(minutes: u32, points: i32) -> Credit {
        Credit {
            person: Uuid::nil(),
            minutes,
            points,
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap()
    }

    #[test]
    fn within_the_day_and_the_time_held_nothing_is_doubted() {
        let cx = CreditContext {
            earned_today: Earned {
                minutes: 120,
                points: 5,
            },
            work_span: Some((at(0), at(3_600))),
        };
        assert_eq!(assess(&rule(), credit(60, 5), &cx), (credit(60, 5), vec![]));
    }

    #[test]
    fn past_the_days_cap_only_what_is_left_is_credited() {
        let cx = CreditContext {
            earned_today: Earned {
                minutes: 450,
                points: 18,
            },
            work_span: None,
        };
        let (c, doubts) = assess(&rule(), credit(60, 5), &cx);
        assert_eq!(c, credit(30, 2));
        assert_eq!(
            doubts,
            vec![Doubt::DailyCap {
                would_minutes: 60,
                would_points: 5,
                minutes: 30,
                points: 2
            }]
        );
        // Already over (a cap lowered mid-day): nothing more, never less than nothing.
        let cx = CreditContext {
            earned_today: Earned {
                minutes: 600,
                points: 30,
            },
            work_span: None,
        };
        assert_eq!(assess(&rule(), credit(60, 5), &cx).0, credit(0, 0));
    }

    #[test]
    fn work_reported_done_at_once_with_hours_claimed_is_questioned() {
        let cx = CreditContext {
            earned_today: Earned::default(),
            work_span: Some((at(0), at(90))),
        };
        let (c, doubts) = assess(&rule(), credit(120, 5), &cx);
        assert_eq!(c, credit(120, 5), "the branch decides; the rule only asks");
        assert_eq!(
            doubts,
            vec![
                Doubt::Fast { secs: 90 },
                Doubt::BeyondHeld {
                    reported_minutes: 120,
                    held_minutes: 1
                }
            ]
        );
    }

    fn event(
        seq: u64,
        secs: i64,
        by: Option<Uuid>,
        to: Option<Uuid>,
        minutes: Option<u32>,
    ) -> Event {
        Event {
            ticket_id: Uuid::nil(),
            seq,
            at: at(secs),
            actor: ActorRef {
                id: by,
                role: Role::Member,
            },
            kind: EventKind::Transitioned {
                action: "x".into(),
                from: "a".into(),
                to: "b".into(),
                terminal: false,
                stays: false,
                on_wall: false,
                internal: false,
                objection: false,
                assignee_after: to.map(Assignee::Person),
                data: Recorded {
                    service_minutes: minutes,
                    ..Recorded::default()
                },
                timer_due: None,
                credit: None,
                released: None,
            },
        }
    }

    #[test]
    fn the_span_runs_from_taking_the_request_to_reporting_it_done() {
        let (secretary, volunteer) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let v = Some(volunteer);
        let history = [
            event(1, 0, Some(secretary), v, None),
            event(2, 600, v, v, None),
            event(3, 4_200, v, v, Some(60)),
        ];
        assert_eq!(work_span(&history, volunteer), Some((at(600), at(4_200))));
        // Given to them again after a reopen: the span starts at the new taking.
        let again = [
            event(1, 0, Some(secretary), v, None),
            event(2, 600, v, v, Some(60)),
            event(3, 5_000, Some(secretary), v, None),
            event(4, 5_100, v, v, None),
            event(5, 5_200, v, v, Some(90)),
        ];
        assert_eq!(work_span(&again, volunteer), Some((at(5_100), at(5_200))));
        // Never reported: no span.
        assert_eq!(work_span(&history[..2], volunteer), None);
    }
}
