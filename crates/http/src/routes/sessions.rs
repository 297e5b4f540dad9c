//! Signing in with a one-time code, and signing out. The session's token is in the answer's
//! body once and in the `Authorization` header after that, never in a URL.

use axum::extract::State;
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use storage::audit::AuditRecord;

use crate::AppState;
use crate::auth::{Caller, access_record, client_address};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Body;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(ask_for_code))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The phone number the office has for the person.
    pub phone: String,
}

/// Ask for a new sign-in code (a lost slip, a new phone): the office of whoever has this
/// phone number sees the ask and hands a code over. Always 202: the answer says nothing of
/// whether the number is known. Limited per address like sign-in.
#[utoipa::path(post, path = "/api/v1/sign-in-requests", tag = "sessions", request_body = AskBody,
    responses((status = 202), (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn ask_for_code(
    State(state): State<AppState>,
    parts: Parts,
    Body(b): Body<AskBody>,
) -> ApiResult<StatusCode> {
    limit_attempts(&state, &parts, "ask")?;
    let phone = b.phone.trim();
    if phone.is_empty() || phone.chars().count() > 30 {
        return Err(ApiError::invalid_field("phone must be 1 to 30 characters"));
    }
    let asked = state
        .store
        .ask_for_sign_in_code(phone, state.engine.now())
        .await?;
    tracing::info!(asked, "a new sign-in code was asked for");
    Ok(StatusCode::ACCEPTED)
}

/// One attempt of this address at `purpose` (signing in, asking for a code), each with a
/// budget of its own (429 past it).
pub(crate) fn limit_attempts(
    state: &AppState,
    parts: &Parts,
    purpose: &'static str,
) -> ApiResult<()> {
    let key = (client_address(parts, state.trust_forwarded_for), purpose);
    state.sign_in_limiter.check_key(&key).map_err(|not_until| {
        use governor::clock::Clock;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        }
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The code staff handed over: `7KQM-2XPA`, in any case, with or without the dash.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session's token: send it as `Authorization: Bearer …`. An answer may carry a
    /// replacement in the `Linli-Session-Token` header; keep that one from then on.
    pub token: String,
    pub person_id: Uuid,
    /// The latest the session lasts, however much it is used.
    pub ends_at: String,
}

/// Exchange a one-time sign-in code for a session. A wrong, used or expired code is one
/// answer (401); attempts per address are limited (429).
#[utoipa::path(post, path = "/api/v1/sessions", tag = "sessions", request_body = CodeBody,
    responses((status = 201, body = SessionView), (status = 401, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    Body(b): Body<CodeBody>,
) -> ApiResult<(StatusCode, axum::Json<SessionView>)> {
    limit_attempts(&state, &parts, "sign-in")?;
    let session = state
        .store
        .exchange_sign_in_code(&b.code, state.engine.now(), &state.sessions)
        .await?;
    let kind = if session.is_some() {
        "sign_in"
    } else {
        "sign_in_failed"
    };
    let record = AuditRecord {
        actor: session.as_ref().map(|s| s.person),
        subject: session.as_ref().map(|s| s.person),
        community: None,
        detail: if session.is_some() {
            "a one-time code".into()
        } else {
            "a wrong, used or expired code".into()
        },
        ..access_record(&state, &parts, kind)
    };
    state.store.record(&record).await?;
    let session = session.ok_or(ApiError::Unauthenticated)?;
    tracing::info!(person = %session.person, "signed in with a code");
    Ok((
        StatusCode::CREATED,
        axum::Json(SessionView {
            token: session.token,
            person_id: session.person,
            ends_at: session.ends.to_string(),
        }),
    ))
}

/// Sign out: the session of the token this is sent with ends (every token of it).
#[utoipa::path(delete, path = "/api/v1/sessions/current", tag = "sessions",
    responses((status = 204), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn sign_out(
    State(state): State<AppState>,
    _caller: Caller,
    parts: Parts,
) -> ApiResult<StatusCode> {
    let token = crate::auth::bearer(&parts.headers).ok_or(ApiError::Unauthenticated)?;
    state.store.end_session(token, state.engine.now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
