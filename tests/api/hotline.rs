//! The 12345 bridge through the API: orders signed and taken once, a changed re-send
//! recorded, deadlines by request type, a confidential caller hidden, the platform's
//! reminders and answers applied and what it must hear written for it in the outbox.

use reqwest::StatusCode;
use serde_json::{Value, json};
use workflow_core::Recipient;

use crate::support::{HOTLINE_SECRET, Reply, TestApp, told};

/// A request signed as the platform signs it, under `user`'s token.
pub async fn signed(app: &TestApp, user: &str, path: &str, body: &Value) -> Reply {
    signed_with(app, &app.token(user), path, body, HOTLINE_SECRET, None).await
}

/// A request signed as the platform signs it, under its own event id.
pub async fn signed_keyed(app: &TestApp, user: &str, path: &str, body: &Value, key: &str) -> Reply {
    signed_with(app, &app.token(user), path, body, HOTLINE_SECRET, Some(key)).await
}

/// A request signed with `secret`, under `token`.
async fn signed_with(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &Value,
    secret: &str,
    key: Option<&str>,
) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    let ts = app.engine.now().as_second();
    let req = app.client.post(app.url(path));
    let req = match key {
        Some(k) => req.header("idempotency-key", k),
        None => req,
    };
    app.send(
        req.bearer_auth(token)
            .header("content-type", "application/json")
            .header("linli-timestamp", ts.to_string())
            .header(
                "linli-signature",
                linli_http::signature::sign(secret, ts, &bytes),
            )
            .body(bytes),
    )
    .await
}

/// A work order as a platform sends one.
pub fn order(number: &str, kind: &str, confidential: bool) -> Value {
    json!({
        "order_number": number,
        "channel": "电话",
        "requester": {"name": "郑阿姨", "phone": "13922223333", "confidential": confidential},
        "received_at": "2026-11-23T08:50:00+08:00",
        "address": "荷花塘小区2栋",
        "request_type": kind,
        "category_code": "0301",
        "content": "楼道灯坏了，晚上看不见",
        "lead_unit": "荷花塘社区居委会",
        "deadline": "2026-11-30T17:30:00+08:00"
    })
}

async fn take(app: &TestApp, body: &Value) -> Reply {
    signed(app, "hotline", "/api/v1/hotline/orders", body).await
}

/// The platform's event on an order, under its own id.
async fn event(app: &TestApp, number: &str, body: Value) -> Reply {
    event_keyed(app, number, body, &uuid::Uuid::now_v7().to_string()).await
}

