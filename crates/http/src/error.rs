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
    pub code: Code,
}

/// Every code a problem document can carry, each with the one status it is sent with.
/// `docs/ERRORS.md` says what each means and what a client does about it (a unit test holds
/// that list and this one equal).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidJson,
    UnreadableBody,
    InvalidQuery,
    InvalidPath,
    InvalidIdempotencyKey,
    Unauthenticated,
    Forbidden,
    RoleNotAllowed,
    NotFound,
    NoSuchRoute,
    UnknownAction,
    MethodNotAllowed,
    RequestTimeout,
    StaleVersion,
    ActionNotAllowed,
    NotNow,
    TicketClosed,
    NotParked,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidBody,
    MissingField,
    InvalidField,
    FieldNotAccepted,
    UnknownCategory,
    TicketFull,
    TooManyPhotos,
    IdempotencyMismatch,
    RateLimited,
    Internal,
    WorkflowMissing,
    WrongWorkflow,
    Unavailable,
    NotEnoughHours,
}

impl Code {
    pub const ALL: [Code; 34] = [
        Code::InvalidJson,
        Code::UnreadableBody,
        Code::InvalidQuery,
        Code::InvalidPath,
        Code::InvalidIdempotencyKey,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::RoleNotAllowed,
        Code::NotFound,
        Code::NoSuchRoute,
        Code::UnknownAction,
        Code::MethodNotAllowed,
        Code::RequestTimeout,
        Code::StaleVersion,
        Code::ActionNotAllowed,
        Code::NotNow,
        Code::TicketClosed,
        Code::NotParked,
        Code::PayloadTooLarge,
        Code::UnsupportedMediaType,
        Code::InvalidBody,
        Code::MissingField,
        Code::InvalidField,
        Code::FieldNotAccepted,
        Code::UnknownCategory,
        Code::TicketFull,
        Code::TooManyPhotos,
        Code::IdempotencyMismatch,
        Code::RateLimited,
        Code::Internal,
        Code::WorkflowMissing,
        Code::WrongWorkflow,
        Code::Unavailable,
        Code::NotEnoughHours,
    ];

    pub fn status(self) -> StatusCode {
        use Code as C;
        use StatusCode as S;
        match self {
            C::InvalidJson
            | C::UnreadableBody
            | C::InvalidQuery
            | C::InvalidPath
            | C::InvalidIdempotencyKey => S::BAD_REQUEST,
            C::Unauthenticated => S::UNAUTHORIZED,
            C::Forbidden | C::RoleNotAllowed => S::FORBIDDEN,
            C::NotFound | C::NoSuchRoute | C::UnknownAction => S::NOT_FOUND,
            C::MethodNotAllowed => S::METHOD_NOT_ALLOWED,
            C::RequestTimeout => S::REQUEST_TIMEOUT,
            C::StaleVersion
            | C::ActionNotAllowed
            | C::NotNow
            | C::TicketClosed
            | C::NotParked
            | C::NotEnoughHours => S::CONFLICT,
            C::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            C::UnsupportedMediaType => S::UNSUPPORTED_MEDIA_TYPE,
            C::InvalidBody
            | C::MissingField
            | C::InvalidField
            | C::FieldNotAccepted
            | C::UnknownCategory
            | C::TicketFull
            | C::TooManyPhotos
            | C::IdempotencyMismatch => S::UNPROCESSABLE_ENTITY,
            C::RateLimited => S::TOO_MANY_REQUESTS,
            C::Internal | C::WorkflowMissing | C::WrongWorkflow => S::INTERNAL_SERVER_ERROR,
            C::Unavailable => S::SERVICE_UNAVAILABLE,
        }
    }

