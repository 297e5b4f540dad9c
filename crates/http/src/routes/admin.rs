//! The directory, for administrators: org units, branches, people (creating one returns its
//! token, once), teams, partner units, and revoking tokens.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use storage::NewPerson;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::access::Desk;
use workflow_core::store::StoreError;

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Code, Problem};
use crate::extract::{ApiPath, Body};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_org_unit))
        .routes(routes!(create_branch))
        .routes(routes!(create_person))
        .routes(routes!(revoke_tokens))
        .routes(routes!(create_team))
        .routes(routes!(create_partner_unit))
        .routes(routes!(contact_reads))
        .routes(routes!(list_machine_tokens, issue_machine_token))
}

#[derive(Serialize, ToSchema)]
pub struct MachineTokenView {
    pub person_id: Uuid,
    pub person_name: String,
    /// What it is for.
    pub name: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// Every machine token (integrations, Open311 keys, tokens made with a person), newest
/// first; never the token itself. Console sessions are not listed: they end by themselves.
#[utoipa::path(get, path = "/api/v1/admin/tokens", tag = "admin",
    responses((status = 200, body = [MachineTokenView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn list_machine_tokens(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<axum::Json<Vec<MachineTokenView>>> {
    caller.principal.may(Desk::Admin)?;
    let tokens = state.store.machine_tokens().await?;
    Ok(axum::Json(
        tokens
            .into_iter()
            .map(|t| MachineTokenView {
                person_id: t.person_id,
                person_name: t.person_name,
                name: t.name,
                created_at: t.created.to_string(),
                revoked_at: t.revoked.map(|r| r.to_string()),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMachineToken {
    pub person_id: Uuid,
    /// What it is for: `12345 热线对接`.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct IssuedToken {
    /// Shown this once; only its hash is kept. Lives until the person's tokens are revoked.
    pub token: String,
}

/// Issue a named machine token for a person (an integration acts as them).
#[utoipa::path(post, path = "/api/v1/admin/tokens", tag = "admin", request_body = NewMachineToken,
    responses((status = 201, body = IssuedToken), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn issue_machine_token(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewMachineToken>,
) -> ApiResult<(StatusCode, axum::Json<IssuedToken>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    if state.store.person_ref(b.person_id).await?.is_none() {
        return Err(ApiError::invalid_field(format!(
            "person_id: {} is not a person",
            b.person_id
        )));
    }
    let token = state
        .store
        .issue_named_token(b.person_id, Some(b.name.trim()))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(IssuedToken { token })))
}

#[derive(Serialize, ToSchema)]
pub struct ContactReadView {
    pub reader_id: Uuid,
    pub ticket_id: Uuid,
    pub community_id: Uuid,
    pub at: String,
}

/// Who saw this person's unmasked phone number, on which ticket, when (newest first).
#[utoipa::path(get, path = "/api/v1/admin/people/{id}/contact-reads", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = [ContactReadView]), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn contact_reads(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Vec<ContactReadView>>> {
    caller.principal.may(Desk::Admin)?;
    let reads = state.store.contact_reads(id, 500).await?;
    Ok(axum::Json(
        reads
            .into_iter()
            .map(|r| ContactReadView {
                reader_id: r.reader_id,
                ticket_id: r.ticket_id,
                community_id: r.community_id,
                at: r.at.to_string(),
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Created {
    pub id: Uuid,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgUnit {
    /// street, community, grid, compound or building.
    pub kind: String,
    pub name: String,
    pub parent_id: Option<Uuid>,
}

fn text(field: &'static str, s: &str, max: usize) -> ApiResult<()> {
    let n = s.trim().chars().count();
    if n == 0 || n > max {
        return Err(ApiError::invalid_field(format!(
            "{field} must be 1 to {max} characters"
        )));
    }
    Ok(())
}

/// A directory write's refusal: a bad kind or nesting, or a reference to nothing of the
/// kind it must name (the detail starts with the field's name).
fn invalid(e: StoreError) -> ApiError {
    match e {
        StoreError::Other(detail) => ApiError::invalid_field(detail),
        e @ StoreError::InvalidReference { .. } => ApiError::invalid_field(e.to_string()),
        other => other.into(),
    }
}

/// Add an org unit (street → community → grid → compound → building).
#[utoipa::path(post, path = "/api/v1/admin/org-units", tag = "admin", request_body = NewOrgUnit,
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_org_unit(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewOrgUnit>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    let id = state
        .store
        .create_org_unit(&b.kind, b.name.trim(), b.parent_id)
        .await
        .map_err(invalid)?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBranch {
    pub community_id: Uuid,
    pub name: String,
    /// The compounds or buildings the branch covers.
    pub areas: Vec<Uuid>,
}

/// Add a party branch and the area it covers.
#[utoipa::path(post, path = "/api/v1/admin/branches", tag = "admin", request_body = NewBranch,
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_branch(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewBranch>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    let id = state
        .store
        .create_branch(b.community_id, b.name.trim(), &b.areas)
        .await
        .map_err(invalid)?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPersonBody {
    pub name: String,
    pub phone: Option<String>,
    /// resident, secretary, member, community, street, admin, supervisor (a residents'
    /// representative: 督单, read-only). A partner unit's contact is a `member` with the unit
    /// named in the directory file (`partner`): they claim wishes, and are never dispatched.
    pub roles: Vec<String>,
    pub community_id: Option<Uuid>,
    pub street_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub home_building_id: Option<Uuid>,
    #[serde(default)]
    pub skills: Vec<String>,
    pub max_open: Option<u32>,
    /// For a partner unit's (共建单位) contact: the unit. They claim micro-wishes for it and
    /// are never dispatched requests.
    pub partner_unit_id: Option<Uuid>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedPerson {
    pub id: Uuid,
    /// Shown this once; only its hash is kept.
    pub token: String,
}

/// Add a person; the response carries their token, once.
#[utoipa::path(post, path = "/api/v1/admin/people", tag = "admin", request_body = NewPersonBody,
    responses((status = 201, body = CreatedPerson), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_person(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewPersonBody>,
) -> ApiResult<(StatusCode, axum::Json<CreatedPerson>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    let roles = b
        .roles
        .iter()
        .map(|r| match Role::parse(r) {
            Some(Role::System) | None => Err(ApiError::invalid_field(format!(
                "unknown role {r:?}: {}",
                Role::PEOPLES.join(", ")
            ))),
            Some(role) => Ok(role),
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if roles.is_empty() {
        return Err(ApiError::rejected(
            Code::MissingField,
            "a person needs at least one role",
        ));
    }
    let person = NewPerson {
        name: b.name.trim().to_owned(),
        phone: b.phone,
        roles,
        community_id: b.community_id,
        street_id: b.street_id,
        branch_id: b.branch_id,
        home_building_id: b.home_building_id,
        skills: b.skills,
        max_open: b.max_open,
        partner_unit_id: b.partner_unit_id,
    };
    let id = state.store.create_person(&person).await.map_err(invalid)?;
    let token = state.store.issue_token(id).await?;
    Ok((StatusCode::CREATED, axum::Json(CreatedPerson { id, token })))
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub revoked: u64,
}

/// Revoke every token of a person; they stop working at once.
#[utoipa::path(post, path = "/api/v1/admin/people/{id}/revoke-tokens", tag = "admin", params(("id" = Uuid, Path)),
    responses((status = 200, body = Revoked), (status = 403, body = Problem)), security(("bearer" = [])))]
async fn revoke_tokens(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<Revoked>> {
    caller.principal.may(Desk::Admin)?;
    let revoked = state.store.revoke_tokens(id).await?;
    Ok(axum::Json(Revoked { revoked }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    pub community_id: Uuid,
    pub name: String,
    pub leader_id: Option<Uuid>,
    #[serde(default)]
    pub members: Vec<Uuid>,
}

/// Add a volunteer team (志愿服务队) and its members.
#[utoipa::path(post, path = "/api/v1/admin/teams", tag = "admin", request_body = NewTeam,
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_team(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewTeam>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    let id = state
        .store
        .create_team(b.community_id, b.name.trim(), b.leader_id, &b.members)
        .await
        .map_err(invalid)?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPartnerUnit {
    pub community_id: Uuid,
    pub name: String,
}

/// Add a partner unit (共建单位) of a community; its contacts are people with its id.
#[utoipa::path(post, path = "/api/v1/admin/partner-units", tag = "admin", request_body = NewPartnerUnit,
    responses((status = 201, body = Created), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn create_partner_unit(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<NewPartnerUnit>,
) -> ApiResult<(StatusCode, axum::Json<Created>)> {
    caller.principal.may(Desk::Admin)?;
    text("name", &b.name, 100)?;
    let id = state
        .store
        .create_partner_unit(b.community_id, b.name.trim())
        .await
        .map_err(invalid)?;
    Ok((StatusCode::CREATED, axum::Json(Created { id })))
}
