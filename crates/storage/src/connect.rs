//! Opening a store from a URL: `sqlite://linli.db` (created with its migrations on first
//! start) or `postgres://…`.

use std::time::Duration;

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

/// Connects and applies pending migrations.
pub async fn connect(options: &Options) -> Result<SqlStore, StoreError> {
    let url = options.url.as_str();
    let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        crate::postgres::open(options).await?
    } else if url.starts_with("sqlite:") {
        crate::sqlite::open(options).await?
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

impl SqlStore {
    /// Whether every migration this build carries is recorded as applied (readiness).
    pub async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let expected = match &*self.backend {
            Backend::Postgres { .. } => crate::postgres::MIGRATIONS.migrations.len(),
            Backend::Sqlite { .. } => crate::sqlite::MIGRATIONS.migrations.len(),
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
