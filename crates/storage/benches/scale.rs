//! A large backlog costs neither throughput nor list latency: the same measurements on an
//! empty database and then with 1,000,000 finished requests already in it (100 branches of
//! 10,000, the measured branch among them, one community holding them all, 100,000
//! residents). Throughput: whole lifecycles through `Store::apply` by 64 callers. Lists: the
//! queries the console and the API make, first pages of 50, p99 of many runs each.
//! (Timer lateness with 1,000,000 pending is the `timers` benchmark.)
//!
//! `cargo bench -p storage --bench scale` (PostgreSQL too with LINLI_TEST_DATABASE_URL;
//! LINLI_BENCH_TICKETS sets the backlog, LINLI_BENCH_SECONDS each throughput measurement).

mod common;

use std::time::Instant;

use common::{catalog, postgres_url, store_rate, verdict};
use storage::{Options, SqlStore};
use uuid::Uuid;
use workflow_core::store::{Page, Scope, Store, TicketFilter};

const CALLERS: usize = 64;
const LIST_RUNS: usize = 300;
const BRANCHES: u64 = 100;
const RESIDENTS: u64 = 100_000;
/// The one list measured past its first page (keyset paging deep in the backlog).
const SECOND_PAGE: &str = "community: closed, second page";

fn backlog() -> u64 {
    std::env::var("LINLI_BENCH_TICKETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

/// The lists measured: (name, scope, filter). The benchmark's own callers submit into the
/// nil community and branch, which the backlog shares; `veteran` holds every finished ticket
/// of the backlog (a volunteer of years), a resident of the backlog asked for ten of them.
fn lists(veteran: Uuid) -> Vec<(&'static str, Scope, TicketFilter)> {
    let branch = Scope::Branch(Uuid::nil());
    let volunteer = |person| Scope::Assignee {
        person,
        teams: vec![],
        community: Some(Uuid::nil()),
    };
    let resident = Uuid::from_u128(0x0000_0000_0000_4000_9000_0000_0000_0001);
    vec![
        (
            "resident: her requests",
            Scope::Requester(resident),
            TicketFilter::default(),
        ),
        (
            "volunteer of years: theirs",
            volunteer(veteran),
            TicketFilter::default(),
        ),
        (
            "new volunteer: theirs (none)",
            volunteer(Uuid::now_v7()),
            TicketFilter::default(),
        ),
        (
            "branch: newest first",
            branch.clone(),
            TicketFilter::default(),
        ),
        (
            "branch: open only",
            branch,
            TicketFilter {
                open: Some(true),
                ..TicketFilter::default()
            },
        ),
        (
            "community: open only",
            Scope::Community(Uuid::nil()),
            TicketFilter {
                open: Some(true),
                ..TicketFilter::default()
            },
        ),
        (
            SECOND_PAGE,
            Scope::Community(Uuid::nil()),
            TicketFilter {
                state: Some("closed".into()),
                ..TicketFilter::default()
            },
        ),
        (
            "community: breached",
            Scope::Community(Uuid::nil()),
            TicketFilter {
                breached: Some(true),
                ..TicketFilter::default()
            },
        ),
    ]
}

/// p99 in ms of each list, in the order of [`lists`].
async fn list_p99s(store: &SqlStore, veteran: Uuid) -> Vec<f64> {
    let mut out = Vec::new();
    for (name, scope, filter) in lists(veteran) {
        let mut page = Page {
            after: None,
            limit: 50,
        };
        if name == SECOND_PAGE {
            let first = store.list(&scope, &filter, page).await.unwrap();
            page.after = first.last().map(|t| t.id);
        }
        let mut took = Vec::with_capacity(LIST_RUNS);
        for _ in 0..LIST_RUNS {
            let start = Instant::now();
            let found = store.list(&scope, &filter, page).await.unwrap();
            took.push(start.elapsed().as_secs_f64() * 1000.0);
            std::hint::black_box(found);
        }
        took.sort_by(f64::total_cmp);
        out.push(took[(took.len() * 99).div_ceil(100) - 1]);
    }
    out
}

/// Who holds the finished ticket [`load_backlog`] copies: the backlog's one volunteer.
async fn holder_of_the_template(store: &SqlStore) -> Uuid {
    let sql = "SELECT assignee_person FROM tickets WHERE state = 'closed' LIMIT 1";
    match store.pg_pool() {
        Some(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        None => sqlx::query_scalar(sql)
            .fetch_one(store.sqlite_pool().unwrap())
            .await
            .unwrap(),
    }
}

/// Copies a finished ticket of the benchmark's `n` times, each with its own id (older than
/// any real one), branch, requester and creation time; every other column as it is.
async fn load_backlog(store: &SqlStore, n: u64) {
    let template = "(SELECT * FROM tickets WHERE state = 'closed' LIMIT 1)";
    if let Some(pool) = store.pg_pool() {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_name = 'tickets' AND table_schema = current_schema() ORDER BY ordinal_position",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        let id = "('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))";
        let values: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "id" => format!("{id}::uuid"),
                "branch_id" => format!(
                    "CASE WHEN i % {BRANCHES} = 0 THEN t.branch_id \
                     ELSE ('00000000-0000-4000-8000-' || lpad(to_hex(i % {BRANCHES}), 12, '0'))::uuid END"
                ),
                "requester_id" => format!(
                    "('00000000-0000-4000-9000-' || lpad(to_hex(i % {RESIDENTS}), 12, '0'))::uuid"
                ),
                "created_at_us" => "t.created_at_us - i::bigint * 1000000".into(),
                other => format!("t.{other}"),
            })
            .collect();
        let sql = format!(
            "INSERT INTO tickets ({}) SELECT {} FROM {template} AS t, generate_series(1, {n}) AS i",
            columns.join(", "),
            values.join(", ")
        );
        sqlx::query(&sql).execute(pool).await.unwrap();
        // As a database that grew over years would be: vacuumed, analysed, checkpointed (else
        // the next measurement pays for writing the load itself out).
        for settle in ["VACUUM ANALYZE tickets", "CHECKPOINT"] {
            sqlx::query(settle).execute(pool).await.unwrap();
        }
    } else {
        let pool = store.sqlite_pool().unwrap();
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('tickets') ORDER BY cid")
                .fetch_all(pool)
                .await
                .unwrap();
        let id = "('00000000-0000-7000-8000-' || printf('%012x', i))";
        let values: Vec<String> = columns
            .iter()
            .map(|c| match c.as_str() {
                "id" => format!("unhex(replace({id}, '-', ''))"),
                "branch_id" => format!(
                    "CASE WHEN i % {BRANCHES} = 0 THEN t.branch_id \
                     ELSE unhex('00000000000040008000' || printf('%012x', i % {BRANCHES})) END"
                ),
                "requester_id" => {
                    format!("unhex('00000000000040009000' || printf('%012x', i % {RESIDENTS}))")
                }
                "created_at_us" => "t.created_at_us - i * 1000000".into(),
                other => format!("t.{other}"),
            })
            .collect();
        let sql = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             INSERT INTO tickets ({}) SELECT {} FROM {template} AS t, n",
            columns.join(", "),
            values.join(", ")
        );
        sqlx::query(&sql).execute(pool).await.unwrap();
        for settle in ["ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"] {
            sqlx::query(settle).execute(pool).await.unwrap();
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let catalog = catalog();
    let wf = catalog.latest("community-service").unwrap().clone();
    let n = backlog();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-scale-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut backends = vec![(
        "SQLite FULL".to_string(),
        Options::new(format!("sqlite://{}/scale.db", dir.display())),
    )];
    match postgres_url().await {
        Some(url) => backends.push(("PostgreSQL".into(), Options::new(url))),
        None => eprintln!("SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL not set or unreachable"),
    }
    println!("| backend | measurement | empty | with {n} tickets | ratio or target | verdict |");
    println!("|---|---|---:|---:|---|---|");
    for (label, options) in backends {
        let store = storage::connect(&options).await.unwrap();
        let empty_rate = store_rate(&store, &wf, CALLERS).await;
        let veteran = holder_of_the_template(&store).await;
        let empty_lists = list_p99s(&store, veteran).await;
        let started = Instant::now();
        load_backlog(&store, n).await;
        let loading = started.elapsed().as_secs_f64();
        let full_rate = store_rate(&store, &wf, CALLERS).await;
        let full_lists = list_p99s(&store, veteran).await;
        let ratio = full_rate / empty_rate;
        println!(
            "| {label} | transitions/s, {CALLERS} callers | {empty_rate:.0} | {full_rate:.0} | {ratio:.2} (≥ 0.8) | {} |",
            verdict(ratio >= 0.8)
        );
        for ((name, _, _), (empty, full)) in lists(veteran)
            .iter()
            .zip(empty_lists.iter().zip(&full_lists))
        {
            println!(
                "| {label} | list p99 ms, {name} | {empty:.2} | {full:.2} | ≤ 10 ms | {} |",
                verdict(*full <= 10.0)
            );
        }
        println!("| {label} | loading the backlog, s | | {loading:.1} | | |");
        store.close().await;
    }
    let _ = std::fs::remove_dir_all(dir);
}
