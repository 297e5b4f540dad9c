//! Storage limit vs the Store, in one run per backend: (a) raw one-row update+insert
//! transactions/s of the same database and durability setting, (b) full transitions/s
//! through `Store::apply` (version check, ticket, events, timers, outbox), and b/a, at 1
//! and at 64 concurrent callers, with group commit and (for reference) without.
//!
//! `cargo bench -p storage --bench storage` (PostgreSQL too when LINLI_TEST_DATABASE_URL is
//! set; LINLI_BENCH_SECONDS sets each measurement's length, default 3).

mod common;

use common::{catalog, postgres_url, seconds, store_rate, verdict};

use storage::{Durability, Options, SqlStore};
use uuid::Uuid;

/// Concurrent callers in the loaded measurement.
const CALLERS: usize = 64;

/// (a): [`storage::limit::raw_write_rate`] by `writers` concurrent writers.
async fn raw_rate(store: &SqlStore, writers: usize) -> f64 {
    storage::limit::raw_write_rate(store, writers, seconds())
        .await
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let catalog = catalog();
    let wf = catalog.latest("community-service").unwrap().clone();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-bench-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut backends: Vec<(String, Options)> = Vec::new();
    for (label, durability) in [
        ("SQLite FULL", Durability::Full),
        ("SQLite NORMAL", Durability::Normal),
    ] {
        let mut o = Options::new(format!(
            "sqlite://{}/{}.db",
            dir.display(),
            label.replace(' ', "_")
        ));
        o.durability = durability;
        backends.push((label.into(), o));
    }
    match postgres_url().await {
        Some(url) => backends.push(("PostgreSQL".into(), Options::new(url))),
        None => eprintln!("SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL not set or unreachable"),
    }
    println!(
        "| backend | callers | raw tx/s (a) | Store transitions/s (b) | b/a | target | verdict | batches (writes/batch) |"
    );
    println!("|---|---:|---:|---:|---:|---|---|---|");
    for (label, options) in backends {
        for group_commit in [true, false] {
            let options = Options {
                group_commit,
                ..options.clone()
            };
            let store = storage::connect(&options).await.unwrap();
            for callers in [1, CALLERS] {
                if !group_commit && callers == 1 {
                    continue; // a lone write is written alone either way
                }
                let a = raw_rate(&store, callers).await;
                let before = store.writer_stats().unwrap_or_default();
                let b = store_rate(&store, &wf, callers).await;
                let after = store.writer_stats().unwrap_or_default();
                let batches = after.batches - before.batches;
                let per_batch = match batches {
                    0 => "—".to_string(),
                    n => format!(
                        "{n} ({:.1})",
                        (after.batched - before.batched) as f64 / n as f64
                    ),
                };
                let ratio = b / a;
                let (target, pass) = match (callers, group_commit) {
                    (1, _) if ratio >= 0.5 => ("≥ 0.7 (storage issue: ≥ 0.5, met)", ratio >= 0.7),
                    (1, _) => ("≥ 0.7 (storage issue: ≥ 0.5, not met)", false),
                    (_, true) => ("≥ 2.0 with group commit", ratio >= 2.0),
                    (_, false) => ("reference: group commit off", true),
                };
                let mode = if group_commit {
                    ""
                } else {
                    " (no group commit)"
                };
                println!(
                    "| {label}{mode} | {callers} | {a:.0} | {b:.0} | {ratio:.2} | {target} | {} | {per_batch} |",
                    if group_commit { verdict(pass) } else { "—" }
                );
            }
            store.close().await;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}
