//! Tickets: submit (点单), list, read, audit trail, workflow actions, dispatch candidates.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::{Asked, Desk, Door};
use workflow_core::engine::NewRequest;
use workflow_core::store::{Page, TicketFilter};
use workflow_core::{Assignee, EventKind, Fields, Urgency};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery, Body, OptionalBody};
use crate::views::{
    Contact, EventView, PaidView, TicketView, event_view, ticket_view, ticket_views,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(get_ticket))
        .routes(routes!(events))
        .routes(routes!(act))
        .routes(routes!(candidates))
        .routes(routes!(duplicates))
}

/// The longest `Idempotency-Key` accepted.
const MAX_KEY_LEN: usize = 200;
pub const MAX_PAGE: u32 = 100;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBody {
    /// A category code from `GET /api/v1/categories`.
    pub category: String,
    pub description: String,
    /// `normal` (default) or `urgent`.
    #[serde(default)]
    pub urgency: Option<String>,
    /// Where help is needed; defaults to the resident's home building.
    #[serde(default)]
    pub building_id: Option<Uuid>,
    /// How the request reached the community: `visit`, `phone`, `12345`, `wechat`,
    /// `console`, `api` (default; `open311` is the Open311 endpoint's).
    #[serde(default)]
    pub channel: Option<String>,
    /// Entering it for a resident of your community (代办: a volunteer or building head, the
    /// branch, the community office): the resident's id. They are the requester, are told,
    /// and see it as theirs; you are recorded as the proxy.
    #[serde(default)]
    pub on_behalf_of: Option<Uuid>,
    /// Paid with this many of the resident's time bank hours (时间银行), set aside now and
    /// paid to the volunteer when the request is done (given back if it ends undone): only a
    /// resident asking for themself, in a community that runs a time bank.
    #[serde(default)]
    pub pay_hours: Option<f64>,
}

/// The most hours one request may be paid with.
const MAX_PAY_HOURS: f64 = 100.0;

