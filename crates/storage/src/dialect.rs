//! What differs in the text of shared SQL between the backends, named once. Each backend's
//! module holds its own ([`crate::sqlite::DIALECT`], [`crate::postgres::DIALECT`]); shared
//! code asks [`crate::SqlStore::dialect`] and never which backend it runs on.

use sqlx::{ColumnIndex, Decode, Row, Type};

pub(crate) struct Dialect {
    /// The prefix that asks for a query's plan without running it.
    pub explain: &'static str,
    /// The prefix that asks for the plan with the rows and pages each step read (PostgreSQL
    /// runs the query for it; SQLite has only the plan).
    pub explain_analyze: &'static str,
    /// The column of an explain's rows that holds the plan's text.
    pub plan_column: usize,
    /// A text field `key` of the JSON held in the text column `column`.
    pub json_text: fn(column: &str, key: &str) -> String,
    /// An integer field `key` of the JSON held in the text column `column`.
    pub json_int: fn(column: &str, key: &str) -> String,
    /// What a claim's subquery adds to take the rows it picks: PostgreSQL skips rows another
    /// node is claiming at that moment (`FOR UPDATE SKIP LOCKED`); SQLite has one writer, so
    /// its plain `UPDATE` is already exclusive.
    pub claim_lock: &'static str,
    /// The columns of the timers' primary key, which an upsert names: PostgreSQL's carries the
    /// community (migration 0026, so that a table partitioned by community can hold it);
    /// SQLite's is the ticket and the key.
    pub timers_key: &'static str,
    /// Whether statements name the community of the requests they read where the rule of a
    /// scope knows it but its condition does not ([`crate::scope::push_partition`]): on
    /// PostgreSQL, whose tables a sharded deployment partitions by community; not on SQLite,
    /// whose planner would take the condition for a reason to prefer another index.
    pub names_partition: bool,
}

impl Dialect {
    /// Where statements name the community ([`Dialect::names_partition`]), what a join of
    /// two request tables adds so that it is on the community as well: the rule of a database
    /// partitioned or sharded by community, whose join then stays in one partition.
    pub fn same_community(&self, a: &str, b: &str) -> String {
        if self.names_partition {
            format!(" AND {a}.community_id = {b}.community_id")
        } else {
            String::new()
        }
    }

    /// The plan an explain's rows hold, one line a row.
    pub fn plan_text<'r, R: Row>(&self, rows: &'r [R]) -> Result<String, sqlx::Error>
    where
        usize: ColumnIndex<R>,
        String: Decode<'r, R::Database> + Type<R::Database>,
    {
        let lines: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String, _>(self.plan_column))
            .collect::<Result<_, _>>()?;
        Ok(lines.join("\n"))
    }
}
