//! People as the service meets them: tokens (kept only as SHA-256 hashes) and who a token
//! is, the names and numbers an answer shows and every full read of a number, a person as
//! the Engine checks them, where a building is. The answers a request needs are remembered
//! for a few seconds (`crate::remembered`).

use std::collections::HashMap;

use super::*;

impl SqlStore {
    /// Issues a new machine token for a person (lives until revoked); only its hash is
    /// kept. Shown once.
    pub async fn issue_token(&self, person: Uuid) -> Result<String, StoreError> {
        self.issue_named_token(person, None).await
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

    /// The people of a community, by name (at most 500), or those with exactly this phone
    /// number: whom its office registers, signs in and disables.
    pub async fn people_of(
        &self,
        community: Uuid,
        phone: Option<&str>,
    ) -> Result<Vec<PersonEntry>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT p.id, p.name, p.phone, p.roles, b.name, p.active FROM people p \
                 LEFT JOIN org_units b ON b.id = p.home_building_id \
                 WHERE p.community_id = $1 AND ($2 IS NULL OR p.phone = $2) \
                 ORDER BY p.name, p.id LIMIT 500",
            )
            .bind(community)
            .bind(phone)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| {
                    Ok(PersonEntry {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        phone: r.try_get(2)?,
                        roles: parse_roles(&r.try_get::<String, _>(3)?),
                        building: r.try_get(4)?,
                        active: r.try_get(5)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(from_sqlx)
        })
    }

    /// Every active person of a community as the access rules see them when they sign in
    /// (their roles, places and teams), by name: for tools that act as them in bulk (the
    /// district simulation), where issuing and reading a token for each would be beside
    /// the point.
    pub async fn principals_of(&self, community: Uuid) -> Result<Vec<Principal>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT id, name, roles, community_id, street_id, branch_id, home_building_id \
                 FROM people WHERE community_id = $1 AND active ORDER BY name, id",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let memberships = sqlx::query(
                "SELECT m.person_id, m.team_id FROM team_members m \
                 JOIN people p ON p.id = m.person_id WHERE p.community_id = $1",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let mut teams: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
            for r in &memberships {
                let person: Uuid = r.try_get(0).map_err(from_sqlx)?;
                teams
                    .entry(person)
                    .or_default()
                    .push(r.try_get(1).map_err(from_sqlx)?);
            }
            rows.iter()
                .map(|r| {
                    let id: Uuid = r.try_get(0)?;
                    Ok(Principal {
                        id,
                        name: r.try_get(1)?,
                        roles: parse_roles(&r.try_get::<String, _>(2)?),
                        community_id: r.try_get(3)?,
                        street_id: r.try_get(4)?,
                        branch_id: r.try_get(5)?,
                        home_building_id: r.try_get(6)?,
                        teams: teams.remove(&id).unwrap_or_default(),
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(from_sqlx)
        })
    }

    /// The buildings of a community, by name: where its people live.
    pub async fn buildings_of(&self, community: Uuid) -> Result<Vec<(Uuid, String)>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT id, name FROM org_units WHERE community_id = $1 AND kind = 'building' ORDER BY name, id",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)
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

    pub async fn person_ref(&self, id: Uuid) -> Result<Option<PersonRef>, StoreError> {
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
}
