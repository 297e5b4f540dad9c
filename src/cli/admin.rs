//! `linli admin`: the first administrator, users and their tokens, the directory's import and
//! export.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use storage::NewPerson;
use uuid::Uuid;
use workflow_core::Role;
use workflow_core::directory;

use super::progress::Progress;
use super::{Database, Workflows};

#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(flatten)]
    db: Database,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Create a user and print their token (shown once). The first admin starts here.
    CreateUser {
        #[arg(long)]
        name: String,
        /// resident, secretary, member, community, street or admin (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        community: Option<Uuid>,
        #[arg(long)]
        branch: Option<Uuid>,
        #[arg(long)]
        building: Option<Uuid>,
    },
    /// Revoke every token of a user.
    RevokeTokens { person: Uuid },
    /// Import the directory from a TOML file (docs/DISPATCH.md, "The directory file"):
    /// validated first, with file:line:col messages, then applied in one transaction.
    /// Re-importing changes nothing.
    Import {
        file: PathBuf,
        /// The workflows, whose categories give the skills vocabulary.
        #[command(flatten)]
        workflows: Workflows,
    },
    /// Print the whole directory in the import format.
    Export {
        /// The workflows, whose calendar gives the zone dates are written in.
        #[command(flatten)]
        workflows: Workflows,
    },
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    let store = args.db.connect().await?;
    match args.command {
        AdminCommand::CreateUser {
            name,
            roles,
            phone,
            community,
            branch,
            building,
        } => {
            let roles = roles
                .iter()
                .map(|r| {
                    Role::parse(r)
                        .filter(|r| *r != Role::System)
                        .ok_or_else(|| anyhow::anyhow!("unknown role {r:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let id = store
                .create_person(&NewPerson {
                    name,
                    phone,
                    roles,
                    community_id: community,
                    branch_id: branch,
                    home_building_id: building,
                    ..NewPerson::default()
                })
                .await?;
            let token = store.issue_token(id).await?;
            println!(
                "id:    {id}\ntoken: {token}\n(the token is shown once; only its hash is kept)"
            );
        }
        AdminCommand::RevokeTokens { person } => {
            let n = store.revoke_tokens(person).await?;
            println!("revoked {n} token(s)");
        }
        AdminCommand::Import { file, workflows } => {
            let catalog = workflows.catalog()?;
            let skills = catalog.skills();
            let text = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let parsed = directory::parse(&file.display().to_string(), &text, &skills);
            let directory = parsed.map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                anyhow::anyhow!(
                    "{}\n{} problem(s); nothing was imported",
                    lines.join("\n"),
                    errors.len()
                )
            })?;
            let progress = Progress::new("import");
            progress.step(&format!(
                "{} checked; writing it in one transaction",
                file.display()
            ));
            let applied = store
                .import_directory(&directory, &catalog.time_zone())
                .await?;
            progress.finish();
            println!(
                "imported {}: {} created, {} updated",
                file.display(),
                applied.created,
                applied.updated
            );
        }
        AdminCommand::Export { workflows } => {
            let zone = workflows.catalog()?.time_zone();
            print!("{}", store.export_directory(&zone).await?.to_toml());
        }
    }
    store.close().await;
    Ok(())
}
