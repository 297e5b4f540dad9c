//! Pending timers cost neither memory nor per-tick work: with 10,000 and then 1,000,000
//! timers pending over the next 30 days, 1,000 real timers (dispatch expiries) fall due and
//! the Engine fires them. Prints the time to fire the 1,000, the process's peak memory, and
//! the latency ratio 1M ÷ 10k (target close to 1).
//!
//! `cargo bench -p storage --bench timers` (PostgreSQL too with LINLI_TEST_DATABASE_URL).

use std::sync::Arc;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use storage::{Options, SqlStore};
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::clock::ManualClock;
use workflow_core::engine::{Engine, NewRequest, Quiet};
use workflow_core::store::Store;
use workflow_core::*;

fn catalog() -> Catalog {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    storage::workflow_files::load_dir(std::path::Path::new(dir)).unwrap()
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Loads `pending` timers due over the next 30 days straight into the table.
async fn load_pending(
    store: &SqlStore,
    ticket: Uuid,
    community: Uuid,
    from: Timestamp,
    pending: u64,
) {
    let spread = 30 * 86_400 * 1_000_000i64;
    let start = from.as_microsecond() + 3_600_000_000; // beyond the hour the benchmark covers
    if let Some(pool) = store.pg_pool() {
        sqlx::query(
            "INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch) \
             SELECT $1, 'state:pending' || i, $2, $3 + (i::bigint * $4 / $5), 1 FROM generate_series(1, $5) AS i",
        )
        .bind(ticket).bind(community).bind(start).bind(spread).bind(pending as i64)
        .execute(pool).await.unwrap();
        sqlx::query("ANALYZE timers").execute(pool).await.unwrap();
    } else {
        let pool = store.sqlite_pool().unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $5) \
             INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch) \
             SELECT $1, 'state:pending' || i, $2, $3 + (i * $4 / $5), 1 FROM n",
        )
        .bind(ticket)
        .bind(community)
        .bind(start)
        .bind(spread)
        .bind(pending as i64)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Returns (seconds to fire the 1,000 due timers, timers fired).
async fn run(store: SqlStore, pending: u64) -> (f64, usize) {
    let community = store
        .create_org_unit("community", "运河社区", None)
        .await
        .unwrap();
    let compound = store
        .create_org_unit("compound", "运河小区", Some(community))
        .await
        .unwrap();
    let building = store
        .create_org_unit("building", "1栋", Some(compound))
        .await
        .unwrap();
    store
        .create_branch(community, "运河小区党支部", &[compound])
        .await
        .unwrap();
    let member = store
        .create_person(&storage::NewPerson {
            name: "张师傅".into(),
            roles: vec![Role::Member],
            community_id: Some(community),
            ..Default::default()
        })
        .await
        .unwrap();
    let start: Timestamp = "2026-03-09T01:00:00Z".parse().unwrap();
    let clock = Arc::new(ManualClock::new(start));
    let parallelism = store.timer_parallelism();
    let engine = Engine::new(
        Arc::new(store.clone()),
        clock.clone(),
        Arc::new(catalog()),
        Arc::new(Quiet),
    )
    .with_timer_parallelism(parallelism);
    let resident = Actor::new(Uuid::now_v7(), [Role::Resident]);
    let secretary = Actor::new(Uuid::now_v7(), [Role::Secretary]);
    let scope = workflow_core::store::Scope::Everything;
    let mut first = None;
    for _ in 0..1_000 {
        let req = NewRequest {
            category: "sanitation".into(),
            urgency: Urgency::Normal,
            description: "垃圾桶满了".into(),
            asked: Asked {
                building_id: Some(building),
                channel: Some("console".into()),
                ..Asked::default()
            },
            door: Door::Api,
        };
        let t = engine
            .submit(&Principal::acting(&resident), &req, None)
            .await
            .unwrap();
        first.get_or_insert(t.id);
        engine
            .act(&secretary, &scope, t.id, "triage", None, Fields::default())
            .await
            .unwrap();
        let to = Fields {
            assignee: Some(Assignee::Person(member)),
            ..Fields::default()
        };
        engine
            .act(&secretary, &scope, t.id, "dispatch", None, to)
            .await
            .unwrap();
    }
    load_pending(&store, first.unwrap(), community, start, pending).await;
    // The expiries fall due 30 minutes after dispatch; the worker's loop fires them.
    clock.set(start.checked_add(SignedDuration::from_mins(30)).unwrap());
    let began = Instant::now();
    let mut fired = 0;
    loop {
        let f = engine
            .fire_due(Uuid::now_v7(), 200, SignedDuration::from_secs(60))
            .await
            .unwrap();
        fired += f.fired;
        if f.claimed == 0 {
            break;
        }
    }
    let secs = began.elapsed().as_secs_f64();
    assert!(
        store.next_due().await.unwrap().is_some(),
        "the pending timers are still pending"
    );
    store.close().await;
    (secs, fired)
}

async fn postgres_url() -> Option<String> {
    let base = std::env::var("LINLI_TEST_DATABASE_URL").ok()?;
    storage::create_database(&base, &format!("linli_t_bench_{}", Uuid::now_v7().simple()))
        .await
        .ok()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let sizes: Vec<u64> = std::env::var("LINLI_BENCH_PENDING")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 1_000_000]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-timers-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut kinds = vec!["SQLite FULL"];
    if std::env::var("LINLI_TEST_DATABASE_URL").is_ok() {
        kinds.push("PostgreSQL");
    } else {
        eprintln!("SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL not set");
    }
    println!("| backend | pending | fire 1,000 due (s) | fired | peak RSS (MB) | target < 1 s |");
    println!("|---|---:|---:|---:|---:|---|");
    for kind in kinds {
        let mut latencies = Vec::new();
        for &pending in &sizes {
            let url = match kind {
                "PostgreSQL" => postgres_url().await.expect("PostgreSQL reachable"),
                _ => format!("sqlite://{}/t{pending}.db", dir.display()),
            };
            let store = storage::connect(&Options::new(url)).await.unwrap();
            let (secs, fired) = run(store, pending).await;
            let rss = peak_rss_mb();
            let verdict = if secs < 1.0 && fired == 1_000 {
                "PASS"
            } else {
                "FAIL"
            };
            println!("| {kind} | {pending} | {secs:.3} | {fired} | {rss:.0} | {verdict} |");
            latencies.push(secs);
        }
        if let (Some(a), Some(b)) = (latencies.first(), latencies.last()) {
            let ratio = b / a;
            let verdict = if (0.5..=1.5).contains(&ratio) {
                "PASS"
            } else {
                "FAIL"
            };
            println!(
                "| {kind} | ratio {}÷{} | {ratio:.2} | | | {verdict} (close to 1) |",
                sizes.last().unwrap(),
                sizes[0]
            );
        }
    }
    let rss = peak_rss_mb();
    println!(
        "peak RSS of the whole run: {rss:.0} MB ({})",
        if rss < 100.0 {
            "PASS < 100 MB"
        } else {
            "FAIL ≥ 100 MB"
        }
    );
    let _ = std::fs::remove_dir_all(dir);
}
