//! The outbox, for administrators: messages pending, delivered, or parked after failing
//! every attempt, each with its attempts; a parked message can be put back in line.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use storage::OutboxState;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::Desk;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_outbox))
        .routes(routes!(outbox_backlog))
        .routes(routes!(retry_message))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending` (default), `failed` (parked) or `delivered`.
    pub state: Option<String>,
    pub community_id: Option<Uuid>,
    /// At most 500; default 100.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt: u32,
    pub at: String,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<u16>,
    pub error: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OutboxView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub ticket_id: Uuid,
    pub event_seq: u64,
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Object)]
    pub recipient: workflow_core::Recipient,
    /// `pending`, `failed` or `delivered`.
    pub state: &'static str,
    pub attempts: Vec<AttemptView>,
    pub next_attempt: Option<String>,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct BacklogView {
    /// Messages waiting for delivery: neither delivered nor parked.
    pub pending: i64,
    /// Messages parked after their last attempt: an admin retries them.
    pub parked: i64,
}

/// How many messages wait for delivery and how many are parked (the `linli_outbox_backlog`
/// and `linli_outbox_parked` gauges' counts).
#[utoipa::path(get, path = "/api/v1/admin/outbox/backlog", tag = "admin",
    responses((status = 200, body = BacklogView), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn outbox_backlog(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<BacklogView>> {
    caller.principal.may(Desk::Admin)?;
    let c = state.store.outbox_counts().await?;
    Ok(axum::Json(BacklogView {
        pending: c.pending,
        parked: c.parked,
    }))
}

/// Outbox messages by state, newest first, each with its delivery attempts.
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "admin", params(OutboxQuery),
    responses((status = 200, body = [OutboxView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_outbox(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<axum::Json<Vec<OutboxView>>> {
    caller.principal.may(Desk::Admin)?;
    let which = match q.state.as_deref().unwrap_or("pending") {
        "pending" => OutboxState::Pending,
        "failed" => OutboxState::Failed,
        "delivered" => OutboxState::Delivered,
        other => {
            return Err(ApiError::invalid_query(format!(
                "state must be pending, failed or delivered, not {other:?}"
            )));
        }
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let entries = state
        .store
        .outbox_entries(which, q.community_id, limit)
        .await?;
    let ids: Vec<Uuid> = entries.iter().map(|e| e.message.id).collect();
    let mut attempts_of: HashMap<Uuid, Vec<AttemptView>> = HashMap::new();
    for (id, a) in state.store.delivery_attempts(&ids).await? {
        attempts_of.entry(id).or_default().push(AttemptView {
            attempt: a.attempt,
            at: a.at.to_string(),
            status: a.status,
            error: a.error,
        });
    }
    let mut views = Vec::with_capacity(entries.len());
    for e in entries {
        let label = match (e.delivered_at, e.parked) {
            (Some(_), _) => "delivered",
            (None, true) => "failed",
            (None, false) => "pending",
        };
        views.push(OutboxView {
            id: e.message.id,
            community_id: e.message.community_id,
            ticket_id: e.message.ticket_id,
            event_seq: e.message.event_seq,
            kind: e.message.event,
            recipient: e.message.recipient,
            state: label,
            attempts: attempts_of.remove(&e.message.id).unwrap_or_default(),
            next_attempt: (label == "pending").then(|| e.next_attempt.to_string()),
            delivered_at: e.delivered_at.map(|t| t.to_string()),
            last_error: e.last_error,
            created_at: e.message.created_at.to_string(),
        });
    }
    Ok(axum::Json(views))
}

/// Puts a parked message back in line for delivery now.
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 202, description = "queued for delivery"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "the message is not parked")),
    security(("bearer" = [])))]
async fn retry_message(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    caller.principal.may(Desk::Admin)?;
    match state.store.retry_outbox(id, state.engine.now()).await? {
        Some(true) => {
            state.engine.signals().outbox_written();
            Ok(StatusCode::ACCEPTED)
        }
        Some(false) => Err(ApiError::rejected(
            Code::NotParked,
            "only a parked (failed) message can be retried",
        )),
        None => Err(ApiError::NotFound),
    }
}
