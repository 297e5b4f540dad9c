//! Tickets and their events as read: one within a scope, a scope's list (a union of sets
//! read one by one), the wall, the plan of a list, an idempotency record, how many open
//! requests a workflow version has.

use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::access::Set;
use workflow_core::store::*;
use workflow_core::{Event, Ticket};

use crate::error::from_sqlx;
use crate::scope::{Home, home, push_home, push_list_conditions, push_partition, push_scope};
use crate::{SqlStore, event_rows, ticket_rows};

impl SqlStore {
    /// How many requests a person asked for themself since `since` (entered for them by
    /// someone else does not count), and when the first of those was asked.
    pub(crate) async fn count_asked_since(
        &self,
        requester: Uuid,
        since: jiff::Timestamp,
    ) -> Result<(u32, Option<jiff::Timestamp>), StoreError> {
        let (n, first): (i64, Option<i64>) = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(created_at_us) FROM tickets \
                 WHERE requester_id = $1 AND proxy_id IS NULL AND created_at_us >= $2",
            )
            .bind(requester)
            .bind(crate::us(since))
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)
        })?;
        Ok((
            u32::try_from(n).unwrap_or(u32::MAX),
            first.map(crate::from_us),
        ))
    }

    /// How many open requests run on this workflow version (what a migration looks at).
    pub async fn open_tickets_of(&self, workflow: &str, version: u32) -> Result<u64, StoreError> {
        let n: i64 = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM tickets WHERE workflow_id = $1 AND workflow_version = $2 AND NOT terminal",
            )
            .bind(workflow)
            .bind(i64::from(version))
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(n.max(0) as u64)
    }

    pub(crate) async fn load_ticket(
        &self,
        id: Uuid,
        scope: &Scope,
    ) -> Result<Option<Ticket>, StoreError> {
        // A person's scope names no community; their home's partition is read first.
        if let Some(home) = home(scope, self.dialect())
            && let Some(t) = self.load_ticket_within(id, scope, Some(home)).await?
        {
            return Ok(Some(t));
        }
        self.load_ticket_within(id, scope, None).await
    }

    /// The ticket, if `scope` sees it (and it is in `within`, when given).
    async fn load_ticket_within(
        &self,
        id: Uuid,
        scope: &Scope,
        within: Option<Home>,
    ) -> Result<Option<Ticket>, StoreError> {
        let dialect = self.dialect();
        let row: Option<ticket_rows::TicketRow> = with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(ticket_rows::COLUMNS)
                .push(" FROM tickets WHERE id = ")
                .push_bind(id)
                .push(" AND ");
            push_scope(&mut qb, scope);
            push_partition(&mut qb, scope, dialect);
            if let Some(home) = within {
                push_home(&mut qb, home);
            }
            qb.build_query_as()
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?
        });
        row.map(ticket_rows::ticket).transpose()
    }

    pub(crate) async fn load_events(&self, id: Uuid) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE ticket_id = $1 ORDER BY seq",
            event_rows::COLUMNS
        );
        let rows: Vec<event_rows::EventRow> = with_reader!(self, pool, {
            sqlx::query_as(&sql)
                .bind(id)
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        rows.into_iter().map(event_rows::event).collect()
    }

    /// One event of a ticket's history (what an outbox message announces).
    pub async fn event(&self, id: Uuid, seq: u64) -> Result<Option<Event>, StoreError> {
        let sql = format!(
            "SELECT {} FROM events WHERE ticket_id = $1 AND seq = $2",
            event_rows::COLUMNS
        );
        let row: Option<event_rows::EventRow> = with_reader!(self, pool, {
            sqlx::query_as(&sql)
                .bind(id)
                .bind(seq as i64)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?
        });
        row.map(event_rows::event).transpose()
    }

    /// A scope as the union of sets its list reads one by one, if it is one of several: a
    /// volunteer's; a street's, one set a community (read first: a street has a few).
    async fn list_sets(&self, scope: &Scope) -> Result<Option<Vec<Set>>, StoreError> {
        Ok(match scope {
            Scope::Assignee { .. } => Some(scope.sets()),
            Scope::Street(street) => {
                let communities: Vec<Uuid> = with_reader!(self, pool, {
                    sqlx::query_scalar(
                        "SELECT id FROM org_units WHERE kind = 'community' AND parent_id = $1 ORDER BY id",
                    )
                    .bind(*street)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?
                });
                Some(communities.into_iter().map(Set::Community).collect())
            }
            _ => None,
        })
    }

    pub(crate) async fn list_tickets(
        &self,
        scope: &Scope,
        f: &TicketFilter,
        page: Page,
    ) -> Result<Vec<Ticket>, StoreError> {
        let sets = self.list_sets(scope).await?;
        let dialect = self.dialect();
        let rows: Vec<ticket_rows::TicketRow> = with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(ticket_rows::COLUMNS).push(" FROM tickets WHERE ");
            push_list_conditions(&mut qb, scope, sets.as_deref(), f, page, dialect);
            qb.build_query_as()
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        rows.into_iter().map(ticket_rows::ticket).collect()
    }

    /// The micro-wish wall of a community: what stands in a `wall` state, newest first, with
    /// the partner unit of whoever claimed it (if a partner's contact did).
    pub async fn wall(
        &self,
        community: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<(Ticket, Option<String>)>, StoreError> {
        let rows: Vec<WallRow> = with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(ticket_rows::T_COLUMNS).push(
                ", u.name AS partner FROM tickets t LEFT JOIN people p ON p.id = t.assignee_person \
                 LEFT JOIN partner_units u ON u.id = p.partner_unit_id WHERE t.on_wall AND t.community_id = ",
            );
            qb.push_bind(community);
            if let Some(a) = after {
                qb.push(" AND t.id < ").push_bind(a);
            }
            qb.push(" ORDER BY t.id DESC LIMIT ")
                .push_bind(i64::from(limit));
            qb.build_query_as()
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        rows.into_iter()
            .map(|r| Ok((ticket_rows::ticket(r.ticket)?, r.partner)))
            .collect()
    }

    /// The database's plan for the list query of a scope and filter (PostgreSQL `EXPLAIN
    /// ANALYZE`, SQLite `EXPLAIN QUERY PLAN`): how operators check that every list is
    /// index-served.
    pub async fn explain_list(
        &self,
        scope: &Scope,
        f: &TicketFilter,
        page: Page,
    ) -> Result<String, StoreError> {
        // On PostgreSQL the query runs, and the plan says how many rows and pages each
        // step read: what shows a plan that reads a whole table to find a few rows.
        let dialect = self.dialect();
        let explain = dialect.explain_analyze;
        let sets = self.list_sets(scope).await?;
        with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new(explain);
            qb.push("SELECT ")
                .push(ticket_rows::COLUMNS)
                .push(" FROM tickets WHERE ");
            push_list_conditions(&mut qb, scope, sets.as_deref(), f, page, dialect);
            let rows = qb.build().fetch_all(pool).await.map_err(from_sqlx)?;
            dialect.plan_text(&rows).map_err(from_sqlx)
        })
    }

    pub(crate) async fn idempotency_record(
        &self,
        caller: Uuid,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        with_pool!(self, pool, {
            let row = sqlx::query(
                "SELECT request_hash, ticket_id, response FROM idempotency WHERE caller_id = $1 AND key = $2",
            )
            .bind(caller)
            .bind(key)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.map(|r| -> Result<IdempotencyRecord, sqlx::Error> {
                let response: Json<serde_json::Value> = r.try_get(2)?;
                Ok(IdempotencyRecord {
                    caller,
                    key: key.to_owned(),
                    request_hash: r.try_get(0)?,
                    ticket_id: r.try_get(1)?,
                    response: response.0.to_string(),
                })
            })
            .transpose()
            .map_err(from_sqlx)
        })
    }
}

/// A ticket on the wall, with the partner unit of whoever claimed it.
#[derive(sqlx::FromRow)]
struct WallRow {
    #[sqlx(flatten)]
    ticket: ticket_rows::TicketRow,
    partner: Option<String>,
}
