//! A volunteer's service as the law asks it to be kept (志愿服务记录与证明出具办法, 民政部令第67号):
//! the records of each piece of work (JSON, or CSV for a volunteer platform's import), and
//! certificates of service for a period, each verifiable by anyone holding its number and
//! check code. The rules are `workflow_core::certificate` and `Principal::may_certify`.

use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use storage::audit::AuditRecord;
use storage::certificates::Certificate;
use storage::reports::{Period, ServiceRecord};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::certificate::{ID_KINDS, check_id, codes};
use workflow_core::store::Store;

use crate::AppState;
use crate::auth::{Caller, access_record};
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, ApiQuery, Body};
use crate::pdf::Document;
use crate::routes::reports::{ledger_access, member_community, period};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(records))
        .routes(routes!(issue))
        .routes(routes!(certificate))
}

/// Anyone's: whether a certificate is genuine.
pub fn public_router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/public/v1/certificates/{number}", get(verify_json))
        .route("/verify/{number}", get(verify_page))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// From this date (the deployment's zone) or instant; default 30 days before `to`.
    pub from: Option<String>,
    /// Up to this date or instant (exclusive); default now.
    pub to: Option<String>,
    /// `csv`: the shape docs/VOLUNTEERS.md maps to a volunteer platform's import.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RecordView {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// The day of the service, in the deployment's zone.
    pub date: String,
    /// What was done: the category, in words.
    pub content: String,
    pub hours: f64,
    /// Where: the building.
    pub place: Option<String>,
    /// The branch that organised it.
    pub organiser: Option<String>,
    /// The resident's stars.
    pub rating: Option<i64>,
    /// A correction of earlier records of the same request, with why, and which record it
    /// corrects where the office named one.
    pub correction: bool,
    pub corrects: Option<Uuid>,
    pub reason: Option<String>,
    /// The time between the volunteer taking the request and reporting it done, in hours,
    /// where its history shows both.
    pub held_hours: Option<f64>,
    /// More hours reported than that (travel is not service time): for the branch to look at.
    pub flagged: bool,
}

/// A volunteer's records as views, each piece of work checked against its request's own
/// times ([`workflow_core::credit::beyond_held`]).
async fn record_views(
    state: &AppState,
    person: Uuid,
    records: Vec<ServiceRecord>,
) -> ApiResult<Vec<RecordView>> {
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let span = if r.entry.is_correction() {
            None
        } else {
            let events = state.store.events(r.entry.ticket_id).await?;
            workflow_core::credit::work_span(&events, person)
        };
        let minutes = u32::try_from(r.entry.minutes).unwrap_or(0);
        let mut view = record_view(state, r);
        view.held_hours =
            span.map(|(taken, done)| done.duration_since(taken).as_secs() as f64 / 3600.0);
        view.flagged =
            span.is_some_and(|s| workflow_core::credit::beyond_held(minutes, s).is_some());
        out.push(view);
    }
    Ok(out)
}

fn record_view(state: &AppState, r: ServiceRecord) -> RecordView {
    let catalog = state.engine.catalog();
    let e = r.entry;
    RecordView {
        id: e.id,
        ticket_id: e.ticket_id,
        date: e.at.to_zoned(catalog.time_zone()).date().to_string(),
        content: catalog
            .category(&e.category)
            .map_or(e.category.clone(), |c| c.label.zh_cn.clone()),
        hours: e.minutes as f64 / 60.0,
        place: r.place,
        organiser: r.organiser,
        rating: r.rating,
        correction: e.is_correction(),
        corrects: e.corrects,
        reason: e.reason,
        held_hours: None,
        flagged: false,
    }
}

/// A person's name as the directory has it now (erased: the erased name).
async fn name_of(state: &AppState, id: Uuid) -> ApiResult<String> {
    let mut found = state.store.contacts(&[id]).await?;
    Ok(found.remove(&id).map(|(name, _)| name).unwrap_or_default())
}

