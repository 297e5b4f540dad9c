//! What is loaded: workflows and request categories; and who the caller is.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::access::Desk;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::views::LabelView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(workflows))
        .routes(routes!(categories))
        .routes(routes!(me))
        .routes(routes!(teams))
        .routes(routes!(residents))
}

#[derive(Serialize, ToSchema)]
pub struct StateInfo {
    pub name: String,
    pub label: LabelView,
    pub terminal: bool,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowInfo {
    pub id: String,
    pub version: u32,
    pub name: LabelView,
    pub initial: String,
    pub states: Vec<StateInfo>,
    pub actions: Vec<String>,
    /// Each action's label, for an audit trail in plain words.
    pub action_labels: std::collections::BTreeMap<String, LabelView>,
    pub clocks: Vec<String>,
    /// Each clock's label (响应时限, 办结时限…).
    pub clock_labels: std::collections::BTreeMap<String, LabelView>,
}

/// The loaded workflow versions.
#[utoipa::path(get, path = "/api/v1/workflows", tag = "catalog",
    responses((status = 200, body = [WorkflowInfo]), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn workflows(State(state): State<AppState>, _: Caller) -> axum::Json<Vec<WorkflowInfo>> {
    let catalog = state.engine.catalog();
    axum::Json(
        catalog
            .workflows
            .values()
            .map(|w| {
                let mut actions: Vec<String> =
                    w.transitions.iter().map(|t| t.action.clone()).collect();
                actions.dedup();
                WorkflowInfo {
                    id: w.id.clone(),
                    version: w.version,
                    name: (&w.name).into(),
                    initial: w.state(w.initial).name.clone(),
                    states: w
                        .states
                        .iter()
                        .map(|s| StateInfo {
                            name: s.name.clone(),
                            label: (&s.label).into(),
                            terminal: s.terminal,
                        })
                        .collect(),
                    actions,
                    // Reversed, so an action declared from several states keeps its first label.
                    action_labels: w
                        .transitions
                        .iter()
                        .rev()
                        .map(|t| (t.action.clone(), LabelView::from(&t.label)))
                        .collect(),
                    clocks: w.clocks.iter().map(|c| c.name.clone()).collect(),
                    clock_labels: w
                        .clocks
                        .iter()
                        .map(|c| (c.name.clone(), LabelView::from(&c.label)))
                        .collect(),
                }
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct CategoryInfo {
    pub code: String,
    pub label: LabelView,
    pub workflow: String,
    pub icon: String,
    pub skills: Vec<String>,
}

/// Request categories (助老, 维修, …) and the workflow serving each.
#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog",
    responses((status = 200, body = [CategoryInfo]), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn categories(State(state): State<AppState>, _: Caller) -> axum::Json<Vec<CategoryInfo>> {
    axum::Json(
        state
            .engine
            .catalog()
            .categories
            .values()
            .map(|c| CategoryInfo {
                code: c.code.clone(),
                label: (&c.label).into(),
                workflow: c.workflow.clone(),
                icon: c.icon.clone(),
                skills: c.skills.clone(),
            })
            .collect(),
    )
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub name: String,
    pub roles: Vec<String>,
    pub community_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub home_building_id: Option<Uuid>,
    /// The home building's name: where a request is for unless it says otherwise.
    pub home_building: Option<String>,
    pub teams: Vec<Uuid>,
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "catalog",
    responses((status = 200, body = Me), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<axum::Json<Me>> {
    let p = caller.principal;
    let home_building = match p.home_building_id {
        Some(id) => state.store.org_unit_name(id).await?,
        None => None,
    };
    Ok(axum::Json(Me {
        id: p.id,
        name: p.name,
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        community_id: p.community_id,
        branch_id: p.branch_id,
        home_building_id: p.home_building_id,
        home_building,
        teams: p.teams,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TeamInfo {
    pub id: Uuid,
    pub name: String,
}

/// The teams of the caller's community: the pools a request can be dispatched to (抢单).
/// Empty for a caller outside any community.
#[utoipa::path(get, path = "/api/v1/teams", tag = "catalog",
    responses((status = 200, body = [TeamInfo]), (status = 401, body = Problem)), security(("bearer" = [])))]
async fn teams(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<TeamInfo>>> {
    let Some(community) = caller.principal.community_id else {
        return Ok(axum::Json(Vec::new()));
    };
    let teams = state.store.teams_of(community).await?;
    Ok(axum::Json(
        teams
            .into_iter()
            .map(|(id, name)| TeamInfo { id, name })
            .collect(),
    ))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResidentQuery {
    /// The resident's phone number, in full (required).
    pub phone: Option<String>,
}

/// A resident a request can be entered for (代办).
#[derive(Serialize, ToSchema)]
pub struct ResidentInfo {
    pub id: Uuid,
    pub name: String,
    /// Where help goes unless the request says otherwise.
    pub home_building: Option<String>,
}

/// The active residents of the caller's community with this phone number (in full): whom a
/// volunteer, building head, branch or community office enters a request for (代办), with
/// `on_behalf_of`. Nobody else may look.
#[utoipa::path(get, path = "/api/v1/residents", tag = "catalog", params(ResidentQuery),
    responses((status = 200, body = [ResidentInfo]), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn residents(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<ResidentQuery>,
) -> ApiResult<axum::Json<Vec<ResidentInfo>>> {
    caller.principal.may(Desk::Intake)?;
    let phone = q.phone.as_deref().unwrap_or_default().trim();
    if phone.len() < 7 || phone.len() > 20 || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field(
            "phone: the whole number, digits only",
        ));
    }
    let Some(community) = caller.principal.community_id else {
        return Ok(axum::Json(Vec::new()));
    };
    let found = state.store.residents_by_phone(community, phone).await?;
    Ok(axum::Json(
        found
            .into_iter()
            .map(|(id, name, home_building)| ResidentInfo {
                id,
                name,
                home_building,
            })
            .collect(),
    ))
}
