//! The HTTP API as its users meet it: a real server on a random port, a real HTTP client,
//! the demo community, on SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn kinds(events: &Value) -> Vec<String> {
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_repair_walks_from_request_to_rating_in_chinese(app: TestApp) {
    let t = app
        .submit("resident", "repair", "楼道灯坏了，晚上看不见 💡")
        .await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["state"], "submitted");
    assert_eq!(r.body["state_label"]["zh-CN"], "待受理");
    assert_eq!(r.body["description"], "楼道灯坏了，晚上看不见 💡");
    assert_eq!(r.body["clocks"][1]["name"], "response");
    assert_eq!(r.body["clocks"][1]["status"], "running");
    let allowed: Vec<_> = r.body["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        allowed,
        ["note", "cancel"],
        "the resident may add a note or cancel"
    );

    let member = app.demo.user("member").id;
    let steps = [
        (
            "secretary",
            "triage",
            json!({"note": "已受理，马上安排"}),
            "triaged",
        ),
        (
            "secretary",
            "dispatch",
            json!({"assignee": member}),
            "dispatched",
        ),
        ("member", "accept", Value::Null, "accepted"),
        ("member", "start", Value::Null, "in_progress"),
        (
            "member",
            "complete",
            json!({"hours": 1.5, "note": "已更换灯泡"}),
            "completed",
        ),
        (
            "resident",
            "confirm",
            json!({"rating": 5, "note": "谢谢王师傅！"}),
            "closed",
        ),
    ];
    let mut version = r.body["version"].as_u64().unwrap();
    for (who, action, body, state) in steps {
        let mut body = body;
        if let Value::Object(o) = &mut body {
            o.insert("version".into(), json!(version));
        }
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
        assert_eq!(r.body["state"], state, "{action}");
        version = r.body["version"].as_u64().unwrap();
    }
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        (r.body["rating"].as_u64(), r.body["service_hours"].as_f64()),
        (Some(5), Some(1.5))
    );
    assert_eq!(r.body["state_label"]["zh-CN"], "已办结");
    let events = app
        .get("resident", &format!("/api/v1/tickets/{t}/events"))
        .await;
    assert_eq!(
        kinds(&events.body),
        [
            "submitted",
            "clock_started",
            "clock_started",
            "triage",
            "dispatch",
            "accept",
            "clock_stopped",
            "start",
            "complete",
            "clock_stopped",
            "confirm"
        ]
    );
    let confirm = events.body.as_array().unwrap().last().unwrap();
    assert_eq!(confirm["actor_role"], "resident");
    assert_eq!(confirm["data"]["note"], "谢谢王师傅！");
}

async fn a_micro_wish_and_a_mediation_walk_through(app: TestApp) {
    let w = app
        .submit("resident", "micro_wish", "想要一本《十万个为什么》")
        .await;
    for (who, action, body, state) in [
        ("secretary", "approve", Value::Null, "approved"),
        ("doctor", "claim", Value::Null, "claimed"),
        ("doctor", "fulfil", json!({"hours": 1}), "fulfilled"),
        ("resident", "confirm", json!({"rating": 5}), "closed"),
    ] {
        let r = app.act(who, &w, action, body).await;
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{action}: {:?}",
            r.body
        );
    }
    let m = app
        .submit("resident", "mediation", "楼上漏水，邻居不肯修")
        .await;
    let team = app.demo.hehuatang_team;
    for (who, action, body, state) in [
        ("secretary", "dispatch", json!({"team": team}), "assigned"),
        ("lawyer", "take", Value::Null, "mediating"),
        (
            "lawyer",
            "settle",
            json!({"note": "双方同意共同出资维修", "hours": 2}),
            "settled",
        ),
    ] {
        let r = app.act(who, &m, action, body).await;
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (StatusCode::OK, Some(state)),
            "{action}: {:?}",
            r.body
        );
    }
    // The follow-up visit falls due seven days later; the mediator visits and closes the case.
    app.advance(7 * 86_400 + 60).await;
    let r = app.get("lawyer", &format!("/api/v1/tickets/{m}")).await;
    assert_eq!(r.body["state"], "follow_up");
    assert_eq!(r.body["state_label"]["zh-CN"], "待回访");
    let r = app
        .act(
            "lawyer",
            &m,
            "visit",
            json!({"note": "回访：双方已和好", "rating": 5}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["state"].as_str()),
        (StatusCode::OK, Some("closed")),
        "{:?}",
        r.body
    );
    let events = app
        .get("resident", &format!("/api/v1/tickets/{m}/events"))
        .await;
    let trail = kinds(&events.body);
    for k in [
        "submitted",
        "dispatch",
        "take",
        "settle",
        "visit_due",
        "visit",
    ] {
        assert!(trail.contains(&k.to_owned()), "{k} missing from {trail:?}");
    }
    let visit_due = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "visit_due")
        .unwrap();
    assert_eq!(visit_due["actor_role"], "system");
    let events = app
        .get("resident", &format!("/api/v1/tickets/{w}/events"))
        .await;
    assert_eq!(
        kinds(&events.body)
            .iter()
            .filter(|k| ["approve", "claim", "fulfil", "confirm"].contains(&k.as_str()))
            .count(),
        4
    );
}

