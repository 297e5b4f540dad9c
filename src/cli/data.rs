//! `linli backup`, `linli restore`, `linli verify`: a database copied while the server runs,
//! a copy put back into an empty database, a database checked (docs/DEPLOY.md).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::Database;
use super::progress::Progress;

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: Database,
    /// The new file the copy is written to (SQLite; PostgreSQL: pg_dump, docs/DEPLOY.md).
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The database restored into: a SQLite file that does not exist yet (or holds
    /// nothing).
    #[command(flatten)]
    pub db: Database,
    /// A backup written by `linli backup`.
    pub file: PathBuf,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub db: Database,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let store = args.db.connect().await?;
    let progress = Progress::new("backup");
    progress.step(&format!("copying into {}", args.file.display()));
    store.backup_into(&args.file).await?;
    store.close().await;
    progress.finish();
    // The copy is checked as a restore would check it: a backup nobody can restore is none.
    let copy = Database {
        database_url: format!("sqlite://{}", args.file.display()),
        ..args.db
    };
    let checked = verify_at(&copy).await?;
    println!("backup written to {} ({checked})", args.file.display());
    Ok(())
}

pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let target = sqlite_path(&args.db.database_url).context(
        "linli restore writes a SQLite database; a PostgreSQL one is restored with pg_restore (docs/DEPLOY.md)",
    )?;
    if !args.file.is_file() {
        bail!("{} is not a backup file", args.file.display());
    }
    if target.exists() {
        let store = args.db.connect().await?;
        let empty = store.is_empty().await?;
        store.close().await;
        if !empty {
            bail!(
                "{} holds data: a backup is restored into an empty database",
                target.display()
            );
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", target.display()));
        }
    }
    let progress = Progress::new("restore");
    progress.step(&format!("copying {}", args.file.display()));
    std::fs::copy(&args.file, target)
        .with_context(|| format!("cannot write {}", target.display()))?;
    progress.finish();
    // Opening it applies the migrations a backup from an older build lacks.
    let checked = verify_at(&args.db).await?;
    println!("restored into {} ({checked})", target.display());
    Ok(())
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let checked = verify_at(&args.db).await?;
    println!("ok: {checked}");
    Ok(())
}

/// Verifies the database, failing with every problem found; what was checked, in words.
async fn verify_at(db: &Database) -> anyhow::Result<String> {
    let store = db.connect().await?;
    let mut progress = Progress::new("verify");
    let report = store
        .verify(&mut |done, total| progress.set(done, total))
        .await?;
    progress.finish();
    store.close().await;
    let summary = format!(
        "{} tickets, {} events, {} ledger entries, {} time bank entries",
        report.tickets, report.events, report.ledger_entries, report.time_entries
    );
    if !report.problems.is_empty() {
        for problem in &report.problems {
            eprintln!("{problem}");
        }
        bail!(
            "{} problem(s) in {} ({summary})",
            report.problems.len(),
            db.database_url
        );
    }
    Ok(summary)
}

/// The file of a `sqlite://FILE` URL.
fn sqlite_path(url: &str) -> Option<&Path> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(Path::new(rest.split('?').next().unwrap_or(rest)))
}
