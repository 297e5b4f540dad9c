//! A batch written in one transaction whatever its size: read what the writes depend on
//! (locking it on PostgreSQL), decide which go in ([`plan`]), gather their rows ([`Rows`]),
//! write them all, commit. How the rows travel is each backend's own: multi-row statements
//! on SQLite (`sqlite::batch`), arrays on PostgreSQL (`postgres::batch`).
//!
//! On PostgreSQL, where each of those steps is a round trip to the server, a batch is first
//! sent as one autocommitted statement planned on what its writes expect to find, which
//! refuses itself whole if the database disagrees; only then is it read and written as above.

use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres};
use workflow_core::store::StoreError;

use super::plan::{Found, Outcome, Write, plan};
use super::rows::Rows;
use crate::error::from_sqlx;
use crate::postgres::batch as arrays;
use crate::sqlite::batch as values;
use crate::{Backend, SqlStore};

/// The connection a writer task keeps for its batches (PostgreSQL), taken from the batch pool
/// on its first batch and given back when a batch fails. Taking one from the pool for each
/// batch cost ~200 µs of a 2.5 ms batch at 64 callers: the one given back by the batch
/// before is returned by a task of its own, which had not yet run.
pub(super) type Held = Option<PoolConnection<Postgres>>;

/// A batch committed: each write's outcome, and whether its first way in was refused.
pub(super) struct Written {
    pub outcomes: Vec<Outcome>,
    /// PostgreSQL: the one-statement way refused the batch (a check failed), so it was
    /// written again after reading what it depends on.
    pub reread: bool,
}

impl SqlStore {
    /// Writes `writes` in one transaction. `Outcome::Alone` entries are left for the caller
    /// to write one by one after this commits. An `Err` means nothing was written.
    pub(super) async fn write_batch(
        &self,
        writes: &[&Write],
        held: &mut Held,
    ) -> Result<Written, StoreError> {
        let mut reread = false;
        let outcomes = match &*self.backend {
            Backend::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await.map_err(from_sqlx)?;
                let found = values::found(&mut tx, writes).await?;
                let outcomes = plan(writes, &found);
                values::write(
                    &mut tx,
                    &Rows::of(writes, &outcomes, self.outbox_delivery()),
                )
                .await?;
                tx.commit().await.map_err(from_sqlx)?;
                outcomes
            }
            Backend::Postgres { batches, .. } => {
                let conn = match held {
                    Some(conn) => conn,
                    None => held.insert(batches.acquire().await.map_err(from_sqlx)?),
                };
                // First as one autocommitted statement, planned on what the writes expect and
                // checked as it writes: one round trip instead of four (begin, the reads,
                // the rows, commit). A timer's firing needs its claim read and locked first,
                // so a batch with one takes the second way at once.
                if !writes.iter().any(|w| matches!(w, Write::Fire(..))) {
                    let outcomes = plan(writes, &Found::expected(writes));
                    match arrays::write(conn, &Rows::of(writes, &outcomes, self.outbox_delivery()))
                        .await
                    {
                        Ok(()) => return Ok(Written { outcomes, reread }),
                        // Nothing was written: a version moved, a key was used, a ticket
                        // exists (or the statement failed for another reason, which the
                        // second way meets again and reports).
                        Err(e) => {
                            tracing::debug!(error = %e, writes = writes.len(),
                                "batch refused as a whole; reading what it depends on");
                            reread = true;
                        }
                    }
                }
                let locked = async {
                    let mut tx = conn.begin().await.map_err(from_sqlx)?;
                    let found = arrays::found(&mut tx, writes).await?;
                    let outcomes = plan(writes, &found);
                    arrays::write(
                        &mut tx,
                        &Rows::of(writes, &outcomes, self.outbox_delivery()),
                    )
                    .await?;
                    tx.commit().await.map_err(from_sqlx)?;
                    Ok(outcomes)
                };
                match locked.await {
                    Ok(outcomes) => outcomes,
                    Err(e) => {
                        // Perhaps the connection broke: the next batch takes one afresh
                        // (the pool pings one that sat idle).
                        *held = None;
                        return Err(e);
                    }
                }
            }
        };
        Ok(Written { outcomes, reread })
    }
}