async fn every_error_class_is_a_problem_document(app: TestApp) {
    let t = app.submit("resident", "repair", "门锁坏了").await;
    let problem = |r: &crate::support::Reply, status: StatusCode, code: &str| {
        assert_eq!(r.status, status, "{:?}", r.body);
        assert_eq!(r.code(), code, "{:?}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
    };
    // 401: no token, a wrong one, a revoked one.
    let r = app.send(app.client.get(app.url("/api/v1/tickets"))).await;
    problem(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = app
        .send(
            app.client
                .get(app.url("/api/v1/tickets"))
                .bearer_auth("ll_nope"),
        )
        .await;
    problem(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    // 409: an action not allowed in this state, and a stale version.
    problem(
        &app.act("secretary", &t, "accept", Value::Null).await,
        StatusCode::CONFLICT,
        "action_not_allowed",
    );
    problem(
        &app.act("secretary", &t, "triage", json!({"version": 1}))
            .await,
        StatusCode::CONFLICT,
        "stale_version",
    );
    // 403: a role the action does not admit.
    problem(
        &app.act("resident", &t, "triage", Value::Null).await,
        StatusCode::FORBIDDEN,
        "role_not_allowed",
    );
    // 422: a missing field, an invalid one, a field the action does not take, mass assignment.
    problem(
        &app.act("secretary", &t, "reject", Value::Null).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "missing_field",
    );
    problem(
        &app.act("secretary", &t, "triage", json!({"rating": 5}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "field_not_accepted",
    );
    problem(
        &app.act("secretary", &t, "triage", json!({"state": "closed"}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    );
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "x", "requester": "someone"}),
        )
        .await;
    problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "no_such", "description": "x"}),
        )
        .await;
    problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_category");
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "长".repeat(2001)}),
        )
        .await;
    problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field");
    // 404: an unknown action, a ticket that does not exist, a route that does not exist.
    problem(
        &app.act("secretary", &t, "teleport", Value::Null).await,
        StatusCode::NOT_FOUND,
        "unknown_action",
    );
    problem(
        &app.get(
            "secretary",
            &format!("/api/v1/tickets/{}", uuid::Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    problem(
        &app.get("secretary", "/api/v1/nothing/here").await,
        StatusCode::NOT_FOUND,
        "no_such_route",
    );
    // 400: malformed JSON, invalid UTF-8, an empty body where one is needed.
    let raw = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/tickets"))
            .bearer_auth(app.token("resident"))
            .header("content-type", "application/json")
            .body(body)
    };
    problem(
        &app.send(raw(b"{\"category\": ".to_vec())).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    problem(
        &app.send(raw(b"{\"category\": \"\xff\xfe\"}".to_vec()))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    problem(
        &app.send(raw(Vec::new())).await,
        StatusCode::BAD_REQUEST,
        "invalid_json",
    );
    // 413 is provoked in tests/api/hostile.rs by a raw client that reads the early answer: the
    // server refuses an oversize body before reading it and closes, so a client like this one,
    // still writing, may see the connection reset instead of the answer.
    // Nothing of the above changed the ticket.
    let r = app.get("secretary", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["version"].as_u64()),
        (Some("submitted"), Some(3))
    );
}

async fn fifty_accepts_at_once_have_one_winner(app: TestApp) {
    let t = app.submit("resident", "elderly_care", "帮忙买药").await;
    app.act("secretary", &t, "triage", Value::Null).await;
    let team = app.demo.hehuatang_team;
    let r = app
        .act("secretary", &t, "dispatch", json!({"team": team}))
        .await;
    let version = r.body["version"].as_u64().unwrap();
    let app = std::sync::Arc::new(app);
    let mut tasks = Vec::new();
    for i in 0..50 {
        let (app, t) = (app.clone(), t.clone());
        let who = ["member", "doctor", "lawyer"][i % 3];
        tasks.push(tokio::spawn(async move {
            app.act(who, &t, "accept", json!({"version": version}))
                .await
        }));
    }
    let mut codes = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        codes.push((r.status, r.code().to_owned()));
    }
    let ok = codes.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{codes:?}"
    );
    let events = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    assert_eq!(
        kinds(&events.body)
            .iter()
            .filter(|k| *k == "accept")
            .count(),
        1
    );
}

