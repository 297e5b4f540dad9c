//! PostgreSQL behind a network that fails without closing anything (a TCP proxy that stops
//! forwarding, `crate::support::proxy`): requests are answered 503 with `Retry-After` within the
//! database timeout, never 408 and never a wait on and on; `/readyz` answers 503 within a
//! second; once the network heals the server serves again by itself and nothing
//! acknowledged is lost. A commit whose answer is lost is answered 503 ("outcome unknown"),
//! and the retry with the same `Idempotency-Key` returns the original result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::TestApp;
use crate::support::proxy::{Flow, Proxy};
use reqwest::StatusCode;
use serde_json::{Value, json};
use workflow_core::store::{Scope, Store};

const TIMEOUT: Duration = Duration::from_secs(1);

async fn submit(app: &TestApp, key: Option<&str>, description: &str) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(app.url("/api/v1/tickets"))
        .bearer_auth(app.token("resident"))
        .json(&json!({"category": "repair", "description": description}));
    if let Some(k) = key {
        req = req.header("Idempotency-Key", k);
    }
    let r = app.send(req).await;
    (r.status, r.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_partition_is_503s_within_the_timeout_and_readiness_answers_at_once() {
    let Some(url) = crate::support::postgres_url().await else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    let app = Arc::new(TestApp::spawn_with_timeout(&proxy.url, TIMEOUT).await);
    assert_eq!(submit(&app, None, "分区之前").await.0, StatusCode::CREATED);

    proxy.set(Flow::Neither);
    let cut = Instant::now();
    let mut load = Vec::new();
    for n in 0..4 {
        let app = app.clone();
        load.push(tokio::spawn(async move {
            let mut refused = Vec::new();
            let mut i = 0;
            while cut.elapsed() < Duration::from_secs(3) {
                let key = format!("partition-{n}-{i}");
                let sent = Instant::now();
                let (status, body) = submit(&app, Some(&key), "分区之中").await;
                let took = sent.elapsed();
                assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
                assert_eq!(body["code"], "unavailable");
                assert!(
                    took < TIMEOUT + Duration::from_millis(500),
                    "answered after {took:?}"
                );
                refused.push(key);
                i += 1;
            }
            refused
        }));
    }
    let asked = Instant::now();
    let ready = app.send(app.client.get(app.url("/readyz"))).await;
    let took = asked.elapsed();
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        took < Duration::from_secs(1),
        "/readyz answered after {took:?}"
    );
    let mut refused = Vec::new();
    for l in load {
        refused.extend(l.await.unwrap());
    }

    proxy.set(Flow::Both);
    // The server comes back by itself: connections stuck in the partition finish or are
    // replaced.
    let healed = Instant::now();
    loop {
        let ready = app.send(app.client.get(app.url("/readyz"))).await;
        if ready.status == StatusCode::OK {
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(20),
            "not ready again: {:?}",
            ready.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each refused submission sent again with its key is taken once.
    let mut ids = Vec::new();
    for key in &refused {
        let (status, body) = submit(&app, Some(key), "分区之中").await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), refused.len(), "one ticket a key");
    eprintln!(
        "partition: {} submissions answered 503 within {TIMEOUT:?}, ready again {:?} after healing",
        refused.len(),
        healed.elapsed()
    );
    let direct = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    for id in &ids {
        let t = direct
            .ticket(id.parse().unwrap(), &Scope::Everything)
            .await
            .unwrap();
        assert!(t.is_some(), "acknowledged ticket {id} is missing");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_whose_answer_is_lost_is_503_and_the_same_key_returns_the_original() {
    let Some(url) = crate::support::postgres_url().await else {
        return;
    };
    let proxy = Proxy::start(&url).await;
    let app = TestApp::spawn_with_timeout(&proxy.url, TIMEOUT).await;

    // The submission's transaction commits on the server; its answer never arrives.
    proxy.set(Flow::UntilCommit);
    let (status, body) = submit(&app, Some("lost-answer"), "答复丢失").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("unknown"),
        "a lost answer is told as an unknown outcome: {body}"
    );
    proxy.set(Flow::Both);

    let direct = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let resident = app.demo.user("resident").id;
    let committed: Vec<_> = crate::support::tickets_of(&direct, resident)
        .await
        .into_iter()
        .filter(|t| t.description == "答复丢失")
        .collect();
    assert_eq!(
        committed.len(),
        1,
        "the commit happened though its answer was lost"
    );

    let (status, body) = submit(&app, Some("lost-answer"), "答复丢失").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        body["id"],
        committed[0].id.to_string(),
        "the original result"
    );
    let after = crate::support::tickets_of(&direct, resident).await;
    assert_eq!(
        after.iter().filter(|t| t.description == "答复丢失").count(),
        1,
        "the retry made no second request"
    );
}
