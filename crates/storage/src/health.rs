//! Whether writes are going through, for readiness: a disk that refuses writes, or a
//! database that does not answer, leaves reads working and every write failing, and an
//! operator (or a load balancer) must hear of it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, us};

/// A write that went through this long ago still vouches for the database; past it,
/// [`SqlStore::writable`] writes to find out.
const VOUCHES_FOR: Duration = Duration::from_secs(10);

/// When this node's last write committed, or `None` if it failed for a transient reason
/// (the disk, the connection) or none was made yet.
#[derive(Debug, Default)]
pub(crate) struct WriteHealth(Mutex<Option<Instant>>);

impl WriteHealth {
    /// Notes a write's fate. A refusal (a conflict, a duplicate) says nothing about the
    /// disk and changes nothing.
    pub(crate) fn note(&self, written: &Result<(), StoreError>) {
        let committed = match written {
            Ok(()) => Some(Instant::now()),
            Err(StoreError::Unavailable(_)) => None,
            Err(_) => return,
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = committed;
    }

    /// Whether the last write committed, and recently enough to vouch for the database.
    fn vouched(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| at.elapsed() < VOUCHES_FOR)
    }
}

impl SqlStore {
    /// Whether a write commits now: `Ok` if one did within the last few seconds, else the
    /// answer of a write made to find out (one row, `write_probe`). After a failure it writes
    /// again each time it is asked, so that readiness sees the disk or the database come back
    /// even when nobody else writes.
    pub async fn writable(&self) -> Result<(), StoreError> {
        if self.health.vouched() {
            return Ok(());
        }
        let probed = with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO write_probe (id, at_us) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET at_us = excluded.at_us",
            )
            .bind(us(jiff::Timestamp::now()))
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(from_sqlx)
        });
        self.health.note(&probed);
        probed
    }
}
