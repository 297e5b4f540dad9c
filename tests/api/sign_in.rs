//! People get in the way people do: an office registers a resident, hands them a one-time
//! code, the code opens a session; sessions end on sign-out, when idle or old, when their
//! person is disabled, when their office signs them out everywhere.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const DAY: i64 = 24 * 3600;

/// What a token gets from `GET /api/v1/me`: the status and the replacement header, if any.
async fn me(app: &TestApp, token: &str) -> (StatusCode, Option<String>) {
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let replacement = res
        .headers()
        .get("linli-session-token")
        .map(|v| v.to_str().unwrap().to_owned());
    (res.status(), replacement)
}

async fn code_for(app: &TestApp, staff: &str, person: &str) -> Value {
    let r = app
        .post(
            staff,
            &format!("/api/v1/people/{person}/sign-in-codes"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body
}

async fn exchange(app: &TestApp, code: &str) -> (StatusCode, Value) {
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({ "code": code })),
        )
        .await;
    (r.status, r.body)
}

async fn session_for(app: &TestApp, staff: &str, person: &str) -> String {
    let code = code_for(app, staff, person).await;
    let (status, body) = exchange(app, code["code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    body["token"].as_str().unwrap().to_owned()
}

async fn an_office_registers_a_resident_who_signs_in_with_a_code(app: TestApp) {
    let d = &app.demo;
    let registered = app
        .post(
            "secretary",
            "/api/v1/people",
            json!({"name": "李奶奶", "phone": "13900001111", "home_building_id": d.hehuatang_building}),
        )
        .await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{:?}",
        registered.body
    );
    let grandma = registered.body["id"].as_str().unwrap().to_owned();

    // Nobody registers outside their area or gives a staff role; a resident registers nobody.
    let r = app
        .post(
            "secretary",
            "/api/v1/people",
            json!({"name": "x", "roles": ["secretary"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = app
        .post(
            "secretary",
            "/api/v1/people",
            json!({"name": "x", "home_building_id": d.yunhe_building}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let r = app
        .post("resident", "/api/v1/people", json!({"name": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let other_office = app
        .post(
            "yunhe_secretary",
            &format!("/api/v1/people/{grandma}/sign-in-codes"),
            Value::Null,
        )
        .await;
    assert_eq!(
        other_office.status,
        StatusCode::NOT_FOUND,
        "not theirs to know of"
    );
    let listed = app
        .get("secretary", "/api/v1/people?phone=13900001111")
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);
    assert_eq!(listed.body[0]["phone"], "139****1111");

    // The code: printable, typed forgivingly, used once.
    let code = code_for(&app, "secretary", &grandma).await;
    let shown = code["code"].as_str().unwrap().to_owned();
    assert_eq!(shown.len(), 9, "{shown}");
    assert!(code["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(
        code["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/#code={}", shown.replace('-', "")))
    );
    let typed = shown.to_lowercase().replace('-', " ");
    let (status, session) = exchange(&app, &typed).await;
    assert_eq!(status, StatusCode::CREATED, "{session:?}");
    assert_eq!(session["person_id"], grandma.as_str());
    let token = session["token"].as_str().unwrap().to_owned();
    assert_eq!(
        exchange(&app, &shown).await.0,
        StatusCode::UNAUTHORIZED,
        "used once"
    );
    let who = app
        .send(app.client.get(app.url("/api/v1/me")).bearer_auth(&token))
        .await;
    assert_eq!(who.body["name"], "李奶奶");
    let submitted = app
        .send(
            app.client
                .post(app.url("/api/v1/tickets"))
                .bearer_auth(&token)
                .json(&json!({"category": "repair", "description": "水龙头漏水"})),
        )
        .await;
    assert_eq!(
        submitted.status,
        StatusCode::CREATED,
        "{:?}",
        submitted.body
    );

    // A newer code retires the older one.
    let first = code_for(&app, "secretary", &grandma).await;
    let second = code_for(&app, "community", &grandma).await;
    assert_eq!(
        exchange(&app, first["code"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        exchange(&app, second["code"].as_str().unwrap()).await.0,
        StatusCode::CREATED
    );

    // Sign-out ends the session; the token is refused from then on.
    let out = app
        .send(
            app.client
                .delete(app.url("/api/v1/sessions/current"))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &token).await.0, StatusCode::UNAUTHORIZED);
    // A session's token is no Open311 key (keys travel in URLs).
    let fresh = session_for(&app, "secretary", &grandma).await;
    let open311 = app
        .client
        .get(app.url(&format!("/open311/v2/requests.json?api_key={fresh}")))
        .send()
        .await
        .unwrap();
    assert_eq!(open311.status(), StatusCode::UNAUTHORIZED);
}

async fn sessions_end_when_idle_old_disabled_or_signed_out_everywhere(app: TestApp) {
    let resident = app.demo.user("resident").id.to_string();
    // Idle: thirty days without use.
    let idle = session_for(&app, "secretary", &resident).await;
    app.advance(14 * DAY).await;
    assert_eq!(me(&app, &idle).await, (StatusCode::OK, None));
    app.advance(30 * DAY - 60).await;
    let (status, replaced) = me(&app, &idle).await;
    assert_eq!(status, StatusCode::OK, "used 30 days ago less a minute");
    let idle = replaced.expect("past half its idle time: replaced");
    app.advance(30 * DAY).await;
    assert_eq!(
        me(&app, &idle).await.0,
        StatusCode::UNAUTHORIZED,
        "idle 30 days"
    );

    // Used past half its idle time, a token is replaced; the old one is taken a moment more.
    let old = session_for(&app, "secretary", &resident).await;
    app.advance(16 * DAY).await;
    let (status, new) = me(&app, &old).await;
    assert_eq!(status, StatusCode::OK);
    let new = new.expect("a replacement token in the answer");
    assert_eq!(me(&app, &new).await, (StatusCode::OK, None));
    assert_eq!(me(&app, &old).await.0, StatusCode::OK, "in its grace");
    app.advance(3 * 60).await;
    assert_eq!(
        me(&app, &old).await.0,
        StatusCode::UNAUTHORIZED,
        "past its grace"
    );
    assert_eq!(me(&app, &new).await.0, StatusCode::OK);

    // However much it is used (and replaced), a session ends 180 days after sign-in:
    // signed in 16 days and 3 minutes ago, used every 15 days up to day 166.
    let mut token = new;
    for _ in 0..10 {
        app.advance(15 * DAY).await;
        let (status, replaced) = me(&app, &token).await;
        assert_eq!(status, StatusCode::OK);
        token = replaced.unwrap_or(token);
    }
    app.advance(15 * DAY).await;
    assert_eq!(
        me(&app, &token).await.0,
        StatusCode::UNAUTHORIZED,
        "past 180 days"
    );

    // Signed out everywhere by the office: every session ends, machine tokens stay.
    let a = session_for(&app, "secretary", &resident).await;
    let b = session_for(&app, "secretary", &resident).await;
    let r = app
        .post(
            "community",
            &format!("/api/v1/people/{resident}/sessions/end"),
            Value::Null,
        )
        .await;
    assert_eq!(r.body["ended"], 2, "{:?}", r.body);
    assert_eq!(me(&app, &a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &b).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &app.token("resident")).await.0, StatusCode::OK);

    // Disabled: sessions, machine tokens and outstanding codes stop working at once.
    let session = session_for(&app, "secretary", &resident).await;
    let pending = code_for(&app, "secretary", &resident).await;
    let r = app
        .send(
            app.client
                .put(app.url(&format!("/api/v1/people/{resident}/active")))
                .bearer_auth(app.token("secretary"))
                .json(&json!({"active": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(me(&app, &session).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&app, &app.token("resident")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        exchange(&app, pending["code"].as_str().unwrap()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .post(
            "secretary",
            &format!("/api/v1/people/{resident}/sign-in-codes"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn a_person_asks_for_a_new_code_and_their_office_hands_one_over(app: TestApp) {
    let ask = |phone: &'static str| {
        app.send(
            app.client
                .post(app.url("/api/v1/sign-in-requests"))
                .json(&json!({ "phone": phone })),
        )
    };
    // 王奶奶 lost her slip; a number nobody has is answered alike.
    assert_eq!(ask("13912345678").await.status, StatusCode::ACCEPTED);
    assert_eq!(ask("13900000000").await.status, StatusCode::ACCEPTED);
    assert_eq!(
        ask("13912345678").await.status,
        StatusCode::ACCEPTED,
        "asked twice: listed once"
    );
    let listed = app.get("secretary", "/api/v1/sign-in-requests").await;
    let asks = listed.body.as_array().unwrap();
    assert_eq!(asks.len(), 1, "{asks:?}");
    assert_eq!(asks[0]["name"], "王奶奶");
    assert_eq!(asks[0]["phone"], "139****5678");
    let other = app.get("yunhe_secretary", "/api/v1/sign-in-requests").await;
    assert_eq!(
        other.body.as_array().unwrap().len(),
        0,
        "another community's office"
    );
    // Handing her a code answers the ask.
    let person = asks[0]["person_id"].as_str().unwrap().to_owned();
    let code = code_for(&app, "secretary", &person).await;
    assert_eq!(
        exchange(&app, code["code"].as_str().unwrap()).await.0,
        StatusCode::CREATED
    );
    let listed = app.get("secretary", "/api/v1/sign-in-requests").await;
    assert!(listed.body.as_array().unwrap().is_empty());
}

async fn guessing_codes_is_slowed_per_address(app: TestApp) {
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(exchange(&app, "ABCD-EFGH").await.0);
    }
    assert!(
        statuses[..10]
            .iter()
            .all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
}

/// OWASP API2 per person: at most ten codes a day for one person, whoever asks.
async fn codes_for_one_person_are_limited_per_day(app: TestApp) {
    let member = app.demo.user("member").id.to_string();
    for _ in 0..workflow_core::session::CODES_PER_PERSON_PER_DAY {
        code_for(&app, "secretary", &member).await;
    }
    let path = format!("/api/v1/people/{member}/sign-in-codes");
    let r = app.post("community", &path, Value::Null).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.body);
    app.advance(24 * 3600 + 60).await;
    let r = app.post("community", &path, Value::Null).await;
    assert_eq!(r.status, StatusCode::CREATED, "a day later");
}

async fn admins_list_and_issue_named_machine_tokens(app: TestApp) {
    let member = app.demo.user("member").id;
    let r = app
        .post(
            "admin",
            "/api/v1/admin/tokens",
            json!({"person_id": member, "name": "12345 热线对接"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);
    let list = app.get("admin", "/api/v1/admin/tokens").await;
    let named: Vec<&Value> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"] == "12345 热线对接")
        .collect();
    assert_eq!(named.len(), 1);
    assert!(
        !list.body.to_string().contains(&token),
        "never the token itself"
    );
    assert_eq!(
        app.get("secretary", "/api/v1/admin/tokens").await.status,
        StatusCode::FORBIDDEN
    );
}

crate::backends! {
    an_office_registers_a_resident_who_signs_in_with_a_code,
    sessions_end_when_idle_old_disabled_or_signed_out_everywhere,
    guessing_codes_is_slowed_per_address,
    a_person_asks_for_a_new_code_and_their_office_hands_one_over,
    admins_list_and_issue_named_machine_tokens,
    codes_for_one_person_are_limited_per_day,
}
