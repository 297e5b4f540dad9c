//! What the storage benchmarks share: the shipped workflows, the measurement's length, the
//! lifecycle every caller walks through the Store, a fresh PostgreSQL database.

#![allow(dead_code)] // each benchmark uses its own part

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::store::Store;
use workflow_core::*;

/// The allocator the `linli` binary runs with, so that a benchmark measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub fn catalog() -> Catalog {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    storage::workflow_files::load_dir(std::path::Path::new(dir)).unwrap()
}

pub fn seconds() -> Duration {
    let s = std::env::var("LINLI_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    Duration::from_secs_f64(s)
}

/// (b): `callers` concurrent callers each walking whole lifecycles after submission
/// (triage, dispatch, accept, start, complete, confirm), each transition decided by the
/// core and applied through `Store::apply`.
pub async fn store_rate(store: &SqlStore, wf: &Arc<Workflow>, callers: usize) -> f64 {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (store, wf) = (store.clone(), wf.clone());
            tokio::spawn(async move { lifecycles(&store, &wf, start).await })
        })
        .collect();
    let mut transitions = 0;
    for t in tasks {
        transitions += t.await.unwrap();
    }
    transitions as f64 / start.elapsed().as_secs_f64()
}

/// One caller's lifecycles until the budget is spent; returns the transitions applied.
pub async fn lifecycles(store: &SqlStore, wf: &Workflow, start: Instant) -> u64 {
    let resident = Actor::new(Uuid::now_v7(), [Role::Resident]);
    let secretary = Actor::new(Uuid::now_v7(), [Role::Secretary]);
    let member = Actor::new(Uuid::now_v7(), [Role::Member]);
    let now: Timestamp = "2026-03-09T01:00:00Z".parse().unwrap();
    let steps: [(&Actor, &str, Fields); 6] = [
        (&secretary, "triage", Fields::default()),
        (
            &secretary,
            "dispatch",
            Fields {
                assignee: Some(Assignee::Person(member.id)),
                ..Fields::default()
            },
        ),
        (&member, "accept", Fields::default()),
        (&member, "start", Fields::default()),
        (
            &member,
            "complete",
            Fields {
                hours: Some(1.0),
                ..Fields::default()
            },
        ),
        (
            &resident,
            "confirm",
            Fields {
                rating: Some(5),
                ..Fields::default()
            },
        ),
    ];
    let budget = seconds();
    let mut transitions = 0u64;
    while start.elapsed() < budget {
        let sub = Submission {
            id: Uuid::now_v7(),
            category: "repair".into(),
            urgency: Urgency::Normal,
            description: "楼道灯不亮".into(),
            channel: "console".into(),
            requester: resident.id,
            community_id: Uuid::nil(),
            branch_id: Uuid::nil(),
            building_id: None,
            hotline: None,
        };
        let d = decide_submission(wf, &resident, &sub, now).unwrap();
        store.apply(&d, None).await.unwrap();
        transitions += 1;
        let mut t = d.ticket;
        for (who, action, fields) in &steps {
            let act = Act {
                action: (*action).into(),
                expected_version: t.version,
                fields: fields.clone(),
            };
            let d = decide(wf, t, who, &act, now).unwrap();
            store.apply(&d, None).await.unwrap();
            t = d.ticket;
            transitions += 1;
        }
    }
    transitions
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}

pub async fn postgres_url() -> Option<String> {
    let base = std::env::var("LINLI_TEST_DATABASE_URL").ok()?;
    storage::create_database(&base, &format!("linli_t_bench_{}", Uuid::now_v7().simple()))
        .await
        .ok()
}
