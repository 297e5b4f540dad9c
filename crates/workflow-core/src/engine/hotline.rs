//! The city hotline's work orders (12345): taken in once by order number (a re-send is the
//! same ticket; a changed one is recorded as an update), and the platform's reminders and
//! answers applied. The office's integration brings them ([`Principal::may_bridge`], asked
//! by the adapter of the community it maps the order to).

use super::*;
use crate::decide::{decide_order, decide_platform_event};
use crate::event::EventKind;
use crate::hotline::{Order, OrderUpdate, PlatformEvent};

/// Whose idempotency records hold the order numbers: an order number is the platform's own
/// idempotency key, recorded in the transaction that makes its ticket and kept for good.
pub const ORDER_KEYS: Uuid = Uuid::from_u128(0x1234_5000_0000_7000_8000_0000_0000_0001);

/// What became of a work order the platform sent.
#[derive(Clone, Debug, PartialEq)]
pub enum Taken {
    /// A new ticket.
    New(Ticket),
    /// Sent before, as it is: the same ticket.
    Same(Ticket),
    /// Sent before, with something changed: recorded on the same ticket.
    Updated(Ticket),
}

impl Taken {
    pub fn ticket(&self) -> &Ticket {
        match self {
            Taken::New(t) | Taken::Same(t) | Taken::Updated(t) => t,
        }
    }
}

/// Where an order goes, as the deployment's mapping file says, and who called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderPlace {
    pub community_id: Uuid,
    pub branch_id: Uuid,
    /// The person of the community who called (matched by phone, or registered).
    pub requester: Uuid,
}

/// A command to the platform's tickets is retried this often when the ticket moved under
/// it: the platform's word is not a person's view of a version, it holds whatever happened.
const ATTEMPTS: usize = 5;

impl Engine {
    /// The ticket made from the order with this number, if any.
    pub async fn order_ticket(&self, order_number: &str) -> Result<Option<Ticket>, EngineError> {
        let Some(rec) = self.store.idempotency(ORDER_KEYS, order_number).await? else {
            return Ok(None);
        };
        Ok(self.store.ticket(rec.ticket_id, &Scope::Everything).await?)
    }

    /// Takes a work order in on `workflow`: a new ticket, or the one it already is.
    pub async fn take_order(
        &self,
        integration: &Principal,
        workflow: &str,
        order: &Order,
        place: OrderPlace,
    ) -> Result<Taken, EngineError> {
        let number = &order.facts.order_number;
        if let Some(held) = self.order_ticket(number).await? {
            return self.update_order(integration, held, order).await;
        }
        self.catalog
            .category(&order.category)
            .ok_or_else(|| CommandError::UnknownCategory(order.category.clone()))?;
        let wf = self
            .catalog
            .latest(workflow)
            .ok_or_else(|| EngineError::WorkflowMissing(workflow.to_owned()))?;
        let sub = Submission {
            id: Uuid::now_v7(),
            category: order.category.clone(),
            urgency: if order.urgent {
                Urgency::Urgent
            } else {
                Urgency::Normal
            },
            description: order.content.clone(),
            channel: "12345".into(),
            requester: place.requester,
            community_id: place.community_id,
            branch_id: place.branch_id,
            building_id: None,
            hotline: Some(order.facts.clone()),
        };
        let decision = decide_order(wf, &integration.actor(), &sub, self.clock.now())?;
        let record = IdempotencyRecord {
            caller: ORDER_KEYS,
            key: number.clone(),
            request_hash: crate::hash::sha256_hex(number.as_bytes()),
            ticket_id: decision.ticket.id,
            response: serde_json::to_string(&decision.ticket).expect("tickets serialise"),
        };
        match self.store.apply(&decision, Some(&record)).await {
            Ok(()) => {
                self.signal(&decision);
                Ok(Taken::New(decision.ticket))
            }
            // The same order, sent twice at once: the other one made the ticket.
            Err(StoreError::IdempotencyMismatch(_)) => {
                let held = self
                    .order_ticket(number)
                    .await?
                    .ok_or(EngineError::NotFound)?;
                self.update_order(integration, held, order).await
            }
            Err(e) => Err(e.into()),
        }
    }

