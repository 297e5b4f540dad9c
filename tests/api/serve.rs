//! The real binary: `linli serve --demo` on a free port answers over HTTP; on SIGTERM it
//! finishes what is in flight, stops its timer worker and exits cleanly; without a webhook
//! its messages are written delivered; its logs carry no phone number and no token.

use std::time::Duration;

use crate::support::spawn_linli;
use serde_json::json;
use workflow_core::store::{Page, Scope, Store, TicketFilter};

fn sqlite_file(tag: &str) -> String {
    let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-{tag}-{}.db", uuid::Uuid::now_v7().simple()));
    format!("sqlite://{}", db.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_and_stops_cleanly_on_sigterm() {
    let url = sqlite_file("serve");
    let mut server = spawn_linli(&url, None, true, &[], None);
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // Started from an empty directory: the console and the workflows are in the binary.
    let console = client.get(&server.base).send().await.unwrap();
    assert_eq!(console.status(), 200);
    assert!(console.text().await.unwrap().contains("邻里"));
    let created = client
        .post(format!("{}/api/v1/tickets", server.base))
        .bearer_auth(&server.tokens["resident"])
        .json(&json!({"category": "elderly_care", "description": "帮我取一下药"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    // What was acknowledged is there after the stop.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let all = store
        .list(
            &Scope::Everything,
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    // The one submitted here, beside the demo's history.
    assert_eq!(
        all.iter()
            .filter(|t| t.description == "帮我取一下药")
            .count(),
        1
    );
    // Served without a webhook, its messages were written delivered: the event streams read
    // them, nothing waits.
    let told = store
        .outbox_after(&Scope::Everything, uuid::Uuid::nil(), 10)
        .await
        .unwrap();
    assert!(!told.is_empty(), "the submission told the branch");
    assert_eq!(store.outbox_backlog().await.unwrap(), 0, "nothing waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_lets_in_flight_requests_finish_without_5xx() {
    let mut server = spawn_linli(
        &sqlite_file("term"),
        None,
        true,
        &[("LINLI_RATE_LIMIT", "0")],
        None,
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loads = Vec::new();
    for _ in 0..8 {
        let (base, token, stop) = (
            server.base.clone(),
            server.tokens["resident"].clone(),
            stop.clone(),
        );
        loads.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut answered, mut server_errors) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({"category": "sanitation", "description": "垃圾桶满了"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_server_error() => server_errors += 1,
                    Ok(_) => answered += 1,
                    // Refused once the listener is closed: not an answer, not an error.
                    Err(_) => break,
                }
            }
            (answered, server_errors)
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let status = server.terminate().await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut answered, mut server_errors) = (0, 0);
    for l in loads {
        let (a, e) = l.await.unwrap();
        answered += a;
        server_errors += e;
    }
    assert!(status.success(), "exit status {status}");
    assert!(answered > 20, "there was load: {answered}");
    assert_eq!(server_errors, 0, "no 5xx during the shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_phone_numbers_and_no_tokens() {
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-logs-{}.log", uuid::Uuid::now_v7().simple()));
    let env = [("RUST_LOG", "debug")];
    let mut server = spawn_linli(
        &sqlite_file("logs"),
        None,
        true,
        &env,
        Some(std::fs::File::create(&log).unwrap()),
    );
    let (base, tokens) = (server.base.clone(), server.tokens.clone());
    let client = reqwest::Client::new();
    let post = |who: &str, path: String, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&tokens[who])
            .json(&body)
            .send()
    };
    let t: serde_json::Value = post(
        "resident",
        "/api/v1/tickets".into(),
        json!({"category": "repair", "description": "灯坏了"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let id = t["id"].as_str().unwrap();
    post(
        "secretary",
        format!("/api/v1/tickets/{id}/actions/triage"),
        json!({}),
    )
    .await
    .unwrap();
    // Staff read the unmasked number; a forged token is refused.
    let seen: serde_json::Value = client
        .get(format!("{base}/api/v1/tickets/{id}"))
        .bearer_auth(&tokens["secretary"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["requester"]["phone"], "13912345678");
    client
        .get(format!("{base}/api/v1/tickets/{id}"))
        .bearer_auth("ll_forged")
        .send()
        .await
        .unwrap();
    server.terminate().await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("request"),
        "debug logs were written: {} bytes",
        text.len()
    );
    for phone in ["13912345678", "13987654321", "1380000000"] {
        assert!(!text.contains(phone), "a phone number reached the logs");
    }
    assert!(!text.contains("ll_"), "a token reached the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-json-{}.log", uuid::Uuid::now_v7().simple()));
    let env = [
        ("RUST_LOG", "debug,sqlx=warn"),
        ("LINLI_LOG_FORMAT", "json"),
    ];
    let mut server = spawn_linli(
        &sqlite_file("json"),
        None,
        true,
        &env,
        Some(std::fs::File::create(&log).unwrap()),
    );
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/tickets", server.base))
        .bearer_auth(&server.tokens["resident"])
        .json(&json!({"category": "repair", "description": "灯坏了"}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    server.terminate().await;
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == id.as_str())
        .collect();
    assert!(
        of_request.len() >= 2,
        "the request's lines carry its id {id}:\n{text}"
    );
    for line in lines.iter().filter(|l| l["span"]["name"] == "request") {
        assert!(line["span"]["request_id"].is_string(), "{line}");
    }
}