    /// The code as it is written in a problem document (as serde writes it: a test holds
    /// the two equal).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::InvalidJson => "invalid_json",
            Code::UnreadableBody => "unreadable_body",
            Code::InvalidQuery => "invalid_query",
            Code::InvalidPath => "invalid_path",
            Code::InvalidIdempotencyKey => "invalid_idempotency_key",
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::RoleNotAllowed => "role_not_allowed",
            Code::NotFound => "not_found",
            Code::NoSuchRoute => "no_such_route",
            Code::UnknownAction => "unknown_action",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::RequestTimeout => "request_timeout",
            Code::StaleVersion => "stale_version",
            Code::ActionNotAllowed => "action_not_allowed",
            Code::NotNow => "not_now",
            Code::TicketClosed => "ticket_closed",
            Code::NotParked => "not_parked",
            Code::PayloadTooLarge => "payload_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::InvalidBody => "invalid_body",
            Code::MissingField => "missing_field",
            Code::InvalidField => "invalid_field",
            Code::FieldNotAccepted => "field_not_accepted",
            Code::UnknownCategory => "unknown_category",
            Code::TicketFull => "ticket_full",
            Code::TooManyPhotos => "too_many_photos",
            Code::IdempotencyMismatch => "idempotency_mismatch",
            Code::RateLimited => "rate_limited",
            Code::Internal => "internal",
            Code::WorkflowMissing => "workflow_missing",
            Code::WrongWorkflow => "wrong_workflow",
            Code::Unavailable => "unavailable",
            Code::NotEnoughHours => "not_enough_hours",
        }
    }
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
    /// A request refused for what it says: a malformed query, a field out of range, a state
    /// the resource is not in; the code says which (and so the status).
    #[error("{detail}")]
    Rejected { code: Code, detail: String },
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
    /// A request refused with `code`, saying why in `detail`.
    pub fn rejected(code: Code, detail: impl Into<String>) -> Self {
        ApiError::Rejected {
            code,
            detail: detail.into(),
        }
    }

    /// A query string that does not parse or is out of range (400).
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        ApiError::rejected(Code::InvalidQuery, detail)
    }

    /// A `format` the route does not serve (400); `served`: the ones it does, in words.
    pub fn unknown_format(asked: &str, served: &str) -> Self {
        ApiError::invalid_query(format!("format is {served}, not {asked:?}"))
    }

    /// A field whose value is refused (422).
    pub fn invalid_field(detail: impl Into<String>) -> Self {
        ApiError::rejected(Code::InvalidField, detail)
    }

    /// The problem code of this error, and so its status.
    pub fn code(&self) -> Code {
        match self {
            ApiError::Unauthenticated => Code::Unauthenticated,
            ApiError::Forbidden(_) => Code::Forbidden,
            ApiError::NotFound => Code::NotFound,
            ApiError::NoRoute => Code::NoSuchRoute,
            ApiError::MethodNotAllowed => Code::MethodNotAllowed,
            ApiError::TooManyRequests { .. } => Code::RateLimited,
            ApiError::Rejected { code, .. } => *code,
            ApiError::PayloadTooLarge => Code::PayloadTooLarge,
            ApiError::ClientTooSlow => Code::RequestTimeout,
            ApiError::NotAnsweredInTime(_) => Code::Unavailable,
            ApiError::UnsupportedMediaType(_) => Code::UnsupportedMediaType,
            ApiError::Engine(e) => engine_code(e),
            ApiError::Store(s) => store_code(s),
        }
    }
}

fn engine_code(e: &EngineError) -> Code {
    match e {
        EngineError::Command(c) => command_code(c),
        EngineError::NotFound => Code::NotFound,
        EngineError::Invalid { .. } => Code::InvalidField,
        EngineError::IdempotencyMismatch => Code::IdempotencyMismatch,
        EngineError::WorkflowMissing(_) => Code::WorkflowMissing,
        EngineError::TooManyToday { .. } => Code::RateLimited,
        EngineError::Refused(r) => match r {
            Refusal::Forbidden(_) => Code::Forbidden,
            Refusal::Missing { .. } => Code::MissingField,
            Refusal::Invalid { .. } => Code::InvalidField,
            Refusal::Hidden => Code::NotFound,
        },
        EngineError::Store(s) => store_code(s),
    }
}

fn command_code(e: &CommandError) -> Code {
    match e {
        CommandError::UnknownAction { .. } => Code::UnknownAction,
        CommandError::NotAllowedInState { .. } => Code::ActionNotAllowed,
        CommandError::NotNow { .. } => Code::NotNow,
        CommandError::RoleNotAllowed { .. } => Code::RoleNotAllowed,
        CommandError::StaleVersion { .. } => Code::StaleVersion,
        CommandError::MissingField { .. } => Code::MissingField,
        CommandError::InvalidField { .. } => Code::InvalidField,
        CommandError::FieldNotAccepted { .. } => Code::FieldNotAccepted,
        CommandError::UnknownCategory(_) => Code::UnknownCategory,
        CommandError::TicketFull => Code::TicketFull,
        CommandError::WrongWorkflow { .. } => Code::WrongWorkflow,
    }
}

fn store_code(e: &StoreError) -> Code {
    match e {
        StoreError::Unavailable(_) => Code::Unavailable,
        StoreError::Conflict { .. } => Code::StaleVersion,
        StoreError::IdempotencyMismatch(_) => Code::IdempotencyMismatch,
        StoreError::InvalidReference { .. } => Code::InvalidField,
        StoreError::NotEnoughHours { .. } => Code::NotEnoughHours,
        StoreError::Duplicate(_)
        | StoreError::WorkflowChanged { .. }
        | StoreError::TimerGone
        | StoreError::Other(_) => Code::Internal,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = code.status();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Engine(EngineError::TooManyToday {
                retry_after_secs, ..
            }) => Some(*retry_after_secs),
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
            kind: format!("https://linli.example/problems/{}", code.as_str()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::Code;

    #[test]
    fn every_code_is_written_as_serde_writes_it_and_once() {
        let mut seen = BTreeSet::new();
        for code in Code::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(seen.insert(code.as_str()), "{} twice", code.as_str());
        }
    }

    /// docs/ERRORS.md is the list a client reads: each code in it once, none missing, none
    /// that the server cannot send, with the status it is sent with.
    #[test]
    fn docs_errors_lists_every_code_with_its_status() {
        let doc = include_str!("../../../docs/ERRORS.md");
        let rows: Vec<(String, u16)> = doc
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((code.to_owned(), cells.get(2)?.parse().ok()?))
            })
            .collect();
        let documented: BTreeSet<(String, u16)> = rows.iter().cloned().collect();
        assert_eq!(documented.len(), rows.len(), "a code listed twice");
        let sent: BTreeSet<(String, u16)> = Code::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), c.status().as_u16()))
            .collect();
        assert_eq!(documented, sent);
    }
}
