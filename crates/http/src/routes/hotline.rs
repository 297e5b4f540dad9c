//! The 12345 bridge over HTTP (docs/HOTLINE.md): the platform sends work orders and its word on
//! them, signed with the bridge's secret and under its integration's token; it reads an
//! order back as Linli holds it. Who may is the access policy's `may_bridge`; what an order
//! becomes is the Engine's (`Engine::take_order`, `Engine::platform_event`).

use std::sync::Arc;

use axum::extract::{FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::Ticket;
use workflow_core::engine::hotline::{OrderPlace, Taken};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, bytes, parse};
use crate::hotline::{Bridge, OrderBody, PlatformEventBody};
use crate::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use crate::views::{Contact, TicketView, ticket_view};

/// The longest event id (`Idempotency-Key`) accepted.
const MAX_KEY_LEN: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(take_order))
        .routes(routes!(order))
        .routes(routes!(platform_event))
}

/// The deployment's bridge, or 404: without one, there is no such thing as an order.
fn bridge(state: &AppState) -> Result<Arc<Bridge>, ApiError> {
    state.hotline.clone().ok_or_else(|| {
        ApiError::rejected(
            Code::NotFound,
            "this deployment runs no 12345 bridge (linli serve --hotline FILE)",
        )
    })
}

/// A JSON body signed with the bridge's secret (`Linli-Timestamp`, `Linli-Signature`, as
/// the webhooks are): 401 when the signature is missing, wrong or too old.
pub struct Signed<T>(pub T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let headers = req.headers();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (timestamp, signature) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER));
        let bridge = bridge(state)?;
        let body = bytes(req, state).await?;
        let signed = match (timestamp.and_then(|t| t.parse::<i64>().ok()), signature) {
            (Some(t), Some(s)) => {
                verify(&bridge.secret, t, &body, &s, state.engine.now().as_second())
            }
            _ => false,
        };
        if !signed {
            return Err(ApiError::rejected(
                Code::Unauthenticated,
                "the body must be signed with the bridge's secret: Linli-Timestamp (seconds, within 5 minutes) and Linli-Signature (v1=HMAC-SHA256 of \"{timestamp}.{body}\")",
            ));
        }
        parse(&body).map(Signed)
    }
}

/// What became of an order.
#[derive(Serialize, ToSchema)]
pub struct TakenView {
    pub order_number: String,
    pub ticket_id: Uuid,
    /// `new`: a ticket made; `same`: sent before as it is; `updated`: sent before, the change
    /// recorded on its ticket.
    pub outcome: &'static str,
    pub state: String,
    pub version: u64,
}

/// Orders and the platform's events come from an integration, signed in with its machine
/// token: a person's console session is not one, whatever their office.
fn integration(caller: &Caller) -> ApiResult<()> {
    if caller.machine {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the 12345 bridge takes an integration's machine token, not a console session".into(),
        ))
    }
}

/// The caller may bridge the order's community (the access policy's word).
async fn may_bridge(state: &AppState, caller: &Caller, community: Uuid) -> ApiResult<()> {
    let unit = state
        .store
        .unit(community)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(caller.principal.may_bridge(&unit)?)
}

