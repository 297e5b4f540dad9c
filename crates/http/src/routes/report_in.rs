//! 双报到: party members reporting in to the community where they live. A member reports in
//! from the console; a newcomer from the form the community's published code opens; the
//! community office decides and publishes the code. What the community then tells their work
//! units is [`super::feedback`]. The rules are `workflow_core::report_in` and
//! `Principal::may_report_in`, `may_take_in`, `reads_feedback`.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use storage::report_in::{ReportIn, Verdict};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::Refusal;
use workflow_core::certificate::codes;
use workflow_core::report_in::{self, Form, Status};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery, Body};
use crate::routes::people::{origin, qr_svg};
use crate::routes::reports::{community_unit, ledger_access};
use crate::routes::sessions::limit_attempts;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_report_in, report_in_myself))
        .routes(routes!(profile))
        .routes(routes!(list_report_ins))
        .routes(routes!(decide))
        .routes(routes!(current_code, publish_code))
}

/// Anyone's: the form a published code opens.
pub fn public_router() -> axum::Router<AppState> {
    axum::Router::new().route(
        "/public/v1/report-in/{code}",
        get(public_form).post(report_in_newcomer),
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInBody {
    /// The newcomer's name (the public form only).
    pub name: Option<String>,
    /// The newcomer's phone (the public form only): how the office reaches them.
    pub phone: Option<String>,
    /// 工作单位.
    pub work_unit: String,
    /// The party organisation their membership is kept by (所在党组织).
    pub party_org: String,
    /// One of the community's posts.
    pub post: String,
    #[serde(default)]
    pub skills: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ReportInView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub person_id: Option<Uuid>,
    pub name: String,
    pub work_unit: String,
    pub party_org: String,
    pub post: String,
    pub skills: Vec<String>,
    /// `pending`, `approved` or `declined`.
    pub status: String,
    pub asked_at: String,
    pub decided_at: Option<String>,
    pub reason: Option<String>,
}

fn view(r: ReportIn) -> ReportInView {
    ReportInView {
        id: r.id,
        community_id: r.community_id,
        person_id: r.person_id,
        name: r.name,
        work_unit: r.form.work_unit,
        party_org: r.form.party_org,
        post: r.form.post,
        skills: r.form.skills,
        status: r.status.as_str().to_owned(),
        asked_at: r.asked_at.to_string(),
        decided_at: r.decided_at.map(|t| t.to_string()),
        reason: r.reason,
    }
}

/// The form checked against the community's posts and the skills the categories ask for.
async fn checked(state: &AppState, community: Uuid, b: &ReportInBody) -> ApiResult<Form> {
    let posts = state.store.posts_of(community).await?;
    let form = Form {
        work_unit: b.work_unit.clone(),
        party_org: b.party_org.clone(),
        post: b.post.clone(),
        skills: b.skills.clone(),
    };
    Ok(form.checked(&posts, &state.engine.catalog().skills())?)
}

#[derive(Serialize, ToSchema)]
pub struct MyReportIn {
    pub community_id: Uuid,
    /// The posts the community offers.
    pub posts: Vec<String>,
    /// Their profile there: the report-in the office approved last.
    pub profile: Option<ReportInView>,
    /// A report-in awaiting the office.
    pub pending: Option<ReportInView>,
}

/// The caller's reporting in: their community's posts, their profile, what awaits the office.
#[utoipa::path(get, path = "/api/v1/me/report-in", tag = "volunteers",
    responses((status = 200, body = MyReportIn), (status = 403, body = Problem)),
    security(("bearer" = [])))]
