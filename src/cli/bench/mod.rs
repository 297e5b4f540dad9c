//! `linli bench …`: the benchmarks that need the whole program. `engine` walks lifecycles
//! in-process through the Engine (the rate the peers are compared to); `http` walks them
//! over HTTP against a `linli serve` of its own, and compares the two.

mod client;
mod cpu;
mod district;
mod engine;
mod flow;
mod http;
mod latency;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use storage::demo::DemoUser;
use uuid::Uuid;

use super::{Database, Synchronous};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand, Debug)]
enum Which {
    /// Whole lifecycles through the Engine in this process: lifecycles/s.
    Engine(engine::EngineArgs),
    /// Whole lifecycles over HTTP against a `linli serve` started for the run: lifecycles/s,
    /// latency per action, errors by code, and the server's CPU per lifecycle against the
    /// Engine's in-process.
    Http(http::HttpArgs),
    /// A street's year on a virtual clock: residents, secretaries and volunteers acting on
    /// their requests through the Engine, timers firing, escalations; checked at the end,
    /// with its speed against the database's raw write limit.
    District(district::DistrictArgs),
}

/// What every benchmark run is given.
#[derive(Args, Clone, Debug)]
pub struct Common {
    /// `sqlite` (a fresh file in a temporary folder) or a PostgreSQL server URL (a fresh
    /// database is created on it for the run and dropped afterwards).
    #[arg(long, default_value = "sqlite")]
    pub database: String,
    /// SQLite `synchronous` for the run's database.
    #[arg(long, value_enum, default_value_t = Synchronous::Full)]
    pub sqlite_synchronous: Synchronous,
    /// Concurrent callers (virtual users), each walking lifecycles one after another.
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Length of each measurement.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    #[command(flatten)]
    pub workflows: super::Workflows,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.which {
        Which::Engine(a) => engine::run(a).await,
        Which::Http(a) => http::run(a).await,
        Which::District(a) => district::run(a).await,
    }
}

/// How group commit went: its batches, their size, and the writes written alone.
fn group_commit(w: &storage::WriterStats) -> String {
    format!(
        "{} batches of {:.1} writes on average, {} writes alone, {} batches reread",
        w.batches,
        w.batched as f64 / w.batches.max(1) as f64,
        w.alone,
        w.reread
    )
}

/// The run's own database, removed when the run ends.
pub struct Scratch {
    pub db: Database,
    place: Place,
}

enum Place {
    Folder(PathBuf),
    Postgres { server: String, name: String },
}

impl Scratch {
    /// A fresh database on `database` (`sqlite` or a PostgreSQL server URL).
    pub async fn new(database: &str, synchronous: Synchronous) -> anyhow::Result<Scratch> {
        let tag = Uuid::now_v7().simple().to_string();
        let (url, place) = if database == "sqlite" {
            let dir = std::env::temp_dir().join(format!("linli-bench-{tag}"));
            std::fs::create_dir_all(&dir)?;
            let url = format!("sqlite://{}/linli.db", dir.display());
            (url, Place::Folder(dir))
        } else {
            let name = format!("linli_bench_{tag}");
            let url = storage::create_database(database, &name)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create a database on the server: {e}"))?;
            let server = database.to_owned();
            (url, Place::Postgres { server, name })
        };
        Ok(Scratch {
            db: Database {
                database_url: url,
                sqlite_synchronous: synchronous,
                database_timeout: storage::DEFAULT_TIMEOUT,
            },
            place,
        })
    }

    /// The run's store as `linli serve` runs it without a webhook (the server the HTTP
    /// benchmark starts): its messages are written delivered.
    pub async fn connect(&self) -> anyhow::Result<storage::SqlStore> {
        let store = self.db.connect().await?;
        store.set_outbox_delivery(storage::OutboxDelivery::nobody());
        Ok(store)
    }

    pub fn label(&self) -> String {
        match (&self.place, self.db.sqlite_synchronous) {
            (Place::Postgres { .. }, _) => "PostgreSQL".into(),
            (Place::Folder(_), Synchronous::Full) => "SQLite FULL".into(),
            (Place::Folder(_), Synchronous::Normal) => "SQLite NORMAL".into(),
        }
    }

    pub async fn remove(self) {
        match self.place {
            Place::Folder(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Place::Postgres { server, name } => {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(&drop).execute(&mut admin).await;
                }
            }
        }
    }
}

/// One of each person who takes part in a lifecycle.
#[derive(Clone)]
pub struct ByWho<T> {
    pub resident: T,
    pub secretary: T,
    pub member: T,
}

impl<T> ByWho<T> {
    pub fn who(&self, who: flow::Who) -> &T {
        match who {
            flow::Who::Resident => &self.resident,
            flow::Who::Secretary => &self.secretary,
            flow::Who::Member => &self.member,
        }
    }
}

/// The demo's resident, branch secretary and volunteer, each with a fresh token.
pub type People = ByWho<DemoUser>;

impl People {
    pub async fn seed(store: &storage::SqlStore) -> anyhow::Result<People> {
        let demo = storage::demo::seed(store)
            .await
            .context("seeding the demo community")?;
        Ok(People {
            resident: demo.user("resident").clone(),
            secretary: demo.user("secretary").clone(),
            member: demo.user("member").clone(),
        })
    }
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "FAIL" }
}