    /// An order sent again: unchanged, the same ticket; changed, the change recorded on it.
    async fn update_order(
        &self,
        integration: &Principal,
        mut ticket: Ticket,
        order: &Order,
    ) -> Result<Taken, EngineError> {
        for _ in 0..ATTEMPTS {
            let facts = ticket.hotline.as_ref().ok_or(EngineError::NotFound)?;
            let Some(update) = OrderUpdate::between(facts, &ticket.description, order) else {
                return Ok(Taken::Same(ticket));
            };
            let id = ticket.id;
            match self
                .record_platform(integration, ticket, EventKind::OrderUpdated(update))
                .await?
            {
                Some(t) => return Ok(Taken::Updated(t)),
                None => ticket = self.reread(id).await?,
            }
        }
        Err(EngineError::Store(StoreError::Conflict { actual: None }))
    }

    /// The platform's reminder (催办/督办) or answer on the order with this number, taken once
    /// by `key` (the platform's id of the event): sent again, it answers with the ticket as it
    /// is, whatever happened since (an answer that already closed the order is not refused
    /// for it). The key is recorded in the transaction of the event's decision.
    pub async fn platform_event(
        &self,
        integration: &Principal,
        order_number: &str,
        key: &str,
        event: &PlatformEvent,
    ) -> Result<Ticket, EngineError> {
        let mut ticket = self
            .order_ticket(order_number)
            .await?
            .ok_or(EngineError::NotFound)?;
        let key = format!("{order_number}#{key}");
        for _ in 0..ATTEMPTS {
            if self.store.idempotency(ORDER_KEYS, &key).await?.is_some() {
                return self.reread(ticket.id).await;
            }
            let id = ticket.id;
            let wf = self
                .catalog
                .workflow(&ticket.workflow_id, ticket.workflow_version)
                .ok_or_else(|| EngineError::WorkflowMissing(ticket.workflow_id.clone()))?;
            let now = self.clock.now();
            let decision = match event.action() {
                None => {
                    let PlatformEvent::Reminder { supervision, note } = event else {
                        unreachable!("only a reminder is not an action")
                    };
                    let kind = EventKind::PlatformReminder {
                        supervision: *supervision,
                        note: note.trim().to_owned(),
                    };
                    decide_platform_event(wf, ticket, &integration.actor(), kind, now)?
                }
                Some((action, fields)) => {
                    let act = Act {
                        action: action.to_owned(),
                        expected_version: ticket.version,
                        fields,
                    };
                    let credit = self.credit_context(wf, &ticket, action).await?;
                    let d = decide_with(wf, ticket, &Actor::system(), &act, now, &credit)?;
                    self.banked(d).await?
                }
            };
            let record = IdempotencyRecord {
                caller: ORDER_KEYS,
                key: key.clone(),
                request_hash: crate::hash::sha256_hex(key.as_bytes()),
                ticket_id: id,
                response: serde_json::to_string(&decision.ticket).expect("tickets serialise"),
            };
            match self.store.apply(&decision, Some(&record)).await {
                Ok(()) => {
                    self.signal(&decision);
                    return Ok(decision.ticket);
                }
                // Sent twice at once: the other one was taken.
                Err(StoreError::IdempotencyMismatch(_)) => return self.reread(id).await,
                Err(StoreError::Conflict { .. }) => ticket = self.reread(id).await?,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Store(StoreError::Conflict { actual: None }))
    }

    /// Records one of the platform's events on `ticket`; `None` when the ticket moved first.
    async fn record_platform(
        &self,
        integration: &Principal,
        ticket: Ticket,
        kind: EventKind,
    ) -> Result<Option<Ticket>, EngineError> {
        let wf = self
            .catalog
            .workflow(&ticket.workflow_id, ticket.workflow_version)
            .ok_or_else(|| EngineError::WorkflowMissing(ticket.workflow_id.clone()))?;
        let d = decide_platform_event(wf, ticket, &integration.actor(), kind, self.clock.now())?;
        match self.store.apply(&d, None).await {
            Ok(()) => {
                self.signal(&d);
                Ok(Some(d.ticket))
            }
            Err(StoreError::Conflict { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn reread(&self, id: Uuid) -> Result<Ticket, EngineError> {
        self.store
            .ticket(id, &Scope::Everything)
            .await?
            .ok_or(EngineError::NotFound)
    }
}
