//! Lifecycles walked in-process: each caller authenticated once, then submit and the six
//! actions straight through the Engine (the core's decisions applied by the Store), as the
//! HTTP handlers call it but with no HTTP in between.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use linli::app::{App, Config};
use linli_http::Caller;
use storage::SqlStore;
use workflow_core::access::{Asked, Door};
use workflow_core::engine::{Engine, NewRequest};
use workflow_core::{Catalog, Urgency};

use super::cpu;
use super::flow::{self, STEPS, Who};
use super::latency::Record;
use super::{ByWho, Common, People, Scratch};

#[derive(Args, Debug)]
pub struct EngineArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print one JSON object instead of a table (for the peers' script).
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: EngineArgs) -> anyhow::Result<()> {
    let catalog = args.common.workflows.catalog()?;
    let scratch = Scratch::new(&args.common.database, args.common.sqlite_synchronous).await?;
    let budget = Duration::from_secs_f64(args.common.seconds);
    let result = async {
        let store = scratch.connect().await?;
        let measured = async {
            let people = People::seed(&store).await?;
            let before = store.writer_stats().unwrap_or_default();
            let wal_before = wal_position(&store).await;
            let cpu_before = cpu::used(&store).await;
            let (record, elapsed) =
                measure(&store, catalog, &people, args.common.users, budget).await?;
            let cpu = cpu::used(&store).await - cpu_before;
            let wal = wal_position(&store)
                .await
                .zip(wal_before)
                .map(|(after, before)| after - before);
            let after = store.writer_stats().unwrap_or_default();
            anyhow::Ok((record, elapsed, after - before, wal, cpu))
        }
        .await;
        store.close().await;
        measured
    }
    .await;
    let label = scratch.label();
    scratch.remove().await;
    let (record, elapsed, writes, wal, cpu) = result?;
    let rate = record.lifecycles as f64 / elapsed;
    let per_lifecycle = |n: i64| n as f64 / record.lifecycles.max(1) as f64;
    let cpu_per_lifecycle = |d: std::time::Duration| per_lifecycle(d.as_micros() as i64);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "engine": "linli",
                "version": env!("CARGO_PKG_VERSION"),
                "database": label,
                "callers": args.common.users,
                "lifecycles": record.lifecycles,
                "seconds": elapsed,
                "lifecycles_per_s": rate,
                "errors": record.errors,
                "batches": writes.batches,
                "batched": writes.batched,
                "alone": writes.alone,
                "wal_bytes_per_lifecycle": wal.map(per_lifecycle),
                "linli_cpu_us_per_lifecycle": cpu_per_lifecycle(cpu.linli),
                "server_cpu_us_per_lifecycle": cpu.server.map(cpu_per_lifecycle),
                "cpu_s": cpu.linli.as_secs_f64(),
            })
        );
    } else {
        println!("| database | callers | lifecycles/s | transitions/s | errors |");
        println!("|---|---:|---:|---:|---:|");
        println!(
            "| {label} | {} | {rate:.1} | {:.0} | {} |",
            args.common.users,
            rate * 7.0,
            record.errors.values().sum::<u64>()
        );
        println!("\ngroup commit: {}", super::group_commit(&writes));
        if let Some(bytes) = wal {
            println!(
                "write-ahead log: {:.0} bytes per lifecycle (the server's)",
                per_lifecycle(bytes)
            );
        }
        let server = match cpu.server {
            Some(d) => format!("{:.0} µs", cpu_per_lifecycle(d)),
            None if label.starts_with("SQLite") => "in Linli's (SQLite)".to_owned(),
            None => "not on this machine".to_owned(),
        };
        println!(
            "CPU per lifecycle: Linli {:.0} µs, the database server {server}",
            cpu_per_lifecycle(cpu.linli)
        );
        println!("\n| action | p50 ms | p99 ms | max ms |");
        println!("|---|---:|---:|---:|");
        for action in flow::ACTIONS {
            if let Some(p) = record.action(action) {
                println!(
                    "| {action} | {:.2} | {:.2} | {:.2} |",
                    p.p50_ms, p.p99_ms, p.max_ms
                );
            }
        }
    }
    Ok(())
}

/// Where PostgreSQL's write-ahead log has got to, in bytes (`pg_current_wal_lsn`): the log
/// written per lifecycle is a measure of the work a lifecycle costs that the machine's speed
/// does not move (the server's, so anything else it writes meanwhile counts too). `None` on
/// SQLite.
async fn wal_position(store: &SqlStore) -> Option<i64> {
    sqlx::query_scalar("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        .fetch_one(store.pg_pool()?)
        .await
        .ok()
}

/// `concurrency` callers walking lifecycles at once for `budget`: what they did and the
/// seconds it took (the last lifecycles finish after the budget).
pub async fn measure(
    store: &SqlStore,
    catalog: Catalog,
    people: &People,
    concurrency: usize,
    budget: Duration,
) -> anyhow::Result<(Record, f64)> {
    let engine = App::over(store.clone(), Config::new(catalog)).await?.engine;
    let as_caller = |who: Who| {
        let token = people.who(who).token.clone();
        async move {
            let principal = store
                .authenticate(&token)
                .await?
                .ok_or_else(|| anyhow::anyhow!("the demo {who:?} has no valid token"))?;
            anyhow::Ok(Caller::from_principal(principal))
        }
    };
    let callers = Arc::new(ByWho {
        resident: as_caller(Who::Resident).await?,
        secretary: as_caller(Who::Secretary).await?,
        member: as_caller(Who::Member).await?,
    });
    let volunteer = people.member.id;
    let start = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (engine, callers) = (engine.clone(), callers.clone());
            tokio::spawn(async move {
                let mut record = Record::default();
                while start.elapsed() < budget {
                    lifecycle(&engine, &callers, volunteer, &mut record).await;
                }
                record
            })
        })
        .collect();
    let mut record = Record::default();
    for t in tasks {
        record.merge(t.await?);
    }
    Ok((record, start.elapsed().as_secs_f64()))
}

async fn lifecycle(
    engine: &Engine,
    callers: &ByWho<Caller>,
    volunteer: uuid::Uuid,
    record: &mut Record,
) {
    let resident = &callers.resident;
    let request = NewRequest {
        category: flow::CATEGORY.into(),
        urgency: Urgency::Normal,
        description: flow::DESCRIPTION.into(),
        asked: Asked::default(),
        door: Door::Api,
    };
    let started = Instant::now();
    let mut ticket = match engine.submit(&resident.principal, &request, None).await {
        Ok(t) => t,
        Err(e) => return record.failed(format!("submit: {e}")),
    };
    record.took("submit", started.elapsed());
    for (who, action) in STEPS {
        let c = callers.who(who);
        let started = Instant::now();
        let fields = flow::fields(action, volunteer);
        match engine
            .act(
                &c.actor,
                &c.scope,
                ticket.id,
                action,
                Some(ticket.version),
                fields,
            )
            .await
        {
            Ok(t) => ticket = t,
            Err(e) => return record.failed(format!("{action}: {e}")),
        }
        record.took(action, started.elapsed());
    }
    record.lifecycles += 1;
}
