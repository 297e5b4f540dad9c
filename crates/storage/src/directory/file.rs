//! The directory file ([`workflow_core::directory`]) in and out of the database: imported in
//! one transaction (importing the same file again changes nothing), exported in the same
//! shape. Civil dates are read and written in the deployment's zone.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::tz::TimeZone;
use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::directory::*;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// What an import changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
}

/// Runs `$body` with `$tx` a transaction on the writer; commits if it returns `Ok`.
macro_rules! in_transaction {
    ($store:expr, $tx:ident, $body:block) => {
        with_pool!($store, pool, {
            let mut $tx = pool.begin().await.map_err(from_sqlx)?;
            let r: Result<Applied, StoreError> = async { $body }.await;
            match r {
                Ok(a) => {
                    $tx.commit().await.map_err(from_sqlx)?;
                    Ok(a)
                }
                Err(e) => Err(e),
            }
        })
    };
}

/// The id of the `$table` row named `$name` in `$community`, inserted if missing (and
/// counted as created). Evaluates to `(id, whether it was there)`.
macro_rules! named_row {
    ($tx:expr, $table:literal, $community:expr, $name:expr, $now:expr, $applied:expr) => {{
        let found: Option<Uuid> = sqlx::query_scalar(concat!(
            "SELECT id FROM ",
            $table,
            " WHERE community_id = $1 AND name = $2"
        ))
        .bind($community)
        .bind($name)
        .fetch_optional(&mut *$tx)
        .await
        .map_err(from_sqlx)?;
        match found {
            Some(id) => (id, true),
            None => {
                let id = Uuid::now_v7();
                sqlx::query(concat!(
                    "INSERT INTO ",
                    $table,
                    " (id, community_id, name, created_at_us) VALUES ($1, $2, $3, $4)"
                ))
                .bind(id)
                .bind($community)
                .bind($name)
                .bind($now)
                .execute(&mut *$tx)
                .await
                .map_err(from_sqlx)?;
                $applied.created += 1;
                (id, false)
            }
        }
    }};
}

/// Makes the `$table` rows of `$owner` exactly `$wanted` (a set of ids in `$item`): the
/// file's list is the whole list. Evaluates to whether anything changed.
macro_rules! replace_links {
    ($tx:expr, $table:literal, $owner_col:literal, $item:literal, $owner:expr, $wanted:expr, $community:expr) => {{
        let before: BTreeSet<Uuid> = sqlx::query_scalar(concat!(
            "SELECT ", $item, " FROM ", $table, " WHERE ", $owner_col, " = $1"
        ))
        .bind($owner)
        .fetch_all(&mut *$tx)
        .await
        .map_err(from_sqlx)?
        .into_iter()
        .collect();
        let changed = before != $wanted;
        if changed {
            sqlx::query(concat!(
                "DELETE FROM ",
                $table,
                " WHERE ",
                $owner_col,
                " = $1"
            ))
            .bind($owner)
            .execute(&mut *$tx)
            .await
            .map_err(from_sqlx)?;
            for item in &$wanted {
                sqlx::query(concat!(
                    "INSERT INTO ",
                    $table,
                    " (",
                    $owner_col,
                    ", ",
                    $item,
                    ", community_id) VALUES ($1, $2, $3)"
                ))
                .bind($owner)
                .bind(item)
                .bind($community)
                .execute(&mut *$tx)
                .await
                .map_err(from_sqlx)?;
            }
        }
        changed
    }};
}

/// The start of a civil date in `zone`, in µs.
fn midnight(date: &str, zone: &TimeZone) -> Option<i64> {
    let d: jiff::civil::Date = date.parse().ok()?;
    Some(us(d.to_zoned(zone.clone()).ok()?.timestamp()))
}

impl SqlStore {
    /// Applies a validated directory in one transaction: all of it or nothing.
    pub async fn import_directory(
        &self,
        d: &DirectoryFile,
        zone: &TimeZone,
    ) -> Result<Applied, StoreError> {
        let applied = self.import_directory_once(d, zone).await;
        // People's roles, places, teams or standing may have changed.
        self.remembered.forget_all();
        applied
    }

