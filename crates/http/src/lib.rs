//! `linli-http`: the thin axum adapter. Routes parse and authenticate, hand commands to the
//! [`Engine`], and turn its answers into JSON or problem details. Nothing here decides a
//! transition: that is `workflow-core`'s job.

mod auth;
mod console;
mod error;
mod extract;
pub mod hotline;
pub mod notify;
mod open311;
mod pdf;
mod routes;
pub mod signature;
mod views;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderName;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use storage::SqlStore;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use workflow_core::Engine;

pub use auth::Caller;
pub use error::{ApiError, Problem};
pub use views::{SENSITIVE_HIDDEN, mask_phone};

/// The largest request body accepted (a request's text is at most a few thousand characters).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A client that has not sent its whole request within this is answered 408 (a slow
/// client cannot hold a worker; a photo from a phone on a weak connection still arrives).
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests per caller: a token bucket per authenticated person.
pub type CallerLimiter = governor::DefaultKeyedRateLimiter<uuid::Uuid>;

/// What every handler shares, behind one `Arc`: a request clones the state for each
/// extractor and middleware that takes it, and one reference count is cheaper than the
/// fifteen of its parts (in a profile of the server under `linli bench http`, cloning and
/// dropping the parts took about 4 % of its CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Clone)]
pub struct Shared {
    pub engine: Arc<Engine>,
    pub store: SqlStore,
    pub metrics: PrometheusHandle,
    /// `None`: unlimited.
    pub limiter: Option<Arc<CallerLimiter>>,
    /// Changes whenever messages were written: what event streams wait on. Must come from
    /// the wake-ups the Engine signals ([`AppState::with_outbox_changes`]), or streams only
    /// poll.
    pub outbox_changes: tokio::sync::watch::Receiver<u64>,
    /// Turns true when the server is stopping: long-lived responses (event streams) end,
    /// so a graceful shutdown does not wait on them forever.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// The longest the server takes to answer once a request has arrived: past it the
    /// answer is 503 (the database did not answer), never a wait on and on.
    pub deadline: Duration,
    /// How long sessions last (`linli serve --session-idle`, `--session-lifetime`).
    pub sessions: workflow_core::session::SessionPolicy,
    /// Attempts per client address and purpose (signing in, asking for a code): codes are
    /// short, guessing must stay slow.
    pub sign_in_limiter: Arc<AddressLimiter>,
    /// Whether the client's address is the last one a reverse proxy appended to
    /// `X-Forwarded-For` (only behind a proxy that sets it: otherwise a client could
    /// claim any address).
    pub trust_forwarded_for: bool,
    /// The event streams open now, per person.
    pub streams: notify::OpenStreams,
    /// The 12345 bridge, if the deployment runs one (`linli serve --hotline FILE`).
    pub hotline: Option<Arc<hotline::Bridge>>,
}

/// Requests per client address and purpose, for what is asked before anyone is signed in.
pub type AddressLimiter = governor::DefaultKeyedRateLimiter<(std::net::IpAddr, &'static str)>;

/// Sign-in attempts an address may make: a burst of ten, then one every six seconds. A
/// code is one of 31^8 (about 8.5 × 10^11); at this pace a guesser needs centuries.
fn sign_in_quota() -> governor::Quota {
    use std::num::NonZeroU32;
    governor::Quota::per_minute(NonZeroU32::new(10).expect("not zero"))
}

impl AppState {
    pub fn new(engine: Arc<Engine>, store: SqlStore) -> AppState {
        AppState(Arc::new(Shared {
            engine,
            store,
            metrics: metrics_handle(),
            limiter: None,
            outbox_changes: tokio::sync::watch::channel(0).1,
            shutdown: tokio::sync::watch::channel(false).1,
            deadline: storage::DEFAULT_TIMEOUT,
            sessions: workflow_core::session::SessionPolicy::default(),
            sign_in_limiter: Arc::new(governor::RateLimiter::keyed(sign_in_quota())),
            trust_forwarded_for: false,
            streams: notify::OpenStreams::default(),
            hotline: None,
        }))
    }

    /// The shared parts, to set while the state is built (before any request clones it).
    fn parts(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }

    /// Takes the city hotline's work orders in, as `bridge` maps them.
    pub fn with_hotline(mut self, bridge: Option<Arc<hotline::Bridge>>) -> AppState {
        self.parts().hotline = bridge;
        self
    }

    /// What anyone is shown of requests ([`workflow_core::access::Public`]).
    pub fn public(&self) -> workflow_core::access::Public<'_> {
        workflow_core::access::Public {
            catalog: self.engine.catalog(),
        }
    }

    pub fn with_sessions(mut self, policy: workflow_core::session::SessionPolicy) -> AppState {
        self.parts().sessions = policy;
        self
    }

    /// Takes the client's address from `X-Forwarded-For` (behind a reverse proxy).
    pub fn trusting_forwarded_for(mut self, trust: bool) -> AppState {
        self.parts().trust_forwarded_for = trust;
        self
    }

    /// Answers 503 to a request not answered within `deadline` of its arrival (the store's
    /// own timeout, [`storage::Options::timeout`], is the natural value).
    pub fn with_deadline(mut self, deadline: Duration) -> AppState {
        self.parts().deadline = deadline;
        self
    }

    /// Ends long-lived responses when `shutdown` turns true.
    pub fn with_shutdown(mut self, shutdown: tokio::sync::watch::Receiver<bool>) -> AppState {
        self.parts().shutdown = shutdown;
        self
    }

    /// Hears of new messages as the Engine's wake-ups tell of them, so an event stream
    /// hears of a message at once.
    pub fn with_outbox_changes(mut self, changes: tokio::sync::watch::Receiver<u64>) -> AppState {
        self.parts().outbox_changes = changes;
        self
    }

    /// Allows each caller `per_second` requests a second on average, in bursts of `burst`;
    /// past that a caller gets 429 with `Retry-After`. Zero turns the limit off.
    pub fn with_rate_limit(mut self, per_second: u32, burst: u32) -> AppState {
        use std::num::NonZeroU32;
        self.parts().limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
            Arc::new(governor::RateLimiter::keyed(
                governor::Quota::per_second(rate).allow_burst(burst),
            ))
        });
        self
    }
}