async fn nobody_sees_or_touches_what_is_not_theirs(app: TestApp) {
    let t = app
        .submit("resident", "repair", "王奶奶家的水龙头坏了")
        .await;
    let before = app
        .get("secretary", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    // Another community's resident, member and branch secretary; and a member not assigned.
    for who in [
        "yunhe_resident",
        "yunhe_member",
        "yunhe_secretary",
        "doctor",
    ] {
        let r = app.get(who, &format!("/api/v1/tickets/{t}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} read");
        let r = app.get(who, &format!("/api/v1/tickets/{t}/events")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} events");
        let r = app.act(who, &t, "triage", Value::Null).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who} act");
        let list = app.get(who, "/api/v1/tickets").await;
        let ids: Vec<_> = list.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].clone())
            .collect();
        assert!(!ids.contains(&json!(t)), "{who} list");
    }
    let after = app
        .get("secretary", &format!("/api/v1/tickets/{t}"))
        .await
        .body;
    assert_eq!(before["version"], after["version"], "nothing changed");
    // Who may see the number: staff yes, a volunteer only while holding the open request.
    assert_eq!(after["requester"]["phone"], "13912345678");
    let street = app.get("street", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        street.status,
        StatusCode::OK,
        "the street office supervises its communities"
    );
    app.act("secretary", &t, "triage", Value::Null).await;
    let team = app.demo.hehuatang_team;
    app.act("secretary", &t, "dispatch", json!({"team": team}))
        .await;
    let pooled = app.get("doctor", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        pooled.body["requester"]["phone"], "139****5678",
        "masked for the pool"
    );
    app.act("doctor", &t, "accept", Value::Null).await;
    let held = app.get("doctor", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        held.body["requester"]["phone"], "13912345678",
        "the holder may call"
    );
    // The rest of the team still sees its ticket, taken: masked, and no accepting it again.
    let other = app.get("lawyer", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        (
            other.body["state"].as_str(),
            other.body["requester"]["phone"].as_str()
        ),
        (Some("accepted"), Some("139****5678"))
    );
    assert_eq!(
        app.act("lawyer", &t, "accept", Value::Null).await.status,
        StatusCode::CONFLICT
    );
}

