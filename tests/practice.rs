//! The 接诉即办 practice beyond the happy path, end to end over HTTP on SQLite and on
//! PostgreSQL: requests entered for a resident and the channel they came by, public and
//! internal notes, extensions of a deadline, objections to a dispatch.

mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::OutboxState;
use support::TestApp;
use uuid::Uuid;
use workflow_core::command::Recipient;

/// Every message the outbox holds for `ticket`, as (event, recipient).
async fn told(app: &TestApp, ticket: &str) -> Vec<(String, Recipient)> {
    let ticket: Uuid = ticket.parse().unwrap();
    let mut all = Vec::new();
    for state in [
        OutboxState::Pending,
        OutboxState::Delivered,
        OutboxState::Failed,
    ] {
        for e in app.store.outbox_entries(state, None, 1000).await.unwrap() {
            if e.message.ticket_id == ticket {
                all.push((e.message.event, e.message.recipient));
            }
        }
    }
    all
}

async fn a_volunteer_enters_a_request_for_a_resident_by_phone(app: TestApp) {
    let resident = app.demo.user("resident").id;
    let member = app.demo.user("member").id;
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
    let kinds = |r: &support::Reply| -> Vec<String> {
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

backends! {
    a_volunteer_enters_a_request_for_a_resident_by_phone,
    internal_notes_never_reach_the_resident,
    the_third_returned_dispatch_goes_up_to_the_community,
}
