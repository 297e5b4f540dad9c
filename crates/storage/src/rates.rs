//! A workflow's rates (三率: 响应率, 解决率, 满意率; 及时率, 回访率), as its file defines them
//! ([`workflow_core::definition::RateDef`]), counted in SQL over the tickets of a unit asked
//! for in a period.

use serde::Serialize;
use sqlx::{Database, Encode, QueryBuilder, Row, Type};
use workflow_core::definition::{Condition, RateDef};
use workflow_core::store::StoreError;

use crate::SqlStore;
use crate::dialect::Dialect;
use crate::error::from_sqlx;
use crate::reports::{Period, Unit, push_cohort};

/// One rate's counts: of `denominator` tickets, `numerator` met its condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateCount {
    pub name: String,
    pub numerator: i64,
    pub denominator: i64,
}

/// `EXISTS (…)`: the ticket `t` has an event meeting `c`.
fn push_exists<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, c: &'a Condition, d: &Dialect)
where
    &'a str: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
    q.push(format!(
        "EXISTS (SELECT 1 FROM events e WHERE e.ticket_id = t.id{} AND e.kind IN (",
        d.same_community("e", "t")
    ));
    let mut list = q.separated(", ");
    for e in &c.events {
        list.push_bind(e.as_str());
    }
    q.push(")");
    if let Some(clock) = &c.clock {
        q.push(format!(" AND {} = ", (d.json_text)("e.body", "clock")))
            .push_bind(clock.as_str());
        if c.on_time {
            q.push(format!(
                " AND {} <= 0",
                (d.json_int)("e.body", "overrun_secs")
            ));
        }
    }
    if let Some(r) = c.rating_at_least {
        q.push(format!(" AND {} >= ", (d.json_int)("e.body", "rating")))
            .push_bind(i64::from(r));
    }
    q.push(")");
}

impl SqlStore {
    /// Each rate of `workflow` over the tickets of `unit` asked for in `period`.
    pub async fn rates(
        &self,
        workflow: &str,
        rates: &[RateDef],
        unit: Unit,
        period: Period,
    ) -> Result<Vec<RateCount>, StoreError> {
        let dialect = self.dialect();
        let mut out = Vec::with_capacity(rates.len());
        for rate in rates {
            let (denominator, numerator): (i64, i64) = with_reader!(self, pool, {
                let mut q = QueryBuilder::new("SELECT ");
                match &rate.of {
                    None => {
                        q.push("COUNT(*), COALESCE(SUM(CASE WHEN ");
                    }
                    Some(of) => {
                        q.push("COALESCE(SUM(CASE WHEN ");
                        push_exists(&mut q, of, dialect);
                        q.push(" THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN ");
                        push_exists(&mut q, of, dialect);
                        q.push(" AND ");
                    }
                }
                push_exists(&mut q, &rate.count, dialect);
                q.push(" THEN 1 ELSE 0 END), 0) FROM tickets t WHERE t.workflow_id = ")
                    .push_bind(workflow)
                    .push(" AND ");
                push_cohort(&mut q, unit, period.from, period.to);
                let row = q.build().fetch_one(pool).await.map_err(from_sqlx)?;
                (
                    row.try_get(0).map_err(from_sqlx)?,
                    row.try_get(1).map_err(from_sqlx)?,
                )
            });
            out.push(RateCount {
                name: rate.name.clone(),
                numerator,
                denominator,
            });
        }
        Ok(out)
    }
}
