//! The public board (晒单) and oversight (督单).
//!
//! The board is each community's month in public, without signing in: the requests asked in
//! it, their figures (response, resolution, satisfaction, on-time and claim rates) and those
//! of them closed, as JSON, as a page and as an Atom feed. Nothing on it names a person or a
//! place: no resident, phone, building or unit, no description (residents write names and
//! addresses into it), no note. Each closed request is its category, when it was asked and
//! closed, and its stars.
//!
//! Oversight is the read-only supervisor's (residents' representatives): the community's
//! overdue requests, with the same care.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::civil::Date;
use jiff::{Timestamp, ToSpan};
use quick_xml::escape::escape;
use serde::{Deserialize, Serialize};
use storage::reports::{Period, Unit};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::Ticket;
use workflow_core::figures::{on_time_rate, ratio, satisfaction_rate};
use workflow_core::store::{Page, TicketFilter};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiQuery;

use crate::views::LabelView;

/// Closed requests listed on a board.
const BOARD_ITEMS: usize = 50;

/// The public board's routes: outside the signed-in API (and its OpenAPI document).
pub fn public_router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/public/v1/communities/{id}/board", get(board_json))
        .route("/public/v1/communities/{id}/board.atom", get(board_atom))
        .route("/board/{id}", get(board_page))
}

/// The supervisor's route, in the API.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overdue))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardQuery {
    /// `2026-11`; default: this month.
    pub month: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BoardView {
    pub community_id: Uuid,
    pub community: String,
    pub month: String,
    pub figures: BoardFigures,
    pub closed: Vec<ClosedItem>,
}

/// The month's requests (asked in it) and their rates; a rate is `null` when nothing counted.
#[derive(Serialize, ToSchema)]
pub struct BoardFigures {
    pub submitted: i64,
    pub closed: i64,
    pub open: i64,
    /// 响应率: responses within the response deadline ÷ responses.
    pub response_rate: Option<f64>,
    /// 解决率: closed ÷ asked.
    pub resolution_rate: Option<f64>,
    /// 满意率: 4 or 5 stars ÷ rated.
    pub satisfaction_rate: Option<f64>,
    /// 按时办结率: resolved within the resolution deadline ÷ resolved.
    pub on_time_rate: Option<f64>,
    /// 认领率: taken by a volunteer ÷ asked.
    pub claim_rate: Option<f64>,
}

/// A closed request, anonymous.
#[derive(Serialize, ToSchema)]
pub struct ClosedItem {
    pub category: String,
    pub category_label: Option<LabelView>,
    pub asked_on: String,
    pub closed_on: String,
    pub rating: Option<u8>,
}

async fn board(state: &AppState, id: Uuid, q: &BoardQuery) -> ApiResult<BoardView> {
    let tz = state.engine.catalog().time_zone();
    let first = match q.month.as_deref() {
        None => {
            let today = state.engine.now().to_zoned(tz.clone()).date();
            today.first_of_month()
        }
        Some(m) => format!("{m}-01")
            .parse::<Date>()
            .map_err(|_| ApiError::invalid_query(format!("month is YYYY-MM, not {m:?}")))?,
    };
    let out_of_range = |_| ApiError::invalid_query("month is out of range");
    let start = |d: Date| -> ApiResult<Timestamp> {
        Ok(d.to_zoned(tz.clone()).map_err(out_of_range)?.timestamp())
    };
    let next = first.checked_add(1.month()).map_err(out_of_range)?;
    let period = Period {
        from: start(first)?,
        to: start(next)?,
    };
    let info = state.store.unit(id).await?;
    if !matches!(info.map(|i| i.unit), Some(Unit::Community(_))) {
        return Err(ApiError::NotFound);
    }
    let name = state.store.org_unit_name(id).await?.unwrap_or_default();
    let f = state.store.stats(Unit::Community(id), period).await?;
    let clock = |name: &str| f.clocks.get(name);
    let figures = BoardFigures {
        submitted: f.submitted,
        closed: f.closed,
        open: f.open,
        response_rate: clock("response")
            .and_then(|c| on_time_rate(c.on_time, c.stopped, c.breached_open)),
        resolution_rate: ratio(f.closed, f.submitted),
        satisfaction_rate: satisfaction_rate(f.satisfied, f.rated),
        on_time_rate: clock("resolution")
            .and_then(|c| on_time_rate(c.on_time, c.stopped, c.breached_open)),
        claim_rate: ratio(f.to_accept.count, f.submitted),
    };
    let catalog = state.engine.catalog();
    let public = state.public();
    let day = |t: Timestamp| t.to_zoned(tz.clone()).date().to_string();
    let closed = state
        .store
        .closed_in(id, period, BOARD_ITEMS)
        .await?
        .into_iter()
        .filter(|t| public.shows(t))
        .map(|t: Ticket| ClosedItem {
            category_label: catalog
                .category(&t.category)
                .map(|c| LabelView::from(&c.label)),
            category: t.category,
            asked_on: day(t.created_at),
            closed_on: t.closed_at.map(day).unwrap_or_default(),
            rating: t.rating,
        })
        .collect();
    Ok(BoardView {
        community_id: id,
        community: name,
        month: first.strftime("%Y-%m").to_string(),
        figures,
        closed,
    })
}

