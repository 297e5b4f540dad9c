//! The state machine on the shipped workflows: every refusal, the lifecycle, team pools, SLA
//! clocks through the office calendar, state timers, escalation, and replay.

use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::command::Firing;
use workflow_core::event::EventKind;
use workflow_core::ticket::ClockStatus;
use workflow_core::*;

fn catalog() -> &'static Catalog {
    crate::common::catalog()
}

fn at(s: &str) -> Timestamp {
    format!("{s}+08[Asia/Shanghai]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp()
}

struct World {
    wf: Arc<Workflow>,
    resident: Actor,
    secretary: Actor,
    member: Actor,
    other_member: Actor,
    team: Uuid,
}

fn world(workflow: &str) -> World {
    let team = Uuid::now_v7();
    World {
        wf: catalog().latest(workflow).unwrap().clone(),
        resident: Actor::new(Uuid::now_v7(), [Role::Resident]),
        secretary: Actor::new(Uuid::now_v7(), [Role::Secretary, Role::Member]),
        member: Actor::new(Uuid::now_v7(), [Role::Member, Role::Resident]).with_teams(vec![team]),
        other_member: Actor::new(Uuid::now_v7(), [Role::Member]).with_teams(vec![team]),
        team,
    }
}

impl World {
    fn submit(&self, category: &str, urgency: Urgency, now: Timestamp) -> Decision {
        let sub = Submission {
            id: Uuid::now_v7(),
            category: category.into(),
            urgency,
            description: "楼道扶手松了 🙏 请帮忙修一下".into(),
            channel: "console".into(),
            requester: self.resident.id,
            community_id: Uuid::nil(),
            branch_id: Uuid::nil(),
            building_id: None,
            hotline: None,
        };
        decide_submission(&self.wf, &self.resident, &sub, now).unwrap()
    }
}

/// Applies an action and checks the decision's ticket equals replaying its events.
#[track_caller]
fn act(
    wf: &Workflow,
    t: &Ticket,
    who: &Actor,
    action: &str,
    fields: Fields,
    now: Timestamp,
) -> Result<Decision, CommandError> {
    let d = decide(
        wf,
        t.clone(),
        who,
        &Act {
            action: action.into(),
            expected_version: t.version,
            fields,
        },
        now,
    )?;
    let mut replayed = t.clone();
    for e in &d.events {
        replayed.apply(e).unwrap();
    }
    assert_eq!(replayed, d.ticket, "projection equals replay");
    Ok(d)
}

fn ok(
    wf: &Workflow,
    t: &Ticket,
    who: &Actor,
    action: &str,
    fields: Fields,
    now: Timestamp,
) -> Ticket {
    act(wf, t, who, action, fields, now)
        .unwrap_or_else(|e| panic!("{action}: {e}"))
        .ticket
}

fn to(a: Assignee) -> Fields {
    Fields {
        assignee: Some(a),
        ..Fields::default()
    }
}

fn set_timer<'d>(d: &'d Decision, key: &TimerKey) -> Option<&'d Timer> {
    d.timers.iter().rev().find_map(|c| match c {
        TimerChange::Set(t) if &t.key == key => Some(t),
        _ => None,
    })
}

fn fire(wf: &Workflow, t: &Ticket, timer: &Timer, now: Timestamp) -> Option<Decision> {
    decide_firing(
        wf,
        t,
        &Firing {
            key: timer.key.clone(),
            due_at: timer.due_at,
            epoch: timer.epoch,
        },
        now,
    )
    .unwrap()
}

