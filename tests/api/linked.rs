//! Requests handled together, end to end over HTTP on SQLite and on PostgreSQL: duplicates
//! merged under one request (并单), whose work is done once while every resident is told and
//! rates their own; and co-handlers beside the lead (主办/协办), each with their own deadline,
//! whose notes close with the lead's completion.

use crate::support::{TestApp, allowed, told};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::command::Recipient;

async fn ticket(app: &TestApp, user: &str, t: &str) -> Value {
    let r = app.get(user, &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn kinds(app: &TestApp, user: &str, t: &str) -> Vec<Value> {
    let r = app.get(user, &format!("/api/v1/tickets/{t}/events")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

fn clock<'a>(ticket: &'a Value, name: &str) -> &'a Value {
    ticket["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

fn ok(r: &crate::support::Reply, what: &str) {
    assert_eq!(r.status, StatusCode::OK, "{what}: {:?}", r.body);
}

/// A request from another building of 荷花塘小区.
async fn submit_from_building_2(app: &TestApp, category: &str, description: &str) -> String {
    let building = app
        .store
        .org_unit_named("building", "荷花塘小区2栋")
        .await
        .unwrap()
        .unwrap();
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": category, "description": description, "building_id": building}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn merged_requests_are_worked_once_and_each_resident_rates_their_own(app: TestApp) {
    app.at("2026-11-23T08:30");
    // Two residents of 1栋 report the same broken door; one of 2栋 too; a third asks for
    // something else.
    let first = app.submit("resident", "repair", "1栋单元门门禁坏了").await;
    app.advance(600).await;
    let again = app.submit("supervisor", "repair", "单元门关不上").await;
    let next_door = submit_from_building_2(&app, "repair", "门禁刷不开").await;
    let other = app.submit("resident", "sanitation", "楼道堆放杂物").await;

    // The branch is offered the same building first, then the same compound; never another
    // category, nor the request itself.
    let r = app
        .get("secretary", &format!("/api/v1/tickets/{again}/duplicates"))
        .await;
    ok(&r, "duplicates");
    let offered: Vec<(&str, &str)> = r
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["ticket"]["id"].as_str().unwrap(),
                d["nearness"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        offered,
        [
            (first.as_str(), "same_building"),
            (next_door.as_str(), "same_compound")
        ]
    );
    assert!(!offered.iter().any(|(id, _)| *id == other));
    let r = app
        .get("resident", &format!("/api/v1/tickets/{first}/duplicates"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "staff only");

    // Merged under the first: the resident who asked is told, and waits; the response
    // clock stops, the resolution clock waits with it.
    let r = app
        .act("secretary", &again, "merge", json!({"parent": first}))
        .await;
    ok(&r, "merge");
    assert_eq!(
        (r.body["state"].as_str(), r.body["parent"].as_str()),
        (Some("merged"), Some(first.as_str()))
    );
    assert_eq!(clock(&r.body, "response")["status"], "stopped");
    assert_eq!(clock(&r.body, "resolution")["status"], "paused");
    let supervisor = app.demo.user("supervisor").id;
    assert!(
        told(&app, &again)
            .await
            .contains(&("merge".into(), Recipient::Person(supervisor)))
    );
    let r = app
        .act("secretary", &next_door, "merge", json!({"parent": first}))
        .await;
    ok(&r, "merge the second");
    // A resident may not link requests: told so, not of a parent they never named (unmerge)
    // or cannot see (merge).
    let r = app.act("supervisor", &again, "unmerge", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "role_not_allowed"),
        "{:?}",
        r.body
    );
    let r = app
        .act("resident", &other, "merge", json!({"parent": next_door}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "role_not_allowed"),
        "{:?}",
        r.body
    );
    assert_eq!(
        ticket(&app, "secretary", &first).await["duplicates"],
        json!([again, next_door])
    );
    // No chains, no loops, nothing finished, nothing of another kind.
    for (child, parent, why) in [
        (&other, &again, "under a merged request"),
        (&first, &first, "under itself"),
        (&first, &other, "with others merged under it"),
    ] {
        let r = app
            .act("secretary", child, "merge", json!({"parent": parent}))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{why}: {:?}",
            r.body
        );
    }
    let r = app
        .act(
            "secretary",
            &other,
            "merge",
            json!({"parent": Uuid::now_v7()}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    // The work is done once, on the first request.
    app.work_to_completed(&first, "换了门禁电源").await;
    let member = app.demo.user("member").id;
    for child in [&again, &next_door] {
        let t = ticket(&app, "secretary", child).await;
        assert_eq!(t["state"], "completed", "{t}");
        assert_eq!(t["assignee"], Value::Null, "nobody was sent twice");
        assert_eq!(clock(&t, "resolution")["status"], "stopped");
        let done = kinds(&app, "secretary", child).await;
        let follow = done
            .iter()
            .find(|e| e["kind"] == "parent_completed")
            .unwrap();
        assert_eq!(follow["data"]["note"], "换了门禁电源");
        assert_eq!(follow["data"]["parent"], json!(first));
        assert!(
            told(&app, child)
                .await
                .iter()
                .all(|(_, r)| *r != Recipient::Person(member))
        );
    }
    assert!(
        told(&app, &again)
            .await
            .contains(&("parent_completed".into(), Recipient::Person(supervisor)))
    );

    // Each resident confirms and rates their own.
    for (who, t, stars) in [("resident", &first, 5), ("supervisor", &again, 3)] {
        let r = app.act(who, t, "confirm", json!({"rating": stars})).await;
        ok(&r, "confirm");
        assert_eq!(
            (r.body["state"].as_str(), r.body["rating"].as_u64()),
            (Some("closed"), Some(stars))
        );
    }
    let r = app
        .act("resident", &again, "confirm", json!({"rating": 1}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "not theirs to rate");
}

async fn a_parent_not_done_sends_its_duplicates_back_and_a_merge_can_be_undone(app: TestApp) {
    app.at("2026-11-23T08:30");
    let first = app.submit("resident", "repair", "路灯不亮").await;
    let second = app.submit("supervisor", "repair", "楼下路灯坏了").await;
    let third = submit_from_building_2(&app, "repair", "路灯一闪一闪").await;
    for child in [&second, &third] {
        let r = app
            .act("secretary", child, "merge", json!({"parent": first}))
            .await;
        ok(&r, "merge");
    }

    // Undone by hand, with the reason: back to the branch, and off the parent's list.
    let r = app.act("secretary", &third, "unmerge", json!({})).await;
    assert_eq!(r.code(), "missing_field");
    let r = app
        .act(
            "secretary",
            &third,
            "unmerge",
            json!({"reason": "是另一盏灯"}),
        )
        .await;
    ok(&r, "unmerge");
    assert_eq!(
        (r.body["state"].as_str(), &r.body["parent"]),
        (Some("triaged"), &Value::Null)
    );
    assert_eq!(
        ticket(&app, "secretary", &first).await["duplicates"],
        json!([second])
    );

    // The first is withdrawn: the one still merged comes back to the branch, unlinked,
    // and its resident and the branch are told.
    let r = app
        .act(
            "resident",
            &first,
            "cancel",
            json!({"reason": "已经修好了"}),
        )
        .await;
    ok(&r, "cancel");
    let t = ticket(&app, "secretary", &second).await;
    assert_eq!(
        (t["state"].as_str(), &t["parent"]),
        (Some("triaged"), &Value::Null)
    );
    assert_eq!(clock(&t, "resolution")["status"], "running", "{t}");
    let told = told(&app, &second).await;
    for r in [
        Recipient::Person(app.demo.user("supervisor").id),
        Recipient::Staff(Role::Secretary),
    ] {
        assert!(told.contains(&("parent_released".into(), r)), "{told:?}");
    }
    // Now free, it can be merged under the third.
    let r = app
        .act("secretary", &second, "merge", json!({"parent": third}))
        .await;
    ok(&r, "merge again");
}

async fn a_merged_request_its_resident_cancels_leaves_its_parent(app: TestApp) {
    let first = app.submit("resident", "repair", "1栋单元门门禁坏了").await;
    let again = app.submit("supervisor", "repair", "单元门关不上").await;
    let r = app
        .act("secretary", &again, "merge", json!({"parent": first}))
        .await;
    ok(&r, "merge");
    let r = app
        .act(
            "supervisor",
            &again,
            "cancel",
            json!({"reason": "自己修好了"}),
        )
        .await;
    ok(&r, "cancel");
    // The parent lets go of it, and says so in its history, as the system's doing: its own
    // resident is not told who cancelled.
    let parent = ticket(&app, "secretary", &first).await;
    assert_eq!(parent["duplicates"], json!([]), "{parent}");
    let events = app
        .get("resident", &format!("/api/v1/tickets/{first}/events"))
        .await;
    let last = events.body.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["kind"].as_str(), last["data"]["child"].as_str()),
        (Some("duplicate_detached"), Some(again.as_str()))
    );
    assert_eq!(last["actor_id"], Value::Null, "{last}");
}

async fn co_handlers_have_their_own_deadlines_and_close_with_the_lead(app: TestApp) {
    // 王师傅 leads a repair from Monday 08:30 (resolution: 2 working days).
    app.at("2026-11-23T08:30");
    let t = app
        .submit("resident", "repair", "楼顶水箱漏水, 物业也要来")
        .await;
    let id = |k: &str| app.demo.user(k).id;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": id("member")})),
        ("member", "accept", Value::Null),
    ] {
        ok(&app.act(who, &t, action, body).await, action);
    }
    // 刘医生 co-handles at once; 周律师 from 14:00, so each deadline is their own.
    let r = app
        .act(
            "secretary",
            &t,
            "add_co_handler",
            json!({"assignee": id("doctor")}),
        )
        .await;
    ok(&r, "add");
    assert_eq!(r.body["co_handlers"][0]["name"], "刘医生");
    assert!(
        told(&app, &t)
            .await
            .contains(&("co_handler_added".into(), Recipient::Person(id("doctor"))))
    );
    for (body, why) in [
        (json!({"assignee": id("member")}), "the lead"),
        (json!({"assignee": id("doctor")}), "already co-handling"),
        (json!({"team": app.demo.hehuatang_team}), "a team"),
        (json!({"assignee": id("yunhe_member")}), "another community"),
    ] {
        let r = app.act("secretary", &t, "add_co_handler", body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{why}: {:?}",
            r.body
        );
    }
    app.at("2026-11-23T14:00");
    let r = app
        .act(
            "secretary",
            &t,
            "add_co_handler",
            json!({"assignee": id("lawyer")}),
        )
        .await;
    ok(&r, "add the second");
    let lead_due = clock(&r.body, "resolution")["due"]
        .as_str()
        .unwrap()
        .to_owned();
    let co_due = r.body["co_handlers"][1]["due"].as_str().unwrap().to_owned();
    assert!(lead_due < co_due, "{lead_due} {co_due}");

    // A co-handler sees the request and reports their part; the resident cannot.
    let seen = ticket(&app, "doctor", &t).await;
    assert!(allowed(&seen).contains(&"co_report".to_owned()));
    let mine = app.get("lawyer", "/api/v1/tickets").await;
    assert!(
        mine.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == json!(t))
    );
    assert!(!allowed(&ticket(&app, "resident", &t).await).contains(&"co_report".to_owned()));
    let r = app
        .act(
            "doctor",
            &t,
            "co_report",
            json!({"note": "已联系物业, 周三关总阀"}),
        )
        .await;
    ok(&r, "report");
    assert!(
        told(&app, &t)
            .await
            .contains(&("co_report".into(), Recipient::Person(id("member"))))
    );
    let r = app
        .act("doctor", &t, "co_report", json!({"note": "再报一次"}))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_now"));
    let r = app
        .act("resident", &t, "co_report", json!({"note": "我也报"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // Wednesday 09:00: the lead's deadline has passed, the second co-handler's has not.
    let breaches = |events: &[Value]| -> Vec<String> {
        events
            .iter()
            .filter_map(|e| match e["kind"].as_str() {
                Some("sla_breach") if e["data"]["clock"] == "resolution" => Some("lead".into()),
                Some("co_handler_breached") => Some(e["data"]["person"].as_str()?.to_owned()),
                _ => None,
            })
            .collect()
    };
    app.at("2026-11-25T09:00");
    app.advance(0).await;
    assert_eq!(breaches(&kinds(&app, "secretary", &t).await), ["lead"]);
    // Wednesday 14:30: now the second co-handler's too; the one who reported never.
    app.at("2026-11-25T14:30");
    app.advance(0).await;
    assert_eq!(
        breaches(&kinds(&app, "secretary", &t).await),
        ["lead".to_owned(), id("lawyer").to_string()]
    );
    let told_now = told(&app, &t).await;
    for r in [
        Recipient::Person(id("lawyer")),
        Recipient::Staff(Role::Secretary),
    ] {
        assert!(
            told_now.contains(&("co_handler_breached".into(), r)),
            "{told_now:?}"
        );
    }
    let seen = ticket(&app, "secretary", &t).await;
    assert_eq!(
        (
            seen["co_handlers"][0]["breached"].as_bool(),
            seen["co_handlers"][1]["breached"].as_bool()
        ),
        (Some(false), Some(true))
    );

    // The lead completes: the request is completed with every co-handler's note.
    ok(
        &app.act("member", &t, "complete", json!({"hours": 2.0}))
            .await,
        "complete",
    );
    let events = kinds(&app, "resident", &t).await;
    let closed = events
        .iter()
        .find(|e| e["kind"] == "co_handling_closed")
        .unwrap();
    assert_eq!(
        closed["data"]["notes"],
        json!([
            {"person": id("doctor"), "note": "已联系物业, 周三关总阀"},
            {"person": id("lawyer"), "note": null},
        ])
    );
    let seen = ticket(&app, "resident", &t).await;
    assert_eq!(seen["state"], "completed");
    assert!(
        seen["co_handlers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["closed"] == true)
    );
    assert!(
        told(&app, &t)
            .await
            .contains(&("complete".into(), Recipient::Person(id("lawyer"))))
    );
    let r = app
        .act("lawyer", &t, "co_report", json!({"note": "晚了"}))
        .await;
    assert_ne!(r.status, StatusCode::OK);
}

backends! {
    merged_requests_are_worked_once_and_each_resident_rates_their_own,
    a_parent_not_done_sends_its_duplicates_back_and_a_merge_can_be_undone,
    co_handlers_have_their_own_deadlines_and_close_with_the_lead,
    a_merged_request_its_resident_cancels_leaves_its_parent,
}
