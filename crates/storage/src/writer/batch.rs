//! A batch written in one transaction whatever its size: read what the writes depend on
//! (locking it on PostgreSQL), decide which go in ([`plan`]), gather their rows ([`Rows`]),
//! write them all, commit. How the rows travel is each backend's own: multi-row statements
//! on SQLite ([`super::values`]), arrays on PostgreSQL ([`super::arrays`]).
//!
//! On PostgreSQL, where each of those steps is a round trip to the server, a batch is first
//! sent as one autocommitted statement planned on what its writes expect to find, which
//! refuses itself whole if the database disagrees; only then is it read and written as above.

use std::sync::Arc;

use jiff::Timestamp;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, Postgres};
use uuid::Uuid;
use workflow_core::event::Credit;
use workflow_core::store::{IdempotencyRecord, StoreError};
use workflow_core::{Decision, Event, Notification, Ticket, Timer};

use super::plan::{Found, Outcome, Write, plan};
use super::{arrays, values};
use crate::error::from_sqlx;
use crate::tickets::{announced_timer, net_timer_changes};
use crate::{Backend, OutboxDelivery, SqlStore};

/// The batch's rows, gathered from the writes that go in.
#[derive(Default)]
pub(super) struct Rows<'a> {
    pub tickets: Vec<&'a Decision>,
    /// (event, its ticket's community)
    pub events: Vec<(&'a Event, Uuid)>,
    /// (ticket, key): never a key that `timers_set` also names (see [`Rows::of`]).
    pub timers_deleted: Vec<(Uuid, String)>,
    /// (timer, its ticket, the ticket's community)
    pub timers_set: Vec<(&'a Timer, Uuid, Uuid)>,
    pub outbox: Vec<(&'a Notification, &'a Decision)>,
    pub credits: Vec<(&'a Event, Credit, &'a Ticket)>,
    /// (ticket, person)
    pub co_handlers: Vec<(Uuid, Uuid)>,
    pub idempotency: Vec<(&'a IdempotencyRecord, &'a Decision)>,
    /// Whose messages wait for delivery.
    pub delivery: Arc<OutboxDelivery>,
    /// The earliest timer set that the workers must be told of.
    announced_timer: Option<Timestamp>,
}

impl<'a> Rows<'a> {
    /// The rows of the writes planned to go in.
    fn of(writes: &[&'a Write], outcomes: &[Outcome], delivery: Arc<OutboxDelivery>) -> Rows<'a> {
        let mut rows = Rows {
            delivery,
            ..Rows::default()
        };
        for (w, outcome) in writes.iter().zip(outcomes) {
            if *outcome == Outcome::Write {
                rows.add(w);
            }
        }
        // A key fired (or cancelled) and set again by the same write ends set: its upsert
        // alone says so, and no statement then touches one timer row twice.
        let set: std::collections::HashSet<(Uuid, String)> = rows
            .timers_set
            .iter()
            .map(|(timer, ticket, _)| (*ticket, timer.key.to_string()))
            .collect();
        rows.timers_deleted.retain(|k| !set.contains(k));
        // Ticket rows are locked as they are written: in id order, so that two batches that
        // share tickets (another node's, or a neighbour writer's) never wait on each other in
        // a cycle.
        rows.tickets.sort_by_key(|d| d.ticket.id);
        rows
    }

    /// What the workers must be told (PostgreSQL), as (the earliest timer set, if any,
    /// whether messages were written).
    pub fn announces(&self) -> (Option<Timestamp>, bool) {
        (self.announced_timer, !self.outbox.is_empty())
    }

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
        self.announced_timer = self
            .announced_timer
            .into_iter()
            .chain(announced_timer(d, &set))
            .min();
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