/// Submit a request (点单): a resident for themselves, or a volunteer or staff member for a
/// resident of their community (`on_behalf_of`). `Idempotency-Key` makes retries safe.
#[utoipa::path(post, path = "/api/v1/tickets", tag = "tickets", request_body = SubmitBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "retries with the same key get the first answer")),
    responses((status = 201, body = TicketView), (status = 422, body = Problem), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Body(body): Body<SubmitBody>,
) -> ApiResult<(StatusCode, axum::Json<TicketView>)> {
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or(ApiError::rejected(
                    Code::InvalidIdempotencyKey,
                    format!("Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                ))?,
        ),
    };
    let urgency = match body.urgency.as_deref() {
        None => Urgency::Normal,
        Some(u) => Urgency::parse(u).ok_or(ApiError::invalid_field(format!(
            "urgency {u:?} is not one of normal, urgent"
        )))?,
    };
    let req = NewRequest {
        category: body.category,
        urgency,
        description: body.description,
        asked: Asked {
            on_behalf_of: body.on_behalf_of,
            building_id: body.building_id,
            channel: body.channel,
        },
        door: Door::Api,
    };
    let pay = match body.pay_hours {
        None => 0,
        Some(h) => workflow_core::time_bank::minutes_of(h, MAX_PAY_HOURS).ok_or_else(|| {
            ApiError::invalid_field(format!(
                "pay_hours is above zero and at most {MAX_PAY_HOURS}"
            ))
        })?,
    };
    let ticket = state
        .engine
        .submit_paying(&caller.principal, &req, key, pay)
        .await?;
    metrics::counter!("linli_transitions_total", "workflow" => ticket.workflow_id.clone(), "action" => "submit").increment(1);
    Ok((
        StatusCode::CREATED,
        axum::Json(ticket_view(&state, &caller, ticket, Contact::Masked).await?),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    pub state: Option<String>,
    pub category: Option<String>,
    /// `me`: what is assigned to the caller.
    pub assignee: Option<String>,
    pub breached: Option<bool>,
    pub open: Option<bool>,
    /// `true`: closed requests whose follow-up call (回访) is due: the branch's task list.
    pub follow_up_due: Option<bool>,
    /// The last id of the previous page.
    pub after: Option<Uuid>,
    /// At most 100; default 20.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<Uuid>,
}

/// The tickets the caller may see, newest first, with filters and keyset pagination.
#[utoipa::path(get, path = "/api/v1/tickets", tag = "tickets", params(ListQuery),
    responses((status = 200, body = TicketPage), (status = 401, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<axum::Json<TicketPage>> {
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(caller.principal.id),
        Some(other) => Some(
            other
                .parse()
                .map_err(|_| ApiError::invalid_field("assignee is `me` or a person id"))?,
        ),
    };
    let limit = q.limit.unwrap_or(20).clamp(1, MAX_PAGE);
    let filter = TicketFilter {
        state: q.state,
        category: q.category,
        assignee,
        breached: q.breached,
        open: q.open,
        follow_up_due: q.follow_up_due,
        workflow: None,
        created_from: None,
        created_to: None,
    };
    let tickets = state
        .engine
        .list(
            &caller.scope,
            &filter,
            Page {
                after: q.after,
                limit,
            },
        )
        .await?;
    let next = (tickets.len() as u32 == limit)
        .then(|| tickets.last().map(|t| t.id))
        .flatten();
    let items = ticket_views(&state, &caller, tickets, Contact::Masked).await?;
    Ok(axum::Json(TicketPage { items, next }))
}

/// One ticket with its SLA clocks and the actions the caller may take. 404 if not visible.
#[utoipa::path(get, path = "/api/v1/tickets/{id}", tag = "tickets", params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketView), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn get_ticket(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<TicketView>> {
    let t = state.engine.ticket(&caller.scope, id).await?;
    let mut view = ticket_view(&state, &caller, t, Contact::MayReveal).await?;
    view.paid = state
        .store
        .paid_for(id)
        .await?
        .map(|(minutes, end)| PaidView {
            hours: minutes as f64 / 60.0,
            state: match end {
                workflow_core::time_bank::Kind::Pay => "paid",
                workflow_core::time_bank::Kind::Release => "returned",
                _ => "held",
            },
        });
    Ok(axum::Json(view))
}

/// The audit trail, oldest first, each event with who acted by name.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/events", tag = "tickets", params(("id" = Uuid, Path)),
    responses((status = 200, body = [EventView]), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Vec<EventView>>> {
    let events = state.engine.events(&caller.scope, id).await?;
    let requester = match events.first().map(|e| &e.kind) {
        Some(EventKind::Submitted(s)) => s.requester,
        _ => return Err(ApiError::NotFound),
    };
    let internal = caller.principal.sees_internal(requester);
    // A confidential hotline order's requester (保密) is not in its history either.
    let hidden =
        workflow_core::Ticket::replay(&events).is_ok_and(|t| !caller.principal.sees_requester(&t));
    let mut views: Vec<EventView> = events
        .into_iter()
        .filter(|e| internal || !e.is_internal())
        .map(event_view)
        .collect();
    if hidden && let Some(data) = views.first_mut().and_then(|v| v.data.as_object_mut()) {
        data.remove("requester");
    }
    // Each by name: a history reads as who did what, not as roles.
    let mut actors: Vec<Uuid> = views.iter().filter_map(|v| v.actor_id).collect();
    actors.sort();
    actors.dedup();
    let names = state.store.contacts(&actors).await?;
    for v in &mut views {
        v.actor_name = v
            .actor_id
            .and_then(|id| names.get(&id))
            .map(|(n, _)| n.clone());
    }
    Ok(axum::Json(views))
}

/// The body of any workflow action. Only the fields the action takes are accepted.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// The ticket version this action is based on (recommended): a stale one is a 409.
    pub version: Option<u64>,
    /// A person to hand the ticket to…
    pub assignee: Option<Uuid>,
    /// …or a team whose pool receives it (抢单).
    pub team: Option<Uuid>,
    pub reason: Option<String>,
    pub note: Option<String>,
    pub rating: Option<u8>,
    pub hours: Option<f64>,
    /// More time asked for (延期), in working time: `"4h"`, `"2wd"`.
    pub extend_by: Option<String>,
    /// The request to merge this one under (并单): see `GET /api/v1/tickets/{id}/duplicates`.
    pub parent: Option<Uuid>,
    /// Whether the caller was contacted about the result (已联系诉求人): a hotline order's
    /// `resolve` requires it.
    pub contacted: Option<bool>,
}

/// Take a workflow action (`triage`, `dispatch`, `accept`, `complete`, `confirm`, …).
#[utoipa::path(post, path = "/api/v1/tickets/{id}/actions/{action}", tag = "tickets",
    params(("id" = Uuid, Path), ("action" = String, Path)), request_body = ActionBody,
    responses((status = 200, body = TicketView), (status = 409, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, action)): ApiPath<(Uuid, String)>,
    OptionalBody(body): OptionalBody<ActionBody>,
) -> ApiResult<axum::Json<TicketView>> {
    let b = body.unwrap_or_default();
    let assignee = match (b.assignee, b.team) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid_field(
                "give either assignee or team, not both",
            ));
        }
        (Some(p), None) => Some(Assignee::Person(p)),
        (None, Some(t)) => Some(Assignee::Team(t)),
        (None, None) => None,
    };
    let fields = Fields {
        assignee,
        reason: b.reason,
        note: b.note,
        rating: b.rating,
        hours: b.hours,
        extend_by: b.extend_by,
        parent: b.parent,
        contacted: b.contacted,
    };
    let t = state
        .engine
        .act(&caller.actor, &caller.scope, id, &action, b.version, fields)
        .await?;
    metrics::counter!("linli_transitions_total", "workflow" => t.workflow_id.clone(), "action" => action).increment(1);
    Ok(axum::Json(
        ticket_view(&state, &caller, t, Contact::Masked).await?,
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Candidate {
    pub id: Uuid,
    pub name: String,
    /// The sum of the reasons' points.
    pub score: i32,
    /// Why this rank, each reason with its points.
    pub reasons: Vec<CandidateReason>,
    /// False for members who are away, at their maximum of open requests, or who handed
    /// this request back: listed last, never picked automatically.
    pub eligible: bool,
}

#[derive(Serialize, ToSchema)]
pub struct CandidateReason {
    /// Stable code: `skill_match`, `same_building`, `load`, `full`, `away`, …
    pub code: String,
    pub points: i32,
    /// In plain words, Chinese.
    pub text: String,
    pub text_en: String,
}

/// A request that may be the same as this one (并单).
#[derive(Serialize, ToSchema)]
pub struct DuplicateView {
    /// `same_building` or `same_compound`.
    pub nearness: &'static str,
    pub ticket: TicketView,
}

/// Open requests that may be the same as this one, to merge it under (staff only): the same
/// category, asked from the same building or compound within the workflow's `[merging]`
/// window. Same building first, then the nearest in time. Merge with the `merge` action and
/// `parent`.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/duplicates", tag = "tickets", params(("id" = Uuid, Path)),
    responses((status = 200, body = [DuplicateView]), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn duplicates(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Vec<DuplicateView>>> {
    caller.principal.may(Desk::Dispatch)?;
    let found = state.engine.duplicates(&caller.scope, id).await?;
    let (tickets, nearness): (Vec<_>, Vec<_>) = found.into_iter().unzip();
    let views = ticket_views(&state, &caller, tickets, Contact::Masked).await?;
    Ok(axum::Json(
        views
            .into_iter()
            .zip(nearness)
            .map(|(ticket, near)| DuplicateView {
                nearness: near.as_str(),
                ticket,
            })
            .collect(),
    ))
}

/// Volunteers ranked for dispatch, best first, with the reasons (staff only). The automatic
/// dispatch picks the first eligible one of the same ranking.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/candidates", tag = "tickets", params(("id" = Uuid, Path)),
    responses((status = 200, body = [Candidate]), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn candidates(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Vec<Candidate>>> {
    caller.principal.may(Desk::Dispatch)?;
    let ranked = state.engine.candidates(&caller.scope, id).await?;
    let catalog = state.engine.catalog();
    let out = ranked
        .into_iter()
        .map(|r| Candidate {
            id: r.id,
            name: r.name,
            score: r.score,
            eligible: r.eligible,
            reasons: r
                .reasons
                .into_iter()
                .map(|(reason, points)| CandidateReason {
                    code: serde_json::to_value(&reason)
                        .ok()
                        .and_then(|v| v["code"].as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    points,
                    text: reason.text(false, |s| {
                        catalog
                            .skill_label(s)
                            .map_or(s.to_owned(), |l| l.zh_cn.clone())
                    }),
                    text_en: reason.text(true, |s| {
                        catalog
                            .skill_label(s)
                            .map_or(s.to_owned(), |l| l.en.clone())
                    }),
                })
                .collect(),
        })
        .collect();
    Ok(axum::Json(out))
}
