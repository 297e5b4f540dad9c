//! The directory file ([`workflow_core::directory`]) into the database, in one transaction:
//! read what is there ([`rows::read`]), plan the writes that make it what the file says
//! ([`plan`], pure: the file's lists are the whole lists, and what already matches is left
//! alone, so importing the same file again changes nothing), then write them.

use std::collections::{BTreeSet, HashMap};

use jiff::tz::TimeZone;
use sqlx::QueryBuilder;
use uuid::Uuid;
use workflow_core::directory::{DirectoryFile, KINDS, Person, Team};
use workflow_core::store::StoreError;

use super::rows::{self, LinkRow, NamedRow, Rows};
use super::write::{self, BRANCH_AREAS, Links, PersonWrite, TEAM_MEMBERS, Write};
use crate::error::from_sqlx;
use crate::{SqlStore, us};

/// What an import changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub created: usize,
    pub updated: usize,
}

impl SqlStore {
    /// Applies a validated directory in one transaction: all of it or nothing. Civil dates
    /// (`away_until`) are midnights in `zone`.
    pub async fn import_directory(
        &self,
        d: &DirectoryFile,
        zone: &TimeZone,
    ) -> Result<Applied, StoreError> {
        let applied = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let rows = rows::read(&mut tx).await.map_err(from_sqlx)?;
            let plan = plan(d, &rows, zone)?;
            let now = us(jiff::Timestamp::now());
            for write in &plan.writes {
                let mut q = QueryBuilder::new("");
                write::push_write(&mut q, write, now);
                q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            plan.applied
        });
        // People's roles, places, teams or standing may have changed.
        self.remembered.forget_all();
        Ok(applied)
    }
}

/// The writes that make the database say what the file says, parents before children, and
/// what they change.
struct Plan {
    writes: Vec<Write>,
    applied: Applied,
}

/// A key within a community (or, for people without one, a street): the file names things,
/// the database identifies them.
type Named = (Uuid, String);

fn plan(d: &DirectoryFile, rows: &Rows, zone: &TimeZone) -> Result<Plan, StoreError> {
    let mut plan = Plan {
        writes: Vec::new(),
        applied: Applied::default(),
    };
    let units = plan.units(d, rows);
    let branches = plan.branches(d, rows, &units);
    let partners = plan.named(
        "partner_units",
        d.partners.iter().map(|p| (units[&p.community], &p.name)),
        &rows.partners,
    );
    plan.named(
        "posts",
        d.posts.iter().map(|p| (units[&p.community], &p.name)),
        &rows.posts,
    );
    plan.communities(d, rows, &units);
    plan.time_banks(d, rows, &units);
    let people = plan.people(d, rows, zone, &units, &branches, &partners);
    plan.teams(&d.teams, rows, &units, &people)?;
    Ok(plan)
}

impl Plan {
    /// Units by path, each found by (parent, kind, name) or inserted; parents first.
    fn units(&mut self, d: &DirectoryFile, rows: &Rows) -> HashMap<String, Uuid> {
        let existing: HashMap<(Option<Uuid>, &str, &str), Uuid> = rows
            .units
            .iter()
            .map(|u| ((u.parent_id, u.kind.as_str(), u.name.as_str()), u.id))
            .collect();
        let mut ids: HashMap<String, Uuid> = HashMap::new();
        let mut paths: Vec<&String> = d.units.iter().collect();
        paths.sort_by_key(|p| (p.split('/').count(), (*p).clone()));
        for path in paths {
            let parts: Vec<&str> = path.split('/').collect();
            let kind = KINDS[parts.len() - 1];
            let name = parts[parts.len() - 1];
            let parent = (parts.len() > 1).then(|| ids[&parts[..parts.len() - 1].join("/")]);
            let id = match existing.get(&(parent, kind, name)) {
                Some(id) => *id,
                None => {
                    let id = Uuid::now_v7();
                    let community = match parts.len() {
                        1 => None,
                        2 => Some(id),
                        _ => Some(ids[&parts[..2].join("/")]),
                    };
                    self.writes.push(Write::Unit {
                        id,
                        parent,
                        kind,
                        name: name.to_owned(),
                        community,
                    });
                    self.applied.created += 1;
                    id
                }
            };
            ids.insert(path.clone(), id);
        }
        ids
    }

    /// Branches, and the areas each covers (the file's list is the whole list).
    fn branches(
        &mut self,
        d: &DirectoryFile,
        rows: &Rows,
        units: &HashMap<String, Uuid>,
    ) -> HashMap<Named, Uuid> {
        let existing = by_name(&rows.branches);
        let mut ids = HashMap::new();
        for b in &d.branches {
            let community = units[&b.community];
            let key = (community, b.name.clone());
            let existed = existing.contains_key(&key);
            let id = self.named_row("branches", &existing, community, &b.name);
            let wanted = b.covers.iter().map(|c| units[c]).collect();
            let relinked = self.links(BRANCH_AREAS, &rows.branch_areas, id, wanted, community);
            self.applied.updated += usize::from(relinked && existed);
            ids.insert(key, id);
        }
        ids
    }

