//! The one mapping from core, Engine and store errors to RFC 9457 problem details. Every
//! error a client sees has a stable `code`; nothing else in the crate picks a status.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use workflow_core::CommandError;
use workflow_core::access::Refusal;
use workflow_core::engine::EngineError;
use workflow_core::store::StoreError;

/// A problem details document (`application/problem+json`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The stable machine-readable code.
    pub code: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid bearer token is required")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("no such route")]
    NoRoute,
    #[error("this route does not take that method")]
    MethodNotAllowed,
    #[error("too many requests: try again in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("{detail}")]
    Unprocessable { code: &'static str, detail: String },
    #[error("{detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("the request body is larger than allowed")]
    PayloadTooLarge,
    #[error("the request did not arrive in full in time")]
    ClientTooSlow,
    #[error(
        "no answer within {} s: the database did not answer in time. Whether a change was made \
         is unknown: retry with the same Idempotency-Key or version (safe), or read the ticket",
        .0.as_secs_f32()
    )]
    NotAnsweredInTime(std::time::Duration),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError::Engine(EngineError::Refused(r))
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        ApiError::Engine(EngineError::Command(e))
    }
}

impl ApiError {
    /// The HTTP status and the problem `code` of this error.
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        self.parts()
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Unauthenticated => (S::UNAUTHORIZED, "unauthenticated"),
            ApiError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
            ApiError::NotFound => (S::NOT_FOUND, "not_found"),
            ApiError::NoRoute => (S::NOT_FOUND, "no_such_route"),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::TooManyRequests { .. } => (S::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::BadRequest { code, .. } => (S::BAD_REQUEST, code),
            ApiError::Unprocessable { code, .. } => (S::UNPROCESSABLE_ENTITY, code),
            ApiError::Conflict { code, .. } => (S::CONFLICT, code),
            ApiError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::ClientTooSlow => (S::REQUEST_TIMEOUT, "request_timeout"),
            ApiError::NotAnsweredInTime(_) => (S::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::UnsupportedMediaType(_) => {
                (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Engine(e) => match e {
                EngineError::Command(c) => (command_status(c), c.code()),
                EngineError::NotFound => (S::NOT_FOUND, "not_found"),
                EngineError::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
                EngineError::IdempotencyMismatch => {
                    (S::UNPROCESSABLE_ENTITY, "idempotency_mismatch")
                }
                EngineError::WorkflowMissing(_) => (S::INTERNAL_SERVER_ERROR, "workflow_missing"),
                EngineError::Refused(r) => match r {
                    Refusal::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
                    Refusal::Missing { .. } => (S::UNPROCESSABLE_ENTITY, "missing_field"),
                    Refusal::Invalid { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_field"),
                    Refusal::Hidden => (S::NOT_FOUND, "not_found"),
                },
                EngineError::Store(s) => store_parts(s),
            },
            ApiError::Store(s) => store_parts(s),
        }
    }
}

fn command_status(e: &CommandError) -> StatusCode {
    match e {
        CommandError::StaleVersion { .. }
        | CommandError::NotAllowedInState { .. }
        | CommandError::NotNow { .. } => StatusCode::CONFLICT,
        CommandError::RoleNotAllowed { .. } => StatusCode::FORBIDDEN,
        CommandError::UnknownAction { .. } => StatusCode::NOT_FOUND,
        CommandError::MissingField { .. }
        | CommandError::InvalidField { .. }
        | CommandError::FieldNotAccepted { .. }
        | CommandError::UnknownCategory(_) => StatusCode::UNPROCESSABLE_ENTITY,
        CommandError::TicketFull => StatusCode::UNPROCESSABLE_ENTITY,
        CommandError::WrongWorkflow { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn store_parts(e: &StoreError) -> (StatusCode, &'static str) {
    match e {
        StoreError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        StoreError::Conflict { .. } => (StatusCode::CONFLICT, "stale_version"),
        StoreError::IdempotencyMismatch(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_mismatch")
        }
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            _ if status == StatusCode::SERVICE_UNAVAILABLE => Some(5),
            _ => None,
        };
        let detail = match status {
            // Internal details stay in the log, not in the response.
            StatusCode::INTERNAL_SERVER_ERROR => {
                tracing::error!(error = %self, "internal error");
                "an internal error occurred; it has been logged".to_owned()
            }
            _ => self.to_string(),
        };
        let problem = Problem {
            kind: format!("https://linli.example/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
