//! `linli serve`: the store, the Engine, the timer worker and the HTTP server, with a
//! graceful shutdown on SIGTERM or ctrl-c.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use linli_http::notify::webhook::{DeliveryConfig, spawn_delivery_worker};
use storage::worker::{
    PG_TIMER_PARALLELISM, SystemClock, Wakeup, WorkerConfig, spawn_outbox_listener,
    spawn_timer_worker,
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
    /// The webhook every community's messages go to (unless the webhooks file gives it its
    /// own); signed with LINLI_WEBHOOK_SECRET.
    #[arg(long, env = "LINLI_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    #[arg(long, env = "LINLI_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// A TOML file of webhooks per community (see docs/NOTIFICATIONS.md).
    #[arg(long, env = "LINLI_WEBHOOKS")]
    pub webhooks: Option<PathBuf>,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    ignore_file_size_signal();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let catalog = load_catalog(&args.workflows)?;
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

    let webhooks = crate::webhooks::load(
        &store,
        args.webhook_url,
        args.webhook_secret,
        args.webhooks.as_deref(),
    )
    .await
    .context("webhooks")?;
    // Before anything is written: a message no webhook will deliver is written delivered.
    store.set_outbox_delivery(webhooks.outbox_delivery());

    let (stop, stopped) = watch::channel(false);
    let listener_task = spawn_outbox_listener(store.clone(), wake.clone(), stopped.clone());
    let delivery = (!webhooks.is_empty()).then(|| {
        spawn_delivery_worker(
            store.clone(),
            Arc::new(webhooks),
            Arc::new(SystemClock),
            wake.clone(),
            DeliveryConfig::default(),
            stopped.clone(),
        )
    });
    let worker = spawn_timer_worker(
        engine.clone(),
        store.clone(),
        Arc::new(SystemClock),
        wake.clone(),
        WorkerConfig {
            lease: jiff::SignedDuration::from_secs(i64::from(args.timer_lease.max(1))),
            ..WorkerConfig::default()
        },
        stopped.clone(),
    );
    let state = linli_http::AppState::new(engine, store.clone())
        .with_deadline(args.db.database_timeout)
        .with_rate_limit(args.rate_limit, args.rate_burst)
        .with_wakeup(wake)
        .with_shutdown(stopped);
    let app = linli_http::app(state);
    println!("linli listening on http://{addr}");
    tracing::info!(%addr, "listening");
    let stopping = stop.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            // Ends the event streams, which would otherwise hold the shutdown open.
            let _ = stopping.send(true);
        })
        .await
        .context("serving")?;
    tracing::info!("stopping the workers");
    let _ = stop.send(true);
    let _ = worker.await;
    if let Some(d) = delivery {
        let _ = d.await;
    }
    if let Some(l) = listener_task {
        let _ = l.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// A file grown past the process's size limit (`ulimit -f`, an operator's quota) fails the
/// write with `EFBIG`, which the store answers as any refusing disk (503, nothing written),
/// instead of the kernel's `SIGXFSZ` ending the server; as Rust ignores `SIGPIPE` for the
/// same reason.
fn ignore_file_size_signal() {
    // SAFETY: setting a signal's disposition to "ignore" at start-up, before any thread of
    // ours could be handling it.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Every workflow file in `dir`, or every error they hold, one per line.
pub fn load_catalog(dir: &std::path::Path) -> anyhow::Result<workflow_core::Catalog> {
    load_dir(dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        anyhow::anyhow!("the workflows do not load:\n{}", lines.join("\n"))
    })
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
