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

use crate::AppState;
use crate::auth::{Caller, client_address};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::Body;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
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
    responses((status = 201, body = SessionView), (status = 401, body = Problem), (status = 429, body = Problem)))]
async fn sign_in(
    State(state): State<AppState>,
    parts: Parts,
    Body(b): Body<CodeBody>,
) -> ApiResult<(StatusCode, axum::Json<SessionView>)> {
    let address = client_address(&parts, state.trust_forwarded_for);
    if let Err(not_until) = state.sign_in_limiter.check_key(&address) {
        use governor::clock::Clock;
        let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
        return Err(ApiError::TooManyRequests {
            retry_after_secs: wait.as_secs().max(1),
        });
    }
    let session = state
        .store
        .exchange_sign_in_code(&b.code, state.engine.now(), &state.sessions)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
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
