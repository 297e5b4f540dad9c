//! `linli serve`: the store, the Engine, the timer worker and the HTTP server, with a
//! graceful shutdown on SIGTERM or ctrl-c.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use storage::worker::{
    PG_TIMER_PARALLELISM, SystemClock, Wakeup, WorkerConfig, spawn_timer_worker,
};
use tokio::sync::watch;
use workflow_core::Engine;

use crate::Database;
use storage::workflow_files::load_dir;

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: Database,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "LINLI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The workflows directory.
    #[arg(long, env = "LINLI_WORKFLOWS", default_value = "workflows")]
    pub workflows: PathBuf,
    /// Seed the demo community (once) and print its users' tokens and a walk-through.
    #[arg(long, env = "LINLI_DEMO")]
    pub demo: bool,
    /// Requests per second each caller may make on average (0: no limit).
    #[arg(long, env = "LINLI_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,
    /// How many requests a caller may make at once before the average applies.
    #[arg(long, env = "LINLI_RATE_BURST", default_value_t = 60)]
    pub rate_burst: u32,
    /// Seconds a node's claim on a due timer holds; a node that dies holding claims gives
    /// them up to the others after this long.
    #[arg(long, env = "LINLI_TIMER_LEASE", default_value_t = 60)]
    pub timer_lease: u32,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let catalog = load_dir(&args.workflows).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the workflows do not load:\n{}", lines.join("\n"))
    })?;
    let store = args.db.connect().await?;
    let wake = Arc::new(Wakeup::default());
    let parallelism = if store.is_postgres() {
        PG_TIMER_PARALLELISM
    } else {
        1
    };
    let engine = Arc::new(
        Engine::new(
            Arc::new(store.clone()),
            Arc::new(SystemClock),
            Arc::new(catalog),
            wake.clone(),
        )
        .with_timer_parallelism(parallelism),
    );
    engine
        .register_workflows()
        .await
        .context("registering workflow versions")?;

    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    if args.demo {
        let demo = storage::demo::seed(&store)
            .await
            .context("seeding the demo community")?;
        crate::admin::print_demo(&demo, &format!("http://{addr}"));
    }

    let (stop, stopped) = watch::channel(false);
    let worker = spawn_timer_worker(
        engine.clone(),
        store.clone(),
        Arc::new(SystemClock),
        wake,
        WorkerConfig {
            lease: jiff::SignedDuration::from_secs(i64::from(args.timer_lease.max(1))),
            ..WorkerConfig::default()
        },
        stopped,
    );
    let state = linli_http::AppState::new(engine, store.clone())
        .with_rate_limit(args.rate_limit, args.rate_burst);
    let app = linli_http::app(state);
    println!("linli listening on http://{addr}");
    tracing::info!(%addr, "listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopping the timer worker");
    let _ = stop.send(true);
    let _ = worker.await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutdown signal: finishing in-flight requests");
}
