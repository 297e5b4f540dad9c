//! JSON request bodies whose every failure is a problem document: malformed JSON and
//! invalid UTF-8 are 400, a wrong type or an unknown field 422, an oversize body 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A required JSON body.
pub struct Body<T>(pub T);

/// A JSON body that may be absent (an action that takes no fields).
pub struct OptionalBody<T>(pub Option<T>);

async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|r| match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::BadRequest {
                code: "invalid_body",
                detail: r.body_text(),
            },
        })
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::Unprocessable {
            code: "invalid_body",
            detail: e.to_string(),
        },
        _ => ApiError::BadRequest {
            code: "invalid_json",
            detail: e.to_string(),
        },
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let b = bytes(req, state).await?;
        if b.is_empty() {
            return Err(ApiError::BadRequest {
                code: "invalid_json",
                detail: "the request body is empty; send a JSON object".into(),
            });
        }
        parse(&b).map(Body)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OptionalBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let b = bytes(req, state).await?;
        if b.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(None));
        }
        parse(&b).map(|v| OptionalBody(Some(v)))
    }
}
