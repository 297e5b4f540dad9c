//! Tickets and their events: applying decisions atomically. A lone decision is one round
//! trip on either backend, each its own way (`sqlite::write`, `postgres::write`); one with
//! an idempotency record, a link and a timer's firing are written inside a transaction,
//! through [`DecisionWriter`]. What is read is in [`read`].

mod read;

use sqlx::types::Json;
use sqlx::{Database, Encode, IntoArguments, Type};
use uuid::Uuid;
use workflow_core::store::*;
use workflow_core::{Decision, Timer, TimerChange, TimerKey, Workflow};

use crate::error::{from_sqlx, is_unique_violation};
use crate::{Backend, OutboxDelivery, SqlStore, us};

/// A decision written inside a transaction the caller holds, each backend its own way.
pub(crate) trait DecisionWriter {
    async fn write_decision(
        &mut self,
        d: &Decision,
        delivery: &OutboxDelivery,
    ) -> Result<(), StoreError>;
}

/// Deletes a claimed timer exactly as its claim left it; `TimerGone` if the claim was lost or
/// the timer replaced.
async fn delete_claimed<'c, DB, E>(conn: E, timer: &ClaimedTimer) -> Result<(), StoreError>
where
    DB: Database,
    E: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Uuid>: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let deleted = sqlx::query::<DB>(
        "DELETE FROM timers WHERE ticket_id = $1 AND key = $2 AND claimed_by = $3 AND epoch = $4 \
         AND due_at_us = $5 AND community_id = $6 RETURNING 1",
    )
    .bind(timer.ticket_id)
    .bind(timer.key.to_string())
    .bind(timer.owner)
    .bind(timer.epoch as i64)
    .bind(us(timer.due_at))
    .bind(timer.community_id)
    .fetch_optional(conn)
    .await
    .map_err(from_sqlx)?;
    deleted.map(|_| ()).ok_or(StoreError::TimerGone)
}

/// A failed statement of decision `d` (each backend has first taken its own conflict guard
/// for what it is). A duplicate key is the ticket itself when `d` creates it. Otherwise the
/// ticket's row was not changed, and the rows that name it ran into its absence (a foreign
/// key, on SQLite) or into an event already there (`(ticket, seq)`): a conflict.
pub(crate) fn decision_error(d: &Decision, e: sqlx::Error) -> StoreError {
    let (duplicate, missing) = match &e {
        sqlx::Error::Database(db) => (db.is_unique_violation(), db.is_foreign_key_violation()),
        _ => (false, false),
    };
    match (duplicate, missing) {
        (true, _) if d.expected_version == 0 => StoreError::Duplicate(d.ticket.id),
        (true, _) | (_, true) if d.expected_version > 0 => StoreError::Conflict { actual: None },
        _ => from_sqlx(e),
    }
}

/// The net effect of a decision on its ticket's timers: the keys to delete and the timers
/// to upsert (the last change for a key decides it).
pub(crate) fn net_timer_changes(d: &Decision) -> (Vec<String>, Vec<&Timer>) {
    let mut last: Vec<(&TimerKey, Option<&Timer>)> = Vec::new();
    for change in &d.timers {
        let (key, timer) = match change {
            TimerChange::Set(timer) => (&timer.key, Some(timer)),
            TimerChange::Cancel(key) => (key, None),
        };
        match last.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = timer,
            None => last.push((key, timer)),
        }
    }
    let cancelled = last
        .iter()
        .filter(|(_, t)| t.is_none())
        .map(|(k, _)| k.to_string())
        .collect();
    let set = last.iter().filter_map(|(_, t)| *t).collect();
    (cancelled, set)
}

/// The earliest of the timers a decision sets that the timer workers must be told of
/// ([`crate::announce::announced`]).
pub(crate) fn announced_timer(d: &Decision, set: &[&Timer]) -> Option<jiff::Timestamp> {
    let decided_at = d.events.last()?.at;
    set.iter()
        .map(|timer| timer.due_at)
        .filter(|&due| crate::announce::announced(due, decided_at))
        .min()
}

