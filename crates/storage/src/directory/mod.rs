//! The community directory: org units (street → community → grid → compound → building),
//! branches and the area they cover, people with roles and skills, teams, and API tokens
//! (kept only as SHA-256 hashes).

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::access::Principal;
use workflow_core::store::*;

mod export;
mod import;
mod rows;

pub use import::Applied;

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

const KINDS: [&str; 5] = ["street", "community", "grid", "compound", "building"];

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
        with_pool!(self, pool, {
            let parent_row = match parent {
                None => None,
                Some(p) => Some(
                    sqlx::query("SELECT kind, community_id FROM org_units WHERE id = $1")
                        .bind(p)
                        .fetch_optional(pool)
                        .await
                        .map_err(from_sqlx)?
                        .ok_or_else(|| {
                            StoreError::Other(format!("parent org unit {p} does not exist"))
                        })?,
                ),
            };
            let community_id = match (&parent_row, kind) {
                (_, "community") => Some(id),
                (Some(row), _) => row.try_get::<Option<Uuid>, _>(1).map_err(from_sqlx)?,
                (None, _) => None,
            };
            if let Some(row) = &parent_row {
                let pk: String = row.try_get(0).map_err(from_sqlx)?;
                let prank = KINDS.iter().position(|k| *k == pk).unwrap_or(0);
                if prank >= rank {
                    return Err(StoreError::Other(format!(
                        "a {kind} cannot be placed under a {pk}"
                    )));
                }
            } else if kind != "street" && kind != "community" {
                return Err(StoreError::Other(format!("a {kind} needs a parent")));
            }
            sqlx::query(
                "INSERT INTO org_units (id, parent_id, kind, name, community_id, created_at_us) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(parent)
            .bind(kind)
            .bind(name)
            .bind(community_id)
            .bind(us(jiff::Timestamp::now()))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(id)
        })
    }

    /// Adds a branch of a community covering the given compounds or buildings.
    pub async fn create_branch(
        &self,
        community_id: Uuid,
        name: &str,
        areas: &[Uuid],
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let created = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            sqlx::query("INSERT INTO branches (id, community_id, name, created_at_us) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(community_id)
                .bind(name)
                .bind(us(jiff::Timestamp::now()))
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            for area in areas {
                sqlx::query("INSERT INTO branch_areas (branch_id, org_unit_id, community_id) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(*area)
                    .bind(community_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(id)
        });
        // The buildings of its areas are now its, not the branch above them.
        self.remembered.forget_all();
        created
    }

    pub async fn create_person(&self, p: &NewPerson) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO people (id, community_id, street_id, branch_id, name, phone, roles, home_building_id, \
                 skills, max_open, created_at_us, partner_unit_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(id)
            .bind(p.community_id)
            .bind(p.street_id)
            .bind(p.branch_id)
            .bind(&p.name)
            .bind(&p.phone)
            .bind(roles_text(&p.roles))
            .bind(p.home_building_id)
            .bind(Json(&p.skills))
            .bind(i64::from(p.max_open.unwrap_or(5)))
            .bind(us(jiff::Timestamp::now()))
            .bind(p.partner_unit_id)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(id)
        })
    }

    /// Issues a new random token for a person; only its hash is kept. Shown once.
    /// Adds a partner unit (共建单位) of a community.
    pub async fn create_partner_unit(
        &self,
        community_id: Uuid,
        name: &str,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        with_pool!(self, pool, {
            sqlx::query("INSERT INTO partner_units (id, community_id, name, created_at_us) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(community_id)
                .bind(name)
                .bind(us(jiff::Timestamp::now()))
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
        });
        Ok(id)
    }

    pub async fn issue_token(&self, person: Uuid) -> Result<String, StoreError> {
        let token = format!("ll_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        with_pool!(self, pool, {
            sqlx::query("INSERT INTO tokens (hash, person_id, created_at_us) VALUES ($1, $2, $3)")
                .bind(hash_token(&token))
                .bind(person)
                .bind(us(jiff::Timestamp::now()))
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(token)
        })
    }

    /// Revokes every token of a person; they stop working at once.
    pub async fn revoke_tokens(&self, person: Uuid) -> Result<u64, StoreError> {
        let revoked = with_pool!(self, pool, {
            let r = sqlx::query("UPDATE tokens SET revoked_at_us = $2 WHERE person_id = $1 AND revoked_at_us IS NULL")
                .bind(person)
                .bind(us(jiff::Timestamp::now()))
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            Ok::<_, StoreError>(r.rows_affected())
        })?;
        self.remembered.forget_all();
        Ok(revoked)
    }

    pub async fn create_team(
        &self,
        community_id: Uuid,
        name: &str,
        leader: Option<Uuid>,
        members: &[Uuid],
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        let created = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            sqlx::query("INSERT INTO teams (id, community_id, name, leader_id, created_at_us) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(community_id)
                .bind(name)
                .bind(leader)
                .bind(us(jiff::Timestamp::now()))
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            for m in members {
                sqlx::query("INSERT INTO team_members (team_id, person_id, community_id) VALUES ($1, $2, $3)")
                    .bind(id)
                    .bind(*m)
                    .bind(community_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(id)
        });
        // Its members are now in a team their cached answers do not show.
        self.remembered.forget_all();
        created
    }

    /// The person a token belongs to, if the token is valid and not revoked.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        let hash = hash_token(token);
        let generation = match self.remembered.principals.get(&hash) {
            Ok(known) => return Ok(Some(known)),
            Err(generation) => generation,
        };
        let found = with_reader!(self, pool, {
            let row = sqlx::query(
                "SELECT p.id, p.name, p.roles, p.community_id, p.street_id, p.branch_id, p.home_building_id \
                 FROM tokens t JOIN people p ON p.id = t.person_id \
                 WHERE t.hash = $1 AND t.revoked_at_us IS NULL AND p.active",
            )
            .bind(&hash)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            let Some(row) = row else { return Ok(None) };
            let id: Uuid = row.try_get(0).map_err(from_sqlx)?;
            let teams: Vec<Uuid> =
                sqlx::query_scalar("SELECT team_id FROM team_members WHERE person_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?;
            let get = |i| row.try_get::<Option<Uuid>, _>(i).map_err(from_sqlx);
            Ok(Some(Principal {
                id,
                name: row.try_get(1).map_err(from_sqlx)?,
                roles: parse_roles(&row.try_get::<String, _>(2).map_err(from_sqlx)?),
                community_id: get(3)?,
                street_id: get(4)?,
                branch_id: get(5)?,
                home_building_id: get(6)?,
                teams,
            }))
        })?;
        if let Some(p) = &found {
            self.remembered
                .principals
                .remember([(hash, p.clone())], generation);
        }
        Ok(found)
    }

    /// The active residents of a community with exactly this phone number, with their home
    /// building's name: whom a proxy (代办) may enter a request for.
    pub async fn residents_by_phone(
        &self,
        community: Uuid,
        phone: &str,
    ) -> Result<Vec<(Uuid, String, Option<String>)>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT p.id, p.name, p.roles, b.name FROM people p \
                 LEFT JOIN org_units b ON b.id = p.home_building_id \
                 WHERE p.community_id = $1 AND p.phone = $2 AND p.active ORDER BY p.name",
            )
            .bind(community)
            .bind(phone)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let mut out = Vec::new();
            for r in rows {
                let roles: String = r.try_get(2).map_err(from_sqlx)?;
                if parse_roles(&roles).contains(&Role::Resident) {
                    out.push((
                        r.try_get(0).map_err(from_sqlx)?,
                        r.try_get(1).map_err(from_sqlx)?,
                        r.try_get(3).map_err(from_sqlx)?,
                    ));
                }
            }
            Ok(out)
        })
    }

    /// Names and phone numbers of several people, and names of teams (no phone), for
    /// display: requesters and the people or team pools holding requests. Masking is the
    /// caller's duty. Remembered for a few seconds ([`crate::remembered`]); what is not is
    /// read in one query.
    pub async fn contacts(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, (String, Option<String>)>, StoreError> {
        let memory = &self.remembered.contacts;
        let mut found = std::collections::HashMap::with_capacity(ids.len());
        let mut unknown = Vec::new();
        let mut generation = None;
        for id in ids {
            match memory.get(id) {
                Ok(contact) => {
                    found.insert(*id, contact);
                }
                Err(g) => {
                    generation.get_or_insert(g);
                    unknown.push(*id);
                }
            }
        }
        if let Some(generation) = generation {
            let read = self.read_contacts(&unknown).await?;
            memory.remember(read.iter().map(|(k, v)| (*k, v.clone())), generation);
            found.extend(read);
        }
        Ok(found)
    }

    async fn read_contacts(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, (String, Option<String>)>, StoreError> {
        with_reader!(self, pool, {
            let mut qb =
                sqlx::QueryBuilder::new("SELECT id, name, phone FROM people WHERE id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(") UNION ALL SELECT id, name, NULL FROM teams WHERE id IN (");
            let mut list = qb.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            qb.push(")");
            let rows = qb.build().fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(
                    |r| -> Result<(Uuid, (String, Option<String>)), sqlx::Error> {
                        Ok((r.try_get(0)?, (r.try_get(1)?, r.try_get(2)?)))
                    },
                )
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// Records that `reader` saw `person`'s unmasked contact on `ticket`.
    pub(crate) async fn insert_contact_read(&self, read: &ContactRead) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO contact_reads (id, community_id, person_id, reader_id, ticket_id, at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(Uuid::now_v7())
            .bind(read.community_id)
            .bind(read.person_id)
            .bind(read.reader_id)
            .bind(read.ticket_id)
            .bind(us(read.at))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }

    /// Who saw a person's unmasked contact, newest first.
    pub async fn contact_reads(
        &self,
        person: Uuid,
        limit: u32,
    ) -> Result<Vec<ContactRead>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT community_id, person_id, reader_id, ticket_id, at_us FROM contact_reads \
                 WHERE person_id = $1 ORDER BY at_us DESC, id DESC LIMIT $2",
            )
            .bind(person)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<ContactRead, sqlx::Error> {
                    Ok(ContactRead {
                        community_id: r.try_get(0)?,
                        person_id: r.try_get(1)?,
                        reader_id: r.try_get(2)?,
                        ticket_id: r.try_get(3)?,
                        at: crate::from_us(r.try_get(4)?),
                    })
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
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

    pub(crate) async fn person_ref(&self, id: Uuid) -> Result<Option<PersonRef>, StoreError> {
        let generation = match self.remembered.people.get(&id) {
            Ok(known) => return Ok(Some(known)),
            Err(generation) => generation,
        };
        let found = self.read_person_ref(id).await?;
        if let Some(p) = &found {
            self.remembered
                .people
                .remember([(id, p.clone())], generation);
        }
        Ok(found)
    }

    async fn read_person_ref(&self, id: Uuid) -> Result<Option<PersonRef>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(
                "SELECT roles, community_id, branch_id, active, home_building_id FROM people WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.map(|r| -> Result<PersonRef, sqlx::Error> {
                Ok(PersonRef {
                    id,
                    roles: parse_roles(&r.try_get::<String, _>(0)?),
                    community_id: r.try_get(1)?,
                    branch_id: r.try_get(2)?,
                    home_building_id: r.try_get(4)?,
                    active: r.try_get(3)?,
                })
            })
            .transpose()
            .map_err(from_sqlx)
        })
    }

    pub(crate) async fn team_ref(&self, id: Uuid) -> Result<Option<TeamRef>, StoreError> {
        with_reader!(self, pool, {
            let community: Option<Uuid> =
                sqlx::query_scalar("SELECT community_id FROM teams WHERE id = $1")
                    .bind(id)
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?;
            let Some(community_id) = community else {
                return Ok(None);
            };
            let members =
                sqlx::query_scalar("SELECT person_id FROM team_members WHERE team_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?;
            Ok(Some(TeamRef {
                id,
                community_id,
                members,
            }))
        })
    }

    /// The branch covering a building: the nearest covered unit walking up from it.
    pub(crate) async fn building_location(
        &self,
        building_id: Uuid,
    ) -> Result<Option<Location>, StoreError> {
        let generation = match self.remembered.locations.get(&building_id) {
            Ok(known) => return Ok(Some(known)),
            Err(generation) => generation,
        };
        let found = self.read_building_location(building_id).await?;
        if let Some(l) = found {
            self.remembered
                .locations
                .remember([(building_id, l)], generation);
        }
        Ok(found)
    }

    async fn read_building_location(
        &self,
        building_id: Uuid,
    ) -> Result<Option<Location>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(
                "WITH RECURSIVE up (id, parent_id, kind, depth) AS ( \
                    SELECT id, parent_id, kind, 0 FROM org_units WHERE id = $1 AND kind = 'building' \
                    UNION ALL SELECT o.id, o.parent_id, o.kind, up.depth + 1 FROM org_units o JOIN up ON o.id = up.parent_id) \
                 SELECT ba.branch_id, ba.community_id, \
                    (SELECT c.id FROM up c WHERE c.kind = 'compound' ORDER BY c.depth LIMIT 1) \
                 FROM up JOIN branch_areas ba ON ba.org_unit_id = up.id \
                 ORDER BY up.depth LIMIT 1",
            )
            .bind(building_id)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.map(|r| -> Result<Location, sqlx::Error> {
                Ok(Location {
                    building_id,
                    branch_id: r.try_get(0)?,
                    community_id: r.try_get(1)?,
                    compound_id: r.try_get(2)?,
                })
            })
            .transpose()
            .map_err(from_sqlx)
        })
    }
}
