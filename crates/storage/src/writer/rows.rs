//! A batch's rows, gathered from the writes planned to go in: what every backend's batch
//! writes, each its own way (`sqlite::batch`, `postgres::batch`).

use std::sync::Arc;

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::event::Credit;
use workflow_core::store::IdempotencyRecord;
use workflow_core::{Decision, Event, Notification, Ticket, Timer};

use super::plan::{Outcome, Write};
use crate::OutboxDelivery;
use crate::tickets::{announced_timer, net_timer_changes};

/// The batch's rows, gathered from the writes that go in.
#[derive(Default)]
pub(crate) struct Rows<'a> {
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
    pub(crate) fn of(
        writes: &[&'a Write],
        outcomes: &[Outcome],
        delivery: Arc<OutboxDelivery>,
    ) -> Rows<'a> {
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
        self.credits.extend(crate::rows::credits(d));
        self.co_handlers.extend(crate::rows::co_handlers(d));
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