#[test]
fn a_request_walks_from_submission_to_rating() {
    let w = world("community-service");
    let wf = &w.wf;
    let mon = at("2026-03-09T09:00");
    let d = w.submit("repair", Urgency::Normal, mon);
    assert_eq!(d.ticket.state, "submitted");
    assert_eq!(d.ticket.version, 3, "submitted + two clocks started");
    let t = ok(
        wf,
        &d.ticket,
        &w.secretary,
        "triage",
        Fields::default(),
        mon,
    );
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        mon,
    );
    assert_eq!(t.assignee, Some(Assignee::Person(w.member.id)));
    let t = ok(wf, &t, &w.member, "accept", Fields::default(), mon);
    assert_eq!(t.clock("response").unwrap().status, ClockStatus::Stopped);
    assert_eq!(
        t.clock("response").unwrap().overrun_secs,
        Some(-7200),
        "accepted at once"
    );
    let t = ok(wf, &t, &w.member, "start", Fields::default(), mon);
    let done = Fields {
        hours: Some(1.5),
        note: Some("已更换扶手螺丝".into()),
        ..Fields::default()
    };
    let t = ok(wf, &t, &w.member, "complete", done, mon);
    assert_eq!(t.service_minutes, 90);
    assert_eq!(t.clock("resolution").unwrap().status, ClockStatus::Stopped);
    let rate = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    let t = ok(wf, &t, &w.resident, "confirm", rate, mon);
    assert_eq!(
        (t.state.as_str(), t.rating, t.terminal, t.auto_closed),
        ("closed", Some(5), true, false)
    );
    assert!(allowed_actions(wf, &t, &w.resident, mon).is_empty());
}

#[test]
fn refusals_name_their_reason() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("repair", Urgency::Normal, now).ticket;

    let e = act(wf, &t, &w.secretary, "fly", Fields::default(), now).unwrap_err();
    assert_eq!(e.code(), "unknown_action");
    let e = act(wf, &t, &w.member, "accept", Fields::default(), now).unwrap_err();
    assert_eq!(e.code(), "action_not_allowed");
    let e = act(wf, &t, &w.resident, "triage", Fields::default(), now).unwrap_err();
    assert_eq!(e.code(), "role_not_allowed");
    let e = act(wf, &t, &w.secretary, "reject", Fields::default(), now).unwrap_err();
    assert_eq!(
        e,
        CommandError::MissingField {
            action: "reject".into(),
            field: "reason"
        }
    );
    let blank = Fields {
        reason: Some("   ".into()),
        ..Fields::default()
    };
    assert_eq!(
        act(wf, &t, &w.secretary, "reject", blank, now)
            .unwrap_err()
            .code(),
        "missing_field"
    );
    let rating = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    assert_eq!(
        act(wf, &t, &w.secretary, "triage", rating, now)
            .unwrap_err()
            .code(),
        "field_not_accepted"
    );
    let long = Fields {
        note: Some("长".repeat(2001)),
        ..Fields::default()
    };
    assert_eq!(
        act(wf, &t, &w.secretary, "triage", long, now)
            .unwrap_err()
            .code(),
        "invalid_field"
    );
    let control = Fields {
        note: Some("a\u{0}b".into()),
        ..Fields::default()
    };
    assert_eq!(
        act(wf, &t, &w.secretary, "triage", control, now)
            .unwrap_err()
            .code(),
        "invalid_field"
    );

    let stale = decide(
        wf,
        t.clone(),
        &w.secretary,
        &Act {
            action: "triage".into(),
            expected_version: t.version - 1,
            fields: Fields::default(),
        },
        now,
    );
    assert_eq!(
        stale.unwrap_err(),
        CommandError::StaleVersion {
            expected: t.version - 1,
            actual: t.version
        }
    );

    // Ratings are 1–5 and hours are a positive part of a day.
    let t2 = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let t2 = ok(
        wf,
        &t2,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        now,
    );
    let t2 = ok(wf, &t2, &w.member, "accept", Fields::default(), now);
    for h in [0.0, -1.0, 25.0, f64::NAN] {
        let f = Fields {
            hours: Some(h),
            ..Fields::default()
        };
        assert_eq!(
            act(wf, &t2, &w.member, "complete", f, now)
                .unwrap_err()
                .code(),
            "invalid_field",
            "{h}"
        );
    }
    let t3 = ok(
        wf,
        &t2,
        &w.member,
        "complete",
        Fields {
            hours: Some(1.0),
            ..Fields::default()
        },
        now,
    );
    for r in [0, 6] {
        let f = Fields {
            rating: Some(r),
            ..Fields::default()
        };
        assert_eq!(
            act(wf, &t3, &w.resident, "confirm", f, now)
                .unwrap_err()
                .code(),
            "invalid_field"
        );
    }
    // Someone else's request: not the requester.
    let stranger = Actor::new(Uuid::now_v7(), [Role::Resident]);
    let f = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    assert_eq!(
        act(wf, &t3, &stranger, "confirm", f, now)
            .unwrap_err()
            .code(),
        "role_not_allowed"
    );
}

