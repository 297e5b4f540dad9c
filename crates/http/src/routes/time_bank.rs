//! 时间银行 over HTTP: a person's passbook (存折), transfers to a relative and donations to the
//! pool, the community office's grants from the pool and the relations it confirms, and the
//! community's own accounts. Paying for a request with hours is `pay_hours` on
//! `POST /api/v1/tickets`. The rules are `workflow_core::time_bank` and the access policy's
//! `keeps_time_bank`, `reads_time_bank`, `reads_ledger`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use storage::time_bank::Why;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use workflow_core::store::Store;
use workflow_core::time_bank::{self, Account, Movement, minutes_of};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{ApiPath, Body};
use crate::routes::reports::{community_unit, ledger_access, member_community};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(passbook))
        .routes(routes!(transfer))
        .routes(routes!(donate))
        .routes(routes!(bank))
        .routes(routes!(grant))
        .routes(routes!(relate))
}

/// The most hours one movement carries.
const MAX_HOURS: f64 = 1_000.0;

fn hours(h: f64) -> f64 {
    h / 60.0
}

#[derive(Serialize, ToSchema)]
pub struct LineView {
    /// `deposit`, `excess`, `hold`, `pay`, `release`, `transfer`, `donate`, `grant` or `expire`.
    pub kind: String,
    /// Into the account (above zero) or out of it.
    pub hours: f64,
    pub ticket_id: Option<Uuid>,
    pub reason: Option<String>,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
pub struct HoldView {
    pub ticket_id: Uuid,
    pub hours: f64,
}

#[derive(Serialize, ToSchema)]
pub struct PassbookView {
    pub person_id: Uuid,
    /// Whether the person's community runs a time bank.
    pub open: bool,
    pub balance_hours: f64,
    /// Set aside for requests not yet done.
    pub holds: Vec<HoldView>,
    /// Every movement of the account, newest first.
    pub lines: Vec<LineView>,
    /// The relatives the community office confirmed: who the person may give hours to.
    pub relatives: Vec<RelativeView>,
}

#[derive(Serialize, ToSchema)]
pub struct RelativeView {
    pub id: Uuid,
    pub name: String,
}

/// A person's passbook (存折): balance, holds, movements. Theirs, and their community's staff's.
#[utoipa::path(get, path = "/api/v1/people/{id}/passbook", tag = "volunteers",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PassbookView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn passbook(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<PassbookView>> {
    ledger_access(&state, &caller, id).await?;
    let community = member_community(&state, id)
        .await?
        .and_then(|c| c.community);
    let open = match community {
        Some(c) => state.store.time_bank_of(c).await?.is_some(),
        None => false,
    };
    let book = state.store.passbook(id).await?;
    let relatives = state
        .store
        .relatives_of(id)
        .await?
        .into_iter()
        .map(|(id, name)| RelativeView { id, name })
        .collect();
    Ok(axum::Json(PassbookView {
        person_id: id,
        open,
        balance_hours: hours(book.balance as f64),
        holds: book
            .holds
            .into_iter()
            .map(|(ticket_id, m)| HoldView {
                ticket_id,
                hours: hours(m as f64),
            })
            .collect(),
        lines: book
            .lines
            .into_iter()
            .map(|l| LineView {
                kind: l.kind.as_str().to_owned(),
                hours: hours(l.minutes as f64),
                ticket_id: l.ticket,
                reason: l.reason,
                at: l.at.to_string(),
            })
            .collect(),
        relatives,
    }))
}

/// The caller's community, if it runs a time bank; else why not.
async fn own_bank(state: &AppState, caller: &Caller) -> ApiResult<Uuid> {
    let community = caller
        .principal
        .community_id
        .ok_or_else(|| ApiError::invalid_field("you belong to no community"))?;
    state
        .store
        .time_bank_of(community)
        .await?
        .ok_or_else(|| ApiError::invalid_field("your community runs no time bank"))?;
    Ok(community)
}

fn checked_hours(h: f64) -> ApiResult<i64> {
    minutes_of(h, MAX_HOURS).ok_or_else(|| {
        ApiError::invalid_field(format!("hours is above zero and at most {MAX_HOURS}"))
    })
}

/// Writes movements for `caller`, with why; `not_enough_hours` if a balance cannot cover them.
async fn moved(
    state: &AppState,
    caller: &Caller,
    movements: &[Movement],
    reason: Option<String>,
) -> ApiResult<()> {
    state
        .store
        .move_time(
            movements,
            state.engine.now(),
            &Why {
                actor: Some(caller.principal.id),
                reason,
            },
        )
        .await?;
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// A relative the community office confirmed as the caller's.
    pub to: Uuid,
    pub hours: f64,
}

#[derive(Serialize, ToSchema)]
pub struct BalanceView {
    /// The caller's balance after it.
    pub balance_hours: f64,
}

