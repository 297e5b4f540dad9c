//! Access records: who did what to whose data, when, from where (PIPL art. 56). Appended,
//! never changed: no statement here or anywhere updates or deletes a row of `audit`. Full
//! reads of a contact are recorded apart (`contact_reads`, written with the read) and listed
//! with the rest.

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// One record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: Timestamp,
    /// `sign_in`, `sign_in_failed`, `export`, `erase`, `refused`, `contact_read`, …
    pub kind: String,
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub community: Option<Uuid>,
    pub detail: String,
    /// The request it happened on (a contact read).
    pub ticket: Option<Uuid>,
    pub request_id: Option<String>,
    pub address: Option<String>,
}

/// Which records to list.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Done by this person, or about them.
    pub person: Option<Uuid>,
    /// About this object (a person, a request).
    pub subject: Option<Uuid>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only of the communities of this street (a street office's view).
    pub street: Option<Uuid>,
    pub limit: u32,
}

impl SqlStore {
    pub async fn record(&self, r: &AuditRecord) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO audit (id, at_us, kind, actor_id, subject_id, community_id, detail, request_id, address) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(Uuid::now_v7())
            .bind(us(r.at))
            .bind(&r.kind)
            .bind(r.actor)
            .bind(r.subject)
            .bind(r.community)
            .bind(&r.detail)
            .bind(&r.request_id)
            .bind(&r.address)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(())
        })
    }

    /// Records by `filter`, newest first: the audit's own and the contact reads.
    pub async fn audit(&self, f: &AuditFilter) -> Result<Vec<AuditRecord>, StoreError> {
        // One statement over both tables; the filters as bound parameters, never spliced.
        let sql = "SELECT at_us, kind, actor_id, subject_id, community_id, detail, ticket_id, request_id, address FROM ( \
              SELECT at_us, kind, actor_id, subject_id, community_id, detail, NULL AS ticket_id, request_id, address FROM audit \
              UNION ALL \
              SELECT at_us, 'contact_read', reader_id, person_id, community_id, '', ticket_id, NULL, NULL FROM contact_reads \
            ) a WHERE ($1 IS NULL OR actor_id = $1 OR subject_id = $1) \
              AND ($2 IS NULL OR subject_id = $2 OR ticket_id = $2) \
              AND ($3 IS NULL OR at_us >= $3) AND ($4 IS NULL OR at_us < $4) \
              AND ($5 IS NULL OR community_id IN (SELECT id FROM org_units WHERE kind = 'community' AND parent_id = $5)) \
            ORDER BY at_us DESC LIMIT $6";
        let rows: Vec<AuditRow> = with_reader!(self, pool, {
            sqlx::query_as(sql)
                .bind(f.person)
                .bind(f.subject)
                .bind(f.from.map(us))
                .bind(f.to.map(us))
                .bind(f.street)
                .bind(i64::from(f.limit.clamp(1, 10_000)))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        Ok(rows
            .into_iter()
            .map(
                |(at, kind, actor, subject, community, detail, ticket, request_id, address)| {
                    AuditRecord {
                        at: from_us(at),
                        kind,
                        actor,
                        subject,
                        community,
                        detail,
                        ticket,
                        request_id,
                        address,
                    }
                },
            )
            .collect())
    }
}

type AuditRow = (
    i64,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<Uuid>,
    String,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);
