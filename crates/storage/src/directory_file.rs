//! The directory as one TOML file: org units as paths, branches and the areas they cover,
//! people, teams, partner units. `linli admin import` validates a file (every problem as
//! `file:line:col: message`) and applies it in one transaction; importing the same file
//! again changes nothing. `linli admin export` writes the same shape back.
//!
//! Identity is by natural key, so a file can be edited and re-imported: a unit by its path
//! (`运河街道/荷花塘社区/第一网格/荷花小区/1栋`: street, community, grid, compound,
//! building, by depth), a branch, team or partner unit by its name within its community, a
//! person by their name within their community (or street, for street staff). Import adds
//! and updates; it never deletes (set `active = false` to retire someone).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;

use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::types::Json;
use toml::Spanned;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

const KINDS: [&str; 5] = ["street", "community", "grid", "compound", "building"];

/// A problem in a directory file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{col}: {message}")]
pub struct FileError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

type S = Spanned<String>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    units: Vec<S>,
    #[serde(default)]
    branches: Vec<RawBranch>,
    #[serde(default)]
    partners: Vec<RawPartner>,
    #[serde(default)]
    people: Vec<RawPerson>,
    #[serde(default)]
    teams: Vec<RawTeam>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBranch {
    name: S,
    community: S,
    #[serde(default)]
    covers: Vec<S>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPartner {
    name: S,
    community: S,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPerson {
    name: S,
    phone: Option<String>,
    roles: Vec<S>,
    community: Option<S>,
    street: Option<S>,
    branch: Option<S>,
    home: Option<S>,
    #[serde(default)]
    skills: Vec<S>,
    max_open: Option<u32>,
    away_until: Option<S>,
    partner: Option<S>,
    active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTeam {
    name: S,
    community: S,
    parent: Option<S>,
    leader: Option<S>,
    #[serde(default)]
    members: Vec<S>,
}

/// A validated directory, references checked within the file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DirectoryFile {
    #[serde(default)]
    pub units: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<Branch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<Partner>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub people: Vec<Person>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub teams: Vec<Team>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub name: String,
    pub community: String,
    pub covers: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Partner {
    pub name: String,
    pub community: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub roles: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    pub skills: Vec<String>,
    pub max_open: u32,
    /// A civil date (Asia/Shanghai): away until then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub away_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<String>,
    pub active: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub name: String,
    pub community: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    pub members: Vec<String>,
}

struct Cx<'a> {
    file: &'a str,
    text: &'a str,
    errors: Vec<FileError>,
}

impl Cx<'_> {
    fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        self.errors.push(FileError {
            file: self.file.to_owned(),
            line,
            col,
            message: message.into(),
        });
    }
}

/// The community part of a path (`street/community`), if the path reaches that deep.
fn community_of(path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split('/').collect();
    (parts.len() >= 2).then(|| parts[..2].join("/"))
}

