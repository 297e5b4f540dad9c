//! 双报到 as the database keeps it: a community's posts, the report-ins asked and decided,
//! the code a community publishes for reporting in. Approving a report-in takes its member
//! into the directory (a newcomer becomes a person; anyone else becomes a member, with the
//! skills they named) in the same transaction as the decision. The rules are
//! `workflow_core::report_in`.

use jiff::Timestamp;
use sqlx::types::Json;
use sqlx::{Row, Type};
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::report_in::{Form, Reported, Status};
use workflow_core::store::StoreError;

use super::write::{PersonWrite, Write, push_write};
use super::{parse_roles, roles_text};
use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// A report-in, as asked and (once decided) decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportIn {
    pub id: Uuid,
    pub community_id: Uuid,
    /// Who it is: none for a newcomer until the office approves it.
    pub person_id: Option<Uuid>,
    pub name: String,
    pub phone: Option<String>,
    pub form: Form,
    pub status: Status,
    pub asked_at: Timestamp,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<Timestamp>,
    pub reason: Option<String>,
}

/// The office's decision on a report-in.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub approve: bool,
    pub by: Uuid,
    pub at: Timestamp,
    pub reason: Option<String>,
}

const COLUMNS: &str = "id, community_id, person_id, name, phone, work_unit, party_org, post, \
                       skills, status, asked_at_us, decided_by, decided_at_us, reason";

/// A [`ReportIn`] from a row of [`COLUMNS`].
fn report_in<'r, R: Row>(r: &'r R) -> Result<ReportIn, sqlx::Error>
where
    usize: sqlx::ColumnIndex<R>,
    Uuid: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<Uuid>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    String: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<String>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + Type<R::Database>,
{
    let skills: String = r.try_get(8)?;
    let status: String = r.try_get(9)?;
    Ok(ReportIn {
        id: r.try_get(0)?,
        community_id: r.try_get(1)?,
        person_id: r.try_get(2)?,
        name: r.try_get(3)?,
        phone: r.try_get(4)?,
        form: Form {
            work_unit: r.try_get(5)?,
            party_org: r.try_get(6)?,
            post: r.try_get(7)?,
            skills: serde_json::from_str(&skills).unwrap_or_default(),
        },
        status: Status::parse(&status).ok_or_else(|| sqlx::Error::ColumnDecode {
            index: "status".into(),
            source: format!("unknown report-in status {status:?}").into(),
        })?,
        asked_at: from_us(r.try_get(10)?),
        decided_by: r.try_get(11)?,
        decided_at: r.try_get::<Option<i64>, _>(12)?.map(from_us),
        reason: r.try_get(13)?,
    })
}

impl SqlStore {
    /// A community's posts, by name.
    pub async fn posts_of(&self, community: Uuid) -> Result<Vec<String>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT name FROM posts WHERE community_id = $1 ORDER BY name")
                .bind(community)
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// Adds a post to a community's list.
    pub async fn create_post(&self, community: Uuid, name: &str) -> Result<Uuid, StoreError> {
        let id = Uuid::now_v7();
        self.write_directory(&[Write::Named {
            table: "posts",
            id,
            community,
            name: name.to_owned(),
        }])
        .await?;
        Ok(id)
    }

    pub async fn ask_report_in(&self, r: &ReportIn) -> Result<(), StoreError> {
        let skills = serde_json::to_string(&r.form.skills).unwrap_or_else(|_| "[]".into());
        with_pool!(self, pool, {
            sqlx::query(&format!(
                "INSERT INTO report_ins ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
            ))
            .bind(r.id)
            .bind(r.community_id)
            .bind(r.person_id)
            .bind(&r.name)
            .bind(&r.phone)
            .bind(&r.form.work_unit)
            .bind(&r.form.party_org)
            .bind(&r.form.post)
            .bind(&skills)
            .bind(r.status.as_str())
            .bind(us(r.asked_at))
            .bind(r.decided_by)
            .bind(r.decided_at.map(us))
            .bind(&r.reason)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(from_sqlx)
        })
    }