    /// Rows named within a community (partner units, posts): found, or inserted.
    fn named<'f>(
        &mut self,
        table: &'static str,
        file: impl Iterator<Item = (Uuid, &'f String)>,
        rows: &[NamedRow],
    ) -> HashMap<Named, Uuid> {
        let existing = by_name(rows);
        file.map(|(community, name)| {
            let id = self.named_row(table, &existing, community, name);
            ((community, name.clone()), id)
        })
        .collect()
    }

    fn named_row(
        &mut self,
        table: &'static str,
        existing: &HashMap<Named, Uuid>,
        community: Uuid,
        name: &str,
    ) -> Uuid {
        if let Some(id) = existing.get(&(community, name.to_owned())) {
            return *id;
        }
        let id = Uuid::now_v7();
        self.writes.push(Write::Named {
            table,
            id,
            community,
            name: name.to_owned(),
        });
        self.applied.created += 1;
        id
    }

    /// Makes `owner`'s links exactly `wanted`; whether anything changed.
    fn links(
        &mut self,
        links: Links,
        rows: &[LinkRow],
        owner: Uuid,
        wanted: BTreeSet<Uuid>,
        community: Uuid,
    ) -> bool {
        let before: BTreeSet<Uuid> = rows
            .iter()
            .filter(|l| l.owner == owner)
            .map(|l| l.item)
            .collect();
        if before == wanted {
            return false;
        }
        self.writes.push(Write::Unlink { links, owner });
        self.writes
            .extend(wanted.into_iter().map(|item| Write::Link {
                links,
                owner,
                item,
                community,
            }));
        true
    }

    /// What communities' documents name of them: set to the file's.
    fn communities(&mut self, d: &DirectoryFile, rows: &Rows, units: &HashMap<String, Uuid>) {
        for c in &d.communities {
            let community = units[&c.path];
            let found = rows
                .communities
                .iter()
                .find(|r| r.community_id == community);
            match found {
                Some(r) if (&r.person_in_charge, &r.phone) == (&c.person_in_charge, &c.phone) => {
                    continue;
                }
                Some(_) => self.applied.updated += 1,
                None => self.applied.created += 1,
            }
            self.writes.push(Write::CommunityDetails {
                community,
                person_in_charge: c.person_in_charge.clone(),
                phone: c.phone.clone(),
            });
        }
    }

    /// Time banks: opened, or their caps set to the file's.
    fn time_banks(&mut self, d: &DirectoryFile, rows: &Rows, units: &HashMap<String, Uuid>) {
        let minutes = |h: Option<f64>| h.map(|h| (h * 60.0).round() as i64);
        for b in &d.time_banks {
            let community = units[&b.community];
            let (daily, account) = (minutes(b.daily_cap_hours), minutes(b.account_cap_hours));
            let expire = b.expire_after_days;
            let found = rows.time_banks.iter().find(|r| r.community_id == community);
            match found {
                Some(r)
                    if (
                        r.daily_cap_minutes,
                        r.account_cap_minutes,
                        r.expire_after_days,
                    ) == (daily, account, expire) =>
                {
                    continue;
                }
                Some(_) => self.applied.updated += 1,
                None => self.applied.created += 1,
            }
            self.writes.push(Write::TimeBank {
                community,
                daily_cap_minutes: daily,
                account_cap_minutes: account,
                expire_after_days: expire,
            });
        }
    }

    /// People: found by name in their community (or, without one, their street); inserted,
    /// or updated where anything differs.
    fn people(
        &mut self,
        d: &DirectoryFile,
        rows: &Rows,
        zone: &TimeZone,
        units: &HashMap<String, Uuid>,
        branches: &HashMap<Named, Uuid>,
        partners: &HashMap<Named, Uuid>,
    ) -> HashMap<Named, Uuid> {
        let mut existing: HashMap<(&str, Option<Uuid>, Option<Uuid>), &rows::PersonRow> =
            HashMap::new();
        for p in &rows.people {
            let street = p.street_id.filter(|_| p.community_id.is_none());
            // The oldest first (rows come in name, id order), as a lookup by name would find.
            existing
                .entry((p.name.as_str(), p.community_id, street))
                .or_insert(p);
        }
        let mut ids = HashMap::new();
        for p in &d.people {
            let want = self.person(p, zone, units, branches, partners);
            // The file's people are named within their community, or their street.
            let place = want.community.or(want.street).unwrap_or_default();
            let street = want.street.filter(|_| want.community.is_none());
            let id = match existing.get(&(p.name.as_str(), want.community, street)) {
                None => {
                    self.applied.created += 1;
                    let id = want.id;
                    self.writes.push(Write::Person(Box::new(want)));
                    id
                }
                Some(row) => {
                    let want = PersonWrite {
                        new: false,
                        id: row.id,
                        ..want
                    };
                    if want != as_written(row) {
                        self.applied.updated += 1;
                        self.writes.push(Write::Person(Box::new(want)));
                    }
                    row.id
                }
            };
            ids.insert((place, p.name.clone()), id);
        }
        ids
    }

