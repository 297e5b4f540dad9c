//! The facts dispatch ranking weighs: where the request and each volunteer are in the org
//! tree, each volunteer's load and availability, and their recent record (declines, expiries,
//! ratings) read from the community's events. The weighing is the core's
//! ([`workflow_core::dispatch`]).

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde::Deserialize;
use sqlx::Row;
use sqlx::types::Json;
use uuid::Uuid;
use workflow_core::dispatch::{Place, Volunteer};
use workflow_core::store::{DispatchFacts, StoreError};
use workflow_core::{Role, Ticket};

use crate::error::from_sqlx;
use crate::json_text::JsonText;
use crate::{SqlStore, from_us, us};

/// A volunteer's recent record.
#[derive(Default)]
struct Record {
    declines: u32,
    expiries: u32,
    ratings: u32,
    rating_sum: u32,
}

/// A community's events that go on a volunteer's record since a time: who acted, and the
/// body. `on_record` is written into the text, not bound, so that every plan matches the
/// partial index of those events (migration 0014).
fn records_sql() -> &'static str {
    "SELECT actor_id, actor_role, body FROM events WHERE community_id = $1 AND at_us >= $2 AND on_record"
}

/// What a volunteer's record reads of an event's body; serde skips the rest unparsed. A
/// ranking reads every such event of the community's last [`RECENT_DAYS`] days (thousands
/// in a busy community), so it decodes these four fields rather than whole events.
///
/// [`RECENT_DAYS`]: workflow_core::dispatch::RECENT_DAYS
#[derive(Deserialize)]
struct OnRecord {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    released: Option<Uuid>,
    #[serde(default)]
    assignee_after: Option<workflow_core::Assignee>,
    #[serde(default)]
    rating: Option<u8>,
}

impl SqlStore {
    pub(crate) async fn gather_dispatch_facts(
        &self,
        ticket: &Ticket,
        since: Timestamp,
    ) -> Result<DispatchFacts, StoreError> {
        let people = self.community_volunteers(ticket.community_id).await?;
        let mut units: HashSet<Uuid> = people.iter().filter_map(|p| p.1).collect();
        units.extend(ticket.building_id);
        let places = self.places(&units).await?;
        let records = self.records(ticket.community_id, since).await?;
        let volunteers = people
            .into_iter()
            .map(|(mut v, home)| {
                v.home = home.and_then(|h| places.get(&h).copied());
                if let Some(r) = records.get(&v.id) {
                    v.recent_declines = r.declines;
                    v.recent_expiries = r.expiries;
                    v.ratings = r.ratings;
                    v.rating_sum = r.rating_sum;
                }
                v
            })
            .collect();
        let place = ticket
            .building_id
            .and_then(|b| places.get(&b).copied())
            .unwrap_or(Place {
                community: Some(ticket.community_id),
                ..Place::default()
            });
        Ok(DispatchFacts { place, volunteers })
    }

    /// Active members of the community with their open load, and their home building.
    async fn community_volunteers(
        &self,
        community_id: Uuid,
    ) -> Result<Vec<(Volunteer, Option<Uuid>)>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT p.id, p.name, p.skills, p.available, p.away_until_us, p.max_open, p.home_building_id, \
                 (SELECT COUNT(*) FROM tickets t WHERE t.assignee_person = p.id AND NOT t.terminal) AS open \
                 FROM people p WHERE p.community_id = $1 AND p.active AND p.roles LIKE '%member%' AND p.partner_unit_id IS NULL",
            )
            .bind(community_id)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<_, sqlx::Error> {
                    let skills: Json<Vec<String>> = r.try_get(2)?;
                    let away: Option<i64> = r.try_get(4)?;
                    let v = Volunteer {
                        id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        skills: skills.0,
                        home: None,
                        open: r.try_get::<i64, _>(7)? as u32,
                        max_open: r.try_get::<i32, _>(5)? as u32,
                        available: r.try_get(3)?,
                        away_until: away.map(from_us),
                        recent_declines: 0,
                        recent_expiries: 0,
                        ratings: 0,
                        rating_sum: 0,
                    };
                    Ok((v, r.try_get(6)?))
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// Each unit's chain up the org tree, as a [`Place`].
    async fn places(&self, units: &HashSet<Uuid>) -> Result<HashMap<Uuid, Place>, StoreError> {
        let mut out: HashMap<Uuid, Place> = HashMap::new();
        if units.is_empty() {
            return Ok(out);
        }
        with_reader!(self, pool, {
            let mut q = sqlx::QueryBuilder::new(
                "WITH RECURSIVE up (start, id, kind, parent_id) AS ( \
                 SELECT id, id, kind, parent_id FROM org_units WHERE id IN (",
            );
            let mut list = q.separated(", ");
            for u in units {
                list.push_bind(*u);
            }
            q.push(
                ") UNION ALL SELECT up.start, o.id, o.kind, o.parent_id FROM org_units o \
                 JOIN up ON o.id = up.parent_id) SELECT start, id, kind FROM up",
            );
            let rows = q.build().fetch_all(pool).await.map_err(from_sqlx)?;
            for r in rows {
                let start: Uuid = r.try_get(0).map_err(from_sqlx)?;
                let id: Uuid = r.try_get(1).map_err(from_sqlx)?;
                let kind: String = r.try_get(2).map_err(from_sqlx)?;
                let place = out.entry(start).or_default();
                match kind.as_str() {
                    "building" => place.building = Some(id),
                    "compound" => place.compound = Some(id),
                    "grid" => place.grid = Some(id),
                    "community" => place.community = Some(id),
                    _ => {}
                }
            }
        });
        Ok(out)
    }

    /// The database's plan for reading a community's volunteer records (PostgreSQL `EXPLAIN`,
    /// SQLite `EXPLAIN QUERY PLAN`): how tests check that it reads only the events on record.
    pub async fn explain_volunteer_records(
        &self,
        community_id: Uuid,
        since: Timestamp,
    ) -> Result<String, StoreError> {
        let dialect = self.dialect();
        let sql = format!("{}{}", dialect.explain, records_sql());
        with_reader!(self, pool, {
            let rows = sqlx::query(&sql)
                .bind(community_id)
                .bind(us(since))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?;
            dialect.plan_text(&rows).map_err(from_sqlx)
        })
    }

    /// Declines, expiries and ratings per volunteer since `since`, from the events that
    /// release a holder or carry a rating.
    async fn records(
        &self,
        community_id: Uuid,
        since: Timestamp,
    ) -> Result<HashMap<Uuid, Record>, StoreError> {
        let rows: Vec<(Option<Uuid>, String, JsonText<OnRecord>)> = with_reader!(self, pool, {
            sqlx::query_as(records_sql())
                .bind(community_id)
                .bind(us(since))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        let mut out: HashMap<Uuid, Record> = HashMap::new();
        for (actor, role, JsonText(e)) in rows {
            if e.kind != "transitioned" {
                continue;
            }
            if let Some(p) = e.released {
                let r = out.entry(p).or_default();
                if actor == Some(p) {
                    r.declines += 1;
                } else if Role::parse(&role) == Some(Role::System) {
                    r.expiries += 1;
                }
            }
            if let (Some(stars), Some(workflow_core::Assignee::Person(p))) =
                (e.rating, e.assignee_after)
            {
                let r = out.entry(p).or_default();
                r.ratings += 1;
                r.rating_sum += u32::from(stars);
            }
        }
        Ok(out)
    }
}
