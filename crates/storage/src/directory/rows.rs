//! The directory as the database holds it, read whole: what an import compares the file with
//! ([`super::import`]) and what an export writes out ([`super::export`]). One reader, generic
//! over the backend, so both sides see the same rows.

use sqlx::types::Json;
use sqlx::{Database, Executor, FromRow, IntoArguments, Transaction};
use uuid::Uuid;

#[derive(FromRow)]
pub(super) struct UnitRow {
    pub id: Uuid,
    pub parent_id: Option<Uuid>,
    pub kind: String,
    pub name: String,
}

/// A branch, a partner unit or a post: named within a community.
#[derive(FromRow)]
pub(super) struct NamedRow {
    pub id: Uuid,
    pub community_id: Uuid,
    pub name: String,
}

/// A branch's area or a team's member.
#[derive(FromRow)]
pub(super) struct LinkRow {
    pub owner: Uuid,
    pub item: Uuid,
}

#[derive(FromRow)]
pub(super) struct PersonRow {
    pub id: Uuid,
    pub community_id: Option<Uuid>,
    pub street_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub name: String,
    pub phone: Option<String>,
    pub roles: String,
    pub home_building_id: Option<Uuid>,
    pub skills: Json<Vec<String>>,
    pub max_open: i32,
    pub away_until_us: Option<i64>,
    pub partner_unit_id: Option<Uuid>,
    pub active: bool,
}

/// What a community's documents name of it.
#[derive(FromRow)]
pub(super) struct CommunityRow {
    pub community_id: Uuid,
    pub person_in_charge: Option<String>,
    pub phone: Option<String>,
}

/// A community's time bank and its caps.
#[derive(FromRow)]
pub(super) struct TimeBankRow {
    pub community_id: Uuid,
    pub daily_cap_minutes: Option<i64>,
    pub account_cap_minutes: Option<i64>,
    pub expire_after_days: Option<i64>,
}

#[derive(FromRow)]
pub(super) struct TeamRow {
    pub id: Uuid,
    pub community_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub leader_id: Option<Uuid>,
}

/// Every directory row, named rows in name order (the export's order).
pub(super) struct Rows {
    pub units: Vec<UnitRow>,
    pub branches: Vec<NamedRow>,
    pub branch_areas: Vec<LinkRow>,
    pub partners: Vec<NamedRow>,
    pub posts: Vec<NamedRow>,
    pub communities: Vec<CommunityRow>,
    pub time_banks: Vec<TimeBankRow>,
    pub people: Vec<PersonRow>,
    pub teams: Vec<TeamRow>,
    pub team_members: Vec<LinkRow>,
}

/// Reads every directory row in `tx` (the import's, or a reader's: one snapshot either way).
pub(super) async fn read<DB>(tx: &mut Transaction<'_, DB>) -> Result<Rows, sqlx::Error>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> UnitRow: FromRow<'r, DB::Row>,
    for<'r> NamedRow: FromRow<'r, DB::Row>,
    for<'r> LinkRow: FromRow<'r, DB::Row>,
    for<'r> PersonRow: FromRow<'r, DB::Row>,
    for<'r> TeamRow: FromRow<'r, DB::Row>,
    for<'r> TimeBankRow: FromRow<'r, DB::Row>,
    for<'r> CommunityRow: FromRow<'r, DB::Row>,
{
    Ok(Rows {
        units: sqlx::query_as("SELECT id, parent_id, kind, name FROM org_units")
            .fetch_all(&mut **tx)
            .await?,
        branches: sqlx::query_as("SELECT id, community_id, name FROM branches ORDER BY name, id")
            .fetch_all(&mut **tx)
            .await?,
        branch_areas: sqlx::query_as(
            "SELECT branch_id AS owner, org_unit_id AS item FROM branch_areas",
        )
        .fetch_all(&mut **tx)
        .await?,
        partners: sqlx::query_as(
            "SELECT id, community_id, name FROM partner_units ORDER BY name, id",
        )
        .fetch_all(&mut **tx)
        .await?,
        posts: sqlx::query_as("SELECT id, community_id, name FROM posts ORDER BY name, id")
            .fetch_all(&mut **tx)
            .await?,
        communities: sqlx::query_as(
            "SELECT community_id, person_in_charge, phone FROM community_details ORDER BY community_id",
        )
        .fetch_all(&mut **tx)
        .await?,
        time_banks: sqlx::query_as(
            "SELECT community_id, daily_cap_minutes, account_cap_minutes, expire_after_days FROM time_banks \
             ORDER BY community_id",
        )
        .fetch_all(&mut **tx)
        .await?,
        people: sqlx::query_as(
            "SELECT id, community_id, street_id, branch_id, name, phone, roles, \
             home_building_id, skills, max_open, away_until_us, partner_unit_id, active \
             FROM people ORDER BY name, id",
        )
        .fetch_all(&mut **tx)
        .await?,
        teams: sqlx::query_as(
            "SELECT id, community_id, parent_id, name, leader_id FROM teams ORDER BY name, id",
        )
        .fetch_all(&mut **tx)
        .await?,
        team_members: sqlx::query_as(
            "SELECT team_id AS owner, person_id AS item FROM team_members",
        )
        .fetch_all(&mut **tx)
        .await?,
    })
}
