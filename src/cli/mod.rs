//! The commands of the `linli` binary, and what they share: the database flags.

pub mod admin;
pub mod bench;
pub mod check;
pub mod data;
pub mod migrate_tickets;
pub mod progress;
pub mod serve;
pub mod workflows;

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use linli::workflows::Origin;
use workflow_core::Catalog;

#[derive(Args, Clone, Debug)]
pub struct Database {
    /// `sqlite://FILE` (created on first start) or `postgres://…`.
    #[arg(long, env = "LINLI_DATABASE_URL", default_value = "sqlite://linli.db")]
    pub database_url: String,
    /// SQLite `synchronous`: full survives power loss after every commit; normal is faster
    /// and survives a process crash.
    #[arg(long, env = "LINLI_SQLITE_SYNCHRONOUS", value_enum, default_value_t = Synchronous::Full)]
    pub sqlite_synchronous: Synchronous,
    /// How long a request waits on the database before it is answered 503 (`5s`, `1500ms`):
    /// a partitioned network or a stalled disk is not waited on for ever.
    #[arg(long, env = "LINLI_DATABASE_TIMEOUT", default_value = "5s", value_parser = parse_timeout)]
    pub database_timeout: std::time::Duration,
}

/// A positive duration such as `5s`, `1500ms` or `1m`.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let d: jiff::SignedDuration = text
        .parse()
        .map_err(|e| format!("{text:?} is not a duration like 5s or 1500ms: {e}"))?;
    std::time::Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{text:?}: the timeout must be more than zero"))
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Synchronous {
    Full,
    Normal,
}

impl Database {
    /// The store's options these flags give.
    pub fn options(&self) -> storage::Options {
        storage::Options {
            durability: match self.sqlite_synchronous {
                Synchronous::Full => storage::Durability::Full,
                Synchronous::Normal => storage::Durability::Normal,
            },
            timeout: self.database_timeout,
            ..storage::Options::new(&self.database_url)
        }
    }

    /// The store alone, for commands that need no Engine.
    pub async fn connect(&self) -> anyhow::Result<storage::SqlStore> {
        storage::connect(&self.options())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", self.database_url))
    }
}

/// Which workflows a command runs with.
#[derive(Args, Clone, Debug, Default)]
pub struct Workflows {
    /// A directory of workflow files to use instead of the built-in ones
    /// (`linli workflows export DIR` writes the built-in ones out to start from).
    #[arg(long = "workflows", env = "LINLI_WORKFLOWS")]
    pub dir: Option<PathBuf>,
}

impl Workflows {
    pub fn origin(&self) -> Origin {
        Origin::new(self.dir.clone())
    }

    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        self.origin().catalog()
    }
}
