//! `linli workflows export DIR`: the built-in workflow files written out, to start a
//! directory of one's own from (served with `--workflows DIR`).

use std::path::PathBuf;

use clap::{Args, Subcommand};

#[derive(Args, Debug)]
pub struct WorkflowsArgs {
    #[command(subcommand)]
    command: WorkflowsCommand,
}

#[derive(Subcommand, Debug)]
enum WorkflowsCommand {
    /// Write the built-in workflow files into DIR (created if need be).
    Export {
        dir: PathBuf,
        /// Replace files of the same names already there.
        #[arg(long)]
        force: bool,
    },
}

pub fn run(args: WorkflowsArgs) -> anyhow::Result<()> {
    match args.command {
        WorkflowsCommand::Export { dir, force } => {
            for path in linli::workflows::export(&dir, force)? {
                println!("{}", path.display());
            }
            println!("serve them with: linli serve --workflows {}", dir.display());
            Ok(())
        }
    }
}