#[test]
fn who_may_submit_for_whom_and_descriptions_are_checked() {
    let w = world("community-service");
    let sub = Submission {
        id: Uuid::now_v7(),
        category: "repair".into(),
        urgency: Urgency::Normal,
        description: "  ".into(),
        channel: "console".into(),
        requester: w.resident.id,
        community_id: Uuid::nil(),
        branch_id: Uuid::nil(),
        building_id: None,
        hotline: None,
    };
    let now = at("2026-03-09T09:00");
    let refused = |actor: &Actor, sub: &Submission| {
        decide_submission(&w.wf, actor, sub, now)
            .unwrap_err()
            .code()
    };
    assert_eq!(refused(&w.resident, &sub), "missing_field");
    let sub = Submission {
        description: "x".into(),
        ..sub
    };
    let by_fax = Submission {
        channel: "fax".into(),
        ..sub.clone()
    };
    assert_eq!(refused(&w.resident, &by_fax), "invalid_field");

    // A volunteer enters it for the resident (代办): the resident is the requester and is
    // told; the volunteer is the proxy, in the role they acted in.
    let d = decide_submission(&w.wf, &w.other_member, &sub, now).unwrap();
    assert_eq!(
        (d.ticket.requester, d.ticket.proxy),
        (w.resident.id, Some(w.other_member.id))
    );
    assert_eq!(d.events[0].actor.role, Role::Member);
    assert!(
        d.notifications
            .iter()
            .any(|n| n.event == "submitted" && n.recipient == Recipient::Person(w.resident.id))
    );
    // Asking for oneself records no proxy and tells nobody it was asked for them.
    let own = decide_submission(&w.wf, &w.resident, &sub, now).unwrap();
    assert_eq!(own.ticket.proxy, None);
    assert!(
        !own.notifications
            .iter()
            .any(|n| n.recipient == Recipient::Person(w.resident.id))
    );
    // A neighbour is no proxy, nor is an administrator.
    let neighbour = Actor::new(Uuid::now_v7(), [Role::Resident]);
    let admin = Actor::new(Uuid::now_v7(), [Role::Admin]);
    assert_eq!(refused(&neighbour, &sub), "role_not_allowed");
    assert_eq!(refused(&admin, &sub), "role_not_allowed");
}

#[test]
fn a_team_pool_is_taken_by_the_first_member_who_accepts() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("elderly_care", Urgency::Normal, now).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Team(w.team)),
        now,
    );
    let outsider = Actor::new(Uuid::now_v7(), [Role::Member]);
    assert_eq!(
        act(wf, &t, &outsider, "accept", Fields::default(), now)
            .unwrap_err()
            .code(),
        "role_not_allowed"
    );
    let won = ok(wf, &t, &w.other_member, "accept", Fields::default(), now);
    assert_eq!(won.assignee, Some(Assignee::Person(w.other_member.id)));
    // The loser raced on the version it saw: a conflict, not a second acceptance.
    let lost = act(wf, &won, &w.member, "accept", Fields::default(), now);
    assert_eq!(lost.unwrap_err().code(), "action_not_allowed");
    let stale = decide(
        wf,
        won.clone(),
        &w.member,
        &Act {
            action: "accept".into(),
            expected_version: t.version,
            fields: Fields::default(),
        },
        now,
    );
    assert_eq!(stale.unwrap_err().code(), "stale_version");
}

