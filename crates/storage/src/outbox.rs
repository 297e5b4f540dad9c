//! The outbox: notifications written in the transition's transaction, delivered after it,
//! at least once, claimed with a lease like timers.

use std::sync::Arc;

use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;
use workflow_core::Recipient;
use workflow_core::store::*;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// Whose messages wait in the outbox for a delivery (a webhook): the others are written
/// delivered, where only the event streams read them. A message nothing would ever deliver
/// otherwise stayed pending for good: counted in the backlog, indexed among the pending, and
/// sent all at once to a webhook configured months later. Nodes sharing a database are meant
/// to share this (the webhooks); a node that delivers takes only what waits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxDelivery {
    /// Every community's messages wait (a default webhook, or a store that was not told).
    pub everyone: bool,
    /// Besides, these communities' messages wait (each has a webhook of its own).
    pub communities: std::collections::HashSet<Uuid>,
}

impl Default for OutboxDelivery {
    /// Every message waits, as a store that knows nothing of the webhooks must assume.
    fn default() -> Self {
        OutboxDelivery {
            everyone: true,
            communities: Default::default(),
        }
    }
}

impl OutboxDelivery {
    /// Nobody's: no webhook anywhere.
    pub fn nobody() -> Self {
        OutboxDelivery {
            everyone: false,
            communities: Default::default(),
        }
    }

    /// Whether a message to `recipient` about a request of `community` waits for delivery. A
    /// callback to the hotline platform always does: it is the platform's record, not a
    /// notice, and waits for the bridge if the bridge is not running.
    pub fn waits(&self, community: Uuid, recipient: &Recipient) -> bool {
        self.everyone || self.communities.contains(&community) || *recipient == Recipient::Platform
    }

    /// A message's `delivered_at_us` as written: none while it waits, its creation if it
    /// does not.
    pub(crate) fn delivered_at_us(
        &self,
        community: Uuid,
        recipient: &Recipient,
        created_at_us: i64,
    ) -> Option<i64> {
        (!self.waits(community, recipient)).then_some(created_at_us)
    }
}

/// How the outbox stands: what waits for delivery and what was parked (an operator's first
/// look: the metrics, readiness and the admin page all say both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    pub pending: i64,
    pub parked: i64,
}

impl SqlStore {
    /// Tells the store whose messages wait for delivery (`linli serve` does, from its
    /// webhooks, before it serves); until then every message waits.
    pub fn set_outbox_delivery(&self, delivery: OutboxDelivery) {
        *self.delivery.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(delivery);
    }

    pub(crate) fn outbox_delivery(&self) -> Arc<OutboxDelivery> {
        self.delivery
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Claims messages due for delivery that nobody holds (or whose holder's lease ran out);
/// `{lock}` is the backend's [`crate::dialect::Dialect::claim_lock`].
fn claim_sql(lock: &str) -> String {
    format!(
        "UPDATE outbox SET claimed_by = $1, lease_until_us = $2 \
         WHERE id IN (SELECT id FROM outbox WHERE delivered_at_us IS NULL AND NOT parked AND next_attempt_us <= $3 \
             AND (claimed_by IS NULL OR lease_until_us <= $3) ORDER BY next_attempt_us LIMIT $4{lock}) \
         RETURNING {MESSAGE_COLUMNS}"
    )
}

impl SqlStore {
    pub(crate) async fn claim_outbox_rows(
        &self,
        now: jiff::Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let sql = claim_sql(self.dialect().claim_lock);
        with_pool!(self, pool, {
            let rows = sqlx::query(&sql)
                .bind(owner)
                .bind(us(lease_until))
                .bind(us(now))
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            let mut out = rows
                .iter()
                .map(outbox_message)
                .collect::<Result<Vec<_>, _>>()
                .map_err(from_sqlx)?;
            out.sort_by_key(|m| m.id);
            Ok(out)
        })
    }

    /// Messages not yet delivered nor parked: the delivery backlog.
    pub async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(self.outbox_counts().await?.pending)
    }

    /// Messages waiting for delivery, and those parked after their last attempt (each count
    /// read by its own partial index).
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let (pending, parked): (i64, i64) = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM outbox WHERE delivered_at_us IS NULL AND NOT parked), \
                 (SELECT COUNT(*) FROM outbox WHERE parked)",
            )
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)
        })?;
        Ok(OutboxCounts { pending, parked })
    }

    /// Whether an earlier message of the same ticket to the same recipient is still
    /// undelivered (waiting, or parked): a callback to the 12345 platform waits behind it.
    pub async fn waits_behind(&self, m: &OutboxMessage) -> Result<bool, StoreError> {
        let earlier: Vec<Json<Recipient>> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT recipient FROM outbox WHERE ticket_id = $1 AND delivered_at_us IS NULL \
                 AND event_seq < $2",
            )
            .bind(m.ticket_id)
            .bind(m.event_seq as i64)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(earlier.iter().any(|Json(r)| *r == m.recipient))
    }

    /// Gives a claimed message back untried, due again at `at` (it waits behind another).
    pub async fn outbox_postpone(&self, id: Uuid, at: jiff::Timestamp) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "UPDATE outbox SET next_attempt_us = $2, claimed_by = NULL, lease_until_us = NULL \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(us(at))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
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

