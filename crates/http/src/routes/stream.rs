//! `GET /api/v1/me/stream`: server-sent events for the caller — their tickets changed, a
//! dispatch to them or their team, an SLA warning, an escalation to their level — as the
//! workflow's `[[notify]]` rules decided. Resumable with `Last-Event-ID`; on PostgreSQL a
//! message written on another node arrives through LISTEN/NOTIFY.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::notify::stream::{Reader, uuid_floor};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// The longest a stream waits without looking (a missed wake-up, a retry falling due).
const POLL: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Message<'a> {
    id: Uuid,
    #[serde(rename = "type")]
    kind: &'a str,
    ticket_id: Uuid,
    event_seq: u64,
    recipient: workflow_core::Recipient,
    created_at: String,
}

/// Server-sent events for the caller. Each event's `id` is the message id (send it back as
/// `Last-Event-ID` to resume), its `event` the message type (`dispatch`, `sla_warning`…),
/// its data a JSON object with `ticket_id`, `event_seq` and `recipient`.
#[utoipa::path(get, path = "/api/v1/me/stream", tag = "me",
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this message id")),
    responses((status = 200, description = "an event stream", content_type = "text/event-stream"),
        (status = 401, body = Problem)),
    security(("bearer" = [])))]
async fn stream(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<Uuid>().ok())
        .unwrap_or_else(|| uuid_floor(jiff::Timestamp::now()));
    let slot = state
        .streams
        .open(caller.principal.id)
        .ok_or(ApiError::TooManyRequests {
            retry_after_secs: 30,
        })?;
    let reader = Reader::new(state.store.clone(), caller.principal, caller.scope, resume);
    let changes = state.outbox_changes.clone();
    let shutdown = state.shutdown.clone();
    let events = futures_util::stream::unfold(
        (reader, changes, shutdown, slot),
        |(mut reader, mut changes, mut shutdown, slot)| async move {
            loop {
                if *shutdown.borrow() {
                    return None;
                }
                match reader.next(jiff::Timestamp::now()).await {
                    Ok(Some(m)) => {
                        let data = Message {
                            id: m.id,
                            kind: &m.event,
                            ticket_id: m.ticket_id,
                            event_seq: m.event_seq,
                            recipient: m.recipient,
                            created_at: m.created_at.to_string(),
                        };
                        let event = Event::default()
                            .id(m.id.to_string())
                            .event(&m.event)
                            .json_data(&data)
                            .expect("a message serializes");
                        return Some((Ok(event), (reader, changes, shutdown, slot)));
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(error = %e, "event stream read failed; retrying"),
                }
                tokio::select! {
                    _ = changed(&mut changes) => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = changed(&mut shutdown) => {}
                }
            }
        },
    );
    // Something every 10 s, so a page can tell a stream that stopped flowing (the console
    // gives up on one silent for 25 s and reconnects).
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(10))))
}

/// Returns when the value changes; never, once nobody can change it (a server whose
/// wake-ups or shutdown nobody wired): the stream then polls, rather than spin.
async fn changed<T>(rx: &mut tokio::sync::watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
