//! Opening a store from a URL: `sqlite://linli.db` (created with its migrations on first
//! start) or `postgres://…`.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{Backend, SqlStore};

/// SQLite's `synchronous` setting. `Full` (the default) survives power loss after each
/// commit; `Normal` may lose the last commits on power loss, never on a process crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    #[default]
    Full,
    Normal,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub url: String,
    pub durability: Durability,
    /// Connections for PostgreSQL; readers for SQLite (it always has one writer).
    pub max_connections: u32,
    /// Group commit ([`crate::writer`]): concurrent transitions share one transaction. On by
    /// default; off, each transition commits alone (benchmarks compare the two).
    pub group_commit: bool,
    /// PostgreSQL writer tasks (each with a connection) taking batches from one queue, so a
    /// batch is gathered while another commits. SQLite always has one: it has one writer.
    pub pg_writers: usize,
    /// The longest a write, or the wait for a connection, may take: past it the caller is
    /// answered [`StoreError::Unavailable`] (HTTP 503) rather than kept waiting on a
    /// database that does not answer (a network partition, a disk that stalls). A write
    /// given up this way may still commit: its outcome is unknown (docs/RELIABILITY.md).
    pub timeout: Duration,
}

/// [`Options::timeout`] unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

impl Options {
    pub fn new(url: impl Into<String>) -> Options {
        Options {
            url: url.into(),
            durability: Durability::Full,
            max_connections: 16,
            group_commit: true,
            pg_writers: 2,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

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

/// The schema each backend runs on, embedded at build time.
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Connects and applies pending migrations.
pub async fn connect(options: &Options) -> Result<SqlStore, StoreError> {
    let url = options.url.as_str();
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let connect =
            PgConnectOptions::from_str(url).map_err(|e| StoreError::Other(e.to_string()))?;
        let pool = pg_pool(options.max_connections, options.timeout)
            .connect_with(connect.clone())
            .await
            .map_err(from_sqlx)?;
        POSTGRES_MIGRATIONS
            .run(&pool)
            .await
            .map_err(|e| StoreError::Other(format!("migrations: {e}")))?;
        // One connection per writer task; lazily, so a store that never batches opens none.
        let batches = pg_pool(options.pg_writers.max(1) as u32, options.timeout)
            .connect_lazy_with(connect.options(BATCH_SESSION));
        Backend::Postgres { pool, batches }
    } else if url.starts_with("sqlite:") {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Other(e.to_string()))?
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.durability {
                Durability::Full => SqliteSynchronous::Full,
                Durability::Normal => SqliteSynchronous::Normal,
            })
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // A file connection does not go stale: no ping before each use (sqlx's default,
        // a hop to the connection's thread and back).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(options.timeout)
            // A connection a failed write left inside a transaction is closed, not pooled.
            .after_release(|conn, _| {
                Box::pin(crate::sqlite_connection::outside_any_transaction(conn))
            })
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(from_sqlx)?;
        SQLITE_MIGRATIONS
            .run(&writer)
            .await
            .map_err(|e| StoreError::Other(format!("migrations: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(options.max_connections.clamp(1, 8))
            .test_before_acquire(false)
            .acquire_timeout(options.timeout)
            .connect_with(base.read_only(true))
            .await
            .map_err(from_sqlx)?;
        Backend::Sqlite { writer, reader }
    } else {
        return Err(StoreError::Other(format!(
            "unsupported database URL {url:?}: use sqlite://FILE or postgres://…"
        )));
    };
    let writers = match (&backend, options.group_commit) {
        (_, false) => 0,
        (Backend::Sqlite { .. }, true) => 1,
        (Backend::Postgres { .. }, true) => options.pg_writers.max(1),
    };
    Ok(SqlStore::new(backend, writers, options.timeout))
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

impl SqlStore {
    /// Whether every migration this build carries is recorded as applied (readiness).
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let expected = match &*self.backend {
            Backend::Postgres { .. } => POSTGRES_MIGRATIONS.migrations.len(),
            Backend::Sqlite { .. } => SQLITE_MIGRATIONS.migrations.len(),
        };
        let applied: i64 = with_reader!(self, pool, {
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(pool)
                .await
                .map_err(from_sqlx)?
        });
        Ok(applied as usize >= expected)
    }
}