impl SqlStore {
    pub(crate) async fn register_workflow_version(&self, wf: &Workflow) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            let existing: Option<String> = sqlx::query_scalar(
                "SELECT content_hash FROM workflow_versions WHERE id = $1 AND version = $2",
            )
            .bind(&wf.id)
            .bind(i64::from(wf.version))
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            match existing {
                Some(hash) if hash == wf.content_hash => Ok(()),
                Some(_) => Err(StoreError::WorkflowChanged {
                    id: wf.id.clone(),
                    version: wf.version,
                }),
                None => {
                    sqlx::query(
                        "INSERT INTO workflow_versions (id, version, content_hash, source, registered_at_us) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id, version) DO NOTHING",
                    )
                    .bind(&wf.id)
                    .bind(i64::from(wf.version))
                    .bind(&wf.content_hash)
                    .bind(&wf.source)
                    .bind(us(jiff::Timestamp::now()))
                    .execute(pool)
                    .await
                    .map_err(from_sqlx)?;
                    Ok(())
                }
            }
        })
    }

    pub(crate) async fn apply_decision(
        &self,
        d: &Decision,
        idem: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        let written = self.write_decision(d, idem).await;
        self.version_on_conflict(d, written).await
    }

    /// A conflict is found inside the decision's transaction, which an error leaves unusable
    /// on PostgreSQL: the version found is read once that transaction is gone.
    async fn version_on_conflict(
        &self,
        d: &Decision,
        written: Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Err(StoreError::Conflict { actual: None }) = written else {
            return written;
        };
        let actual: Option<i64> = with_pool!(self, pool, {
            sqlx::query_scalar("SELECT version FROM tickets WHERE id = $1")
                .bind(d.ticket.id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?
        });
        Err(StoreError::Conflict {
            actual: actual.map(|v| v as u64),
        })
    }

    async fn write_decision(
        &self,
        d: &Decision,
        idem: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        if d.events.is_empty() {
            return Err(StoreError::Other("a decision without events".into()));
        }
        let delivery = self.outbox_delivery();
        // One round trip, but for what moves time bank hours too: in a transaction, with them.
        match (&*self.backend, idem) {
            (Backend::Postgres { pool, .. }, None) if d.time.is_empty() => {
                return crate::postgres::write::lone(pool, d, &delivery).await;
            }
            (Backend::Sqlite { writer, .. }, None) if d.time.is_empty() => {
                return crate::sqlite::write::lone(writer, d, &delivery).await;
            }
            _ => {}
        }
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            tx.write_decision(d, &delivery).await?;
            if let Some(rec) = idem {
                let r = sqlx::query(
                    "INSERT INTO idempotency (caller_id, key, request_hash, ticket_id, response, created_at_us) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(rec.caller)
                .bind(&rec.key)
                .bind(&rec.request_hash)
                .bind(rec.ticket_id)
                .bind(Json(serde_json::from_str::<serde_json::Value>(&rec.response).unwrap_or_default()))
                .bind(us(d.ticket.updated_at))
                .execute(&mut *tx)
                .await;
                match r {
                    // A concurrent submit with the same key won: the caller reads its record.
                    Err(e) if is_unique_violation(&e) => {
                        return Err(StoreError::IdempotencyMismatch(rec.key.clone()));
                    }
                    Err(e) => return Err(from_sqlx(e)),
                    Ok(_) => {}
                }
            }
            tx.commit().await.map_err(from_sqlx)
        })
    }

    /// Every decision of a link in one transaction, with the deletion of the timer that
    /// fired them if one did; a conflict on any (or a timer gone) drops them all.
    pub(crate) async fn apply_linked_decisions(
        &self,
        decisions: &[Decision],
        fired: Option<&ClaimedTimer>,
    ) -> Result<(), StoreError> {
        let delivery = self.outbox_delivery();
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(timer) = fired {
                delete_claimed(&mut *tx, timer).await?;
            }
            for d in decisions {
                tx.write_decision(d, &delivery).await?;
            }
            tx.commit().await.map_err(from_sqlx)
        })
    }

    pub(crate) async fn fire_timer(
        &self,
        timer: &ClaimedTimer,
        d: Option<&Decision>,
    ) -> Result<(), StoreError> {
        let fired = self.write_firing(timer, d).await;
        match d {
            Some(d) => self.version_on_conflict(d, fired).await,
            None => fired,
        }
    }

    async fn write_firing(
        &self,
        timer: &ClaimedTimer,
        d: Option<&Decision>,
    ) -> Result<(), StoreError> {
        let delivery = self.outbox_delivery();
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            delete_claimed(&mut *tx, timer).await?;
            if let Some(d) = d {
                tx.write_decision(d, &delivery).await?;
            }
            tx.commit().await.map_err(from_sqlx)
        })
    }
}
