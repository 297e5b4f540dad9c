//! Authentication as an extractor: `Authorization: Bearer <token>` → the caller, with the
//! roles the core checks and the scope the store's queries are limited to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use workflow_core::Actor;
use workflow_core::access::Principal;
use workflow_core::store::Scope;

use crate::AppState;
use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub actor: Actor,
    pub scope: Scope,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty() && t.len() <= 200)
            .ok_or(ApiError::Unauthenticated)?;
        let principal = state
            .store
            .authenticate(token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if let Some(limiter) = &state.limiter
            && let Err(not_until) = limiter.check_key(&principal.id)
        {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            return Err(ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        Ok(Caller::from_principal(principal))
    }
}

impl Caller {
    /// The caller a person is: their roles as the core's actor, their view as a scope
    /// (both the core's policy, [`workflow_core::access`]).
    pub fn from_principal(principal: Principal) -> Caller {
        let actor = principal.actor();
        let scope = principal.scope();
        Caller {
            principal,
            actor,
            scope,
        }
    }
}