#[test]
fn the_response_deadline_counts_office_hours_across_a_weekend() {
    let w = world("community-service");
    // Friday 16:30: one working hour left that day, the second on Monday morning.
    let d = w.submit("repair", Urgency::Normal, at("2026-03-06T16:30"));
    let response = d.ticket.clock("response").unwrap();
    assert_eq!(response.due, Some(at("2026-03-09T09:30")));
    assert_eq!(
        response.warn_at,
        Some(at("2026-03-09T09:10")),
        "20 working minutes before"
    );
    let breach = set_timer(&d, &TimerKey::SlaBreach("response".into())).unwrap();
    assert_eq!(breach.due_at, at("2026-03-09T09:30"));
    // Repairs resolve in 2 working days (category override): due Tuesday 16:30.
    assert_eq!(
        d.ticket.clock("resolution").unwrap().due,
        Some(at("2026-03-10T16:30"))
    );
}

#[test]
fn the_resolution_deadline_skips_the_spring_festival_and_works_the_make_up_saturday() {
    let w = world("community-service");
    // Friday 13 Feb 2026, 17:00, urgent help for an elderly resident: one working day.
    let d = w.submit("elderly_care", Urgency::Urgent, at("2026-02-13T17:00"));
    // 30 min on Friday, then 6.5 of the make-up Saturday's 7 hours.
    assert_eq!(
        d.ticket.clock("resolution").unwrap().due,
        Some(at("2026-02-14T17:00"))
    );
    // A normal request at the same moment, three working days: Sat 14th, Tue 24th, Wed 25th.
    let d = w.submit("elderly_care", Urgency::Normal, at("2026-02-13T17:00"));
    assert_eq!(
        d.ticket.clock("resolution").unwrap().due,
        Some(at("2026-02-25T17:00"))
    );
}

#[test]
fn a_paused_clock_resumes_with_the_time_it_had_left() {
    let w = world("community-service");
    let wf = &w.wf;
    let mon = at("2026-03-09T09:00");
    let t = w.submit("elderly_care", Urgency::Normal, mon).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), mon);
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        mon,
    );
    let t = ok(wf, &t, &w.member, "accept", Fields::default(), mon);
    let t = ok(wf, &t, &w.member, "start", Fields::default(), mon);
    // Two working hours later the volunteer waits for the resident (Monday 11:00).
    let hold = Fields {
        reason: Some("等居民买好配件".into()),
        ..Fields::default()
    };
    let d = act(wf, &t, &w.member, "hold", hold, at("2026-03-09T11:00")).unwrap();
    let c = d.ticket.clock("resolution").unwrap();
    assert_eq!((c.status, c.elapsed_secs), (ClockStatus::Paused, 7200));
    assert!(d.timers.contains(&TimerChange::Cancel(TimerKey::SlaBreach(
        "resolution".into()
    ))));
    // Resumed on Thursday 09:00: 21h − 2h = 19 working hours left → 6.5h Thu, 7h Fri, 5.5h Mon.
    let d = act(
        wf,
        &d.ticket,
        &w.member,
        "resume",
        Fields::default(),
        at("2026-03-12T09:00"),
    )
    .unwrap();
    let c = d.ticket.clock("resolution").unwrap();
    assert_eq!(c.status, ClockStatus::Running);
    assert_eq!(c.due, Some(at("2026-03-16T16:00")));
    assert_eq!(
        set_timer(&d, &TimerKey::SlaBreach("resolution".into()))
            .unwrap()
            .due_at,
        at("2026-03-16T16:00")
    );
}

