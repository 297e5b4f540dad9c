//! `linli migrate-tickets`: moves the open requests of one workflow version to a newer one
//! by an explicit plan. A dry run unless `--apply`: it lists what it would move either way.

use std::path::PathBuf;

use anyhow::{Context, anyhow};
use clap::Args;
use linli::app::{App, Config};
use workflow_core::definition::WorkflowKey;
use workflow_core::migrate::{ClockMove, MigrationPlan, Move};

use super::progress::Progress;
use super::{Database, Workflows};

#[derive(Args, Debug)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: Database,
    /// Both versions must be among the workflows.
    #[command(flatten)]
    pub workflows: Workflows,
    /// The version the requests are on: `community-service@2`.
    #[arg(long, value_parser = parse_key)]
    pub from: WorkflowKey,
    /// The version they move to: `community-service@3`.
    #[arg(long, value_parser = parse_key)]
    pub to: WorkflowKey,
    /// The plan: `[states]` maps every open state, `[clocks]` says keep or recompute.
    #[arg(long)]
    pub plan: PathBuf,
    /// Move them. Without it nothing is written.
    #[arg(long)]
    pub apply: bool,
}

fn parse_key(s: &str) -> Result<WorkflowKey, String> {
    let (id, version) = s
        .split_once('@')
        .ok_or_else(|| format!("{s:?} is not id@version"))?;
    let version = version
        .parse()
        .map_err(|_| format!("{s:?}: the version is a number"))?;
    Ok(WorkflowKey {
        id: id.to_owned(),
        version,
    })
}

pub async fn run(args: MigrateArgs) -> anyhow::Result<()> {
    let catalog = args.workflows.catalog()?;
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read {}", args.plan.display()))?;
    let plan =
        MigrationPlan::parse(&args.plan.display().to_string(), &text).map_err(|e| anyhow!(e))?;
    // The new version is registered before a request runs on it (and a changed file under a
    // registered version is refused here as at start).
    let app = App::build(&args.db.options(), Config::new(catalog)).await?;
    let open = app
        .store
        .open_tickets_of(&args.from.id, args.from.version)
        .await?;
    let mut progress = Progress::new(if args.apply { "moving" } else { "looking" });
    let moved = app
        .engine
        .migrate(&args.from, &args.to, &plan, args.apply, &mut |done| {
            progress.set(done, open.max(done))
        })
        .await?;
    progress.finish();
    let zone = app.engine.catalog().time_zone();
    for m in &moved {
        println!("{}", line(m, &zone));
    }
    if args.apply {
        println!(
            "moved {} request(s) from {} to {}: each keeps its history and gains one `migrated` event",
            moved.len(),
            args.from,
            args.to
        );
    } else {
        println!(
            "dry run: {} request(s) of {} would move to {}; nothing was written (add --apply to move them)",
            moved.len(),
            args.from,
            args.to
        );
    }
    app.store.close().await;
    Ok(())
}

/// `<id>  in_progress → in_progress  resolution recompute: due A → B; response keep: due C`,
/// each deadline in the deployment's zone.
fn line(m: &Move, zone: &jiff::tz::TimeZone) -> String {
    let clocks: Vec<String> = m.clocks.iter().map(|c| clock(c, zone)).collect();
    format!(
        "{}  {} → {}  {}",
        m.ticket,
        m.state_before,
        m.state,
        clocks.join("; ")
    )
}

/// One clock's move, with its deadline before and after (`—`: none, as for a clock paused or
/// stopped).
fn clock(c: &ClockMove, zone: &jiff::tz::TimeZone) -> String {
    let due = |t: Option<jiff::Timestamp>| {
        t.map_or("—".to_owned(), |t| {
            t.to_zoned(zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
    };
    match c.policy {
        Some(p) if c.due_before != c.due => format!(
            "{} {}: due {} → {}",
            c.clock,
            p.as_str(),
            due(c.due_before),
            due(c.due)
        ),
        Some(p) => format!("{} {}: due {} (unchanged)", c.clock, p.as_str(), due(c.due)),
        None if c.due_before.is_some() || c.due.is_none() => {
            format!("{} dropped (was due {})", c.clock, due(c.due_before))
        }
        None => format!(
            "{} new: starts on entering one of its start states",
            c.clock
        ),
    }
}
