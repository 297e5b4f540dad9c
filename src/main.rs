//! `linli`: the composition root. Parses the command line and wires the crates together.

mod admin;
mod bench;
mod check;
mod migrate_tickets;
mod serve;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "linli",
    version,
    about = "邻里 Linli: 居民点单 → 支部派单 → 党员接单"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and run the timer worker.
    Serve(serve::ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(Database),
    /// Load and validate every workflow file in a directory.
    Check {
        /// The workflows directory.
        #[arg(default_value = "workflows", env = "LINLI_WORKFLOWS")]
        dir: PathBuf,
    },
    /// Directory administration: the first admin, users and their tokens.
    Admin(admin::AdminArgs),
    /// Move open requests to a newer workflow version by a plan (a dry run unless --apply).
    MigrateTickets(migrate_tickets::MigrateArgs),
    /// Benchmarks that need the whole program (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
}

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
    pub async fn connect(&self) -> anyhow::Result<storage::SqlStore> {
        let mut options = storage::Options::new(&self.database_url);
        options.durability = match self.sqlite_synchronous {
            Synchronous::Full => storage::Durability::Full,
            Synchronous::Normal => storage::Durability::Normal,
        };
        options.timeout = self.database_timeout;
        storage::connect(&options)
            .await
            .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", self.database_url))
    }
}

// glibc's malloc was a third of this process's CPU under `linli bench engine` (a transition
// allocates its decision, the ticket's JSON and the statement's arrays, often freed on
// another thread); with mimalloc the Engine on SQLite runs 13% faster (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { dir } => check::run(&dir),
        Command::Serve(args) => run_async(serve::run(args)),
        Command::Migrate(db) => run_async(async move {
            db.connect().await?.close().await;
            println!("database schema is up to date");
            Ok(())
        }),
        Command::Admin(args) => run_async(admin::run(args)),
        Command::MigrateTickets(args) => run_async(migrate_tickets::run(args)),
        Command::Bench(args) => run_async(bench::run(args)),
    }
}

fn run_async(f: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    match runtime
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(f))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
