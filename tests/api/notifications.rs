//! Notifications that reach people: webhook delivery (signed, retried, parked and retried by
//! an admin, each message once after de-duplication) against a real receiver on a random
//! port, and the caller's event stream (a dispatch arrives within a second; a reconnect with
//! `Last-Event-ID` misses nothing). Both backends.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use futures_util::StreamExt;
use hmac::{Hmac, Mac};
use linli::runtime::SystemClock;
use linli::runtime::delivery::{DeliveryConfig, Endpoint, Webhooks, spawn_delivery_worker};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;
use storage::OutboxState;

const SECRET: &str = "a-test-secret-of-some-length";

/// A webhook receiver: answers 500 to its first `fail_first` requests (and to every request
/// while `down`), keeps every request it got.
#[derive(Default)]
struct Receiver {
    fail_first: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
    got: Mutex<Vec<(HeaderMap, Vec<u8>)>>,
}

async fn start_receiver(r: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            |axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
             headers: HeaderMap,
             body: axum::body::Bytes| async move {
                r.got.lock().unwrap().push((headers, body.to_vec()));
                let failing = r
                    .fail_first
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if failing || r.down.load(Ordering::SeqCst) {
                    AxumStatus::INTERNAL_SERVER_ERROR
                } else {
                    AxumStatus::OK
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app.with_state(r)).await.unwrap() });
    format!("http://{addr}/hook")
}

/// Delivers the app's messages to `url`, quickly retried, as the composition root would
/// with a webhook configured: messages written from now on wait for it.
fn deliver_to(app: &TestApp, url: String, max_attempts: u32) -> tokio::sync::watch::Sender<bool> {
    deliver_with(
        app,
        url,
        DeliveryConfig {
            first_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            poll: Duration::from_millis(50),
            max_attempts,
            // The receivers here are on this machine.
            allow: vec!["127.0.0.1".into()],
            ..DeliveryConfig::default()
        },
    )
}

fn deliver_with(
    app: &TestApp,
    url: String,
    config: DeliveryConfig,
) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let webhooks = Webhooks {
        default: Some(Endpoint {
            url,
            secret: SECRET.into(),
        }),
        communities: HashMap::new(),
        platform: None,
    };
    app.store.set_outbox_delivery(webhooks.outbox_delivery());
    spawn_delivery_worker(
        app.store.clone(),
        Arc::new(webhooks),
        Arc::new(SystemClock),
        app.wake.clone(),
        config,
        stopped,
    );
    stop
}

/// Verified independently of the server's code: HMAC-SHA256 over "{timestamp}.{body}".
fn signature_verifies(headers: &HeaderMap, body: &[u8]) -> bool {
    let ts = headers["linli-timestamp"].to_str().unwrap();
    let sig = headers["linli-signature"].to_str().unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    sig == format!("v1={hex}")
}

/// Submit → confirm through the API; returns the ticket id.
async fn lifecycle(app: &TestApp) -> String {
    let t = app.submit("resident", "repair", "楼道灯不亮了").await;
    app.work_to_closed(&t).await;
    t
}

