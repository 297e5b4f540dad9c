//! A person's rights and the records kept of access to their data (PIPL arts. 44–47, 56).

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn records(app: &TestApp, who: &str, query: &str) -> Vec<Value> {
    let r = app.get(who, &format!("/api/v1/admin/audit{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn access_is_recorded_and_read_by_admins_and_the_street(app: TestApp) {
    // A neighbour's request read by a resident of another community: refused, recorded.
    let theirs = app.submit("resident", "repair", "厨房漏水").await;
    let nosy = app.demo.user("yunhe_resident").id;
    let r = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/tickets/{theirs}")))
                .bearer_auth(app.token("yunhe_resident"))
                .header("x-request-id", "nosy-1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The secretary reads the number in full; a code is tried wrong, then right.
    app.get("secretary", &format!("/api/v1/tickets/{theirs}"))
        .await;
    let resident = app.demo.user("resident").id;
    let wrong = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"code": "ABCD-EFGH"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let code = app
        .post(
            "secretary",
            &format!("/api/v1/people/{resident}/sign-in-codes"),
            Value::Null,
        )
        .await;
    let ok = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"code": code.body["code"]})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);

    let all = records(&app, "admin", "").await;
    let kinds: Vec<&str> = all.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in ["refused", "contact_read", "sign_in_failed", "sign_in"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let refused = all.iter().find(|r| r["kind"] == "refused").unwrap();
    assert_eq!(refused["actor_id"], nosy.to_string());
    assert_eq!(refused["subject_id"], theirs.as_str());
    assert_eq!(refused["request_id"], "nosy-1");
    assert!(
        refused["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1"),
        "{refused}"
    );
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/tickets/{id}")
    );

    // Filtered by person: what the nosy neighbour did, and nothing else.
    let theirs_only = records(&app, "admin", &format!("?person={nosy}")).await;
    assert!(!theirs_only.is_empty());
    assert!(
        theirs_only
            .iter()
            .all(|r| r["actor_id"] == nosy.to_string() || r["subject_id"] == nosy.to_string())
    );
    // The street office reads its street's; a secretary none; CSV for a spreadsheet.
    let street = records(&app, "street", "").await;
    assert!(street.iter().any(|r| r["kind"] == "contact_read"));
    assert_eq!(
        app.get("secretary", "/api/v1/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let csv = app
        .client
        .get(app.url("/api/v1/admin/audit?format=csv"))
        .bearer_auth(app.token("admin"))
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("\u{feff}at,kind,actor_id"), "{text}");
    assert!(text.contains(",\"refused\","));
}

async fn a_person_downloads_everything_held_about_them(app: TestApp) {
    let t = app.submit("resident", "repair", "楼道灯坏了").await;
    app.work_to_closed(&t).await;
    let res = app
        .client
        .get(app.url("/api/v1/me/export"))
        .bearer_auth(app.token("resident"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"linli-my-data-")
    );
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["profile"]["name"], "王奶奶");
    assert_eq!(
        mine["profile"]["phone"], "13912345678",
        "their own number, in full"
    );
    let asked = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == t.as_str())
        .expect("the request is in it");
    assert_eq!(asked["state"], "closed");
    assert!(asked["events"].as_array().unwrap().len() >= 7, "{asked}");
    assert!(!mine["sign_ins"].as_array().unwrap().is_empty());
    // The volunteer's hours are in theirs.
    let member: Value = app
        .client
        .get(app.url("/api/v1/me/export"))
        .bearer_auth(app.token("member"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!member["ledger"].as_array().unwrap().is_empty(), "{member}");
    // Each export is recorded.
    let resident = app.demo.user("resident").id.to_string();
    let recorded = records(&app, "admin", &format!("?person={resident}")).await;
    assert!(
        recorded.iter().any(|r| r["kind"] == "export"),
        "{recorded:?}"
    );
}

crate::backends! {
    a_person_downloads_everything_held_about_them,
    access_is_recorded_and_read_by_admins_and_the_street,
}