    /// A person as the file has them, as a new row.
    fn person(
        &self,
        p: &Person,
        zone: &TimeZone,
        units: &HashMap<String, Uuid>,
        branches: &HashMap<Named, Uuid>,
        partners: &HashMap<Named, Uuid>,
    ) -> PersonWrite {
        let community = p.community.as_ref().map(|c| units[c]);
        let in_community = |name: &Option<String>, map: &HashMap<Named, Uuid>| {
            community
                .zip(name.as_ref())
                .map(|(c, n)| map[&(c, n.clone())])
        };
        PersonWrite {
            new: true,
            id: Uuid::now_v7(),
            community,
            street: p.street.as_ref().map(|s| units[s]),
            branch: in_community(&p.branch, branches),
            name: p.name.clone(),
            phone: p.phone.clone(),
            roles: p.roles.join(","),
            home: p.home.as_ref().map(|h| units[h]),
            skills: p.skills.clone(),
            max_open: i32::try_from(p.max_open).unwrap_or(i32::MAX),
            away: p.away_until.as_deref().and_then(|d| midnight(d, zone)),
            partner: in_community(&p.partner, partners),
            active: p.active,
        }
    }

    /// Teams, parents before children (a team whose parent is not placed yet waits for the
    /// next round; a round that places none means a cycle); members as the file lists them.
    fn teams(
        &mut self,
        file: &[Team],
        rows: &Rows,
        units: &HashMap<String, Uuid>,
        people: &HashMap<Named, Uuid>,
    ) -> Result<(), StoreError> {
        // Of teams with the same name, the first (the oldest): later entries overwrite.
        let existing: HashMap<Named, &rows::TeamRow> = rows
            .teams
            .iter()
            .rev()
            .map(|t| ((t.community_id, t.name.clone()), t))
            .collect();
        let mut placed: HashMap<Named, Uuid> = HashMap::new();
        let mut pending: Vec<&Team> = file.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut later = Vec::new();
            for t in pending {
                let community = units[&t.community];
                let parent = match &t.parent {
                    None => None,
                    Some(p) => match placed.get(&(community, p.clone())) {
                        Some(id) => Some(*id),
                        None => {
                            later.push(t);
                            continue;
                        }
                    },
                };
                let person = |name: &String| people[&(community, name.clone())];
                let leader = t.leader.as_ref().map(person);
                let key = (community, t.name.clone());
                let found = existing.get(&key);
                let id = found.map_or_else(Uuid::now_v7, |row| row.id);
                let changed =
                    found.is_none_or(|row| (row.parent_id, row.leader_id) != (parent, leader));
                if changed {
                    self.writes.push(Write::Team {
                        new: found.is_none(),
                        id,
                        community,
                        parent,
                        name: t.name.clone(),
                        leader,
                    });
                }
                let wanted = t.members.iter().map(person).collect();
                let relinked = self.links(TEAM_MEMBERS, &rows.team_members, id, wanted, community);
                if changed || relinked {
                    match found {
                        None => self.applied.created += 1,
                        Some(_) => self.applied.updated += 1,
                    }
                }
                placed.insert(key, id);
            }
            if later.len() == before {
                return Err(StoreError::Other("teams whose parents form a cycle".into()));
            }
            pending = later;
        }
        Ok(())
    }
}

/// Named rows by (community, name); of rows with the same name, the first (the oldest).
fn by_name(rows: &[NamedRow]) -> HashMap<Named, Uuid> {
    let mut out = HashMap::new();
    for r in rows {
        out.entry((r.community_id, r.name.clone())).or_insert(r.id);
    }
    out
}

/// A person's row as an update would write it, to tell whether one is needed.
fn as_written(row: &rows::PersonRow) -> PersonWrite {
    PersonWrite {
        new: false,
        id: row.id,
        community: row.community_id,
        street: row.street_id,
        branch: row.branch_id,
        name: row.name.clone(),
        phone: row.phone.clone(),
        roles: row.roles.clone(),
        home: row.home_building_id,
        skills: row.skills.0.clone(),
        max_open: row.max_open,
        away: row.away_until_us,
        partner: row.partner_unit_id,
        active: row.active,
    }
}

/// The start of a civil date in `zone`, in µs.
fn midnight(date: &str, zone: &TimeZone) -> Option<i64> {
    let d: jiff::civil::Date = date.parse().ok()?;
    Some(us(d.to_zoned(zone.clone()).ok()?.timestamp()))
}