async fn event_keyed(app: &TestApp, number: &str, body: Value, key: &str) -> Reply {
    let r = signed_with(
        app,
        &app.token("hotline"),
        &format!("/api/v1/hotline/orders/{number}/events"),
        &body,
        HOTLINE_SECRET,
        Some(key),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {:?}", r.body);
    r
}

async fn ticket(app: &TestApp, user: &str, id: &str) -> Value {
    let r = app.get(user, &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn act(app: &TestApp, user: &str, id: &str, action: &str, body: Value) -> Value {
    let r = app.act(user, id, action, body).await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    r.body
}

fn clock<'a>(t: &'a Value, name: &str) -> &'a Value {
    t["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

async fn an_order_is_taken_once_and_a_changed_resend_is_an_update(app: TestApp) {
    app.at("2026-11-23T09:00");
    let sent = order("GD20261123001", "求助", false);
    let first = take(&app, &sent).await;
    assert_eq!(first.status, StatusCode::CREATED, "{:?}", first.body);
    assert_eq!(first.body["outcome"], "new");
    let id = first.body["ticket_id"].as_str().unwrap().to_owned();
    let t = ticket(&app, "secretary", &id).await;
    assert_eq!(
        (
            t["state"].as_str(),
            t["channel"].as_str(),
            t["category"].as_str()
        ),
        (Some("received"), Some("12345"), Some("repair"))
    );
    assert_eq!(t["workflow"], "hotline-12345@1");
    assert_eq!(t["hotline"]["order_number"], "GD20261123001");
    assert_eq!(t["hotline"]["request_type"], "help");
    assert_eq!(t["hotline"]["platform_deadline"], "2026-11-30T09:30:00Z");

    let again = take(&app, &sent).await;
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.body);
    assert_eq!(
        (
            again.body["outcome"].as_str(),
            again.body["ticket_id"].as_str()
        ),
        (Some("same"), Some(id.as_str()))
    );

    let mut changed = sent.clone();
    changed["content"] = json!("楼道灯坏了，三楼也不亮");
    changed["deadline"] = json!("2026-12-01T17:30:00+08:00");
    let updated = take(&app, &changed).await;
    assert_eq!(updated.body["outcome"], "updated", "{:?}", updated.body);
    assert_eq!(updated.body["ticket_id"].as_str(), Some(id.as_str()));
    let t = ticket(&app, "secretary", &id).await;
    assert_eq!(t["description"], "楼道灯坏了，三楼也不亮");
    assert_eq!(t["hotline"]["platform_deadline"], "2026-12-01T09:30:00Z");
    let events = app
        .get("secretary", &format!("/api/v1/tickets/{id}/events"))
        .await;
    let update = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "order_updated");
    assert_eq!(
        update.unwrap()["data"]["fields"],
        json!(["content", "deadline"])
    );
    // The same change again is no change.
    assert_eq!(take(&app, &changed).await.body["outcome"], "same");

    // The platform reads its order back.
    let back = app
        .get("hotline", "/api/v1/hotline/orders/GD20261123001")
        .await;
    assert_eq!(back.status, StatusCode::OK, "{:?}", back.body);
    assert_eq!(back.body["id"].as_str(), Some(id.as_str()));
    assert_eq!(
        app.get("hotline", "/api/v1/hotline/orders/GD-NONE")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn an_order_needs_the_signature_the_integration_and_a_mapping(app: TestApp) {
    let body = order("GD20261123002", "咨询", false);
    let unsigned = app
        .post("hotline", "/api/v1/hotline/orders", body.clone())
        .await;
    assert_eq!(
        (unsigned.status, unsigned.code()),
        (StatusCode::UNAUTHORIZED, "unauthenticated")
    );
    let forged = signed_with(
        &app,
        &app.token("hotline"),
        "/api/v1/hotline/orders",
        &body,
        "not the secret at all",
        None,
    )
    .await;
    assert_eq!(forged.status, StatusCode::UNAUTHORIZED, "{:?}", forged.body);
    // Signed, but by someone who is no office's integration.
    let resident = signed(&app, "resident", "/api/v1/hotline/orders", &body).await;
    assert_eq!(
        resident.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        resident.body
    );
    // The street office's own console session, with the secret, is still no integration.
    let street = app.demo.user("street").id;
    let code = app
        .post(
            "admin",
            &format!("/api/v1/people/{street}/sign-in-codes"),
            Value::Null,
        )
        .await;
    let session = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"code": code.body["code"]})),
        )
        .await;
    let session = session.body["token"].as_str().unwrap().to_owned();
    let console = signed_with(
        &app,
        &session,
        "/api/v1/hotline/orders",
        &body,
        HOTLINE_SECRET,
        None,
    )
    .await;
    assert_eq!(console.status, StatusCode::FORBIDDEN, "{:?}", console.body);
    // 运河社区's office does not bring in 荷花塘社区's orders.
    let neighbour = signed(&app, "yunhe_community", "/api/v1/hotline/orders", &body).await;
    assert_eq!(
        neighbour.status,
        StatusCode::FORBIDDEN,
        "{:?}",
        neighbour.body
    );
    for (field, value) in [
        ("lead_unit", json!("不存在的单位")),
        ("request_type", json!("表扬")),
        ("received_at", json!("昨天")),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        let r = take(&app, &bad).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {:?}",
            r.body
        );
        assert!(
            r.body["detail"].as_str().unwrap().starts_with(field),
            "{:?}",
            r.body
        );
    }
    // An order 荷花塘社区 holds is not 运河社区's to change, whatever unit a re-send names.
    let held = order("GD20261123003", "求助", false);
    assert_eq!(take(&app, &held).await.status, StatusCode::CREATED);
    let mut moved = held.clone();
    moved["lead_unit"] = json!("运河社区居委会");
    moved["content"] = json!("改成运河社区的");
    let r = signed(&app, "yunhe_community", "/api/v1/hotline/orders", &moved).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let kept = app
        .get("hotline", "/api/v1/hotline/orders/GD20261123003")
        .await;
    assert_eq!(kept.body["description"], "楼道灯坏了，晚上看不见");
    let mut extra = body.clone();
    extra["secret_field"] = json!(1);
    assert_eq!(
        take(&app, &extra).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Nothing refused was taken in.
    assert_eq!(
        app.get("hotline", "/api/v1/hotline/orders/GD20261123002")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn deadlines_follow_the_request_type(app: TestApp) {
    // A Monday morning: 1 working day is Tuesday 09:00, 10 are the Monday two weeks on.
    app.at("2026-11-23T09:00");
    let consult = take(&app, &order("GD-T-1", "咨询", false)).await;
    let complaint = take(&app, &order("GD-T-2", "complaint", false)).await;
    let consult = ticket(
        &app,
        "secretary",
        consult.body["ticket_id"].as_str().unwrap(),
    )
    .await;
    let complaint = ticket(
        &app,
        "secretary",
        complaint.body["ticket_id"].as_str().unwrap(),
    )
    .await;
    assert_eq!(clock(&consult, "resolution")["due"], "2026-11-24T01:00:00Z");
    assert_eq!(
        clock(&complaint, "resolution")["due"],
        "2026-12-07T01:00:00Z"
    );
    // Signing for counts around the clock: two hours.
    assert_eq!(clock(&complaint, "sign_for")["due"], "2026-11-23T03:00:00Z");
}

async fn a_confidential_caller_is_hidden_but_from_the_lead_handler_and_the_office(app: TestApp) {
    let r = take(&app, &order("GD-C-1", "投诉", true)).await;
    let id = r.body["ticket_id"].as_str().unwrap().to_owned();
    let hidden = ticket(&app, "secretary", &id).await;
    assert_eq!(hidden["requester"]["name"], "（保密）");
    assert_eq!(hidden["requester"]["phone"], Value::Null);
    assert_eq!(hidden["requester"]["id"], uuid::Uuid::nil().to_string());
    let history = app
        .get("secretary", &format!("/api/v1/tickets/{id}/events"))
        .await;
    assert!(
        history.body[0]["data"].get("requester").is_none(),
        "{:?}",
        history.body[0]
    );
    assert!(!history.body.to_string().contains("郑阿姨"));
    let office = ticket(&app, "community", &id).await;
    assert_eq!(office["requester"]["name"], "郑阿姨");
    assert_eq!(office["hotline"]["confidential"], true);
    // The volunteer it goes to, once they hold it.
    let member = app.demo.user("member").id;
    act(&app, "secretary", &id, "sign_for", Value::Null).await;
    act(
        &app,
        "secretary",
        &id,
        "dispatch",
        json!({"assignee": member}),
    )
    .await;
    let accepted = act(&app, "member", &id, "accept", Value::Null).await;
    assert_eq!(accepted["requester"]["name"], "郑阿姨");
    assert_eq!(
        ticket(&app, "secretary", &id).await["requester"]["name"],
        "（保密）"
    );
    // Not confidential: the branch sees who called, as for any request.
    let open = take(&app, &order("GD-C-2", "求助", false)).await;
    let open = ticket(&app, "secretary", open.body["ticket_id"].as_str().unwrap()).await;
    assert_eq!(open["requester"]["name"], "郑阿姨");
    // The caller is one person of the community, matched by phone on the second order.
    assert_eq!(open["requester"]["id"], office["requester"]["id"]);
}

async fn the_platforms_word_reaches_the_holder_and_its_answers_go_back(app: TestApp) {
    app.at("2026-11-23T09:00");
    let r = take(&app, &order("GD-W-1", "求助", false)).await;
    let id = r.body["ticket_id"].as_str().unwrap().to_owned();
    let member = app.demo.user("member").id;
    act(&app, "secretary", &id, "sign_for", Value::Null).await;
    act(
        &app,
        "secretary",
        &id,
        "dispatch",
        json!({"assignee": member}),
    )
    .await;
    act(&app, "member", &id, "accept", Value::Null).await;

    event(
        &app,
        "GD-W-1",
        json!({"type": "reminder", "note": "居民再次来电"}),
    )
    .await;
    event(
        &app,
        "GD-W-1",
        json!({"type": "supervision", "note": "区里督办"}),
    )
    .await;
    let t = ticket(&app, "member", &id).await;
    assert_eq!(
        (
            t["hotline"]["reminders"].as_u64(),
            t["hotline"]["supervisions"].as_u64()
        ),
        (Some(1), Some(1))
    );
    act(
        &app,
        "member",
        &id,
        "acknowledge",
        json!({"note": "已联系，明天上门"}),
    )
    .await;

    act(
        &app,
        "member",
        &id,
        "request_extension",
        json!({"reason": "等配件", "extend_by": "2wd"}),
    )
    .await;
    event(
        &app,
        "GD-W-1",
        json!({"type": "extension_answer", "approved": true}),
    )
    .await;
    let t = ticket(&app, "member", &id).await;
    // Two working days of 7 office hours each.
    assert_eq!(clock(&t, "resolution")["extended_secs"], 2 * 7 * 3600);

    let missing = app
        .act("member", &id, "resolve", json!({"note": "已更换灯泡"}))
        .await;
    assert_eq!(missing.code(), "missing_field", "{:?}", missing.body);
    act(
        &app,
        "member",
        &id,
        "resolve",
        json!({"note": "已更换灯泡", "contacted": true}),
    )
    .await;
    event(&app, "GD-W-1", json!({"type": "follow_up", "solved": false, "satisfaction": "dissatisfied", "note": "三楼还是不亮"})).await;
    let redo = ticket(&app, "secretary", &id).await;
    assert_eq!(
        (redo["state"].as_str(), redo["assignee"].is_null()),
        (Some("signed"), true)
    );
    act(&app, "secretary", &id, "handle", Value::Null).await;
    act(
        &app,
        "secretary",
        &id,
        "resolve",
        json!({"note": "三楼也修好了", "contacted": true}),
    )
    .await;
    event(
        &app,
        "GD-W-1",
        json!({"type": "follow_up", "solved": true, "satisfaction": "satisfied"}),
    )
    .await;
    let closed = ticket(&app, "secretary", &id).await;
    assert_eq!(
        (closed["state"].as_str(), closed["rating"].as_u64()),
        (Some("closed"), Some(5))
    );

    let heard: Vec<(String, Recipient)> = told(&app, &id).await;
    // Newest first.
    let to_platform: Vec<&str> = heard
        .iter()
        .rev()
        .filter(|(_, r)| *r == Recipient::Platform)
        .map(|(e, _)| e.as_str())
        .collect();
    assert_eq!(
        to_platform,
        [
            "sign_for",
            "acknowledge",
            "request_extension",
            "resolve",
            "resolve"
        ]
    );
    let member_told = |what: &str| {
        heard
            .iter()
            .any(|(e, r)| e == what && *r == Recipient::Person(member))
    };
    assert!(member_told("platform_reminder") && member_told("platform_supervision"));

    // 退单: refused once, then taken back.
    let other = take(&app, &order("GD-W-2", "建议", false)).await;
    let other = other.body["ticket_id"].as_str().unwrap().to_owned();
    act(
        &app,
        "secretary",
        &other,
        "return_order",
        json!({"reason": "不属于本社区"}),
    )
    .await;
    event(
        &app,
        "GD-W-2",
        json!({"type": "return_answer", "approved": false, "reason": "属地为本社区"}),
    )
    .await;
    assert_eq!(ticket(&app, "secretary", &other).await["state"], "signed");
    act(
        &app,
        "secretary",
        &other,
        "return_order",
        json!({"reason": "地址在运河社区"}),
    )
    .await;
    event(
        &app,
        "GD-W-2",
        json!({"type": "return_answer", "approved": true}),
    )
    .await;
    let back = ticket(&app, "secretary", &other).await;
    assert_eq!(
        (back["state"].as_str(), back["terminal"].as_bool()),
        (Some("returned"), Some(true))
    );
    // Nobody but the platform answers for it.
    let r = app
        .act("street", &other, "return_approved", Value::Null)
        .await;
    assert_ne!(r.status, StatusCode::OK);
}

/// 三率 over a scripted month: what `/api/v1/stats/rates` says equals a count made here,
/// directly from each order's events, by the definitions the workflow file gives.
async fn the_rates_of_a_scripted_month_equal_a_count_from_the_events(app: TestApp) {
    app.at("2026-11-02T09:00");
    let mut ours = Vec::new();
    for i in 0..20usize {
        let mut o = order(
            &format!("GD-M-{i}"),
            ["咨询", "求助", "投诉", "举报", "建议", "感谢"][i % 6],
            false,
        );
        if i % 8 == 7 {
            o["lead_unit"] = json!("运河社区居委会");
        }
        let r = take(&app, &o).await;
        let id = r.body["ticket_id"].as_str().unwrap().to_owned();
        let n = format!("GD-M-{i}");
        let secretary = if i % 8 == 7 {
            "yunhe_secretary"
        } else {
            "secretary"
        };
        if i % 8 != 7 {
            ours.push(id.clone());
        }
        // Signed for late (past the 2 hours) now and then.
        app.advance(if i % 5 == 4 { 3 * 3600 } else { 1800 }).await;
        if i % 7 == 3 {
            act(
                &app,
                secretary,
                &id,
                "return_order",
                json!({"reason": "不属于本社区"}),
            )
            .await;
            event(&app, &n, json!({"type": "return_answer", "approved": true})).await;
            continue;
        }
        act(&app, secretary, &id, "sign_for", Value::Null).await;
        act(&app, secretary, &id, "handle", Value::Null).await;
        // A consultation (one working day) left two days: late.
        if i % 6 == 0 && i % 4 == 0 {
            app.advance(2 * 24 * 3600).await;
        } else {
            app.advance(3600).await;
        }
        act(
            &app,
            secretary,
            &id,
            "resolve",
            json!({"note": "已办理", "contacted": true}),
        )
        .await;
        match i % 3 {
            0 => {}
            1 => {
                let satisfaction = if i % 2 == 0 {
                    "satisfied"
                } else {
                    "basically_satisfied"
                };
                event(
                    &app,
                    &n,
                    json!({"type": "follow_up", "solved": true, "satisfaction": satisfaction}),
                )
                .await;
            }
            _ => {
                event(
                    &app,
                    &n,
                    json!({"type": "follow_up", "solved": false, "satisfaction": "dissatisfied"}),
                )
                .await;
            }
        }
        app.advance(3600).await;
    }

    // Counted here, from the events.
    let mut counted: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for id in &ours {
        let events = app
            .get("street", &format!("/api/v1/tickets/{id}/events"))
            .await
            .body;
        let events = events.as_array().unwrap();
        let has = |kinds: &[&str]| {
            events
                .iter()
                .any(|e| kinds.contains(&e["kind"].as_str().unwrap()))
        };
        let on_time = |clock: &str| {
            events.iter().any(|e| {
                e["kind"] == "clock_stopped"
                    && e["data"]["clock"] == clock
                    && e["data"]["overrun_secs"].as_i64().unwrap() <= 0
            })
        };
        let rated = |at_least: i64| {
            events.iter().any(|e| {
                ["confirm", "redo"].contains(&e["kind"].as_str().unwrap())
                    && e["data"]["rating"].as_i64().is_some_and(|r| r >= at_least)
            })
        };
        let followed = has(&["confirm", "redo"]);
        let resolved = has(&["resolve"]);
        for (name, of, count) in [
            ("response", true, on_time("sign_for")),
            ("solved", followed, has(&["confirm"])),
            ("satisfied", rated(1), rated(4)),
            ("on_time", resolved, on_time("resolution")),
            ("follow_up", resolved, followed),
        ] {
            let c = counted.entry(name).or_default();
            c.1 += i64::from(of);
            c.0 += i64::from(of && count);
        }
    }

    let community = app.demo.hehuatang;
    let r = app
        .get(
            "community",
            &format!("/api/v1/stats/rates?unit={community}&from=2026-11-01&to=2026-12-01"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["workflow"], "hotline-12345");
    let figures: std::collections::BTreeMap<&str, (i64, i64)> = r.body["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap(),
                (
                    x["numerator"].as_i64().unwrap(),
                    x["denominator"].as_i64().unwrap(),
                ),
            )
        })
        .collect();
    assert_eq!(figures, counted);
    // The month has both sides of every rate: a wrong condition would show.
    for (name, (num, den)) in &counted {
        assert!(0 < *num && num < den, "{name}: {num} of {den}");
    }
    let csv = app
        .send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/stats/rates?unit={community}&from=2026-11-01&to=2026-12-01&format=csv"
                )))
                .bearer_auth(app.token("community")),
        )
        .await;
    let (num, den) = counted["response"];
    assert!(
        csv.body
            .as_str()
            .unwrap()
            .contains(&format!("response,响应率,{num},{den},")),
        "{:?}",
        csv.body
    );
    // A volunteer reads no figures.
    assert_eq!(
        app.get("member", "/api/v1/stats/rates").await.status,
        StatusCode::FORBIDDEN
    );
}

backends!(
    the_rates_of_a_scripted_month_equal_a_count_from_the_events,
    an_order_is_taken_once_and_a_changed_resend_is_an_update,
    an_order_needs_the_signature_the_integration_and_a_mapping,
    deadlines_follow_the_request_type,
    a_confidential_caller_is_hidden_but_from_the_lead_handler_and_the_office,
    the_platforms_word_reaches_the_holder_and_its_answers_go_back,
);
