//! The micro-wish wall (微心愿墙): a community's approved wishes, open to be claimed by its
//! volunteers and partner units. No personal data: who wished is never shown, a claim shows
//! only the partner unit's name.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::reports::unit_for;
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::ApiQuery;
use crate::views::LabelView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(wall))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WallQuery {
    /// Default: the caller's community.
    pub community_id: Option<Uuid>,
    /// The last id of the previous page.
    pub after: Option<Uuid>,
    /// At most 100; default 50.
    pub limit: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct WallItem {
    pub id: Uuid,
    /// The version to send with `claim`.
    pub version: u64,
    pub category: String,
    pub category_label: Option<LabelView>,
    pub description: String,
    pub state: String,
    pub state_label: Option<LabelView>,
    pub posted_at: String,
    /// The partner unit that claimed it, when one did.
    pub claimed_by_partner: Option<String>,
}

/// The community's wall, newest first: residents, volunteers and partner units of the
/// community, and the staff who cover it.
#[utoipa::path(get, path = "/api/v1/wall", tag = "tickets", params(WallQuery),
    responses((status = 200, body = [WallItem]), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn wall(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<WallQuery>,
) -> ApiResult<axum::Json<Vec<WallItem>>> {
    let info = unit_for(
        &state,
        &caller,
        q.community_id.or(caller.principal.community_id),
    )
    .await?;
    let Some(community) = info
        .community
        .filter(|c| info.unit == workflow_core::access::Unit::Community(*c))
    else {
        return Err(ApiError::invalid_field("community_id names a community"));
    };
    if !caller.principal.reads_wall(&info) {
        return Err(ApiError::NotFound);
    }
    let limit = q.limit.unwrap_or(50).clamp(1, 100);
    let catalog = state.engine.catalog();
    let items = state.store.wall(community, q.after, limit).await?;
    Ok(axum::Json(
        items
            .into_iter()
            .map(|(t, partner)| {
                let wf = catalog.workflow(&t.workflow_id, t.workflow_version);
                WallItem {
                    id: t.id,
                    version: t.version,
                    category_label: catalog
                        .category(&t.category)
                        .map(|c| LabelView::from(&c.label)),
                    state_label: wf.and_then(|w| {
                        w.state_id(&t.state)
                            .map(|s| LabelView::from(&w.state(s).label))
                    }),
                    category: t.category,
                    description: t.description,
                    state: t.state,
                    posted_at: t.created_at.to_string(),
                    claimed_by_partner: partner,
                }
            })
            .collect(),
    ))
}
