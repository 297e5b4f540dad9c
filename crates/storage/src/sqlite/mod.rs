//! Everything SQLite does its own way: one writer connection beside a pool of readers (WAL),
//! its migrations, a failed write's connection made known again or closed
//! ([`connection`]), a lone decision as one text from `BEGIN` to `COMMIT` ([`write`]) and a
//! batch as multi-row statements ([`batch`]).

pub(crate) mod batch;
pub(crate) mod connection;
pub(crate) mod write;

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use workflow_core::store::StoreError;

use crate::dialect::Dialect;
use crate::error::from_sqlx;
use crate::{Backend, Durability, Options};

pub(crate) const DIALECT: Dialect = Dialect {
    explain: "EXPLAIN QUERY PLAN ",
    explain_analyze: "EXPLAIN QUERY PLAN ",
    plan_column: 3,
    json_text: |column, key| format!("json_extract({column}, '$.{key}')"),
    json_int: |column, key| format!("json_extract({column}, '$.{key}')"),
    claim_lock: "",
    timers_key: "(ticket_id, key)",
    names_partition: false,
};

/// The schema, embedded at build time.
pub(crate) static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Opens (creating it if missing) the file `options.url` names and applies pending
/// migrations.
pub(crate) async fn open(options: &Options) -> Result<Backend, StoreError> {
    let base = SqliteConnectOptions::from_str(&options.url)
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
        .after_release(|conn, _| Box::pin(connection::outside_any_transaction(conn)))
        .connect_with(base.clone().create_if_missing(true))
        .await
        .map_err(from_sqlx)?;
    MIGRATIONS
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
    Ok(Backend::Sqlite { writer, reader })
}
