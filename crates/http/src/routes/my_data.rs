//! 我的数据: everything Linli holds about the caller, as one JSON document to keep or take
//! elsewhere (PIPL arts. 45, 47): who they are, the requests they asked for with their
//! histories as they may see them, their photos, their hours and points, their sign-ins.
//! As a zip (`?format=zip`), the photos themselves come with it, so the download is the
//! whole of it without another request per photo. Every export is recorded.

use std::io::Write;

use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use storage::audit::AuditRecord;
use storage::reports::Period;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::store::{Page, Scope, StoreError, TicketFilter};

use crate::AppState;
use crate::auth::{Caller, access_record};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::views::{EventView, event_view};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export))
}

#[derive(Serialize, ToSchema)]
pub struct MyData {
    pub generated_at: String,
    pub profile: Profile,
    pub requests: Vec<MyRequest>,
    pub ledger: Vec<MyCredit>,
    pub sign_ins: Vec<MySignIn>,
}

#[derive(Serialize, ToSchema)]
pub struct Profile {
    pub id: Uuid,
    pub name: String,
    /// In full: it is the caller's own.
    pub phone: Option<String>,
    pub roles: Vec<String>,
    pub community_id: Option<Uuid>,
    pub home_building: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MyRequest {
    pub id: Uuid,
    pub category: String,
    pub description: String,
    pub state: String,
    pub created_at: String,
    pub rating: Option<u8>,
    pub events: Vec<EventView>,
    /// The photos on it (fetch each with the caller's token).
    pub photos: Vec<MyPhoto>,
}

#[derive(Serialize, ToSchema)]
pub struct MyPhoto {
    pub id: Uuid,
    pub stage: String,
    pub content_type: String,
    pub url: String,
    /// Where the photo is inside the zip (`?format=zip` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct ExportQuery {
    /// `zip`: `my-data.json` and every photo under `photos/`; JSON otherwise.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct MyCredit {
    pub ticket_id: Uuid,
    pub category: String,
    pub minutes: i64,
    pub points: i64,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct MySignIn {
    /// `session` (the console) or `machine` (a token issued for an integration).
    pub kind: String,
    pub issued_at: String,
    pub last_used_at: Option<String>,
    pub ends_at: Option<String>,
}

/// Everything Linli holds about the caller, as a file to download.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "me", params(ExportQuery),
    responses((status = 200, content((MyData = "application/json"), (Vec<u8> = "application/zip"))),
        (status = 400, body = Problem), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ExportQuery>,
    parts: Parts,
) -> ApiResult<Response> {
    let zip = match q.format.as_deref() {
        None | Some("json") => false,
        Some("zip") => true,
        Some(_) => return Err(ApiError::invalid_query("format must be json or zip")),
    };
    let me = &caller.principal;
    let phone = state
        .store
        .contacts(&[me.id])
        .await?
        .remove(&me.id)
        .and_then(|(_, phone)| phone);
    let home_building = match me.home_building_id {
        Some(id) => state.store.org_unit_name(id).await?,
        None => None,
    };
    let mut requests = Vec::new();
    let mut after = None;
    loop {
        let page = state
            .engine
            .list(
                &Scope::Requester(me.id),
                &TicketFilter::default(),
                Page { after, limit: 100 },
            )
            .await?;
        for t in &page {
            let events = state
                .engine
                .events(&Scope::Requester(me.id), t.id)
                .await?
                .into_iter()
                .filter(|e| me.sees_internal(t.requester) || !e.is_internal())
                .map(event_view)
                .collect();
            let photos = state
                .store
                .photos(t.id)
                .await?
                .into_iter()
                .map(|p| MyPhoto {
                    url: format!("/api/v1/tickets/{}/photos/{}", t.id, p.id),
                    file: zip.then(|| photo_file(t.id, p.id, &p.content_type)),
                    id: p.id,
                    stage: p.stage,
                    content_type: p.content_type,
                })
                .collect();
            requests.push(MyRequest {
                id: t.id,
                category: t.category.clone(),
                description: t.description.clone(),
                state: t.state.clone(),
                created_at: t.created_at.to_string(),
                rating: t.rating,
                events,
                photos,
            });
        }
        match page.last() {
            Some(last) if page.len() == 100 => after = Some(last.id),
            _ => break,
        }
    }
    let now = state.engine.now();
    let ledger = state
        .store
        .ledger(
            me.id,
            Period {
                from: jiff::Timestamp::UNIX_EPOCH,
                to: jiff::Timestamp::MAX,
            },
        )
        .await?
        .into_iter()
        .map(|e| MyCredit {
            ticket_id: e.ticket_id,
            category: e.category,
            minutes: e.minutes,
            points: e.points,
            at: e.at.to_string(),
        })
        .collect();
    let sign_ins = state
        .store
        .tokens_of(me.id)
        .await?
        .into_iter()
        .map(|t| MySignIn {
            kind: t.kind,
            issued_at: t.issued.to_string(),
            last_used_at: t.last_used.map(|t| t.to_string()),
            ends_at: t.ends.map(|t| t.to_string()),
        })
        .collect();
    let data = MyData {
        generated_at: now.to_string(),
        profile: Profile {
            id: me.id,
            name: me.name.clone(),
            phone,
            roles: me.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            community_id: me.community_id,
            home_building,
        },
        requests,
        ledger,
        sign_ins,
    };
    state
        .store
        .record(&AuditRecord {
            actor: Some(me.id),
            subject: Some(me.id),
            community: me.community_id,
            detail: format!("{} requests", data.requests.len()),
            ..access_record(&state, &parts, "export")
        })
        .await?;
    let name = format!("linli-my-data-{}", now.strftime("%Y%m%d"));
    if !zip {
        let file = format!("attachment; filename=\"{name}.json\"");
        return Ok(([(header::CONTENT_DISPOSITION, file)], axum::Json(data)).into_response());
    }
    let mut photos = Vec::new();
    for r in &data.requests {
        for p in &r.photos {
            if let Some((_, bytes)) = state.store.photo(r.id, p.id).await? {
                photos.push((p.file.clone().unwrap_or_default(), bytes));
            }
        }
    }
    let bytes = archive(&data, &photos)
        .map_err(|e| ApiError::Store(StoreError::Other(format!("writing the zip: {e}"))))?;
    let file = format!("attachment; filename=\"{name}.zip\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        bytes,
    )
        .into_response())
}

/// A photo's name inside the zip: by request, with the extension its type calls for.
fn photo_file(ticket: Uuid, photo: Uuid, content_type: &str) -> String {
    let ext = match content_type {
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        _ => "jpg",
    };
    format!("photos/{ticket}/{photo}.{ext}")
}

/// `my-data.json` and the photos, stored rather than compressed: photos are compressed
/// already, and the document is small beside them.
fn archive(data: &MyData, photos: &[(String, Vec<u8>)]) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(false);
    zip.start_file("my-data.json", stored)?;
    serde_json::to_writer_pretty(&mut zip, data).map_err(std::io::Error::from)?;
    for (name, bytes) in photos {
        zip.start_file(name.as_str(), stored)?;
        zip.write_all(bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}
