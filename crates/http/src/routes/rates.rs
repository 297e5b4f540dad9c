//! The rates a workflow's file defines (the 三率 of the 12345 practice: 响应率, 解决率, 满意率;
//! and 及时率, 回访率) for a branch, community or street and a period, JSON or CSV. Counted in
//! the database ([`storage::rates`]); what each counts is the workflow file's
//! (`[rates.NAME]`, docs/HOTLINE.md).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::Desk;
use workflow_core::figures::ratio;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::ApiQuery;
use crate::routes::reports::{period, unit_for};
use crate::views::LabelView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rates))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RatesQuery {
    /// The workflow whose rates (default: the 12345 bridge's, `hotline-12345`).
    pub workflow: Option<String>,
    /// A branch, community or street id; default: the caller's own.
    pub unit: Option<Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RateView {
    pub name: String,
    pub label: LabelView,
    /// Requests that met the rate's `count` condition, of…
    pub numerator: i64,
    /// …those asked for in the period that met its `of` condition (all of them without one).
    pub denominator: i64,
    /// `numerator ÷ denominator`; `null` when nothing counted.
    pub rate: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct RatesView {
    pub workflow: String,
    #[schema(value_type = Object)]
    pub unit: workflow_core::access::Unit,
    pub from: String,
    pub to: String,
    pub rates: Vec<RateView>,
}

/// The workflow's rates over the requests of a unit asked for in a period (staff).
#[utoipa::path(get, path = "/api/v1/stats/rates", tag = "reports", params(RatesQuery),
    responses((status = 200, body = RatesView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn rates(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<RatesQuery>,
) -> ApiResult<Response> {
    caller.principal.may(Desk::Figures)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => return Err(ApiError::unknown_format(other, "json or csv")),
    };
    let workflow = q
        .workflow
        .or_else(|| state.hotline.as_ref().map(|b| b.workflow.clone()))
        .ok_or_else(|| ApiError::rejected(Code::MissingField, "name the workflow: ?workflow="))?;
    let wf = state.engine.catalog().latest(&workflow).ok_or_else(|| {
        ApiError::rejected(
            Code::NotFound,
            format!("no workflow {workflow:?} is loaded"),
        )
    })?;
    let info = unit_for(&state, &caller, q.unit).await?;
    if !caller.principal.covers(&info) {
        return Err(ApiError::NotFound);
    }
    let p = period(&state, q.from.as_deref(), q.to.as_deref())?;
    let counts = state.store.rates(&wf.id, &wf.rates, info.unit, p).await?;
    let view = RatesView {
        workflow: wf.id.clone(),
        unit: info.unit,
        from: p.from.to_string(),
        to: p.to.to_string(),
        rates: wf
            .rates
            .iter()
            .zip(counts)
            .map(|(def, c)| RateView {
                name: c.name,
                label: LabelView::from(&def.label),
                numerator: c.numerator,
                denominator: c.denominator,
                rate: ratio(c.numerator, c.denominator),
            })
            .collect(),
    };
    if !csv {
        return Ok(axum::Json(view).into_response());
    }
    let mut out = String::from("rate,label,numerator,denominator,value\n");
    for r in &view.rates {
        let value = r.rate.map_or(String::new(), |x| format!("{x:.4}"));
        out.push_str(&format!(
            "{},{},{},{},{value}\n",
            r.name, r.label.zh_cn, r.numerator, r.denominator
        ));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"linli-rates.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
