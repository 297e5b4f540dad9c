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
