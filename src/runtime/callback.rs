//! What the 12345 platform is sent back (回传): one JSON document per state it cares about
//! (the workflow's `[[notify]]` rules to `platform`), keyed by the outbox message's id, which
//! stays the same across retries: the platform's idempotency key (docs/HOTLINE.md).

use serde::Serialize;
use uuid::Uuid;
use workflow_core::store::OutboxMessage;
use workflow_core::{Event, EventKind, Ticket};

#[derive(Serialize)]
pub struct Callback<'a> {
    /// The idempotency key: the same on every attempt of this message.
    pub id: Uuid,
    pub order_number: &'a str,
    /// The action: `sign_for` (签收), `return_order` (退单), `request_extension` (延期申请),
    /// `acknowledge` (回复催办), `resolve` (办结).
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub at: String,
    /// The ticket's state after the action, and its id in Linli.
    pub state: &'a str,
    pub ticket_id: Uuid,
    /// The event's place in the order's history: callbacks arrive in this order.
    pub seq: u64,
    /// What the action recorded: the result or the answer (`note`), why (`reason`), how much
    /// more time (`extend_by`), whether the caller was contacted (`contacted`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extend_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contacted: Option<bool>,
}

/// The callback's body, if the message's order and event are there to say it.
pub fn body(m: &OutboxMessage, ticket: Option<&Ticket>, event: Option<&Event>) -> Option<Vec<u8>> {
    let order = ticket?.hotline.as_ref()?;
    let event = event?;
    let EventKind::Transitioned { to, data, .. } = &event.kind else {
        return None;
    };
    let callback = Callback {
        id: m.id,
        order_number: &order.order_number,
        kind: &m.event,
        at: event.at.to_string(),
        state: to,
        ticket_id: m.ticket_id,
        seq: m.event_seq,
        note: data.note.as_deref(),
        reason: data.reason.as_deref(),
        extend_by: data.extend_by.as_deref(),
        contacted: data.contacted,
    };
    Some(serde_json::to_vec(&callback).expect("a callback serializes"))
}