/// A volunteer's service records: each confirmed piece of work and each correction.
#[utoipa::path(get, path = "/api/v1/members/{id}/records", tag = "reports",
    params(("id" = Uuid, Path), RecordsQuery),
    responses((status = 200, body = [RecordView]), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn records(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<RecordsQuery>,
) -> ApiResult<Response> {
    ledger_access(&state, &caller, id).await?;
    let p = period(&state, q.from.as_deref(), q.to.as_deref())?;
    let views = record_views(&state, id, state.store.service_records(id, p).await?).await?;
    Ok(match q.format.as_deref() {
        None | Some("json") => axum::Json(views).into_response(),
        Some("csv") => {
            let name = state
                .store
                .contacts(&[id])
                .await?
                .remove(&id)
                .map(|(n, _)| n);
            csv(&views, id, name.as_deref().unwrap_or_default()).into_response()
        }
        Some(other) => {
            return Err(ApiError::unknown_format(other, "json or csv"));
        }
    })
}

/// The records as CSV (RFC 4180, with a byte order mark so a spreadsheet reads the Chinese),
/// in the column order docs/VOLUNTEERS.md maps to a volunteer platform's import.
fn csv(records: &[RecordView], volunteer: Uuid, name: &str) -> impl IntoResponse {
    let field = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut out = String::from(
        "\u{feff}volunteer_id,volunteer_name,date,content,hours,place,organiser,rating,record_id,correction,corrects,reason,held_hours,flagged\r\n",
    );
    for r in records {
        out.push_str(&format!(
            "{volunteer},{},{},{},{:.2},{},{},{},{},{},{},{},{},{}\r\n",
            field(name),
            r.date,
            field(&r.content),
            r.hours,
            field(r.place.as_deref().unwrap_or_default()),
            field(r.organiser.as_deref().unwrap_or_default()),
            r.rating.map(|s| s.to_string()).unwrap_or_default(),
            r.id,
            r.correction,
            r.corrects.map(|c| c.to_string()).unwrap_or_default(),
            field(r.reason.as_deref().unwrap_or_default()),
            r.held_hours.map(|h| format!("{h:.2}")).unwrap_or_default(),
            r.flagged,
        ));
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"linli-service-records.csv\"",
            ),
        ],
        out,
    )
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CertificateBody {
    /// The first day of service it covers (`YYYY-MM-DD`).
    pub from: String,
    /// The last day it covers, inclusive.
    pub to: String,
    /// `resident_id` (居民身份证), `hk_macao_pass`, `taiwan_pass`, `passport`,
    /// `foreign_permanent_id`.
    pub id_type: String,
    /// Checked, and then only its last four characters kept.
    pub id_number: String,
    /// The volunteer's number on a volunteer platform (志愿者编号), if they have one: printed
    /// on the certificate. Letters and digits, at most 30.
    pub volunteer_number: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CertificateView {
    pub number: String,
    /// With the number, what proves a copy genuine at `/verify/{number}?code=…`.
    pub check_code: String,
    pub verify_url: String,
    pub person_id: Uuid,
    pub name: String,
    /// The identity document's kind, in words, and its last four characters.
    pub id_type: String,
    pub id_last4: String,
    pub volunteer_number: Option<String>,
    pub from: String,
    pub to: String,
    pub hours: f64,
    pub services: i64,
    /// The issuing community.
    pub issuer: String,
    /// 负责人 and 联系方式: the issuing community's, as its directory entry names them.
    pub person_in_charge: Option<String>,
    pub contact: Option<String>,
    /// 经办人: who issued it (the volunteer, or their office's staff member).
    pub handler_id: Uuid,
    pub handler: Option<String>,
    pub issued_at: String,
    /// The records it stands for.
    pub records: Vec<RecordView>,
}

/// The certificate's period as instants: from the first day's start to the day after the last.
pub(crate) fn days(state: &AppState, from: &str, to: &str) -> ApiResult<Period> {
    let zone = state.engine.catalog().time_zone();
    let day = |field: &str, s: &str| {
        s.parse::<jiff::civil::Date>()
            .map_err(|_| ApiError::invalid_field(format!("{field} is a date, YYYY-MM-DD")))
    };
    let (first, last) = (day("from", from)?, day("to", to)?);
    if last < first {
        return Err(ApiError::invalid_field("to is on or after from"));
    }
    let start = |d: jiff::civil::Date| {
        d.to_zoned(zone.clone())
            .map(|z| z.timestamp())
            .map_err(|_| ApiError::invalid_field("the date is out of range"))
    };
    let after = last
        .tomorrow()
        .map_err(|_| ApiError::invalid_field("to is out of range"))?;
    Ok(Period {
        from: start(first)?,
        to: start(after)?,
    })
}

async fn view(state: &AppState, c: Certificate) -> ApiResult<CertificateView> {
    let p = days(state, &c.from_day, &c.to_day)?;
    let records = state.store.service_records(c.person_id, p).await?;
    let records = record_views(state, c.person_id, records).await?;
    Ok(CertificateView {
        verify_url: format!("/verify/{}?code={}", c.number, c.check_code),
        id_type: ID_KINDS
            .iter()
            .find(|(k, _)| *k == c.id_kind)
            .map_or(c.id_kind.clone(), |(_, words)| (*words).to_owned()),
        number: c.number,
        check_code: c.check_code,
        person_id: c.person_id,
        name: c.name,
        id_last4: c.id_last4,
        volunteer_number: c.volunteer_number,
        from: c.from_day,
        to: c.to_day,
        hours: c.minutes as f64 / 60.0,
        services: c.services,
        issuer: c.issuer,
        person_in_charge: c.person_in_charge,
        contact: c.contact,
        handler_id: c.handler_id,
        handler: c.handler_name,
        issued_at: c.issued_at.to_string(),
        records,
    })
}

/// Issue a certificate of service (志愿服务证明) for a period: the volunteer or their office.
/// The totals are the records' in the period, frozen at issue.
#[utoipa::path(post, path = "/api/v1/members/{id}/certificates", tag = "reports",
    params(("id" = Uuid, Path)), request_body = CertificateBody,
    responses((status = 201, body = CertificateView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn issue(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    parts: Parts,
    Body(b): Body<CertificateBody>,
) -> ApiResult<(StatusCode, axum::Json<CertificateView>)> {
    let community = member_community(&state, id).await?;
    caller.principal.may_certify(id, community.as_ref())?;
    let Some(community) = community.and_then(|c| c.community) else {
        return Err(ApiError::invalid_field(
            "a certificate is issued by a community: this person belongs to none",
        ));
    };
    let document = check_id(&b.id_type, &b.id_number).map_err(ApiError::invalid_field)?;
    let volunteer_number = b
        .volunteer_number
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    if volunteer_number
        .as_ref()
        .is_some_and(|n| n.len() > 30 || !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
    {
        return Err(ApiError::invalid_field(
            "volunteer_number is letters, digits and dashes, at most 30",
        ));
    }
    let p = days(&state, &b.from, &b.to)?;
    let records = state.store.service_records(id, p).await?;
    let now = state.engine.now();
    let (number, check_code) = codes(
        Uuid::new_v4(),
        now.to_zoned(state.engine.catalog().time_zone()).year(),
    );
    let name = name_of(&state, id).await?;
    let (person_in_charge, contact) = state.store.community_details(community).await?;
    let issuer = state
        .store
        .org_unit_name(community)
        .await?
        .unwrap_or_default();
    let issued = Certificate {
        number,
        check_code,
        person_id: id,
        community_id: community,
        name,
        id_kind: document.kind,
        id_last4: document.last4,
        from_day: b.from,
        to_day: b.to,
        minutes: records.iter().map(|r| r.entry.minutes).sum(),
        services: records.iter().filter(|r| !r.entry.is_correction()).count() as i64,
        issuer,
        handler_id: caller.principal.id,
        issued_at: now,
        person_in_charge,
        contact,
        handler_name: Some(caller.principal.name.clone()),
        volunteer_number,
    };
    state.store.issue_certificate(&issued).await?;
    state
        .store
        .record(&AuditRecord {
            actor: Some(caller.principal.id),
            subject: Some(id),
            community: Some(community),
            detail: format!("certificate {}", issued.number),
            ..access_record(&state, &parts, "certificate")
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(view(&state, issued).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CertificateQuery {
    /// `pdf`: the certificate as an A4 PDF (`application/pdf`); default JSON.
    pub format: Option<String>,
}

/// A certificate, for its holder and their office (to print again), as JSON or as a PDF.
#[utoipa::path(get, path = "/api/v1/certificates/{number}", tag = "reports",
    params(("number" = String, Path), CertificateQuery),
    responses((status = 200, body = CertificateView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn certificate(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    ApiPath(number): ApiPath<String>,
    ApiQuery(q): ApiQuery<CertificateQuery>,
) -> ApiResult<Response> {
    let c = state
        .store
        .certificate(&number)
        .await?
        .ok_or(ApiError::NotFound)?;
    let community = member_community(&state, c.person_id).await?;
    // Whoever may not issue it does not learn that it exists.
    caller
        .principal
        .may_certify(c.person_id, community.as_ref())
        .map_err(|_| ApiError::NotFound)?;
    let v = view(&state, c).await?;
    Ok(match q.format.as_deref() {
        None | Some("json") => axum::Json(v).into_response(),
        Some("pdf") => (
            [
                (header::CONTENT_TYPE, "application/pdf".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"certificate-{}.pdf\"", v.number),
                ),
            ],
            certificate_pdf(&v, &crate::routes::people::origin(&headers)),
        )
            .into_response(),
        Some(other) => {
            return Err(ApiError::unknown_format(other, "json or pdf"));
        }
    })
}

/// The certificate on A4, as the console prints it: who, the document's last four
/// characters, the period and totals, the services, the issuer and date, and where and how
/// to verify it.
fn certificate_pdf(c: &CertificateView, origin: &str) -> Vec<u8> {
    let mut d = Document::new();
    d.centred(24.0, "志愿服务证明");
    d.gap(12.0);
    d.line(
        0.0,
        13.0,
        &format!(
            "兹证明 {}（{} 尾号 {}）于 {} 至 {} 期间参加志愿服务 {} 次，累计服务时长 {:.1} 小时。",
            c.name, c.id_type, c.id_last4, c.from, c.to, c.services, c.hours
        ),
    );
    if let Some(n) = &c.volunteer_number {
        d.line(0.0, 12.0, &format!("志愿者编号：{n}"));
    }
    d.gap(8.0);
    let cols = [0.0, 90.0, 240.0, 400.0];
    let row = |d: &mut Document, cells: [&str; 4]| {
        d.columns(
            11.0,
            &[
                (cols[0], cells[0]),
                (cols[1], cells[1]),
                (cols[2], cells[2]),
                (cols[3], cells[3]),
            ],
        );
    };
    row(&mut d, ["日期", "服务内容", "地点", "时长（小时）"]);
    for r in &c.records {
        let hours = format!("{:.1}", r.hours);
        let content = if r.correction {
            format!("{}（更正）", r.content)
        } else {
            r.content.clone()
        };
        row(
            &mut d,
            [
                &r.date,
                &content,
                r.place.as_deref().unwrap_or_default(),
                &hours,
            ],
        );
    }
    d.gap(12.0);
    d.line(0.0, 12.0, &format!("出具单位：{}", c.issuer));
    let or_blank = |s: &Option<String>| s.clone().unwrap_or_else(|| "＿＿＿＿".to_owned());
    d.line(
        0.0,
        12.0,
        &format!(
            "负责人：{}　　经办人：{}　　联系方式：{}",
            or_blank(&c.person_in_charge),
            or_blank(&c.handler),
            or_blank(&c.contact)
        ),
    );
    d.line(
        0.0,
        12.0,
        &format!("出具日期：{}", &c.issued_at[..10.min(c.issued_at.len())]),
    );
    d.line(
        0.0,
        12.0,
        &format!("证明编号：{}　　核验码：{}", c.number, c.check_code),
    );
    d.line(0.0, 10.0, &format!("核验：{origin}{}", c.verify_url));
    d.finish(&format!("志愿服务证明 {}", c.number))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyQuery {
    pub code: String,
}

/// What anyone learns of a genuine certificate: that it is, its name and totals; nothing else.
#[derive(Serialize)]
pub struct Verified {
    pub genuine: bool,
    pub number: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub hours: f64,
    pub services: i64,
    pub issuer: String,
    pub issued_on: String,
}

/// The certificate with this number and check code, or 404 for any other pair (a wrong
/// code says no more than a wrong number).
async fn verified(state: &AppState, number: &str, code: &str) -> ApiResult<Verified> {
    let c = state.store.certificate(number).await?;
    let c = c
        .filter(|c| c.check_code.eq_ignore_ascii_case(code.trim()))
        .ok_or(ApiError::NotFound)?;
    Ok(Verified {
        genuine: true,
        issued_on: c
            .issued_at
            .to_zoned(state.engine.catalog().time_zone())
            .date()
            .to_string(),
        number: c.number,
        name: c.name,
        from: c.from_day,
        to: c.to_day,
        hours: c.minutes as f64 / 60.0,
        services: c.services,
        issuer: c.issuer,
    })
}

async fn verify_json(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<axum::Json<Verified>> {
    Ok(axum::Json(verified(&state, &number, &q.code).await?))
}

/// The page a certificate's QR code opens: genuine or not, in Chinese and English. No script.
async fn verify_page(
    State(state): State<AppState>,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<VerifyQuery>,
) -> ApiResult<Response> {
    let v = verified(&state, &number, &q.code).await?;
    let html = format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>志愿服务证明核验 {number}</title><link rel=\"stylesheet\" href=\"/console/app.css\">\
         </head><body><main class=\"verify\"><h1>✓ 志愿服务证明真实有效 <small>Genuine certificate of service</small></h1>\
         <dl class=\"facts\"><dt>编号 Number</dt><dd>{number}</dd><dt>姓名 Name</dt><dd>{name}</dd>\
         <dt>服务期间 Period</dt><dd>{from} – {to}</dd><dt>服务时长 Hours</dt><dd>{hours:.1} 小时</dd>\
         <dt>服务次数 Services</dt><dd>{services}</dd><dt>出具单位 Issued by</dt><dd>{issuer}</dd>\
         <dt>出具日期 Issued on</dt><dd>{issued_on}</dd></dl></main></body></html>\n",
        number = escape(v.number.as_str()),
        name = escape(v.name.as_str()),
        from = escape(v.from.as_str()),
        to = escape(v.to.as_str()),
        hours = v.hours,
        services = v.services,
        issuer = escape(v.issuer.as_str()),
        issued_on = v.issued_on,
    );
    Ok(crate::views::no_script_page(html))
}
