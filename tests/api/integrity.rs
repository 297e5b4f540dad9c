//! What the directory's writes refer to exists and is of the right kind; a connection
//! answered before its body was read stays usable or says it closes.

use std::time::Duration;

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn every_reference_of_a_directory_write_is_checked(app: TestApp) {
    let d = &app.demo;
    let nowhere = uuid::Uuid::now_v7();
    let member_of_yunhe = app.demo.user("yunhe_member").id;
    let refused = |field: &'static str, body: Value, path: &'static str| (field, body, path);
    for (field, body, path) in [
        refused(
            "community_id",
            json!({"name": "孙阿姨", "roles": ["resident"], "community_id": nowhere}),
            "/api/v1/admin/people",
        ),
        refused(
            "community_id",
            json!({"name": "孙阿姨", "roles": ["resident"], "community_id": d.hehuatang_building}),
            "/api/v1/admin/people",
        ),
        refused(
            "home_building_id",
            json!({"name": "孙阿姨", "roles": ["resident"], "community_id": d.hehuatang, "home_building_id": d.yunhe_building}),
            "/api/v1/admin/people",
        ),
        refused(
            "branch_id",
            json!({"name": "孙阿姨", "roles": ["secretary"], "community_id": d.hehuatang, "branch_id": d.yunhe_branch}),
            "/api/v1/admin/people",
        ),
        refused(
            "street_id",
            json!({"name": "街道", "roles": ["street"], "street_id": d.hehuatang}),
            "/api/v1/admin/people",
        ),
        refused(
            "branch_id",
            json!({"name": "孙阿姨", "roles": ["secretary"], "branch_id": d.hehuatang_branch}),
            "/api/v1/admin/people",
        ),
        refused(
            "community_id",
            json!({"name": "新队", "community_id": nowhere}),
            "/api/v1/admin/teams",
        ),
        refused(
            "members",
            json!({"name": "新队", "community_id": d.hehuatang, "members": [member_of_yunhe]}),
            "/api/v1/admin/teams",
        ),
        refused(
            "leader_id",
            json!({"name": "新队", "community_id": d.hehuatang, "leader_id": nowhere}),
            "/api/v1/admin/teams",
        ),
        refused(
            "community_id",
            json!({"name": "共建", "community_id": d.street}),
            "/api/v1/admin/partner-units",
        ),
        refused(
            "areas",
            json!({"name": "第二支部", "community_id": d.hehuatang, "areas": [d.yunhe_building]}),
            "/api/v1/admin/branches",
        ),
    ] {
        let r = app.post("admin", path, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {:?}",
            r.body
        );
        assert_eq!(r.body["code"], "invalid_field");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.starts_with(&format!("{field}: ")), "{detail}");
    }
    // Nothing of those was written: the one person of that name is the one added now.
    let ok = app
        .post(
            "admin",
            "/api/v1/admin/people",
            json!({"name": "孙阿姨", "roles": ["resident"], "community_id": d.hehuatang, "home_building_id": d.hehuatang_building}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{:?}", ok.body);
    let team = app
        .post(
            "admin",
            "/api/v1/admin/teams",
            json!({"name": "新队", "community_id": d.hehuatang, "members": [ok.body["id"]]}),
        )
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{:?}", team.body);
}

/// Sends a request's head, then (a moment later, as Python's `requests` does) its body,
/// then a second request on the same connection; returns what came back.
async fn split_then_reuse(app: &TestApp, head: &str, body: &[u8]) -> String {
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let head = format!(
        "{head}\r\nHost: linli\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The server may have ended the connection: what it said is read below either way.
    let _ = socket.write_all(body).await;
    let _ = socket
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: linli\r\n\r\n")
        .await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        let mut buf = [0u8; 8192];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
            if answer.windows(4).filter(|w| w == b"\r\n\r\n").count() >= 2
                && answer.ends_with(b"ok")
            {
                break;
            }
        }
    })
    .await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn an_early_answer_leaves_the_connection_usable_or_says_it_closes(app: TestApp) {
    let token = app.token("resident");
    let invisible = app.submit("yunhe_resident", "repair", "别人的请求").await;
    let small = br#"{"category":"repair","description":"x"}"#.to_vec();
    let photo = vec![0xffu8; 3000];
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        ("POST /api/v1/tickets HTTP/1.1".into(), small.clone(), "401"),
        (
            "POST /api/v1/no-such-route HTTP/1.1".into(),
            small.clone(),
            "404",
        ),
        (
            format!(
                "POST /api/v1/tickets/{invisible}/photos HTTP/1.1\r\nAuthorization: Bearer {token}"
            ),
            photo.clone(),
            "404",
        ),
        (
            format!(
                "POST /api/v1/tickets/{invisible}/photos?stage=nonsense HTTP/1.1\r\nAuthorization: Bearer {token}"
            ),
            photo,
            "4",
        ),
        (
            format!("POST /api/v1/tickets HTTP/1.1\r\nAuthorization: Bearer {token}"),
            vec![b' '; 100 * 1024],
            "413",
        ),
        (
            format!("POST /api/v1/tickets HTTP/1.1\r\nAuthorization: Bearer {token}"),
            vec![b' '; 1024 * 1024],
            "413",
        ),
    ];
    for (head, body, status) in cases {
        let answer = split_then_reuse(&app, &head, &body).await;
        let first = answer.lines().next().unwrap_or("");
        assert!(
            first.starts_with(&format!("HTTP/1.1 {status}")),
            "{head}: {answer}"
        );
        let closes = answer
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .to_ascii_lowercase()
            .contains("connection: close");
        let second_answered = answer.matches("HTTP/1.1 ").count() == 2;
        assert!(
            closes || second_answered,
            "{head}: neither `Connection: close` nor an answer to the next request:\n{answer}"
        );
    }
}

async fn a_request_is_placed_only_at_a_building_of_the_callers_community(app: TestApp) {
    let theirs = app.demo.yunhe_building;
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "别的社区的楼", "building_id": theirs}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("building_id"));
    let resident = app.demo.user("resident").id;
    let r = app
        .post(
            "secretary",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "代办到别的社区", "on_behalf_of": resident, "building_id": theirs}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let queue = app.get("yunhe_secretary", "/api/v1/tickets").await;
    assert!(
        queue.body["items"].as_array().unwrap().is_empty(),
        "nothing landed there"
    );
    let own = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "自己楼", "building_id": app.demo.hehuatang_building}),
        )
        .await;
    assert_eq!(own.status, StatusCode::CREATED);
}

crate::backends! {
    a_request_is_placed_only_at_a_building_of_the_callers_community,
    every_reference_of_a_directory_write_is_checked,
    an_early_answer_leaves_the_connection_usable_or_says_it_closes,
}
