//! Open311 GeoReport v2 under `/open311/v2/`: discovery, the service list and definitions
//! (our categories), creating a request, reading one or a filtered list, and request ids
//! from tokens, each in `.json` and `.xml`, with the spec's field names, status values,
//! W3C dates and error documents. An Open311 request is a normal ticket (channel `open311`)
//! in its category's workflow, visible to its branch like any other.
//!
//! Where we depart from the spec (docs/OPEN311.md): reads need an `api_key` too, and see
//! what that key's person may see — requests carry residents' words and addresses; the
//! requester is the `api_key`'s person (the contact fields are not stored); a location is
//! our `address_id` (a building id) or the requester's home building.

mod format;

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Value, json};
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Refusal};
use workflow_core::engine::{EngineError, NewRequest};
use workflow_core::store::{Page, Scope, TicketFilter};
use workflow_core::{Ticket, Urgency};

pub use format::Format;
use format::{error, render};

use crate::AppState;

const SPEC: &str = "http://wiki.open311.org/GeoReport_v2";
/// The most requests one list answer carries (the spec's suggested ceiling).
const MAX_LIST: u32 = 1000;
/// How far back a list looks when no `start_date` is given (the spec's default window).
const DEFAULT_DAYS: i64 = 90;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(top_get).post(create))
        .route("/open311/v2/services/{file}", get(definition))
        .route("/open311/v2/requests/{file}", get(one_request))
        .route("/open311/v2/tokens/{file}", get(token))
}

type Params = HashMap<String, String>;

fn bad(format: Format, what: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, format, what)
}

fn not_found(format: Format) -> Response {
    error(StatusCode::NOT_FOUND, format, "not found")
}

fn unknown_format() -> Response {
    error(
        StatusCode::NOT_FOUND,
        Format::Json,
        "unknown format: use .json or .xml",
    )
}

/// The `api_key`'s person: who submits, and what they may read.
async fn caller(
    state: &AppState,
    format: Format,
    params: &Params,
) -> Result<crate::auth::Caller, Response> {
    let key = params
        .get("api_key")
        .map(|k| k.trim())
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| error(StatusCode::UNAUTHORIZED, format, "api_key is required"))?;
    let signed_in = state
        .store
        .authenticate_at(key, state.engine.now(), &state.sessions)
        .await;
    let principal = match signed_in {
        // A key travels in the URL: a console session's token is not one.
        Ok(Some(a)) if a.kind == workflow_core::session::TokenKind::Machine => a.principal,
        Ok(_) => {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                format,
                "api_key is not valid",
            ));
        }
        Err(e) => {
            return Err(error(
                StatusCode::SERVICE_UNAVAILABLE,
                format,
                e.to_string(),
            ));
        }
    };
    // The same per-person budget as the API: a key is a person's token.
    if let Some(limiter) = &state.limiter
        && limiter.check_key(&principal.id).is_err()
    {
        return Err(error(
            StatusCode::TOO_MANY_REQUESTS,
            format,
            "too many requests: try again shortly",
        ));
    }
    Ok(crate::auth::Caller::from_principal(principal))
}

/// Who reads: the key's person (their scope), or, without a key, anyone: GeoReport v2 reads
/// are anonymous, and an anonymous reader sees every request in its public form
/// ([`workflow_core::access::Public`]).
enum Reader {
    Person(Scope),
    Anyone,
}

impl Reader {
    fn scope(&self) -> Scope {
        match self {
            Reader::Person(scope) => scope.clone(),
            Reader::Anyone => Scope::Everything,
        }
    }

    fn public(&self) -> bool {
        matches!(self, Reader::Anyone)
    }
}

async fn reader(state: &AppState, format: Format, params: &Params) -> Result<Reader, Response> {
    match params.get("api_key").map(|k| k.trim()) {
        None | Some("") => Ok(Reader::Anyone),
        Some(_) => Ok(Reader::Person(caller(state, format, params).await?.scope)),
    }
}

async fn top_get(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    let Some((name, format)) = Format::split(&file) else {
        return unknown_format();
    };
    match name {
        "discovery" => discovery(&headers, format),
        "services" => services(&state, format),
        "requests" => list(&state, format, &params).await,
        _ => not_found(format),
    }
}

