//! `linli`: the command line. Each command is a module of [`cli`]; what they build a server
//! from is the library's composition root (`linli::app`).

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::{admin, bench, check, data, migrate_tickets, serve, workflows};

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
    Migrate(cli::Database),
    /// Load and validate the workflows: a directory's, or the built-in ones.
    Check {
        /// The workflows directory (without it, the built-in workflows).
        #[arg(env = "LINLI_WORKFLOWS")]
        dir: Option<PathBuf>,
    },
    /// The built-in workflows: `export DIR` writes them out to start from.
    Workflows(workflows::WorkflowsArgs),
    /// Directory administration: the first admin, users and their tokens.
    Admin(admin::AdminArgs),
    /// Move open requests to a newer workflow version by a plan (a dry run unless --apply).
    MigrateTickets(migrate_tickets::MigrateArgs),
    /// A consistent copy of the database (SQLite) while the server runs, checked.
    Backup(data::BackupArgs),
    /// A backup put into an empty database, migrated forward and checked.
    Restore(data::RestoreArgs),
    /// Check a database: the file, the migrations, every ticket against its events, the
    /// ledger against the credits; exit 1 on any problem.
    Verify(data::VerifyArgs),
    /// Benchmarks that need the whole program (see docs/PERFORMANCE.md).
    Bench(bench::BenchArgs),
}

// glibc's malloc was a third of this process's CPU under `linli bench engine` (a transition
// allocates its decision, the ticket's JSON and the statement's arrays, often freed on
// another thread); with mimalloc the Engine on SQLite runs 13% faster (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { dir } => check::run(&linli::workflows::Origin::new(dir)),
        Command::Workflows(args) => match workflows::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(args) => run_async(serve::run(args)),
        Command::Migrate(db) => run_async(async move {
            db.connect().await?.close().await;
            println!("database schema is up to date");
            Ok(())
        }),
        Command::Admin(args) => run_async(admin::run(args)),
        Command::MigrateTickets(args) => run_async(migrate_tickets::run(args)),
        Command::Bench(args) => run_async(bench::run(args)),
        Command::Backup(args) => run_async(data::backup(args)),
        Command::Restore(args) => run_async(data::restore(args)),
        Command::Verify(args) => run_async(data::verify(args)),
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
