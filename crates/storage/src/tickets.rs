//! Tickets and their events: applying decisions atomically, reading within a scope.

use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::access::Set;
use workflow_core::store::*;
use workflow_core::{Assignee, Decision, Event, Ticket, Timer, TimerChange, TimerKey, Workflow};

use crate::error::{from_sqlx, is_unique_violation};
use crate::scope::{push_list_conditions, push_scope};
use crate::sqlite_connection::OwnTransaction;
use crate::{SqlStore, event_rows, ticket_rows, us};

/// The row-writing statements both write paths share (one decision at a time in
/// `write_decision!`, a batch in `writer::batch`): each `push_*` appends one multi-row
/// statement over `$rows` to the query builder `$q`, to be run alone ([`execute!`]) or, on
/// SQLite, together with its neighbours. `$q` is a `&mut QueryBuilder`.
///
/// `$rows`: the tickets; `$tail` follows the values (a batch upserts, a submission inserts).
macro_rules! push_tickets {
    ($q:expr, $rows:expr, $tail:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push(
            "INSERT INTO tickets (id, community_id, branch_id, building_id, workflow_id, workflow_version, \
             category, urgency, state, requester_id, assignee_person, assignee_team, version, terminal, \
             breached, created_at_us, updated_at_us, body, on_wall, follow_up_due, proxy_id) ",
        );
        q.push_values($rows, |mut row, t: &workflow_core::Ticket| {
            let (person, team) = crate::tickets::holder(t);
            row.push_bind(t.id)
                .push_bind(t.community_id)
                .push_bind(t.branch_id)
                .push_bind(t.building_id)
                .push_bind(t.workflow_id.clone())
                .push_bind(t.workflow_version as i64)
                .push_bind(t.category.clone())
                .push_bind(t.urgency.as_str())
                .push_bind(t.state.clone())
                .push_bind(t.requester)
                .push_bind(person)
                .push_bind(team)
                .push_bind(t.version as i64)
                .push_bind(t.terminal)
                .push_bind(t.clocks.iter().any(|c| c.breached))
                .push_bind(crate::us(t.created_at))
                .push_bind(crate::us(t.updated_at))
                .push_bind(crate::ticket_rows::body(t))
                .push_bind(t.on_wall)
                .push_bind(t.follow_up_due())
                .push_bind(t.proxy);
        });
        q.push($tail);
    }};
}

/// `$rows`: (event, the ticket's community).
macro_rules! push_events {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push(
            "INSERT INTO events (ticket_id, seq, community_id, at_us, actor_id, actor_role, kind, body, on_record) ",
        );
        q.push_values($rows, |mut row, (e, community): (&workflow_core::Event, Uuid)| {
            row.push_bind(e.ticket_id)
                .push_bind(e.seq as i64)
                .push_bind(community)
                .push_bind(crate::us(e.at))
                .push_bind(e.actor.id)
                .push_bind(e.actor.role.as_str())
                .push_bind(e.kind.name())
                .push_bind(crate::event_rows::body(e))
                .push_bind(e.is_on_record());
        });
    }};
}

/// `$rows`: (ticket id, timer key) of the timers to delete.
macro_rules! push_timer_deletes {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push("DELETE FROM timers WHERE ");
        for (i, (ticket, key)) in $rows.into_iter().enumerate() {
            q.push(if i == 0 {
                "(ticket_id = "
            } else {
                " OR (ticket_id = "
            })
            .push_bind(ticket)
            .push(" AND key = ")
            .push_bind(key)
            .push(")");
        }
    }};
}

/// `$rows`: (timer, ticket id, community): set, or replaced with a fresh claim.
macro_rules! push_timer_upserts {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push(
            "INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch, claimed_by, lease_until_us) ",
        );
        q.push_values($rows, |mut row, (timer, ticket, community): (&workflow_core::Timer, Uuid, Uuid)| {
            row.push_bind(ticket)
                .push_bind(timer.key.to_string())
                .push_bind(community)
                .push_bind(crate::us(timer.due_at))
                .push_bind(timer.epoch as i64)
                .push("NULL")
                .push("NULL");
        });
        q.push(
            " ON CONFLICT (ticket_id, key) DO UPDATE SET due_at_us = excluded.due_at_us, \
             epoch = excluded.epoch, claimed_by = NULL, lease_until_us = NULL",
        );
    }};
}

