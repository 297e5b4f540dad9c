//! The real binary: `linli serve --demo` on a free port prints its users and address,
//! answers over HTTP, and on SIGTERM finishes and exits cleanly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_answers_and_stops_cleanly_on_sigterm() {
    let db = std::env::temp_dir().join(format!("linli-serve-{}.db", uuid::Uuid::now_v7().simple()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .arg("--workflows")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut resident_token, mut addr) = (None, None);
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim_start().starts_with("resident ") {
            resident_token = line.split_whitespace().last().map(str::to_owned);
        }
        if let Some(a) = line.strip_prefix("linli listening on ") {
            addr = Some(a.to_owned());
            break;
        }
    }
    let (token, base) = (
        resident_token.expect("the demo prints tokens"),
        addr.expect("the address is printed"),
    );
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let created = client
        .post(format!("{base}/api/v1/tickets"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"category": "elderly_care", "description": "帮我取一下药"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let started = Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status {status}");
    // What was acknowledged is there after the stop.
    let url = format!("sqlite://{}", db.display());
    let out = Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(out.status.success());
    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    use workflow_core::store::{Page, Scope, Store, TicketFilter};
    let all = store
        .list(
            &Scope::Everything,
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].description, "帮我取一下药");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_lets_in_flight_requests_finish_without_5xx() {
    let db = std::env::temp_dir().join(format!("linli-term-{}.db", uuid::Uuid::now_v7().simple()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .arg("--workflows")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"))
        .env("RUST_LOG", "error")
        .env("LINLI_RATE_LIMIT", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut token, mut base) = (String::new(), String::new());
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.trim_start().starts_with("resident ") {
            token = line.split_whitespace().last().unwrap().to_owned();
        }
        if let Some(a) = line.strip_prefix("linli listening on ") {
            base = a.to_owned();
            break;
        }
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut loads = Vec::new();
    for _ in 0..8 {
        let (base, token, stop) = (base.clone(), token.clone(), stop.clone());
        loads.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut answered, mut server_errors) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let r = client
                    .post(format!("{base}/api/v1/tickets"))
                    .bearer_auth(&token)
                    .json(
                        &serde_json::json!({"category": "sanitation", "description": "垃圾桶满了"}),
                    )
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
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
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
    let db = std::env::temp_dir().join(format!("linli-logs-{}.db", uuid::Uuid::now_v7().simple()));
    let log =
        std::env::temp_dir().join(format!("linli-logs-{}.log", uuid::Uuid::now_v7().simple()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .arg("--workflows")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/workflows"))
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut tokens = std::collections::HashMap::new();
    let base = loop {
        let line = lines.next().unwrap().unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() == 4 && words[3].starts_with("ll_") {
            tokens.insert(words[0].to_owned(), words[3].to_owned());
        }
        if let Some(a) = line.strip_prefix("linli listening on ") {
            break a.to_owned();
        }
    };
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
        serde_json::json!({"category": "repair", "description": "灯坏了"}),
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
        serde_json::json!({}),
    )
    .await
    .unwrap();
    // Staff read the unmasked number; a stranger is refused.
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
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    child.wait().unwrap();
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
