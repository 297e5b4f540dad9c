//! The load generator: virtual users walking whole lifecycles over HTTP, each request as the
//! right person with their own token, against a `linli serve` started for the run (a
//! separate process on a fresh database). Three measurements in one run:
//!
//! 1. in-process: the same lifecycles through the Engine, no HTTP (the baseline);
//! 2. saturating: `--users` virtual users, each starting its next lifecycle as soon as the
//!    last one ends;
//! 3. half load: lifecycles started at half the rate (2) reached, whatever the answers' pace
//!    (an open loop, so a slow answer cannot slow the load down and hide itself).

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, ValueEnum};
use hyper::StatusCode;
use hyper::header::HeaderValue;
use serde::Deserialize;
use serde_json::json;
use storage::WriterStats;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinSet;

use super::client::{Connection, alongside};
use super::cpu;
use super::flow::{self, ACTIONS, STEPS};
use super::latency::{Percentiles, Record};
use super::{ByWho, Common, People, Scratch, verdict};

#[derive(Args, Debug)]
pub struct HttpArgs {
    #[command(flatten)]
    pub common: Common,
    /// The open loop's rate, lifecycles/s, instead of half the saturating rate: to compare
    /// the latency of two builds at one offered load (the verdict still says "half load").
    #[arg(long)]
    pub open_rate: Option<f64>,
}

/// Targets, printed with each run's verdict. The HTTP layer's own cost: the server's CPU per
/// lifecycle over HTTP at most this many times the Engine's in-process (on two shared cores,
/// the ratio of throughputs mostly measures who else runs on them).
const SERVER_TO_ENGINE_CPU: f64 = 1.3;
const HALF_LOAD_P99_MS: f64 = 10.0;

/// What one run measured: each phase's record and its seconds.
struct Runs {
    in_process: (Record, f64),
    saturated: (Record, f64),
    half: (Record, f64),
    half_rate: f64,
    /// The CPU the in-process and the saturating measurements cost.
    cpu: [Cpu; 2],
    /// How group commit went in each (the server's as its `/metrics` tells).
    writes: [Option<WriterStats>; 2],
}

/// The CPU one measurement cost, by process. On a machine of two shared cores a phase that
/// keeps them busy runs at a rate set by its CPU per lifecycle: the ratio of the two phases'
/// CPU is the ratio of their rates the machine allows.
#[derive(Clone, Copy, Default)]
struct Cpu {
    /// The Engine: this process in-process, the `linli serve` over HTTP.
    linli: Duration,
    /// The virtual users, when they are a process of their own (over HTTP).
    load: Option<Duration>,
    /// PostgreSQL's processes, when they are this machine's (SQLite is inside Linli's).
    database: Option<Duration>,
}

impl Cpu {
    fn all(&self) -> Duration {
        self.linli + self.load.unwrap_or_default() + self.database.unwrap_or_default()
    }
}

pub async fn run(args: HttpArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let catalog = common.workflows.catalog()?;
    let scratch = Scratch::new(&common.database, common.sqlite_synchronous).await?;
    let runs = measure(&scratch, common, args.open_rate, catalog).await;
    let label = scratch.label();
    scratch.remove().await;
    print(&label, common, runs?);
    Ok(())
}

async fn measure(
    scratch: &Scratch,
    common: &Common,
    open_rate: Option<f64>,
    catalog: workflow_core::Catalog,
) -> anyhow::Result<Runs> {
    let store = scratch.connect().await?;
    let runs = measure_on(&store, scratch, common, open_rate, catalog).await;
    store.close().await;
    runs
}

async fn measure_on(
    store: &storage::SqlStore,
    scratch: &Scratch,
    common: &Common,
    open_rate: Option<f64>,
    catalog: workflow_core::Catalog,
) -> anyhow::Result<Runs> {
    let budget = Duration::from_secs_f64(common.seconds);
    let people = People::seed(store).await?;
    let (before, writes_before) = (cpu::used(store).await, store.writer_stats());
    let in_process = super::engine::measure(store, catalog, &people, common.users, budget).await?;
    let used = cpu::used(store).await - before;
    let in_process_writes = store.writer_stats().zip(writes_before).map(|(a, b)| a - b);
    let in_process_cpu = Cpu {
        linli: used.linli,
        load: None,
        database: used.server,
    };

    // Killed when dropped, should anything below fail.
    let mut server = Server::start(scratch, common).await?;
    let target = Target::new(&server.base, &people)?;
    let served = || server.child.id().and_then(cpu::of_process);
    let (before, served_before) = (cpu::used(store).await, served());
    let writes_before = target.writer_stats().await;
    let saturated = target.closed_loop(common.users, budget).await;
    let used = cpu::used(store).await - before;
    let saturated_writes = target
        .writer_stats()
        .await
        .zip(writes_before)
        .map(|(a, b)| a - b);
    let saturated_cpu = Cpu {
        linli: served()
            .zip(served_before)
            .map_or(Duration::ZERO, |(after, before)| {
                after.saturating_sub(before)
            }),
        load: Some(used.linli),
        database: used.server,
    };
    let half_rate = open_rate.unwrap_or_else(|| saturated.0.lifecycles as f64 / saturated.1 / 2.0);
    let half = target.open_loop(half_rate, budget).await;
    server.stop().await;
    Ok(Runs {
        in_process,
        saturated,
        half,
        half_rate,
        cpu: [in_process_cpu, saturated_cpu],
        writes: [in_process_writes, saturated_writes],
    })
}