async fn my_report_in(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<MyReportIn>> {
    let community = caller.principal.may_report_in()?;
    let me = caller.principal.id;
    let pending = state
        .store
        .report_ins(community, Some(Status::Pending))
        .await?
        .into_iter()
        .find(|r| r.person_id == Some(me));
    Ok(axum::Json(MyReportIn {
        community_id: community,
        posts: state.store.posts_of(community).await?,
        profile: state.store.profile(me).await?.map(view),
        pending: pending.map(view),
    }))
}

/// Report in (报到) to the community one lives in: the community office decides. One
/// report-in awaits the office at a time (another is 409).
#[utoipa::path(post, path = "/api/v1/me/report-in", tag = "volunteers", request_body = ReportInBody,
    responses((status = 201, body = ReportInView), (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn report_in_myself(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<ReportInBody>,
) -> ApiResult<(StatusCode, axum::Json<ReportInView>)> {
    let community = caller.principal.may_report_in()?;
    if b.name.is_some() || b.phone.is_some() {
        return Err(ApiError::invalid_field(
            "name and phone are the directory's: a signed-in member reports in as themself",
        ));
    }
    let form = checked(&state, community, &b).await?;
    let me = caller.principal.id;
    let waiting = state
        .store
        .report_ins(community, Some(Status::Pending))
        .await?;
    if waiting.iter().any(|r| r.person_id == Some(me)) {
        return Err(ApiError::rejected(
            Code::StaleVersion,
            "a report-in of yours awaits the community office",
        ));
    }
    let r = ReportIn {
        id: Uuid::now_v7(),
        community_id: community,
        person_id: Some(me),
        name: caller.principal.name.clone(),
        phone: None,
        form,
        status: Status::Pending,
        asked_at: state.engine.now(),
        decided_by: None,
        decided_at: None,
        reason: None,
    };
    state.store.ask_report_in(&r).await?;
    Ok((StatusCode::CREATED, axum::Json(view(r))))
}

/// A member's profile in their community: the report-in the office approved last.
#[utoipa::path(get, path = "/api/v1/members/{id}/profile", tag = "volunteers",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReportInView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn profile(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<ReportInView>> {
    ledger_access(&state, &caller, id).await?;
    let p = state.store.profile(id).await?.ok_or(ApiError::NotFound)?;
    Ok(axum::Json(view(p)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportInsQuery {
    /// `pending`, `approved` or `declined`; default all.
    pub status: Option<String>,
}

/// A community's report-ins, newest first: its staff's.
#[utoipa::path(get, path = "/api/v1/communities/{id}/report-ins", tag = "volunteers",
    params(("id" = Uuid, Path), ReportInsQuery),
    responses((status = 200, body = [ReportInView]), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn list_report_ins(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ReportInsQuery>,
) -> ApiResult<axum::Json<Vec<ReportInView>>> {
    caller
        .principal
        .reads_feedback(&community_unit(&state, id).await?)?;
    let status = q
        .status
        .as_deref()
        .map(|s| {
            Status::parse(s)
                .ok_or_else(|| ApiError::invalid_query("status is pending, approved or declined"))
        })
        .transpose()?;
    let list = state.store.report_ins(id, status).await?;
    Ok(axum::Json(list.into_iter().map(view).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    pub approve: bool,
    /// Why not: required to decline (the member is told).
    pub reason: Option<String>,
}

/// Decide a report-in: the community office. Approving takes the member in: a newcomer is
/// matched by phone to a person of the community or registered as a member (then hand them
/// a sign-in code); anyone becomes a member with the skills they named. Decided already: 409.
#[utoipa::path(post, path = "/api/v1/report-ins/{id}/decision", tag = "volunteers",
    params(("id" = Uuid, Path)), request_body = DecisionBody,
    responses((status = 200, body = ReportInView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<DecisionBody>,
) -> ApiResult<axum::Json<ReportInView>> {
    let r = state.store.report_in(id).await?.ok_or(ApiError::NotFound)?;
    caller.principal.may_take_in(r.community_id)?;
    let reason = b
        .reason
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if !b.approve && reason.is_none() {
        return Err(Refusal::Missing {
            field: "reason",
            reason: "say why the report-in is declined",
        }
        .into());
    }
    if r.status != Status::Pending {
        return Err(decided_already());
    }
    let d = Verdict {
        approve: b.approve,
        by: caller.principal.id,
        at: state.engine.now(),
        reason,
    };
    let person = state
        .store
        .decide_report_in(&r, &d)
        .await
        .map_err(|e| match e {
            workflow_core::store::StoreError::Conflict { .. } => decided_already(),
            other => other.into(),
        })?;
    tracing::info!(report_in = %id, approve = d.approve, by = %d.by, "report-in decided");
    Ok(axum::Json(view(ReportIn {
        person_id: person,
        status: if d.approve {
            Status::Approved
        } else {
            Status::Declined
        },
        decided_by: Some(d.by),
        decided_at: Some(d.at),
        reason: d.reason,
        ..r
    })))
}

fn decided_already() -> ApiError {
    ApiError::rejected(
        Code::StaleVersion,
        "this report-in was decided already: read it again",
    )
}

#[derive(Serialize, ToSchema)]
pub struct ReportInCode {
    pub code: String,
    /// The console's address that opens the form (what the QR code holds).
    pub link: String,
    /// The link as a QR code (an SVG image), for a poster.
    pub qr_svg: String,
}

fn code_view(headers: &HeaderMap, code: String) -> ApiResult<ReportInCode> {
    let link = format!("{}/#report-in/{code}", origin(headers));
    Ok(ReportInCode {
        qr_svg: qr_svg(&link)?,
        link,
        code,
    })
}

/// The code a community has published for reporting in (404: none yet).
#[utoipa::path(get, path = "/api/v1/communities/{id}/report-in-code", tag = "volunteers",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ReportInCode), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn current_code(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<ReportInCode>> {
    caller
        .principal
        .reads_feedback(&community_unit(&state, id).await?)?;
    let code = state
        .store
        .report_in_code(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(code_view(&headers, code)?))
}

/// Publish a new code for reporting in (the one before stops working): the community office.
#[utoipa::path(post, path = "/api/v1/communities/{id}/report-in-code", tag = "volunteers",
    params(("id" = Uuid, Path)),
    responses((status = 201, body = ReportInCode), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn publish_code(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<(StatusCode, axum::Json<ReportInCode>)> {
    community_unit(&state, id).await?;
    caller.principal.may_take_in(id)?;
    let now = state.engine.now();
    // Eight characters nobody misreads: the certificate number's alphabet.
    let (number, _) = codes(Uuid::new_v4(), 0);
    let code = number.rsplit('-').next().unwrap_or_default().to_owned();
    state.store.publish_report_in_code(id, &code, now).await?;
    Ok((StatusCode::CREATED, axum::Json(code_view(&headers, code)?)))
}

#[derive(Serialize)]
pub struct PublicForm {
    pub community: String,
    pub posts: Vec<String>,
    /// The skills to choose from: `(skill, in words)`.
    pub skills: Vec<(String, String)>,
}

/// The community a published code is for: 404 for a code nobody published (or replaced).
async fn code_community(state: &AppState, code: &str) -> ApiResult<Uuid> {
    let code = code.trim().to_uppercase();
    state
        .store
        .community_of_report_in_code(&code)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn public_form(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<PublicForm>> {
    let community = code_community(&state, &code).await?;
    let catalog = state.engine.catalog();
    Ok(axum::Json(PublicForm {
        community: state
            .store
            .org_unit_name(community)
            .await?
            .unwrap_or_default(),
        posts: state.store.posts_of(community).await?,
        skills: catalog
            .skills()
            .into_iter()
            .map(|s| {
                let words = catalog
                    .skill_label(&s)
                    .map_or(s.clone(), |l| l.zh_cn.clone());
                (s, words)
            })
            .collect(),
    }))
}

#[derive(Serialize)]
pub struct Asked {
    pub id: Uuid,
    pub status: &'static str,
}

/// A newcomer's report-in from the published form, without signing in: limited per address.
async fn report_in_newcomer(
    State(state): State<AppState>,
    Path(code): Path<String>,
    parts: Parts,
    Body(b): Body<ReportInBody>,
) -> ApiResult<(StatusCode, axum::Json<Asked>)> {
    limit_attempts(&state, &parts, "report-in")?;
    let community = code_community(&state, &code).await?;
    let (name, phone) = report_in::newcomer(
        b.name.as_deref().unwrap_or_default(),
        b.phone.as_deref().unwrap_or_default(),
    )?;
    let form = checked(&state, community, &b).await?;
    let r = ReportIn {
        id: Uuid::now_v7(),
        community_id: community,
        person_id: None,
        name,
        phone: Some(phone),
        form,
        status: Status::Pending,
        asked_at: state.engine.now(),
        decided_by: None,
        decided_at: None,
        reason: None,
    };
    state.store.ask_report_in(&r).await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(Asked {
            id: r.id,
            status: Status::Pending.as_str(),
        }),
    ))
}
