//! The rows a decision writes, one function a table: a lone decision on either backend and a
//! batch on SQLite append these statements to a query builder (PostgreSQL's batch binds the
//! same values as arrays, `postgres::batch`, from the same helpers). Each function is generic
//! over the backend; its where-clause names what it binds.

use sqlx::types::Json;
use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;
use workflow_core::event::Credit;
use workflow_core::{Assignee, Decision, Event, EventKind, Notification, Ticket, Timer};

use crate::dialect::Dialect;
use crate::event_rows::EventBody;
use crate::json_text::JsonText;
use crate::ticket_rows::BodyOf;
use crate::{OutboxDelivery, us};

/// The person holding a ticket, and the team whose members see it (its pool, kept after a
/// member claims it).
pub(crate) fn holder(t: &Ticket) -> (Option<Uuid>, Option<Uuid>) {
    (t.assignee.and_then(Assignee::person), t.pool_team)
}

/// Whether any of a ticket's clocks has breached (the list indexes' `breached`).
pub(crate) fn breached(t: &Ticket) -> bool {
    t.clocks.iter().any(|c| c.breached)
}

/// The co-handlers a decision adds, as (ticket, person).
pub(crate) fn co_handlers(d: &Decision) -> impl Iterator<Item = (Uuid, Uuid)> + '_ {
    d.events.iter().filter_map(|e| match e.kind {
        EventKind::CoHandlerAdded { person, .. } => Some((e.ticket_id, person)),
        _ => None,
    })
}

/// The credits among a decision's events (the ledger's entries), with the event and the
/// ticket.
pub(crate) fn credits(d: &Decision) -> impl Iterator<Item = (&Event, Credit, &Ticket)> {
    d.events.iter().filter_map(move |e| match &e.kind {
        EventKind::Transitioned {
            credit: Some(c), ..
        } => Some((e, *c, &d.ticket)),
        _ => None,
    })
}

/// `INSERT INTO tickets … VALUES` for `tickets`, then `tail` (a batch upserts).
pub(crate) fn push_tickets<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    tickets: impl IntoIterator<Item = &'a Ticket>,
    tail: &str,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    JsonText<BodyOf<'a>>: Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO tickets (id, community_id, branch_id, building_id, workflow_id, workflow_version, \
         category, urgency, state, requester_id, assignee_person, assignee_team, version, terminal, \
         breached, created_at_us, updated_at_us, body, on_wall, follow_up_due, proxy_id) ",
    );
    q.push_values(tickets, |mut row, t| {
        let (person, team) = holder(t);
        row.push_bind(t.id)
            .push_bind(t.community_id)
            .push_bind(t.branch_id)
            .push_bind(t.building_id)
            .push_bind(t.workflow_id.as_str())
            .push_bind(i64::from(t.workflow_version))
            .push_bind(t.category.as_str())
            .push_bind(t.urgency.as_str())
            .push_bind(t.state.as_str())
            .push_bind(t.requester)
            .push_bind(person)
            .push_bind(team)
            .push_bind(t.version as i64)
            .push_bind(t.terminal)
            .push_bind(breached(t))
            .push_bind(us(t.created_at))
            .push_bind(us(t.updated_at))
            .push_bind(crate::ticket_rows::body(t))
            .push_bind(t.on_wall)
            .push_bind(t.follow_up_due())
            .push_bind(t.proxy);
    });
    q.push(tail);
}

/// `t`'s row moved from version `expected` to its new one (no row if the version moved).
/// `indexed`: the columns the list indexes read travel too (PostgreSQL compares the values,
/// and leaves an index alone whose columns kept theirs); without them SQLite sets those
/// apart ([`push_indexed_columns`]).
pub(crate) fn push_ticket_update<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    t: &'a Ticket,
    expected: u64,
    indexed: bool,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    JsonText<BodyOf<'a>>: Encode<'a, DB> + Type<DB>,
{
    q.push("UPDATE tickets SET state = ")
        .push_bind(t.state.as_str())
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
    if indexed {
        let (person, team) = holder(t);
        q.push(", assignee_person = ")
            .push_bind(person)
            .push(", assignee_team = ")
            .push_bind(team)
            .push(", terminal = ")
            .push_bind(t.terminal)
            .push(", breached = ")
            .push_bind(breached(t))
            .push(", on_wall = ")
            .push_bind(t.on_wall)
            .push(", follow_up_due = ")
            .push_bind(t.follow_up_due());
    }
    // The community as well: where the table is partitioned by it, the row's partition.
    q.push(" WHERE id = ")
        .push_bind(t.id)
        .push(" AND community_id = ")
        .push_bind(t.community_id)
        .push(" AND version = ")
        .push_bind(expected as i64);
}

