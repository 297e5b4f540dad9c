//! Photos on a request: the resident's when asking, the handler's before and after the work.
//! The bytes live in the database beside the ticket (one backup holds both); who may add or
//! see one is the HTTP layer's question, answered by the ticket's visibility.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

#[derive(Clone, Debug)]
pub struct NewPhoto {
    pub ticket_id: Uuid,
    pub community_id: Uuid,
    /// `request`, `before` or `after`.
    pub stage: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub uploaded_by: Uuid,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PhotoInfo {
    pub id: Uuid,
    pub stage: String,
    pub content_type: String,
    pub size: i64,
    pub uploaded_by: Uuid,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "id, stage, content_type, size, uploaded_by, created_at_us";

/// A [`PhotoInfo`] from a row of [`COLUMNS`], on either backend.
fn photo_info<'r, R: Row>(r: &'r R) -> Result<PhotoInfo, sqlx::Error>
where
    usize: ColumnIndex<R>,
    Uuid: Decode<'r, R::Database> + Type<R::Database>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(PhotoInfo {
        id: r.try_get(0)?,
        stage: r.try_get(1)?,
        content_type: r.try_get(2)?,
        size: i64::from(r.try_get::<i32, _>(3)?),
        uploaded_by: r.try_get(4)?,
        created_at: from_us(r.try_get(5)?),
    })
}

impl SqlStore {
    /// Adds a photo unless the ticket already has `max` of them; `None` when it is full.
    pub async fn add_photo(&self, p: &NewPhoto, max: i64) -> Result<Option<Uuid>, StoreError> {
        let id = Uuid::now_v7();
        with_pool!(self, pool, {
            // One statement: the count and the insert cannot be split by another writer.
            let r = sqlx::query(
                "INSERT INTO photos (id, ticket_id, community_id, stage, content_type, size, bytes, \
                 uploaded_by, created_at_us) \
                 SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9 \
                 WHERE (SELECT COUNT(*) FROM photos WHERE ticket_id = $2) < $10",
            )
            .bind(id)
            .bind(p.ticket_id)
            .bind(p.community_id)
            .bind(&p.stage)
            .bind(&p.content_type)
            .bind(p.bytes.len() as i32)
            .bind(&p.bytes)
            .bind(p.uploaded_by)
            .bind(us(p.at))
            .bind(max)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok((r.rows_affected() == 1).then_some(id))
        })
    }

    /// A ticket's photos, oldest first, without their bytes.
    pub async fn photos(&self, ticket_id: Uuid) -> Result<Vec<PhotoInfo>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(&format!(
                "SELECT {COLUMNS} FROM photos WHERE ticket_id = $1 ORDER BY created_at_us, id"
            ))
            .bind(ticket_id)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(photo_info)
                .collect::<Result<_, _>>()
                .map_err(from_sqlx)
        })
    }

    /// One photo of a ticket, with its bytes.
    pub async fn photo(
        &self,
        ticket_id: Uuid,
        id: Uuid,
    ) -> Result<Option<(PhotoInfo, Vec<u8>)>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(&format!(
                "SELECT {COLUMNS}, bytes FROM photos WHERE ticket_id = $1 AND id = $2"
            ))
            .bind(ticket_id)
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            row.map(|r| Ok((photo_info(&r)?, r.try_get(6)?)))
                .transpose()
                .map_err(from_sqlx)
        })
    }
}
