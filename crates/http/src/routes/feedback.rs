//! Feedback sheets (反馈单): what a community tells the work units of the members who reported
//! in to it (双报到), a sheet per unit and quarter, made from their service records; the
//! community office signs a sheet off, which freezes it; the work unit reads its own with the
//! sheet's number and check code. The rules are `workflow_core::report_in` and
//! `Principal::may_take_in`, `reads_feedback`.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use storage::feedback::SignedSheet;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::certificate::codes;
use workflow_core::report_in::{self, Reported, Service, Sheet};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery, Body};
use crate::routes::reports::community_unit;
use crate::routes::service::days;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(feedback))
        .routes(routes!(sign_sheet))
        .routes(routes!(signed_sheet))
}

/// Anyone's with the code: a work unit's signed sheet.
pub fn public_router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/public/v1/feedback-sheets/{number}", get(work_unit_json))
        .route("/feedback/{number}", get(work_unit_page))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FeedbackQuery {
    /// A calendar quarter, `2026Q3`; or `from` and `to`; by default, this quarter.
    pub period: Option<String>,
    /// The first day (`YYYY-MM-DD`).
    pub from: Option<String>,
    /// The last day, inclusive.
    pub to: Option<String>,
    /// `csv`: every sheet's lines in one table.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceView {
    pub date: String,
    pub content: String,
    pub hours: f64,
    pub rating: Option<i64>,
    pub correction: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SheetLineView {
    pub person_id: Uuid,
    pub name: String,
    pub post: String,
    pub hours: f64,
    pub services: i64,
    pub done: Vec<ServiceView>,
}

#[derive(Serialize, ToSchema)]
pub struct SheetView {
    pub work_unit: String,
    pub from: String,
    pub to: String,
    pub hours: f64,
    pub services: i64,
    pub members: Vec<SheetLineView>,
    /// Signed off: its number, who and when (the sheet is frozen); else none.
    pub number: Option<String>,
    pub signed_at: Option<String>,
    pub remark: Option<String>,
    pub issuer: Option<String>,
}

fn sheet_view(sheet: Sheet, from: &str, to: &str) -> SheetView {
    SheetView {
        work_unit: sheet.work_unit,
        from: from.to_owned(),
        to: to.to_owned(),
        hours: sheet.minutes as f64 / 60.0,
        services: sheet.services,
        members: sheet
            .lines
            .into_iter()
            .map(|l| SheetLineView {
                person_id: l.member.person,
                name: l.member.name,
                post: l.member.post,
                hours: l.minutes as f64 / 60.0,
                services: l.count,
                done: l
                    .services
                    .into_iter()
                    .map(|s| ServiceView {
                        date: s.day,
                        content: s.content,
                        hours: s.minutes as f64 / 60.0,
                        rating: s.rating,
                        correction: s.correction,
                    })
                    .collect(),
            })
            .collect(),
        number: None,
        signed_at: None,
        remark: None,
        issuer: None,
    }
}

fn signed_view(s: SignedSheet) -> SheetView {
    SheetView {
        number: Some(s.number),
        signed_at: Some(s.signed_at.to_string()),
        remark: Some(s.remark),
        issuer: Some(s.issuer),
        ..sheet_view(s.sheet, &s.from_day, &s.to_day)
    }
}

#[derive(Serialize, ToSchema)]
pub struct Named {
    pub person_id: Uuid,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct FeedbackView {
    pub from: String,
    pub to: String,
    /// One sheet per work unit, as it stands now (a signed one as signed).
    pub sheets: Vec<SheetView>,
    /// Members who reported in and did no service in the period.
    pub idle: Vec<Named>,
    /// The community's members who have not reported in.
    pub not_reported: Vec<Named>,
}

/// The period a query names, as first and last day; by default, this quarter.
fn feedback_days(state: &AppState, q: &FeedbackQuery) -> ApiResult<(String, String)> {
    match (&q.period, &q.from, &q.to) {
        (None, None, None) => {
            let today = state
                .engine
                .now()
                .to_zoned(state.engine.catalog().time_zone());
            let (f, t) = report_in::quarter_of(today.date());
            Ok((f.to_string(), t.to_string()))
        }
        (Some(p), None, None) => report_in::quarter(p)
            .map(|(f, t)| (f.to_string(), t.to_string()))
            .ok_or_else(|| ApiError::invalid_query("period is a quarter: 2026Q3")),
        (None, Some(f), Some(t)) => Ok((f.clone(), t.clone())),
        _ => Err(ApiError::invalid_query(
            "name the period: ?period=2026Q3, or ?from= and ?to= (dates), or none for this quarter",
        )),
    }
}

/// The sheets of a community's period as they stand: from the service records of the
/// members it took in.
async fn live_sheets(
    state: &AppState,
    community: Uuid,
    from: &str,
    to: &str,
) -> ApiResult<(Vec<Sheet>, Vec<Reported>)> {
    let p = days(state, from, to)?;
    let reported = state.store.reported_in(community).await?;
    let catalog = state.engine.catalog();
    let zone = catalog.time_zone();
    let services: Vec<Service> = state
        .store
        .service_records_of_reported(community, p)
        .await?
        .into_iter()
        .map(|(person, r)| Service {
            person,
            day: r.entry.at.to_zoned(zone.clone()).date().to_string(),
            content: catalog
                .category(&r.entry.category)
                .map_or(r.entry.category.clone(), |c| c.label.zh_cn.clone()),
            minutes: r.entry.minutes,
            rating: r.rating,
            correction: r.entry.is_correction(),
        })
        .collect();
    Ok((report_in::sheets(&reported, &services), reported))
}

/// A community's feedback sheets for a period, one per work unit, with the members who did
/// no service and those who have not reported in: its staff's. A signed sheet is shown as
/// signed.
#[utoipa::path(get, path = "/api/v1/communities/{id}/feedback", tag = "volunteers",
    params(("id" = Uuid, Path), FeedbackQuery),
    responses((status = 200, body = FeedbackView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn feedback(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<FeedbackQuery>,
) -> ApiResult<Response> {
    caller
        .principal
        .reads_feedback(&community_unit(&state, id).await?)?;
    let (from, to) = feedback_days(&state, &q)?;
    let (live, _) = live_sheets(&state, id, &from, &to).await?;
    let idle = report_in::idle(&live)
        .into_iter()
        .map(|m| Named {
            person_id: m.person,
            name: m.name.clone(),
        })
        .collect();
    let signed = state.store.signed_sheets(id, &from, &to).await?;
    let mut sheets = Vec::new();
    for sheet in live {
        let frozen = signed
            .iter()
            .find(|(_, unit, f, t, _)| *unit == sheet.work_unit && *f == from && *t == to);
        sheets.push(match frozen {
            Some((number, ..)) => match state.store.feedback_sheet(number).await? {
                Some(s) => signed_view(s),
                None => sheet_view(sheet, &from, &to),
            },
            None => sheet_view(sheet, &from, &to),
        });
    }
    let not_reported = state
        .store
        .members_not_reported(id)
        .await?
        .into_iter()
        .map(|(person_id, name)| Named { person_id, name })
        .collect();
    let view = FeedbackView {
        from,
        to,
        sheets,
        idle,
        not_reported,
    };
    Ok(match q.format.as_deref() {
        None | Some("json") => axum::Json(view).into_response(),
        Some("csv") => csv(&view.sheets).into_response(),
        Some(other) => {
            return Err(ApiError::unknown_format(other, "json or csv"));
        }
    })
}

/// Sheets as CSV (with a byte order mark so a spreadsheet reads the Chinese): a line per
/// service, and a line per member who did none.
fn csv(sheets: &[SheetView]) -> impl IntoResponse + use<> {
    let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from(
        "\u{feff}work_unit,from,to,sheet_number,volunteer_id,volunteer_name,post,date,content,hours,rating,correction\r\n",
    );
    for s in sheets {
        for m in &s.members {
            let head = format!(
                "{},{},{},{},{},{},{}",
                field(&s.work_unit),
                s.from,
                s.to,
                s.number.as_deref().unwrap_or_default(),
                m.person_id,
                field(&m.name),
                field(&m.post),
            );
            if m.done.is_empty() {
                out.push_str(&format!("{head},,,0.00,,\r\n"));
            }
            for d in &m.done {
                out.push_str(&format!(
                    "{head},{},{},{:.2},{},{}\r\n",
                    d.date,
                    field(&d.content),
                    d.hours,
                    d.rating.map(|r| r.to_string()).unwrap_or_default(),
                    d.correction,
                ));
            }
        }
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"linli-feedback.csv\"",
            ),
        ],
        out,
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignBody {
    pub work_unit: String,
    /// A calendar quarter, `2026Q3`; or `from` and `to`; by default, this quarter.
    pub period: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// The community's remark to the work unit.
    #[serde(default)]
    pub remark: String,
}

#[derive(Serialize, ToSchema)]
pub struct SignedView {
    #[serde(flatten)]
    pub sheet: SheetView,
    /// With the number, what lets the work unit read it at `/feedback/{number}?code=…`.
    pub check_code: String,
    pub read_url: String,
}

/// Sign a work unit's sheet off for a period: the community office. The sheet is frozen as
/// it stands (a later correction does not change it); signed already: 409.
#[utoipa::path(post, path = "/api/v1/communities/{id}/feedback-sheets", tag = "volunteers",
    params(("id" = Uuid, Path)), request_body = SignBody,
    responses((status = 201, body = SignedView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn sign_sheet(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    parts: Parts,
    Body(b): Body<SignBody>,
) -> ApiResult<(StatusCode, axum::Json<SignedView>)> {
    community_unit(&state, id).await?;
    caller.principal.may_take_in(id)?;
    let (from, to) = feedback_days(
        &state,
        &FeedbackQuery {
            period: b.period,
            from: b.from,
            to: b.to,
            format: None,
        },
    )
    .map_err(|e| ApiError::invalid_field(e.to_string()))?;
    let remark = b.remark.trim().to_owned();
    if remark.chars().count() > 1000 {
        return Err(ApiError::invalid_field(
            "remark is at most 1,000 characters",
        ));
    }
    let (live, _) = live_sheets(&state, id, &from, &to).await?;
    let work_unit = b.work_unit.trim();
    let sheet = live
        .into_iter()
        .find(|s| s.work_unit == work_unit)
        .ok_or_else(|| {
            ApiError::invalid_field("work_unit: no member of this community reported in from it")
        })?;
    let now = state.engine.now();
    let (number, check_code) = codes(
        Uuid::new_v4(),
        now.to_zoned(state.engine.catalog().time_zone()).year(),
    );
    let signed = SignedSheet {
        number,
        check_code: check_code.clone(),
        community_id: id,
        from_day: from,
        to_day: to,
        remark,
        issuer: state.store.org_unit_name(id).await?.unwrap_or_default(),
        signed_by: caller.principal.id,
        signed_at: now,
        sheet,
    };
    state
        .store
        .sign_feedback_sheet(&signed)
        .await
        .map_err(|e| match e {
            workflow_core::store::StoreError::Conflict { .. } => ApiError::rejected(
                Code::StaleVersion,
                "this work unit's sheet for the period is signed off already",
            ),
            other => other.into(),
        })?;
    state
        .store
        .record(&storage::audit::AuditRecord {
            actor: Some(caller.principal.id),
            community: Some(id),
            detail: format!(
                "feedback sheet {} for {} ({} to {})",
                signed.number, signed.sheet.work_unit, signed.from_day, signed.to_day
            ),
            ..crate::auth::access_record(&state, &parts, "feedback_sheet")
        })
        .await?;
    tracing::info!(sheet = %signed.number, by = %caller.principal.id, "feedback sheet signed");
    let read_url = format!("/feedback/{}?code={check_code}", signed.number);
    Ok((
        StatusCode::CREATED,
        axum::Json(SignedView {
            sheet: signed_view(signed),
            check_code,
            read_url,
        }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SheetQuery {
    /// `csv` for the sheet's lines.
    pub format: Option<String>,
}

/// A signed sheet, for its community's staff (to print again); anyone else: 404.
#[utoipa::path(get, path = "/api/v1/feedback-sheets/{number}", tag = "volunteers",
    params(("number" = String, Path), SheetQuery),
    responses((status = 200, body = SignedView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn signed_sheet(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<SheetQuery>,
) -> ApiResult<Response> {
    let s = state
        .store
        .feedback_sheet(&number)
        .await?
        .ok_or(ApiError::NotFound)?;
    let unit = community_unit(&state, s.community_id).await?;
    caller
        .principal
        .reads_feedback(&unit)
        .map_err(|_| ApiError::NotFound)?;
    let check_code = s.check_code.clone();
    let read_url = format!("/feedback/{}?code={check_code}", s.number);
    let view = signed_view(s);
    Ok(match q.format.as_deref() {
        None | Some("json") => axum::Json(SignedView {
            sheet: view,
            check_code,
            read_url,
        })
        .into_response(),
        Some("csv") => csv(&[view]).into_response(),
        Some(other) => {
            return Err(ApiError::unknown_format(other, "json or csv"));
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    pub code: String,
}

/// The sheet with this number and check code, or 404 for any other pair.
async fn for_work_unit(state: &AppState, number: &str, code: &str) -> ApiResult<SignedSheet> {
    state
        .store
        .feedback_sheet(number)
        .await?
        .filter(|s| s.check_code.eq_ignore_ascii_case(code.trim()))
        .ok_or(ApiError::NotFound)
}

async fn work_unit_json(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<axum::Json<SheetView>> {
    Ok(axum::Json(signed_view(
        for_work_unit(&state, &number, &q.code).await?,
    )))
}

/// The sheet as its work unit prints it: A4, in Chinese, no script.
async fn work_unit_page(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<CodeQuery>,
) -> ApiResult<Response> {
    let s = for_work_unit(&state, &number, &q.code).await?;
    let signed_on = s
        .signed_at
        .to_zoned(state.engine.catalog().time_zone())
        .date();
    let mut rows = String::new();
    for l in &s.sheet.lines {
        let first = format!(
            "<td rowspan=\"{n}\">{name}</td><td rowspan=\"{n}\">{post}</td>",
            n = l.services.len().max(1),
            name = escape(l.member.name.as_str()),
            post = escape(l.member.post.as_str()),
        );
        if l.services.is_empty() {
            rows.push_str(&format!(
                "<tr>{first}<td colspan=\"4\">本期无服务记录</td></tr>"
            ));
        }
        for (i, d) in l.services.iter().enumerate() {
            rows.push_str(&format!(
                "<tr>{}<td>{}</td><td>{}{}</td><td>{:.1}</td><td>{}</td></tr>",
                if i == 0 { first.as_str() } else { "" },
                escape(d.day.as_str()),
                escape(d.content.as_str()),
                if d.correction { "（更正）" } else { "" },
                d.minutes as f64 / 60.0,
                d.rating
                    .map(|r| "★".repeat(r.clamp(0, 5) as usize))
                    .unwrap_or_default(),
            ));
        }
    }
    let html = format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>在职党员到社区报到服务情况反馈单 {number}</title>\
         <link rel=\"stylesheet\" href=\"/console/app.css\"></head><body>\
         <main class=\"sheet-print\"><h1>在职党员到社区报到服务情况反馈单</h1>\
         <p class=\"muted\">Feedback on members' service in the community · 编号 {number}</p>\
         <dl class=\"facts\"><dt>工作单位 Work unit</dt><dd>{unit}</dd>\
         <dt>报到社区 Community</dt><dd>{issuer}</dd><dt>期间 Period</dt><dd>{from} – {to}</dd>\
         <dt>合计 Totals</dt><dd>{hours:.1} 小时 · {services} 次</dd></dl>\
         <table><thead><tr><th>姓名</th><th>岗位</th><th>日期</th><th>服务内容</th><th>时长（小时）</th>\
         <th>居民评价</th></tr></thead><tbody>{rows}</tbody></table>\
         <p><strong>社区意见 Remark:</strong> {remark}</p>\
         <p class=\"signature\">{issuer}（盖章） {signed_on}</p></main></body></html>\n",
        number = escape(s.number.as_str()),
        unit = escape(s.sheet.work_unit.as_str()),
        issuer = escape(s.issuer.as_str()),
        from = escape(s.from_day.as_str()),
        to = escape(s.to_day.as_str()),
        hours = s.sheet.minutes as f64 / 60.0,
        services = s.sheet.services,
        remark = escape(s.remark.as_str()),
    );
    Ok(crate::views::no_script_page(html))
}