/// `$rows`: (notification, its ticket); due at once, never attempted.
macro_rules! push_outbox {
    ($q:expr, $rows:expr, $delivery:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        let delivery: &crate::OutboxDelivery = $delivery;
        q.push(
            "INSERT INTO outbox (id, community_id, ticket_id, event_seq, event, recipient, attempts, \
             next_attempt_us, created_at_us, delivered_at_us) ",
        );
        q.push_values($rows, |mut row, (n, t): (&workflow_core::Notification, &workflow_core::Ticket)| {
            let at = crate::us(t.updated_at);
            row.push_bind(Uuid::now_v7())
                .push_bind(t.community_id)
                .push_bind(t.id)
                .push_bind(n.event_seq as i64)
                .push_bind(n.event.as_str())
                .push_bind(sqlx::types::Json(n.recipient))
                .push_bind(0i32)
                .push_bind(at)
                .push_bind(at)
                .push_bind(delivery.delivered_at_us(t.community_id, at));
        });
    }};
}

/// `$rows`: (event, its ticket) for events that carry a credit: the ledger's entries.
macro_rules! push_credits {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push(
            "INSERT INTO ledger (id, community_id, branch_id, person_id, ticket_id, event_seq, \
             category, minutes, points, at_us) ",
        );
        q.push_values(
            $rows,
            |mut row,
             (e, c, t): (
                &workflow_core::Event,
                workflow_core::event::Credit,
                &workflow_core::Ticket,
            )| {
                row.push_bind(Uuid::now_v7())
                    .push_bind(t.community_id)
                    .push_bind(t.branch_id)
                    .push_bind(c.person)
                    .push_bind(t.id)
                    .push_bind(e.seq as i64)
                    .push_bind(t.category.clone())
                    .push_bind(c.minutes as i32)
                    .push_bind(c.points)
                    .push_bind(crate::us(e.at));
            },
        );
    }};
}

/// `$rows`: (ticket, person) for co-handlers added (协办): who else sees the request.
macro_rules! push_co_handlers {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push("INSERT INTO co_handlers (ticket_id, person_id) ");
        q.push_values($rows, |mut row, (t, p): (Uuid, Uuid)| {
            row.push_bind(t).push_bind(p);
        });
        q.push(" ON CONFLICT (ticket_id, person_id) DO NOTHING");
    }};
}

/// Runs one `push_*` statement on its own: `execute!(tx, push_events!(rows))`.
macro_rules! execute {
    ($tx:expr, $push:ident ! ($($args:tt)*)) => {{
        let mut q = sqlx::QueryBuilder::new("");
        $push!(&mut q, $($args)*);
        q.build().execute(&mut *$tx).await
    }};
}

/// The co-handlers a decision adds, as (ticket, person).
pub(crate) fn co_handlers(d: &Decision) -> impl Iterator<Item = (Uuid, Uuid)> + '_ {
    d.events.iter().filter_map(|e| match e.kind {
        workflow_core::EventKind::CoHandlerAdded { person, .. } => Some((e.ticket_id, person)),
        _ => None,
    })
}

/// The credits among a decision's events, with the event and the ticket.
pub(crate) fn credits(
    d: &Decision,
) -> impl Iterator<
    Item = (
        &workflow_core::Event,
        workflow_core::event::Credit,
        &workflow_core::Ticket,
    ),
> {
    d.events.iter().filter_map(move |e| match &e.kind {
        workflow_core::EventKind::Transitioned {
            credit: Some(c), ..
        } => Some((e, *c, &d.ticket)),
        _ => None,
    })
}

/// `$t`'s row moved from version `$expected` to its new one (nothing if the version moved).
macro_rules! push_ticket_update {
    ($q:expr, $t:expr, $expected:expr, $postgres:expr) => {{
        let (q, t): (&mut sqlx::QueryBuilder<_>, &Ticket) = ($q, $t);
        q.push("UPDATE tickets SET state = ")
            .push_bind(t.state.clone())
            .push(", workflow_version = ")
            .push_bind(i64::from(t.workflow_version))
            .push(", urgency = ")
            .push_bind(t.urgency.as_str())
            .push(", version = ")
            .push_bind(t.version as i64)
            .push(", updated_at_us = ")
            .push_bind(us(t.updated_at))
            .push(", body = ")
            .push_bind(crate::ticket_rows::body(t));
        if $postgres {
            // PostgreSQL compares the values: an index whose columns kept theirs is left
            // alone (a HOT update), so they travel in the one statement.
            let (person, team) = holder(t);
            q.push(", assignee_person = ")
                .push_bind(person)
                .push(", assignee_team = ")
                .push_bind(team)
                .push(", terminal = ")
                .push_bind(t.terminal)
                .push(", breached = ")
                .push_bind(t.clocks.iter().any(|c| c.breached))
                .push(", on_wall = ")
                .push_bind(t.on_wall)
                .push(", follow_up_due = ")
                .push_bind(t.follow_up_due());
        }
        q.push(" WHERE id = ")
            .push_bind(t.id)
            .push(" AND version = ")
            .push_bind($expected as i64);
    }};
}

