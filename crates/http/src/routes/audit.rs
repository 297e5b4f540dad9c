//! The access records (PIPL art. 56), for an administrator or a street office: who signed
//! in or failed to, who exported or erased whose data, whose number was read in full, whose
//! read of an object was refused; JSON or CSV. Nothing here changes a record.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use storage::audit::AuditFilter;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit))
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Done by or about this person.
    pub person: Option<Uuid>,
    /// About this person or request.
    pub subject: Option<Uuid>,
    /// From this instant (RFC 3339), inclusive.
    pub from: Option<String>,
    /// Up to this instant, exclusive.
    pub to: Option<String>,
    /// At most this many, newest first (default 500, at most 10,000).
    pub limit: Option<u32>,
    /// `csv` for a spreadsheet; JSON otherwise.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditView {
    pub at: String,
    /// `sign_in`, `sign_in_failed`, `contact_read`, `export`, `erase`, `refused`, `retention`.
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub subject_id: Option<Uuid>,
    pub community_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub detail: String,
    pub request_id: Option<String>,
    pub address: Option<String>,
}

fn instant(name: &str, v: Option<&String>) -> ApiResult<Option<Timestamp>> {
    v.map(|s| {
        s.parse::<Timestamp>()
            .map_err(|_| ApiError::invalid_query(format!("{name} must be an RFC 3339 instant")))
    })
    .transpose()
}

/// The access records, newest first.
#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, body = [AuditView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn audit(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Response> {
    let street = caller.principal.audit_view()?;
    let filter = AuditFilter {
        person: q.person,
        subject: q.subject,
        from: instant("from", q.from.as_ref())?,
        to: instant("to", q.to.as_ref())?,
        street,
        limit: q.limit.unwrap_or(500).clamp(1, 10_000),
    };
    let records: Vec<AuditView> = state
        .store
        .audit(&filter)
        .await?
        .into_iter()
        .map(|r| AuditView {
            at: r.at.to_string(),
            kind: r.kind,
            actor_id: r.actor,
            subject_id: r.subject,
            community_id: r.community,
            ticket_id: r.ticket,
            detail: r.detail,
            request_id: r.request_id,
            address: r.address,
        })
        .collect();
    Ok(match q.format.as_deref() {
        Some("csv") => csv(&records).into_response(),
        _ => axum::Json(records).into_response(),
    })
}

/// The records as CSV (RFC 4180), with a byte order mark so a spreadsheet reads the Chinese.
fn csv(records: &[AuditView]) -> Response {
    let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let mut out = String::from(
        "\u{feff}at,kind,actor_id,subject_id,community_id,ticket_id,detail,request_id,address\r\n",
    );
    for r in records {
        let line = [
            field(&r.at),
            field(&r.kind),
            id(r.actor_id),
            id(r.subject_id),
            id(r.community_id),
            id(r.ticket_id),
            field(&r.detail),
            field(r.request_id.as_deref().unwrap_or("")),
            field(r.address.as_deref().unwrap_or("")),
        ]
        .join(",");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response()
}