/// Which messages the admins' outbox view lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxState {
    /// Not delivered yet, still being tried.
    Pending,
    /// Parked after failing every attempt: waits for an admin's retry.
    Failed,
    Delivered,
}

/// One outbox message as the admins see it.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEntry {
    pub message: OutboxMessage,
    pub next_attempt: jiff::Timestamp,
    pub delivered_at: Option<jiff::Timestamp>,
    pub parked: bool,
    pub last_error: Option<String>,
}

/// One delivery attempt of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub attempt: u32,
    pub at: jiff::Timestamp,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// The columns of an [`OutboxMessage`], in [`outbox_message`]'s order.
const MESSAGE_COLUMNS: &str =
    "id, community_id, ticket_id, event_seq, event, recipient, attempts, created_at_us";

/// An [`OutboxMessage`] from a row that begins with [`MESSAGE_COLUMNS`], on either backend.
fn outbox_message<'r, R: Row>(r: &'r R) -> Result<OutboxMessage, sqlx::Error>
where
    usize: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    Json<Recipient>: Decode<'r, R::Database> + Type<R::Database>,
{
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
}

impl SqlStore {
    /// The admins' outbox view, newest first, optionally of one community.
    pub async fn outbox_entries(
        &self,
        state: OutboxState,
        community: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<OutboxEntry>, StoreError> {
        with_reader!(self, pool, {
            let mut q = sqlx::QueryBuilder::new(format!(
                "SELECT {MESSAGE_COLUMNS}, next_attempt_us, delivered_at_us, parked, last_error \
                 FROM outbox WHERE "
            ));
            q.push(match state {
                OutboxState::Pending => "delivered_at_us IS NULL AND NOT parked",
                OutboxState::Failed => "parked",
                OutboxState::Delivered => "delivered_at_us IS NOT NULL",
            });
            if let Some(c) = community {
                q.push(" AND community_id = ").push_bind(c);
            }
            q.push(" ORDER BY id DESC LIMIT ")
                .push_bind(i64::from(limit));
            let rows = q.build().fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<OutboxEntry, sqlx::Error> {
                    Ok(OutboxEntry {
                        message: outbox_message(r)?,
                        next_attempt: from_us(r.try_get(8)?),
                        delivered_at: r.try_get::<Option<i64>, _>(9)?.map(from_us),
                        parked: r.try_get(10)?,
                        last_error: r.try_get(11)?,
                    })
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// The delivery attempts of the messages `ids`, each message's in order.
    pub async fn delivery_attempts(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<(Uuid, DeliveryAttempt)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        with_reader!(self, pool, {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT outbox_id, attempt, at_us, status, error FROM delivery_attempts WHERE outbox_id IN (",
            );
            let mut list = q.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY outbox_id, attempt");
            let rows = q.build().fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<(Uuid, DeliveryAttempt), sqlx::Error> {
                    Ok((
                        r.try_get(0)?,
                        DeliveryAttempt {
                            attempt: r.try_get::<i32, _>(1)? as u32,
                            at: from_us(r.try_get(2)?),
                            status: r.try_get::<Option<i32>, _>(3)?.map(|s| s as u16),
                            error: r.try_get(4)?,
                        },
                    ))
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    pub async fn record_delivery_attempt(
        &self,
        id: Uuid,
        attempt: &DeliveryAttempt,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO delivery_attempts (outbox_id, attempt, at_us, status, error) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (outbox_id, attempt) DO NOTHING",
            )
            .bind(id)
            .bind(attempt.attempt as i32)
            .bind(us(attempt.at))
            .bind(attempt.status.map(i32::from))
            .bind(attempt.error.as_deref())
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }

    /// Puts a parked message back in line, due `now`: `Some(true)`; `Some(false)` if it is
    /// not parked; `None` if there is no such message.
    pub async fn retry_outbox(
        &self,
        id: Uuid,
        now: jiff::Timestamp,
    ) -> Result<Option<bool>, StoreError> {
        with_pool!(self, pool, {
            let r = sqlx::query(
                "UPDATE outbox SET parked = FALSE, next_attempt_us = $2 WHERE id = $1 AND parked",
            )
            .bind(id)
            .bind(us(now))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            if r.rows_affected() == 1 {
                return Ok(Some(true));
            }
            let exists: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_one(pool)
                .await
                .map_err(from_sqlx)?;
            Ok((exists > 0).then_some(false))
        })
    }

    /// The messages after `after` (outbox ids are UUIDv7: time-ordered) about tickets in
    /// `scope`, oldest first: what a caller's event stream reads.
    pub async fn outbox_after(
        &self,
        scope: &Scope,
        after: Uuid,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        with_reader!(self, pool, {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, community_id, ticket_id, event_seq, event, recipient, attempts, created_at_us \
                 FROM outbox WHERE id > ",
            );
            q.push_bind(after).push(
                " AND EXISTS (SELECT 1 FROM tickets WHERE tickets.id = outbox.ticket_id AND ",
            );
            crate::scope::push_scope(&mut q, scope);
            q.push(") ORDER BY id LIMIT ").push_bind(i64::from(limit));
            let rows = q.build().fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(outbox_message)
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }
}