fn print(label: &str, common: &Common, runs: Runs) {
    let Runs {
        in_process: (in_process, in_process_secs),
        saturated: (saturated, saturated_secs),
        half: (half, half_secs),
        half_rate,
        cpu: [in_process_cpu, saturated_cpu],
        writes,
    } = runs;
    let rate = |r: &Record, secs: f64| r.lifecycles as f64 / secs;
    let requests = |r: &Record, secs: f64| r.requests() as f64 / secs;
    println!(
        "linli bench http: {label}, {} virtual users, {:.0} s per measurement\n",
        common.users, common.seconds
    );
    println!("| measurement | lifecycles/s | requests/s | errors |");
    println!("|---|---:|---:|---:|");
    for (name, r, secs) in [
        (
            format!("in-process (Engine), {} callers", common.users),
            &in_process,
            in_process_secs,
        ),
        (
            format!("HTTP, {} users (saturating)", common.users),
            &saturated,
            saturated_secs,
        ),
        (
            format!("HTTP, half load ({half_rate:.1} lifecycles/s offered)"),
            &half,
            half_secs,
        ),
    ] {
        println!(
            "| {name} | {:.1} | {:.0} | {} |",
            rate(r, secs),
            requests(r, secs),
            r.errors.values().sum::<u64>()
        );
    }

    let per_lifecycle =
        |d: Duration, r: &Record| d.as_secs_f64() * 1e6 / r.lifecycles.max(1) as f64;
    let us = |d: Option<Duration>, r: &Record, absent: &str| {
        d.map_or_else(
            || absent.to_owned(),
            |d| format!("{:.0}", per_lifecycle(d, r)),
        )
    };
    let database_absent = if label.starts_with("SQLite") {
        "in Linli's"
    } else {
        "not on this machine"
    };
    println!("\nCPU per lifecycle, µs:\n");
    println!("| measurement | Linli | load generator | database server | all |");
    println!("|---|---:|---:|---:|---:|");
    for (name, cpu, r) in [
        ("in-process", &in_process_cpu, &in_process),
        ("HTTP (saturating)", &saturated_cpu, &saturated),
    ] {
        println!(
            "| {name} | {:.0} | {} | {} | {:.0} |",
            per_lifecycle(cpu.linli, r),
            us(cpu.load, r, "in Linli's"),
            us(cpu.database, r, database_absent),
            per_lifecycle(cpu.all(), r),
        );
    }
    let cpu_ratio = per_lifecycle(in_process_cpu.all(), &in_process)
        / per_lifecycle(saturated_cpu.all(), &saturated);
    println!(
        "\nThe CPU a lifecycle costs in-process ÷ over HTTP: {cpu_ratio:.2} (the ratio of rates \
         the machine's cores allow while both measurements keep them busy)."
    );

    for (name, w) in ["in-process", "over HTTP"].iter().zip(writes) {
        if let Some(w) = w {
            println!("group commit {name}: {}", super::group_commit(&w));
        }
    }

    println!("\nLatency per request, ms (saturating | half load):\n");
    println!("| action | p50 | p90 | p99 | max | p50 | p90 | p99 | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for action in ACTIONS {
        println!(
            "| {action} | {} | {} |",
            cells(saturated.action(action)),
            cells(half.action(action))
        );
    }
    println!(
        "| every request | {} | {} |",
        cells(saturated.all()),
        cells(half.all())
    );

    let errors: Vec<String> = [("saturating", &saturated), ("half load", &half)]
        .iter()
        .flat_map(|(when, r)| {
            r.errors
                .iter()
                .map(move |(c, n)| format!("{when}: {c} ×{n}"))
        })
        .collect();
    if !errors.is_empty() {
        println!("\nErrors by code: {}", errors.join("; "));
    }

    // The server's own CPU over HTTP against the Engine's in-process: what the HTTP layer
    // adds, whatever the load generator and the database cost beside it.
    let ratio = per_lifecycle(saturated_cpu.linli, &saturated)
        / per_lifecycle(in_process_cpu.linli, &in_process);
    let half_p99 = half.all().map_or(f64::NAN, |p| p.p99_ms);
    let error_count: u64 = [&in_process, &saturated, &half]
        .iter()
        .map(|r| r.errors.values().sum::<u64>())
        .sum();
    println!("\n| target | measured | verdict |");
    println!("|---|---:|---|");
    println!(
        "| the server's CPU per lifecycle over HTTP ÷ the Engine's in-process ≤ {SERVER_TO_ENGINE_CPU} | {ratio:.2} | {} |",
        verdict(ratio.is_finite() && ratio <= SERVER_TO_ENGINE_CPU)
    );
    println!(
        "| p99 per request at half load ≤ {HALF_LOAD_P99_MS} ms | {half_p99:.2} ms | {} |",
        verdict(half_p99 <= HALF_LOAD_P99_MS)
    );
    println!(
        "| no errors (none are intended in this flow) | {error_count} | {} |",
        verdict(error_count == 0)
    );
}

