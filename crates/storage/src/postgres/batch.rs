//! A batch on PostgreSQL: every row of every table in one statement, each column bound as
//! one array and turned back into rows by `UNNEST`. The statement's text is the same
//! whatever the batch holds, so each connection parses and plans it once and reuses it;
//! multi-row `VALUES` gave a new text (a parse and a plan on the server) for every batch
//! size and table, and that server time was shared with the callers' two cores.

use sqlx::types::Json;
use sqlx::{Connection, PgConnection, PgPool};
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::rows::{breached, holder};
use crate::us;
use crate::writer::plan::{Found, StoredTimer, TimerRow, Write};
use crate::writer::rows::Rows;

// The batch's reads. Each join with `UNNEST` also names its rows by `= ANY` on the primary
// key's first column: the planner guesses ten rows for an `UNNEST`, and with that guess a
// generic plan came out as a hash join over a sequential scan of the whole table (seen on
// `timers`, a table of a few thousand rows that churns with every transition: up to 3 ms a
// batch). `= ANY` on an index's leading column is an index scan in every plan.
const VERSIONS: &str = "SELECT id, version FROM tickets WHERE id = ANY($1) ORDER BY id FOR UPDATE";
const FIRED_TIMERS: &str = "\
SELECT ticket_id, key, claimed_by, epoch, due_at_us
FROM timers JOIN UNNEST($1::uuid[], $2::text[]) AS fired (ticket_id, key) USING (ticket_id, key)
WHERE timers.ticket_id = ANY($1) FOR UPDATE OF timers";
const KEYS_USED: &str = "\
SELECT caller_id, key
FROM idempotency JOIN UNNEST($1::uuid[], $2::text[]) AS keyed (caller_id, key) USING (caller_id, key)
WHERE idempotency.caller_id = ANY($1)";

/// What the writes depend on, as stored, locked until the batch commits. Tickets are
/// locked in id order, so that two nodes' batches never wait on each other in a cycle.
pub(crate) async fn found(tx: &mut PgConnection, writes: &[&Write]) -> Result<Found, StoreError> {
    let mut found = Found::default();
    let ids: Vec<Uuid> = writes.iter().map(|w| w.ticket_id()).collect();
    let versions: Vec<(Uuid, i64)> = sqlx::query_as(VERSIONS)
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .map_err(from_sqlx)?;
    found.versions = versions.into_iter().map(|(id, v)| (id, v as u64)).collect();

    let fired: Vec<TimerRow> = writes.iter().filter_map(|w| w.fired()).collect();
    if !fired.is_empty() {
        let (tickets, keys): (Vec<Uuid>, Vec<String>) =
            fired.into_iter().map(|t| (t.ticket_id, t.key)).unzip();
        let rows: Vec<StoredTimer> = sqlx::query_as(FIRED_TIMERS)
            .bind(&tickets)
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        found.timers = rows.into_iter().map(TimerRow::from).collect();
    }

    let (callers, keys): (Vec<Uuid>, Vec<String>) = writes
        .iter()
        .filter_map(|w| w.idempotency())
        .map(|rec| (rec.caller, rec.key.clone()))
        .unzip();
    if !callers.is_empty() {
        let found_keys: Vec<(Uuid, String)> = sqlx::query_as(KEYS_USED)
            .bind(&callers)
            .bind(&keys)
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        found.idempotency = found_keys.into_iter().collect();
    }
    Ok(found)
}

