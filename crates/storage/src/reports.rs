//! Reports, computed in the database: the volunteer ledger and leaderboard, and the figures
//! communities report (DESIGN.md's 及时率, 满意率, counts) for an org unit and a period.
//!
//! The figures follow one cohort: the requests *submitted* in the period within the unit
//! (a branch's area, a community, a street's communities). Hours and points are what the
//! ledger credited in the period within the unit.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use sqlx::{Database, Encode, QueryBuilder, Row, Type};
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// Actions that count as taking a request on, and as finishing it, across the workflows
/// (community service, micro-wish, mediation).
pub const ACCEPT_ACTIONS: [&str; 3] = ["accept", "claim", "take"];
pub const COMPLETE_ACTIONS: [&str; 3] = ["complete", "fulfil", "settle"];

pub use workflow_core::access::{Unit, UnitInfo};

/// One piece of service as recorded (志愿服务记录, 民政部令第67号): its ledger entry, and
/// where the work was, who organised it and how it was rated.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceRecord {
    pub entry: LedgerEntry,
    /// The building the work was at.
    pub place: Option<String>,
    /// The branch that organised it.
    pub organiser: Option<String>,
    /// The resident's stars, if given.
    pub rating: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LedgerEntry {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// The crediting event; `None` for a correction.
    pub event_seq: Option<u64>,
    pub category: String,
    pub minutes: i64,
    pub points: i64,
    pub reason: Option<String>,
    pub actor_id: Option<Uuid>,
    pub at: Timestamp,
    /// The entry a correction corrects, where the office named it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<Uuid>,
}

impl LedgerEntry {
    /// A correction (by staff, with a reason), not a credit from the work itself.
    pub fn is_correction(&self) -> bool {
        self.event_seq.is_none()
    }
}

/// The ledger's columns (table alias `l`), in the order [`ledger_entry`] reads them.
const LEDGER_COLUMNS: &str = "l.id, l.ticket_id, l.event_seq, l.category, l.minutes, l.points, \
                              l.reason, l.actor_id, l.at_us, l.corrects_id";

/// A [`LedgerEntry`] from the first columns of a row that starts with [`LEDGER_COLUMNS`].
fn ledger_entry<'r, R: Row>(r: &'r R) -> Result<LedgerEntry, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    Uuid: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<Uuid>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(LedgerEntry {
        id: r.try_get(0)?,
        ticket_id: r.try_get(1)?,
        event_seq: r.try_get::<Option<i64>, _>(2)?.map(|v| v as u64),
        category: r.try_get(3)?,
        minutes: i64::from(r.try_get::<i32, _>(4)?),
        points: i64::from(r.try_get::<i32, _>(5)?),
        reason: r.try_get(6)?,
        actor_id: r.try_get(7)?,
        at: from_us(r.try_get(8)?),
        corrects: r.try_get(9)?,
    })
}

/// A correction: a new entry, never an update.
#[derive(Clone, Debug)]
pub struct Correction {
    pub person: Uuid,
    pub ticket: Uuid,
    /// The record it corrects: an entry of the same person and ticket.
    pub corrects: Option<Uuid>,
    pub minutes: i32,
    pub points: i32,
    pub reason: String,
    pub actor: Uuid,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Standing {
    pub person_id: Uuid,
    pub name: String,
    pub minutes: i64,
    pub points: i64,
    pub entries: i64,
}

/// Median and 90th percentile (nearest rank) of a duration, in seconds, over `count`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub count: i64,
    pub p50_secs: Option<i64>,
    pub p90_secs: Option<i64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClockFigures {
    /// Clock cycles that stopped, and of those, before their deadline.
    pub stopped: i64,
    pub on_time: i64,
    pub breaches: i64,
    /// Breached and still running (not stopped since): late, though not closed.
    pub breached_open: i64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CategoryFigures {
    pub submitted: i64,
    pub closed: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Stats {
    pub submitted: i64,
    pub closed: i64,
    pub rejected: i64,
    /// Cancelled by the resident, or a wish withdrawn.
    pub cancelled: i64,
    pub open: i64,
    pub rated: i64,
    pub rating_sum: i64,
    /// Ratings of 4 or 5 stars.
    pub satisfied: i64,
    pub to_accept: Spread,
    pub to_complete: Spread,
    pub clocks: BTreeMap<String, ClockFigures>,
    /// Escalations by the level they reached (`secretary`, `community`, `street`).
    pub escalations: BTreeMap<String, i64>,
    pub categories: BTreeMap<String, CategoryFigures>,
    pub volunteer_minutes: i64,
    pub volunteer_points: i64,
}

/// `t.<unit matches>`: over a table aliased `t` with `branch_id` and `community_id`.
fn push_unit<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, unit: Unit)
where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    match unit {
        Unit::Branch(b) => {
            q.push("t.branch_id = ").push_bind(b);
        }
        Unit::Community(c) => {
            q.push("t.community_id = ").push_bind(c);
        }
        Unit::Street(s) => {
            q.push(
                "t.community_id IN (SELECT id FROM org_units WHERE kind = 'community' AND parent_id = ",
            )
            .push_bind(s)
            .push(")");
        }
    }
}

/// The cohort: tickets `t` of the unit created in `[from, to)`.
pub(crate) fn push_cohort<'a, DB: Database>(
    q: &mut QueryBuilder<'a, DB>,
    unit: Unit,
    from: Timestamp,
    to: Timestamp,
) where
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    push_unit(q, unit);
    q.push(" AND t.created_at_us >= ")
        .push_bind(us(from))
        .push(" AND t.created_at_us < ")
        .push_bind(us(to));
}

