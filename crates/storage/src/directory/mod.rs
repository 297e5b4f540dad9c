//! The community directory: org units (street → community → grid → compound → building),
//! branches and the area they cover, people with roles and skills, teams, and API tokens
//! (kept only as SHA-256 hashes).

use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::access::Principal;
use workflow_core::store::*;

mod callers;
mod export;
mod import;
mod people;
mod references;
pub mod report_in;
mod rows;
mod sessions;
mod write;

use references::Must;
use workflow_core::directory::KINDS;
use write::{BRANCH_AREAS, PersonWrite, TEAM_MEMBERS, Write};

pub use import::Applied;
pub use sessions::{Authenticated, MachineToken, Session, TokenSeen};

use crate::error::from_sqlx;
use crate::{SqlStore, us};

/// Tokens are looked up by their hash: the database never holds a usable token, and the
/// lookup compares hashes in the index, so timing says nothing about the token.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[derive(Clone, Debug, Default)]
pub struct NewPerson {
    pub name: String,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
    pub community_id: Option<Uuid>,
    pub street_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub home_building_id: Option<Uuid>,
    pub skills: Vec<String>,
    pub max_open: Option<u32>,
    /// The partner unit (共建单位) this person is the contact of.
    pub partner_unit_id: Option<Uuid>,
}

/// A person as their community's office lists them.
#[derive(Clone, Debug)]
pub struct PersonEntry {
    pub id: Uuid,
    pub name: String,
    pub phone: Option<String>,
    pub roles: Vec<Role>,
    /// Their home building's name.
    pub building: Option<String>,
    pub active: bool,
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_roles(s: &str) -> Vec<Role> {
    s.split(',').filter_map(Role::parse).collect()
}

impl SqlStore {
    /// Adds an org unit under `parent` (a street has none). Kinds nest in DESIGN.md's order;
    /// a grid may be skipped (compound directly under community).
    pub async fn create_org_unit(
        &self,
        kind: &str,
        name: &str,
        parent: Option<Uuid>,
    ) -> Result<Uuid, StoreError> {
        let rank = KINDS
            .iter()
            .position(|k| *k == kind)
            .ok_or_else(|| StoreError::Other(format!("unknown org unit kind {kind:?}")))?;
        let id = Uuid::now_v7();
        let above: Option<(String, Option<Uuid>)> = match parent {
            None => None,
            Some(p) => Some(with_reader!(self, pool, {
                sqlx::query_as("SELECT kind, community_id FROM org_units WHERE id = $1")
                    .bind(p)
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?
                    .ok_or_else(|| {
                        StoreError::Other(format!("parent org unit {p} does not exist"))
                    })?
            })),
        };
        let community = match (&above, rank) {
            (_, 1) => Some(id),
            (Some((_, community)), _) => *community,
            (None, _) => None,
        };
        match &above {
            Some((above, _)) if KINDS.iter().position(|k| k == above).unwrap_or(0) >= rank => {
                return Err(StoreError::Other(format!(
                    "a {kind} cannot be placed under a {above}"
                )));
            }
            None if rank > 1 => {
                return Err(StoreError::Other(format!("a {kind} needs a parent")));
            }
            _ => {}
        }
        self.write_directory(&[Write::Unit {
            id,
            parent,
            kind: KINDS[rank],
            name: name.to_owned(),
            community,
        }])
        .await?;
        Ok(id)
    }

    /// Adds a branch of a community covering the given compounds or buildings.
    pub async fn create_branch(
        &self,
        community_id: Uuid,
        name: &str,
        areas: &[Uuid],
    ) -> Result<Uuid, StoreError> {
        let mut refs = vec![("community_id", community_id, Must::Community)];
        refs.extend(areas.iter().map(|a| ("areas", *a, Must::Area)));
        self.check_references(Some(community_id), &refs).await?;
        let id = Uuid::now_v7();
        let mut writes = vec![Write::Named {
            table: "branches",
            id,
            community: community_id,
            name: name.to_owned(),
        }];
        writes.extend(areas.iter().map(|area| Write::Link {
            links: BRANCH_AREAS,
            owner: id,
            item: *area,
            community: community_id,
        }));
        self.write_directory(&writes).await?;
        // The buildings of its areas are now its, not the branch above them.
        self.remembered.forget_all();
        Ok(id)
    }

    /// Adds a person; every id it names must be of the right kind and, but for a street,
    /// of the person's community.
    pub async fn create_person(&self, p: &NewPerson) -> Result<Uuid, StoreError> {
        let of_community = [
            ("branch_id", p.branch_id, Must::BranchOf),
            ("home_building_id", p.home_building_id, Must::Building),
            ("partner_unit_id", p.partner_unit_id, Must::PartnerUnitOf),
        ];
        if p.community_id.is_none()
            && let Some((field, _, _)) = of_community.iter().find(|r| r.1.is_some())
        {
            return Err(StoreError::InvalidReference {
                field,
                detail: "needs a community_id to belong to".into(),
            });
        }
        let refs: Vec<_> = [
            ("community_id", p.community_id, Must::Community),
            ("street_id", p.street_id, Must::Street),
        ]
        .into_iter()
        .chain(of_community)
        .filter_map(|(field, id, must)| Some((field, id?, must)))
        .collect();
        self.check_references(p.community_id, &refs).await?;
        let id = Uuid::now_v7();
        self.write_directory(&[Write::Person(Box::new(PersonWrite {
            new: true,
            id,
            community: p.community_id,
            street: p.street_id,
            branch: p.branch_id,
            name: p.name.clone(),
            phone: p.phone.clone(),
            roles: roles_text(&p.roles),
            home: p.home_building_id,
            skills: p.skills.clone(),
            max_open: p
                .max_open
                .map_or(5, |m| i32::try_from(m).unwrap_or(i32::MAX)),
            away: None,
            partner: p.partner_unit_id,
            active: true,
        }))])
        .await?;
        Ok(id)
    }