    /// A community's report-ins, newest first; of one status if given.
    pub async fn report_ins(
        &self,
        community: Uuid,
        status: Option<Status>,
    ) -> Result<Vec<ReportIn>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM report_ins WHERE community_id = $1 \
                 AND ($2 IS NULL OR status = $2) ORDER BY asked_at_us DESC, id LIMIT 1000"
            ))
            .bind(community)
            .bind(status.map(Status::as_str))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(report_in)
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    pub async fn report_in(&self, id: Uuid) -> Result<Option<ReportIn>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(&format!("SELECT {COLUMNS} FROM report_ins WHERE id = $1"))
                .bind(id)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)?;
            row.as_ref().map(report_in).transpose().map_err(from_sqlx)
        })
    }

    /// A person's profile in their community: their latest approved report-in there.
    pub async fn profile(&self, person: Uuid) -> Result<Option<ReportIn>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM report_ins r WHERE person_id = $1 AND status = 'approved' \
                 AND community_id = (SELECT community_id FROM people WHERE id = $1) \
                 ORDER BY decided_at_us DESC, id DESC LIMIT 1"
            ))
            .bind(person)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.as_ref().map(report_in).transpose().map_err(from_sqlx)
        })
    }

    /// Decides a pending report-in: `Conflict` if it was decided already (two offices at
    /// once: one decision stands). Approving takes the member in, in the same transaction: a
    /// newcomer is matched by phone to a person of the community or becomes one; the person
    /// becomes a member if they were not, and gains the skills they named. Returns the person.
    pub async fn decide_report_in(
        &self,
        r: &ReportIn,
        d: &Verdict,
    ) -> Result<Option<Uuid>, StoreError> {
        let status = if d.approve {
            Status::Approved
        } else {
            Status::Declined
        };
        let person = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let matched: Option<Uuid> = match (r.person_id, &r.phone, d.approve) {
                (Some(p), _, _) => Some(p),
                (None, Some(phone), true) => sqlx::query_scalar(
                    "SELECT id FROM people WHERE community_id = $1 AND phone = $2 \
                     ORDER BY id LIMIT 1",
                )
                .bind(r.community_id)
                .bind(phone)
                .fetch_optional(&mut *tx)
                .await
                .map_err(from_sqlx)?,
                _ => None,
            };
            let person = match (matched, d.approve) {
                (Some(p), true) => {
                    let row = sqlx::query("SELECT roles, skills FROM people WHERE id = $1")
                        .bind(p)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                    let mut roles = parse_roles(&row.try_get::<String, _>(0).map_err(from_sqlx)?);
                    let Json(mut skills): Json<Vec<String>> = row.try_get(1).map_err(from_sqlx)?;
                    if !roles.contains(&Role::Member) {
                        roles.push(Role::Member);
                    }
                    for s in &r.form.skills {
                        if !skills.contains(s) {
                            skills.push(s.clone());
                        }
                    }
                    sqlx::query("UPDATE people SET roles = $1, skills = $2 WHERE id = $3")
                        .bind(roles_text(&roles))
                        .bind(Json(&skills))
                        .bind(p)
                        .execute(&mut *tx)
                        .await
                        .map_err(from_sqlx)?;
                    Some(p)
                }
                (None, true) => {
                    let new = Write::Person(Box::new(PersonWrite {
                        new: true,
                        id: Uuid::now_v7(),
                        community: Some(r.community_id),
                        street: None,
                        branch: None,
                        name: r.name.clone(),
                        phone: r.phone.clone(),
                        roles: roles_text(&[Role::Member]),
                        home: None,
                        skills: r.form.skills.clone(),
                        max_open: 5,
                        away: None,
                        partner: None,
                        active: true,
                    }));
                    let mut q = sqlx::QueryBuilder::new("");
                    push_write(&mut q, &new, us(d.at));
                    q.build().execute(&mut *tx).await.map_err(from_sqlx)?;
                    let Write::Person(p) = new else {
                        unreachable!("built as a person above")
                    };
                    Some(p.id)
                }
                (_, false) => r.person_id,
            };
            let decided = sqlx::query(
                "UPDATE report_ins SET status = $1, person_id = $2, decided_by = $3, \
                 decided_at_us = $4, reason = $5 WHERE id = $6 AND status = 'pending'",
            )
            .bind(status.as_str())
            .bind(person)
            .bind(d.by)
            .bind(us(d.at))
            .bind(&d.reason)
            .bind(r.id)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            if decided.rows_affected() == 0 {
                return Err(StoreError::Conflict { actual: None });
            }
            tx.commit().await.map_err(from_sqlx)?;
            person
        });
        // A person's roles or skills may have changed.
        self.remembered.forget_all();
        Ok(person)
    }

    /// The members a community took in, as its sheets name them: each active person of the
    /// community with an approved report-in there, by their latest one, with the name the
    /// directory has now.
    pub async fn reported_in(&self, community: Uuid) -> Result<Vec<Reported>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT p.id, p.name, r.work_unit, r.post FROM report_ins r \
                 JOIN people p ON p.id = r.person_id AND p.community_id = r.community_id \
                 WHERE r.community_id = $1 AND r.status = 'approved' AND p.active \
                 AND NOT EXISTS (SELECT 1 FROM report_ins later WHERE later.person_id = r.person_id \
                   AND later.community_id = r.community_id AND later.status = 'approved' \
                   AND (later.decided_at_us > r.decided_at_us \
                     OR (later.decided_at_us = r.decided_at_us AND later.id > r.id))) \
                 ORDER BY r.work_unit, p.name, p.id",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| {
                    Ok(Reported {
                        person: r.try_get(0)?,
                        name: r.try_get(1)?,
                        work_unit: r.try_get(2)?,
                        post: r.try_get(3)?,
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(from_sqlx)
        })
    }

    /// The community's active members who have not reported in there (by id and name).
    pub async fn members_not_reported(
        &self,
        community: Uuid,
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let reported: std::collections::HashSet<Uuid> = self
            .reported_in(community)
            .await?
            .into_iter()
            .map(|r| r.person)
            .collect();
        // Every active person of the community, not the office's first page of them.
        let people: Vec<(Uuid, String, String)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT id, name, roles FROM people WHERE community_id = $1 AND active \
                 ORDER BY name, id",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(people
            .into_iter()
            .filter(|(id, _, roles)| {
                parse_roles(roles).contains(&Role::Member) && !reported.contains(id)
            })
            .map(|(id, name, _)| (id, name))
            .collect())
    }

    /// The code a community has published for reporting in, if any.
    pub async fn report_in_code(&self, community: Uuid) -> Result<Option<String>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT code FROM report_in_codes WHERE community_id = $1")
                .bind(community)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }

    /// Publishes `code` for a community; the one before it stops working.
    pub async fn publish_report_in_code(
        &self,
        community: Uuid,
        code: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO report_in_codes (community_id, code, issued_at_us) VALUES ($1, $2, $3) \
                 ON CONFLICT (community_id) DO UPDATE SET code = excluded.code, \
                 issued_at_us = excluded.issued_at_us",
            )
            .bind(community)
            .bind(code)
            .bind(us(at))
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(from_sqlx)
        })
    }

    /// The community a published code is for.
    pub async fn community_of_report_in_code(
        &self,
        code: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar("SELECT community_id FROM report_in_codes WHERE code = $1")
                .bind(code)
                .fetch_optional(pool)
                .await
                .map_err(from_sqlx)
        })
    }
}