/// The ticket columns the list indexes depend on (who holds it, whether it is open,
/// breached, on the wall, due a follow-up call), set on SQLite by a statement of their own
/// that changes the row only where one of them changed. SQLite rewrites the entries of every
/// index a column of the `SET` list is in, changed or not: an open ticket's update dirtied
/// four pages instead of one, each a page of write-ahead log at every commit.
const INDEXED_COLUMNS: [&str; 6] = [
    "assignee_person",
    "assignee_team",
    "terminal",
    "breached",
    "on_wall",
    "follow_up_due",
];

/// `tickets`' [`INDEXED_COLUMNS`] set to theirs where they differ (SQLite).
pub(crate) fn push_indexed_columns<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    tickets: impl IntoIterator<Item = &'a Ticket>,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
{
    q.push("UPDATE tickets SET ");
    for (i, column) in INDEXED_COLUMNS.iter().enumerate() {
        q.push(if i == 0 { "" } else { ", " })
            .push(format_args!("{column} = v.column{}", i + 2));
    }
    q.push(" FROM (");
    // The id, then the values in the order of INDEXED_COLUMNS (`column2` onwards).
    q.push_values(tickets, |mut row, t| {
        let (person, team) = holder(t);
        row.push_bind(t.id)
            .push_bind(person)
            .push_bind(team)
            .push_bind(t.terminal)
            .push_bind(breached(t))
            .push_bind(t.on_wall)
            .push_bind(t.follow_up_due());
    });
    q.push(") AS v WHERE tickets.id = v.column1 AND (");
    for (i, column) in INDEXED_COLUMNS.iter().enumerate() {
        q.push(if i == 0 { "" } else { " OR " })
            .push(format_args!("tickets.{column} IS NOT v.column{}", i + 2));
    }
    q.push(")");
}

/// `events`: (event, its ticket's community).
pub(crate) fn push_events<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    events: impl IntoIterator<Item = (&'a Event, Uuid)>,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    JsonText<EventBody<'a>>: Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO events (ticket_id, seq, community_id, at_us, actor_id, actor_role, kind, body, on_record) ",
    );
    q.push_values(events, |mut row, (e, community)| {
        row.push_bind(e.ticket_id)
            .push_bind(e.seq as i64)
            .push_bind(community)
            .push_bind(us(e.at))
            .push_bind(e.actor.id)
            .push_bind(e.actor.role.as_str())
            .push_bind(e.kind.name())
            .push_bind(crate::event_rows::body(e))
            .push_bind(e.is_on_record());
    });
}

/// The timers `gone`: (ticket, key), all of `community` where it is known (one decision's:
/// where the table is partitioned by community, the one partition they are in).
pub(crate) fn push_timer_deletes<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    gone: impl IntoIterator<Item = (Uuid, String)>,
    community: Option<Uuid>,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    q.push("DELETE FROM timers WHERE (");
    if let Some(community) = community {
        q.push("community_id = ")
            .push_bind(community)
            .push(") AND (");
    }
    for (i, (ticket, key)) in gone.into_iter().enumerate() {
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
    q.push(")");
}

/// `timers`: (timer, its ticket, the ticket's community): set, or replaced with a fresh
/// claim. `key` is the columns of the timers' primary key ([`Dialect::timers_key`]).
pub(crate) fn push_timer_upserts<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    timers: impl IntoIterator<Item = (&'a Timer, Uuid, Uuid)>,
    key: &str,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO timers (ticket_id, key, community_id, due_at_us, epoch, claimed_by, lease_until_us) ",
    );
    q.push_values(timers, |mut row, (timer, ticket, community)| {
        row.push_bind(ticket)
            .push_bind(timer.key.to_string())
            .push_bind(community)
            .push_bind(us(timer.due_at))
            .push_bind(timer.epoch as i64)
            .push("NULL")
            .push("NULL");
    });
    q.push(" ON CONFLICT ").push(key).push(
        " DO UPDATE SET due_at_us = excluded.due_at_us, \
         epoch = excluded.epoch, claimed_by = NULL, lease_until_us = NULL",
    );
}

/// `messages`: (notification, its ticket); due at once, never attempted, and delivered as
/// written where `delivery` says nothing will deliver it.
pub(crate) fn push_outbox<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    messages: impl IntoIterator<Item = (&'a Notification, &'a Ticket)>,
    delivery: &OutboxDelivery,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    Json<workflow_core::Recipient>: Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO outbox (id, community_id, ticket_id, event_seq, event, recipient, attempts, \
         next_attempt_us, created_at_us, delivered_at_us) ",
    );
    q.push_values(messages, |mut row, (n, t)| {
        let at = us(t.updated_at);
        row.push_bind(Uuid::now_v7())
            .push_bind(t.community_id)
            .push_bind(t.id)
            .push_bind(n.event_seq as i64)
            .push_bind(n.event.as_str())
            .push_bind(Json(n.recipient))
            .push_bind(0i32)
            .push_bind(at)
            .push_bind(at)
            .push_bind(delivery.delivered_at_us(t.community_id, &n.recipient, at));
    });
}