    /// What a community's documents name of it: who is in charge, the office's number.
    pub async fn community_details(
        &self,
        community: Uuid,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        let row: Option<(Option<String>, Option<String>)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT person_in_charge, phone FROM community_details WHERE community_id = $1",
            )
            .bind(community)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(row.unwrap_or_default())
    }

    /// Sets what a community's documents name of it.
    pub async fn set_community_details(
        &self,
        community: Uuid,
        person_in_charge: Option<String>,
        phone: Option<String>,
    ) -> Result<(), StoreError> {
        self.write_directory(&[Write::CommunityDetails {
            community,
            person_in_charge,
            phone,
        }])
        .await
    }

    /// Opens a community's time bank (时间银行), or sets its caps.
    pub async fn open_time_bank(
        &self,
        community: Uuid,
        policy: workflow_core::time_bank::Policy,
    ) -> Result<(), StoreError> {
        self.check_references(
            Some(community),
            &[("community_id", community, Must::Community)],
        )
        .await?;
        self.write_directory(&[Write::TimeBank {
            community,
            daily_cap_minutes: policy.daily_cap_minutes,
            account_cap_minutes: policy.account_cap_minutes,
            expire_after_days: policy.expire_after_days,
        }])
        .await
    }

    /// Adds a partner unit (共建单位) of a community.
    pub async fn create_partner_unit(
        &self,
        community_id: Uuid,
        name: &str,
    ) -> Result<Uuid, StoreError> {
        self.check_references(
            Some(community_id),
            &[("community_id", community_id, Must::Community)],
        )
        .await?;
        let id = Uuid::now_v7();
        self.write_directory(&[Write::Named {
            table: "partner_units",
            id,
            community: community_id,
            name: name.to_owned(),
        }])
        .await?;
        Ok(id)
    }

    pub async fn create_team(
        &self,
        community_id: Uuid,
        name: &str,
        leader: Option<Uuid>,
        members: &[Uuid],
    ) -> Result<Uuid, StoreError> {
        let mut refs = vec![("community_id", community_id, Must::Community)];
        refs.extend(leader.map(|l| ("leader_id", l, Must::PersonOf)));
        refs.extend(members.iter().map(|m| ("members", *m, Must::PersonOf)));
        self.check_references(Some(community_id), &refs).await?;
        let id = Uuid::now_v7();
        let mut writes = vec![Write::Team {
            new: true,
            id,
            community: community_id,
            parent: None,
            name: name.to_owned(),
            leader,
        }];
        writes.extend(members.iter().map(|m| Write::Link {
            links: TEAM_MEMBERS,
            owner: id,
            item: *m,
            community: community_id,
        }));
        self.write_directory(&writes).await?;
        // Its members are now in a team their cached answers do not show.
        self.remembered.forget_all();
        Ok(id)
    }

    /// Finds a person by name within a community (the demo re-issues its tokens).
    pub async fn person_named(
        &self,
        community_id: Option<Uuid>,
        name: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT id FROM people WHERE name = $1 AND (community_id = $2 OR ($2 IS NULL AND community_id IS NULL)) LIMIT 1",
            )
            .bind(name)
            .bind(community_id)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)
        })
    }

    pub async fn branches_of(&self, community_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT id FROM branches WHERE community_id = $1 ORDER BY id")
                .bind(community_id)
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// The branch of a community with this name.
    pub async fn branch_named(
        &self,
        community_id: Uuid,
        name: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT id FROM branches WHERE community_id = $1 AND name = $2")
                .bind(community_id)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// A branch's name (for Open311's `agency_responsible`).
    pub async fn branch_name(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT name FROM branches WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// An org unit's name (a resident's home building, shown where help is needed).
    pub async fn org_unit_name(&self, id: Uuid) -> Result<Option<String>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT name FROM org_units WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// The teams of a community, by name: the pools a secretary may dispatch to.
    pub async fn teams_of(&self, community_id: Uuid) -> Result<Vec<(Uuid, String)>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_as("SELECT id, name FROM teams WHERE community_id = $1 ORDER BY name, id")
                .bind(community_id)
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    pub async fn team_named(&self, name: &str) -> Result<Option<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT id FROM teams WHERE name = $1 LIMIT 1")
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// Finds an org unit by kind and name (the demo seeds itself once).
    pub async fn org_unit_named(&self, kind: &str, name: &str) -> Result<Option<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT id FROM org_units WHERE kind = $1 AND name = $2")
                .bind(kind)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }
}