async fn a_retried_submit_is_the_same_ticket(app: TestApp) {
    let send = |key: &str, description: &str| {
        app.send(
            app.client
                .post(app.url("/api/v1/tickets"))
                .bearer_auth(app.token("resident"))
                .header("Idempotency-Key", key)
                .json(&json!({"category": "sanitation", "description": description})),
        )
    };
    let first = send("retry-1", "垃圾没人收").await;
    let again = send("retry-1", "垃圾没人收").await;
    assert_eq!(
        (first.status, again.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(first.body["id"], again.body["id"]);
    let changed = send("retry-1", "垃圾还是没人收").await;
    assert_eq!(
        (changed.status, changed.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch")
    );
    let mine = app.get("resident", "/api/v1/tickets").await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
}

async fn admins_build_the_directory_and_tokens_can_be_revoked(app: TestApp) {
    let building = app.demo.hehuatang_building;
    let r = app
        .post(
            "admin",
            "/api/v1/admin/people",
            json!({"name": "孙阿姨", "roles": ["resident"], "community_id": app.demo.hehuatang, "home_building_id": building}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let id = r.body["id"].as_str().unwrap().to_owned();
    let me = app
        .send(app.client.get(app.url("/api/v1/me")).bearer_auth(&token))
        .await;
    assert_eq!(me.body["name"], "孙阿姨");
    let r = app
        .post(
            "resident",
            "/api/v1/admin/people",
            json!({"name": "x", "roles": ["admin"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "only admins");
    let r = app
        .post(
            "admin",
            &format!("/api/v1/admin/people/{id}/revoke-tokens"),
            Value::Null,
        )
        .await;
    assert_eq!(r.body["revoked"], 1);
    let me = app
        .send(app.client.get(app.url("/api/v1/me")).bearer_auth(&token))
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "revoked at once");
}

async fn the_openapi_document_lists_exactly_what_the_router_serves(app: TestApp) {
    let doc = app
        .send(app.client.get(app.url("/openapi.json")))
        .await
        .body;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // Every documented route is served: none falls through to the router's fallback or 405.
    for (method, path) in &documented {
        let concrete = path
            .replace("{id}", &uuid::Uuid::now_v7().to_string())
            .replace("{action}", "triage");
        let req = app
            .client
            .request(method.parse().unwrap(), app.url(&concrete))
            .bearer_auth(app.token("admin"))
            .header("content-type", "application/json")
            .body("{}");
        if path == "/api/v1/me/stream" {
            // An event stream does not end: its status and type are the answer.
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            assert!(
                res.headers()["content-type"]
                    .to_str()
                    .unwrap()
                    .starts_with("text/event-stream")
            );
            continue;
        }
        let r = app.send(req).await;
        assert_ne!(
            r.code(),
            "no_such_route",
            "{method} {path} is documented but not served"
        );
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
    }
    // And every route of the contract (DESIGN.md's table, as far as it is built) is documented.
    for route in [
        ("POST", "/api/v1/tickets"),
        ("GET", "/api/v1/tickets"),
        ("GET", "/api/v1/tickets/{id}"),
        ("GET", "/api/v1/tickets/{id}/events"),
        ("POST", "/api/v1/tickets/{id}/actions/{action}"),
        ("GET", "/api/v1/tickets/{id}/candidates"),
        ("POST", "/api/v1/tickets/{id}/photos"),
        ("GET", "/api/v1/tickets/{id}/photos"),
        ("GET", "/api/v1/tickets/{id}/photos/{photo}"),
        ("GET", "/api/v1/workflows"),
        ("GET", "/api/v1/categories"),
        ("GET", "/api/v1/me"),
        ("GET", "/api/v1/me/export"),
        ("GET", "/api/v1/members/{id}/records"),
        ("POST", "/api/v1/members/{id}/certificates"),
        ("GET", "/api/v1/certificates/{number}"),
        ("GET", "/api/v1/me/report-in"),
        ("POST", "/api/v1/me/report-in"),
        ("GET", "/api/v1/members/{id}/profile"),
        ("GET", "/api/v1/communities/{id}/report-ins"),
        ("POST", "/api/v1/report-ins/{id}/decision"),
        ("GET", "/api/v1/communities/{id}/report-in-code"),
        ("POST", "/api/v1/communities/{id}/report-in-code"),
        ("GET", "/api/v1/communities/{id}/feedback"),
        ("POST", "/api/v1/communities/{id}/feedback-sheets"),
        ("GET", "/api/v1/feedback-sheets/{number}"),
        ("GET", "/api/v1/people/{id}/passbook"),
        ("POST", "/api/v1/me/time-bank/transfers"),
        ("POST", "/api/v1/me/time-bank/donations"),
        ("GET", "/api/v1/communities/{id}/time-bank"),
        ("POST", "/api/v1/communities/{id}/time-bank/grants"),
        ("POST", "/api/v1/communities/{id}/time-bank/relations"),
        ("GET", "/api/v1/teams"),
        ("POST", "/api/v1/admin/org-units"),
        ("POST", "/api/v1/admin/branches"),
        ("POST", "/api/v1/admin/people"),
        ("POST", "/api/v1/admin/people/{id}/revoke-tokens"),
        ("GET", "/api/v1/admin/people/{id}/contact-reads"),
        ("POST", "/api/v1/admin/teams"),
        ("GET", "/api/v1/admin/tokens"),
        ("GET", "/api/v1/admin/audit"),
        ("POST", "/api/v1/admin/tokens"),
        ("GET", "/api/v1/people"),
        ("GET", "/api/v1/buildings"),
        ("POST", "/api/v1/people"),
        ("POST", "/api/v1/people/{id}/sign-in-codes"),
        ("POST", "/api/v1/people/{id}/sessions/end"),
        ("PUT", "/api/v1/people/{id}/active"),
        ("POST", "/api/v1/people/{id}/erase"),
        ("POST", "/api/v1/sessions"),
        ("GET", "/api/v1/sign-in-requests"),
        ("POST", "/api/v1/sign-in-requests"),
        ("DELETE", "/api/v1/sessions/current"),
        ("GET", "/api/v1/admin/outbox"),
        ("POST", "/api/v1/admin/outbox/{id}/retry"),
        ("GET", "/api/v1/me/stream"),
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ] {
        assert!(
            documented.contains(&(route.0.to_owned(), route.1.to_owned())),
            "{route:?} is not documented"
        );
    }
    assert_eq!(
        doc["openapi"].as_str().map(|v| v.starts_with("3.1")),
        Some(true)
    );
}

async fn operators_see_health_readiness_and_metrics(app: TestApp) {
    let r = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(
        (
            r.status,
            r.body["database"].as_bool(),
            r.body["migrations"].as_bool()
        ),
        (StatusCode::OK, Some(true), Some(true))
    );
    app.submit("resident", "repair", "测试指标").await;
    let r = app.send(app.client.get(app.url("/metrics"))).await;
    let text = r.body.as_str().unwrap().to_owned();
    assert!(text.contains("linli_http_requests_total"), "{text}");
    assert!(text.contains("linli_transitions_total"), "{text}");
    assert!(
        text.contains("linli_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("linli_outbox_backlog"), "{text}");
    // The submission was written on its own (nothing else was waiting to be written).
    let alone = text
        .lines()
        .find_map(|l| l.strip_prefix("linli_store_writes_total{how=\"alone\"} "))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(alone.is_some_and(|n| n >= 1), "{text}");
    assert!(text.contains("linli_store_batches_total"), "{text}");
}

async fn every_staff_read_of_an_unmasked_phone_is_audited(app: TestApp) {
    let t = app.submit("resident", "repair", "门铃坏了").await;
    let resident = app.demo.user("resident").id;
    let path = format!("/api/v1/admin/people/{resident}/contact-reads");
    // Her own view and lists reveal nothing to audit; lists are masked even for staff.
    app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    let list = app.get("secretary", "/api/v1/tickets").await;
    assert_eq!(list.body["items"][0]["requester"]["phone"], "139****5678");
    assert!(
        app.get("admin", &path)
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
    // The secretary and the community office open the ticket: shown, and recorded.
    let seen = app.get("secretary", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(seen.body["requester"]["phone"], "13912345678");
    app.get("community", &format!("/api/v1/tickets/{t}")).await;
    let audit = app.get("admin", &path).await.body;
    let audit = audit.as_array().unwrap();
    assert_eq!(audit.len(), 2);
    assert_eq!(
        audit[0]["reader_id"],
        app.demo.user("community").id.to_string()
    );
    assert_eq!(
        audit[1]["reader_id"],
        app.demo.user("secretary").id.to_string()
    );
    assert_eq!(audit[1]["ticket_id"], t);
}

async fn readiness_reflects_the_migration_record(app: TestApp) {
    let r = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(
        (r.status, r.body["migrations"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    // A database whose migration record lacks one of this build's migrations is not ready.
    let forget =
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)";
    match (app.store.pg_pool(), app.store.sqlite_pool()) {
        (Some(pg), _) => sqlx_pg(pg, forget).await,
        (None, Some(lite)) => sqlx_lite(lite, forget).await,
        (None, None) => unreachable!(),
    }
    let r = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(
        (r.status, r.body["migrations"].as_bool()),
        (StatusCode::SERVICE_UNAVAILABLE, Some(false))
    );
}

async fn sqlx_pg(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

async fn sqlx_lite(pool: &sqlx::SqlitePool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

async fn the_resident_sees_who_is_coming_and_staff_see_the_pools(app: TestApp) {
    let teams = app.get("secretary", "/api/v1/teams").await;
    assert_eq!(teams.status, StatusCode::OK);
    let names: Vec<_> = teams
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["和事佬志愿服务队"],
        "the secretary's community's teams only"
    );
    let team = teams.body[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(teams.body[0]["id"], json!(app.demo.hehuatang_team));

    // A pool holds one request, a person the other: each shows the holder's name.
    let pooled = app.submit("resident", "repair", "水龙头漏水").await;
    assert_eq!(
        app.act("secretary", &pooled, "triage", Value::Null)
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .act("secretary", &pooled, "dispatch", json!({"team": team}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["assignee"]["kind"].as_str(),
            r.body["assignee"]["name"].as_str()
        ),
        (Some("team"), Some("和事佬志愿服务队"))
    );

    let t = app.submit("resident", "repair", "楼道灯坏了").await;
    app.act("secretary", &t, "triage", Value::Null).await;
    app.act(
        "secretary",
        &t,
        "dispatch",
        json!({"assignee": app.demo.user("member").id}),
    )
    .await;
    let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(r.body["assignee"]["kind"], "person");
    assert_eq!(r.body["assignee"]["name"], app.demo.user("member").name);
    let mine = app.get("resident", "/api/v1/tickets").await;
    let listed = mine.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == json!(t))
        .unwrap();
    assert_eq!(
        listed["assignee"]["name"],
        app.demo.user("member").name,
        "lists name the holder too"
    );

    // A running clock says when it will warn, before its deadline.
    let resolution = r.body["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == "running")
        .unwrap();
    let warn: jiff::Timestamp = resolution["warn_at"].as_str().unwrap().parse().unwrap();
    let due: jiff::Timestamp = resolution["due"].as_str().unwrap().parse().unwrap();
    assert!(warn < due, "{resolution}");
    assert!(
        resolution["warn_before_secs"].as_i64().unwrap() > 0,
        "{resolution}"
    );

    let me = app.get("resident", "/api/v1/me").await;
    assert_eq!(
        me.body["home_building"], "荷花塘小区1栋",
        "where help is needed, by name"
    );

    // The audit trail can be read in plain words: every action has its label.
    let workflows = app.get("resident", "/api/v1/workflows").await;
    let service = workflows
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["id"] == "community-service")
        .unwrap();
    assert_eq!(service["action_labels"]["dispatch"]["zh-CN"], "派单");
    assert_eq!(service["action_labels"]["reopen"]["en"], "Reopen");
    assert_eq!(service["clock_labels"]["response"]["zh-CN"], "响应时限");
}

backends! {
    readiness_reflects_the_migration_record,
    every_staff_read_of_an_unmasked_phone_is_audited,
    a_repair_walks_from_request_to_rating_in_chinese,
    a_micro_wish_and_a_mediation_walk_through,
    every_error_class_is_a_problem_document,
    fifty_accepts_at_once_have_one_winner,
    nobody_sees_or_touches_what_is_not_theirs,
    a_retried_submit_is_the_same_ticket,
    admins_build_the_directory_and_tokens_can_be_revoked,
    the_openapi_document_lists_exactly_what_the_router_serves,
    operators_see_health_readiness_and_metrics,
    the_resident_sees_who_is_coming_and_staff_see_the_pools,
}