fn discovery(headers: &HeaderMap, format: Format) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let changeset = "2026-11-22T00:00:00+08:00";
    let doc = json!({
        "changeset": changeset,
        "contact": "所在社区居委会 / your community office",
        "key_service": "api_key: the Linli token your community office issued you",
        "endpoints": [{
            "specification": SPEC,
            "url": format!("http://{host}/open311/v2"),
            "changeset": changeset,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    });
    render(StatusCode::OK, format, "discovery", &doc)
}

fn services(state: &AppState, format: Format) -> Response {
    let catalog = state.engine.catalog();
    let doc: Vec<Value> = catalog
        .categories
        .values()
        .map(|c| {
            json!({
                "service_code": c.code,
                "service_name": c.label.zh_cn,
                "description": c.label.en,
                "metadata": false,
                "type": "realtime",
                "keywords": c.skills.join(","),
                "group": c.workflow,
            })
        })
        .collect();
    render(StatusCode::OK, format, "services", &Value::Array(doc))
}

async fn definition(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((code, format)) = Format::split(&file) else {
        return unknown_format();
    };
    if state.engine.catalog().category(code).is_none() {
        return not_found(format);
    }
    // Our categories ask nothing beyond the description: no extra attributes.
    let doc = json!({ "service_code": code, "attributes": [] });
    render(StatusCode::OK, format, "service_definition", &doc)
}

async fn create(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Form(params): Form<Params>,
) -> Response {
    let format = match Format::split(&file) {
        Some(("requests", f)) => f,
        Some((_, f)) => {
            return error(
                StatusCode::METHOD_NOT_ALLOWED,
                f,
                "only requests may be posted",
            );
        }
        None => return unknown_format(),
    };
    let caller = match caller(&state, format, &params).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(code) = params.get("service_code").filter(|c| !c.is_empty()) else {
        return bad(format, "service_code is required");
    };
    let description = params.get("description").map(|d| d.trim()).unwrap_or("");
    if description.is_empty() {
        return bad(format, "description is required");
    }
    let building_id = match params.get("address_id").filter(|a| !a.is_empty()) {
        Some(a) => match a.parse::<Uuid>() {
            Ok(id) => Some(id),
            Err(_) => return bad(format, "address_id must be a building id"),
        },
        None => None,
    };
    let req = NewRequest {
        category: code.clone(),
        urgency: Urgency::Normal,
        description: description.to_owned(),
        asked: Asked {
            building_id,
            ..Asked::default()
        },
        door: Door::Open311,
    };
    match state.engine.submit(&caller.principal, &req, None).await {
        Ok(t) => {
            metrics::counter!("linli_transitions_total", "workflow" => t.workflow_id.clone(), "action" => "submit")
                .increment(1);
            let doc = json!([{
                "service_request_id": t.id.to_string(),
                "service_notice": "",
                "account_id": Value::Null,
            }]);
            render(StatusCode::CREATED, format, "service_requests", &doc)
        }
        Err(e) => engine_error(format, e),
    }
}

/// The spec knows 400 for what we call 422 (a field the request cannot take), and calls the
/// building an address.
fn engine_error(format: Format, e: EngineError) -> Response {
    let description = match &e {
        EngineError::Refused(Refusal::Missing {
            field: "building_id",
            reason,
        }) => format!("address_id is required: {reason}"),
        e => e.to_string(),
    };
    let status = crate::error::ApiError::Engine(e).code().status();
    let status = match status {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    };
    error(status, format, description)
}

async fn one_request(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let Some((id, format)) = Format::split(&file) else {
        return unknown_format();
    };
    let reader = match reader(&state, format, &params).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(format);
    };
    match state.engine.ticket(&reader.scope(), id).await {
        Ok(t) if reader.public() && !state.public().shows(&t) => not_found(format),
        Ok(t) => {
            let doc = Value::Array(request_docs(&state, &[t], reader.public()).await);
            render(StatusCode::OK, format, "service_requests", &doc)
        }
        Err(EngineError::NotFound) => not_found(format),
        Err(e) => engine_error(format, e),
    }
}

/// Our requests are created at once, so a token is the request's id.
async fn token(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(params): Query<Params>,
) -> Response {
    let Some((tok, format)) = Format::split(&file) else {
        return unknown_format();
    };
    let reader = match reader(&state, format, &params).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let Ok(id) = tok.parse::<Uuid>() else {
        return not_found(format);
    };
    match state.engine.ticket(&reader.scope(), id).await {
        Ok(t) if reader.public() && !state.public().shows(&t) => not_found(format),
        Ok(t) => {
            let doc = json!([{ "service_request_id": t.id.to_string(), "token": tok }]);
            render(StatusCode::OK, format, "service_requests", &doc)
        }
        Err(_) => not_found(format),
    }
}

fn parse_date(name: &str, v: Option<&String>) -> Result<Option<Timestamp>, String> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<Timestamp>()
            .map(Some)
            .map_err(|_| format!("{name} must be a W3C date-time, e.g. 2026-11-22T08:00:00+08:00")),
    }
}

