//! A batch on SQLite: each table's rows as one multi-row `VALUES` statement (SQLite has no
//! arrays to bind; parsing a statement is cheap in-process), made by the same functions as a
//! lone decision's ([`crate::rows`]). The one writer connection owns every write, so the
//! reads need no lock.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};
use uuid::Uuid;

use crate::error::from_sqlx;
use crate::writer::plan::{Found, StoredTimer, TimerRow, Write};
use crate::writer::rows::Rows;
use crate::{rows, us};
use workflow_core::store::StoreError;

/// Rows per multi-row statement: far below SQLite's limit on bound parameters (32,766) at
/// the widest row (20 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// What the writes depend on, as stored.
pub(crate) async fn found(
    tx: &mut SqliteConnection,
    writes: &[&Write],
) -> Result<Found, StoreError> {
    let mut found = Found::default();
    let mut q = QueryBuilder::<Sqlite>::new("SELECT id, version FROM tickets WHERE id IN (");
    let mut list = q.separated(", ");
    for w in writes {
        list.push_bind(w.ticket_id());
    }
    q.push(")");
    let versions: Vec<(Uuid, i64)> = q
        .build_query_as()
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
    found.versions = versions.into_iter().map(|(id, v)| (id, v as u64)).collect();

    let fired: Vec<TimerRow> = writes.iter().filter_map(|w| w.fired()).collect();
    if !fired.is_empty() {
        let mut q = QueryBuilder::<Sqlite>::new(
            "SELECT ticket_id, key, claimed_by, epoch, due_at_us FROM timers WHERE ",
        );
        for (i, t) in fired.iter().enumerate() {
            q.push(if i == 0 { "(" } else { " OR (" })
                .push("ticket_id = ")
                .push_bind(t.ticket_id)
                .push(" AND key = ")
                .push_bind(t.key.clone())
                .push(")");
        }
        let rows: Vec<StoredTimer> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        found.timers = rows.into_iter().map(TimerRow::from).collect();
    }

    let keyed: Vec<_> = writes.iter().filter_map(|w| w.idempotency()).collect();
    if !keyed.is_empty() {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT caller_id, key FROM idempotency WHERE ");
        for (i, rec) in keyed.iter().enumerate() {
            q.push(if i == 0 { "(" } else { " OR (" })
                .push("caller_id = ")
                .push_bind(rec.caller)
                .push(" AND key = ")
                .push_bind(rec.key.clone())
                .push(")");
        }
        let keys: Vec<(Uuid, String)> = q
            .build_query_as()
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        found.idempotency = keys.into_iter().collect();
    }
    Ok(found)
}

/// Every row of the batch, one statement per table (and per `ROWS_PER_STATEMENT`).
pub(crate) async fn write(tx: &mut SqliteConnection, rows: &Rows<'_>) -> Result<(), StoreError> {
    for chunk in rows.tickets.chunks(ROWS_PER_STATEMENT) {
        // New tickets are inserted, existing ones updated: the versions were checked. The
        // columns the indexes depend on change only where they differ
        // ([`rows::push_indexed_columns`]).
        execute(tx, |q| {
            rows::push_tickets(
                q,
                chunk.iter().map(|d| &d.ticket),
                " ON CONFLICT (id) DO UPDATE SET state = excluded.state, workflow_version = excluded.workflow_version, \
                 urgency = excluded.urgency, version = excluded.version, \
                 updated_at_us = excluded.updated_at_us, body = excluded.body",
            )
        })
        .await?;
        let updated: Vec<_> = chunk
            .iter()
            .filter(|d| d.expected_version != 0)
            .map(|d| &d.ticket)
            .collect();
        if !updated.is_empty() {
            execute(tx, |q| {
                rows::push_indexed_columns(q, updated.iter().copied())
            })
            .await?;
        }
    }
    for chunk in rows.events.chunks(ROWS_PER_STATEMENT) {
        execute(tx, |q| rows::push_events(q, chunk.iter().copied())).await?;
    }
    for chunk in rows.timers_deleted.chunks(ROWS_PER_STATEMENT) {
        execute(tx, |q| {
            rows::push_timer_deletes(q, chunk.iter().cloned(), None)
        })
        .await?;
    }
    for chunk in rows.timers_set.chunks(ROWS_PER_STATEMENT) {
        let key = super::DIALECT.timers_key;
        execute(tx, |q| {
            rows::push_timer_upserts(q, chunk.iter().copied(), key)
        })
        .await?;
    }
    for chunk in rows.outbox.chunks(ROWS_PER_STATEMENT) {
        let messages = chunk.iter().map(|(n, d)| (*n, &d.ticket));
        execute(tx, |q| rows::push_outbox(q, messages, &rows.delivery)).await?;
    }
    for chunk in rows.credits.chunks(ROWS_PER_STATEMENT) {
        execute(tx, |q| rows::push_credits(q, chunk.iter().copied())).await?;
    }
    for chunk in rows.co_handlers.chunks(ROWS_PER_STATEMENT) {
        execute(tx, |q| rows::push_co_handlers(q, chunk.iter().copied())).await?;
    }
    for chunk in rows.idempotency.chunks(ROWS_PER_STATEMENT) {
        let mut q = QueryBuilder::<Sqlite>::new(
            "INSERT INTO idempotency (caller_id, key, request_hash, ticket_id, response, created_at_us) ",
        );
        q.push_values(chunk, |mut row, (rec, d)| {
            let response =
                serde_json::from_str::<serde_json::Value>(&rec.response).unwrap_or_default();
            row.push_bind(rec.caller)
                .push_bind(rec.key.clone())
                .push_bind(rec.request_hash.clone())
                .push_bind(rec.ticket_id)
                .push_bind(Json(response))
                .push_bind(us(d.ticket.updated_at));
        });
        q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
    }
    Ok(())
}

/// Builds one statement with `push` and runs it.
async fn execute<'a>(
    tx: &mut SqliteConnection,
    push: impl FnOnce(&mut QueryBuilder<'a, Sqlite>),
) -> Result<(), StoreError> {
    let mut q = QueryBuilder::new("");
    push(&mut q);
    q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
    Ok(())
}
