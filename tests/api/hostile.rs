//! Hostile input: whatever a client sends, the answer is a clean 4xx problem document or a
//! faithful round trip, never a 5xx, and nothing is stored that should not be.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn clean_4xx(r: &crate::support::Reply, what: &str) {
    assert!(
        r.status.is_client_error(),
        "{what}: {} {:?}",
        r.status,
        r.body
    );
    assert_eq!(r.content_type, "application/problem+json", "{what}");
    assert!(!r.code().is_empty(), "{what}: a stable code");
}

async fn malformed_bodies_are_refused_cleanly(app: TestApp) {
    let t = app.submit("resident", "repair", "测试").await;
    let raw = |path: String, body: Vec<u8>| {
        app.client
            .post(app.url(&path))
            .bearer_auth(app.token("secretary"))
            .header("content-type", "application/json")
            .body(body)
    };
    let action = format!("/api/v1/tickets/{t}/actions/triage");
    // 30,000 levels: under the body limit, so it is the nesting that is refused, not the size.
    let deep = format!("{}{}", "[".repeat(30_000), "]".repeat(30_000));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("deeply nested", deep.into_bytes()),
        ("not an object", b"[1, 2, 3]".to_vec()),
        ("a string", b"\"triage\"".to_vec()),
        ("wrong type", br#"{"version": "three"}"#.to_vec()),
        ("negative version", br#"{"version": -1}"#.to_vec()),
        ("huge number", br#"{"version": 1e400}"#.to_vec()),
        ("unknown field", br#"{"assignee_override": true}"#.to_vec()),
        ("null bytes", b"{\"note\": \"a\x00b\"}".to_vec()),
        ("truncated", b"{\"note\": \"abc".to_vec()),
        ("invalid utf-8", b"{\"note\": \"\xc3\x28\"}".to_vec()),
    ];
    for (what, body) in cases {
        clean_4xx(&app.send(raw(action.clone(), body)).await, what);
    }
    // Text fields: too long, or carrying control characters.
    for (what, body) in [
        ("long note", json!({"note": "长".repeat(2001)})),
        ("control characters", json!({"note": "铃\u{7}声"})),
    ] {
        let r = app.act("secretary", &t, "triage", body).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            "{what}"
        );
    }
    let r = app
        .act(
            "secretary",
            &t,
            "reject",
            json!({"reason": "理".repeat(501)}),
        )
        .await;
    assert_eq!(r.code(), "invalid_field");
    let r = app.get("secretary", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(
        (r.body["state"].as_str(), r.body["version"].as_u64()),
        (Some("submitted"), Some(3)),
        "nothing applied"
    );
}

async fn hostile_text_is_stored_as_data_and_round_trips(app: TestApp) {
    for text in [
        "'; DROP TABLE tickets; --",
        "\" OR 1=1 --",
        "<script>alert('邻里')</script>",
        "家里的灯坏了 💡🙏🏻 👵",
        "tab\tand\nnewlines\r\nkept",
        "Ω≈ç√∫ 𝕃𝕚𝕟𝕝𝕚 ﷽",
    ] {
        let t = app.submit("resident", "repair", text).await;
        let r = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
        assert_eq!(r.body["description"], text, "round trip");
    }
    let all = app.get("resident", "/api/v1/tickets?limit=100").await;
    assert_eq!(
        all.body["items"].as_array().unwrap().len(),
        6,
        "the tickets table is fine"
    );
}

async fn strange_paths_and_queries_are_4xx_never_5xx(app: TestApp) {
    let long = "9".repeat(10_000);
    let paths = [
        "/api/v1/tickets/not-a-uuid".to_owned(),
        "/api/v1/tickets/../../../etc/passwd".to_owned(),
        "/api/v1/tickets/%2e%2e%2f%2e%2e%2fetc%2fpasswd".to_owned(),
        format!("/api/v1/tickets/{long}"),
        "/api/v1/tickets/00000000-0000-0000-0000-000000000000/events".to_owned(),
        "/api/v1/tickets?limit=-5".to_owned(),
        "/api/v1/tickets?limit=99999999999999999999".to_owned(),
        "/api/v1/tickets?breached=perhaps".to_owned(),
        "/api/v1/tickets?after=nope".to_owned(),
        "/api/v1/tickets?state=%27%3B%20DROP%20TABLE%20tickets%3B".to_owned(),
        "/api/v1/tickets?unknown_filter=1".to_owned(),
        format!(
            "/api/v1/tickets/{}/actions/{}",
            uuid::Uuid::now_v7(),
            "a".repeat(5000)
        ),
        // GET on a POST-only route: 405, as a problem document too.
        format!("/api/v1/tickets/{}/actions/triage", uuid::Uuid::now_v7()),
    ];
    for p in &paths {
        let r = app.get("secretary", p).await;
        assert!(!r.status.is_server_error(), "{p}: {}", r.status);
        if !r.status.is_success() {
            clean_4xx(&r, p);
        }
    }
    for i in 0..105 {
        app.submit("resident", "sanitation", &format!("第{i}件"))
            .await;
    }
    let r = app.get("secretary", "/api/v1/tickets?limit=100000").await;
    assert_eq!(r.status, StatusCode::OK, "page size is capped, not refused");
    assert_eq!(
        r.body["items"].as_array().unwrap().len(),
        100,
        "at most 100 a page"
    );
    assert!(r.body["next"].is_string(), "and a cursor to the rest");
    let r = app.get("secretary", "/api/v1/tickets/not-a-uuid").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_path")
    );
    // Malformed credentials are a plain 401.
    for auth in [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        &format!("Bearer {}", "x".repeat(5000)),
    ] {
        let r = app
            .send(
                app.client
                    .get(app.url("/api/v1/tickets"))
                    .header("authorization", auth),
            )
            .await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{auth:.20}"
        );
    }
}

async fn a_ten_megabyte_body_is_refused_before_it_is_read(app: TestApp) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A raw client: it announces 10 MB, sends the headers, and reads the answer the server
    // gives without waiting for the body.
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "POST /api/v1/tickets HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        app.token("resident"),
        10 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; 16 * 1024]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut answer))
        .await
        .expect("the server answers without the whole body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    let mine = app.get("resident", "/api/v1/tickets").await;
    assert_eq!(mine.body["items"], Value::Array(vec![]), "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_over_the_rate_limit_gets_429_with_retry_after() {
    let url = crate::support::sqlite_url().await;
    let app = TestApp::spawn_with(&url, |c| linli::app::Config {
        rate_limit: 1,
        rate_burst: 5,
        ..c
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let r = app.get("resident", "/api/v1/tickets").await;
        statuses.push(r.status);
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(r.code(), "rate_limited");
            assert_eq!(r.content_type, "application/problem+json");
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    let res = app
        .client
        .get(app.url("/api/v1/tickets"))
        .bearer_auth(app.token("resident"))
        .send()
        .await
        .unwrap();
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=5).contains(&retry), "Retry-After {retry}");
    // Another caller has a bucket of their own.
    assert_eq!(
        app.get("secretary", "/api/v1/tickets").await.status,
        StatusCode::OK
    );
}

async fn a_stalled_client_does_not_hold_the_server(app: TestApp) {
    use tokio::io::AsyncWriteExt;
    // Ten connections that send half a request and then nothing.
    let mut stalled = Vec::new();
    for _ in 0..10 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(
            b"POST /api/v1/tickets HTTP/1.1\r\nhost: x\r\ncontent-length: 500\r\n\r\n{\"cat",
        )
        .await
        .unwrap();
        stalled.push(s);
    }
    // Everyone else is served as usual, promptly.
    let started = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(
            app.get("secretary", "/api/v1/tickets").await.status,
            StatusCode::OK
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    drop(stalled);
}

backends! {
    a_stalled_client_does_not_hold_the_server,
    malformed_bodies_are_refused_cleanly,
    hostile_text_is_stored_as_data_and_round_trips,
    strange_paths_and_queries_are_4xx_never_5xx,
    a_ten_megabyte_body_is_refused_before_it_is_read,
}

/// OWASP API8: every answer carries the guard headers, whatever its status; `TRACE` is
/// refused; no CORS header is ever sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_guard_headers_and_trace_is_refused() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    for (method, path, token) in [
        ("GET", "/healthz", None),
        ("GET", "/api/v1/me", Some("resident")),
        ("GET", "/api/v1/me", None),
        ("GET", "/api/v1/no-such", Some("resident")),
        ("GET", "/", None),
        ("GET", "/open311/v2/services.json", None),
        ("TRACE", "/api/v1/me", Some("resident")),
        ("TRACE", "/", None),
    ] {
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .header("origin", "https://evil.example");
        if let Some(who) = token {
            req = req.bearer_auth(app.token(who));
        }
        let res = req.send().await.unwrap();
        let h = res.headers();
        assert_eq!(
            h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{method} {path} {}",
            res.status()
        );
        assert_eq!(h["referrer-policy"], "no-referrer", "{method} {path}");
        assert_eq!(h["x-frame-options"], "DENY", "{method} {path}");
        assert!(
            h.get("access-control-allow-origin").is_none(),
            "{method} {path}"
        );
        if method == "TRACE" {
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{path}");
        }
    }
}

