//! 志愿服务证明 as issued: written once, read by its holder and office, verified by anyone
//! with its number and check code. Never updated but for an erasure's name.

use jiff::Timestamp;
use sqlx::Row;
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub number: String,
    pub check_code: String,
    pub person_id: Uuid,
    pub community_id: Uuid,
    pub name: String,
    pub id_kind: String,
    pub id_last4: String,
    /// The period, as civil dates `YYYY-MM-DD` (the end inclusive).
    pub from_day: String,
    pub to_day: String,
    pub minutes: i64,
    pub services: i64,
    pub issuer: String,
    pub handler_id: Uuid,
    pub issued_at: Timestamp,
    /// 负责人, 联系方式 and 经办人 as they were at issue (none for a certificate issued before
    /// they were kept, or where the directory names no one).
    pub person_in_charge: Option<String>,
    pub contact: Option<String>,
    pub handler_name: Option<String>,
    /// The volunteer's number on a volunteer platform, as they gave it.
    pub volunteer_number: Option<String>,
}

const COLUMNS: &str = "number, check_code, person_id, community_id, name, id_kind, id_last4, \
                       from_day, to_day, minutes, services, issuer, handler_id, issued_at_us, \
                       person_in_charge, contact, handler_name, volunteer_number";

impl SqlStore {
    pub async fn issue_certificate(&self, c: &Certificate) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(&format!(
                "INSERT INTO certificates ({COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
            ))
            .bind(&c.number)
            .bind(&c.check_code)
            .bind(c.person_id)
            .bind(c.community_id)
            .bind(&c.name)
            .bind(&c.id_kind)
            .bind(&c.id_last4)
            .bind(&c.from_day)
            .bind(&c.to_day)
            .bind(c.minutes)
            .bind(c.services)
            .bind(&c.issuer)
            .bind(c.handler_id)
            .bind(us(c.issued_at))
            .bind(&c.person_in_charge)
            .bind(&c.contact)
            .bind(&c.handler_name)
            .bind(&c.volunteer_number)
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(from_sqlx)
        })
    }

    pub async fn certificate(&self, number: &str) -> Result<Option<Certificate>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM certificates WHERE number = $1"
            ))
            .bind(number)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.map(|r| -> Result<Certificate, sqlx::Error> {
                Ok(Certificate {
                    number: r.try_get(0)?,
                    check_code: r.try_get(1)?,
                    person_id: r.try_get(2)?,
                    community_id: r.try_get(3)?,
                    name: r.try_get(4)?,
                    id_kind: r.try_get(5)?,
                    id_last4: r.try_get(6)?,
                    from_day: r.try_get(7)?,
                    to_day: r.try_get(8)?,
                    minutes: r.try_get(9)?,
                    services: r.try_get(10)?,
                    issuer: r.try_get(11)?,
                    handler_id: r.try_get(12)?,
                    issued_at: from_us(r.try_get(13)?),
                    person_in_charge: r.try_get(14)?,
                    contact: r.try_get(15)?,
                    handler_name: r.try_get(16)?,
                    volunteer_number: r.try_get(17)?,
                })
            })
            .transpose()
            .map_err(from_sqlx)
        })
    }
}
