//! Smart dispatch end to end over HTTP, on both backends: ranked candidates with reasons,
//! a team pool raced by twenty members, automatic dispatch through declines and an expiry to
//! the secretary, reassignment on the audit trail, and the micro-wish wall.

use crate::support::{TestApp, told};
use reqwest::StatusCode;
use serde_json::{Value, json};
use storage::NewPerson;
use uuid::Uuid;
use workflow_core::{Recipient, Role};

/// A member of 荷花塘社区 with a token, for the tests' own fixture.
async fn member(app: &TestApp, name: &str, skills: &[&str], home: Option<Uuid>) -> (Uuid, String) {
    let id = app
        .store
        .create_person(&NewPerson {
            name: name.into(),
            roles: vec![Role::Member],
            community_id: Some(app.demo.hehuatang),
            home_building_id: home,
            skills: skills.iter().map(|s| s.to_string()).collect(),
            ..NewPerson::default()
        })
        .await
        .unwrap();
    (id, app.store.issue_token(id).await.unwrap())
}

async fn act_as(
    app: &TestApp,
    token: &str,
    ticket: &str,
    action: &str,
    body: Value,
) -> crate::support::Reply {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/tickets/{ticket}/actions/{action}")))
            .bearer_auth(token)
            .json(&body),
    )
    .await
}

fn holder(app_ticket: &Value) -> Option<&str> {
    app_ticket["assignee"]["id"].as_str()
}

async fn ticket(app: &TestApp, t: &str) -> Value {
    app.get("secretary", &format!("/api/v1/tickets/{t}"))
        .await
        .body
}