/// Cacheable by anyone for five minutes: the board changes slowly, and is read by many.
const CACHE: (header::HeaderName, &str) = (header::CACHE_CONTROL, "public, max-age=300");

async fn board_json(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<Response> {
    let view = board(&state, id, &q).await?;
    Ok(([CACHE], axum::Json(view)).into_response())
}

fn percent(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{:.0}%", r * 100.0))
}

/// The board page runs no script and loads only the console's stylesheet: it is read by
/// anyone, and nothing on it may become code.
const BOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                         form-action 'none'; frame-ancestors 'none'";

async fn board_page(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<Response> {
    let b = board(&state, id, &q).await?;
    let f = &b.figures;
    let tiles = [
        ("收到诉求 Requests", f.submitted.to_string()),
        ("已办结 Closed", f.closed.to_string()),
        ("响应率 Response", percent(f.response_rate)),
        ("解决率 Resolution", percent(f.resolution_rate)),
        ("满意率 Satisfaction", percent(f.satisfaction_rate)),
        ("按时办结率 On time", percent(f.on_time_rate)),
        ("认领率 Claimed", percent(f.claim_rate)),
    ];
    let mut html = format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{name} · 晒单 {month}</title><link rel=\"stylesheet\" href=\"/console/app.css\">\
         <link rel=\"alternate\" type=\"application/atom+xml\" href=\"/public/v1/communities/{id}/board.atom\">\
         </head><body><main class=\"board\"><h1>{name} · 晒单 <small>{month}</small></h1><dl class=\"tiles\">",
        name = escape(b.community.as_str()),
        month = b.month,
        id = b.community_id,
    );
    for (label, value) in tiles {
        html.push_str(&format!(
            "<div class=\"figure\"><dt class=\"name\">{label}</dt><dd class=\"value\">{value}</dd></div>"
        ));
    }
    html.push_str(
        "</dl><p class=\"means\">响应率、按时办结率 = 按时的 ÷（已完成的 + 已超时仍未完成的）；\
         解决率 = 已办结 ÷ 收到；满意率 = 居民评 4–5 星的 ÷ 居民的评价；认领率 = 已接单 ÷ 收到。\
         On time = by the deadline ÷ (done + overdue and still open); resolution = closed ÷ \
         received; satisfied = residents' 4–5 stars ÷ residents' ratings; claimed = accepted ÷ \
         received.</p><h2>本月诉求已办结 Closed</h2><ol class=\"closed\">",
    );
    for c in &b.closed {
        let label = c
            .category_label
            .as_ref()
            .map_or(c.category.clone(), |l| l.zh_cn.clone());
        let stars = c
            .rating
            .map_or(String::new(), |r| "★".repeat(usize::from(r)));
        html.push_str(&format!(
            "<li><strong>{}</strong> <span>{} → {}</span> <span class=\"stars\">{stars}</span></li>",
            escape(label.as_str()),
            c.asked_on,
            c.closed_on
        ));
    }
    html.push_str("</ol></main></body></html>\n");
    Ok((
        [
            CACHE,
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, BOARD_CSP),
        ],
        html,
    )
        .into_response())
}