#[test]
fn a_dispatch_nobody_accepts_returns_to_the_queue_and_a_stale_timer_does_nothing() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("repair", Urgency::Normal, now).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let d = act(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        now,
    )
    .unwrap();
    let expiry = set_timer(&d, &TimerKey::State("expire".into()))
        .unwrap()
        .clone();
    assert_eq!(expiry.due_at, at("2026-03-09T09:30"));
    assert_eq!(expiry.epoch, d.ticket.state_entered_seq);

    let fired = fire(wf, &d.ticket, &expiry, at("2026-03-09T09:31")).unwrap();
    assert_eq!(fired.ticket.state, "triaged");
    assert_eq!(fired.ticket.assignee, None);
    let EventKind::Transitioned {
        action, timer_due, ..
    } = &fired.events[0].kind
    else {
        panic!()
    };
    assert_eq!(
        (action.as_str(), *timer_due),
        ("expire", Some(at("2026-03-09T09:30")))
    );
    assert_eq!(
        fired.events[0].at,
        at("2026-03-09T09:31"),
        "fired late, and says so"
    );
    assert!(
        fired
            .notifications
            .iter()
            .any(|n| n.event == "expire" && n.recipient == Recipient::Staff(Role::Secretary))
    );

    // Had the member accepted first, the same timer is discarded.
    let accepted = ok(wf, &d.ticket, &w.member, "accept", Fields::default(), now);
    assert!(fire(wf, &accepted, &expiry, at("2026-03-09T09:31")).is_none());
}

#[test]
fn a_breach_climbs_the_ladder_and_stops_when_the_clock_stops() {
    let w = world("community-service");
    let wf = &w.wf;
    let mon = at("2026-03-09T09:00");
    let d = w.submit("repair", Urgency::Normal, mon);
    let warn = set_timer(&d, &TimerKey::SlaWarning("response".into()))
        .unwrap()
        .clone();
    let breach = set_timer(&d, &TimerKey::SlaBreach("response".into()))
        .unwrap()
        .clone();
    assert_eq!(breach.due_at, at("2026-03-09T11:00"));

    // Early firing does nothing; the warning warns once.
    assert!(fire(wf, &d.ticket, &breach, at("2026-03-09T10:00")).is_none());
    let warned = fire(wf, &d.ticket, &warn, warn.due_at).unwrap();
    assert!(matches!(
        warned.events[0].kind,
        EventKind::SlaWarning { .. }
    ));
    assert!(fire(wf, &warned.ticket, &warn, warn.due_at).is_none());

    // The breach notifies the branch secretary at once (level 1, no delay) and sets level 2
    // (community, 2 working hours later: across lunch, 15:00).
    let b = fire(wf, &warned.ticket, &breach, at("2026-03-09T11:00")).unwrap();
    let kinds: Vec<_> = b.events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(kinds, ["sla_breach", "escalation"]);
    assert_eq!(b.ticket.escalated_to, Some(Role::Secretary));
    let esc = set_timer(&b, &TimerKey::Escalation("response".into()))
        .unwrap()
        .clone();
    assert_eq!(esc.due_at, at("2026-03-09T15:00"));
    let up = fire(wf, &b.ticket, &esc, esc.due_at).unwrap();
    assert_eq!(up.ticket.escalated_to, Some(Role::Community));
    assert!(
        up.notifications
            .iter()
            .any(|n| n.recipient == Recipient::Staff(Role::Community))
    );
    let street = set_timer(&up, &TimerKey::Escalation("response".into()))
        .unwrap()
        .clone();

    // A volunteer accepts between two steps: the clock stops, the next step is cancelled and,
    // should the timer still fire, it does nothing.
    let t = ok(
        wf,
        &up.ticket,
        &w.secretary,
        "triage",
        Fields::default(),
        at("2026-03-09T15:10"),
    );
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        at("2026-03-09T15:10"),
    );
    let accept = act(
        wf,
        &t,
        &w.member,
        "accept",
        Fields::default(),
        at("2026-03-09T15:20"),
    )
    .unwrap();
    assert!(
        accept
            .timers
            .contains(&TimerChange::Cancel(TimerKey::Escalation(
                "response".into()
            )))
    );
    let c = accept.ticket.clock("response").unwrap();
    assert_eq!((c.status, c.breached), (ClockStatus::Stopped, true));
    assert_eq!(
        c.overrun_secs,
        Some(2 * 3600 + 20 * 60),
        "2h target, accepted after 4h20m of office time"
    );
    assert!(fire(wf, &accept.ticket, &street, street.due_at).is_none());
}

