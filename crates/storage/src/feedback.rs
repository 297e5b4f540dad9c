//! Feedback sheets (反馈单) as signed off: frozen in the transaction that signs them, read by
//! the community's staff and, with the sheet's number and check code, by its work unit. Never
//! updated but for an erasure's names.

use jiff::Timestamp;
use sqlx::Row;
use uuid::Uuid;
use workflow_core::report_in::{Reported, Service, Sheet, sheets};
use workflow_core::store::StoreError;

use crate::error::{from_sqlx, is_unique_violation};
use crate::{SqlStore, from_us, us};

/// A sheet as signed: what the work unit is told, and who signed it when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedSheet {
    pub number: String,
    pub check_code: String,
    pub community_id: Uuid,
    /// The period, as civil dates (the end inclusive).
    pub from_day: String,
    pub to_day: String,
    pub remark: String,
    /// The signing community's name.
    pub issuer: String,
    pub signed_by: Uuid,
    pub signed_at: Timestamp,
    pub sheet: Sheet,
}

const COLUMNS: &str = "number, check_code, community_id, work_unit, from_day, to_day, remark, \
                       minutes, services, issuer, signed_by, signed_at_us";

impl SqlStore {
    /// Signs a sheet off: it and its lines, in one transaction. `Conflict`: the work unit's
    /// sheet for that period is signed already.
    pub async fn sign_feedback_sheet(&self, s: &SignedSheet) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let inserted = sqlx::query(&format!(
                "INSERT INTO feedback_sheets ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ))
            .bind(&s.number)
            .bind(&s.check_code)
            .bind(s.community_id)
            .bind(&s.sheet.work_unit)
            .bind(&s.from_day)
            .bind(&s.to_day)
            .bind(&s.remark)
            .bind(s.sheet.minutes)
            .bind(s.sheet.services)
            .bind(&s.issuer)
            .bind(s.signed_by)
            .bind(us(s.signed_at))
            .execute(&mut *tx)
            .await;
            match inserted {
                Err(e) if is_unique_violation(&e) => {
                    return Err(StoreError::Conflict { actual: None });
                }
                other => other.map_err(from_sqlx)?,
            };
            let mut line = 0_i64;
            for l in &s.sheet.lines {
                // The member's own line (no day), then one per service of theirs.
                let services = std::iter::once(None).chain(l.services.iter().map(Some));
                for service in services {
                    sqlx::query(
                        "INSERT INTO feedback_lines (sheet_number, line, person_id, name, post, \
                         day, content, minutes, rating, correction) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&s.number)
                    .bind(line)
                    .bind(l.member.person)
                    .bind(&l.member.name)
                    .bind(&l.member.post)
                    .bind(service.map(|s| s.day.as_str()))
                    .bind(service.map(|s| s.content.as_str()))
                    .bind(service.map_or(l.minutes, |s| s.minutes))
                    .bind(service.and_then(|s| s.rating))
                    .bind(service.is_some_and(|s| s.correction))
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                    line += 1;
                }
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(())
        })
    }

    /// A signed sheet by its number, as it was signed (names as erasure left them).
    pub async fn feedback_sheet(&self, number: &str) -> Result<Option<SignedSheet>, StoreError> {
        with_reader!(self, pool, {
            let Some(r) = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM feedback_sheets WHERE number = $1"
            ))
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?
            else {
                return Ok(None);
            };
            let lines = sqlx::query(
                "SELECT person_id, name, post, day, content, minutes, rating, correction \
                 FROM feedback_lines WHERE sheet_number = $1 ORDER BY line",
            )
            .bind(number)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let work_unit: String = r.try_get(3).map_err(from_sqlx)?;
            let (mut members, mut services) = (Vec::new(), Vec::new());
            for l in &lines {
                let day: Option<String> = l.try_get(3).map_err(from_sqlx)?;
                let person: Uuid = l.try_get(0).map_err(from_sqlx)?;
                match day {
                    None => members.push(Reported {
                        person,
                        name: l.try_get(1).map_err(from_sqlx)?,
                        work_unit: work_unit.clone(),
                        post: l.try_get(2).map_err(from_sqlx)?,
                    }),
                    Some(day) => services.push(Service {
                        person,
                        day,
                        content: l
                            .try_get::<Option<String>, _>(4)
                            .map_err(from_sqlx)?
                            .unwrap_or_default(),
                        minutes: l.try_get(5).map_err(from_sqlx)?,
                        rating: l.try_get(6).map_err(from_sqlx)?,
                        correction: l.try_get(7).map_err(from_sqlx)?,
                    }),
                }
            }
            let sheet = sheets(&members, &services)
                .into_iter()
                .next()
                .unwrap_or(Sheet {
                    work_unit,
                    lines: Vec::new(),
                    minutes: 0,
                    services: 0,
                });
            Ok(Some(SignedSheet {
                number: r.try_get(0).map_err(from_sqlx)?,
                check_code: r.try_get(1).map_err(from_sqlx)?,
                community_id: r.try_get(2).map_err(from_sqlx)?,
                from_day: r.try_get(4).map_err(from_sqlx)?,
                to_day: r.try_get(5).map_err(from_sqlx)?,
                remark: r.try_get(6).map_err(from_sqlx)?,
                issuer: r.try_get(9).map_err(from_sqlx)?,
                signed_by: r.try_get(10).map_err(from_sqlx)?,
                signed_at: from_us(r.try_get(11).map_err(from_sqlx)?),
                sheet,
            }))
        })
    }

    /// The signed sheets of a community whose period lies within `[from_day, to_day]`, as
    /// (number, work unit, from, to, signed at): which of the period's sheets are frozen.
    pub async fn signed_sheets(
        &self,
        community: Uuid,
        from_day: &str,
        to_day: &str,
    ) -> Result<Vec<(String, String, String, String, Timestamp)>, StoreError> {
        with_reader!(self, pool, {
            let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
                "SELECT number, work_unit, from_day, to_day, signed_at_us FROM feedback_sheets \
                 WHERE community_id = $1 AND from_day >= $2 AND to_day <= $3 \
                 ORDER BY work_unit, from_day",
            )
            .bind(community)
            .bind(from_day)
            .bind(to_day)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(rows
                .into_iter()
                .map(|(n, u, f, t, at)| (n, u, f, t, from_us(at)))
                .collect())
        })
    }
}
