//! Everything PostgreSQL does its own way: its pools (a connection idle for a while is
//! pinged, the batch writers' connections set up for their one statement), its migrations,
//! a lone decision as one autocommitted statement ([`write`]) and a batch as arrays
//! ([`batch`]).

pub(crate) mod batch;
pub(crate) mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use workflow_core::store::StoreError;

use crate::dialect::Dialect;
use crate::error::from_sqlx;
use crate::{Backend, Options};

pub(crate) const DIALECT: Dialect = Dialect {
    explain: "EXPLAIN ",
    explain_analyze: "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) ",
    plan_column: 0,
    json_text: |column, key| format!("({column}::json->>'{key}')"),
    json_int: |column, key| format!("(({column}::json->>'{key}')::int)"),
    claim_lock: " FOR UPDATE SKIP LOCKED",
    timers_key: "(ticket_id, key, community_id)",
    names_partition: true,
};

/// The schema, embedded at build time.
pub(crate) static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// How the connections that write batches are set up. Every statement of a batch reaches its
/// rows by key, so a sequential scan is never the plan wanted; but a connection plans each
/// statement once and keeps the plan, and one made while a table was small (the timers of a
/// node that just started: a few pages) keeps its sequential scan as the table grows to
/// thousands of rows (seen with `auto_explain`: 1,369 sequential scans of `timers` reading 6
/// million rows in a 10 s run; turning them off gained 14–20% in `linli bench engine`). With
/// sequential scans off, a plan reaches the rows by index whatever the table held when it was
/// made (a table without a usable index would still be scanned: it is a cost, not a ban).
/// Only these connections: reports and lists on the other pool keep the planner's choice.
pub(crate) const BATCH_SESSION: [(&str, &str); 1] = [("enable_seqscan", "off")];

/// A PostgreSQL pool as both of a store's are built.
fn pg_pool(max_connections: u32, timeout: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(timeout)
        // sqlx pings every connection it hands out: a round trip before every read and
        // every transaction. A connection in steady use is tested by that use; one idle
        // for a while (the server may have restarted, a proxy may have closed it) is
        // pinged, and replaced if the ping fails.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_WHEN_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Connects to the database `options.url` names and applies pending migrations.
pub(crate) async fn open(options: &Options) -> Result<Backend, StoreError> {
    let connect =
        PgConnectOptions::from_str(&options.url).map_err(|e| StoreError::Other(e.to_string()))?;
    let pool = pg_pool(options.max_connections, options.timeout)
        .connect_with(connect.clone())
        .await
        .map_err(from_sqlx)?;
    MIGRATIONS
        .run(&pool)
        .await
        .map_err(|e| StoreError::Other(format!("migrations: {e}")))?;
    // One connection per writer task; lazily, so a store that never batches opens none.
    let batches = pg_pool(options.pg_writers.max(1) as u32, options.timeout)
        .connect_lazy_with(connect.options(BATCH_SESSION));
    Ok(Backend::Postgres { pool, batches })
}

/// Creates an empty PostgreSQL database on the server at `server_url` and returns its URL
/// (test and benchmark harnesses give each run a database of its own). The connection used
/// is a bare one: nothing is migrated in the server's own database.
pub async fn create_database(server_url: &str, name: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(StoreError::Other(format!("unsafe database name {name:?}")));
    }
    let mut admin = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(from_sqlx)?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(from_sqlx)?;
    let _ = admin.close().await;
    let head = server_url.split('?').next().unwrap_or(server_url);
    Ok(format!(
        "{}/{name}",
        head.rsplit_once('/').map_or(head, |(root, _)| root)
    ))
}
