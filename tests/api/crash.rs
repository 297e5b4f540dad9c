//! kill -9 under load: concurrent lifecycles run against the real `linli serve` on SQLite;
//! the process is killed with SIGKILL at a random moment, several rounds. After each
//! restart every acknowledged (2xx) transition is in the audit trail exactly once, and every
//! ticket equals the replay of its events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Running, spawn_linli};
use serde_json::{Value, json};
use workflow_core::store::{Page, Scope, Store, TicketFilter};

fn start(db_url: &str, demo: bool) -> Running {
    // The test is the load generator: the per-caller limit would only slow it down.
    spawn_linli(db_url, None, demo, &[("LINLI_RATE_LIMIT", "0")], None)
}

/// What the server acknowledged: ticket id → the versions its 2xx answers reported, by action.
type Acks = Arc<Mutex<Vec<(String, String, u64)>>>;

async fn lifecycles(base: String, tokens: HashMap<String, String>, member: String, acks: Acks) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let post = |who: &str, path: String, body: Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(&tokens[who])
            .json(&body)
            .send()
    };
    loop {
        let Ok(r) = post(
            "resident",
            "/api/v1/tickets".into(),
            json!({"category": "repair", "description": "压力测试：楼道灯坏了"}),
        )
        .await
        else {
            return;
        };
        if !r.status().is_success() {
            return;
        }
        let Ok(t) = r.json::<Value>().await else {
            return;
        };
        let id = t["id"].as_str().unwrap().to_owned();
        acks.lock().unwrap().push((
            id.clone(),
            "submitted".into(),
            t["version"].as_u64().unwrap(),
        ));
        let steps = [
            ("secretary", "triage", json!({})),
            ("secretary", "dispatch", json!({"assignee": member})),
            ("member", "accept", json!({})),
            ("member", "start", json!({})),
            ("member", "complete", json!({"hours": 1})),
            ("resident", "confirm", json!({"rating": 5})),
        ];
        for (who, action, body) in steps {
            let Ok(r) = post(who, format!("/api/v1/tickets/{id}/actions/{action}"), body).await
            else {
                return;
            };
            if !r.status().is_success() {
                return;
            }
            let Ok(t) = r.json::<Value>().await else {
                return;
            };
            acks.lock()
                .unwrap()
                .push((id.clone(), action.into(), t["version"].as_u64().unwrap()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_loses_nothing_acknowledged_to_kill_9() {
    let db = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-crash-{}.db", uuid::Uuid::now_v7().simple()));
    nothing_acknowledged_is_lost_to_kill_9(&format!("sqlite://{}", db.display())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_loses_nothing_acknowledged_to_kill_9() {
    let Ok(server) = std::env::var("LINLI_TEST_DATABASE_URL") else {
        eprintln!("SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL is not set");
        return;
    };
    let name = format!("linli_t_{}", uuid::Uuid::now_v7().simple());
    nothing_acknowledged_is_lost_to_kill_9(
        &storage::create_database(&server, &name).await.unwrap(),
    )
    .await;
}

async fn nothing_acknowledged_is_lost_to_kill_9(url: &str) {
    let url = url.to_owned();
    let first = start(&url, true);
    let tokens = first.tokens.clone();
    let client = reqwest::Client::new();
    let me: Value = client
        .get(format!("{}/api/v1/me", first.base))
        .bearer_auth(&tokens["member"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let member = me["id"].as_str().unwrap().to_owned();
    let acks: Acks = Arc::default();
    let mut server = first;
    let rounds = 3;
    for round in 0..rounds {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(lifecycles(
                    server.base.clone(),
                    tokens.clone(),
                    member.clone(),
                    acks.clone(),
                ))
            })
            .collect();
        // The load under way first (a fresh server on a busy machine can take a while to
        // answer its first requests), then a moment more of it, different each round, then
        // SIGKILL: no shutdown, no flush.
        let before = acks.lock().unwrap().len();
        let flowing = Instant::now();
        while acks.lock().unwrap().len() < before + 20
            && flowing.elapsed() < Duration::from_secs(30)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pause = 400 + (uuid::Uuid::now_v7().as_u128() % 800) as u64;
        tokio::time::sleep(Duration::from_millis(pause)).await;
        server.child.kill().unwrap();
        server.child.wait().unwrap();
        for w in workers {
            w.await.unwrap();
        }
        eprintln!(
            "round {round}: {} acknowledged so far",
            acks.lock().unwrap().len()
        );
        server = start(&url, false);
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // Read the database as it is after the last kill.
    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let acks = acks.lock().unwrap().clone();
    assert!(
        acks.len() > 50,
        "the load did real work: {} acknowledged",
        acks.len()
    );
    let mut checked = 0;
    for (ticket, action, version) in &acks {
        let id: uuid::Uuid = ticket.parse().unwrap();
        let events = store.events(id).await.unwrap();
        let at_version: Vec<_> = events.iter().filter(|e| e.seq <= *version).collect();
        let matching = events.iter().filter(|e| e.kind.name() == action).count();
        assert_eq!(
            matching, 1,
            "{action} of {ticket} must be recorded exactly once"
        );
        assert!(
            at_version.len() as u64 == *version,
            "{ticket} lost events before version {version}"
        );
        checked += 1;
    }
    let all = store
        .list(
            &Scope::Everything,
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 100_000,
            },
        )
        .await
        .unwrap();
    for t in &all {
        let replay = workflow_core::Ticket::replay(&store.events(t.id).await.unwrap()).unwrap();
        assert_eq!(&replay, t, "ticket {} is half-applied", t.id);
    }
    eprintln!(
        "kill -9: {rounds} rounds, {checked} acknowledged transitions checked, {} tickets replayed",
        all.len()
    );
    store.close().await;
}
