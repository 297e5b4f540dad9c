//! The composition root: a server built from its configuration, the one way `linli serve`,
//! the tests and the benchmarks build one. The store is opened (and migrated), the
//! workflows registered, the Engine given the store, the clock and the wake-ups; the HTTP
//! application and the workers are made from those.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jiff::SignedDuration;
use storage::SqlStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workflow_core::clock::Clock;
use workflow_core::{Catalog, Engine};

use crate::runtime::delivery::{self, DeliveryConfig, Webhooks};
use crate::runtime::timers::{self, WorkerConfig};
use crate::runtime::{SystemClock, Wakeup, expiry, hotline, relay, retention, webhooks};

/// What a server is built from, beside its database. [`Config::new`] gives what
/// `linli serve` runs with unless told otherwise.
pub struct Config {
    pub catalog: Catalog,
    pub clock: Arc<dyn Clock>,
    /// Requests each caller may make a second on average, and at once (0: no limit).
    pub rate_limit: u32,
    pub rate_burst: u32,
    /// How long a node's claim on a due timer holds.
    pub timer_lease: SignedDuration,
    pub webhooks: webhooks::Source,
    pub delivery: DeliveryConfig,
    /// How long console sessions last.
    pub sessions: workflow_core::session::SessionPolicy,
    /// Take the client's address from `X-Forwarded-For` (behind a reverse proxy only).
    pub trust_forwarded_for: bool,
    /// How long the words on a closed request are kept before they are anonymised (zero:
    /// kept for ever).
    pub retention: SignedDuration,
    /// Requests one person may ask for themself in any 24 hours (`None`: no limit).
    pub daily_requests: Option<u32>,
    /// The 12345 bridge's mapping file (`--hotline FILE`, docs/HOTLINE.md), if it runs one.
    pub hotline: Option<std::path::PathBuf>,
}

impl Config {
    pub fn new(catalog: Catalog) -> Config {
        Config {
            catalog,
            clock: Arc::new(SystemClock),
            rate_limit: 0,
            rate_burst: 0,
            timer_lease: SignedDuration::from_secs(60),
            webhooks: webhooks::Source::default(),
            delivery: DeliveryConfig::default(),
            sessions: workflow_core::session::SessionPolicy::default(),
            trust_forwarded_for: false,
            retention: SignedDuration::ZERO,
            daily_requests: None,
            hotline: None,
        }
    }
}

/// A server: its store, its Engine and the wake-ups between them, ready to answer and to
/// run its workers.
pub struct App {
    pub store: SqlStore,
    pub engine: Arc<Engine>,
    pub wake: Arc<Wakeup>,
    clock: Arc<dyn Clock>,
    rate: (u32, u32),
    deadline: Duration,
    timer_lease: SignedDuration,
    webhooks: Arc<Webhooks>,
    delivery: DeliveryConfig,
    sessions: workflow_core::session::SessionPolicy,
    trust_forwarded_for: bool,
    retention: SignedDuration,
    hotline: Option<Arc<linli_http::hotline::Bridge>>,
}

impl App {
    /// Opens the store (migrating it) and builds the server over it ([`App::over`]).
    pub async fn build(database: &storage::Options, config: Config) -> anyhow::Result<App> {
        let store = storage::connect(database)
            .await
            .with_context(|| format!("cannot open {}", database.url))?;
        App::over(store, config).await
    }

