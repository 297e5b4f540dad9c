//! `linli`: the composition root. Parses the command line and wires the crates together.

mod check;
mod workflows;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
    /// Load and validate every workflow file in a directory.
    Check {
        /// The workflows directory.
        #[arg(default_value = "workflows", env = "LINLI_WORKFLOWS")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { dir } => check::run(&dir),
    }
}
