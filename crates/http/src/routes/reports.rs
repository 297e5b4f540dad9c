//! Volunteer hours and points (the ledger, corrections, the leaderboard) and the figures a
//! branch, community or street reports, as JSON or CSV. Everything is computed in the
//! database ([`storage::reports`]); this module checks who may ask and shapes the answer.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use storage::reports::{Correction, LedgerEntry, Period, Standing, Stats};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::{Desk, Refusal, Unit, UnitInfo};
use workflow_core::figures::{on_time_rate, ratio, satisfaction_rate};
use workflow_core::store::Store;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, ApiQuery, Body};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ledger, correct))
        .routes(routes!(leaderboard))
        .routes(routes!(stats))
}

/// An RFC 3339 instant, or a date: its midnight in the deployment's zone.
fn instant(field: &'static str, s: &str, zone: &jiff::tz::TimeZone) -> Result<Timestamp, ApiError> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(zone.clone()).ok())
        .map(|z| z.timestamp())
        .ok_or_else(|| {
            ApiError::invalid_query(format!(
                "{field} is an RFC 3339 instant or a date like 2026-11-01, not {s:?}"
            ))
        })
}

/// A period: `from` and `to` are RFC 3339 instants or dates (`2026-11-01`, midnight in the
/// deployment's zone); `to` is exclusive. Defaults: the 30 days up to now.
pub(crate) fn period(
    state: &AppState,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Period, ApiError> {
    let zone = state.engine.catalog().time_zone();
    let to = to
        .map(|s| instant("to", s, &zone))
        .transpose()?
        .unwrap_or_else(|| state.engine.now());
    let from = match from {
        Some(s) => instant("from", s, &zone)?,
        None => to
            .checked_sub(SignedDuration::from_hours(24 * 30))
            .unwrap_or(Timestamp::MIN),
    };
    if from >= to {
        return Err(ApiError::invalid_query("from must be before to"));
    }
    Ok(Period { from, to })
}

/// The unit asked for, or the caller's own ([`Principal::own_unit`]).
pub(crate) async fn unit_for(
    state: &AppState,
    caller: &Caller,
    id: Option<Uuid>,
) -> ApiResult<UnitInfo> {
    let Some(id) = id.or(caller.principal.own_unit()) else {
        return Err(ApiError::rejected(
            Code::MissingField,
            "name the unit: ?unit= a branch, community or street id",
        ));
    };
    state.store.unit(id).await?.ok_or(ApiError::NotFound)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerView {
    pub person_id: Uuid,
    pub from: String,
    pub to: String,
    pub minutes: i64,
    pub hours: f64,
    pub points: i64,
    #[schema(value_type = Vec<Object>)]
    pub entries: Vec<LedgerEntry>,
}

/// A member's ledger is theirs to see, and their community's staff's
/// ([`Principal::reads_ledger`]).
pub(crate) async fn ledger_access(
    state: &AppState,
    caller: &Caller,
    member: Uuid,
) -> ApiResult<()> {
    let community = match caller.principal.reads_ledger(member, None) {
        Err(Refusal::Hidden) => member_community(state, member).await?,
        decided => return decided.map_err(Into::into),
    };
    Ok(caller.principal.reads_ledger(member, community.as_ref())?)
}

/// A community by id, as the access policy weighs it: 404 for anything else.
pub(crate) async fn community_unit(state: &AppState, id: Uuid) -> ApiResult<UnitInfo> {
    let unit = state.store.unit(id).await?.ok_or(ApiError::NotFound)?;
    if unit.community != Some(id) {
        return Err(ApiError::NotFound);
    }
    Ok(unit)
}

/// The community a volunteer belongs to, as the access policy weighs it.
pub(crate) async fn member_community(
    state: &AppState,
    member: Uuid,
) -> ApiResult<Option<UnitInfo>> {
    let person = state.store.person(member).await?;
    Ok(match person.and_then(|p| p.community_id) {
        Some(c) => state.store.unit(c).await?,
        None => None,
    })
}

/// A member's hours and points: every credit with its ticket, and corrections.
#[utoipa::path(get, path = "/api/v1/members/{id}/ledger", tag = "reports",
    params(("id" = Uuid, Path), LedgerQuery),
    responses((status = 200, body = LedgerView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn ledger(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<LedgerQuery>,
) -> ApiResult<axum::Json<LedgerView>> {
    ledger_access(&state, &caller, id).await?;
    let p = period(&state, q.from.as_deref(), q.to.as_deref())?;
    let entries = state.store.ledger(id, p).await?;
    let minutes = entries.iter().map(|e| e.minutes).sum::<i64>();
    Ok(axum::Json(LedgerView {
        person_id: id,
        from: p.from.to_string(),
        to: p.to.to_string(),
        minutes,
        hours: minutes as f64 / 60.0,
        points: entries.iter().map(|e| e.points).sum(),
        entries,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionBody {
    /// The ticket the correction is about.
    pub ticket_id: Uuid,
    /// Minutes and points to add (negative to take away).
    #[serde(default)]
    pub minutes: i32,
    #[serde(default)]
    pub points: i32,
    pub reason: String,
    /// The record it corrects (`GET …/records`), where the office knows which.
    pub corrects: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: Uuid,
}

/// A correction: a new ledger entry with who made it and why (staff who see the ticket).
#[utoipa::path(post, path = "/api/v1/members/{id}/ledger", tag = "reports",
    params(("id" = Uuid, Path)), request_body = CorrectionBody,
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn correct(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<CorrectionBody>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    // Staff who can see the ticket: administrators run the system, they do not judge work.
    caller.principal.may(Desk::Dispatch)?;
    ledger_access(&state, &caller, id).await?;
    let invalid = |detail: &str| ApiError::invalid_field(detail);
    let reason = b.reason.trim();
    if reason.is_empty() || reason.chars().count() > workflow_core::command::MAX_REASON_CHARS {
        return Err(invalid(
            "a correction needs a reason of at most 500 characters",
        ));
    }
    if (b.minutes, b.points) == (0, 0) || b.minutes.abs() > 24 * 60 || b.points.abs() > 1000 {
        return Err(invalid(
            "minutes (at most a day) or points (at most 1000) must change",
        ));
    }
    let ticket = state.engine.ticket(&caller.scope, b.ticket_id).await?;
    let person = state.store.person(id).await?.ok_or(ApiError::NotFound)?;
    if person.community_id != Some(ticket.community_id) {
        return Err(invalid("the ticket belongs to another community"));
    }
    let id = state
        .store
        .correct_ledger(&Correction {
            person: id,
            ticket: ticket.id,
            corrects: b.corrects,
            minutes: b.minutes,
            points: b.points,
            reason: reason.to_owned(),
            actor: caller.principal.id,
            at: state.engine.now(),
        })
        .await?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// A branch, community or street id; default: the caller's own.
    pub unit: Option<Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// At most 100; default 20.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct BoardView {
    #[schema(value_type = Object)]
    pub unit: Unit,
    pub from: String,
    pub to: String,
    #[schema(value_type = Vec<Object>)]
    pub standings: Vec<Standing>,
}

/// Volunteers ranked by points credited in a unit and period (光荣榜). Residents and
/// volunteers see their own community's; staff, the units they cover.
#[utoipa::path(get, path = "/api/v1/leaderboard", tag = "reports", params(BoardQuery),
    responses((status = 200, body = BoardView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn leaderboard(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<axum::Json<BoardView>> {
    let info = unit_for(&state, &caller, q.unit).await?;
    if !caller.principal.reads_board(&info) {
        return Err(ApiError::NotFound);
    }
    let p = period(&state, q.from.as_deref(), q.to.as_deref())?;
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let standings = state.store.leaderboard(info.unit, p, limit).await?;
    Ok(axum::Json(BoardView {
        unit: info.unit,
        from: p.from.to_string(),
        to: p.to.to_string(),
        standings,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// A branch, community or street id; default: the caller's own.
    pub unit: Option<Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The figures with their rates. Rates are `null` when nothing counted.
#[derive(Serialize, ToSchema)]
pub struct StatsView {
    #[schema(value_type = Object)]
    pub unit: Unit,
    pub from: String,
    pub to: String,
    #[schema(value_type = Object)]
    pub figures: Stats,
    /// 及时率 per SLA clock: cycles stopped by their deadline ÷ (cycles stopped + cycles
    /// breached and still running): a breached request is late whether or not it closed.
    #[schema(value_type = Object)]
    pub on_time_rate: std::collections::BTreeMap<String, Option<f64>>,
    /// Average stars.
    pub rating_average: Option<f64>,
    /// 满意率: the residents' ratings of 4 or 5 ÷ the residents' ratings (a mediator's rating
    /// at a dispute's visit is not the resident's word and does not count).
    pub satisfaction_rate: Option<f64>,
}

/// The unit's figures for the requests submitted in the period (staff).
#[utoipa::path(get, path = "/api/v1/stats", tag = "reports", params(StatsQuery),
    responses((status = 200, body = StatsView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn stats(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<Response> {
    caller.principal.may(Desk::Figures)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::unknown_format(other, "json or csv"));
        }
    };
    let info = unit_for(&state, &caller, q.unit).await?;
    if !caller.principal.covers(&info) {
        return Err(ApiError::NotFound);
    }
    let p = period(&state, q.from.as_deref(), q.to.as_deref())?;
    let figures = state.store.stats(info.unit, p).await?;
    let view = StatsView {
        unit: info.unit,
        from: p.from.to_string(),
        to: p.to.to_string(),
        on_time_rate: figures
            .clocks
            .iter()
            .map(|(k, c)| {
                (
                    k.clone(),
                    on_time_rate(c.on_time, c.stopped, c.breached_open),
                )
            })
            .collect(),
        rating_average: ratio(figures.rating_sum, figures.rated),
        satisfaction_rate: satisfaction_rate(figures.satisfied, figures.rated),
        figures,
    };
    Ok(match csv {
        true => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"linli-stats.csv\"",
                ),
            ],
            to_csv(&view),
        )
            .into_response(),
        false => axum::Json(view).into_response(),
    })
}

/// One row per figure: `metric,label,key,value` (label in Chinese for the spreadsheet).
fn to_csv(v: &StatsView) -> String {
    let f = &v.figures;
    let mut rows: Vec<(String, &str, String, String)> = Vec::new();
    let mut row = |metric: &str, label: &'static str, key: &str, value: String| {
        rows.push((metric.to_owned(), label, key.to_owned(), value));
    };
    let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.4}"));
    let secs = |x: Option<i64>| x.map_or(String::new(), |x| x.to_string());
    row("submitted", "受理总数", "", f.submitted.to_string());
    row("closed", "办结", "", f.closed.to_string());
    row("rejected", "驳回", "", f.rejected.to_string());
    row("cancelled", "撤销", "", f.cancelled.to_string());
    row("open", "在办", "", f.open.to_string());
    row("rated", "评价数", "", f.rated.to_string());
    row("rating_average", "平均评分", "", opt(v.rating_average));
    row("satisfaction_rate", "满意率", "", opt(v.satisfaction_rate));
    for (clock, rate) in &v.on_time_rate {
        row("on_time_rate", "及时率", clock, opt(*rate));
    }
    for (clock, c) in &f.clocks {
        row("breaches", "超时", clock, c.breaches.to_string());
    }
    for (level, n) in &f.escalations {
        row("escalations", "升级督办", level, n.to_string());
    }
    row(
        "to_accept_p50_secs",
        "接单用时中位数(秒)",
        "",
        secs(f.to_accept.p50_secs),
    );
    row(
        "to_accept_p90_secs",
        "接单用时90分位(秒)",
        "",
        secs(f.to_accept.p90_secs),
    );
    row(
        "to_complete_p50_secs",
        "办结用时中位数(秒)",
        "",
        secs(f.to_complete.p50_secs),
    );
    row(
        "to_complete_p90_secs",
        "办结用时90分位(秒)",
        "",
        secs(f.to_complete.p90_secs),
    );
    for (cat, c) in &f.categories {
        row(
            "category_submitted",
            "分类受理",
            cat,
            c.submitted.to_string(),
        );
        row("category_closed", "分类办结", cat, c.closed.to_string());
    }
    row(
        "volunteer_hours",
        "志愿时长(小时)",
        "",
        format!("{:.2}", f.volunteer_minutes as f64 / 60.0),
    );
    row(
        "volunteer_points",
        "志愿积分",
        "",
        f.volunteer_points.to_string(),
    );
    let mut out = String::from("metric,label,key,value\n");
    for (m, l, k, val) in rows {
        // Keys are category codes, clock names and levels: no commas or quotes to escape.
        out.push_str(&format!("{m},{l},{k},{val}\n"));
    }
    out
}
