//! The storage limit: what the database itself does, with none of Linli's work, so that a
//! benchmark can print its own rate as a share of it (measured in the same run, on the same
//! database and durability setting: the machine's noise cancels).

use std::time::{Duration, Instant};

use uuid::Uuid;
use workflow_core::store::StoreError;

use crate::SqlStore;
use crate::error::from_sqlx;

const CREATE_ROWS: &str =
    "CREATE TABLE IF NOT EXISTS limit_rows (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)";
const SEED_ROW: &str = "INSERT INTO limit_rows VALUES ($1, 0) ON CONFLICT DO NOTHING";
const UPDATE_ROW: &str = "UPDATE limit_rows SET n = n + 1 WHERE id = $1";
const INSERT_LOG: &str = "INSERT INTO limit_log VALUES ($1, $2, $3)";

/// Raw write transactions per second for `budget`: each updates one row and inserts one (a
/// transition's smallest shape), through the same driver, by `writers` concurrent writers,
/// each on its own row so that they never wait on a lock. The tables it writes
/// (`limit_rows`, `limit_log`) are its own; run it on a scratch database.
pub async fn raw_write_rate(
    store: &SqlStore,
    writers: usize,
    budget: Duration,
) -> Result<f64, StoreError> {
    macro_rules! run {
        ($pool:expr, $uuid_type:literal) => {{
            let pool = $pool.clone();
            sqlx::query(CREATE_ROWS)
                .execute(&pool)
                .await
                .map_err(from_sqlx)?;
            let log = concat!(
                "CREATE TABLE IF NOT EXISTS limit_log (id ",
                $uuid_type,
                " PRIMARY KEY, row_id BIGINT, at_us BIGINT)"
            );
            sqlx::query(log).execute(&pool).await.map_err(from_sqlx)?;
            for row in 0..writers as i64 {
                sqlx::query(SEED_ROW)
                    .bind(row)
                    .execute(&pool)
                    .await
                    .map_err(from_sqlx)?;
            }
            let start = Instant::now();
            let tasks: Vec<_> = (0..writers as i64)
                .map(|row| {
                    let pool = pool.clone();
                    tokio::spawn(async move {
                        let mut n = 0u64;
                        while start.elapsed() < budget {
                            let mut tx = pool.begin().await?;
                            sqlx::query(UPDATE_ROW).bind(row).execute(&mut *tx).await?;
                            sqlx::query(INSERT_LOG)
                                .bind(Uuid::now_v7())
                                .bind(row)
                                .bind(n as i64)
                                .execute(&mut *tx)
                                .await?;
                            tx.commit().await?;
                            n += 1;
                        }
                        Ok::<u64, sqlx::Error>(n)
                    })
                })
                .collect();
            let mut n = 0;
            for t in tasks {
                n += t
                    .await
                    .map_err(|e| StoreError::Other(e.to_string()))?
                    .map_err(from_sqlx)?;
            }
            Ok(n as f64 / start.elapsed().as_secs_f64())
        }};
    }
    match (store.pg_pool(), store.sqlite_pool()) {
        (Some(pg), _) => run!(pg, "UUID"),
        (None, Some(lite)) => run!(lite, "BLOB"),
        (None, None) => unreachable!("a store has one backend"),
    }
}