/// The ledger's entries for `credits` ([`credits`]).
pub(crate) fn push_credits<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    credits: impl IntoIterator<Item = (&'a Event, Credit, &'a Ticket)>,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO ledger (id, community_id, branch_id, person_id, ticket_id, event_seq, \
         category, minutes, points, at_us) ",
    );
    q.push_values(credits, |mut row, (e, c, t)| {
        row.push_bind(Uuid::now_v7())
            .push_bind(t.community_id)
            .push_bind(t.branch_id)
            .push_bind(c.person)
            .push_bind(t.id)
            .push_bind(e.seq as i64)
            .push_bind(t.category.as_str())
            .push_bind(c.minutes as i32)
            .push_bind(c.points)
            .push_bind(us(e.at));
    });
}

/// Co-handlers added (协办): (ticket, person), who else sees the request.
pub(crate) fn push_co_handlers<'a, DB>(
    q: &mut QueryBuilder<'a, DB>,
    pairs: impl IntoIterator<Item = (Uuid, Uuid)>,
) where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
{
    q.push("INSERT INTO co_handlers (ticket_id, person_id) ");
    q.push_values(pairs, |mut row, (t, p)| {
        row.push_bind(t).push_bind(p);
    });
    q.push(" ON CONFLICT (ticket_id, person_id) DO NOTHING");
}

/// A decision's statements built into one text: on PostgreSQL the named parts of one `WITH`
/// statement, on SQLite statements separated by `;`.
pub(crate) struct Statements<'a, DB: Database> {
    q: QueryBuilder<'a, DB>,
    named: bool,
    parts: usize,
}

impl<'a, DB: Database> Statements<'a, DB> {
    /// Parts named in one `WITH` statement (`named`), or statements one after another.
    pub(crate) fn new(named: bool) -> Self {
        Statements {
            q: QueryBuilder::new(""),
            named,
            parts: 0,
        }
    }

    /// Starts the next statement (called `name` where parts are named) and returns the
    /// builder to push it onto.
    pub(crate) fn next(&mut self, name: &str) -> &mut QueryBuilder<'a, DB> {
        match (self.named, self.parts) {
            (true, 0) => self.q.push(format_args!("WITH {name} AS (")),
            (true, _) => self.q.push(format_args!("), {name} AS (")),
            (false, 0) => &mut self.q,
            (false, _) => self.q.push("; "),
        };
        self.parts += 1;
        &mut self.q
    }

    pub(crate) fn builder(&mut self) -> &mut QueryBuilder<'a, DB> {
        &mut self.q
    }

    pub(crate) fn into_builder(self) -> QueryBuilder<'a, DB> {
        self.q
    }
}

/// A decision's rows after its ticket's, one statement a table: events, timers cancelled and
/// set, messages, ledger entries, co-handlers. Returns the earliest timer set that the other
/// nodes' workers must be told of ([`crate::announce::announced`]). `dialect` is the
/// backend's.
pub(crate) fn push_decision_rows<'a, DB>(
    s: &mut Statements<'a, DB>,
    d: &'a Decision,
    delivery: &OutboxDelivery,
    dialect: &Dialect,
) -> Option<jiff::Timestamp>
where
    DB: Database,
    Uuid: Encode<'a, DB> + Type<DB>,
    Option<Uuid>: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    Option<i64>: Encode<'a, DB> + Type<DB>,
    i32: Encode<'a, DB> + Type<DB>,
    bool: Encode<'a, DB> + Type<DB>,
    &'a str: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
    JsonText<EventBody<'a>>: Encode<'a, DB> + Type<DB>,
    Json<workflow_core::Recipient>: Encode<'a, DB> + Type<DB>,
{
    let t = &d.ticket;
    push_events(
        s.next("events"),
        d.events.iter().map(|e| (e, t.community_id)),
    );
    let (cancelled, set) = crate::tickets::net_timer_changes(d);
    let earliest = crate::tickets::announced_timer(d, &set);
    if !cancelled.is_empty() {
        push_timer_deletes(
            s.next("cancelled"),
            cancelled.into_iter().map(|k| (t.id, k)),
            Some(t.community_id),
        );
    }
    if !set.is_empty() {
        let rows = set.into_iter().map(|timer| (timer, t.id, t.community_id));
        push_timer_upserts(s.next("timers"), rows, dialect.timers_key);
    }
    if !d.notifications.is_empty() {
        push_outbox(
            s.next("outbox"),
            d.notifications.iter().map(|n| (n, t)),
            delivery,
        );
    }
    if credits(d).next().is_some() {
        push_credits(s.next("credits"), credits(d));
    }
    if co_handlers(d).next().is_some() {
        push_co_handlers(s.next("co_handlers"), co_handlers(d));
    }
    earliest
}
