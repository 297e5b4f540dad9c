//! A decision as one PostgreSQL statement: each kind of row a data-modifying `WITH` part,
//! and a tail that counts the ticket rows changed. No row changed (the version moved): the
//! tail divides by zero and the statement fails as a whole, so none of its parts is written,
//! in a transaction or without one. A lone decision is then one autocommitted statement: one
//! round trip instead of three (begin, statement, commit), and a conflict still writes
//! nothing. Nothing else in a decision's statement divides.

use sqlx::{PgConnection, PgPool, Postgres};
use workflow_core::Decision;
use workflow_core::store::StoreError;

use crate::OutboxDelivery;
use crate::error::from_sqlx;
use crate::rows::{self, Statements};
use crate::tickets::{DecisionWriter, decision_error};

/// PostgreSQL's `division_by_zero`: what the statement raises when its ticket's versioned
/// update changed no row (`1 / (SELECT count(*) FROM changed)`).
const CONFLICT_GUARD: &str = "22012";

/// A lone decision: its statement on a connection of its own, autocommitted.
pub(crate) async fn lone(
    pool: &PgPool,
    d: &Decision,
    delivery: &OutboxDelivery,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await.map_err(from_sqlx)?;
    conn.write_decision(d, delivery).await
}

impl DecisionWriter for PgConnection {
    async fn write_decision(
        &mut self,
        d: &Decision,
        delivery: &OutboxDelivery,
    ) -> Result<(), StoreError> {
        statement(d, delivery)
            .build()
            .execute(&mut *self)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db) if db.code().as_deref() == Some(CONFLICT_GUARD) => {
                    StoreError::Conflict { actual: None }
                }
                _ => decision_error(d, e),
            })?;
        crate::time_bank::write_movements::<Postgres>(
            self,
            &d.time,
            d.ticket.updated_at,
            &Default::default(),
        )
        .await
    }
}

/// The decision's statement. Its tail also tells the other nodes (`pg_notify`, delivered
/// when the transaction commits, never if it rolls back) that a timer due soon was set, and
/// when it is due, or that messages were written.
fn statement<'a>(d: &'a Decision, delivery: &OutboxDelivery) -> sqlx::QueryBuilder<'a, Postgres> {
    let t = &d.ticket;
    let mut s = Statements::<Postgres>::new(true);
    let ticket = s.next("changed");
    if d.expected_version == 0 {
        rows::push_tickets(ticket, [t], "");
    } else {
        // PostgreSQL compares the values: an index whose columns kept theirs is left alone
        // (a HOT update), so they travel in the one statement.
        rows::push_ticket_update(ticket, t, d.expected_version, true);
    }
    ticket.push(" RETURNING 1");
    let earliest = rows::push_decision_rows(&mut s, d, delivery, &super::DIALECT);
    let q = s.builder();
    q.push(") SELECT 1 / (SELECT count(*) FROM changed)");
    if let Some(due) = earliest {
        q.push(", pg_notify('linli_timers', ")
            .push_bind(crate::announce::timer_announcement(due))
            .push(")");
    }
    if !d.notifications.is_empty() {
        q.push(", pg_notify('linli_outbox', '')");
    }
    s.into_builder()
}