/// Parses and validates a directory file. `skills` is the shared vocabulary (the skills the
/// catalog's categories ask for).
pub fn parse(
    file: &str,
    text: &str,
    skills: &BTreeSet<String>,
) -> Result<DirectoryFile, Vec<FileError>> {
    let mut cx = Cx {
        file,
        text,
        errors: Vec::new(),
    };
    let raw: RawFile = match toml::from_str(text) {
        Ok(r) => r,
        Err(e) => {
            cx.err(e.span().unwrap_or(0..0), e.message().trim().to_owned());
            return Err(cx.errors);
        }
    };
    // Units: every path, and every prefix of it, is a unit; kinds go by depth.
    let mut units: BTreeSet<String> = BTreeSet::new();
    for u in &raw.units {
        let parts: Vec<&str> = u.get_ref().split('/').map(str::trim).collect();
        if parts.len() > KINDS.len() || parts.iter().any(|p| p.is_empty()) {
            cx.err(
                u.span(),
                format!(
                    "a unit is a path of 1 to 5 non-empty names (street/community/grid/compound/building), not {:?}",
                    u.get_ref()
                ),
            );
            continue;
        }
        for depth in 1..=parts.len() {
            units.insert(parts[..depth].join("/"));
        }
    }
    let depth = |p: &str| p.split('/').count();
    let unit_ref = |cx: &mut Cx, s: &S, want: &[usize], what: &str| -> Option<String> {
        let p = s.get_ref().trim().to_owned();
        if !units.contains(&p) {
            cx.err(s.span(), format!("{what} {p:?} is not among `units`"));
            return None;
        }
        if !want.contains(&depth(&p)) {
            let kinds: Vec<&str> = want.iter().map(|d| KINDS[d - 1]).collect();
            cx.err(
                s.span(),
                format!("{what} {p:?} must be a {}", kinds.join(" or ")),
            );
            return None;
        }
        Some(p)
    };

    let mut out = DirectoryFile {
        units: units.iter().cloned().collect(),
        ..DirectoryFile::default()
    };
    let mut seen: BTreeSet<(String, String, &str)> = BTreeSet::new();
    let mut once = |cx: &mut Cx, community: &str, name: &S, kind: &'static str| {
        if !seen.insert((community.to_owned(), name.get_ref().clone(), kind)) {
            cx.err(
                name.span(),
                format!("{kind} {:?} appears twice in {community}", name.get_ref()),
            );
        }
    };
    for b in &raw.branches {
        let Some(community) = unit_ref(&mut cx, &b.community, &[2], "community") else {
            continue;
        };
        once(&mut cx, &community, &b.name, "branch");
        let mut covers = Vec::new();
        for c in &b.covers {
            if let Some(p) = unit_ref(&mut cx, c, &[3, 4, 5], "area")
                && let Some(()) = (community_of(&p).as_deref() == Some(community.as_str()))
                    .then_some(())
                    .or_else(|| {
                        cx.err(c.span(), format!("area {p:?} is outside {community}"));
                        None
                    })
            {
                covers.push(p);
            }
        }
        out.branches.push(Branch {
            name: b.name.get_ref().trim().to_owned(),
            community,
            covers,
        });
    }
    for p in &raw.partners {
        if let Some(community) = unit_ref(&mut cx, &p.community, &[2], "community") {
            once(&mut cx, &community, &p.name, "partner unit");
            out.partners.push(Partner {
                name: p.name.get_ref().trim().to_owned(),
                community,
            });
        }
    }
    let has = |list: &[(String, String)], community: &str, name: &str| {
        list.iter().any(|(c, n)| c == community && n == name)
    };
    let branch_names: Vec<(String, String)> = out
        .branches
        .iter()
        .map(|b| (b.community.clone(), b.name.clone()))
        .collect();
    let partner_names: Vec<(String, String)> = out
        .partners
        .iter()
        .map(|p| (p.community.clone(), p.name.clone()))
        .collect();
    for p in &raw.people {
        let mut roles = Vec::new();
        for r in &p.roles {
            match Role::parse(r.get_ref()).filter(|r| *r != Role::System) {
                Some(role) => roles.push(role.as_str().to_owned()),
                None => cx.err(
                    r.span(),
                    format!(
                        "unknown role {:?}: resident, secretary, member, community, street or admin",
                        r.get_ref()
                    ),
                ),
            }
        }
        if p.roles.is_empty() {
            cx.err(p.name.span(), "a person needs at least one role");
        }
        let community = p
            .community
            .as_ref()
            .and_then(|c| unit_ref(&mut cx, c, &[2], "community"));
        let street = p
            .street
            .as_ref()
            .and_then(|s| unit_ref(&mut cx, s, &[1], "street"));
        let home_of = community.clone().unwrap_or_default();
        // Identity: the name within the community, or the street (street staff), or among
        // those with neither (administrators).
        let key = community
            .clone()
            .or_else(|| street.clone())
            .unwrap_or_default();
        once(&mut cx, &key, &p.name, "person");
        let home = p.home.as_ref().and_then(|h| {
            let path = unit_ref(&mut cx, h, &[5], "home")?;
            if community_of(&path).as_deref() != Some(home_of.as_str()) {
                cx.err(
                    h.span(),
                    format!("home {path:?} is outside the person's community"),
                );
                return None;
            }
            Some(path)
        });
        let branch = p.branch.as_ref().and_then(|b| {
            if has(&branch_names, &home_of, b.get_ref()) {
                Some(b.get_ref().clone())
            } else {
                cx.err(
                    b.span(),
                    format!("no branch {:?} in the person's community", b.get_ref()),
                );
                None
            }
        });
        let partner = p.partner.as_ref().and_then(|u| {
            if has(&partner_names, &home_of, u.get_ref()) {
                Some(u.get_ref().clone())
            } else {
                cx.err(
                    u.span(),
                    format!(
                        "no partner unit {:?} in the person's community",
                        u.get_ref()
                    ),
                );
                None
            }
        });
        for s in &p.skills {
            if !skills.contains(s.get_ref()) {
                let known: Vec<&str> = skills.iter().map(String::as_str).collect();
                cx.err(
                    s.span(),
                    format!(
                        "unknown skill {:?}: the vocabulary is {}",
                        s.get_ref(),
                        known.join(", ")
                    ),
                );
            }
        }
        let away_until =
            p.away_until
                .as_ref()
                .and_then(|d| match d.get_ref().parse::<jiff::civil::Date>() {
                    Ok(_) => Some(d.get_ref().clone()),
                    Err(_) => {
                        cx.err(
                            d.span(),
                            format!(
                                "away_until is a date like 2026-12-01, not {:?}",
                                d.get_ref()
                            ),
                        );
                        None
                    }
                });
        out.people.push(Person {
            name: p.name.get_ref().trim().to_owned(),
            phone: p.phone.clone(),
            roles,
            community,
            street,
            branch,
            home,
            skills: p.skills.iter().map(|s| s.get_ref().clone()).collect(),
            max_open: p.max_open.unwrap_or(5),
            away_until,
            partner,
            active: p.active.unwrap_or(true),
        });
    }
    let people_of = |community: &str| -> BTreeSet<String> {
        out.people
            .iter()
            .filter(|p| p.community.as_deref() == Some(community))
            .map(|p| p.name.clone())
            .collect()
    };
    let team_names: Vec<(String, String)> = raw
        .teams
        .iter()
        .map(|t| {
            (
                t.community.get_ref().trim().to_owned(),
                t.name.get_ref().clone(),
            )
        })
        .collect();
    let mut teams = Vec::new();
    for t in &raw.teams {
        let Some(community) = unit_ref(&mut cx, &t.community, &[2], "community") else {
            continue;
        };
        once(&mut cx, &community, &t.name, "team");
        let people = people_of(&community);
        let person = |cx: &mut Cx, n: &S, what: &str| -> Option<String> {
            if people.contains(n.get_ref()) {
                Some(n.get_ref().clone())
            } else {
                cx.err(
                    n.span(),
                    format!("{what} {:?} is not a person of {community}", n.get_ref()),
                );
                None
            }
        };
        let leader = t.leader.as_ref().and_then(|l| person(&mut cx, l, "leader"));
        let members = t
            .members
            .iter()
            .filter_map(|m| person(&mut cx, m, "member"))
            .collect();
        let parent = t.parent.as_ref().and_then(|p| {
            if p.get_ref() != t.name.get_ref() && has(&team_names, &community, p.get_ref()) {
                Some(p.get_ref().clone())
            } else {
                cx.err(
                    p.span(),
                    format!(
                        "parent team {:?} is not another team of {community}",
                        p.get_ref()
                    ),
                );
                None
            }
        });
        teams.push(Team {
            name: t.name.get_ref().trim().to_owned(),
            community,
            parent,
            leader,
            members,
        });
    }
    out.teams = teams;
    if cx.errors.is_empty() {
        Ok(out)
    } else {
        cx.errors.sort_by_key(|e| (e.line, e.col));
        Err(cx.errors)
    }
}

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

fn shanghai_midnight(date: &str) -> Option<i64> {
    let d: jiff::civil::Date = date.parse().ok()?;
    Some(us(d.in_tz("Asia/Shanghai").ok()?.timestamp()))
}

impl SqlStore {
    /// Applies a validated directory in one transaction: all of it or nothing.
    pub async fn import_directory(&self, d: &DirectoryFile) -> Result<Applied, StoreError> {
        let applied = self.import_directory_once(d).await;
        // People's roles, places, teams or standing may have changed.
        self.remembered.forget_all();
        applied
    }

    async fn import_directory_once(&self, d: &DirectoryFile) -> Result<Applied, StoreError> {
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
                let away = p.away_until.as_deref().and_then(shanghai_midnight);
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
    pub async fn export_directory(&self) -> Result<DirectoryFile, StoreError> {
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
                        from_us(us).to_zoned(jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC)).date().to_string()
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

impl DirectoryFile {
    /// The file's text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }
}
