//! An event as its row holds it: the columns name it (its ticket, its place in the ticket's
//! history, who) and the body holds when, to the nanosecond (the `at_us` column, for
//! queries, keeps microseconds, and a replay must give back the very ticket the decision
//! wrote), and what it recorded (its [`EventKind`]). Older bodies repeated the columns (130
//! of an event's ~330 bytes, eleven events a lifecycle, each byte written to the database's
//! log); reading one ignores them and takes the columns.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use workflow_core::event::ActorRef;
use workflow_core::store::StoreError;
use workflow_core::{Event, EventKind, Role};

use crate::from_us;
use crate::json_text::JsonText;

/// The columns an event is read from, in the order of [`EventRow`].
pub(crate) const COLUMNS: &str = "ticket_id, seq, at_us, actor_id, actor_role, body";

/// An event's row as read: (ticket, seq, at in µs, actor's id, actor's role, body).
pub(crate) type EventRow = (
    Uuid,
    i64,
    i64,
    Option<Uuid>,
    String,
    JsonText<Body<EventKind>>,
);

/// What an event's body holds.
#[derive(Serialize, Deserialize)]
pub(crate) struct Body<K> {
    /// Absent from no body ever written; `at_us` stands in should one lack it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<Timestamp>,
    #[serde(flatten)]
    kind: K,
}

/// The body an event is written with.
pub(crate) type EventBody<'a> = Body<&'a EventKind>;

pub(crate) fn body(e: &Event) -> JsonText<EventBody<'_>> {
    JsonText(Body {
        at: Some(e.at),
        kind: &e.kind,
    })
}

pub(crate) fn event(
    (ticket_id, seq, at_us, actor_id, role, JsonText(body)): EventRow,
) -> Result<Event, StoreError> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Other(format!("event {ticket_id}/{seq}: role {role:?}")))?;
    Ok(Event {
        ticket_id,
        seq: seq as u64,
        at: body.at.unwrap_or_else(|| from_us(at_us)),
        actor: ActorRef { id: actor_id, role },
        kind: body.kind,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event as stores wrote it before: the columns repeated in its body.
    const WITH_THE_COLUMNS: &str = r#"{"ticket_id":"01a23326-1712-7580-aa80-88f822117dcd","seq":11,"at":"2026-12-01T19:47:44.040858308Z","actor":{"id":"01a23326-16f5-76a3-b4c6-a95db625b424","role":"resident"},"type":"transitioned","action":"confirm","from":"completed","to":"closed","terminal":true,"assignee_after":{"person":"01a23326-16f4-76b3-b5a8-30baec8ce063"},"rating":5,"credit":{"person":"01a23326-16f4-76b3-b5a8-30baec8ce063","minutes":60,"points":4}}"#;

    #[test]
    fn an_event_body_holds_what_it_recorded_and_old_bodies_still_read() {
        let old: Event = serde_json::from_str(WITH_THE_COLUMNS).unwrap();
        let row = |body: &str| -> EventRow {
            (
                old.ticket_id,
                old.seq as i64,
                old.at.as_microsecond(),
                old.actor.id,
                old.actor.role.as_str().to_owned(),
                JsonText(serde_json::from_str(body).unwrap()),
            )
        };
        assert_eq!(event(row(WITH_THE_COLUMNS)).unwrap(), old);

        let new = serde_json::to_string(&body(&old).0).unwrap();
        assert!(
            new.len() + 120 < WITH_THE_COLUMNS.len(),
            "{} bytes: {new}",
            new.len()
        );
        for column in ["ticket_id", "\"seq\"", "actor"] {
            assert!(!new.contains(column), "{column} in {new}");
        }
        // The time to the nanosecond, which the `at_us` column does not keep.
        assert!(
            new.contains("\"at\":\"2026-12-01T19:47:44.040858308Z\""),
            "{new}"
        );
        assert_eq!(event(row(&new)).unwrap(), old);
    }
}