/// Every row of the batch, in one statement: one data-modifying `WITH` part per table (an
/// empty array writes nothing), then the workers' wake-ups, sent on commit (the timers' with
/// the earliest due time set, see [`crate::announce::timer_announcement`]). No two parts
/// touch the same row (a ticket is in a batch once; a timer key is deleted or set, never
/// both), which is what lets them share a statement.
///
/// Each connection plans it once (a generic plan), and again whenever `ANALYZE` finds the
/// tables changed; the timers deleted are named by `= ANY` as in the reads above, so that
/// every plan reaches them through the primary key.
const WRITE: &str = "\
WITH tickets_inserted AS (
    INSERT INTO tickets (id, community_id, branch_id, building_id, workflow_id, workflow_version,
        category, urgency, state, requester_id, assignee_person, assignee_team, version, terminal,
        breached, created_at_us, updated_at_us, body, on_wall, follow_up_due, proxy_id)
    SELECT id, community_id, branch_id, building_id, workflow_id, workflow_version, category,
        urgency, state, requester_id, assignee_person, assignee_team, version, terminal, breached,
        created_at_us, updated_at_us, body, on_wall, follow_up_due, proxy_id
    FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::int4[],
        $7::text[], $8::text[], $9::text[], $10::uuid[], $11::uuid[], $12::uuid[], $13::int8[],
        $14::bool[], $15::bool[], $16::int8[], $17::int8[], $18::text[], $19::bool[], $20::bool[],
        $63::uuid[], $64::int8[])
        AS new (id, community_id, branch_id, building_id, workflow_id, workflow_version, category,
            urgency, state, requester_id, assignee_person, assignee_team, version, terminal,
            breached, created_at_us, updated_at_us, body, on_wall, follow_up_due, proxy_id,
            expected)
    WHERE expected = 0
    RETURNING 1
), tickets_updated AS (
    UPDATE tickets SET state = u.state, workflow_version = u.workflow_version,
        urgency = u.urgency, assignee_person = u.assignee_person,
        assignee_team = u.assignee_team, version = u.version, terminal = u.terminal,
        breached = u.breached, updated_at_us = u.updated_at_us, body = u.body,
        on_wall = u.on_wall, follow_up_due = u.follow_up_due
    FROM UNNEST($1::uuid[], $6::int4[], $8::text[], $9::text[], $11::uuid[], $12::uuid[],
        $13::int8[], $14::bool[], $15::bool[], $17::int8[], $18::text[], $19::bool[],
        $20::bool[], $64::int8[])
        AS u (id, workflow_version, urgency, state, assignee_person, assignee_team, version,
            terminal, breached, updated_at_us, body, on_wall, follow_up_due, expected)
    WHERE tickets.id = ANY($1) AND tickets.id = u.id AND u.expected > 0
        AND tickets.version = u.expected
    RETURNING 1
), events_written AS (
    INSERT INTO events (ticket_id, seq, community_id, at_us, actor_id, actor_role, kind, body,
        on_record)
    SELECT * FROM UNNEST($21::uuid[], $22::int8[], $23::uuid[], $24::int8[], $25::uuid[],
        $26::text[], $27::text[], $28::text[], $65::bool[])
), timers_deleted AS (
    DELETE FROM timers USING UNNEST($29::uuid[], $30::text[]) AS gone (ticket_id, key)
    WHERE timers.ticket_id = ANY($29) AND timers.ticket_id = gone.ticket_id
        AND timers.key = gone.key
), timers_set AS (
    INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch, claimed_by, lease_until_us)
    SELECT ticket_id, key, community_id, due_at_us, epoch, NULL, NULL
    FROM UNNEST($31::uuid[], $32::text[], $33::uuid[], $34::int8[], $35::int8[])
        AS set (ticket_id, key, community_id, due_at_us, epoch)
    ON CONFLICT (ticket_id, key, community_id) DO UPDATE SET due_at_us = excluded.due_at_us,
        epoch = excluded.epoch, claimed_by = NULL, lease_until_us = NULL
), outbox_written AS (
    INSERT INTO outbox (id, community_id, ticket_id, event_seq, event, recipient, attempts,
        next_attempt_us, created_at_us, delivered_at_us)
    SELECT id, community_id, ticket_id, event_seq, event, recipient, 0, at_us, at_us, delivered
    FROM UNNEST($36::uuid[], $37::uuid[], $38::uuid[], $39::int8[], $40::text[], $41::jsonb[],
        $42::int8[], $66::int8[])
        AS message (id, community_id, ticket_id, event_seq, event, recipient, at_us, delivered)
), ledger_written AS (
    INSERT INTO ledger (id, community_id, branch_id, person_id, ticket_id, event_seq, category,
        minutes, points, at_us)
    SELECT * FROM UNNEST($43::uuid[], $44::uuid[], $45::uuid[], $46::uuid[], $47::uuid[],
        $48::int8[], $49::text[], $50::int4[], $51::int4[], $52::int8[])
), co_handlers_written AS (
    INSERT INTO co_handlers (ticket_id, person_id)
    SELECT * FROM UNNEST($53::uuid[], $54::uuid[])
    ON CONFLICT (ticket_id, person_id) DO NOTHING
), idempotency_written AS (
    INSERT INTO idempotency (caller_id, key, request_hash, ticket_id, response, created_at_us)
    SELECT * FROM UNNEST($55::uuid[], $56::text[], $57::text[], $58::uuid[], $59::jsonb[],
        $60::int8[])
)
SELECT 1 / ((SELECT count(*) FROM tickets_inserted) + (SELECT count(*) FROM tickets_updated)
        = cardinality($1::uuid[]))::int,
    CASE WHEN $61::text IS NOT NULL THEN pg_notify('linli_timers', $61::text) END,
    CASE WHEN $62 THEN pg_notify('linli_outbox', '') END";

