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
            // PostgreSQL: 40P01 deadlock, 40001 serialization failure: two writers crossed;
            // the loser retries like any other lost compare-and-set.
            if matches!(code.as_ref(), "40P01" | "40001") {
                return StoreError::Conflict { actual: None };
            }
            let transient = match db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                Some(_) => sqlite_transient(&code),
                // PostgreSQL: 08* connection exceptions, 57P* operator intervention
                // (shutdown, terminated backend), 53* insufficient resources.
                None => code.starts_with("08") || code.starts_with("57P") || code.starts_with("53"),
            };
            if transient {
                StoreError::Unavailable(e.to_string())
            } else {
                StoreError::Other(e.to_string())
            }
        }
        _ => StoreError::Other(e.to_string()),
    }
}

/// SQLite's result codes for "the disk or the file said no", by primary code (an extended
/// code such as `SQLITE_IOERR_WRITE`, 778, carries its primary in the low byte): BUSY 5,
/// LOCKED 6, NOMEM 7, READONLY 8, IOERR 10, FULL 13, CANTOPEN 14. Each passes when the disk
/// has room again, the file is writable again, the other process lets go. CORRUPT and
/// NOTADB are not among them: an operator must look.
fn sqlite_transient(code: &str) -> bool {
    code.parse::<u32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 8 | 10 | 13 | 14))
}

/// A unique-key violation (duplicate ticket, idempotency key race).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}
