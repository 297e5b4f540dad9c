//! The references a directory write holds, checked before it is written: a `community_id`
//! must name a community, a branch, building, partner unit, team leader or member must be
//! of that community. Foreign keys catch a dangling id where the schema has one; these
//! checks also catch an id of the wrong kind or of another community, and name the field.
//!
//! Read before the write rather than inside its transaction: directory rows are never
//! deleted (people are disabled, units stay), so what a check saw still holds at commit.

use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::SqlStore;
use crate::error::from_sqlx;

/// What a reference must name.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Must {
    Community,
    Street,
    /// A building of the community.
    Building,
    /// A compound or building of the community (a branch's area).
    Area,
    BranchOf,
    PersonOf,
    PartnerUnitOf,
}

impl Must {
    /// The query that finds a row of the right kind: `$1` the id, `$2` the community.
    fn sql(self) -> &'static str {
        match self {
            Must::Community => "SELECT 1 FROM org_units WHERE id = $1 AND kind = 'community'",
            Must::Street => "SELECT 1 FROM org_units WHERE id = $1 AND kind = 'street'",
            Must::Building => {
                "SELECT 1 FROM org_units WHERE id = $1 AND kind = 'building' AND community_id = $2"
            }
            Must::Area => {
                "SELECT 1 FROM org_units WHERE id = $1 AND kind IN ('compound', 'building') \
                 AND community_id = $2"
            }
            Must::BranchOf => "SELECT 1 FROM branches WHERE id = $1 AND community_id = $2",
            Must::PersonOf => "SELECT 1 FROM people WHERE id = $1 AND community_id = $2",
            Must::PartnerUnitOf => {
                "SELECT 1 FROM partner_units WHERE id = $1 AND community_id = $2"
            }
        }
    }

    fn what(self) -> &'static str {
        match self {
            Must::Community => "a community",
            Must::Street => "a street",
            Must::Building => "a building of this community",
            Must::Area => "a compound or building of this community",
            Must::BranchOf => "a branch of this community",
            Must::PersonOf => "a person of this community",
            Must::PartnerUnitOf => "a partner unit of this community",
        }
    }
}

impl SqlStore {
    /// Every `(field, id, must)` names what it must within `community`; the first that does
    /// not is the error.
    pub(crate) async fn check_references(
        &self,
        community: Option<Uuid>,
        refs: &[(&'static str, Uuid, Must)],
    ) -> Result<(), StoreError> {
        for &(field, id, must) in refs {
            let found = with_reader!(self, pool, {
                let query = sqlx::query(must.sql()).bind(id);
                // PostgreSQL refuses a parameter its statement does not use.
                let query = match must {
                    Must::Community | Must::Street => query,
                    _ => query.bind(community),
                };
                query
                    .fetch_optional(pool)
                    .await
                    .map_err(from_sqlx)?
                    .is_some()
            });
            if !found {
                return Err(StoreError::InvalidReference {
                    field,
                    detail: format!("{id} is not {}", must.what()),
                });
            }
        }
        Ok(())
    }
}