async fn list(state: &AppState, format: Format, params: &Params) -> Response {
    let reader = match reader(state, format, params).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let scope = reader.scope();
    let public = state.public();
    let shown = |t: &Ticket| !reader.public() || public.shows(t);
    // Named requests: each one the caller may see, in the order asked.
    if let Some(ids) = params.get("service_request_id").filter(|s| !s.is_empty()) {
        let mut tickets = Vec::new();
        for id in ids.split(',').take(MAX_LIST as usize) {
            if let Ok(id) = id.trim().parse::<Uuid>()
                && let Ok(t) = state.engine.ticket(&scope, id).await
                && shown(&t)
            {
                tickets.push(t);
            }
        }
        return render(
            StatusCode::OK,
            format,
            "service_requests",
            &Value::Array(request_docs(state, &tickets, reader.public()).await),
        );
    }
    let (start, end) = match (
        parse_date("start_date", params.get("start_date")),
        parse_date("end_date", params.get("end_date")),
    ) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(why), _) | (_, Err(why)) => return bad(format, why),
    };
    let open = match params.get("status").map(String::as_str) {
        None | Some("") => None,
        Some("open") => Some(true),
        Some("closed") => Some(false),
        Some(s) if s.split(',').all(|x| matches!(x, "open" | "closed")) => None,
        Some(_) => return bad(format, "status must be open, closed or both"),
    };
    let end = end.unwrap_or_else(|| state.engine.now());
    let start = start.unwrap_or(end - jiff::SignedDuration::from_hours(24 * DEFAULT_DAYS));
    let filter = TicketFilter {
        category: params
            .get("service_code")
            .filter(|s| !s.is_empty())
            .cloned(),
        open,
        created_from: Some(start),
        created_to: Some(end),
        ..TicketFilter::default()
    };
    let page = Page {
        after: None,
        limit: MAX_LIST,
    };
    match state.engine.list(&scope, &filter, page).await {
        Ok(tickets) => {
            let tickets: Vec<Ticket> = tickets.into_iter().filter(|t| shown(t)).collect();
            render(
                StatusCode::OK,
                format,
                "service_requests",
                &Value::Array(request_docs(state, &tickets, reader.public()).await),
            )
        }
        Err(e) => engine_error(format, e),
    }
}

/// W3C date-time in the deployment's zone, as the spec's examples give them.
fn w3c(t: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    t.to_zoned(zone.clone())
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// The requests with the spec's fields (in their public form for an anonymous reader);
/// each branch's name is read once.
async fn request_docs(state: &AppState, tickets: &[Ticket], public: bool) -> Vec<Value> {
    let mut agencies: HashMap<Uuid, String> = HashMap::new();
    let mut docs = Vec::with_capacity(tickets.len());
    for t in tickets {
        if let Entry::Vacant(slot) = agencies.entry(t.branch_id) {
            let name = state.store.branch_name(t.branch_id).await.ok().flatten();
            slot.insert(name.unwrap_or_default());
        }
        docs.push(request_doc(state, t, &agencies[&t.branch_id], public));
    }
    docs
}

/// One request with the spec's fields; in its public form without the resident's words or
/// the building (what [`workflow_core::access::Public`] says an anonymous reader sees).
fn request_doc(state: &AppState, t: &Ticket, agency: &str, public: bool) -> Value {
    let public = public.then(|| state.public());
    let catalog = state.engine.catalog();
    let zone = catalog.time_zone();
    let w3c = |t: Timestamp| w3c(t, &zone);
    let wf = catalog.workflow(&t.workflow_id, t.workflow_version);
    let label = wf
        .and_then(|w| w.state_id(&t.state).map(|s| w.state(s).label.clone()))
        .map_or_else(|| t.state.clone(), |l| format!("{} ({})", l.zh_cn, l.en));
    let service_name = catalog
        .category(&t.category)
        .map_or_else(|| t.category.clone(), |c| c.label.zh_cn.clone());
    // The resolution deadline if there is one, else the latest running deadline.
    let expected = t
        .clocks
        .iter()
        .find(|c| c.name == "resolution")
        .and_then(|c| c.due)
        .or_else(|| t.clocks.iter().filter_map(|c| c.due).max());
    json!({
        "service_request_id": t.id.to_string(),
        "status": if t.terminal { "closed" } else { "open" },
        "status_notes": label,
        "service_name": service_name,
        "service_code": t.category,
        "description": match &public {
            Some(p) if !p.shows_description() => "",
            _ => t.description.as_str(),
        },
        "agency_responsible": agency,
        "service_notice": "",
        "requested_datetime": w3c(t.created_at),
        "updated_datetime": w3c(t.updated_at),
        "expected_datetime": expected.map(w3c),
        "address": "",
        "address_id": match &public {
            Some(p) if !p.shows_place() => None,
            _ => t.building_id.map(|b| b.to_string()),
        },
        "zipcode": "",
        "lat": Value::Null,
        "long": Value::Null,
        "media_url": "",
    })
}