fn cells(p: Option<Percentiles>) -> String {
    match p {
        Some(p) => format!(
            "{:.2} | {:.2} | {:.2} | {:.2}",
            p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
        ),
        None => "— | — | — | —".into(),
    }
}

/// A `linli serve` of the run's own: this very program, on the run's database, with the
/// per-caller rate limit off (the virtual users share a handful of demo people).
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(scratch: &Scratch, common: &Common) -> anyhow::Result<Server> {
        let synchronous = common
            .sqlite_synchronous
            .to_possible_value()
            .expect("every value has a name");
        let mut child = Command::new(std::env::current_exe()?)
            .arg("serve")
            .args(["--database-url", &scratch.db.database_url])
            .args(["--sqlite-synchronous", synchronous.get_name()])
            .args([
                "--bind",
                "127.0.0.1:0",
                "--rate-limit",
                "0",
                "--daily-requests",
                "0",
            ])
            .args(
                common
                    .workflows
                    .dir
                    .iter()
                    .flat_map(|dir| [std::ffi::OsStr::new("--workflows"), dir.as_os_str()]),
            )
            .env("RUST_LOG", "warn,sqlx=error")
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting linli serve")?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let base = loop {
            match lines.next_line().await? {
                Some(line) => {
                    if let Some(url) = line.strip_prefix("linli listening on ") {
                        break url.trim().to_owned();
                    }
                }
                None => anyhow::bail!("linli serve ended before it listened"),
            }
        };
        // Keep reading what it prints, so a full pipe never stalls it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Server { child, base })
    }

    async fn stop(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// The server under test, as the virtual users address it.
#[derive(Clone)]
struct Target {
    /// `host:port`.
    authority: std::sync::Arc<str>,
    /// Each person's `Authorization` header.
    bearers: ByWho<HeaderValue>,
    volunteer: uuid::Uuid,
}

impl Target {
    fn new(base: &str, people: &People) -> anyhow::Result<Target> {
        let authority = base
            .strip_prefix("http://")
            .with_context(|| format!("{base} is not an http:// address"))?;
        let bearer = |p: &storage::demo::DemoUser| {
            HeaderValue::from_str(&format!("Bearer {}", p.token)).context("a token")
        };
        Ok(Target {
            authority: authority.trim_end_matches('/').into(),
            bearers: ByWho {
                resident: bearer(&people.resident)?,
                secretary: bearer(&people.secretary)?,
                member: bearer(&people.member)?,
            },
            volunteer: people.member.id,
        })
    }

    /// `users` virtual users, each on a connection of its own (a new one should it fail),
    /// walking lifecycles back to back for `budget`.
    async fn closed_loop(&self, users: usize, budget: Duration) -> (Record, f64) {
        let start = Instant::now();
        let mut tasks = JoinSet::new();
        for _ in 0..users {
            let target = self.clone();
            tasks.spawn(async move {
                let mut record = Record::default();
                while start.elapsed() < budget {
                    let walked = target
                        .on_a_connection(&mut record, async |conn, record| {
                            while start.elapsed() < budget && !conn.is_closed() {
                                target.lifecycle(conn, record).await;
                            }
                        })
                        .await;
                    if walked.is_none() {
                        // No connection: wait a little rather than spin on a refusal.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
                record
            });
        }
        (collect(tasks).await, start.elapsed().as_secs_f64())
    }

    /// A lifecycle started every 1/`rate` seconds for `budget`, each on its own, on a
    /// connection of its own (as a resident's phone would open one), timed from its first
    /// request.
    async fn open_loop(&self, rate: f64, budget: Duration) -> (Record, f64) {
        let start = Instant::now();
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut tasks = JoinSet::new();
        while start.elapsed() < budget {
            ticker.tick().await;
            let target = self.clone();
            tasks.spawn(async move {
                let mut record = Record::default();
                target
                    .on_a_connection(&mut record, async |conn, record| {
                        target.lifecycle(conn, record).await
                    })
                    .await;
                record
            });
        }
        (collect(tasks).await, start.elapsed().as_secs_f64())
    }

    /// Opens a connection and runs `work` on it; a failure to connect, or the connection
    /// ending under `work`, is counted in `record` (and `None` returned).
    async fn on_a_connection(
        &self,
        record: &mut Record,
        work: impl AsyncFnOnce(&mut Connection, &mut Record),
    ) -> Option<()> {
        let Ok((mut conn, driver)) = Connection::open(&self.authority).await else {
            record.failed("no connection");
            return None;
        };
        let ended = alongside(driver, work(&mut conn, record)).await;
        if ended.is_err() {
            record.failed("connection lost");
        }
        ended.ok()
    }

    /// The server's group-commit counts, read off its `/metrics`.
    async fn writer_stats(&self) -> Option<WriterStats> {
        let (mut conn, driver) = Connection::open(&self.authority).await.ok()?;
        let (status, body) = alongside(driver, conn.get("/metrics")).await.ok()?.ok()?;
        if status != StatusCode::OK {
            return None;
        }
        let text = std::str::from_utf8(&body).ok()?;
        let count = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<u64>().ok())
        };
        Some(WriterStats {
            batches: count("linli_store_batches_total")?,
            batched: count("linli_store_writes_total{how=\"batched\"}")?,
            alone: count("linli_store_writes_total{how=\"alone\"}")?,
            reread: count("linli_store_batches_reread_total")?,
        })
    }

    /// Submit and the six actions, each by its person; stops at the first unexpected answer.
    async fn lifecycle(&self, conn: &mut Connection, record: &mut Record) {
        let submit = json!({"category": flow::CATEGORY, "description": flow::DESCRIPTION});
        let bearer = &self.bearers.resident;
        let sent = send(
            conn,
            "/api/v1/tickets",
            bearer,
            &submit,
            StatusCode::CREATED,
            "submit",
            record,
        );
        let Some(mut ticket) = sent.await else {
            return;
        };
        for (who, action) in STEPS {
            let Answer { id, version } = ticket;
            let path = format!("/api/v1/tickets/{id}/actions/{action}");
            let body = flow::body(action, self.volunteer, version);
            let bearer = self.bearers.who(who);
            match send(conn, &path, bearer, &body, StatusCode::OK, action, record).await {
                Some(t) => ticket = t,
                None => return,
            }
        }
        record.lifecycles += 1;
    }
}

/// What a virtual user reads of an answer: the ticket's id and version, all the next request
/// needs. Reading all of it into a `serde_json::Value` (a map per object) cost the load
/// generator a fifth more CPU per lifecycle, taken from the server under test, which shares
/// the machine with it.
#[derive(Deserialize)]
struct Answer {
    id: uuid::Uuid,
    version: u64,
}

/// POSTs one request and reads its answer: the ticket's id and version if the status is the
/// expected one (its latency recorded under `action`), otherwise the status counted as an
/// error.
async fn send(
    conn: &mut Connection,
    path: &str,
    bearer: &HeaderValue,
    body: &serde_json::Value,
    expected: StatusCode,
    action: &'static str,
    record: &mut Record,
) -> Option<Answer> {
    let body = serde_json::to_vec(body).expect("JSON values serialize");
    let started = Instant::now();
    let Ok((status, answer)) = conn.post(path, bearer, body).await else {
        record.failed(format!("{action}: no answer"));
        return None;
    };
    if status != expected {
        record.failed(format!("{action}: {}", status.as_u16()));
        return None;
    }
    match serde_json::from_slice::<Answer>(&answer) {
        Ok(v) => {
            record.took(action, started.elapsed());
            Some(v)
        }
        Err(_) => {
            record.failed(format!("{action}: answer without id or version"));
            None
        }
    }
}

async fn collect(mut tasks: JoinSet<Record>) -> Record {
    let mut all = Record::default();
    while let Some(r) = tasks.join_next().await {
        if let Ok(r) = r {
            all.merge(r);
        }
    }
    all
}