/// The process-wide Prometheus recorder (installed once, shared by every server in it).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("static buckets are valid")
                .install_recorder()
                .expect("the Prometheus recorder is installed once");
            spawn_metrics_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// How often recorded latencies are folded into their histograms' buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);
/// The thread that does it, by name (what the test looks for).
const METRICS_UPKEEP_THREAD: &str = "metrics-upkeep";

/// The recorder keeps every latency sample until something folds them into the buckets: a
/// scrape of `/metrics` does, and so must this, or a server nobody scrapes grows by every
/// request it answers (8 bytes each at the least: 70 MB a day at a hundred a second). A
/// thread of its own, as the recorder is process-wide and outlives any one runtime.
fn spawn_metrics_upkeep(handle: PrometheusHandle) {
    std::thread::Builder::new()
        .name(METRICS_UPKEEP_THREAD.into())
        .spawn(move || {
            loop {
                std::thread::sleep(METRICS_UPKEEP);
                handle.run_upkeep();
            }
        })
        .expect("a thread for the metrics' upkeep");
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Linli 邻里 API", description = "居民点单 → 支部派单 → 党员接单: requests, dispatch, SLA timers."),
    modifiers(&Security),
    tags((name = "tickets"), (name = "catalog"), (name = "me"), (name = "admin"), (name = "ops"), (name = "volunteers"))
)]
struct ApiDoc;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// Answers any route may give, declared on every operation: malformed input (400), no or a
/// bad token (401), a wrong method (405), a client too slow to send its request (408), an
/// oversize body (413), too many requests (429), the database away or not answering in time
/// (503). All are problem documents.
struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let common = [
            ("400", "malformed input: JSON, path or query"),
            ("401", "a valid bearer token is required"),
            ("405", "this route does not take that method"),
            ("408", "the client did not send the whole request in time"),
            ("413", "the body is larger than allowed"),
            ("429", "too many requests: see Retry-After"),
            (
                "503",
                "the database is unavailable or did not answer in time: see Retry-After; a change \
                 may or may not have been made (retry with the same Idempotency-Key or version)",
            ),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                // Every refusal is a problem document (RFC 9457), whatever the route declared.
                for (status, response) in op.responses.responses.iter_mut() {
                    if let (true, utoipa::openapi::RefOr::T(r)) =
                        (status.starts_with('4') || status.starts_with('5'), response)
                        && let Some(content) = r.content.shift_remove("application/json")
                    {
                        r.content
                            .insert("application/problem+json".to_owned(), content);
                    }
                }
                for (status, description) in common {
                    op.responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(description)
                                .content(
                                    "application/problem+json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("Problem")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// The API router and its OpenAPI document, built from the same route list.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(routes::tickets::router())
        .merge(routes::catalog::router())
        .merge(routes::admin::router())
        .merge(routes::outbox::router())
        .merge(routes::photos::router())
        .merge(routes::reports::router())
        .merge(routes::service::router())
        .merge(routes::report_in::router())
        .merge(routes::feedback::router())
        .merge(routes::time_bank::router())
        .merge(routes::hotline::router())
        .merge(routes::rates::router())
        .merge(routes::wall::router())
        .merge(routes::people::router())
        .merge(routes::audit::router())
        .merge(routes::my_data::router())
        .merge(routes::sessions::router())
        .merge(routes::board::router())
        .merge(routes::stream::router())
        .merge(routes::ops::router())
        .split_for_parts();
    // Declared once the routes are in: a modifier on `ApiDoc` would run before them.
    utoipa::Modify::modify(&CommonResponses, &mut openapi);
    (router, openapi)
}

/// The whole application: API, OpenAPI document, operations endpoints and middleware.
pub fn app(state: AppState) -> Router {
    let (router, openapi) = api();
    routes::ops::OPENAPI.get_or_init(|| openapi);
    let request_id = HeaderName::from_static("x-request-id");
    router
        .merge(open311::router())
        .merge(routes::board::public_router())
        .merge(routes::service::public_router())
        .merge(routes::report_in::public_router())
        .merge(routes::feedback::public_router())
        .merge(console::router())
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::after_authentication,
        ))
        .layer(middleware::from_fn(track))
        .layer(middleware::from_fn(guard_headers))
        .layer(middleware::from_fn_with_state(state.deadline, receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// Receives the whole request before the handler runs, so that the client's time and the
/// server's are told apart: a body not received within [`CLIENT_TIMEOUT`] is the client's
/// delay (408); an answer not ready within `deadline` after that is the server's, waiting on
/// its database (503 with `Retry-After`, never a 408 that blames the client). Long-lived
/// answers (event streams) are under the deadline only until their head is sent.
///
/// A body announced larger than the limit is refused before a byte of it is read, so a
/// client cannot hold a request open by trickling an oversize body; a body without a length
/// is cut off once it passes the limit. Photo uploads have a limit of their own.
async fn receive(State(deadline): State<Duration>, req: Request, next: Next) -> Response {
    let limit = if req.method() == axum::http::Method::POST && req.uri().path().ends_with("/photos")
    {
        routes::photos::MAX_PHOTO_BYTES
    } else {
        MAX_BODY_BYTES
    };
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = announced
        && n > limit as u64
    {
        let drained = n <= LINGER_FACTOR * limit as u64 && linger(req.into_body()).await;
        return closing_unless(drained, ApiError::PayloadTooLarge);
    }
    let (parts, body) = req.into_parts();
    let body = match tokio::time::timeout(CLIENT_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return closing_unless(false, ApiError::PayloadTooLarge),
        Err(_) => return closing_unless(false, ApiError::ClientTooSlow),
    };
    let req = Request::from_parts(parts, axum::body::Body::from(body));
    match tokio::time::timeout(deadline, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::NotAnsweredInTime(deadline).into_response(),
    }
}

/// Bodies up to this many times the limit are read and dropped before the refusal: a client
/// still writing into a connection the server has dropped sees a broken pipe, never the
/// 413 that says why (a resident's camera photo just over the limit must get the reason).
/// Beyond it, or after [`LINGER`], the 413 says `Connection: close` and the connection ends.
const LINGER_FACTOR: u64 = 4;
const LINGER: Duration = Duration::from_secs(10);

/// Reads and drops `body`; whether it was read to its end within [`LINGER`].
async fn linger(body: axum::body::Body) -> bool {
    use futures_util::StreamExt;
    let mut data = body.into_data_stream();
    let drain = async {
        loop {
            match data.next().await {
                Some(Ok(_)) => {}
                Some(Err(_)) => return false,
                None => return true,
            }
        }
    };
    tokio::time::timeout(LINGER, drain).await.unwrap_or(false)
}

/// The refusal, saying `Connection: close` unless the request's body was read to its end:
/// the server drops a connection whose body it left unread, and a client that reuses
/// connections (Python's `requests` does) must know not to send its next request there.
fn closing_unless(body_read: bool, refusal: ApiError) -> Response {
    let mut response = refusal.into_response();
    if !body_read {
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    response
}

/// Headers every answer carries (OWASP API8): no content sniffing, no referrer, never
/// framed; the console's page adds its Content-Security-Policy. A method no route takes
/// (`TRACE` among them) is `405` before any handler sees it.
async fn guard_headers(req: Request, next: Next) -> Response {
    use axum::http::{HeaderValue, Method, header};
    let mut response = if req.method() == Method::TRACE || req.method() == Method::CONNECT {
        ApiError::MethodNotAllowed.into_response()
    } else {
        next.run(req).await
    };
    let h = response.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Requests by route and status, and their latency.
async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("linli_http_requests_total", "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("linli_http_request_duration_seconds", "route" => route)
        .record(start.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the upkeep thread the recorder holds every latency sample until a scrape.
    #[cfg(target_os = "linux")]
    #[test]
    fn the_metrics_recorder_comes_with_a_thread_that_keeps_it_drained() {
        let _ = metrics_handle();
        let names = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .expect("the process's threads")
                .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_owned())
                .collect()
        };
        // A new thread names itself once it runs: until then it bears its parent's name.
        let started = std::time::Instant::now();
        while !names().iter().any(|n| n == METRICS_UPKEEP_THREAD) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "threads: {:?}",
                names()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