/// The ticket columns the list indexes depend on (who holds it, whether it is open,
/// breached, on the wall, due a follow-up call), set on SQLite by a statement of their own
/// that changes the row only where one of them changed. SQLite rewrites the entries of every
/// index a column of the `SET` list is in, changed or not: an open ticket's update dirtied
/// four pages instead of one, each a page of write-ahead log at every commit.
pub(crate) const INDEXED_COLUMNS: [&str; 6] = [
    "assignee_person",
    "assignee_team",
    "terminal",
    "breached",
    "on_wall",
    "follow_up_due",
];

/// `$rows`: tickets whose [`INDEXED_COLUMNS`] are set to theirs where they differ (SQLite).
macro_rules! push_indexed_columns {
    ($q:expr, $rows:expr) => {{
        let q: &mut sqlx::QueryBuilder<_> = $q;
        q.push("UPDATE tickets SET ");
        for (i, column) in crate::tickets::INDEXED_COLUMNS.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " })
                .push(format_args!("{column} = v.column{}", i + 2));
        }
        q.push(" FROM (");
        // The id, then the values in the order of INDEXED_COLUMNS (`column2` onwards).
        q.push_values($rows, |mut row, t: &workflow_core::Ticket| {
            let (person, team) = crate::tickets::holder(t);
            row.push_bind(t.id)
                .push_bind(person)
                .push_bind(team)
                .push_bind(t.terminal)
                .push_bind(t.clocks.iter().any(|c| c.breached))
                .push_bind(t.on_wall)
                .push_bind(t.follow_up_due());
        });
        q.push(") AS v WHERE tickets.id = v.column1 AND (");
        for (i, column) in crate::tickets::INDEXED_COLUMNS.iter().enumerate() {
            q.push(if i == 0 { "" } else { " OR " })
                .push(format_args!("tickets.{column} IS NOT v.column{}", i + 2));
        }
        q.push(")");
    }};
}

/// Deletes a claimed timer exactly as its claim left it, in transaction `$tx`; returns
/// `TimerGone` from the enclosing function if the claim was lost or the timer replaced.
macro_rules! delete_claimed {
    ($tx:ident, $timer:expr) => {{
        let timer: &ClaimedTimer = $timer;
        let deleted = sqlx::query(
            "DELETE FROM timers WHERE ticket_id = $1 AND key = $2 AND claimed_by = $3 AND epoch = $4 AND due_at_us = $5",
        )
        .bind(timer.ticket_id)
        .bind(timer.key.to_string())
        .bind(timer.owner)
        .bind(timer.epoch as i64)
        .bind(us(timer.due_at))
        .execute(&mut *$tx)
        .await
        .map_err(from_sqlx)?;
        if deleted.rows_affected() == 0 {
            return Err(StoreError::TimerGone);
        }
    }};
}