/// One column of a table's rows, gathered into the array bound for it.
fn column<T, U>(rows: &[T], f: impl Fn(&T) -> U) -> Vec<U> {
    rows.iter().map(f).collect()
}

pub(crate) async fn write(tx: &mut PgConnection, rows: &Rows<'_>) -> Result<(), StoreError> {
    let tickets: Vec<_> = rows.tickets.iter().map(|d| &d.ticket).collect();
    let events = &rows.events;
    let (gone_tickets, gone_keys): (Vec<Uuid>, Vec<String>) =
        rows.timers_deleted.iter().cloned().unzip();
    let timers = &rows.timers_set;
    let outbox = &rows.outbox;
    let credits = &rows.credits;
    let (co_tickets, co_people): (Vec<Uuid>, Vec<Uuid>) = rows.co_handlers.iter().copied().unzip();
    let keyed = &rows.idempotency;
    let (announce_timers, announce_messages) = rows.announces();
    sqlx::query(WRITE)
        // tickets
        .bind(column(&tickets, |t| t.id))
        .bind(column(&tickets, |t| t.community_id))
        .bind(column(&tickets, |t| t.branch_id))
        .bind(column(&tickets, |t| t.building_id))
        .bind(column(&tickets, |t| t.workflow_id.as_str()))
        .bind(column(&tickets, |t| t.workflow_version as i32))
        .bind(column(&tickets, |t| t.category.as_str()))
        .bind(column(&tickets, |t| t.urgency.as_str()))
        .bind(column(&tickets, |t| t.state.as_str()))
        .bind(column(&tickets, |t| t.requester))
        .bind(column(&tickets, |t| holder(t).0))
        .bind(column(&tickets, |t| holder(t).1))
        .bind(column(&tickets, |t| t.version as i64))
        .bind(column(&tickets, |t| t.terminal))
        .bind(column(&tickets, |t| breached(t)))
        .bind(column(&tickets, |t| us(t.created_at)))
        .bind(column(&tickets, |t| us(t.updated_at)))
        .bind(column(&tickets, |t| crate::ticket_rows::body(t)))
        .bind(column(&tickets, |t| t.on_wall))
        .bind(column(&tickets, |t| t.follow_up_due()))
        // events
        .bind(column(events, |(e, _)| e.ticket_id))
        .bind(column(events, |(e, _)| e.seq as i64))
        .bind(column(events, |(_, community)| *community))
        .bind(column(events, |(e, _)| us(e.at)))
        .bind(column(events, |(e, _)| e.actor.id))
        .bind(column(events, |(e, _)| e.actor.role.as_str()))
        .bind(column(events, |(e, _)| e.kind.name()))
        .bind(column(events, |(e, _)| crate::event_rows::body(e)))
        // timers deleted, then set
        .bind(gone_tickets)
        .bind(gone_keys)
        .bind(column(timers, |(_, ticket, _)| *ticket))
        .bind(column(timers, |(timer, _, _)| timer.key.to_string()))
        .bind(column(timers, |(_, _, community)| *community))
        .bind(column(timers, |(timer, _, _)| us(timer.due_at)))
        .bind(column(timers, |(timer, _, _)| timer.epoch as i64))
        // outbox: due at once, never attempted
        .bind(column(outbox, |_| Uuid::now_v7()))
        .bind(column(outbox, |(_, d)| d.ticket.community_id))
        .bind(column(outbox, |(_, d)| d.ticket.id))
        .bind(column(outbox, |(n, _)| n.event_seq as i64))
        .bind(column(outbox, |(n, _)| n.event.as_str()))
        .bind(column(outbox, |(n, _)| Json(n.recipient)))
        .bind(column(outbox, |(_, d)| us(d.ticket.updated_at)))
        // ledger
        .bind(column(credits, |_| Uuid::now_v7()))
        .bind(column(credits, |(_, _, t)| t.community_id))
        .bind(column(credits, |(_, _, t)| t.branch_id))
        .bind(column(credits, |(_, c, _)| c.person))
        .bind(column(credits, |(_, _, t)| t.id))
        .bind(column(credits, |(e, _, _)| e.seq as i64))
        .bind(column(credits, |(_, _, t)| t.category.as_str()))
        .bind(column(credits, |(_, c, _)| c.minutes as i32))
        .bind(column(credits, |(_, c, _)| c.points))
        .bind(column(credits, |(e, _, _)| us(e.at)))
        // co-handlers
        .bind(co_tickets)
        .bind(co_people)
        // idempotency records
        .bind(column(keyed, |(rec, _)| rec.caller))
        .bind(column(keyed, |(rec, _)| rec.key.as_str()))
        .bind(column(keyed, |(rec, _)| rec.request_hash.as_str()))
        .bind(column(keyed, |(rec, _)| rec.ticket_id))
        .bind(column(keyed, |(rec, _)| {
            Json(serde_json::from_str::<serde_json::Value>(&rec.response).unwrap_or_default())
        }))
        .bind(column(keyed, |(_, d)| us(d.ticket.updated_at)))
        .bind(announce_timers.map(crate::announce::timer_announcement))
        .bind(announce_messages)
        // tickets again: who entered each for its requester (set once, never updated), and
        // the version each decision was based on
        .bind(column(&tickets, |t| t.proxy))
        .bind(column(&rows.tickets, |d| d.expected_version as i64))
        // events again: whether each goes on a volunteer's record
        .bind(column(events, |(e, _)| e.is_on_record()))
        // outbox again: delivered as written, where nothing will deliver it
        .bind(column(outbox, |(n, d)| {
            let t = &d.ticket;
            rows.delivery
                .delivered_at_us(t.community_id, &n.recipient, us(t.updated_at))
        }))
        .execute(&mut *tx)
        .await
        .map_err(from_sqlx)?;
    Ok(())
}