#[test]
fn an_unconfirmed_completion_closes_itself_without_a_rating() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("sanitation", Urgency::Normal, now).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        now,
    );
    let t = ok(wf, &t, &w.member, "accept", Fields::default(), now);
    let d = act(
        wf,
        &t,
        &w.member,
        "complete",
        Fields {
            hours: Some(2.0),
            ..Fields::default()
        },
        now,
    )
    .unwrap();
    let close = set_timer(&d, &TimerKey::State("auto_close".into()))
        .unwrap()
        .clone();
    assert_eq!(close.due_at, at("2026-03-12T09:00"), "72 hours");
    let closed = fire(wf, &d.ticket, &close, close.due_at).unwrap();
    let t = closed.ticket;
    assert_eq!(
        (t.state.as_str(), t.rating, t.auto_closed),
        ("closed", None, true)
    );
    assert_eq!(closed.events[0].actor.role, Role::System);
}

#[test]
fn a_reopen_starts_a_new_resolution_cycle() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("repair", Urgency::Normal, now).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        now,
    );
    let t = ok(wf, &t, &w.member, "accept", Fields::default(), now);
    let t = ok(
        wf,
        &t,
        &w.member,
        "complete",
        Fields {
            hours: Some(1.0),
            ..Fields::default()
        },
        now,
    );
    let reopen = Fields {
        reason: Some("还是漏水".into()),
        ..Fields::default()
    };
    let t = ok(
        wf,
        &t,
        &w.resident,
        "reopen",
        reopen,
        at("2026-03-10T09:00"),
    );
    let c = t.clock("resolution").unwrap();
    assert_eq!((c.status, c.cycle), (ClockStatus::Running, 2));
    assert_eq!(t.assignee, None);
    assert_eq!(t.state, "triaged");
}

#[test]
fn notifications_follow_the_workflow_rules() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let d = w.submit("repair", Urgency::Normal, now);
    assert!(
        d.notifications
            .iter()
            .any(|n| n.event == "submitted" && n.recipient == Recipient::Staff(Role::Secretary))
    );
    let t = ok(
        wf,
        &d.ticket,
        &w.secretary,
        "triage",
        Fields::default(),
        now,
    );
    let d = act(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Team(w.team)),
        now,
    )
    .unwrap();
    let to: Vec<_> = d.notifications.iter().map(|n| n.recipient).collect();
    assert!(to.contains(&Recipient::Team(w.team)));
    assert!(to.contains(&Recipient::Person(w.resident.id)));
}

#[test]
fn a_micro_wish_is_claimed_from_the_wall_and_confirmed() {
    let w = world("micro-wish");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("micro_wish", Urgency::Normal, now).ticket;
    assert_eq!(t.state, "posted");
    let t = ok(wf, &t, &w.secretary, "approve", Fields::default(), now);
    let partner = Actor::new(Uuid::now_v7(), [Role::Member]);
    let t = ok(wf, &t, &partner, "claim", Fields::default(), now);
    assert_eq!(t.assignee, Some(Assignee::Person(partner.id)));
    assert_eq!(
        act(wf, &t, &w.member, "fulfil", Fields::default(), now)
            .unwrap_err()
            .code(),
        "role_not_allowed"
    );
    let t = ok(wf, &t, &partner, "fulfil", Fields::default(), now);
    let t = ok(
        wf,
        &t,
        &w.resident,
        "confirm",
        Fields {
            rating: Some(5),
            ..Fields::default()
        },
        now,
    );
    assert_eq!(t.state, "closed");
}

