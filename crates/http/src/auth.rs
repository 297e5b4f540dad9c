//! Authentication as an extractor: `Authorization: Bearer <token>` → the caller, with the
//! roles the core checks and the scope the store's queries are limited to.

use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::HeaderValue;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
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
    /// Signed in with a machine token (an integration's), not a console session.
    pub machine: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let signed_in = state
            .store
            .authenticate_at(token, state.engine.now(), &state.sessions)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if let Some(slot) = parts.extensions.get::<RequestSlot>() {
            let mut slot = slot.0.lock().expect("never poisoned");
            slot.person = Some(signed_in.principal.id);
            slot.community = signed_in.principal.community_id;
            slot.replacement = signed_in.replacement;
        }
        let machine = signed_in.kind == workflow_core::session::TokenKind::Machine;
        let principal = signed_in.principal;
        if let Some(limiter) = &state.limiter
            && let Err(not_until) = limiter.check_key(&principal.id)
        {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            return Err(ApiError::TooManyRequests {
                retry_after_secs: wait.as_secs().max(1),
            });
        }
        Ok(Caller {
            machine,
            ..Caller::from_principal(principal)
        })
    }
}

/// The token of `Authorization: Bearer …`, if it has the shape of one.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
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
            machine: false,
        }
    }
}

/// The response header that hands a client the token replacing its session's (a session
/// past half its idle time is rotated on use; `workflow_core::session`). The console keeps
/// the new one; the old one is taken for a couple of minutes more.
pub const REPLACEMENT_HEADER: &str = "linli-session-token";

/// What the authentication of a request leaves for after its answer: who asked (for the
/// record of a refusal) and their session's replacement token.
#[derive(Clone, Default)]
struct RequestSlot(Arc<Mutex<Signed>>);

#[derive(Default)]
struct Signed {
    person: Option<uuid::Uuid>,
    community: Option<uuid::Uuid>,
    replacement: Option<String>,
}

/// Gives each request a [`RequestSlot`]; after the answer, sends what authentication left as
/// [`REPLACEMENT_HEADER`] (never in a body or a URL), and records a signed-in person's
/// refused read of an object (403, or 404 on a path naming one).
pub async fn after_authentication(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let slot = RequestSlot::default();
    req.extensions_mut().insert(slot.clone());
    // Kept cheaply (reference-counted copies) in case the answer is a refusal to record.
    let method = req.method().clone();
    let uri = req.uri().clone();
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .cloned();
    let (parts, body) = req.into_parts();
    let stamp = (
        parts.headers.get("x-request-id").cloned(),
        client_address(&parts, state.trust_forwarded_for),
    );
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let signed = std::mem::take(&mut *slot.0.lock().expect("never poisoned"));
    if let Some(value) = signed
        .replacement
        .and_then(|t| HeaderValue::from_str(&t).ok())
    {
        response.headers_mut().insert(REPLACEMENT_HEADER, value);
    }
    let status = response.status();
    let Some(person) = signed.person else {
        return response;
    };
    let object = || {
        uri.path()
            .split('/')
            .find_map(|segment| segment.parse::<uuid::Uuid>().ok())
    };
    let refused = status == axum::http::StatusCode::FORBIDDEN
        || (status == axum::http::StatusCode::NOT_FOUND && object().is_some());
    if refused {
        let (request_id, address) = stamp;
        let record = storage::audit::AuditRecord {
            at: state.engine.now(),
            kind: "refused".into(),
            actor: Some(person),
            subject: object(),
            community: signed.community,
            detail: format!(
                "{method} {} → {}",
                route.as_ref().map_or("?", |r| r.as_str()),
                status.as_u16()
            ),
            ticket: None,
            request_id: request_id.and_then(|v| v.to_str().ok().map(str::to_owned)),
            address: Some(address.to_string()),
        };
        if let Err(e) = state.store.record(&record).await {
            tracing::warn!(error = %e, "a refusal could not be recorded");
        }
    }
    response
}

/// The request's id (the `x-request-id` its answer carries).
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// An access record of something `parts`'s request did, stamped with the service's time,
/// the request's id and its client's address; the caller fills in who, whom and what.
pub fn access_record(state: &AppState, parts: &Parts, kind: &str) -> storage::audit::AuditRecord {
    storage::audit::AuditRecord {
        at: state.engine.now(),
        kind: kind.to_owned(),
        actor: None,
        subject: None,
        community: None,
        detail: String::new(),
        ticket: None,
        request_id: request_id(&parts.headers),
        address: Some(client_address(parts, state.trust_forwarded_for).to_string()),
    }
}

/// The address a request came from: the connection's peer, or, behind a trusted reverse
/// proxy, the last address it appended to `X-Forwarded-For`. Unknown (no connection
/// information, as in-process tests) is one shared address.
pub fn client_address(parts: &Parts, trust_forwarded_for: bool) -> std::net::IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| parts.headers.get_all("x-forwarded-for").iter().next_back())
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|a| a.trim().parse().ok());
    forwarded
        .or_else(|| {
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip())
        })
        .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(forwarded: &[&str], peer: Option<&str>) -> Parts {
        let mut req = axum::http::Request::builder();
        for f in forwarded {
            req = req.header("x-forwarded-for", *f);
        }
        let (mut parts, ()) = req.body(()).unwrap().into_parts();
        if let Some(peer) = peer {
            parts.extensions.insert(axum::extract::ConnectInfo(
                peer.parse::<std::net::SocketAddr>().unwrap(),
            ));
        }
        parts
    }

    #[test]
    fn the_client_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() {
        let via_proxy = parts(&["1.2.3.4, 10.0.0.7", "192.0.2.9"], Some("10.0.0.1:5000"));
        assert_eq!(client_address(&via_proxy, false).to_string(), "10.0.0.1");
        // The last entry is the one the proxy appended; earlier ones are the client's word.
        assert_eq!(client_address(&via_proxy, true).to_string(), "192.0.2.9");
        let direct = parts(&[], Some("203.0.113.5:443"));
        assert_eq!(client_address(&direct, true).to_string(), "203.0.113.5");
        assert!(client_address(&parts(&[], None), false).is_unspecified());
    }
}