/// OWASP API3 (property level), for every JSON write route of the OpenAPI document (a new
/// one without a row here fails): a body the route takes, as a caller allowed to send it, is
/// accepted; the same body with fields that try to set what nobody sets that way (a state,
/// a holder, points, roles, a requester) is refused, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_write_route_takes_a_field_it_does_not_declare() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    let d = &app.demo;
    let t = app.submit("resident", "repair", "批量赋值测试").await;
    let member = d.user("member").id;
    let resident = d.user("resident").id;
    // Someone with nothing open, to erase.
    let leaving = app
        .post("secretary", "/api/v1/people", json!({"name": "搬走的居民"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = app
        .post(
            "secretary",
            &format!("/api/v1/people/{resident}/sign-in-codes"),
            Value::Null,
        )
        .await
        .body["code"]
        .clone();
    // A member taken in from a work unit, and a report-in awaiting the office.
    let mut asked = Vec::new();
    for who in ["member", "lawyer"] {
        let r = app
            .post(
                who,
                "/api/v1/me/report-in",
                json!({"work_unit": "区税务局", "party_org": "区税务局机关党支部", "post": "助老"}),
            )
            .await;
        asked.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let r = app
        .post(
            "community",
            &format!("/api/v1/report-ins/{}/decision", asked[0]),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let report_in = &asked[1];
    // 运河社区's bank: hours for its resident and its pool, and a relative to give to.
    let (resident_y, member_y) = (d.user("yunhe_resident").id, d.user("yunhe_member").id);
    let deposit = |to| workflow_core::time_bank::Movement {
        kind: workflow_core::time_bank::Kind::Deposit,
        community: d.yunhe,
        from: workflow_core::time_bank::Account::Issue(d.yunhe),
        to,
        minutes: 60,
        ticket: None,
    };
    app.store
        .move_time(
            &[
                deposit(workflow_core::time_bank::Account::Person(resident_y)),
                deposit(workflow_core::time_bank::Account::Pool(d.yunhe)),
            ],
            jiff::Timestamp::now(),
            &Default::default(),
        )
        .await
        .unwrap();
    app.store
        .confirm_relation(
            resident_y,
            member_y,
            d.yunhe,
            resident_y,
            jiff::Timestamp::now(),
        )
        .await
        .unwrap();
    let smuggled = json!({
        "state": "closed",
        "assignee_after": member,
        "points_total": 1000,
        "is_admin": true,
        "requester": d.user("yunhe_resident").id,
    });
    // (who, path with its ids, a body the route takes)
    let row = |method: &str, path: &str| -> (&'static str, String, Value) {
        match (method, path) {
            ("POST", "/api/v1/admin/branches") => (
                "admin",
                path.into(),
                json!({"community_id": d.hehuatang, "name": "新支部", "areas": []}),
            ),
            ("POST", "/api/v1/admin/org-units") => (
                "admin",
                path.into(),
                json!({"kind": "street", "name": "新街道"}),
            ),
            ("POST", "/api/v1/admin/partner-units") => (
                "admin",
                path.into(),
                json!({"community_id": d.hehuatang, "name": "新共建单位"}),
            ),
            ("POST", "/api/v1/admin/people") => (
                "admin",
                path.into(),
                json!({"name": "新人", "roles": ["resident"]}),
            ),
            ("POST", "/api/v1/admin/teams") => (
                "admin",
                path.into(),
                json!({"community_id": d.hehuatang, "name": "新队"}),
            ),
            ("POST", "/api/v1/admin/tokens") => (
                "admin",
                path.into(),
                json!({"person_id": member, "name": "对接"}),
            ),
            ("POST", "/api/v1/members/{id}/ledger") => (
                "secretary",
                format!("/api/v1/members/{member}/ledger"),
                json!({"ticket_id": t, "points": 1, "reason": "更正"}),
            ),
            ("POST", "/api/v1/members/{id}/certificates") => (
                "member",
                format!("/api/v1/members/{member}/certificates"),
                json!({"from": "2026-11-01", "to": "2026-11-30", "id_type": "passport", "id_number": "E12345678"}),
            ),
            ("POST", "/api/v1/me/report-in") => (
                "doctor",
                path.into(),
                json!({"work_unit": "区人民医院", "party_org": "区人民医院党委", "post": "助老"}),
            ),
            ("POST", "/api/v1/report-ins/{id}/decision") => (
                "community",
                format!("/api/v1/report-ins/{report_in}/decision"),
                json!({"approve": true}),
            ),
            ("POST", "/api/v1/communities/{id}/feedback-sheets") => (
                "community",
                format!("/api/v1/communities/{}/feedback-sheets", d.hehuatang),
                json!({"work_unit": "区税务局"}),
            ),
            ("POST", "/api/v1/me/time-bank/donations") => {
                ("yunhe_resident", path.into(), json!({"hours": 0.1}))
            }
            ("POST", "/api/v1/me/time-bank/transfers") => (
                "yunhe_resident",
                path.into(),
                json!({"to": d.user("yunhe_member").id, "hours": 0.1}),
            ),
            ("POST", "/api/v1/communities/{id}/time-bank/grants") => (
                "yunhe_community",
                format!("/api/v1/communities/{}/time-bank/grants", d.yunhe),
                json!({"person_id": d.user("yunhe_resident").id, "hours": 0.1, "reason": "困难"}),
            ),
            ("POST", "/api/v1/communities/{id}/time-bank/relations") => (
                "yunhe_community",
                format!("/api/v1/communities/{}/time-bank/relations", d.yunhe),
                json!({"person_id": d.user("yunhe_resident").id, "relative_id": d.user("yunhe_member").id}),
            ),
            ("POST", "/api/v1/people") => ("secretary", path.into(), json!({"name": "新居民"})),
            ("PUT", "/api/v1/people/{id}/active") => (
                "secretary",
                format!("/api/v1/people/{resident}/active"),
                json!({"active": true}),
            ),
            ("POST", "/api/v1/people/{id}/erase") => (
                "secretary",
                format!("/api/v1/people/{leaving}/erase"),
                json!({"confirm": true}),
            ),
            ("POST", "/api/v1/sessions") => ("anyone", path.into(), json!({"code": code})),
            ("POST", "/api/v1/sign-in-requests") => {
                ("anyone", path.into(), json!({"phone": "13800000099"}))
            }
            ("POST", "/api/v1/tickets") => (
                "resident",
                path.into(),
                json!({"category": "repair", "description": "又一件"}),
            ),
            ("POST", "/api/v1/tickets/{id}/actions/{action}") => (
                "resident",
                format!("/api/v1/tickets/{t}/actions/note"),
                json!({"note": "补充"}),
            ),
            // Signed as the platform signs (below).
            ("POST", "/api/v1/hotline/orders") => (
                "hotline",
                path.into(),
                crate::hotline::order("GD-API3-2", "求助", false),
            ),
            ("POST", "/api/v1/hotline/orders/{number}/events") => (
                "hotline",
                "/api/v1/hotline/orders/GD-API3-1/events".into(),
                json!({"type": "reminder", "note": "请尽快"}),
            ),
            _ => panic!("{method} {path} takes JSON and has no row here: add one"),
        }
    };
    let order = crate::hotline::order("GD-API3-1", "求助", false);
    let taken = crate::hotline::signed(&app, "hotline", "/api/v1/hotline/orders", &order).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{:?}", taken.body);
    let send = |who: &'static str, method: &str, path: &str, body: &Value| {
        if who == "hotline" {
            let key = uuid::Uuid::now_v7().to_string();
            let (path, body) = (path.to_owned(), body.clone());
            let app = &app;
            return Box::pin(async move {
                crate::hotline::signed_keyed(app, who, &path, &body, &key).await
            })
                as std::pin::Pin<Box<dyn Future<Output = crate::support::Reply> + '_>>;
        }
        let mut req = app
            .client
            .request(method.parse().unwrap(), app.url(path))
            .json(body);
        if who != "anyone" {
            req = req.bearer_auth(app.token(who));
        }
        Box::pin(app.send(req))
    };
    let doc = app
        .send(app.client.get(app.url("/openapi.json")))
        .await
        .body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !op["requestBody"]["content"]["application/json"].is_object() {
                continue;
            }
            let method = method.to_uppercase();
            let (who, concrete, body) = row(&method, path);
            let mut with_more = body.clone();
            with_more
                .as_object_mut()
                .unwrap()
                .extend(smuggled.as_object().unwrap().clone());
            let refused = send(who, &method, &concrete, &with_more).await;
            assert!(
                refused.status.is_client_error(),
                "{method} {path} as {who} took the smuggled fields: {} {:?}",
                refused.status,
                refused.body
            );
            // The same body without them is taken: the refusal was for the extra fields.
            let taken = send(who, &method, &concrete, &body).await;
            assert!(
                taken.status.is_success(),
                "{method} {path} as {who}: {} {:?}",
                taken.status,
                taken.body
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 24, "every JSON write route checked");
}

/// OWASP API4: a person asks for at most the deployment's number of requests in any 24
/// hours; what the office enters for them does not count; a day later they may ask again.
async fn a_person_asks_for_at_most_the_daily_limit(url: String) {
    let app = TestApp::spawn_with(&url, |c| linli::app::Config {
        daily_requests: Some(3),
        ..c
    })
    .await;
    for i in 0..3 {
        app.submit("resident", "repair", &format!("第{i}件")).await;
    }
    let res = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(app.token("resident"))
        .json(&json!({"category": "repair", "description": "第四件"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (86_000..=86_400).contains(&wait),
        "until the first leaves the day: {wait}"
    );
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "rate_limited");
    assert!(
        problem["detail"].as_str().unwrap().contains("at most 3"),
        "{problem}"
    );
    // The office enters one for her (代办): the desk at work, not her asking.
    let resident = app.demo.user("resident").id;
    let r = app
        .post(
            "secretary",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "电话里说的", "on_behalf_of": resident}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    // Another resident is not held by her count.
    app.submit("yunhe_resident", "repair", "我的第一件").await;
    app.advance(24 * 3600 + 60).await;
    app.submit("resident", "repair", "第二天的").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_asks_for_at_most_the_daily_limit_sqlite() {
    a_person_asks_for_at_most_the_daily_limit(crate::support::sqlite_url().await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_asks_for_at_most_the_daily_limit_postgres() {
    if let Some(url) = crate::support::postgres_url().await {
        a_person_asks_for_at_most_the_daily_limit(url).await
    }
}