    async fn import_directory_once(
        &self,
        d: &DirectoryFile,
        zone: &TimeZone,
    ) -> Result<Applied, StoreError> {
        let now = us(jiff::Timestamp::now());
        in_transaction!(self, tx, {
            let mut applied = Applied::default();
            // Units, parents first (paths sort before their extensions).
            let mut ids: HashMap<String, Uuid> = HashMap::new();
            let mut paths: Vec<&String> = d.units.iter().collect();
            paths.sort_by_key(|p| (p.split('/').count(), (*p).clone()));
            for path in paths {
                let parts: Vec<&str> = path.split('/').collect();
                let kind = KINDS[parts.len() - 1];
                let name = parts[parts.len() - 1];
                let parent = (parts.len() > 1).then(|| ids[&parts[..parts.len() - 1].join("/")]);
                let community = match parts.len() {
                    1 => None,
                    2 => None,
                    _ => Some(ids[&parts[..2].join("/")]),
                };
                let found: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM org_units WHERE parent_id IS NOT DISTINCT FROM $1 AND kind = $2 AND name = $3",
                )
                .bind(parent)
                .bind(kind)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
                let id = match found {
                    Some(id) => id,
                    None => {
                        let id = Uuid::now_v7();
                        let community = if kind == "community" {
                            Some(id)
                        } else {
                            community
                        };
                        sqlx::query("INSERT INTO org_units (id, parent_id, kind, name, community_id, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)")
                            .bind(id)
                            .bind(parent)
                            .bind(kind)
                            .bind(name)
                            .bind(community)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(from_sqlx)?;
                        applied.created += 1;
                        id
                    }
                };
                ids.insert(path.clone(), id);
            }

            // Branches and their areas (the file's list is the whole list).
            let mut branches: HashMap<(Uuid, &str), Uuid> = HashMap::new();
            for b in &d.branches {
                let community = ids[&b.community];
                let (id, existed) = named_row!(tx, "branches", community, &b.name, now, applied);
                let wanted: BTreeSet<Uuid> = b.covers.iter().map(|c| ids[c]).collect();
                let changed = replace_links!(
                    tx,
                    "branch_areas",
                    "branch_id",
                    "org_unit_id",
                    id,
                    wanted,
                    community
                );
                applied.updated += usize::from(changed && existed);
                branches.insert((community, b.name.as_str()), id);
            }

            let mut partners: HashMap<(Uuid, &str), Uuid> = HashMap::new();
            for p in &d.partners {
                let community = ids[&p.community];
                let (id, _) = named_row!(tx, "partner_units", community, &p.name, now, applied);
                partners.insert((community, p.name.as_str()), id);
            }

            // People: created, or updated where anything differs.
            let mut people: HashMap<(Uuid, &str), Uuid> = HashMap::new();
            for p in &d.people {
                let community = p.community.as_ref().map(|c| ids[c]);
                let street = p.street.as_ref().map(|s| ids[s]);
                let home = p.home.as_ref().map(|h| ids[h]);
                let branch = community
                    .zip(p.branch.as_deref())
                    .map(|(c, b)| branches[&(c, b)]);
                let partner = community
                    .zip(p.partner.as_deref())
                    .map(|(c, u)| partners[&(c, u)]);
                let roles = p.roles.join(",");
                let away = p.away_until.as_deref().and_then(|d| midnight(d, zone));
                let found: Option<Uuid> = sqlx::query_scalar(
                    "SELECT id FROM people WHERE name = $1 AND community_id IS NOT DISTINCT FROM $2 \
                     AND (community_id IS NOT NULL OR street_id IS NOT DISTINCT FROM $3)",
                )
                .bind(&p.name)
                .bind(community)
                .bind(street)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?;
                let id = found.unwrap_or_else(Uuid::now_v7);
                let r = match found {
                    None => sqlx::query(
                        "INSERT INTO people (id, community_id, street_id, branch_id, name, phone, roles, home_building_id, \
                         skills, max_open, away_until_us, partner_unit_id, active, created_at_us) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    ),
                    Some(_) => sqlx::query(
                        "UPDATE people SET community_id = $2, street_id = $3, branch_id = $4, name = $5, phone = $6, roles = $7, \
                         home_building_id = $8, skills = $9, max_open = $10, away_until_us = $11, partner_unit_id = $12, active = $13 \
                         WHERE id = $1 AND $14 = $14 AND NOT (community_id IS NOT DISTINCT FROM $2 AND street_id IS NOT DISTINCT FROM $3 \
                         AND branch_id IS NOT DISTINCT FROM $4 AND phone IS NOT DISTINCT FROM $6 AND roles = $7 \
                         AND home_building_id IS NOT DISTINCT FROM $8 AND skills = $9 AND max_open = $10 \
                         AND away_until_us IS NOT DISTINCT FROM $11 AND partner_unit_id IS NOT DISTINCT FROM $12 AND active = $13)",
                    ),
                }
                .bind(id)
                .bind(community)
                .bind(street)
                .bind(branch)
                .bind(&p.name)
                .bind(&p.phone)
                .bind(&roles)
                .bind(home)
                .bind(Json(&p.skills))
                .bind(p.max_open as i32)
                .bind(away)
                .bind(partner)
                .bind(p.active)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
                if r.rows_affected() > 0 {
                    match found {
                        None => applied.created += 1,
                        Some(_) => applied.updated += 1,
                    }
                }
                people.insert(
                    (community.or(street).unwrap_or_default(), p.name.as_str()),
                    id,
                );
            }

            // Teams, parents before children; members as the file lists them.
            let mut teams: HashMap<(Uuid, &str), Uuid> = HashMap::new();
            let mut pending: Vec<&Team> = d.teams.iter().collect();
            while !pending.is_empty() {
                let before = pending.len();
                let mut later = Vec::new();
                for t in pending {
                    let community = ids[&t.community];
                    let parent = match &t.parent {
                        None => None,
                        Some(p) => match teams.get(&(community, p.as_str())) {
                            Some(id) => Some(*id),
                            None => {
                                later.push(t);
                                continue;
                            }
                        },
                    };
                    let leader = t.leader.as_deref().map(|l| people[&(community, l)]);
                    let found: Option<Uuid> = sqlx::query_scalar(
                        "SELECT id FROM teams WHERE community_id = $1 AND name = $2",
                    )
                    .bind(community)
                    .bind(&t.name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                    let id = found.unwrap_or_else(Uuid::now_v7);
                    let r = match found {
                        None => sqlx::query("INSERT INTO teams (id, community_id, parent_id, name, leader_id, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)"),
                        Some(_) => sqlx::query(
                            "UPDATE teams SET parent_id = $3, leader_id = $5 WHERE id = $1 AND community_id = $2 AND name = $4 AND $6 = $6 \
                             AND NOT (parent_id IS NOT DISTINCT FROM $3 AND leader_id IS NOT DISTINCT FROM $5)",
                        ),
                    }
                    .bind(id)
                    .bind(community)
                    .bind(parent)
                    .bind(&t.name)
                    .bind(leader)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                    let wanted: BTreeSet<Uuid> = t
                        .members
                        .iter()
                        .map(|m| people[&(community, m.as_str())])
                        .collect();
                    let relinked = replace_links!(
                        tx,
                        "team_members",
                        "team_id",
                        "person_id",
                        id,
                        wanted,
                        community
                    );
                    let changed = r.rows_affected() > 0 || relinked;
                    if changed {
                        match found {
                            None => applied.created += 1,
                            Some(_) => applied.updated += 1,
                        }
                    }
                    teams.insert((community, t.name.as_str()), id);
                }
                if later.len() == before {
                    return Err(StoreError::Other("teams whose parents form a cycle".into()));
                }
                pending = later;
            }
            Ok(applied)
        })
    }

    /// The whole directory in the import format, in a stable order.
    pub async fn export_directory(&self, zone: &TimeZone) -> Result<DirectoryFile, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query("SELECT id, parent_id, name FROM org_units")
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            let mut parent: HashMap<Uuid, (Option<Uuid>, String)> = HashMap::new();
            for r in &rows {
                parent.insert(
                    r.try_get(0).map_err(from_sqlx)?,
                    (
                        r.try_get(1).map_err(from_sqlx)?,
                        r.try_get(2).map_err(from_sqlx)?,
                    ),
                );
            }
            let path = |id: Uuid| -> String {
                let mut names = Vec::new();
                let mut at = Some(id);
                while let Some(i) = at {
                    let Some((p, n)) = parent.get(&i) else { break };
                    names.push(n.clone());
                    at = *p;
                }
                names.reverse();
                names.join("/")
            };
            let mut paths: BTreeMap<Uuid, String> = BTreeMap::new();
            for id in parent.keys() {
                paths.insert(*id, path(*id));
            }
            let p = |id: Option<Uuid>| id.and_then(|i| paths.get(&i).cloned());
            // Only leaves: every prefix is implied.
            let all: BTreeSet<String> = paths.values().cloned().collect();
            let inner: BTreeSet<&str> = all
                .iter()
                .filter_map(|u| u.rsplit_once('/').map(|(p, _)| p))
                .collect();
            let units: Vec<String> = all
                .iter()
                .filter(|u| !inner.contains(u.as_str()))
                .cloned()
                .collect();

            let mut branches = Vec::new();
            let mut branch_name: HashMap<Uuid, String> = HashMap::new();
            for r in sqlx::query("SELECT id, community_id, name FROM branches ORDER BY name, id")
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
            {
                let id: Uuid = r.try_get(0).map_err(from_sqlx)?;
                let name: String = r.try_get(2).map_err(from_sqlx)?;
                let covers: Vec<Uuid> =
                    sqlx::query_scalar("SELECT org_unit_id FROM branch_areas WHERE branch_id = $1")
                        .bind(id)
                        .fetch_all(pool)
                        .await
                        .map_err(from_sqlx)?;
                let mut covers: Vec<String> = covers
                    .into_iter()
                    .filter_map(|u| paths.get(&u).cloned())
                    .collect();
                covers.sort();
                branch_name.insert(id, name.clone());
                branches.push(Branch {
                    name,
                    community: p(r.try_get(1).map_err(from_sqlx)?).unwrap_or_default(),
                    covers,
                });
            }
            let mut partners = Vec::new();
            let mut partner_name: HashMap<Uuid, String> = HashMap::new();
            for r in
                sqlx::query("SELECT id, community_id, name FROM partner_units ORDER BY name, id")
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?
            {
                let name: String = r.try_get(2).map_err(from_sqlx)?;
                partner_name.insert(r.try_get(0).map_err(from_sqlx)?, name.clone());
                partners.push(Partner {
                    name,
                    community: p(r.try_get(1).map_err(from_sqlx)?).unwrap_or_default(),
                });
            }
            let mut people = Vec::new();
            let mut person_name: HashMap<Uuid, String> = HashMap::new();
            for r in sqlx::query(
                "SELECT id, community_id, street_id, branch_id, name, phone, roles, home_building_id, skills, max_open, \
                 away_until_us, partner_unit_id, active FROM people ORDER BY name, id",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
            {
                let g = |e: sqlx::Error| from_sqlx(e);
                let id: Uuid = r.try_get(0).map_err(g)?;
                let name: String = r.try_get(4).map_err(g)?;
                person_name.insert(id, name.clone());
                let skills: Json<Vec<String>> = r.try_get(8).map_err(g)?;
                let roles: String = r.try_get(6).map_err(g)?;
                let away: Option<i64> = r.try_get(10).map_err(g)?;
                people.push(Person {
                    name,
                    phone: r.try_get(5).map_err(g)?,
                    roles: roles.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
                    community: p(r.try_get(1).map_err(g)?),
                    street: p(r.try_get(2).map_err(g)?),
                    branch: r.try_get::<Option<Uuid>, _>(3).map_err(g)?.and_then(|b| branch_name.get(&b).cloned()),
                    home: p(r.try_get(7).map_err(g)?),
                    skills: skills.0,
                    max_open: r.try_get::<i32, _>(9).map_err(g)? as u32,
                    away_until: away.map(|us| {
                        from_us(us).to_zoned(zone.clone()).date().to_string()
                    }),
                    partner: r.try_get::<Option<Uuid>, _>(11).map_err(g)?.and_then(|u| partner_name.get(&u).cloned()),
                    active: r.try_get(12).map_err(g)?,
                });
            }
            let mut teams = Vec::new();
            let team_rows = sqlx::query(
                "SELECT id, community_id, parent_id, name, leader_id FROM teams ORDER BY name, id",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let team_name: HashMap<Uuid, String> = team_rows
                .iter()
                .filter_map(|r| Some((r.try_get(0).ok()?, r.try_get(3).ok()?)))
                .collect();
            for r in &team_rows {
                let id: Uuid = r.try_get(0).map_err(from_sqlx)?;
                let members: Vec<Uuid> =
                    sqlx::query_scalar("SELECT person_id FROM team_members WHERE team_id = $1")
                        .bind(id)
                        .fetch_all(pool)
                        .await
                        .map_err(from_sqlx)?;
                let mut members: Vec<String> = members
                    .into_iter()
                    .filter_map(|m| person_name.get(&m).cloned())
                    .collect();
                members.sort();
                teams.push(Team {
                    name: r.try_get(3).map_err(from_sqlx)?,
                    community: p(r.try_get(1).map_err(from_sqlx)?).unwrap_or_default(),
                    parent: r
                        .try_get::<Option<Uuid>, _>(2)
                        .map_err(from_sqlx)?
                        .and_then(|t| team_name.get(&t).cloned()),
                    leader: r
                        .try_get::<Option<Uuid>, _>(4)
                        .map_err(from_sqlx)?
                        .and_then(|l| person_name.get(&l).cloned()),
                    members,
                });
            }
            Ok(DirectoryFile {
                units,
                branches,
                partners,
                people,
                teams,
            })
        })
    }
}