async fn eventually<F: std::future::Future<Output = bool>>(
    what: &str,
    mut check: impl FnMut() -> F,
) {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn webhook_messages_arrive_signed_and_once_after_dedup(app: TestApp) {
    let receiver = Arc::new(Receiver::default());
    receiver.fail_first.store(3, Ordering::SeqCst);
    let url = start_receiver(receiver.clone()).await;
    let _stop = deliver_to(&app, url, 10);
    let ticket = lifecycle(&app).await;
    let store = app.store.clone();
    eventually("the backlog drains", || {
        let store = store.clone();
        async move { store.outbox_backlog().await.unwrap() == 0 }
    })
    .await;

    let delivered = app
        .store
        .outbox_entries(OutboxState::Delivered, None, 500)
        .await
        .unwrap();
    let expected: HashSet<String> = delivered.iter().map(|e| e.message.id.to_string()).collect();
    assert!(
        expected.len() >= 6,
        "a lifecycle tells people things: {}",
        expected.len()
    );

    let got = receiver.got.lock().unwrap().clone();
    assert!(
        got.len() >= expected.len() + 3,
        "three failures were retried"
    );
    let mut once: HashMap<String, Value> = HashMap::new();
    for (headers, body) in &got {
        assert!(signature_verifies(headers, body), "every request is signed");
        let id = headers["linli-message-id"].to_str().unwrap().to_owned();
        let payload: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(
            payload["id"],
            id.as_str(),
            "the header and the body name one message"
        );
        assert_eq!(payload["ticket_id"], ticket.as_str());
        if let Some(earlier) = once.insert(id, payload.clone()) {
            assert_eq!(earlier, payload, "a retry carries the same message");
        }
    }
    let ids: HashSet<String> = once.keys().cloned().collect();
    assert_eq!(
        ids, expected,
        "each message exactly once after de-duplication by id"
    );
    let kinds: HashSet<&str> = once.values().map(|p| p["type"].as_str().unwrap()).collect();
    for kind in ["submitted", "dispatch", "accept", "complete", "confirm"] {
        assert!(kinds.contains(kind), "{kind} told: {kinds:?}");
    }
    let dispatch = once.values().find(|p| p["type"] == "dispatch").unwrap();
    assert!(
        dispatch["event"].is_object(),
        "the event travels with the message"
    );
    assert_eq!(dispatch["event"]["seq"], dispatch["event_seq"]);

    // The failed attempts are on record.
    let ids: Vec<_> = delivered.iter().map(|e| e.message.id).collect();
    let statuses: Vec<_> = app
        .store
        .delivery_attempts(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, a)| a.status)
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == Some(500)).count(), 3);
}

async fn a_parked_message_is_listed_and_retried_by_an_admin(app: TestApp) {
    let receiver = Arc::new(Receiver::default());
    receiver.down.store(true, Ordering::SeqCst);
    let url = start_receiver(receiver.clone()).await;
    let _stop = deliver_to(&app, url, 2);
    app.submit("resident", "repair", "水管漏水").await;
    let store = app.store.clone();
    eventually("the message is parked", || {
        let store = store.clone();
        async move { store.outbox_backlog().await.unwrap() == 0 }
    })
    .await;
    let r = app.get("admin", "/api/v1/admin/outbox/backlog").await;
    assert_eq!(
        r.body,
        json!({"pending": 0, "parked": 1}),
        "a parked message waits no more, and is counted where an operator looks"
    );
    // The metrics and the readiness detail say so too (the node still serves).
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "linli_outbox_parked 1"),
        "{metrics}"
    );
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["parked_messages"], 1, "{ready}");
    let r = app.get("admin", "/api/v1/admin/outbox?state=failed").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let parked = r.body.as_array().unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    let m = &parked[0];
    assert_eq!(m["state"], "failed");
    assert_eq!(m["type"], "submitted");
    assert_eq!(m["attempts"].as_array().unwrap().len(), 2, "{m}");
    assert_eq!(m["attempts"][0]["status"], 500);
    let id = m["id"].as_str().unwrap().to_owned();

    // Only admins see the outbox.
    let r = app
        .get("secretary", "/api/v1/admin/outbox?state=failed")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.get("admin", "/api/v1/admin/outbox?state=lost").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "invalid_query")
    );

    receiver.down.store(false, Ordering::SeqCst);
    let retry = format!("/api/v1/admin/outbox/{id}/retry");
    let r = app.post("admin", &retry, Value::Null).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{:?}", r.body);
    eventually("the retried message is delivered", || {
        let (app, id) = (&app, id.clone());
        async move {
            let r = app
                .get("admin", "/api/v1/admin/outbox?state=delivered")
                .await;
            r.body
                .as_array()
                .is_some_and(|a| a.iter().any(|m| m["id"] == id.as_str()))
        }
    })
    .await;
    let r = app.post("admin", &retry, Value::Null).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "not_parked"));
}

/// An open event stream: parsed server-sent events as they come.
struct Stream {
    events: tokio::sync::mpsc::UnboundedReceiver<(String, String, Value)>,
}