/// The generic plan of each of a batch's statements (`EXPLAIN` of the statement prepared under
/// `plan_cache_mode = force_generic_plan`: the plan a writer's connection keeps reusing), on a
/// connection taken out of the pool `batches` (set up as every batch's is) and closed
/// afterwards, so that nothing prepared here outlives it.
pub(crate) async fn explain(batches: &PgPool) -> Result<Vec<String>, StoreError> {
    let mut conn = batches.acquire().await.map_err(from_sqlx)?.detach();
    sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
        .execute(&mut conn)
        .await
        .map_err(from_sqlx)?;
    let mut tx = conn.begin().await.map_err(from_sqlx)?;
    let mut plans = Vec::new();
    for (name, text, params) in [
        ("versions", VERSIONS, 1),
        ("fired_timers", FIRED_TIMERS, 2),
        ("keys_used", KEYS_USED, 2),
        ("write", WRITE, 66),
    ] {
        let prepare = format!("PREPARE {name} AS {text}");
        sqlx::raw_sql(&prepare)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        let nulls = vec!["NULL"; params].join(", ");
        let lines: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE {name}({nulls})"))
            .fetch_all(&mut *tx)
            .await
            .map_err(from_sqlx)?;
        plans.push(lines.join("\n"));
    }
    tx.rollback().await.map_err(from_sqlx)?;
    conn.close().await.map_err(from_sqlx)?;
    Ok(plans)
}

#[cfg(test)]
#[test]
fn the_batch_announces_on_the_workers_channels() {
    use crate::announce::{OUTBOX_CHANNEL, TIMER_CHANNEL};
    assert!(WRITE.contains(&format!("pg_notify('{TIMER_CHANNEL}'")));
    assert!(WRITE.contains(&format!("pg_notify('{OUTBOX_CHANNEL}'")));
}