/// Writes a decision inside an open transaction `$tx` (with `$commits`, on a connection that
/// is in none); `return`s the error on failure.
///
/// Round trips are what a lone transition costs beyond the database's own work, so the
/// decision's statements travel together, in one text: the ticket's insert or versioned
/// update first, returning a row if it changed the ticket, then one statement per kind of
/// row. On PostgreSQL the text is one statement (each part a data-modifying `WITH`, and a
/// count of the ticket rows changed); on SQLite, statements separated by `;`, which its
/// driver prepares and runs in order on the connection's thread (see docs/PERFORMANCE.md).
/// No row changed: the version moved. On PostgreSQL the statement then fails as a whole
/// ([`CONFLICT_GUARD`]), so it needs no transaction around it; on SQLite the transaction
/// is dropped with whatever the other statements wrote. A conflict is returned without the
/// version found: the caller reads it once the transaction is gone
/// ([`SqlStore::version_on_conflict`]).
///
/// `$commits` (SQLite): the text is its own transaction, `BEGIN IMMEDIATE` to `COMMIT`, one
/// hand-off to the connection's thread instead of three; a conflict then fails the text at
/// [`SQLITE_CONFLICT_GUARD`], and the caller rolls back what it began.
macro_rules! write_decision {
    ($tx:expr, $store:expr, $d:expr) => {
        write_decision!($tx, $store, $d, false)
    };
    ($tx:expr, $store:expr, $d:expr, $commits:expr) => {{
        let d: &Decision = $d;
        let t = &d.ticket;
        if d.events.is_empty() {
            return Err(StoreError::Other("a decision without events".into()));
        }
        let postgres = $store.is_postgres();
        let commits: bool = $commits && !postgres;
        let mut q = Statements::new(postgres);
        if commits {
            q.builder().push("BEGIN IMMEDIATE; ");
        }
        let ticket = q.next("changed");
        if d.expected_version == 0 {
            push_tickets!(ticket, [t], "");
        } else {
            push_ticket_update!(ticket, t, d.expected_version, postgres);
        }
        // A row returned says the version matched (on SQLite, where the driver returns the
        // rows of every statement of the text, these are the only ones).
        ticket.push(" RETURNING 1");
        if commits && d.expected_version != 0 {
            q.next("guard")
                .push("INSERT INTO conflict_guard VALUES (changes())");
        }
        if !postgres && d.expected_version != 0 {
            push_indexed_columns!(q.next("indexed"), [t]);
        }
        push_events!(
            q.next("events"),
            d.events.iter().map(|e| (e, t.community_id))
        );
        let (cancelled, set) = net_timer_changes(d);
        // What the timer workers are told (PostgreSQL): the earliest timer this writes.
        let earliest = crate::tickets::announced_timer(d, &set);
        if !cancelled.is_empty() {
            push_timer_deletes!(
                q.next("cancelled"),
                cancelled.into_iter().map(|k| (t.id, k))
            );
        }
        if !set.is_empty() {
            let rows = set.into_iter().map(|timer| (timer, t.id, t.community_id));
            push_timer_upserts!(q.next("timers"), rows);
        }
        if !d.notifications.is_empty() {
            push_outbox!(
                q.next("outbox"),
                d.notifications.iter().map(|n| (n, t)),
                &$store.outbox_delivery()
            );
        }
        if crate::tickets::credits(d).next().is_some() {
            push_credits!(q.next("credits"), crate::tickets::credits(d));
        }
        if crate::tickets::co_handlers(d).next().is_some() {
            push_co_handlers!(q.next("co_handlers"), crate::tickets::co_handlers(d));
        }
        if postgres {
            // No ticket row changed: the division by zero fails the statement, so none of its
            // parts is written, in a transaction or without one ([`CONFLICT_GUARD`]).
            // pg_notify tells the other nodes (LISTEN) that a timer was set, and when it is
            // due, or that messages were written; delivered when the transaction commits,
            // never if it rolls back.
            let q = q.builder();
            q.push(") SELECT 1 / (SELECT count(*) FROM changed)");
            if let Some(due) = earliest {
                q.push(", pg_notify('linli_timers', ")
                    .push_bind(crate::announce::timer_announcement(due))
                    .push(")");
            }
            if !d.notifications.is_empty() {
                q.push(", pg_notify('linli_outbox', '')");
            }
            q.build()
                .execute(&mut *$tx)
                .await
                .map_err(|e| decision_error(d, e))?;
        } else {
            if commits {
                q.next("commit").push("COMMIT");
            }
            let rows = q.builder().build().fetch_all(&mut *$tx).await;
            if rows.map_err(|e| decision_error(d, e))?.is_empty() {
                return Err(StoreError::Conflict { actual: None });
            }
        }
    }};
}

/// A decision's statements built into one text (see `write_decision!`): on PostgreSQL the
/// named parts of one `WITH` statement, on SQLite statements separated by `;`.
pub(crate) struct Statements<'a, DB: sqlx::Database> {
    q: sqlx::QueryBuilder<'a, DB>,
    postgres: bool,
    parts: usize,
}

impl<'a, DB: sqlx::Database> Statements<'a, DB> {
    pub(crate) fn new(postgres: bool) -> Self {
        Statements {
            q: sqlx::QueryBuilder::new(""),
            postgres,
            parts: 0,
        }
    }

    /// Starts the next statement (called `name` where parts are named) and returns the
    /// builder to push it onto.
    pub(crate) fn next(&mut self, name: &str) -> &mut sqlx::QueryBuilder<'a, DB> {
        match (self.postgres, self.parts) {
            (true, 0) => self.q.push(format_args!("WITH {name} AS (")),
            (true, _) => self.q.push(format_args!("), {name} AS (")),
            (false, 0) => &mut self.q,
            (false, _) => self.q.push("; "),
        };
        self.parts += 1;
        &mut self.q
    }

    pub(crate) fn builder(&mut self) -> &mut sqlx::QueryBuilder<'a, DB> {
        &mut self.q
    }
}

