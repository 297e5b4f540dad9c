//! Photos on a request over HTTP, on SQLite and on PostgreSQL: the resident's on asking, the
//! volunteer's after the work; type, size and count checked; seen only by who sees the request.

use crate::support::{Reply, TestApp};
use reqwest::StatusCode;
use serde_json::{Value, json};

const PNG: &[u8] = include_bytes!("../fixtures/photo.png");

async fn upload(
    app: &TestApp,
    user: &str,
    ticket: &str,
    query: &str,
    ct: &str,
    bytes: Vec<u8>,
) -> Reply {
    app.send(
        app.client
            .post(app.url(&format!("/api/v1/tickets/{ticket}/photos{query}")))
            .bearer_auth(app.token(user))
            .header("content-type", ct)
            .body(bytes),
    )
    .await
}

async fn bytes_of(app: &TestApp, user: &str, url: &str) -> (StatusCode, Vec<u8>, String) {
    let r = app
        .client
        .get(app.url(url))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (r.status(), r.bytes().await.unwrap().to_vec(), ct)
}

async fn residents_and_volunteers_attach_photos_that_only_the_right_people_see(app: TestApp) {
    let t = app.submit("resident", "repair", "楼道灯坏了").await;

    // The resident's, on asking: stored byte for byte, listed, served as what it is.
    let r = upload(&app, "resident", &t, "", "image/png", PNG.to_vec()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (r.body["stage"].as_str(), r.body["size"].as_u64()),
        (Some("request"), Some(PNG.len() as u64))
    );
    let url = r.body["url"].as_str().unwrap().to_owned();
    let (status, bytes, ct) = bytes_of(&app, "secretary", &url).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "image/png"));
    assert_eq!(bytes, PNG, "byte for byte");
    let listed = app
        .get("resident", &format!("/api/v1/tickets/{t}/photos"))
        .await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // Whoever does not see the request sees none of its photos.
    for stranger in ["yunhe_resident", "yunhe_secretary", "member"] {
        assert_eq!(
            bytes_of(&app, stranger, &url).await.0,
            StatusCode::NOT_FOUND,
            "{stranger}"
        );
        let r = app
            .get(stranger, &format!("/api/v1/tickets/{t}/photos"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{stranger}");
    }

    // What is not the image it says it is, or too big, is refused, and nothing is kept.
    let r = upload(
        &app,
        "resident",
        &t,
        "",
        "image/png",
        b"<svg onload=alert(1)>".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let r = upload(&app, "resident", &t, "", "image/jpeg", PNG.to_vec()).await;
    assert_eq!(
        r.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "a PNG is not a JPEG"
    );
    let mut huge = PNG.to_vec();
    huge.resize(2 * 1024 * 1024 + 1, 0);
    let r = upload(&app, "resident", &t, "", "image/png", huge).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    // A resident adds only their own kind; a volunteer not holding it adds none.
    let r = upload(
        &app,
        "resident",
        &t,
        "?stage=after",
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = upload(
        &app,
        "secretary",
        &t,
        "?stage=request",
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "only the resident adds a request photo"
    );
    let r = upload(
        &app,
        "resident",
        &t,
        "?stage=sideways",
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The volunteer holding it adds the after photo; the request then has two.
    app.act("secretary", &t, "triage", Value::Null).await;
    let member = app.demo.user("member").id;
    app.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    app.act("member", &t, "accept", Value::Null).await;
    let r = upload(
        &app,
        "member",
        &t,
        "?stage=after",
        "image/png",
        PNG.to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let listed = app
        .get("resident", &format!("/api/v1/tickets/{t}/photos"))
        .await;
    let stages: Vec<_> = listed
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["request", "after"],
        "the resident sees the work's photo too"
    );

    // At most six, and none once the request is closed.
    for _ in 0..4 {
        assert_eq!(
            upload(&app, "member", &t, "", "image/png", PNG.to_vec())
                .await
                .status,
            StatusCode::CREATED
        );
    }
    let r = upload(&app, "member", &t, "", "image/png", PNG.to_vec()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "too_many_photos")
    );
    let other = app.submit("resident", "repair", "已撤销的请求").await;
    app.act("resident", &other, "cancel", Value::Null).await;
    let r = upload(&app, "resident", &other, "", "image/png", PNG.to_vec()).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "ticket_closed")
    );
    let listed = app
        .get("resident", &format!("/api/v1/tickets/{other}/photos"))
        .await;
    assert_eq!(listed.body, json!([]));
}

backends! {
    residents_and_volunteers_attach_photos_that_only_the_right_people_see,
}
