//! The 12345 bridge end to end, against a fake platform (an HTTP server of this test, not of
//! the product): 200 orders of every request type into the real `linli serve`, its
//! callbacks refused for a while, Linli killed (SIGKILL) and started again in the middle, the
//! platform answering extension requests, returns and completions as a platform does. At the
//! end every callback arrived signed, once in effect and in order, and the platform's view
//! of every order equals Linli's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::support::{HOTLINE, HOTLINE_SECRET, Running, postgres_url, spawn_linli, sqlite_url};

const ORDERS: usize = 200;
const TYPES: [&str; 6] = ["咨询", "求助", "投诉", "举报", "建议", "感谢"];
/// The actions whose callbacks the platform hears.
const CALLED_BACK: [&str; 5] = [
    "sign_for",
    "return_order",
    "request_extension",
    "acknowledge",
    "resolve",
];

fn number(i: usize) -> String {
    format!("GD2026120{:05}", i)
}

/// What the fake platform knows.
#[derive(Default)]
struct Platform {
    /// The first callbacks are refused (503): the platform is down for a while.
    refuse_first: usize,
    refused: usize,
    /// Message ids seen: a retry of one already taken is a duplicate, taken once.
    seen: HashMap<String, ()>,
    duplicates: usize,
    /// Per order: (seq, type, state) of each callback, as they arrived.
    orders: HashMap<String, Vec<(u64, String, String)>>,
    /// Per order: the state its own answers left the order in (returned, closed).
    answered: HashMap<String, String>,
    problems: Vec<String>,
}

type Shared = Arc<Mutex<Platform>>;