async fn board_atom(
    State(state): State<AppState>,
    Path(id): Path<Uuid>,
    ApiQuery(q): ApiQuery<BoardQuery>,
) -> ApiResult<Response> {
    let b = board(&state, id, &q).await?;
    let updated = state.engine.now();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <id>urn:uuid:{id}</id><title>{name} · 晒单 {month}</title><updated>{updated}</updated>\
         <link rel=\"alternate\" href=\"/board/{id}\"/>",
        id = b.community_id,
        name = escape(b.community.as_str()),
        month = b.month,
    );
    for (i, c) in b.closed.iter().enumerate() {
        let label = c
            .category_label
            .as_ref()
            .map_or(c.category.clone(), |l| l.zh_cn.clone());
        let stars = c.rating.map_or("未评价".to_owned(), |r| format!("{r} 星"));
        xml.push_str(&format!(
            "<entry><id>urn:linli:board:{id}:{month}:{i}</id><title>{title} 已办结</title>\
             <updated>{closed}T00:00:00Z</updated><summary>{asked} 提出, {closed} 办结, {stars}</summary></entry>",
            id = b.community_id,
            month = b.month,
            title = escape(label.as_str()),
            closed = c.closed_on,
            asked = c.asked_on,
        ));
    }
    xml.push_str("</feed>\n");
    Ok((
        [
            CACHE,
            (header::CONTENT_TYPE, "application/atom+xml; charset=utf-8"),
        ],
        xml,
    )
        .into_response())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OverdueQuery {
    /// The last id of the previous page.
    pub after: Option<Uuid>,
    /// At most 100; default 50.
    pub limit: Option<u32>,
}

/// An overdue request as oversight sees it: what, where it stands, how late, who has it up.
#[derive(Serialize, ToSchema)]
pub struct OverdueItem {
    pub id: Uuid,
    pub category: String,
    pub category_label: Option<LabelView>,
    pub state: String,
    pub state_label: Option<LabelView>,
    pub urgency: &'static str,
    pub asked_at: String,
    pub branch_id: Uuid,
    /// The staff level it has been escalated to, if any.
    pub escalated_to: Option<String>,
    /// Each breached clock: its deadline.
    pub overdue: Vec<OverdueClock>,
}

#[derive(Serialize, ToSchema)]
pub struct OverdueClock {
    pub clock: String,
    pub label: Option<LabelView>,
    pub due: Option<String>,
}

/// The community's overdue open requests, without personal data (督单): for supervisors
/// (their community) and staff (their area).
#[utoipa::path(get, path = "/api/v1/supervision/overdue", tag = "reports", params(OverdueQuery),
    responses((status = 200, body = [OverdueItem]), (status = 403, body = crate::error::Problem)),
    security(("bearer" = [])))]
async fn overdue(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<OverdueQuery>,
) -> ApiResult<axum::Json<Vec<OverdueItem>>> {
    let Some(scope) = caller.principal.oversight() else {
        return Err(ApiError::Forbidden(
            "oversight is for supervisors and staff".into(),
        ));
    };
    let filter = TicketFilter {
        breached: Some(true),
        open: Some(true),
        ..TicketFilter::default()
    };
    let page = Page {
        after: q.after,
        limit: q.limit.unwrap_or(50).clamp(1, 100),
    };
    let tickets = state.engine.list(&scope, &filter, page).await?;
    let catalog = state.engine.catalog();
    let items = tickets
        .into_iter()
        .map(|t| {
            let wf = catalog.workflow(&t.workflow_id, t.workflow_version);
            let state_label = wf.and_then(|w| {
                w.state_id(&t.state)
                    .map(|s| LabelView::from(&w.state(s).label))
            });
            OverdueItem {
                id: t.id,
                category_label: catalog
                    .category(&t.category)
                    .map(|c| LabelView::from(&c.label)),
                category: t.category.clone(),
                state_label,
                state: t.state.clone(),
                urgency: t.urgency.as_str(),
                asked_at: t.created_at.to_string(),
                branch_id: t.branch_id,
                escalated_to: t.escalated_to.map(|r| r.as_str().to_owned()),
                overdue: t
                    .clocks
                    .iter()
                    .filter(|c| c.breached)
                    .map(|c| OverdueClock {
                        label: wf
                            .and_then(|w| w.clocks.iter().find(|d| d.name == c.name))
                            .map(|d| LabelView::from(&d.label)),
                        clock: c.name.clone(),
                        due: c.due.map(|d| d.to_string()),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(axum::Json(items))
}
