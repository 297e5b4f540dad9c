//! Mapping driver errors onto the port's errors: what is transient (the database is away:
//! HTTP 503, retry later) is told apart from what is not.

use workflow_core::store::StoreError;

pub fn from_sqlx(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    match &e {
        E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => {
            StoreError::Unavailable(e.to_string())
        }
        E::Database(db) => {
            let code = db.code().unwrap_or_default();
            // PostgreSQL: 08* connection exceptions, 57P* operator intervention (shutdown,
            // terminated backend), 53* insufficient resources. SQLite: 5 BUSY, 6 LOCKED,
            // 13 FULL, 8 READONLY (the disk or the file said no).
            let transient = code.starts_with("08")
                || code.starts_with("57P")
                || code.starts_with("53")
                || matches!(code.as_ref(), "5" | "6" | "13" | "8" | "261" | "517");
            // PostgreSQL: 40P01 deadlock, 40001 serialization failure: two writers crossed;
            // the loser retries like any other lost compare-and-set.
            if matches!(code.as_ref(), "40P01" | "40001") {
                return StoreError::Conflict { actual: None };
            }
            if transient {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Other(e.to_string())
            }
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// A unique-key violation (duplicate ticket, idempotency key race).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
