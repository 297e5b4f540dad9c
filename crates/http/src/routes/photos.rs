//! Photos on a request: the resident attaches them when asking (`request`), the handler or
//! branch staff before and after the work (`before`, `after`). Whoever sees the ticket sees its
//! photos; the bytes are checked to be the image they claim to be.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use storage::photos::{NewPhoto, PhotoInfo};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::PhotoStage;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload, list))
        .routes(routes!(download))
}

/// The largest photo accepted. The console scales a phone's photo down to about a tenth of
/// this before sending it.
pub const MAX_PHOTO_BYTES: usize = 2 * 1024 * 1024;
/// Photos per request, all stages together.
pub const MAX_PHOTOS: i64 = 6;

/// The image types accepted, each with the bytes its files begin with.
fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some("image/png"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// `request` (the requester's; the default for them), `before` or `after` (the
    /// handler's or branch staff's; `after` by default).
    pub stage: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct PhotoView {
    pub id: Uuid,
    pub stage: String,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: Uuid,
    pub created_at: String,
    /// Where the bytes are (with the same bearer token).
    pub url: String,
}

fn view(ticket: Uuid, p: PhotoInfo) -> PhotoView {
    PhotoView {
        url: format!("/api/v1/tickets/{ticket}/photos/{}", p.id),
        id: p.id,
        stage: p.stage,
        content_type: p.content_type,
        size: p.size,
        uploaded_by: p.uploaded_by,
        created_at: p.created_at.to_string(),
    }
}

/// Attach a photo (JPEG, PNG or WebP, at most 2 MiB, at most 6 per request) to an open request.
#[utoipa::path(post, path = "/api/v1/tickets/{id}/photos", tag = "tickets",
    params(("id" = Uuid, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "image/jpeg", description = "the image's bytes; Content-Type image/jpeg, image/png or image/webp"),
    responses((status = 201, body = PhotoView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<PhotoView>)> {
    let ticket = state.engine.ticket(&caller.scope, id).await?;
    let stage = match q.stage.as_deref() {
        None if ticket.requester == caller.principal.id => PhotoStage::Request,
        None | Some("after") => PhotoStage::After,
        Some("request") => PhotoStage::Request,
        Some("before") => PhotoStage::Before,
        Some(other) => {
            return Err(ApiError::invalid_field(format!(
                "stage {other:?} is not one of request, before, after"
            )));
        }
    };
    caller.principal.may_add_photo(&ticket, stage)?;
    if ticket.terminal {
        return Err(ApiError::rejected(
            Code::TicketClosed,
            "the request is closed: no more photos",
        ));
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let bytes = axum::body::to_bytes(body, MAX_PHOTO_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    match sniff(&bytes) {
        Some(kind) if kind == declared => {}
        Some(kind) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "the bytes are {kind}, not {declared:?} as the Content-Type says"
            )));
        }
        None => {
            return Err(ApiError::UnsupportedMediaType(
                "a photo is a JPEG, PNG or WebP image".into(),
            ));
        }
    }
    let photo = NewPhoto {
        ticket_id: ticket.id,
        community_id: ticket.community_id,
        stage: stage.as_str().to_owned(),
        content_type: declared,
        bytes: bytes.to_vec(),
        uploaded_by: caller.principal.id,
        at: state.engine.now(),
    };
    let Some(photo_id) = state.store.add_photo(&photo, MAX_PHOTOS).await? else {
        return Err(ApiError::rejected(
            Code::TooManyPhotos,
            format!("a request holds at most {MAX_PHOTOS} photos"),
        ));
    };
    let info = PhotoInfo {
        id: photo_id,
        stage: photo.stage,
        content_type: photo.content_type,
        size: photo.bytes.len() as i64,
        uploaded_by: photo.uploaded_by,
        created_at: photo.at,
    };
    Ok((StatusCode::CREATED, axum::Json(view(ticket.id, info))))
}

/// A request's photos, oldest first (whoever sees the request).
#[utoipa::path(get, path = "/api/v1/tickets/{id}/photos", tag = "tickets", params(("id" = Uuid, Path)),
    responses((status = 200, body = [PhotoView]), (status = 404, body = Problem)), security(("bearer" = [])))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Vec<PhotoView>>> {
    let ticket = state.engine.ticket(&caller.scope, id).await?;
    let photos = state.store.photos(ticket.id).await?;
    Ok(axum::Json(
        photos.into_iter().map(|p| view(ticket.id, p)).collect(),
    ))
}

/// One photo's bytes.
#[utoipa::path(get, path = "/api/v1/tickets/{id}/photos/{photo}", tag = "tickets",
    params(("id" = Uuid, Path), ("photo" = Uuid, Path)),
    responses((status = 200, description = "the image", content_type = "image/jpeg"), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn download(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath((id, photo)): ApiPath<(Uuid, Uuid)>,
) -> ApiResult<Response> {
    let ticket = state.engine.ticket(&caller.scope, id).await?;
    let (info, bytes) = state
        .store
        .photo(ticket.id, photo)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    let content_type = HeaderValue::from_str(&info.content_type).map_err(|_| ApiError::NotFound)?;
    h.insert(header::CONTENT_TYPE, content_type);
    // Private to this caller; never run as a page if opened on its own.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    Ok(response)
}
