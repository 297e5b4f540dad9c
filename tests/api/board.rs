//! The public board (晒单) and oversight (督单), end to end over HTTP on SQLite and
//! PostgreSQL: a community's month in figures and closed requests, public and without any
//! personal data (no name, phone, building or unit, no description or note), as JSON, a page
//! and a feed; the supervisor sees overdue requests the same way, and can do nothing else.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// What must never be on the board or in oversight: who, how to reach them, where, what they
/// wrote, what staff noted. The unit is looked for with its building (a bare "302" turns up in
/// the hex of a random id now and then).
const PERSONAL: [&str; 7] = [
    "王奶奶",
    "13912345678",
    "1栋",
    "栋302",
    "王师傅",
    "腿脚不便",
    "内部备注",
];

fn assert_anonymous(what: &str, text: &str) {
    for p in PERSONAL {
        assert!(!text.contains(p), "{what} shows {p:?}: {text}");
    }
}

async fn public(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let r = app.client.get(app.url(path)).send().await.unwrap();
    let status = r.status();
    let kind = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, r.text().await.unwrap())
}

async fn the_board_shows_the_month_without_anyone_in_it(app: TestApp) {
    app.at("2026-11-23T08:30");
    let done = app
        .submit(
            "resident",
            "elderly_care",
            "王奶奶腿脚不便, 请陪她去医院复诊, 电话13912345678, 1栋302",
        )
        .await;
    let r = app
        .act(
            "secretary",
            &done,
            "internal_note",
            json!({"note": "内部备注: 家属有意见"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.work_to_closed(&done).await;
    let late = app
        .submit("resident", "repair", "王奶奶家1栋302水管漏水")
        .await;
    app.advance(3 * 3600).await;

    let community = app.demo.hehuatang;
    let (status, kind, text) = public(
        &app,
        &format!("/public/v1/communities/{community}/board?month=2026-11"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert!(kind.starts_with("application/json"));
    assert_anonymous("the board", &text);
    let b: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(b["community"], "荷花塘社区");
    let f = &b["figures"];
    assert_eq!(
        (
            f["submitted"].as_i64(),
            f["closed"].as_i64(),
            f["open"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(f["resolution_rate"], json!(0.5));
    assert_eq!(f["satisfaction_rate"], json!(1.0));
    assert_eq!(
        f["claim_rate"],
        json!(0.5),
        "one of two taken by a volunteer"
    );
    assert_eq!(f["on_time_rate"], json!(1.0));
    let closed = b["closed"].as_array().unwrap();
    assert_eq!(closed.len(), 1);
    assert_eq!(
        (closed[0]["category"].as_str(), closed[0]["rating"].as_u64()),
        (Some("elderly_care"), Some(5))
    );
    assert_eq!(closed[0]["closed_on"], "2026-11-23");

    // Another month is another board; the page and the feed say the same, as anonymously.
    let (_, _, text) = public(
        &app,
        &format!("/public/v1/communities/{community}/board?month=2026-10"),
    )
    .await;
    let other: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            other["figures"]["submitted"].as_i64(),
            other["closed"].as_array().unwrap().len()
        ),
        (Some(0), 0)
    );
    let (status, kind, page) = public(&app, &format!("/board/{community}?month=2026-11")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("text/html"));
    assert!(
        page.contains("荷花塘社区") && page.contains("助老服务") && page.contains("★★★★★"),
        "{page}"
    );
    assert_anonymous("the page", &page);
    // It runs no script: a policy says so.
    let r = app
        .client
        .get(app.url(&format!("/board/{community}?month=2026-11")))
        .send()
        .await
        .unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    let (status, kind, feed) = public(
        &app,
        &format!("/public/v1/communities/{community}/board.atom?month=2026-11"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(kind.starts_with("application/atom+xml"));
    assert_eq!(feed.matches("<entry>").count(), 1, "{feed}");
    assert_anonymous("the feed", &feed);

    // Only communities have boards; months are months.
    let (status, _, _) = public(
        &app,
        &format!("/public/v1/communities/{}/board", app.demo.hehuatang_branch),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, text) = public(
        &app,
        &format!("/public/v1/communities/{community}/board?month=November"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");

    // Oversight: the overdue request, anonymous; the closed one is not overdue.
    let r = app.get("supervisor", "/api/v1/supervision/overdue").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_anonymous("oversight", &r.body.to_string());
    let items = r.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["id"], json!(late));
    assert_eq!(items[0]["overdue"][0]["clock"], "response");
    // The supervisor only looks: not the request itself, no action, no staff figures.
    let r = app
        .get("supervisor", &format!("/api/v1/tickets/{late}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .act("supervisor", &late, "note", json!({"note": "督办"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get("supervisor", "/api/v1/stats").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("resident", "/api/v1/supervision/overdue").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

backends! {
    the_board_shows_the_month_without_anyone_in_it,
}