async fn actions(app: &TestApp, t: &str) -> Vec<String> {
    let r = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn twenty_members_race_for_a_pool_ticket_and_one_wins(app: TestApp) {
    let mut racers = Vec::new();
    for i in 0..20 {
        racers.push(member(&app, &format!("红马甲{i:02}"), &["elderly_care"], None).await);
    }
    let ids: Vec<Uuid> = racers.iter().map(|(id, _)| *id).collect();
    let team = app
        .store
        .create_team(app.demo.hehuatang, "红马甲志愿服务队", Some(ids[0]), &ids)
        .await
        .unwrap();
    let t = app.submit("resident", "elderly_care", "帮忙取药").await;
    app.act("secretary", &t, "triage", Value::Null).await;
    let r = app
        .act("secretary", &t, "dispatch", json!({"team": team}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let version = r.body["version"].as_u64().unwrap();

    // Every member of the pool sees it among their requests before the race.
    for (_, token) in racers.iter().take(3) {
        let r = app
            .send(
                app.client
                    .get(app.url("/api/v1/tickets"))
                    .bearer_auth(token),
            )
            .await;
        assert!(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == t.as_str())
        );
    }

    let start = std::sync::Arc::new(tokio::sync::Barrier::new(racers.len()));
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = racers
        .iter()
        .map(|(id, token)| {
            let (app, t, token, id, start) =
                (app.clone(), t.clone(), token.clone(), *id, start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let r = act_as(&app, &token, &t, "accept", json!({"version": version})).await;
                (id, r.status, r.code().to_owned())
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|r| r.1 == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.1 == StatusCode::OK
                || (r.1 == StatusCode::CONFLICT && r.2 == "stale_version")),
        "{results:?}"
    );
    // One who comes late without the version they saw: the request no longer waits in the
    // pool (as docs/DISPATCH.md says).
    let (_, late) = racers.iter().find(|(id, _)| *id != winners[0].0).unwrap();
    let r = act_as(&app, late, &t, "accept", json!({})).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "action_not_allowed"),
        "{:?}",
        r.body
    );
    let winner = winners[0].0.to_string();
    let now = ticket(&app, &t).await;
    assert_eq!(
        (now["state"].as_str(), holder(&now)),
        (Some("accepted"), Some(winner.as_str()))
    );
    assert_eq!(
        actions(&app, &t)
            .await
            .iter()
            .filter(|k| *k == "accept")
            .count(),
        1
    );
    // A loser trying again, now at the current version, is refused: it is gone.
    let (_, loser) = racers
        .iter()
        .find(|(id, _)| id.to_string() != winner)
        .unwrap();
    let v = now["version"].as_u64().unwrap();
    let r = act_as(&app, loser, &t, "accept", json!({"version": v})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

async fn candidates_are_ranked_with_reasons(app: TestApp) {
    let building = app.demo.hehuatang_building;
    let (near, _) = member(&app, "A 邻居", &["errand"], Some(building)).await;
    let (far, _) = member(&app, "B 远处", &["errand"], None).await;
    let t = app.submit("resident", "repair", "厨房水管漏水").await;
    let r = app
        .get("secretary", &format!("/api/v1/tickets/{t}/candidates"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let list = r.body.as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|c| c["name"].as_str().unwrap()).collect();
    // 王师傅 repairs: first. Every member is listed, none dropped.
    assert_eq!(names[0], "王师傅", "{names:?}");
    for id in [near, far] {
        assert!(list.iter().any(|c| c["id"] == id.to_string()));
    }
    let first = &list[0];
    let codes: Vec<&str> = first["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"skill_match"), "{codes:?}");
    let sum: i64 = first["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["points"].as_i64().unwrap())
        .sum();
    assert_eq!(first["score"].as_i64(), Some(sum));
    assert!(
        first["reasons"][0]["text"]
            .as_str()
            .unwrap()
            .contains("技能")
    );
    // Residents and volunteers do not see the ranking.
    for who in ["resident", "member"] {
        let r = app
            .get(who, &format!("/api/v1/tickets/{t}/candidates"))
            .await;
        assert!(
            matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
            "{who}: {}",
            r.status
        );
    }
}

async fn auto_dispatch_moves_on_after_declines_and_expiry_then_hands_back(app: TestApp) {
    // A working morning: the dispatch expiry counts office time, which does not pass at night.
    app.at("2026-11-23T09:00");
    let building = app.demo.hehuatang_building;
    // Ranked: A (skill, same building), then B and C (skill; B before C by name).
    let (a, a_token) = member(&app, "A 跑腿", &["errand"], Some(building)).await;
    let (b, _) = member(&app, "B 跑腿", &["errand"], None).await;
    let (c, c_token) = member(&app, "C 跑腿", &["errand"], None).await;
    let t = app
        .submit("resident", "errand", "帮忙办理养老资格认证")
        .await;
    app.act("secretary", &t, "triage", Value::Null).await;

    // Triage set an automatic dispatch due at once: the timer worker gives it to A.
    app.advance(0).await;
    let now = ticket(&app, &t).await;
    assert_eq!(
        (now["state"].as_str(), holder(&now)),
        (Some("dispatched"), Some(a.to_string().as_str()))
    );
    let r = act_as(
        &app,
        &a_token,
        &t,
        "decline",
        json!({"reason": "今天不在家"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Declined: the next one, not A again.
    app.advance(0).await;
    let now = ticket(&app, &t).await;
    assert_eq!(holder(&now), Some(b.to_string().as_str()));
    // B lets it expire (30 minutes).
    app.advance(31 * 60).await;
    let now = ticket(&app, &t).await;
    assert_eq!(
        (now["state"].as_str(), holder(&now)),
        (Some("dispatched"), Some(c.to_string().as_str()))
    );
    act_as(&app, &c_token, &t, "decline", json!({"reason": "腿脚不便"})).await;

    // Three attempts spent: back to the secretary, who is told.
    app.advance(0).await;
    let now = ticket(&app, &t).await;
    assert_eq!(
        (now["state"].as_str(), holder(&now)),
        (Some("triaged"), None)
    );
    let kinds = actions(&app, &t).await;
    assert_eq!(
        kinds.iter().filter(|k| *k == "dispatch").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("auto_dispatch_stopped"),
        "{kinds:?}"
    );
    let secretary_told = told(&app, &t).await.into_iter().any(|(event, to)| {
        event == "auto_dispatch_stopped" && to == Recipient::Staff(Role::Secretary)
    });
    assert!(secretary_told, "{:?}", told(&app, &t).await);
    // The ranking now lists the three last, each with the reason.
    let r = app
        .get("secretary", &format!("/api/v1/tickets/{t}/candidates"))
        .await;
    let tried = [a, b, c].map(|id| id.to_string());
    let list = r.body.as_array().unwrap();
    let listed: Vec<&Value> = list
        .iter()
        .filter(|x| tried.iter().any(|id| x["id"] == id.as_str()))
        .collect();
    assert_eq!(listed.len(), 3);
    for x in listed {
        assert_eq!(x["eligible"], false);
        assert!(
            x["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["code"] == "tried_this")
        );
    }
    // Nothing more happens on its own; the secretary dispatches by hand.
    app.advance(3600).await;
    assert_eq!(ticket(&app, &t).await["state"], "triaged");
    let member = app.demo.user("member").id;
    let r = app
        .act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Declined again: back to the secretary, who was already told the system stopped, and
    // is not told again.
    let r = app
        .act("member", &t, "decline", json!({"reason": "今天不在社区"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.advance(0).await;
    let kinds = actions(&app, &t).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| *k == "auto_dispatch_stopped")
            .count(),
        1,
        "{kinds:?}"
    );
}

async fn a_reassignment_needs_a_reason_and_is_on_the_audit_trail(app: TestApp) {
    let t = app.submit("resident", "repair", "门锁坏了").await;
    let member = app.demo.user("member").id;
    let doctor = app.demo.user("doctor").id;
    app.act("secretary", &t, "triage", Value::Null).await;
    app.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    let r = app
        .act("secretary", &t, "reassign", json!({"assignee": doctor}))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "missing_field")
    );
    let r = app
        .act(
            "secretary",
            &t,
            "reassign",
            json!({"assignee": doctor, "reason": "王师傅住院"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let events = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await
        .body;
    let last = events
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "reassign")
        .unwrap();
    assert_eq!(last["data"]["reason"], "王师傅住院", "{last}");
    assert_eq!(last["actor_role"], "secretary", "{last}");
    assert_eq!(
        holder(&ticket(&app, &t).await),
        Some(doctor.to_string().as_str())
    );
}

async fn a_partner_unit_claims_a_wish_from_the_wall(app: TestApp) {
    let unit = app
        .post(
            "admin",
            "/api/v1/admin/partner-units",
            json!({"community_id": app.demo.hehuatang, "name": "运河小学"}),
        )
        .await;
    assert_eq!(unit.status, StatusCode::CREATED, "{:?}", unit.body);
    let contact = app
        .post(
            "admin",
            "/api/v1/admin/people",
            json!({"name": "钱老师", "phone": "13900001111", "roles": ["member"],
                   "community_id": app.demo.hehuatang, "partner_unit_id": unit.body["id"]}),
        )
        .await;
    let (contact_id, token) = (
        contact.body["id"].as_str().unwrap().to_owned(),
        contact.body["token"].as_str().unwrap().to_owned(),
    );
    let w = app
        .submit("resident", "micro_wish", "想要一本《十万个为什么》")
        .await;
    // Not on the wall until the secretary approves it.
    let wall = app.get("member", "/api/v1/wall").await;
    assert!(wall.body.as_array().unwrap().is_empty(), "{:?}", wall.body);
    ok_act(&app, "secretary", &w, "approve", Value::Null).await;

    let wall = app
        .get(
            "yunhe_resident",
            &format!("/api/v1/wall?community_id={}", app.demo.hehuatang),
        )
        .await;
    assert_eq!(
        wall.status,
        StatusCode::NOT_FOUND,
        "another community's wall"
    );
    let wall = app.get("resident", "/api/v1/wall").await;
    let items = wall.body.as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(
        (item["id"].as_str(), item["state_label"]["zh-CN"].as_str()),
        (Some(w.as_str()), Some("心愿墙上"))
    );
    // Nothing personal: no requester, no name, no phone anywhere in the wall.
    let text = wall.body.to_string();
    let resident = app.demo.user("resident");
    assert!(
        !text.contains(&resident.id.to_string()) && !text.contains(resident.name),
        "{text}"
    );
    // Partner units are not dispatched requests.
    let t = app.submit("resident", "repair", "窗户关不上").await;
    let c = app
        .get("secretary", &format!("/api/v1/tickets/{t}/candidates"))
        .await;
    assert!(!c.body.to_string().contains(&contact_id));

    let version = item["version"].as_u64().unwrap();
    let r = act_as(&app, &token, &w, "claim", json!({"version": version})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let wall = app.get("member", "/api/v1/wall").await;
    assert_eq!(
        wall.body[0]["claimed_by_partner"], "运河小学",
        "{:?}",
        wall.body
    );
    // A member who comes second finds it taken.
    let r = app
        .act("member", &w, "claim", json!({"version": version}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = act_as(&app, &token, &w, "fulfil", json!({"hours": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    ok_act(&app, "resident", &w, "confirm", json!({"rating": 5})).await;
    assert_eq!(ticket(&app, &w).await["state"], "closed");
    assert!(
        app.get("member", "/api/v1/wall")
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
}

async fn ok_act(app: &TestApp, who: &str, t: &str, action: &str, body: Value) {
    let r = app.act(who, t, action, body).await;
    assert_eq!(r.status, StatusCode::OK, "{who} {action}: {:?}", r.body);
}

backends! {
    a_partner_unit_claims_a_wish_from_the_wall,
    twenty_members_race_for_a_pool_ticket_and_one_wins,
    candidates_are_ranked_with_reasons,
    auto_dispatch_moves_on_after_declines_and_expiry_then_hands_back,
    a_reassignment_needs_a_reason_and_is_on_the_audit_trail,
}
