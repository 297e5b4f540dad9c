//! The directory written out in the import format ([`workflow_core::directory`]), in a stable
//! order: importing an export changes nothing.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::tz::TimeZone;
use uuid::Uuid;
use workflow_core::directory::{
    Branch, Community, DirectoryFile, Partner, Person, Post, Team, TimeBank,
};
use workflow_core::store::StoreError;

use super::rows::{self, LinkRow, Rows};
use crate::SqlStore;
use crate::error::from_sqlx;
use crate::from_us;

impl SqlStore {
    /// The whole directory in the import format; civil dates in `zone`.
    pub async fn export_directory(&self, zone: &TimeZone) -> Result<DirectoryFile, StoreError> {
        let rows = with_reader!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            rows::read(&mut tx).await.map_err(from_sqlx)?
        });
        Ok(assemble(&rows, zone))
    }
}

/// The file the rows make.
fn assemble(rows: &Rows, zone: &TimeZone) -> DirectoryFile {
    let paths = unit_paths(rows);
    let path = |id: Option<Uuid>| id.and_then(|i| paths.get(&i).cloned());
    let names = |named: &[rows::NamedRow]| -> HashMap<Uuid, String> {
        named.iter().map(|r| (r.id, r.name.clone())).collect()
    };
    let branch_name = names(&rows.branches);
    let partner_name = names(&rows.partners);
    let person_name: HashMap<Uuid, String> =
        rows.people.iter().map(|p| (p.id, p.name.clone())).collect();
    let team_name: HashMap<Uuid, String> =
        rows.teams.iter().map(|t| (t.id, t.name.clone())).collect();
    let name_of =
        |map: &HashMap<Uuid, String>, id: Option<Uuid>| id.and_then(|i| map.get(&i).cloned());
    let mut covers = linked(&rows.branch_areas, |id| paths.get(&id).cloned());
    let mut members = linked(&rows.team_members, |id| person_name.get(&id).cloned());

    DirectoryFile {
        units: leaves(&paths),
        branches: rows
            .branches
            .iter()
            .map(|b| Branch {
                name: b.name.clone(),
                community: path(Some(b.community_id)).unwrap_or_default(),
                covers: covers.remove(&b.id).unwrap_or_default(),
            })
            .collect(),
        partners: rows
            .partners
            .iter()
            .map(|p| Partner {
                name: p.name.clone(),
                community: path(Some(p.community_id)).unwrap_or_default(),
            })
            .collect(),
        posts: rows
            .posts
            .iter()
            .map(|p| Post {
                name: p.name.clone(),
                community: path(Some(p.community_id)).unwrap_or_default(),
            })
            .collect(),
        communities: rows
            .communities
            .iter()
            .map(|c| Community {
                path: path(Some(c.community_id)).unwrap_or_default(),
                person_in_charge: c.person_in_charge.clone(),
                phone: c.phone.clone(),
            })
            .collect(),
        time_banks: rows
            .time_banks
            .iter()
            .map(|b| TimeBank {
                community: path(Some(b.community_id)).unwrap_or_default(),
                daily_cap_hours: b.daily_cap_minutes.map(|m| m as f64 / 60.0),
                account_cap_hours: b.account_cap_minutes.map(|m| m as f64 / 60.0),
                expire_after_days: b.expire_after_days,
            })
            .collect(),
        people: rows
            .people
            .iter()
            .map(|p| Person {
                name: p.name.clone(),
                phone: p.phone.clone(),
                roles: p
                    .roles
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                community: path(p.community_id),
                street: path(p.street_id),
                branch: name_of(&branch_name, p.branch_id),
                home: path(p.home_building_id),
                skills: p.skills.0.clone(),
                max_open: u32::try_from(p.max_open).unwrap_or_default(),
                away_until: p
                    .away_until_us
                    .map(|us| from_us(us).to_zoned(zone.clone()).date().to_string()),
                partner: name_of(&partner_name, p.partner_unit_id),
                active: p.active,
            })
            .collect(),
        teams: rows
            .teams
            .iter()
            .map(|t| Team {
                name: t.name.clone(),
                community: path(Some(t.community_id)).unwrap_or_default(),
                parent: name_of(&team_name, t.parent_id),
                leader: name_of(&person_name, t.leader_id),
                members: members.remove(&t.id).unwrap_or_default(),
            })
            .collect(),
    }
}

/// Each unit's path (`street/community/…`), from its ancestors' names.
fn unit_paths(rows: &Rows) -> BTreeMap<Uuid, String> {
    let parent: HashMap<Uuid, (Option<Uuid>, &str)> = rows
        .units
        .iter()
        .map(|u| (u.id, (u.parent_id, u.name.as_str())))
        .collect();
    let path = |id: Uuid| {
        let mut names = Vec::new();
        let mut at = Some(id);
        while let Some((p, n)) = at.and_then(|i| parent.get(&i)) {
            names.push(*n);
            at = *p;
        }
        names.reverse();
        names.join("/")
    };
    parent.keys().map(|id| (*id, path(*id))).collect()
}

/// Only the leaves: every prefix of a path is implied.
fn leaves(paths: &BTreeMap<Uuid, String>) -> Vec<String> {
    let all: BTreeSet<&str> = paths.values().map(String::as_str).collect();
    let inner: BTreeSet<&str> = all
        .iter()
        .filter_map(|u| u.rsplit_once('/').map(|(p, _)| p))
        .collect();
    all.into_iter()
        .filter(|u| !inner.contains(u))
        .map(str::to_owned)
        .collect()
}

/// The sorted names of what each owner links to.
fn linked(links: &[LinkRow], name: impl Fn(Uuid) -> Option<String>) -> HashMap<Uuid, Vec<String>> {
    let mut out: HashMap<Uuid, Vec<String>> = HashMap::new();
    for l in links {
        if let Some(n) = name(l.item) {
            out.entry(l.owner).or_default().push(n);
        }
    }
    for names in out.values_mut() {
        names.sort();
    }
    out
}