/// Give hours to a relative (the community office confirmed the relation).
#[utoipa::path(post, path = "/api/v1/me/time-bank/transfers", tag = "volunteers", request_body = TransferBody,
    responses((status = 201, body = BalanceView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<TransferBody>,
) -> ApiResult<(StatusCode, axum::Json<BalanceView>)> {
    let community = own_bank(&state, &caller).await?;
    let minutes = checked_hours(b.hours)?;
    let me = caller.principal.id;
    let related = state.store.related(me, b.to).await?;
    let m = time_bank::transfer(community, me, b.to, minutes, related)?;
    moved(&state, &caller, &[m], None).await?;
    balance(&state, me).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DonationBody {
    pub hours: f64,
}

/// Give hours to the community's pool (爱心池), which its office grants to residents in need.
#[utoipa::path(post, path = "/api/v1/me/time-bank/donations", tag = "volunteers", request_body = DonationBody,
    responses((status = 201, body = BalanceView), (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn donate(
    State(state): State<AppState>,
    caller: Caller,
    Body(b): Body<DonationBody>,
) -> ApiResult<(StatusCode, axum::Json<BalanceView>)> {
    let community = own_bank(&state, &caller).await?;
    let minutes = checked_hours(b.hours)?;
    let me = caller.principal.id;
    moved(
        &state,
        &caller,
        &[time_bank::donate(community, me, minutes)],
        None,
    )
    .await?;
    balance(&state, me).await
}

async fn balance(
    state: &AppState,
    person: Uuid,
) -> ApiResult<(StatusCode, axum::Json<BalanceView>)> {
    let b = state.store.balance(Account::Person(person)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(BalanceView {
            balance_hours: hours(b as f64),
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct BankView {
    pub community_id: Uuid,
    pub daily_cap_hours: Option<f64>,
    pub account_cap_hours: Option<f64>,
    /// The pool's balance: what the office may grant.
    pub pool_hours: f64,
    /// Every hour of service the bank has taken in (the issue account, turned positive).
    pub issued_hours: f64,
}

/// A community's time bank: its caps, its pool, what it has issued. Its staff's. 404: it runs
/// none.
#[utoipa::path(get, path = "/api/v1/communities/{id}/time-bank", tag = "volunteers",
    params(("id" = Uuid, Path)),
    responses((status = 200, body = BankView), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
async fn bank(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<axum::Json<BankView>> {
    caller
        .principal
        .reads_time_bank(&community_unit(&state, id).await?)?;
    let policy = state
        .store
        .time_bank_of(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(BankView {
        community_id: id,
        daily_cap_hours: policy.daily_cap_minutes.map(|m| hours(m as f64)),
        account_cap_hours: policy.account_cap_minutes.map(|m| hours(m as f64)),
        pool_hours: hours(state.store.balance(Account::Pool(id)).await? as f64),
        issued_hours: hours(-state.store.balance(Account::Issue(id)).await? as f64),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantBody {
    /// A person of the community.
    pub person_id: Uuid,
    pub hours: f64,
    /// Why (kept with the movement).
    pub reason: String,
}

/// Grant hours from the community's pool to a resident in need: the community office.
#[utoipa::path(post, path = "/api/v1/communities/{id}/time-bank/grants", tag = "volunteers",
    params(("id" = Uuid, Path)), request_body = GrantBody,
    responses((status = 201, body = BankView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn grant(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<GrantBody>,
) -> ApiResult<(StatusCode, axum::Json<BankView>)> {
    community_unit(&state, id).await?;
    caller.principal.keeps_time_bank(id)?;
    state
        .store
        .time_bank_of(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let reason = b.reason.trim().to_owned();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid_field("reason is 1 to 500 characters"));
    }
    of_community(&state, b.person_id, id, "person_id").await?;
    let minutes = checked_hours(b.hours)?;
    moved(
        &state,
        &caller,
        &[time_bank::grant(id, b.person_id, minutes)],
        Some(reason),
    )
    .await?;
    let axum::Json(view) = bank(State(state), caller, ApiPath(id)).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// That `person` belongs to `community`; else the field is refused.
async fn of_community(
    state: &AppState,
    person: Uuid,
    community: Uuid,
    field: &str,
) -> ApiResult<()> {
    let found = state.store.person(person).await?;
    if found.and_then(|p| p.community_id) != Some(community) {
        return Err(ApiError::invalid_field(format!(
            "{field} is not a person of this community"
        )));
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelationBody {
    pub person_id: Uuid,
    /// Who `person_id` may give hours to.
    pub relative_id: Uuid,
}

#[derive(Serialize, ToSchema)]
pub struct RelationView {
    pub person_id: Uuid,
    pub relative_id: Uuid,
}

/// Confirm that someone is a person's relative (the office has seen the proof): the person may
/// then give them hours. The community office; the person is of its community.
#[utoipa::path(post, path = "/api/v1/communities/{id}/time-bank/relations", tag = "volunteers",
    params(("id" = Uuid, Path)), request_body = RelationBody,
    responses((status = 201, body = RelationView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
async fn relate(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    Body(b): Body<RelationBody>,
) -> ApiResult<(StatusCode, axum::Json<RelationView>)> {
    community_unit(&state, id).await?;
    caller.principal.keeps_time_bank(id)?;
    of_community(&state, b.person_id, id, "person_id").await?;
    if state.store.person(b.relative_id).await?.is_none() || b.relative_id == b.person_id {
        return Err(ApiError::invalid_field("relative_id is not another person"));
    }
    state
        .store
        .confirm_relation(
            b.person_id,
            b.relative_id,
            id,
            caller.principal.id,
            state.engine.now(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(RelationView {
            person_id: b.person_id,
            relative_id: b.relative_id,
        }),
    ))
}