/// A period: `[from, to)`.
#[derive(Clone, Copy, Debug)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

impl SqlStore {
    /// A branch, community or street by id.
    pub async fn unit(&self, id: Uuid) -> Result<Option<UnitInfo>, StoreError> {
        with_reader!(self, pool, {
            let branch = sqlx::query(
                "SELECT b.community_id, c.parent_id FROM branches b JOIN org_units c ON c.id = b.community_id WHERE b.id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            if let Some(r) = branch {
                return Ok(Some(UnitInfo {
                    unit: Unit::Branch(id),
                    community: r.try_get(0).map_err(from_sqlx)?,
                    street: r.try_get(1).map_err(from_sqlx)?,
                }));
            }
            let unit = sqlx::query("SELECT kind, parent_id FROM org_units WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
            let Some(r) = unit else { return Ok(None) };
            let kind: String = r.try_get(0).map_err(from_sqlx)?;
            let parent: Option<Uuid> = r.try_get(1).map_err(from_sqlx)?;
            Ok(match kind.as_str() {
                "community" => Some(UnitInfo {
                    unit: Unit::Community(id),
                    community: Some(id),
                    street: parent,
                }),
                "street" => Some(UnitInfo {
                    unit: Unit::Street(id),
                    community: None,
                    street: Some(id),
                }),
                _ => None,
            })
        })
    }

    /// A volunteer's service records (志愿服务记录) in a period: each ledger entry with where
    /// the work was (the building), who organised it (the branch) and the resident's rating.
    /// Append-only as the ledger is: a correction is a record of its own, with who and why.
    pub async fn service_records(
        &self,
        person: Uuid,
        period: Period,
    ) -> Result<Vec<ServiceRecord>, StoreError> {
        let rows = self
            .service_records_where("l.person_id = $1", person, period)
            .await?;
        Ok(rows.into_iter().map(|(_, r)| r).collect())
    }

    /// The service records in a period of every member a community took in (双报到: an
    /// approved report-in there), each with whose it is: what its feedback sheets count.
    pub async fn service_records_of_reported(
        &self,
        community: Uuid,
        period: Period,
    ) -> Result<Vec<(Uuid, ServiceRecord)>, StoreError> {
        self.service_records_where(
            "l.person_id IN (SELECT person_id FROM report_ins \
             WHERE community_id = $1 AND status = 'approved')",
            community,
            period,
        )
        .await
    }

    /// Service records of the people `whose` (a condition on `l.person_id` against `$1`)
    /// selects, in a period, oldest first.
    async fn service_records_where(
        &self,
        whose: &str,
        key: Uuid,
        period: Period,
    ) -> Result<Vec<(Uuid, ServiceRecord)>, StoreError> {
        let rating = (self.dialect().json_int)("t.body", "rating");
        with_reader!(self, pool, {
            let rows = sqlx::query(&format!(
                "SELECT {LEDGER_COLUMNS}, b.name, br.name, CAST({rating} AS BIGINT), l.person_id \
                 FROM ledger l JOIN tickets t ON t.id = l.ticket_id \
                 LEFT JOIN org_units b ON b.id = t.building_id \
                 LEFT JOIN branches br ON br.id = t.branch_id \
                 WHERE {whose} AND l.at_us >= $2 AND l.at_us < $3 ORDER BY l.at_us, l.id"
            ))
            .bind(key)
            .bind(us(period.from))
            .bind(us(period.to))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<(Uuid, ServiceRecord), sqlx::Error> {
                    let record = ServiceRecord {
                        entry: ledger_entry(r)?,
                        place: r.try_get(10)?,
                        organiser: r.try_get(11)?,
                        rating: r.try_get(12)?,
                    };
                    Ok((r.try_get(13)?, record))
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// A person's credits in `[from, to)`, summed (the daily caps read it).
    pub(crate) async fn earned_between(
        &self,
        person: Uuid,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<workflow_core::credit::Earned, StoreError> {
        let (minutes, points): (Option<i64>, Option<i64>) = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT CAST(SUM(minutes) AS BIGINT), CAST(SUM(points) AS BIGINT) FROM ledger \
                 WHERE person_id = $1 AND at_us >= $2 AND at_us < $3",
            )
            .bind(person)
            .bind(us(from))
            .bind(us(to))
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)
        })?;
        Ok(workflow_core::credit::Earned {
            minutes: minutes.unwrap_or(0),
            points: points.unwrap_or(0),
        })
    }

    pub async fn ledger(
        &self,
        person: Uuid,
        period: Period,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(&format!(
                "SELECT {LEDGER_COLUMNS} FROM ledger l \
                 WHERE l.person_id = $1 AND l.at_us >= $2 AND l.at_us < $3 ORDER BY l.at_us, l.id"
            ))
            .bind(person)
            .bind(us(period.from))
            .bind(us(period.to))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(ledger_entry)
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// Adds a correction to a member's ledger, against one of the tickets of their community.
    pub async fn correct_ledger(&self, c: &Correction) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        if let Some(corrected) = c.corrects {
            let found: Option<Uuid> = with_reader!(self, pool, {
                sqlx::query_scalar(
                    "SELECT id FROM ledger WHERE id = $1 AND person_id = $2 AND ticket_id = $3",
                )
                .bind(corrected)
                .bind(c.person)
                .bind(c.ticket)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?
            });
            if found.is_none() {
                return Err(StoreError::InvalidReference {
                    field: "corrects",
                    detail: "no record of this volunteer's for this request has this id".into(),
                });
            }
        }
        with_pool!(self, pool, {
            let r = sqlx::query(
                "INSERT INTO ledger (id, community_id, branch_id, person_id, ticket_id, event_seq, category, \
                 minutes, points, reason, actor_id, at_us, corrects_id) \
                 SELECT $1, t.community_id, t.branch_id, $2, t.id, NULL, t.category, $4, $5, $6, $7, $8, $9 \
                 FROM tickets t WHERE t.id = $3",
            )
            .bind(id)
            .bind(c.person)
            .bind(c.ticket)
            .bind(c.minutes)
            .bind(c.points)
            .bind(&c.reason)
            .bind(c.actor)
            .bind(us(c.at))
            .bind(c.corrects)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            if r.rows_affected() == 0 {
                return Err(StoreError::Other(format!("no ticket {}", c.ticket)));
            }
        });
        Ok(id)
    }

    /// Volunteers by points credited in the unit in the period, then hours, then name.
    pub async fn leaderboard(
        &self,
        unit: Unit,
        period: Period,
        limit: u32,
    ) -> Result<Vec<Standing>, StoreError> {
        with_reader!(self, pool, {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT t.person_id, p.name, SUM(t.minutes), SUM(t.points), COUNT(*) \
                 FROM ledger t JOIN people p ON p.id = t.person_id WHERE ",
            );
            push_unit(&mut q, unit);
            q.push(" AND t.at_us >= ")
                .push_bind(us(period.from))
                .push(" AND t.at_us < ")
                .push_bind(us(period.to))
                .push(" GROUP BY t.person_id, p.name ORDER BY SUM(t.points) DESC, SUM(t.minutes) DESC, p.name, t.person_id LIMIT ")
                .push_bind(i64::from(limit));
            let rows = q.build().fetch_all(pool).await.map_err(from_sqlx)?;
            rows.iter()
                .map(|r| -> Result<Standing, sqlx::Error> {
                    Ok(Standing {
                        person_id: r.try_get(0)?,
                        name: r.try_get(1)?,
                        minutes: r.try_get(2)?,
                        points: r.try_get(3)?,
                        entries: r.try_get(4)?,
                    })
                })
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// The figures for a unit and a period (see the module's note on the cohort).
    /// The community's requests asked in the period that are closed, the latest asked
    /// first, at most `limit`: the same cohort as [`SqlStore::stats`] counts (the public
    /// board's list; the caller shows none of their personal data).
    pub async fn closed_in(
        &self,
        community: Uuid,
        period: Period,
        limit: usize,
    ) -> Result<Vec<workflow_core::Ticket>, StoreError> {
        let sql = format!(
            "SELECT {} FROM tickets WHERE community_id = $1 AND state = 'closed' \
             AND created_at_us >= $2 AND created_at_us < $3 ORDER BY id DESC LIMIT $4",
            crate::ticket_rows::COLUMNS
        );
        let rows: Vec<crate::ticket_rows::TicketRow> = with_reader!(self, pool, {
            sqlx::query_as(&sql)
                .bind(community)
                .bind(us(period.from))
                .bind(us(period.to))
                .bind(limit as i64)
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        rows.into_iter().map(crate::ticket_rows::ticket).collect()
    }

    pub async fn stats(&self, unit: Unit, period: Period) -> Result<Stats, StoreError> {
        let dialect = self.dialect();
        let text = |key: &str| (dialect.json_text)("e.body", key);
        let int = |key: &str| (dialect.json_int)("e.body", key);
        let joined = dialect.same_community("e", "t");
        let same_ticket = dialect.same_community("s", "e");
        let Period { from, to } = period;
        let mut out = Stats::default();
        with_reader!(self, pool, {
            // Counts by state and category.
            let mut q = sqlx::QueryBuilder::new(
                "SELECT t.state, t.category, t.terminal, COUNT(*) FROM tickets t WHERE ",
            );
            push_cohort(&mut q, unit, from, to);
            q.push(" GROUP BY t.state, t.category, t.terminal");
            for r in q.build().fetch_all(pool).await.map_err(from_sqlx)? {
                let state: String = r.try_get(0).map_err(from_sqlx)?;
                let category: String = r.try_get(1).map_err(from_sqlx)?;
                let terminal: bool = r.try_get(2).map_err(from_sqlx)?;
                let n: i64 = r.try_get(3).map_err(from_sqlx)?;
                out.submitted += n;
                let c = out.categories.entry(category).or_default();
                c.submitted += n;
                match state.as_str() {
                    "closed" => {
                        out.closed += n;
                        c.closed += n;
                    }
                    "rejected" => out.rejected += n,
                    "cancelled" | "withdrawn" => out.cancelled += n,
                    _ => {}
                }
                if !terminal {
                    out.open += n;
                }
            }

            // Ratings.
            let rating = int("rating");
            let mut q = sqlx::QueryBuilder::new(format!(
                "SELECT COUNT(r), COALESCE(SUM(r), 0), COALESCE(SUM(CASE WHEN r >= 4 THEN 1 ELSE 0 END), 0) \
                 FROM (SELECT {rating} AS r FROM events e JOIN tickets t ON t.id = e.ticket_id{joined} WHERE "
            ));
            push_cohort(&mut q, unit, from, to);
            // The resident's word only, or that of who entered it for them (代办).
            q.push(
                " AND (e.actor_id = t.requester_id OR e.actor_id = t.proxy_id)) x WHERE r IS NOT NULL",
            );
            let r = q.build().fetch_one(pool).await.map_err(from_sqlx)?;
            out.rated = r.try_get(0).map_err(from_sqlx)?;
            out.rating_sum = r.try_get(1).map_err(from_sqlx)?;
            out.satisfied = r.try_get(2).map_err(from_sqlx)?;

            // Clocks: stops (on time when the clock stopped at or before its target: overrun ≤ 0) and breaches; escalations by level.
            let (clock, overrun, to_level) = (text("clock"), int("overrun_secs"), text("to"));
            let mut q = sqlx::QueryBuilder::new(format!(
                "SELECT e.kind, CASE WHEN e.kind = 'escalation' THEN {to_level} ELSE {clock} END, COUNT(*), \
                 COALESCE(SUM(CASE WHEN e.kind = 'clock_stopped' AND {overrun} <= 0 THEN 1 ELSE 0 END), 0) \
                 FROM events e JOIN tickets t ON t.id = e.ticket_id{joined} WHERE "
            ));
            push_cohort(&mut q, unit, from, to);
            q.push(" AND e.kind IN ('clock_stopped', 'sla_breach', 'escalation') GROUP BY 1, 2");
            for r in q.build().fetch_all(pool).await.map_err(from_sqlx)? {
                let kind: String = r.try_get(0).map_err(from_sqlx)?;
                let name: String = r.try_get(1).map_err(from_sqlx)?;
                let n: i64 = r.try_get(2).map_err(from_sqlx)?;
                let on_time: i64 = r.try_get(3).map_err(from_sqlx)?;
                match kind.as_str() {
                    "escalation" => *out.escalations.entry(name).or_default() += n,
                    "sla_breach" => out.clocks.entry(name).or_default().breaches += n,
                    _ => {
                        let c = out.clocks.entry(name).or_default();
                        c.stopped += n;
                        c.on_time += on_time;
                    }
                }
            }

            // Breaches not followed by a stop of the same clock: still running, and late.
            let stopped_clock = (dialect.json_text)("s.body", "clock");
            let mut q = sqlx::QueryBuilder::new(format!(
                "SELECT {clock}, COUNT(*) FROM events e JOIN tickets t ON t.id = e.ticket_id{joined} WHERE "
            ));
            push_cohort(&mut q, unit, from, to);
            q.push(format!(
                " AND e.kind = 'sla_breach' AND NOT EXISTS (SELECT 1 FROM events s \
                 WHERE s.ticket_id = e.ticket_id{same_ticket} AND s.seq > e.seq AND s.kind = 'clock_stopped' \
                 AND {stopped_clock} = {clock}) GROUP BY 1"
            ));
            for r in q.build().fetch_all(pool).await.map_err(from_sqlx)? {
                let name: String = r.try_get(0).map_err(from_sqlx)?;
                out.clocks.entry(name).or_default().breached_open +=
                    r.try_get::<i64, _>(1).map_err(from_sqlx)?;
            }

            // Time to accept and to complete: from submission to the first such action.
            for (actions, slot) in [(ACCEPT_ACTIONS, 0), (COMPLETE_ACTIONS, 1)] {
                let mut q = sqlx::QueryBuilder::new(format!(
                    "WITH d AS (SELECT MIN(e.at_us) - t.created_at_us AS v FROM tickets t \
                     JOIN events e ON e.ticket_id = t.id{joined} WHERE ",
                ));
                push_cohort(&mut q, unit, from, to);
                q.push(" AND e.kind IN (");
                let mut list = q.separated(", ");
                for a in actions {
                    list.push_bind(a);
                }
                q.push(
                    ") GROUP BY t.id, t.created_at_us), \
                     r AS (SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS rn, COUNT(*) OVER () AS n FROM d) \
                     SELECT COUNT(*), MAX(CASE WHEN rn = (50 * n + 99) / 100 THEN v END), \
                     MAX(CASE WHEN rn = (90 * n + 99) / 100 THEN v END) FROM r",
                );
                let r = q.build().fetch_one(pool).await.map_err(from_sqlx)?;
                let secs = |v: Option<i64>| v.map(|us| us / 1_000_000);
                let spread = Spread {
                    count: r.try_get(0).map_err(from_sqlx)?,
                    p50_secs: secs(r.try_get(1).map_err(from_sqlx)?),
                    p90_secs: secs(r.try_get(2).map_err(from_sqlx)?),
                };
                match slot {
                    0 => out.to_accept = spread,
                    _ => out.to_complete = spread,
                }
            }

            // Volunteer hours and points credited in the period.
            let mut q = sqlx::QueryBuilder::new(
                "SELECT COALESCE(SUM(t.minutes), 0), COALESCE(SUM(t.points), 0) FROM ledger t WHERE ",
            );
            push_unit(&mut q, unit);
            q.push(" AND t.at_us >= ")
                .push_bind(us(from))
                .push(" AND t.at_us < ")
                .push_bind(us(to));
            let r = q.build().fetch_one(pool).await.map_err(from_sqlx)?;
            out.volunteer_minutes = r.try_get(0).map_err(from_sqlx)?;
            out.volunteer_points = r.try_get(1).map_err(from_sqlx)?;
        });
        Ok(out)
    }
}
