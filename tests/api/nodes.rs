//! Several nodes on one PostgreSQL: three `linli serve` processes, requests spread over
//! them, a timer on every request falling due during the run, and one node killed with
//! SIGKILL while the timers fire. Every timer fires exactly once; nothing acknowledged is
//! lost or doubled; the dead node's claims pass to the others when their lease ends.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::spawn_linli;
use serde_json::json;
use workflow_core::store::Store;

const QUICK: &str = r#"
id = "quick"
version = 1
initial = "open"
[states.open]
label = { zh-CN = "待处理" }
[states.done]
label = { zh-CN = "已到期" }
terminal = true
[[transitions]]
action = "expire"
from = "open"
to = "done"
roles = ["system"]
[[timers]]
in = "open"
after = "3s"
action = "expire"
[categories.quick]
label = { zh-CN = "限时" }
workflow = "quick"
"#;

fn node(
    url: &str,
    workflows: &std::path::Path,
    demo: bool,
) -> (std::process::Child, String, HashMap<String, String>) {
    let env = [("LINLI_RATE_LIMIT", "0"), ("LINLI_TIMER_LEASE", "3")];
    let r = spawn_linli(url, Some(workflows), demo, &env, None);
    (r.child, r.base, r.tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_fire_every_timer_once_even_when_one_dies() {
    let Ok(server) = std::env::var("LINLI_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL is not set");
        return;
    };
    let url = storage::create_database(
        &server,
        &format!("linli_t_{}", uuid::Uuid::now_v7().simple()),
    )
    .await
    .unwrap();
    let workflows = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-nodes-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&workflows).unwrap();
    for f in [
        "catalog.toml",
        "community-service.toml",
        "community-service-v2.toml",
        "community-service-v3.toml",
        "community-service-v4.toml",
        "community-service-v5.toml",
        "micro-wish.toml",
        "dispute-mediation.toml",
    ] {
        std::fs::copy(
            format!("{}/workflows/{f}", env!("CARGO_MANIFEST_DIR")),
            workflows.join(f),
        )
        .unwrap();
    }
    std::fs::write(workflows.join("quick.toml"), QUICK).unwrap();

    let (a, base_a, tokens) = node(&url, &workflows, true);
    let (b, base_b, _) = node(&url, &workflows, false);
    let (mut c, base_c, _) = node(&url, &workflows, false);
    let bases = [base_a.clone(), base_b, base_c];
    let client = reqwest::Client::new();
    let mut acked = Vec::new();
    for i in 0..90 {
        let base = &bases[i % 3];
        let r = client
            .post(format!("{base}/api/v1/tickets"))
            .bearer_auth(&tokens["resident"])
            .json(&json!({"category": "quick", "description": format!("第{i}件")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let t: serde_json::Value = r.json().await.unwrap();
        acked.push(t["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap());
    }
    // The first timers fall due about now; kill one node while the three are firing.
    tokio::time::sleep(Duration::from_millis(3_100)).await;
    c.kill().unwrap();
    c.wait().unwrap();

    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let mut open = 0;
        for id in &acked {
            let t = store
                .ticket(*id, &workflow_core::store::Scope::Everything)
                .await
                .unwrap()
                .expect("acknowledged ticket");
            if t.state != "done" {
                open += 1;
            }
        }
        if open == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{open} timers never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &acked {
        let events = store.events(*id).await.unwrap();
        let expiries = events.iter().filter(|e| e.kind.name() == "expire").count();
        assert_eq!(expiries, 1, "ticket {id}: the timer fired {expiries} times");
    }
    eprintln!(
        "three nodes: {} tickets, each timer fired once, one node killed",
        acked.len()
    );
    for mut n in [a, b] {
        let _ = Command::new("kill")
            .args(["-TERM", &n.id().to_string()])
            .status();
        n.wait().unwrap();
    }
    store.close().await;
    let _ = std::fs::remove_dir_all(workflows);
}
