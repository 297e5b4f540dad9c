//! For operators: liveness, readiness, Prometheus metrics.

use std::time::Duration;

use tokio::time::timeout_at;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
        .routes(routes!(openapi_json))
}

#[derive(Serialize, ToSchema)]
struct Ready {
    /// The database answers.
    database: bool,
    migrations: bool,
    /// A write commits (one made lately did, or one made to find out): false while the
    /// disk is full or refuses writes, or the database takes no writes, though reads may go on.
    writes: bool,
    workflows: usize,
    /// Messages parked after their last delivery attempt, waiting for an admin to retry them
    /// (`GET /api/v1/admin/outbox?state=failed`). Said here, not failed on: the node serves.
    parked_messages: Option<i64>,
}

/// How long readiness waits on the database: it answers within a second whatever the
/// database does (a network partition leaves a query waiting, not failing).
const READY_WITHIN: Duration = Duration::from_millis(800);

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "ops", responses((status = 200, body = String)))]
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers, every migration of this build is applied, writes commit, workflows
/// are loaded; 503 otherwise, within a second.
#[utoipa::path(get, path = "/readyz", tag = "ops", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let deadline = tokio::time::Instant::now() + READY_WITHIN;
    let store = &state.store;
    let database = matches!(timeout_at(deadline, store.ping()).await, Ok(Ok(())));
    let migrations = database
        && matches!(
            timeout_at(deadline, store.migrations_applied()).await,
            Ok(Ok(true))
        );
    let writes = database && matches!(timeout_at(deadline, store.writable()).await, Ok(Ok(())));
    let workflows = state.engine.catalog().workflows.len();
    let parked_messages = match database {
        true => match timeout_at(deadline, store.outbox_counts()).await {
            Ok(Ok(c)) => Some(c.parked),
            _ => None,
        },
        false => None,
    };
    let status = if migrations && writes && workflows > 0 {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let ready = Ready {
        database,
        migrations,
        writes,
        workflows,
        parked_messages,
    };
    (status, axum::Json(ready))
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", tag = "ops", responses((status = 200, body = String)))]
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(outbox) = state.store.outbox_counts().await {
        metrics::gauge!("linli_outbox_backlog").set(outbox.pending as f64);
        metrics::gauge!("linli_outbox_parked").set(outbox.parked as f64);
    }
    if let Some(w) = state.store.writer_stats() {
        // How group commit is going: writes per batch is what a commit's cost is shared by.
        metrics::counter!("linli_store_batches_total").absolute(w.batches);
        metrics::counter!("linli_store_writes_total", "how" => "batched").absolute(w.batched);
        metrics::counter!("linli_store_writes_total", "how" => "alone").absolute(w.alone);
        metrics::counter!("linli_store_batches_reread_total").absolute(w.reread);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// The OpenAPI document, built once from the same route list as the router.
pub(crate) static OPENAPI: std::sync::OnceLock<utoipa::openapi::OpenApi> =
    std::sync::OnceLock::new();

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops", responses((status = 200, body = Object)))]
async fn openapi_json() -> impl IntoResponse {
    axum::Json(OPENAPI.get().cloned())
}
