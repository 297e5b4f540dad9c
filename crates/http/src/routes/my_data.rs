//! 我的数据: everything Linli holds about the caller, as one JSON document to keep or take
//! elsewhere (PIPL arts. 45, 47): who they are, the requests they asked for with their
//! histories as they may see them, their photos, their hours and points, their sign-ins.
//! Every export is recorded.

use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use storage::audit::AuditRecord;
use storage::reports::Period;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::store::{Page, Scope, TicketFilter};

use crate::AppState;
use crate::auth::{Caller, access_record};
use crate::error::{ApiResult, Problem};
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
#[utoipa::path(get, path = "/api/v1/me/export", tag = "me",
    responses((status = 200, body = MyData), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn export(
    State(state): State<AppState>,
    caller: Caller,
    parts: Parts,
) -> ApiResult<Response> {
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
    let file = format!(
        "attachment; filename=\"linli-my-data-{}.json\"",
        now.strftime("%Y%m%d")
    );
    Ok(([(header::CONTENT_DISPOSITION, file)], axum::Json(data)).into_response())
}