#[test]
fn a_mediation_waits_seven_days_for_its_follow_up_visit() {
    let w = world("dispute-mediation");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("mediation", Urgency::Normal, now).ticket;
    let t = ok(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Team(w.team)),
        now,
    );
    let t = ok(wf, &t, &w.member, "take", Fields::default(), now);
    let settle = Fields {
        note: Some("双方同意错峰晾晒".into()),
        hours: Some(3.0),
        ..Fields::default()
    };
    let d = act(wf, &t, &w.member, "settle", settle, at("2026-03-10T10:00")).unwrap();
    let visit = set_timer(&d, &TimerKey::State("visit_due".into()))
        .unwrap()
        .clone();
    assert_eq!(visit.due_at, at("2026-03-17T10:00"));
    let due = fire(wf, &d.ticket, &visit, visit.due_at).unwrap();
    assert_eq!(due.ticket.state, "follow_up");
    assert_eq!(
        due.ticket.clock("follow_up").unwrap().status,
        ClockStatus::Running
    );
    let t = ok(
        wf,
        &due.ticket,
        &w.member,
        "visit",
        Fields {
            note: Some("回访:邻里和睦".into()),
            rating: Some(5),
            ..Fields::default()
        },
        at("2026-03-17T15:00"),
    );
    assert_eq!(t.state, "closed");
    assert!(
        t.clocks.iter().all(|c| c.status != ClockStatus::Running),
        "a terminal state stops every clock"
    );
}

#[test]
fn community_staff_may_do_what_a_secretary_may() {
    let w = world("community-service");
    let now = at("2026-03-09T09:00");
    let t = w.submit("repair", Urgency::Normal, now).ticket;
    let community = Actor::new(Uuid::now_v7(), [Role::Community]);
    let d = act(&w.wf, &t, &community, "triage", Fields::default(), now).unwrap();
    assert_eq!(d.events[0].actor.role, Role::Community);
}

#[test]
fn a_reassignment_re_enters_dispatched_and_restarts_the_expiry() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let t = w.submit("repair", Urgency::Normal, now).ticket;
    let t = ok(wf, &t, &w.secretary, "triage", Fields::default(), now);
    let first = act(
        wf,
        &t,
        &w.secretary,
        "dispatch",
        to(Assignee::Person(w.member.id)),
        now,
    )
    .unwrap();
    let old = set_timer(&first, &TimerKey::State("expire".into()))
        .unwrap()
        .clone();
    let reassign = Fields {
        reason: Some("张师傅出差".into()),
        ..to(Assignee::Person(w.other_member.id))
    };
    let d = act(
        wf,
        &first.ticket,
        &w.secretary,
        "reassign",
        reassign,
        at("2026-03-09T09:20"),
    )
    .unwrap();
    let new = set_timer(&d, &TimerKey::State("expire".into()))
        .unwrap()
        .clone();
    assert_eq!(
        new.due_at,
        at("2026-03-09T09:50"),
        "the new volunteer gets a full 30 minutes"
    );
    assert_ne!(new.epoch, old.epoch);
    assert!(
        fire(wf, &d.ticket, &old, old.due_at).is_none(),
        "the first expiry is void"
    );
    // A note stays: the expiry keeps running from the dispatch.
    let n = act(
        wf,
        &d.ticket,
        &w.secretary,
        "note",
        Fields {
            note: Some("已电话联系".into()),
            ..Fields::default()
        },
        now,
    )
    .unwrap();
    assert!(n.timers.is_empty());
    assert_eq!(n.ticket.state_entered_seq, d.ticket.state_entered_seq);
}

#[test]
fn a_ticket_stops_taking_notes_at_its_event_limit() {
    let w = world("community-service");
    let wf = &w.wf;
    let now = at("2026-03-09T09:00");
    let mut t = w.submit("repair", Urgency::Normal, now).ticket;
    let note = || Fields {
        note: Some("催一下".into()),
        ..Fields::default()
    };
    let mut refused = None;
    for _ in 0..2000 {
        match act(wf, &t, &w.resident, "note", note(), now) {
            Ok(d) => t = d.ticket,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert_eq!(refused.map(|e| e.code()), Some("ticket_full"));
    assert!(t.version <= workflow_core::command::MAX_EVENTS_PER_TICKET);
    assert!(t.version > 900, "the limit is not hit early: {}", t.version);
}