async fn open_stream(app: &TestApp, user: &str, last_event_id: Option<&str>) -> Stream {
    let mut req = app
        .client
        .get(app.url("/api/v1/me/stream"))
        .bearer_auth(app.token(user));
    if let Some(id) = last_event_id {
        req = req.header("Last-Event-ID", id);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let (tx, events) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut bytes = res.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = bytes.next().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let block: String = buf.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (String::new(), String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("event:") {
                        kind = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if !id.is_empty()
                    && tx
                        .send((id, kind, serde_json::from_str(&data).unwrap()))
                        .is_err()
                {
                    return;
                }
            }
        }
    });
    Stream { events }
}

impl Stream {
    async fn next_within(&mut self, limit: Duration) -> Option<(String, String, Value)> {
        tokio::time::timeout(limit, self.events.recv())
            .await
            .ok()
            .flatten()
    }
}

async fn the_stream_brings_a_dispatch_within_a_second_and_resumes(app: TestApp) {
    let member = app.demo.user("member").id;
    let mut stream = open_stream(&app, "member", None).await;
    let t = app.submit("resident", "repair", "门锁坏了").await;
    app.act("secretary", &t, "triage", Value::Null).await;
    let sent = Instant::now();
    let r = app
        .act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let (id, kind, data) = stream
        .next_within(Duration::from_secs(1))
        .await
        .expect("the dispatch arrives within a second");
    assert!(sent.elapsed() < Duration::from_secs(1));
    assert_eq!(kind, "dispatch");
    assert_eq!(data["ticket_id"], t.as_str());
    assert_eq!(data["recipient"], json!({"person": member}));
    drop(stream);

    // While the member is away: a second ticket dispatched, the first one confirmed.
    let t2 = app.submit("resident", "repair", "窗户关不上").await;
    app.act("secretary", &t2, "triage", Value::Null).await;
    app.act("secretary", &t2, "dispatch", json!({"assignee": member}))
        .await;
    for (who, action, body) in [
        ("member", "accept", Value::Null),
        ("member", "start", Value::Null),
        ("member", "complete", json!({"hours": 0.5})),
        ("resident", "confirm", json!({"rating": 4})),
    ] {
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}");
    }
    let mut resumed = open_stream(&app, "member", Some(&id)).await;
    let mut missed = Vec::new();
    while let Some((_, kind, data)) = resumed.next_within(Duration::from_millis(1500)).await {
        missed.push((kind, data["ticket_id"].as_str().unwrap().to_owned()));
    }
    assert_eq!(
        missed,
        [
            ("dispatch".to_owned(), t2.clone()),
            ("confirm".to_owned(), t.clone())
        ],
        "everything for the member since the last event, nothing else, in order"
    );
    // The resident's stream carries the resident's messages only.
    let mut resident = open_stream(&app, "resident", Some(&id)).await;
    let mut told = 0;
    while let Some((_, _, data)) = resident.next_within(Duration::from_millis(800)).await {
        assert_eq!(
            data["recipient"]["person"],
            app.demo.user("resident").id.to_string()
        );
        told += 1;
    }
    assert!(
        told > 0,
        "the requester is told of the work on their request"
    );
}

backends! {
    webhook_messages_arrive_signed_and_once_after_dedup,
    a_parked_message_is_listed_and_retried_by_an_admin,
    the_stream_brings_a_dispatch_within_a_second_and_resumes,
    sla_warnings_breaches_and_escalations_reach_the_right_streams,
}

/// Two nodes on one PostgreSQL database: a message written through node B wakes node A
/// (LISTEN/NOTIFY) and reaches a stream open on A within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_message_written_on_another_node_reaches_the_stream() {
    let Some(url) = postgres_url().await else {
        return;
    };
    let a = TestApp::spawn(&url).await;
    let b = TestApp::spawn(&url).await;
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    linli::runtime::relay::spawn_outbox_listener(a.store.clone(), a.wake.clone(), stopped)
        .expect("a listener on PostgreSQL");
    tokio::time::sleep(Duration::from_millis(300)).await; // LISTEN is in place
    let mut woken = a.wake.outbox_changes();
    woken.mark_unchanged();
    let mut stream = open_stream(&a, "member", None).await;

    let member = b.demo.user("member").id;
    let t = b.submit("resident", "repair", "电梯异响").await;
    tokio::time::timeout(Duration::from_secs(1), woken.changed())
        .await
        .expect("node A is woken by node B's write")
        .unwrap();
    b.act("secretary", &t, "triage", Value::Null).await;
    let sent = Instant::now();
    b.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    let (_, kind, data) = stream
        .next_within(Duration::from_secs(1))
        .await
        .expect("the dispatch made on node B arrives on node A within a second");
    assert!(sent.elapsed() < Duration::from_secs(1));
    assert_eq!(
        (kind.as_str(), data["ticket_id"].as_str()),
        ("dispatch", Some(t.as_str()))
    );
}

