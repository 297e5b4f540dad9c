//! Durable timers: due times in the database, claimed with a lease so that each fires once
//! even with several nodes, and a dead node's claims pass to another when the lease ends.

use sqlx::Row;
use uuid::Uuid;
use workflow_core::TimerKey;
use workflow_core::store::*;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// Claims due timers, and timers whose claim's lease ran out (a node that died holding them),
/// of every community or (`$5` not null) of one; `{lock}` is the backend's
/// [`crate::dialect::Dialect::claim_lock`]. The rows are named with their community, and
/// one community's claim names it twice: where the table is partitioned by community, the
/// update then touches the one partition the timers are in.
fn claim_sql(lock: &str, one_community: bool) -> String {
    let within = if one_community {
        "community_id = $5 AND "
    } else {
        ""
    };
    format!(
        "UPDATE timers SET claimed_by = $1, lease_until_us = $2 \
         WHERE {within}(ticket_id, key, community_id) IN (SELECT ticket_id, key, community_id FROM timers \
             WHERE {within}((claimed_by IS NULL AND due_at_us <= $3) OR (claimed_by IS NOT NULL AND lease_until_us <= $3)) \
             ORDER BY due_at_us LIMIT $4{lock}) \
         RETURNING ticket_id, key, due_at_us, epoch, community_id"
    )
}

impl SqlStore {
    /// The earliest instant a timer becomes claimable, of every community or of one.
    pub(crate) async fn next_timer_due(
        &self,
        community: Option<Uuid>,
    ) -> Result<Option<jiff::Timestamp>, StoreError> {
        // Two index-served minimums: free timers by due time, claimed ones by lease end.
        let within = if community.is_some() {
            " AND community_id = $1"
        } else {
            ""
        };
        let due_sql = format!("SELECT MIN(due_at_us) FROM timers WHERE claimed_by IS NULL{within}");
        let lease_sql =
            format!("SELECT MIN(lease_until_us) FROM timers WHERE claimed_by IS NOT NULL{within}");
        // A read: on SQLite, from the readers, never queued behind the writer's commits.
        with_reader!(self, pool, {
            let mut due = sqlx::query_scalar::<_, Option<i64>>(&due_sql);
            let mut lease = sqlx::query_scalar::<_, Option<i64>>(&lease_sql);
            if let Some(c) = community {
                due = due.bind(c);
                lease = lease.bind(c);
            }
            let due = due.fetch_one(pool).await.map_err(from_sqlx)?;
            let lease = lease.fetch_one(pool).await.map_err(from_sqlx)?;
            Ok(match (due, lease) {
                (Some(a), Some(b)) => Some(from_us(a.min(b))),
                (a, b) => a.or(b).map(from_us),
            })
        })
    }

    pub(crate) async fn claim_due_timers(
        &self,
        community: Option<Uuid>,
        now: jiff::Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        let sql = claim_sql(self.dialect().claim_lock, community.is_some());
        let rows = with_pool!(self, pool, {
            let mut query = sqlx::query(&sql)
                .bind(owner)
                .bind(us(lease_until))
                .bind(us(now))
                .bind(i64::from(limit));
            if let Some(c) = community {
                query = query.bind(c);
            }
            let rows = query.fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<(Uuid, String, i64, i64, Uuid), sqlx::Error> {
                    Ok((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(from_sqlx)?
        });
        let mut claimed: Vec<ClaimedTimer> = rows
            .into_iter()
            .filter_map(|(ticket_id, key, due, epoch, community_id)| {
                Some(ClaimedTimer {
                    ticket_id,
                    community_id,
                    key: TimerKey::parse(&key)?,
                    due_at: from_us(due),
                    epoch: epoch as u64,
                    owner,
                })
            })
            .collect();
        claimed.sort_by_key(|t| t.due_at);
        Ok(claimed)
    }

    pub(crate) async fn release_timer_claims(&self, owner: Uuid) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "UPDATE timers SET claimed_by = NULL, lease_until_us = NULL WHERE claimed_by = $1",
            )
            .bind(owner)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }
}
