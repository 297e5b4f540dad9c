//! The people who call the city hotline (12345): a work order names its caller by name and
//! phone; the ticket's requester is that person of the community, found by the number or
//! registered as a resident (with no home on record: the order says where).

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::store::StoreError;

use super::roles_text;
use super::write::{PersonWrite, Write, push_write};
use crate::error::from_sqlx;
use crate::{SqlStore, us};

impl SqlStore {
    /// The person of `community` with this phone number (the oldest record, if several), or
    /// a resident registered now under `name` in `branch`. Two orders from a new caller at
    /// once may register them twice; the office merges such records as it would any.
    pub async fn hotline_caller(
        &self,
        community: Uuid,
        branch: Uuid,
        name: &str,
        phone: &str,
        at: Timestamp,
    ) -> Result<Uuid, StoreError> {
        let known: Option<Uuid> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT id FROM people WHERE community_id = $1 AND phone = $2 AND active \
                 ORDER BY id LIMIT 1",
            )
            .bind(community)
            .bind(phone)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?
        });
        if let Some(id) = known {
            return Ok(id);
        }
        let id = Uuid::now_v7();
        let new = Write::Person(Box::new(PersonWrite {
            new: true,
            id,
            community: Some(community),
            street: None,
            branch: Some(branch),
            name: name.to_owned(),
            phone: Some(phone.to_owned()),
            roles: roles_text(&[Role::Resident]),
            home: None,
            skills: Vec::new(),
            max_open: 5,
            away: None,
            partner: None,
            active: true,
        }));
        with_pool!(self, pool, {
            let mut q = sqlx::QueryBuilder::new("");
            push_write(&mut q, &new, us(at));
            q.build().execute(pool).await.map_err(from_sqlx)?;
        });
        Ok(id)
    }
}
