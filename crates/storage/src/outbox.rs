//! The outbox: notifications written in the transition's transaction, delivered after it,
//! at least once, claimed with a lease like timers.

use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::Recipient;
use workflow_core::store::*;

use crate::error::from_sqlx;
use crate::{Backend, SqlStore, from_us, us};

const CLAIM_PG: &str = "UPDATE outbox SET claimed_by = $1, lease_until_us = $2 \
    WHERE id IN (SELECT id FROM outbox WHERE delivered_at_us IS NULL AND NOT parked AND next_attempt_us <= $3 \
        AND (claimed_by IS NULL OR lease_until_us <= $3) ORDER BY next_attempt_us LIMIT $4 FOR UPDATE SKIP LOCKED) \
    RETURNING id, community_id, ticket_id, event_seq, event, recipient, attempts, created_at_us";
const CLAIM_SQLITE: &str = "UPDATE outbox SET claimed_by = $1, lease_until_us = $2 \
    WHERE id IN (SELECT id FROM outbox WHERE delivered_at_us IS NULL AND NOT parked AND next_attempt_us <= $3 \
        AND (claimed_by IS NULL OR lease_until_us <= $3) ORDER BY next_attempt_us LIMIT $4) \
    RETURNING id, community_id, ticket_id, event_seq, event, recipient, attempts, created_at_us";

impl SqlStore {
    pub(crate) async fn claim_outbox_rows(
        &self,
        now: jiff::Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let sql = match &*self.backend {
            Backend::Postgres(_) => CLAIM_PG,
            Backend::Sqlite { .. } => CLAIM_SQLITE,
        };
        with_pool!(self, pool, {
            let rows = sqlx::query(sql)
                .bind(owner)
                .bind(us(lease_until))
                .bind(us(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            let mut out = rows
                .iter()
                .map(|r| -> Result<OutboxMessage, sqlx::Error> {
                    let recipient: Json<Recipient> = r.try_get(5)?;
                    Ok(OutboxMessage {
                        id: r.try_get(0)?,
                        community_id: r.try_get(1)?,
                        ticket_id: r.try_get(2)?,
                        event_seq: r.try_get::<i64, _>(3)? as u64,
                        event: r.try_get(4)?,
                        recipient: recipient.0,
                        attempts: r.try_get::<i32, _>(6)? as u32,
                        created_at: from_us(r.try_get(7)?),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(from_sqlx)?;
            out.sort_by_key(|m| m.id);
            Ok(out)
        })
    }

    /// Messages not yet delivered nor parked: the delivery backlog.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE delivered_at_us IS NULL AND NOT parked",
            )
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)
        })
    }

    pub(crate) async fn mark_outbox_delivered(
        &self,
        id: Uuid,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "UPDATE outbox SET delivered_at_us = $2, attempts = attempts + 1, claimed_by = NULL, \
                 lease_until_us = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(us(at))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }

    pub(crate) async fn mark_outbox_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "UPDATE outbox SET attempts = attempts + 1, last_error = $2, claimed_by = NULL, lease_until_us = NULL, \
                 next_attempt_us = COALESCE($3, next_attempt_us), parked = $4 WHERE id = $1",
            )
            .bind(id)
            .bind(error)
            .bind(retry_at.map(us))
            .bind(retry_at.is_none())
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }
}
