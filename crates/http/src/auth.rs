//! Authentication as an extractor: `Authorization: Bearer <token>` → the caller, with the
//! roles the core checks and the scope the store's queries are limited to.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use storage::Principal;
use uuid::Uuid;
use workflow_core::store::Scope;
use workflow_core::{Actor, Role};

use crate::AppState;
use crate::error::ApiError;

#[derive(Clone, Debug)]
pub struct Caller {
    pub principal: Principal,
    pub actor: Actor,
    pub scope: Scope,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.principal.roles.contains(&role)
    }

    /// Whether internal records (internal notes) of a request by `requester` are for this
    /// caller: those who handle requests (volunteers, staff, administrators) see them, the
    /// resident who asked never does, whatever other role they hold.
    pub fn sees_internal(&self, requester: Uuid) -> bool {
        self.principal.id != requester
            && (self.is_staff() || self.has(Role::Member) || self.has(Role::Admin))
    }

    /// Branch staff and above: secretary, community office, street office.
    pub fn is_staff(&self) -> bool {
        self.has(Role::Secretary) || self.has(Role::Community) || self.has(Role::Street)
    }

    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.iter().any(|r| self.has(*r)) {
            Ok(())
        } else {
            Err(ApiError::Forbidden("your role may not use this".into()))
        }
    }
}

/// The widest view a person's roles give them.
fn scope_of(p: &Principal) -> Scope {
    let has = |r| p.roles.contains(&r);
    match (p.street_id, p.community_id, p.branch_id) {
        (Some(street), _, _) if has(Role::Street) => Scope::Street(street),
        (_, Some(c), _) if has(Role::Community) => Scope::Community(c),
        (_, _, Some(b)) if has(Role::Secretary) => Scope::Branch(b),
        _ if has(Role::Member) => Scope::Assignee {
            person: p.id,
            teams: p.teams.clone(),
            community: p.community_id,
        },
        _ => Scope::Requester(p.id),
    }
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
    /// The caller a person is: their roles as the core's actor, their view as a scope.
    pub fn from_principal(principal: Principal) -> Caller {
        let actor = Actor::new(principal.id, principal.roles.iter().copied())
            .with_teams(principal.teams.clone());
        let scope = scope_of(&principal);
        Caller {
            principal,
            actor,
            scope,
        }
    }
}
