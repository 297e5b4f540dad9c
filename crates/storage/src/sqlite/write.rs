//! A decision's one text on SQLite: statements separated by `;`, which its driver prepares
//! and runs in order on the connection's thread (see docs/PERFORMANCE.md). A lone decision
//! begins and commits its own transaction in that text (`BEGIN IMMEDIATE; …; COMMIT`): one
//! hand-off to the connection's thread instead of three (begin, text, commit). A conflict
//! must then stop the text before its `COMMIT`: after the versioned update,
//! `INSERT INTO conflict_guard VALUES (changes())` (a view whose trigger raises on a 0 and
//! writes nothing otherwise, migration 0016) fails it, and what it began is rolled back.

use sqlx::{Sqlite, SqliteConnection, SqlitePool};
use workflow_core::Decision;
use workflow_core::store::StoreError;

use super::connection::OwnTransaction;
use crate::OutboxDelivery;
use crate::error::from_sqlx;
use crate::rows::{self, Statements};
use crate::tickets::{DecisionWriter, decision_error};

/// What `conflict_guard` raises when the statement before it changed no row.
const CONFLICT_GUARD: &str = "linli: version conflict";

/// A lone decision: one text from `BEGIN` to `COMMIT` on the writer connection. Whatever
/// stopped it, what it began is rolled back before the connection goes back to the pool.
pub(crate) async fn lone(
    pool: &SqlitePool,
    d: &Decision,
    delivery: &OutboxDelivery,
) -> Result<(), StoreError> {
    let mut own = OwnTransaction::new(pool.acquire().await.map_err(from_sqlx)?);
    let written = run(own.connection(), d, delivery, true).await;
    match written {
        Ok(()) => own.release(),
        Err(_) => own.recover().await,
    }
    written
}

impl DecisionWriter for SqliteConnection {
    async fn write_decision(
        &mut self,
        d: &Decision,
        delivery: &OutboxDelivery,
    ) -> Result<(), StoreError> {
        run(self, d, delivery, false).await?;
        crate::time_bank::write_movements::<Sqlite>(
            self,
            &d.time,
            d.ticket.updated_at,
            &Default::default(),
        )
        .await
    }
}

/// Runs the decision's text (`own`: it begins and commits its own transaction). No row
/// returned by the ticket's statement: the version moved.
async fn run(
    conn: &mut SqliteConnection,
    d: &Decision,
    delivery: &OutboxDelivery,
    own: bool,
) -> Result<(), StoreError> {
    let returned = text(d, delivery, own).build().fetch_all(&mut *conn).await;
    let returned = returned.map_err(|e| match &e {
        sqlx::Error::Database(db) if db.message() == CONFLICT_GUARD => {
            StoreError::Conflict { actual: None }
        }
        _ => decision_error(d, e),
    })?;
    if returned.is_empty() {
        return Err(StoreError::Conflict { actual: None });
    }
    Ok(())
}

/// The decision's statements: the ticket's insert or versioned update first, returning a
/// row if it changed the ticket (the driver returns the rows of every statement of the text,
/// and these are the only ones), then the columns the list indexes read where they changed,
/// then one statement per kind of row.
fn text<'a>(
    d: &'a Decision,
    delivery: &OutboxDelivery,
    own: bool,
) -> sqlx::QueryBuilder<'a, Sqlite> {
    let t = &d.ticket;
    let mut s = Statements::<Sqlite>::new(false);
    if own {
        s.builder().push("BEGIN IMMEDIATE; ");
    }
    let ticket = s.next("changed");
    if d.expected_version == 0 {
        rows::push_tickets(ticket, [t], "");
    } else {
        rows::push_ticket_update(ticket, t, d.expected_version, false);
    }
    ticket.push(" RETURNING 1");
    if d.expected_version != 0 {
        if own {
            s.next("guard")
                .push("INSERT INTO conflict_guard VALUES (changes())");
        }
        rows::push_indexed_columns(s.next("indexed"), [t]);
    }
    rows::push_decision_rows(&mut s, d, delivery, &super::DIALECT);
    if own {
        s.next("commit").push("COMMIT");
    }
    s.into_builder()
}