/// Take a work order in (工单下派): a new ticket, or the one it already is. Idempotent by order
/// number: sent again as it is, the same ticket (200, `same`); changed, the change recorded
/// on it (200, `updated`).
#[utoipa::path(post, path = "/api/v1/hotline/orders", tag = "hotline", request_body = OrderBody,
    params(("Linli-Timestamp" = i64, Header), ("Linli-Signature" = String, Header)),
    responses((status = 201, body = TakenView), (status = 200, body = TakenView),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "this deployment runs no 12345 bridge"),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn take_order(
    State(state): State<AppState>,
    caller: Caller,
    Signed(body): Signed<OrderBody>,
) -> ApiResult<(StatusCode, axum::Json<TakenView>)> {
    let bridge = bridge(&state)?;
    integration(&caller)?;
    let (order, place) = body
        .read(&bridge)
        .map_err(|(field, why)| ApiError::invalid_field(format!("{field}: {why}")))?;
    may_bridge(&state, &caller, place.community_id).await?;
    let requester = match state.engine.order_ticket(&order.facts.order_number).await? {
        // Sent again: the ticket it is must be the integration's too, wherever it is now.
        Some(held) => {
            may_bridge(&state, &caller, held.community_id).await?;
            held.requester
        }
        None => {
            state
                .store
                .hotline_caller(
                    place.community_id,
                    place.branch_id,
                    &order.requester.name,
                    &order.requester.phone,
                    state.engine.now(),
                )
                .await?
        }
    };
    let taken = state
        .engine
        .take_order(
            &caller.principal,
            &bridge.workflow,
            &order,
            OrderPlace {
                community_id: place.community_id,
                branch_id: place.branch_id,
                requester,
            },
        )
        .await?;
    let (status, outcome) = match &taken {
        Taken::New(_) => (StatusCode::CREATED, "new"),
        Taken::Same(_) => (StatusCode::OK, "same"),
        Taken::Updated(_) => (StatusCode::OK, "updated"),
    };
    let t = taken.ticket();
    metrics::counter!("linli_hotline_orders_total", "outcome" => outcome).increment(1);
    Ok((
        status,
        axum::Json(TakenView {
            order_number: order.facts.order_number.clone(),
            ticket_id: t.id,
            outcome,
            state: t.state.clone(),
            version: t.version,
        }),
    ))
}

/// The ticket of an order number the integration may bridge.
async fn order_of(state: &AppState, caller: &Caller, number: &str) -> ApiResult<Ticket> {
    let t = state
        .engine
        .order_ticket(number)
        .await?
        .ok_or(ApiError::NotFound)?;
    may_bridge(state, caller, t.community_id).await?;
    Ok(t)
}

/// An order as Linli holds it: its state, its clocks and deadlines, what the platform sent.
#[utoipa::path(get, path = "/api/v1/hotline/orders/{number}", tag = "hotline",
    params(("number" = String, Path)),
    responses((status = 200, body = TicketView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn order(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
) -> ApiResult<axum::Json<TicketView>> {
    bridge(&state)?;
    let t = order_of(&state, &caller, &number).await?;
    Ok(axum::Json(
        ticket_view(&state, &caller, t, Contact::Masked).await?,
    ))
}

/// The platform's word on an order: a reminder (催办) or supervision (督办), its answer to an
/// extension request or a return, its follow-up call (回访). Idempotent by the event's id
/// (`Idempotency-Key`): sent again, it is taken once.
#[utoipa::path(post, path = "/api/v1/hotline/orders/{number}/events", tag = "hotline",
    params(("number" = String, Path), ("Linli-Timestamp" = i64, Header), ("Linli-Signature" = String, Header),
        ("Idempotency-Key" = String, Header, description = "the platform's id of the event: sent again, it is taken once")),
    request_body = PlatformEventBody,
    responses((status = 200, body = TakenView), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn platform_event(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    headers: HeaderMap,
    Signed(body): Signed<PlatformEventBody>,
) -> ApiResult<axum::Json<TakenView>> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
        .ok_or(ApiError::rejected(
            Code::InvalidIdempotencyKey,
            format!("the platform's id of the event, in Idempotency-Key: 1 to {MAX_KEY_LEN} visible ASCII characters"),
        ))?;
    integration(&caller)?;
    order_of(&state, &caller, &number).await?;
    let t = state
        .engine
        .platform_event(&caller.principal, &number, key, &body.event())
        .await?;
    Ok(axum::Json(TakenView {
        order_number: number,
        ticket_id: t.id,
        outcome: "updated",
        state: t.state,
        version: t.version,
    }))
}
