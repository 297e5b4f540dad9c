//! Extractors whose every failure is a problem document. Bodies: malformed JSON and invalid
//! UTF-8 are 400, a wrong type or an unknown field 422, an oversize body 413. Paths and query
//! strings that do not parse (a malformed id, an unknown filter) are 400.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, Code};

/// A required JSON body.
pub struct Body<T>(pub T);

/// A JSON body that may be absent (an action that takes no fields).
pub struct OptionalBody<T>(pub Option<T>);

pub(crate) async fn bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state)
        .await
        .map_err(|r| match r.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            _ => ApiError::rejected(Code::UnreadableBody, r.body_text()),
        })
}

pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ApiError::rejected(Code::InvalidBody, e.to_string()),
        _ => ApiError::rejected(Code::InvalidJson, e.to_string()),
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let b = bytes(req, state).await?;
        if b.is_empty() {
            return Err(ApiError::rejected(
                Code::InvalidJson,
                "the request body is empty; send a JSON object",
            ));
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

/// A path whose parameters parse (`/tickets/{id}` with a real UUID), else 400.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|r| ApiError::rejected(Code::InvalidPath, r.body_text()))
    }
}

/// A query string that parses (known filters, right types), else 400.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| ApiQuery(v))
            .map_err(|r| ApiError::invalid_query(r.body_text()))
    }
}
