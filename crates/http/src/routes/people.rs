//! People as their community's office looks after them: registering residents and
//! volunteers (often from a phone call: 代办), one-time sign-in codes to hand them on paper
//! or as a QR code, signing them out everywhere, disabling them. Who may do this for whom
//! is the core's ([`workflow_core::access::Principal::may_register`], `may_look_after`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use storage::NewPerson;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::access::Refusal;
use workflow_core::session::display_code;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery, Body};
use crate::views::mask_phone;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_people, register_person))
        .routes(routes!(issue_sign_in_code))
        .routes(routes!(end_sessions))
        .routes(routes!(set_active))
        .routes(routes!(list_buildings))
        .routes(routes!(list_sign_in_requests))
        .routes(routes!(erase_person))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseBody {
    /// Must be `true`: erasure cannot be undone.
    pub confirm: bool,
}

#[derive(Serialize, ToSchema)]
pub struct ErasedView {
    /// Requests whose words (theirs) were anonymised.
    pub tickets: u64,
    pub texts: u64,
    pub photos: u64,
}

/// Erase a person (PIPL art. 47): their name, phone, home and skills, their words on every
/// request and their photos are removed for good; the requests, their states, deadlines,
/// ratings and hours stay, so the figures do not change. Anyone may ask it for themselves,
/// an office for its people; nothing of theirs may still be open. Recorded.
#[utoipa::path(post, path = "/api/v1/people/{id}/erase", tag = "people", params(("id" = Uuid, Path)),
    request_body = EraseBody,
    responses((status = 200, body = ErasedView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn erase_person(
    State(state): State<AppState>,
    caller: Caller,
    parts: axum::http::request::Parts,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<EraseBody>,
) -> ApiResult<axum::Json<ErasedView>> {
    let person = if id == caller.principal.id {
        state
            .store
            .person_ref(id)
            .await?
            .ok_or(ApiError::NotFound)?
    } else {
        looked_after(&state, &caller, id).await?
    };
    if !b.confirm {
        return Err(ApiError::invalid_field(
            "confirm must be true: erasure cannot be undone",
        ));
    }
    let (asked, held) = state.store.open_for(id).await?;
    workflow_core::erase::ready(asked, held)?;
    let now = state.engine.now();
    let erased = state.store.erase_person(id, now).await?;
    state
        .store
        .record(&storage::audit::AuditRecord {
            actor: Some(caller.principal.id),
            subject: Some(id),
            community: person.community_id,
            detail: format!(
                "{} requests, {} texts, {} photos",
                erased.tickets, erased.texts, erased.photos
            ),
            ..crate::auth::access_record(&state, &parts, "erase")
        })
        .await?;
    Ok(axum::Json(ErasedView {
        tickets: erased.tickets,
        texts: erased.texts,
        photos: erased.photos,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SignInRequestView {
    pub person_id: Uuid,
    pub name: String,
    /// Masked.
    pub phone: Option<String>,
    pub asked_at: String,
}

/// The people of the caller's community who asked at the console for a new sign-in code,
/// oldest first; issuing them a code answers the ask.
#[utoipa::path(get, path = "/api/v1/sign-in-requests", tag = "people",
    responses((status = 200, body = [SignInRequestView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_sign_in_requests(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<SignInRequestView>>> {
    let community = caller.principal.looks_after().ok_or(Refusal::Forbidden(
        "only a community office or a branch secretary sees who asked for a code",
    ))?;
    let asks = state.store.sign_in_requests(community).await?;
    Ok(axum::Json(
        asks.into_iter()
            .map(|(person_id, name, phone, at)| SignInRequestView {
                person_id,
                name,
                phone: phone.as_deref().map(mask_phone),
                asked_at: at.to_string(),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct BuildingView {
    pub id: Uuid,
    pub name: String,
}

/// The buildings of the caller's community: where the people it registers live.
#[utoipa::path(get, path = "/api/v1/buildings", tag = "people",
    responses((status = 200, body = [BuildingView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_buildings(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<BuildingView>>> {
    let community = caller.principal.looks_after().ok_or(Refusal::Forbidden(
        "only a community office or a branch secretary lists buildings",
    ))?;
    let buildings = state.store.buildings_of(community).await?;
    Ok(axum::Json(
        buildings
            .into_iter()
            .map(|(id, name)| BuildingView { id, name })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct PersonView {
    pub id: Uuid,
    pub name: String,
    /// Masked (`138****5678`).
    pub phone: Option<String>,
    pub roles: Vec<String>,
    pub building: Option<String>,
    pub active: bool,
}

#[derive(Deserialize, IntoParams)]
pub struct PeopleQuery {
    /// Only those with exactly this phone number.
    pub phone: Option<String>,
}

/// The people of the caller's community (an office's or a branch secretary's), by name.
#[utoipa::path(get, path = "/api/v1/people", tag = "people", params(PeopleQuery),
    responses((status = 200, body = [PersonView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_people(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PeopleQuery>,
) -> ApiResult<axum::Json<Vec<PersonView>>> {
    let community = caller.principal.looks_after().ok_or(Refusal::Forbidden(
        "only a community office or a branch secretary lists people",
    ))?;
    let phone = q.phone.as_deref().map(str::trim).filter(|p| !p.is_empty());
    let people = state.store.people_of(community, phone).await?;
    Ok(axum::Json(
        people
            .into_iter()
            .map(|p| PersonView {
                id: p.id,
                name: p.name,
                phone: p.phone.as_deref().map(mask_phone),
                roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
                building: p.building,
                active: p.active,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Registration {
    pub name: String,
    pub phone: Option<String>,
    /// `resident` (the default) and/or `member` (a volunteer).
    #[serde(default)]
    pub roles: Vec<String>,
    /// Their home building, in the caller's community.
    pub home_building_id: Option<Uuid>,
    #[serde(default)]
    pub skills: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Registered {
    pub id: Uuid,
}

/// Register a resident or a volunteer of the caller's community (no token: issue them a
/// sign-in code).
#[utoipa::path(post, path = "/api/v1/people", tag = "people", request_body = Registration,
    responses((status = 201, body = Registered), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn register_person(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<Registration>,
) -> ApiResult<(StatusCode, axum::Json<Registered>)> {
    let roles = if b.roles.is_empty() {
        vec![Role::Resident]
    } else {
        b.roles
            .iter()
            .map(|r| {
                Role::parse(r)
                    .ok_or_else(|| ApiError::invalid_field(format!("roles: unknown role {r:?}")))
            })
            .collect::<ApiResult<Vec<_>>>()?
    };
    let community = caller.principal.may_register(&roles)?;
    let name = b.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid_field("name must be 1 to 100 characters"));
    }
    let phone = b
        .phone
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty());
    if phone.as_ref().is_some_and(|p| p.chars().count() > 30) {
        return Err(ApiError::invalid_field(
            "phone must be at most 30 characters",
        ));
    }
    let person = NewPerson {
        name: name.to_owned(),
        phone,
        roles,
        community_id: Some(community),
        home_building_id: b.home_building_id,
        skills: b.skills,
        ..NewPerson::default()
    };
    let id = state
        .store
        .create_person(&person)
        .await
        .map_err(|e| match e {
            e @ workflow_core::store::StoreError::InvalidReference { .. } => {
                ApiError::invalid_field(e.to_string())
            }
            other => other.into(),
        })?;
    tracing::info!(person = %id, by = %caller.principal.id, "person registered");
    Ok((StatusCode::CREATED, axum::Json(Registered { id })))
}

#[derive(Serialize, ToSchema)]
pub struct SignInCode {
    /// The code, as printed and read aloud: `7KQM-2XPA` (typed with or without the dash).
    pub code: String,
    pub expires_at: String,
    /// The console's address that signs in with it (what the QR code holds).
    pub link: String,
    /// The link as a QR code (an SVG image), to print or to show on a screen.
    pub qr_svg: String,
}

/// Issue a one-time sign-in code for a person of the caller's community: single use, good
/// for 24 hours; an earlier unused code of theirs stops working.
#[utoipa::path(post, path = "/api/v1/people/{id}/sign-in-codes", tag = "people", params(("id" = Uuid, Path)),
    responses((status = 201, body = SignInCode), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn issue_sign_in_code(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, axum::Json<SignInCode>)> {
    let person = looked_after(&state, &caller, id).await?;
    if !person.active {
        return Err(ApiError::invalid_field(
            "this person is disabled: enable them first",
        ));
    }
    let now = state.engine.now();
    let day_ago = now - jiff::SignedDuration::from_hours(24);
    if state.store.codes_issued_since(id, day_ago).await?
        >= workflow_core::session::CODES_PER_PERSON_PER_DAY
    {
        return Err(ApiError::TooManyRequests {
            retry_after_secs: 3600,
        });
    }
    let (code, expires) = state
        .store
        .issue_sign_in_code(
            id,
            person.community_id,
            caller.principal.id,
            state.engine.now(),
        )
        .await?;
    let link = format!("{}/#code={code}", origin(&headers));
    let qr_svg = qr_svg(&link)?;
    tracing::info!(person = %id, by = %caller.principal.id, "sign-in code issued");
    Ok((
        StatusCode::CREATED,
        axum::Json(SignInCode {
            code: display_code(&code),
            expires_at: expires.to_string(),
            link,
            qr_svg,
        }),
    ))
}

/// A link as a QR code (an SVG image), to print or to show on a screen.
pub(crate) fn qr_svg(link: &str) -> ApiResult<String> {
    qrcode::QrCode::new(link.as_bytes())
        .map(|qr| {
            qr.render::<qrcode::render::svg::Color>()
                .min_dimensions(200, 200)
                .build()
        })
        .map_err(|e| ApiError::invalid_field(format!("the link does not fit a QR code: {e}")))
}

/// Where the console is, as the staff member's browser reached it: its `Origin` (sent with
/// every POST a browser makes), else the `Host` it asked for.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match (header("origin"), header("host")) {
        (Some(origin), _) if origin.starts_with("http") => origin.trim_end_matches('/').to_owned(),
        (_, Some(host)) => format!("http://{host}"),
        _ => String::new(),
    }
}

/// The person, if the caller looks after them; otherwise 404, as if there were nobody.
async fn looked_after(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> ApiResult<workflow_core::store::PersonRef> {
    let person = state
        .store
        .person_ref(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    caller.principal.may_look_after(person.community_id)?;
    Ok(person)
}

#[derive(Serialize, ToSchema)]
pub struct Ended {
    /// How many live sessions ended.
    pub ended: u64,
}

/// Sign a person out everywhere: every session of theirs ends (their machine tokens stay).
/// Anyone may do it for themselves.
#[utoipa::path(post, path = "/api/v1/people/{id}/sessions/end", tag = "people", params(("id" = Uuid, Path)),
    responses((status = 200, body = Ended), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn end_sessions(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Ended>> {
    if id != caller.principal.id {
        looked_after(&state, &caller, id).await?;
    }
    let ended = state
        .store
        .end_sessions(id, state.engine.now(), &state.sessions)
        .await?;
    Ok(axum::Json(Ended { ended }))
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Active {
    pub active: bool,
}

/// Disable a person (moved away, passed away, a lost phone) or enable them again: a
/// disabled person's sessions, tokens and codes stop working at once, and nothing is
/// dispatched to them.
#[utoipa::path(put, path = "/api/v1/people/{id}/active", tag = "people", params(("id" = Uuid, Path)),
    request_body = Active,
    responses((status = 200, body = Active), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn set_active(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<Active>,
) -> ApiResult<axum::Json<Active>> {
    looked_after(&state, &caller, id).await?;
    if id == caller.principal.id && !b.active {
        return Err(ApiError::invalid_field("you cannot disable yourself"));
    }
    state.store.set_active(id, b.active).await?;
    tracing::info!(person = %id, by = %caller.principal.id, active = b.active, "person active set");
    Ok(axum::Json(b))
}