/// The platform's callback endpoint.
async fn callback(
    State((platform, answers)): State<(Shared, mpsc::UnboundedSender<(String, Value)>)>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let ts: i64 = header("linli-timestamp").parse().unwrap_or(0);
    let now = jiff::Timestamp::now().as_second();
    let mut p = platform.lock().unwrap();
    if !linli_http::signature::verify(HOTLINE_SECRET, ts, &body, header("linli-signature"), now) {
        p.problems.push("a callback with a bad signature".into());
        return StatusCode::UNAUTHORIZED;
    }
    if p.refused < p.refuse_first {
        p.refused += 1;
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let c: Value = serde_json::from_slice(&body).unwrap();
    let id = c["id"].as_str().unwrap().to_owned();
    if header("idempotency-key") != id {
        p.problems
            .push(format!("callback {id} without its idempotency key"));
    }
    if p.seen.insert(id, ()).is_some() {
        p.duplicates += 1;
        return StatusCode::OK;
    }
    let order = c["order_number"].as_str().unwrap().to_owned();
    let (seq, kind, state) = (
        c["seq"].as_u64().unwrap(),
        c["type"].as_str().unwrap().to_owned(),
        c["state"].as_str().unwrap().to_owned(),
    );
    let steps = p.orders.entry(order.clone()).or_default();
    if steps.last().is_some_and(|(last, ..)| *last >= seq) {
        let problem = format!("{order}: callback {seq} ({kind}) after {:?}", steps.last());
        p.problems.push(problem);
    }
    p.orders
        .entry(order.clone())
        .or_default()
        .push((seq, kind.clone(), state));
    // The platform's answers, as its staff would give them.
    let answer = match kind.as_str() {
        "request_extension" => Some(json!({"type": "extension_answer", "approved": true})),
        "return_order" => {
            p.answered.insert(order.clone(), "returned".into());
            Some(json!({"type": "return_answer", "approved": true}))
        }
        "resolve" => {
            p.answered.insert(order.clone(), "closed".into());
            Some(json!({"type": "follow_up", "solved": true, "satisfaction": "satisfied"}))
        }
        _ => None,
    };
    if let Some(a) = answer {
        answers.send((order, a)).unwrap();
    }
    StatusCode::OK
}

/// Where Linli is now (it moves when it is restarted) and the integration's token there.
type Linli = Arc<Mutex<(String, String)>>;

/// A request to Linli signed as the platform signs, retried while Linli is down or the
/// order is busy; its status and body.
async fn send(client: &reqwest::Client, linli: &Linli, path: &str, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    // The platform's id of what it sends: the same on every retry.
    let key = uuid::Uuid::now_v7().to_string();
    let mut last = String::new();
    for _ in 0..600 {
        let (base, token) = linli.lock().unwrap().clone();
        let ts = jiff::Timestamp::now().as_second();
        let r = client
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .header("idempotency-key", &key)
            .header("content-type", "application/json")
            .header("linli-timestamp", ts.to_string())
            .header(
                "linli-signature",
                linli_http::signature::sign(HOTLINE_SECRET, ts, &bytes),
            )
            .body(bytes.clone())
            .send()
            .await;
        match r {
            Ok(r) if r.status().as_u16() != 409 && r.status().as_u16() != 503 => {
                let status = r.status().as_u16();
                return (status, r.json().await.unwrap_or(Value::Null));
            }
            Ok(r) => {
                last = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => {
                last = e.to_string();
                tokio::time::sleep(Duration::from_millis(50)).await
            }
        }
    }
    panic!("{path}: Linli did not answer: {last}");
}

/// The platform's staff answering, in the order the callbacks came.
async fn answering(
    client: reqwest::Client,
    linli: Linli,
    mut answers: mpsc::UnboundedReceiver<(String, Value)>,
    sent: Arc<Mutex<usize>>,
) {
    while let Some((order, answer)) = answers.recv().await {
        let (status, body) = send(
            &client,
            &linli,
            &format!("/api/v1/hotline/orders/{order}/events"),
            &answer,
        )
        .await;
        assert_eq!(status, 200, "{order} {answer}: {body}");
        *sent.lock().unwrap() += 1;
    }
}

fn start(db_url: &str, mapping: &std::path::Path) -> Running {
    spawn_linli(
        db_url,
        None,
        true,
        &[
            ("LINLI_RATE_LIMIT", "0"),
            ("LINLI_HOTLINE", mapping.to_str().unwrap()),
            ("LINLI_WEBHOOK_ALLOW", "127.0.0.1"),
            ("LINLI_WEBHOOK_BACKOFF", "1"),
            ("LINLI_WEBHOOK_ATTEMPTS", "100"),
            // What the killed server had claimed is free again soon after.
            ("LINLI_TIMER_LEASE", "2"),
        ],
        None,
    )
}

/// A staff action on an order's ticket, retried while Linli is down.
async fn act(
    client: &reqwest::Client,
    server: &Running,
    who: &str,
    id: &str,
    action: &str,
    body: Value,
) {
    let r = client
        .post(format!(
            "{}/api/v1/tickets/{id}/actions/{action}",
            server.base
        ))
        .bearer_auth(&server.tokens[who])
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(
        status.is_success(),
        "{action} on {id}: {}",
        r.text().await.unwrap()
    );
}

fn order(i: usize, content: &str) -> Value {
    let code = ["0301", "0302", "0501", "0999"][i % 4];
    let unit = if i.is_multiple_of(2) {
        "荷花塘社区居委会"
    } else {
        "运河社区居委会"
    };
    json!({
        "order_number": number(i),
        "channel": "电话",
        "requester": {"name": format!("来电人{i}"), "phone": format!("139{:08}", i % 37), "confidential": i.is_multiple_of(9)},
        "received_at": "2026-12-07T09:00:00+08:00",
        "address": "小区门口",
        "request_type": TYPES[i % TYPES.len()],
        "category_code": code,
        "content": content,
        "lead_unit": unit,
        "deadline": "2026-12-21T17:30:00+08:00"
    })
}

async fn round_trip(db_url: String) {
    // The platform.
    let platform: Shared = Arc::new(Mutex::new(Platform::default()));
    let (answers_to, answers) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/callback", axum::routing::post(callback))
        .with_state((platform.clone(), answers_to));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback_url = format!("http://{}/callback", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mapping = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("hotline-{}.toml", uuid::Uuid::now_v7().simple()));
    let text = std::fs::read_to_string(HOTLINE).unwrap();
    std::fs::write(
        &mapping,
        text.replace("http://127.0.0.1:9/callback", &callback_url),
    )
    .unwrap();
    // Its first callbacks are refused: each is tried again, later, in its order's turn.
    platform.lock().unwrap().refuse_first = 40;

    let mut server = start(&db_url, &mapping);
    let linli: Linli = Arc::new(Mutex::new((
        server.base.clone(),
        server.tokens["hotline"].clone(),
    )));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answered = Arc::new(Mutex::new(0));
    let answerer = tokio::spawn(answering(
        client.clone(),
        linli.clone(),
        answers,
        answered.clone(),
    ));

    // Every order in; some sent again unchanged, some changed.
    let mut tickets = Vec::new();
    for i in 0..ORDERS {
        let (status, body) = send(
            &client,
            &linli,
            "/api/v1/hotline/orders",
            &order(i, "路灯不亮"),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        tickets.push(body["ticket_id"].as_str().unwrap().to_owned());
        if i % 10 == 0 {
            let (_, again) = send(
                &client,
                &linli,
                "/api/v1/hotline/orders",
                &order(i, "路灯不亮"),
            )
            .await;
            assert_eq!(again["outcome"], "same");
        }
        if i % 25 == 0 {
            let (_, changed) = send(
                &client,
                &linli,
                "/api/v1/hotline/orders",
                &order(i, "路灯不亮，已有一周"),
            )
            .await;
            assert_eq!(changed["outcome"], "updated");
        }
    }
    let secretary = |i: usize| {
        if i.is_multiple_of(2) {
            "secretary"
        } else {
            "yunhe_secretary"
        }
    };
    let work = |i: usize| -> Vec<(&'static str, Value)> {
        let mut steps = vec![("sign_for", json!({}))];
        match i % 4 {
            0 => steps.extend([
                ("handle", json!({})),
                ("resolve", json!({"note": "已修复", "contacted": true})),
            ]),
            1 => steps.extend([
                ("handle", json!({})),
                (
                    "request_extension",
                    json!({"reason": "等待配件", "extend_by": "1wd"}),
                ),
            ]),
            2 => steps.push(("return_order", json!({"reason": "不属于本社区"}))),
            _ => {}
        }
        steps
    };
    for (i, id) in tickets.iter().enumerate() {
        if i == ORDERS / 2 {
            // Killed mid-way, messages waiting in its outbox; started again on the same data.
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            server = start(&db_url, &mapping);
            *linli.lock().unwrap() = (server.base.clone(), server.tokens["hotline"].clone());
        }
        for (action, body) in work(i) {
            act(&client, &server, secretary(i), id, action, body).await;
        }
        if i % 4 == 3 {
            let (status, _) = send(
                &client,
                &linli,
                &format!("/api/v1/hotline/orders/{}/events", number(i)),
                &json!({"type": "reminder", "note": "来电人再次催促"}),
            )
            .await;
            assert_eq!(status, 200);
            act(
                &client,
                &server,
                secretary(i),
                id,
                "acknowledge",
                json!({"note": "已回复来电人"}),
            )
            .await;
        }
    }
    // Every callback through (two per order), every answer applied.
    let expected_answers = (0..ORDERS).filter(|i| i % 4 != 3).count();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let received: usize = platform.lock().unwrap().orders.values().map(Vec::len).sum();
        let answers_done = *answered.lock().unwrap();
        if received == 2 * ORDERS && answers_done == expected_answers {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "callbacks {received} of {}, answers {answers_done} of {expected_answers}",
            2 * ORDERS
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The platform's view of each order equals Linli's.
    // What the platform knows, read once: Linli is asked below.
    let p = std::mem::take(&mut *platform.lock().unwrap());
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.refused, 40, "the retries were not tested");
    for (i, id) in tickets.iter().enumerate() {
        let n = number(i);
        let view = client
            .get(format!("{}/api/v1/hotline/orders/{n}", server.base))
            .bearer_auth(&server.tokens["hotline"])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        assert_eq!(view["id"].as_str(), Some(id.as_str()));
        let events = client
            .get(format!("{}/api/v1/tickets/{id}/events", server.base))
            .bearer_auth(&server.tokens["street"])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let linli_steps: Vec<(u64, String)> = events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| CALLED_BACK.contains(&e["kind"].as_str().unwrap()))
            .map(|e| {
                (
                    e["seq"].as_u64().unwrap(),
                    e["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let heard = &p.orders[&n];
        let platform_steps: Vec<(u64, String)> =
            heard.iter().map(|(s, k, _)| (*s, k.clone())).collect();
        assert_eq!(platform_steps, linli_steps, "order {n}");
        let believed = p
            .answered
            .get(&n)
            .cloned()
            .unwrap_or_else(|| heard.last().unwrap().2.clone());
        assert_eq!(view["state"].as_str(), Some(believed.as_str()), "order {n}");
        let expected = ["closed", "handling", "returned", "signed"][i % 4];
        assert_eq!(believed, expected, "order {n}");
    }
    answerer.abort();
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_view_equals_linlis_after_failing_callbacks_and_a_restart_sqlite() {
    round_trip(sqlite_url().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_platforms_view_equals_linlis_after_failing_callbacks_and_a_restart_postgres() {
    let Some(url) = postgres_url().await else {
        return;
    };
    round_trip(url).await;
}
