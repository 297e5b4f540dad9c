//! A batch written as a handful of multi-row statements, whatever its size: read what the
//! writes depend on (locking it on PostgreSQL), decide which go in ([`plan`]), then one
//! statement per table for all of them, and one commit.

use sqlx::types::Json;
use sqlx::{QueryBuilder, Row};
use uuid::Uuid;
use workflow_core::event::Credit;
use workflow_core::store::StoreError;
use workflow_core::{Decision, Event, Notification, Ticket, Timer};

use super::plan::{Found, Outcome, TimerRow, Write, plan};
use crate::error::from_sqlx;
use crate::tickets::net_timer_changes;
use crate::{SqlStore, us};

/// Rows per multi-row statement: far below both backends' limits on bound parameters
/// (PostgreSQL 65,535; SQLite 32,766) at the widest row (19 columns).
const ROWS_PER_STATEMENT: usize = 500;

/// The batch's rows, gathered from the writes that go in.
#[derive(Default)]
struct Rows<'a> {
    tickets: Vec<&'a Decision>,
    events: Vec<(&'a Event, Uuid)>,
    timers_deleted: Vec<(Uuid, String)>,
    timers_set: Vec<(&'a Timer, Uuid, Uuid)>,
    outbox: Vec<(&'a Notification, &'a Decision)>,
    credits: Vec<(&'a Event, Credit, &'a Ticket)>,
    co_handlers: Vec<(Uuid, Uuid)>,
    idempotency: Vec<(&'a workflow_core::store::IdempotencyRecord, &'a Decision)>,
}

impl<'a> Rows<'a> {
    fn add(&mut self, w: &'a Write) {
        if let Write::Fire(timer, _) = w {
            self.timers_deleted
                .push((timer.ticket_id, timer.key.to_string()));
        }
        let Some(d) = w.decision() else { return };
        let t = &d.ticket;
        self.tickets.push(d);
        self.events
            .extend(d.events.iter().map(|e| (e, t.community_id)));
        self.credits.extend(crate::tickets::credits(d));
        self.co_handlers.extend(crate::tickets::co_handlers(d));
        let (cancelled, set) = net_timer_changes(d);
        self.timers_deleted
            .extend(cancelled.into_iter().map(|k| (t.id, k)));
        self.timers_set
            .extend(set.into_iter().map(|timer| (timer, t.id, t.community_id)));
        self.outbox.extend(d.notifications.iter().map(|n| (n, d)));
        if let Some(rec) = w.idempotency() {
            self.idempotency.push((rec, d));
        }
    }
}

impl SqlStore {
    /// Writes `writes` in one transaction. `Outcome::Alone` entries are left for the caller
    /// to write one by one after this commits. An `Err` means nothing was written.
    pub(crate) async fn write_batch(&self, writes: &[&Write]) -> Result<Vec<Outcome>, StoreError> {
        let postgres = self.is_postgres();
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let mut found = Found::default();

            // Tickets in id order, so that two nodes' batches lock them in the same order.
            let mut ids: Vec<Uuid> = writes.iter().map(|w| w.ticket_id()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut q = QueryBuilder::new("SELECT id, version FROM tickets WHERE id IN (");
            let mut list = q.separated(", ");
            for id in &ids {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            if postgres {
                q.push(" FOR UPDATE");
            }
            for row in q.build().fetch_all(&mut *tx).await.map_err(from_sqlx)? {
                let id: Uuid = row.try_get(0).map_err(from_sqlx)?;
                let version: i64 = row.try_get(1).map_err(from_sqlx)?;
                found.versions.insert(id, version as u64);
            }

            let fired: Vec<TimerRow> = writes
                .iter()
                .filter_map(|w| match w {
                    Write::Fire(t, _) => Some(TimerRow::claimed(t)),
                    Write::Apply(..) | Write::Linked(_) => None,
                })
                .collect();
            if !fired.is_empty() {
                let mut q = QueryBuilder::new(
                    "SELECT ticket_id, key, claimed_by, epoch, due_at_us FROM timers WHERE ",
                );
                for (i, t) in fired.iter().enumerate() {
                    q.push(if i == 0 {
                        "(ticket_id = "
                    } else {
                        " OR (ticket_id = "
                    })
                    .push_bind(t.ticket_id)
                    .push(" AND key = ")
                    .push_bind(t.key.clone())
                    .push(")");
                }
                if postgres {
                    q.push(" FOR UPDATE");
                }
                for row in q.build().fetch_all(&mut *tx).await.map_err(from_sqlx)? {
                    found.timers.insert(TimerRow {
                        ticket_id: row.try_get(0).map_err(from_sqlx)?,
                        key: row.try_get(1).map_err(from_sqlx)?,
                        owner: row.try_get(2).map_err(from_sqlx)?,
                        epoch: row.try_get::<i64, _>(3).map_err(from_sqlx)? as u64,
                        due_at_us: row.try_get(4).map_err(from_sqlx)?,
                    });
                }
            }

            let keyed: Vec<_> = writes.iter().filter_map(|w| w.idempotency()).collect();
            if !keyed.is_empty() {
                let mut q = QueryBuilder::new("SELECT caller_id, key FROM idempotency WHERE ");
                for (i, rec) in keyed.iter().enumerate() {
                    q.push(if i == 0 {
                        "(caller_id = "
                    } else {
                        " OR (caller_id = "
                    })
                    .push_bind(rec.caller)
                    .push(" AND key = ")
                    .push_bind(rec.key.clone())
                    .push(")");
                }
                for row in q.build().fetch_all(&mut *tx).await.map_err(from_sqlx)? {
                    found.idempotency.insert((
                        row.try_get(0).map_err(from_sqlx)?,
                        row.try_get(1).map_err(from_sqlx)?,
                    ));
                }
            }

            let outcomes = plan(writes, &found);
            let mut rows = Rows::default();
            for (w, outcome) in writes.iter().zip(&outcomes) {
                if *outcome == Outcome::Write {
                    rows.add(w);
                }
            }

            for chunk in rows.tickets.chunks(ROWS_PER_STATEMENT) {
                // New tickets are inserted, existing ones updated: the versions were checked
                // above, under lock.
                execute!(
                    tx,
                    push_tickets!(
                    chunk.iter().map(|d| &d.ticket),
                     " ON CONFLICT (id) DO UPDATE SET state = excluded.state, workflow_version = excluded.workflow_version, \
                     urgency = excluded.urgency, \
                     assignee_person = excluded.assignee_person, assignee_team = excluded.assignee_team, \
                     version = excluded.version, terminal = excluded.terminal, breached = excluded.breached, \
                     updated_at_us = excluded.updated_at_us, body = excluded.body, on_wall = excluded.on_wall, \
                     follow_up_due = excluded.follow_up_due"
                ))
                .map_err(from_sqlx)?;
            }
            for chunk in rows.events.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_events!(chunk.iter().copied())).map_err(from_sqlx)?;
            }
            // Deletes before upserts: a key a write cancels or fires and sets again ends set.
            for chunk in rows.timers_deleted.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_timer_deletes!(chunk.iter().cloned())).map_err(from_sqlx)?;
            }
            for chunk in rows.timers_set.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_timer_upserts!(chunk.iter().copied())).map_err(from_sqlx)?;
            }
            for chunk in rows.outbox.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_outbox!(chunk.iter().map(|(n, d)| (*n, &d.ticket))))
                    .map_err(from_sqlx)?;
            }
            for chunk in rows.credits.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_credits!(chunk.iter().copied())).map_err(from_sqlx)?;
            }
            for chunk in rows.co_handlers.chunks(ROWS_PER_STATEMENT) {
                execute!(tx, push_co_handlers!(chunk.iter().copied())).map_err(from_sqlx)?;
            }

            if !rows.idempotency.is_empty() {
                let mut q = QueryBuilder::new(
                    "INSERT INTO idempotency (caller_id, key, request_hash, ticket_id, response, created_at_us) ",
                );
                q.push_values(&rows.idempotency, |mut row, (rec, d)| {
                    let response = serde_json::from_str::<serde_json::Value>(&rec.response)
                        .unwrap_or_default();
                    row.push_bind(rec.caller)
                        .push_bind(rec.key.clone())
                        .push_bind(rec.request_hash.clone())
                        .push_bind(rec.ticket_id)
                        .push_bind(Json(response))
                        .push_bind(us(d.ticket.updated_at));
                });
                q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            }

            let (timers, messages) = (!rows.timers_set.is_empty(), !rows.outbox.is_empty());
            if postgres && (timers || messages) {
                sqlx::query(crate::worker::announce_sql(timers, messages))
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(outcomes)
        })
    }
}