/// PostgreSQL's `division_by_zero`: what a decision's statement raises when its ticket's
/// versioned update changed no row (`1 / (SELECT count(*) FROM changed)`), the version having
/// moved. A failed statement writes none of its parts, so a lone decision runs as one
/// autocommitted statement: one round trip instead of three (begin, statement, commit), and
/// a conflict still writes nothing. Nothing else in a decision's statement divides.
const CONFLICT_GUARD: &str = "22012";

/// What SQLite's `conflict_guard` view (migration 0016) raises when the statement before it
/// changed no row: on SQLite a lone decision is one text that begins and commits its own
/// transaction, and a conflict must stop it before its `COMMIT`.
const SQLITE_CONFLICT_GUARD: &str = "linli: version conflict";

/// A failed statement of decision `d`. A duplicate key is the ticket itself when `d` creates
/// it. Otherwise the ticket's row was not changed, and the rows that name it ran into its
/// absence (a foreign key, on SQLite; PostgreSQL has none, and its statement's guard divides
/// by the count of ticket rows changed, [`CONFLICT_GUARD`]) or into an event already there
/// (`(ticket, seq)`): a conflict.
fn decision_error(d: &Decision, e: sqlx::Error) -> StoreError {
    let (duplicate, missing) = match &e {
        sqlx::Error::Database(db)
            if db.code().as_deref() == Some(CONFLICT_GUARD)
                || db.message() == SQLITE_CONFLICT_GUARD =>
        {
            return StoreError::Conflict { actual: None };
        }
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

/// The person holding a ticket, and the team whose members see it (its pool, kept after a
/// member claims it).
pub(crate) fn holder(t: &Ticket) -> (Option<Uuid>, Option<Uuid>) {
    (t.assignee.and_then(Assignee::person), t.pool_team)
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
        if let (Some(pool), None) = (self.pg_pool(), idem) {
            // One statement, its own transaction (see `CONFLICT_GUARD`).
            let mut conn = pool.acquire().await.map_err(from_sqlx)?;
            write_decision!(conn, self, d);
            return Ok(());
        }
        if let (Some(pool), None) = (self.sqlite_pool(), idem) {
            // One text from BEGIN to COMMIT; whatever stopped it, what it began is rolled
            // back before the connection goes back to the pool.
            let mut own = OwnTransaction::new(pool.acquire().await.map_err(from_sqlx)?);
            let written = async {
                let conn = own.connection();
                write_decision!(conn, self, d, true);
                Ok(())
            }
            .await;
            match written {
                Ok(()) => own.release(),
                Err(_) => own.recover().await,
            }
            return written;
        }
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            write_decision!(tx, self, d);
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
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            if let Some(timer) = fired {
                delete_claimed!(tx, timer);
            }
            for d in decisions {
                write_decision!(tx, self, d);
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
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            delete_claimed!(tx, timer);
            if let Some(d) = d {
                write_decision!(tx, self, d);
            }
            tx.commit().await.map_err(from_sqlx)
        })
    }

    pub(crate) async fn load_ticket(
        &self,
        id: Uuid,
        scope: &Scope,
    ) -> Result<Option<Ticket>, StoreError> {
        let row: Option<ticket_rows::TicketRow> = with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(ticket_rows::COLUMNS)
                .push(" FROM tickets WHERE id = ")
                .push_bind(id)
                .push(" AND ");
            push_scope(&mut qb, scope);
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
        let rows: Vec<ticket_rows::TicketRow> = with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new("SELECT ");
            qb.push(ticket_rows::COLUMNS).push(" FROM tickets WHERE ");
            push_list_conditions(&mut qb, scope, sets.as_deref(), f, page);
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
        let explain = if self.is_postgres() {
            "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) "
        } else {
            "EXPLAIN QUERY PLAN "
        };
        let sets = self.list_sets(scope).await?;
        with_reader!(self, pool, {
            let mut qb = sqlx::QueryBuilder::new(explain);
            qb.push("SELECT ")
                .push(ticket_rows::COLUMNS)
                .push(" FROM tickets WHERE ");
            push_list_conditions(&mut qb, scope, sets.as_deref(), f, page);
            let rows = qb.build().fetch_all(pool).await.map_err(from_sqlx)?;
            let column = if self.is_postgres() { 0 } else { 3 };
            let lines: Vec<String> = rows
                .iter()
                .map(|r| r.try_get::<String, _>(column))
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)?;
            Ok(lines.join("\n"))
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
