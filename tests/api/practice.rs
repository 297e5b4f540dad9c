//! The 接诉即办 practice beyond the happy path, end to end over HTTP on SQLite and on
//! PostgreSQL: requests entered for a resident and the channel they came by, public and
//! internal notes, objections to a dispatch, extensions of a deadline, warnings at several
//! thresholds and the chase notice, the follow-up call after closing.

use crate::support::{TestApp, allowed, told};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use workflow_core::command::Recipient;

async fn a_volunteer_enters_a_request_for_a_resident_by_phone(app: TestApp) {
    let resident = app.demo.user("resident").id;
    let member = app.demo.user("member").id;
    // The volunteer finds her by the number she called from; only in their own community.
    let r = app
        .get("member", "/api/v1/residents?phone=13912345678")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!([{"id": resident, "name": "王奶奶", "home_building": "荷花塘小区1栋"}])
    );
    let r = app
        .get("yunhe_member", "/api/v1/residents?phone=13912345678")
        .await;
    assert_eq!(r.body, json!([]));
    let r = app.get("member", "/api/v1/residents?phone=1391234").await;
    assert_eq!(r.body, json!([]), "the whole number, not a part of it");
    let r = app
        .get("resident", "/api/v1/residents?phone=13912345678")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let body = json!({
        "category": "repair",
        "description": "王奶奶来电: 厨房水龙头漏水",
        "channel": "phone",
        "on_behalf_of": resident,
    });
    let r = app.post("member", "/api/v1/tickets", body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let t = r.body["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["requester"]["id"], json!(resident));
    assert_eq!(r.body["proxy_id"], json!(member));
    assert_eq!(r.body["channel"], "phone");
    assert_eq!(
        r.body["building_id"],
        json!(app.demo.hehuatang_building),
        "where help is needed defaults to the resident's home"
    );

    // The resident's own: in their list, and they are told it was entered for them.
    let mine = app.get("resident", "/api/v1/tickets").await;
    assert!(
        mine.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == json!(t))
    );
    assert!(
        told(&app, &t)
            .await
            .contains(&("submitted".into(), Recipient::Person(resident))),
        "{:?}",
        told(&app, &t).await
    );

    // The volunteer who entered it follows it as their own: they read it and find it in their
    // list; another volunteer of the community does not.
    let r = app.get("member", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let theirs = app.get("member", "/api/v1/tickets").await;
    assert!(
        theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == json!(t)),
        "{:?}",
        theirs.body
    );
    let r = app.get("doctor", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    // The audit says who entered it, in which role, and how it came.
    let events = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let first = &events.body[0];
    assert_eq!(
        (
            first["kind"].as_str(),
            first["actor_id"].clone(),
            first["actor_role"].as_str()
        ),
        (Some("submitted"), json!(member), Some("member"))
    );
    assert_eq!(first["data"]["proxy"], json!(member));
    assert_eq!(first["data"]["requester"], json!(resident));
    assert_eq!(first["data"]["channel"], "phone");

    // A resident asks for themselves, with the channel they came by; unknown channels and
    // the Open311 endpoint's own are refused.
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "在社区窗口登记", "channel": "visit"}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["channel"].as_str(), &r.body["proxy_id"]),
        (StatusCode::CREATED, Some("visit"), &Value::Null)
    );
    for channel in ["fax", "open311"] {
        let r = app
            .post(
                "resident",
                "/api/v1/tickets",
                json!({"category": "repair", "description": "x", "channel": channel}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{channel}"
        );
    }

    // Nobody enters a request for a resident of another community, nor for someone who is
    // no resident; street staff enter none.
    let yunhe_resident = app.demo.user("yunhe_resident").id;
    let secretary = app.demo.user("secretary").id;
    for (who, whom) in [
        ("member", yunhe_resident),
        ("secretary", yunhe_resident),
        ("member", secretary),
        ("member", Uuid::now_v7()),
    ] {
        let r = app
            .post(
                who,
                "/api/v1/tickets",
                json!({"category": "repair", "description": "代办", "on_behalf_of": whom, "building_id": app.demo.hehuatang_building}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{who} for {whom}: {:?}",
            r.body
        );
    }
    let r = app
        .post(
            "street",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "代办", "on_behalf_of": resident}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
}

async fn internal_notes_never_reach_the_resident(app: TestApp) {
    let t = app.submit("resident", "repair", "阳台门关不上").await;
    let member = app.demo.user("member").id;
    for (who, action, body) in [
        ("secretary", "note", json!({"note": "已联系物业, 明天上门"})),
        (
            "secretary",
            "internal_note",
            json!({"note": "该户老人独居, 上门请两人同行"}),
        ),
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": member})),
        (
            "member",
            "internal_note",
            json!({"note": "门框变形, 需要带刨子"}),
        ),
    ] {
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    let kinds = |r: &crate::support::Reply| -> Vec<String> {
        r.body
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let staff = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let volunteer = app
        .get("member", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let resident = app
        .get("resident", &format!("/api/v1/tickets/{t}/events"))
        .await;
    for r in [&staff, &volunteer] {
        assert_eq!(kinds(r).iter().filter(|k| *k == "internal_note").count(), 2);
    }
    assert!(kinds(&resident).contains(&"note".to_owned()));
    assert!(!kinds(&resident).contains(&"internal_note".to_owned()));
    assert!(
        !resident.body.to_string().contains("独居") && !resident.body.to_string().contains("刨子"),
        "no internal text anywhere in the resident's view"
    );
    // Nor in what the resident is told, nor can the resident write one.
    let resident_id = app.demo.user("resident").id;
    assert!(
        !told(&app, &t)
            .await
            .iter()
            .any(|(e, r)| e == "internal_note" && *r == Recipient::Person(resident_id))
    );
    let r = app
        .act("resident", &t, "internal_note", json!({"note": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let ticket = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert!(
        !ticket.body["allowed_actions"]
            .to_string()
            .contains("internal_note")
    );
}

async fn the_third_returned_dispatch_goes_up_to_the_community(app: TestApp) {
    let t = app
        .submit("resident", "repair", "楼顶漏水, 好像是公共管道")
        .await;
    let member = app.demo.user("member").id;
    let r = app.act("secretary", &t, "triage", Value::Null).await;
    assert_eq!(r.status, StatusCode::OK);
    for round in 1..=3 {
        let r = app
            .act("secretary", &t, "dispatch", json!({"assignee": member}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let r = app
            .act(
                "member",
                &t,
                "decline",
                json!({"reason": "公共管道归物业, 不是志愿者能修的"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["returns"], json!(round));
        let up = told(&app, &t).await.contains(&(
            "objections_escalated".into(),
            Recipient::Staff(workflow_core::Role::Community),
        ));
        match round {
            1 | 2 => {
                assert_eq!(r.body["escalated_to"], Value::Null, "round {round}");
                assert!(!up, "round {round}");
            }
            _ => {
                assert_eq!(r.body["escalated_to"], "community");
                assert!(up, "the community office is told");
            }
        }
    }
    let events = app
        .get("community", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let last = events.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (
            last["kind"].as_str(),
            last["data"]["returns"].as_u64(),
            last["data"]["to"].as_str()
        ),
        (Some("objections_escalated"), Some(3), Some("community"))
    );
    // The rule took it up, not the volunteer who declined: the system's event. So are the
    // clocks the people's actions started and stopped.
    assert_eq!(
        (last["actor_id"].clone(), last["actor_role"].as_str()),
        (Value::Null, Some("system"))
    );
    let clocks: Vec<_> = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"].as_str().unwrap().starts_with("clock_"))
        .collect();
    assert!(!clocks.is_empty());
    assert!(
        clocks
            .iter()
            .all(|e| e["actor_id"].is_null() && e["actor_role"] == "system"),
        "{clocks:?}"
    );
    // A fourth return is counted but tells nobody again.
    app.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    let r = app
        .act("member", &t, "decline", json!({"reason": "同上"}))
        .await;
    assert_eq!(r.body["returns"], json!(4));
    let events = app
        .get("community", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let escalations = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "objections_escalated")
        .count();
    assert_eq!(escalations, 1);
}

/// The request's events the caller sees, of one kind.
async fn events_of(app: &TestApp, user: &str, t: &str, kind: &str) -> Vec<Value> {
    let r = app.get(user, &format!("/api/v1/tickets/{t}/events")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == kind)
        .cloned()
        .collect()
}

fn resolution(ticket: &Value) -> &Value {
    ticket["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "resolution")
        .unwrap()
}

/// A repair request accepted by 王师傅 on a Monday morning.
async fn accepted_repair(app: &TestApp, assignee: &str) -> String {
    app.at("2026-11-23T08:30");
    let t = app.submit("resident", "repair", "卫生间下水道堵了").await;
    let id = app.demo.user(assignee).id;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": id})),
        (assignee, "accept", Value::Null),
    ] {
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    t
}

async fn an_approved_extension_moves_the_deadline_and_a_refused_one_does_not(app: TestApp) {
    let t = accepted_repair(&app, "member").await;
    let before = app
        .get("member", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    let due = resolution(&before)["due"].as_str().unwrap().to_owned();
    assert!(allowed(&before).contains(&"request_extension".to_owned()));
    assert!(!allowed(&before).contains(&"approve_extension".to_owned()));

    // More than the rule's most, or not a duration: refused as a field.
    for bad in ["6wd", "0m", "soon"] {
        let r = app
            .act(
                "member",
                &t,
                "request_extension",
                json!({"reason": "等配件", "extend_by": bad}),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{bad}"
        );
    }
    let ask = json!({"reason": "水管配件要从厂家调货, 周三才到", "extend_by": "1wd"});
    let r = app
        .act("member", &t, "request_extension", ask.clone())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        r.body["extension"]["by_secs"],
        json!(7 * 3600),
        "a working day is 7 office hours"
    );
    assert!(!allowed(&r.body).contains(&"request_extension".to_owned()));
    // One at a time; the branch is told; the volunteer cannot decide their own.
    let r = app
        .act("member", &t, "request_extension", ask.clone())
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));
    assert!(told(&app, &t).await.contains(&(
        "request_extension".into(),
        Recipient::Staff(workflow_core::Role::Secretary)
    )));
    let r = app
        .act("member", &t, "approve_extension", Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let seen = app
        .get("secretary", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    assert!(allowed(&seen).contains(&"approve_extension".to_owned()));
    assert!(allowed(&seen).contains(&"refuse_extension".to_owned()));

    app.advance(3600).await;
    let r = app
        .act("secretary", &t, "approve_extension", Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let clock = resolution(&r.body);
    let new_due = clock["due"].as_str().unwrap().to_owned();
    assert_eq!(
        clock["original_due"].as_str(),
        Some(due.as_str()),
        "the audit keeps the original"
    );
    assert_eq!(clock["extended_secs"], json!(7 * 3600));
    let (old, new): (jiff::Timestamp, jiff::Timestamp) =
        (due.parse().unwrap(), new_due.parse().unwrap());
    assert!(
        new > old + jiff::SignedDuration::from_hours(7),
        "{old} → {new}: a working day later, nights between"
    );
    assert_eq!(r.body["extension"], Value::Null);

    // The resident is told the new date and the reason, and sees them in the history.
    assert!(told(&app, &t).await.contains(&(
        "clock_extended".into(),
        Recipient::Person(app.demo.user("resident").id)
    )));
    let ext = events_of(&app, "resident", &t, "clock_extended").await;
    assert_eq!(ext.len(), 1);
    assert_eq!(ext[0]["data"]["due"].as_str(), Some(new_due.as_str()));
    assert_eq!(ext[0]["data"]["due_before"].as_str(), Some(due.as_str()));
    assert_eq!(ext[0]["data"]["reason"], ask["reason"]);

    // The breach timer moved with it: nothing at the old deadline, the breach at the new.
    let now = app.engine.now();
    app.advance(old.duration_since(now).as_secs() + 60).await;
    assert!(
        events_of(&app, "secretary", &t, "sla_breach")
            .await
            .is_empty()
    );

    // A refused one leaves the deadline where it was.
    let r = app
        .act(
            "member",
            &t,
            "request_extension",
            json!({"reason": "还想再等等", "extend_by": "2wd"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .act("secretary", &t, "refuse_extension", Value::Null)
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "missing_field")
    );
    let r = app
        .act(
            "secretary",
            &t,
            "refuse_extension",
            json!({"reason": "配件已到, 请按期完成"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(resolution(&r.body)["due"].as_str(), Some(new_due.as_str()));
    assert_eq!(r.body["extension"], Value::Null);
    assert!(told(&app, &t).await.contains(&(
        "refuse_extension".into(),
        Recipient::Person(app.demo.user("member").id)
    )));

    // After the deadline, no extension is asked for.
    let now = app.engine.now();
    app.advance(new.duration_since(now).as_secs() + 60).await;
    assert_eq!(
        events_of(&app, "secretary", &t, "sla_breach").await.len(),
        1
    );
    let r = app
        .act(
            "member",
            &t,
            "request_extension",
            json!({"reason": "晚了", "extend_by": "1wd"}),
        )
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));
    let seen = app
        .get("member", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    assert!(!allowed(&seen).contains(&"request_extension".to_owned()));
}

async fn whoever_asks_for_more_time_does_not_grant_it(app: TestApp) {
    // The branch secretary holding a request asks; the community office decides.
    let t = accepted_repair(&app, "secretary").await;
    let r = app
        .act(
            "secretary",
            &t,
            "request_extension",
            json!({"reason": "需要物业配合", "extend_by": "4h"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(!allowed(&r.body).contains(&"approve_extension".to_owned()));
    // The community office, who may decide it, is told; not the branch, who asked.
    let asked: Vec<_> = told(&app, &t)
        .await
        .into_iter()
        .filter(|(event, _)| event == "request_extension")
        .map(|(_, to)| to)
        .collect();
    assert_eq!(
        asked,
        vec![Recipient::Staff(workflow_core::role::Role::Community)]
    );
    let r = app
        .act("secretary", &t, "approve_extension", Value::Null)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));
    let r = app
        .act("community", &t, "approve_extension", Value::Null)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(resolution(&r.body)["extended_secs"], json!(4 * 3600));
    // An extension not decided before the deadline lapses with it.
    let r = app
        .act(
            "secretary",
            &t,
            "request_extension",
            json!({"reason": "再要一点", "extend_by": "4h"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let due: jiff::Timestamp = resolution(&r.body)["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = app.engine.now();
    app.advance(due.duration_since(now).as_secs() + 60).await;
    let seen = app
        .get("community", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    assert_eq!(seen["extension"], Value::Null);
    let r = app
        .act("community", &t, "approve_extension", Value::Null)
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));
}

async fn the_resolution_clock_warns_at_each_threshold_then_chases(app: TestApp) {
    let t = accepted_repair(&app, "member").await;
    let ticket = app
        .get("member", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    let due: jiff::Timestamp = resolution(&ticket)["due"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // Hour by hour (nights and all) until past the deadline, as the timer worker would.
    while app.engine.now() < due + jiff::SignedDuration::from_mins(30) {
        app.advance(1800).await;
    }
    let r = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let fired: Vec<(String, Value, jiff::Timestamp)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["data"]["clock"] == "resolution")
        .filter(|e| {
            ["sla_warning", "sla_chase", "sla_breach"].contains(&e["kind"].as_str().unwrap())
        })
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["data"]["share"].clone(),
                e["data"]["timer_due"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let kinds: Vec<(&str, &Value)> = fired.iter().map(|(k, s, _)| (k.as_str(), s)).collect();
    assert_eq!(
        kinds,
        [
            ("sla_warning", &json!(50)),
            ("sla_warning", &json!(75)),
            ("sla_warning", &Value::Null),
            ("sla_chase", &Value::Null),
            ("sla_breach", &Value::Null),
        ]
    );
    assert!(
        fired.windows(2).all(|w| w[0].2 < w[1].2),
        "each after the one before: {fired:?}"
    );
    assert_eq!(fired[4].2, due);
    // The chase goes to the volunteer and their branch.
    let told = told(&app, &t).await;
    for r in [
        Recipient::Person(app.demo.user("member").id),
        Recipient::Staff(workflow_core::Role::Secretary),
    ] {
        assert!(told.contains(&("sla_chase".into(), r)), "{told:?}");
    }
}

/// The branch's follow-up task list.
async fn follow_ups_due(app: &TestApp) -> Vec<String> {
    let r = app
        .get("secretary", "/api/v1/tickets?follow_up_due=true")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_follow_up_task_appears_the_next_working_day(app: TestApp) {
    // Closed on a Friday afternoon: 助老 asks for a follow-up call, 环境卫生 does not.
    app.at("2026-11-27T15:00");
    let care = app
        .submit("resident", "elderly_care", "陪王奶奶去医院复诊")
        .await;
    let clean = app.submit("resident", "sanitation", "楼道堆放杂物").await;
    app.work_to_closed(&care).await;
    app.work_to_closed(&clean).await;
    assert!(follow_ups_due(&app).await.is_empty());
    let r = app
        .act("secretary", &care, "follow_up", json!({"note": "太早了"}))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));

    // Not over the weekend, nor on Monday morning: the same time the next working day.
    app.at("2026-11-30T14:50");
    app.advance(0).await;
    assert!(follow_ups_due(&app).await.is_empty());
    app.advance(15 * 60).await;
    assert_eq!(follow_ups_due(&app).await, [care.as_str()]);
    assert!(told(&app, &care).await.contains(&(
        "follow_up_due".into(),
        Recipient::Staff(workflow_core::Role::Secretary)
    )));
    assert!(
        told(&app, &clean)
            .await
            .iter()
            .all(|(e, _)| e != "follow_up_due")
    );

    let closed_at = app
        .get("secretary", &format!("/api/v1/tickets/{care}"))
        .await
        .body["closed_at"]
        .clone();
    let r = app
        .act(
            "secretary",
            &care,
            "follow_up",
            json!({"note": "王奶奶说小李很耐心, 复诊结果正常"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["follow_up"]["done_at"].is_string());
    assert_eq!(
        (
            r.body["closed_at"].clone(),
            r.body["state"].as_str(),
            r.body["rating"].as_u64()
        ),
        (closed_at, Some("closed"), Some(5))
    );
    assert!(follow_ups_due(&app).await.is_empty());
    let r = app
        .act("secretary", &care, "follow_up", json!({"note": "再来一次"}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "not_now"),
        "recorded once"
    );
}

/// The resident is told when her request goes back to the branch and when it closes itself;
/// the dispatch expiry and the automatic close count office time, not nights and weekends.
async fn the_resident_hears_of_a_decline_an_expiry_and_an_automatic_close(app: TestApp) {
    let resident = Recipient::Person(app.demo.user("resident").id);
    let member = app.demo.user("member").id;
    let told_her = |told: Vec<(String, Recipient)>| -> Vec<String> {
        told.into_iter()
            .filter(|(_, to)| *to == resident)
            .map(|(event, _)| event)
            .collect()
    };
    // Friday, twenty office minutes before closing time.
    app.at("2026-11-27T17:10");
    let t = app.submit("resident", "repair", "阳台晾衣架掉了").await;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": member})),
        ("member", "decline", json!({"reason": "这周在外地"})),
        ("secretary", "dispatch", json!({"assignee": member})),
    ] {
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    assert!(told_her(told(&app, &t).await).contains(&"decline".to_owned()));
    // Friday night and the weekend do not count: still dispatched on Monday morning…
    app.at("2026-11-30T08:35");
    app.advance(0).await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.body["state"], "dispatched", "{:?}", r.body);
    // …and expired once thirty office minutes have passed in all.
    app.advance(20 * 60).await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.body["state"], "triaged");
    assert!(told_her(told(&app, &t).await).contains(&"expire".to_owned()));
    // Done on a Friday afternoon and never confirmed: closed after three working days.
    app.at("2026-12-04T15:00");
    let t = app.submit("resident", "repair", "厨房灯不亮").await;
    app.work_to_completed(&t, "").await;
    app.at("2026-12-09T14:00");
    app.advance(0).await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        r.body["state"], "completed",
        "Monday to Wednesday noon is not three days"
    );
    app.at("2026-12-09T16:00");
    app.advance(0).await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.body["state"], "closed");
    assert!(told_her(told(&app, &t).await).contains(&"auto_close".to_owned()));
}

backends! {
    the_resident_hears_of_a_decline_an_expiry_and_an_automatic_close,
    a_volunteer_enters_a_request_for_a_resident_by_phone,
    internal_notes_never_reach_the_resident,
    the_third_returned_dispatch_goes_up_to_the_community,
    an_approved_extension_moves_the_deadline_and_a_refused_one_does_not,
    whoever_asks_for_more_time_does_not_grant_it,
    the_resolution_clock_warns_at_each_threshold_then_chases,
    a_follow_up_task_appears_the_next_working_day,
}