/// Deadlines reach the stream: the secretary hears of the warning and the breach, and the
/// community office of the escalation that reaches it, as the workflow's rules say.
async fn sla_warnings_breaches_and_escalations_reach_the_right_streams(app: TestApp) {
    let mut secretary = open_stream(&app, "secretary", None).await;
    let mut community = open_stream(&app, "community", None).await;
    let t = app.submit("resident", "repair", "下水道堵了").await;
    // Nobody acts for two weeks: every deadline passes and the ladder climbs (each rung is
    // timed from the one before, so the clock moves on in steps).
    for _ in 0..5 {
        app.advance(3 * 86_400).await;
    }
    let mut seen_by_secretary = Vec::new();
    while let Some((_, kind, data)) = secretary.next_within(Duration::from_millis(1500)).await {
        assert_eq!(data["ticket_id"], t.as_str());
        seen_by_secretary.push(kind);
    }
    for kind in ["submitted", "sla_warning", "sla_breach", "escalation"] {
        assert!(
            seen_by_secretary.iter().any(|k| k == kind),
            "the secretary hears of {kind}: {seen_by_secretary:?}"
        );
    }
    let mut seen_by_community = Vec::new();
    while let Some((_, kind, data)) = community.next_within(Duration::from_millis(500)).await {
        assert_eq!(data["recipient"], json!({"staff": "community"}));
        seen_by_community.push(kind);
    }
    assert!(
        seen_by_community.iter().any(|k| k == "escalation"),
        "the community office hears of the escalation to it: {seen_by_community:?}"
    );
    assert!(
        !seen_by_community.iter().any(|k| k == "submitted"),
        "but not of what is the secretary's: {seen_by_community:?}"
    );
}

/// OWASP API7: a webhook on a private address is refused unless the operator allows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_to_a_private_address_is_refused_unless_allowed() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    let receiver = Arc::new(Receiver::default());
    let url = start_receiver(receiver.clone()).await;
    let stop = deliver_with(
        &app,
        url,
        DeliveryConfig {
            poll: Duration::from_millis(50),
            max_attempts: 1,
            ..DeliveryConfig::default()
        },
    );
    app.submit("resident", "repair", "楼道灯坏了").await;
    let parked = async {
        loop {
            let r = app.get("admin", "/api/v1/admin/outbox?state=failed").await;
            if let Some(m) = r.body.as_array().and_then(|a| a.first()) {
                return m.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let parked = tokio::time::timeout(Duration::from_secs(10), parked)
        .await
        .unwrap();
    assert!(
        parked["last_error"]
            .as_str()
            .unwrap()
            .contains("not a public address"),
        "{parked}"
    );
    assert!(
        receiver.got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    let _ = stop.send(true);
}

/// OWASP API4: a person holds at most a handful of event streams; a closed one frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_holds_a_handful_of_event_streams_at_most() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    let open = || {
        app.client
            .get(app.url("/api/v1/me/stream"))
            .bearer_auth(app.token("resident"))
            .send()
    };
    let mut streams = Vec::new();
    for _ in 0..linli_http::notify::STREAMS_PER_PERSON {
        let s = open().await.unwrap();
        assert_eq!(s.status(), StatusCode::OK);
        streams.push(s);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    // Someone else is not affected; one closed frees a place.
    let other = app
        .client
        .get(app.url("/api/v1/me/stream"))
        .bearer_auth(app.token("member"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::OK);
    drop(streams.pop());
    let again = async {
        loop {
            let s = open().await.unwrap();
            if s.status() == StatusCode::OK {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), again)
        .await
        .unwrap();
}