    /// The server over a store already open: tells it whose messages wait for a webhook
    /// (the others are written delivered), and registers the workflows with the Engine.
    pub async fn over(store: SqlStore, config: Config) -> anyhow::Result<App> {
        let mut webhooks = webhooks::load(&store, &config.webhooks)
            .await
            .context("webhooks")?;
        let hotline = match &config.hotline {
            Some(path) => {
                let loaded = hotline::load(&store, &config.catalog, path)
                    .await
                    .context("the 12345 bridge")?;
                webhooks.platform = Some(loaded.callbacks);
                Some(Arc::new(loaded.bridge))
            }
            None => None,
        };
        // Before anything is written: a message no webhook will deliver is written delivered.
        store.set_outbox_delivery(webhooks.outbox_delivery());
        let wake = Arc::new(Wakeup::default());
        let engine = Arc::new(
            Engine::new(
                Arc::new(store.clone()),
                config.clock.clone(),
                Arc::new(config.catalog),
                wake.clone(),
            )
            .with_timer_parallelism(store.timer_parallelism())
            .with_daily_request_limit(config.daily_requests),
        );
        engine
            .register_workflows()
            .await
            .context("registering workflow versions")?;
        Ok(App {
            deadline: store.timeout(),
            store,
            engine,
            wake,
            clock: config.clock,
            rate: (config.rate_limit, config.rate_burst),
            timer_lease: config.timer_lease,
            webhooks: Arc::new(webhooks),
            delivery: config.delivery,
            sessions: config.sessions,
            trust_forwarded_for: config.trust_forwarded_for,
            retention: config.retention,
            hotline,
        })
    }

    /// The HTTP application over this Engine and store; long-lived answers (event streams)
    /// end when `shutdown` turns true.
    pub fn router(&self, shutdown: watch::Receiver<bool>) -> axum::Router {
        let state = linli_http::AppState::new(self.engine.clone(), self.store.clone())
            .with_deadline(self.deadline)
            .with_rate_limit(self.rate.0, self.rate.1)
            .with_outbox_changes(self.wake.outbox_changes())
            .with_shutdown(shutdown)
            .with_sessions(self.sessions)
            .with_hotline(self.hotline.clone())
            .trusting_forwarded_for(self.trust_forwarded_for);
        linli_http::app(state)
    }

    /// Starts the workers: the timer worker, the relay of other nodes' messages
    /// (PostgreSQL), and webhook delivery if any webhook is configured. They stop when
    /// `shutdown` turns true.
    pub fn spawn_workers(&self, shutdown: watch::Receiver<bool>) -> Workers {
        let mut tasks = vec![timers::spawn_timer_worker(
            self.engine.clone(),
            self.store.clone(),
            self.clock.clone(),
            self.wake.clone(),
            WorkerConfig {
                lease: self.timer_lease,
                ..WorkerConfig::default()
            },
            shutdown.clone(),
        )];
        tasks.extend(retention::spawn(
            self.store.clone(),
            self.clock.clone(),
            self.retention,
            shutdown.clone(),
        ));
        tasks.push(expiry::spawn(
            self.store.clone(),
            self.clock.clone(),
            shutdown.clone(),
        ));
        tasks.extend(relay::spawn_outbox_listener(
            self.store.clone(),
            self.wake.clone(),
            shutdown.clone(),
        ));
        if !self.webhooks.is_empty() {
            tasks.push(delivery::spawn_delivery_worker(
                self.store.clone(),
                self.webhooks.clone(),
                self.clock.clone(),
                self.wake.clone(),
                self.delivery.clone(),
                shutdown,
            ));
        }
        Workers(tasks)
    }

    /// Answers on `listener` and runs the workers until `stop` resolves; then finishes
    /// the requests in flight, ends the event streams, stops the workers and closes the
    /// store.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stopping, stopped) = watch::channel(false);
        let workers = self.spawn_workers(stopped.clone());
        let ending = stopping.clone();
        let router = self.router(stopped);
        // The peer's address is what per-address limits (sign-in attempts) count by.
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            stop.await;
            // Ends the event streams, which would otherwise hold the shutdown open.
            let _ = ending.send(true);
        })
        .await
        .context("serving")?;
        tracing::info!("stopping the workers");
        let _ = stopping.send(true);
        workers.join().await;
        self.store.close().await;
        Ok(())
    }
}

/// The workers of a server, to be waited for once told to stop.
pub struct Workers(Vec<JoinHandle<()>>);

impl Workers {
    pub async fn join(self) {
        for task in self.0 {
            let _ = task.await;
        }
    }
}
