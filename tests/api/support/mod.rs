//! A real server on a random port over a real store, with the demo community, and a small
//! HTTP client for the tests.

#![allow(dead_code)]

pub mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;

use linli::app::{App, Config};
use linli::runtime::Wakeup;
use reqwest::StatusCode;
use serde_json::Value;
use storage::demo::Demo;
use storage::{Options, SqlStore};
use uuid::Uuid;
use workflow_core::Engine;
use workflow_core::clock::ManualClock;

pub struct TestApp {
    pub addr: SocketAddr,
    pub demo: Demo,
    pub store: SqlStore,
    pub client: reqwest::Client,
    /// The server's clock: starts now, moves when a test says so.
    pub clock: Arc<ManualClock>,
    pub engine: Arc<Engine>,
    /// The wake-ups the Engine signals and the event streams wait on.
    pub wake: Arc<Wakeup>,
}

pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Value,
}

impl Reply {
    /// The problem's `code`, for error replies.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

/// The tests' 12345 bridge: the demo's units and categories (every test server runs it).
pub const HOTLINE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hotline.toml");
/// The secret it signs with.
pub const HOTLINE_SECRET: &str = "hotline-test-secret-0123456789";

/// The shipped workflows directory.
pub const WORKFLOWS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/workflows");

fn catalog() -> workflow_core::Catalog {
    storage::workflow_files::load_dir(std::path::Path::new(WORKFLOWS)).unwrap()
}

/// A workflows directory as shipped before community-service v3: versions 1 and 2, and the
/// catalog without the follow-up calls only v3 makes.
pub fn workflows_before_v3() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-wf-{}", Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "catalog.toml",
        "community-service.toml",
        "community-service-v2.toml",
        "micro-wish.toml",
        "dispute-mediation.toml",
    ] {
        let text = std::fs::read_to_string(format!("{WORKFLOWS}/{f}")).unwrap();
        // Workflow files byte for byte (their content is registered); the catalog edited.
        let text: String = text
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("follow_up = true"))
            .collect();
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

pub async fn sqlite_url() -> String {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-api-{}.db", Uuid::now_v7().simple()));
    format!("sqlite://{}", path.display())
}

/// A fresh PostgreSQL database, or `None` (said loudly) when none is configured.
pub async fn postgres_url() -> Option<String> {
    let Ok(base) = std::env::var("LINLI_TEST_DATABASE_URL") else {
        eprintln!(
            "SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL is not set; only SQLite was tested"
        );
        return None;
    };
    let name = format!("linli_t_{}", Uuid::now_v7().simple());
    Some(
        storage::create_database(&base, &name)
            .await
            .expect("PostgreSQL reachable"),
    )
}

impl TestApp {
    pub async fn spawn(url: &str) -> TestApp {
        TestApp::spawn_with(url, |config| config).await
    }

    /// A server whose configuration is adjusted first (a rate limit, say).
    pub async fn spawn_with(url: &str, adjust: impl FnOnce(Config) -> Config) -> TestApp {
        TestApp::spawn_with_options(Options::new(url), adjust(Config::new(catalog()))).await
    }

    /// A server with these workflows (an older set, say) over the store at `url`.
    pub async fn spawn_on(url: &str, catalog: workflow_core::Catalog) -> TestApp {
        TestApp::spawn_with_options(Options::new(url), Config::new(catalog)).await
    }

    /// A server whose store waits at most `timeout` on its database, and whose answers are
    /// 503 past it (as `linli serve --database-timeout`).
    pub async fn spawn_with_timeout(url: &str, timeout: std::time::Duration) -> TestApp {
        let options = Options {
            timeout,
            ..Options::new(url)
        };
        TestApp::spawn_with_options(options, Config::new(catalog())).await
    }

    /// The server the composition root builds (`linli::app`), on a manual clock, its demo
    /// community seeded; no workers run (a test fires timers with [`TestApp::advance`]).
    async fn spawn_with_options(options: Options, config: Config) -> TestApp {
        let store = storage::connect(&options).await.unwrap();
        let demo = storage::demo::seed(&store).await.unwrap();
        let clock = Arc::new(ManualClock::new(jiff::Timestamp::now()));
        // The bridge, wherever its workflow is loaded (not on an older set of workflows).
        let bridged = config.catalog.latest("hotline-12345").is_some();
        let config = Config {
            clock: clock.clone(),
            hotline: config.hotline.or(bridged.then(|| HOTLINE.into())),
            ..config
        };
        let app = App::over(store.clone(), config).await.unwrap();
        let router = app.router(tokio::sync::watch::channel(false).1);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap()
        });
        TestApp {
            addr,
            demo,
            store,
            client: reqwest::Client::new(),
            clock,
            engine: app.engine.clone(),
            wake: app.wake.clone(),
        }
    }

    /// Moves the server's clock on and fires what fell due, as the timer worker would.
    pub async fn advance(&self, secs: i64) {
        self.clock.advance(jiff::SignedDuration::from_secs(secs));
        loop {
            let f = self
                .engine
                .fire_due(Uuid::now_v7(), 100, jiff::SignedDuration::from_secs(60))
                .await
                .unwrap();
            if f.claimed == 0 {
                break;
            }
        }
    }

    /// Sets the server's clock to a civil time in the communities' zone: `2026-11-23T08:30`.
    pub fn at(&self, civil: &str) {
        let t = civil
            .parse::<jiff::civil::DateTime>()
            .unwrap()
            .in_tz("Asia/Shanghai")
            .unwrap()
            .timestamp();
        self.clock.set(t);
    }

    pub fn token(&self, user: &str) -> String {
        self.demo.user(user).token.clone()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.unwrap();
        let status = res.status();
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = res.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Reply {
            status,
            content_type,
            body,
        }
    }

    pub async fn get(&self, user: &str, path: &str) -> Reply {
        self.send(
            self.client
                .get(self.url(path))
                .bearer_auth(self.token(user)),
        )
        .await
    }

    pub async fn post(&self, user: &str, path: &str, body: Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(self.token(user))
                .json(&body),
        )
        .await
    }

    /// A workflow action; `Null` sends no body.
    pub async fn act(&self, user: &str, ticket: &str, action: &str, body: Value) -> Reply {
        let req = self
            .client
            .post(self.url(&format!("/api/v1/tickets/{ticket}/actions/{action}")))
            .bearer_auth(self.token(user));
        let req = if body.is_null() { req } else { req.json(&body) };
        self.send(req).await
    }

    /// Works a submitted ticket through to `closed` as the demo's people would: triage and
    /// dispatch to 王师傅 (secretary), accept, start, complete (member), confirm (resident).
    pub async fn work_to_closed(&self, ticket: &str) {
        self.work_to_completed(ticket, "").await;
        let rating = serde_json::json!({"rating": 5});
        let r = self.act("resident", ticket, "confirm", rating).await;
        assert_eq!(r.status, StatusCode::OK, "confirm: {:?}", r.body);
    }

    /// Works a submitted ticket to `completed` (awaiting the resident) as the demo's people
    /// would, the volunteer recording what they did in `note` (if any).
    pub async fn work_to_completed(&self, ticket: &str, note: &str) {
        let done = if note.is_empty() {
            serde_json::json!({"hours": 1.0})
        } else {
            serde_json::json!({"hours": 1.0, "note": note})
        };
        let member = self.demo.user("member").id;
        for (who, action, body) in [
            ("secretary", "triage", Value::Null),
            (
                "secretary",
                "dispatch",
                serde_json::json!({"assignee": member}),
            ),
            ("member", "accept", Value::Null),
            ("member", "start", Value::Null),
            ("member", "complete", done),
        ] {
            let r = self.act(who, ticket, action, body).await;
            assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
        }
    }

    pub async fn submit(&self, user: &str, category: &str, description: &str) -> String {
        let r = self
            .post(
                user,
                "/api/v1/tickets",
                serde_json::json!({"category": category, "description": description}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }
}

/// Every message the outbox holds for `ticket`, as (event, recipient).
pub async fn told(app: &TestApp, ticket: &str) -> Vec<(String, workflow_core::command::Recipient)> {
    let ticket: Uuid = ticket.parse().unwrap();
    let mut all = Vec::new();
    for state in [
        storage::OutboxState::Pending,
        storage::OutboxState::Delivered,
        storage::OutboxState::Failed,
    ] {
        for e in app.store.outbox_entries(state, None, 1000).await.unwrap() {
            if e.message.ticket_id == ticket {
                all.push((e.message.event, e.message.recipient));
            }
        }
    }
    all
}

/// The actions a ticket view offers its reader.
pub fn allowed(ticket: &Value) -> Vec<String> {
    ticket["allowed_actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs each named test on SQLite, and on PostgreSQL when configured.
#[macro_export]
macro_rules! backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let url = $crate::support::sqlite_url().await;
                    super::$name($crate::support::TestApp::spawn(&url).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = $crate::support::postgres_url().await else { return };
                    super::$name($crate::support::TestApp::spawn(&url).await).await
                }
            )*
        }
    };
}

/// The real `linli serve` in a child process, on a free port.
pub struct Running {
    pub child: std::process::Child,
    pub base: String,
    /// The demo users' tokens by key (`resident`, `secretary`, …), when started with `--demo`.
    pub tokens: std::collections::HashMap<String, String>,
}

/// Starts `linli serve` on `db_url` with the shipped workflows (or `workflows`), `--demo` if
/// asked, and `env` set; waits for the address it prints. Stderr (the logs) goes to `log`.
pub fn spawn_linli(
    db_url: &str,
    workflows: Option<&std::path::Path>,
    demo: bool,
    env: &[(&str, &str)],
    log: Option<std::fs::File>,
) -> Running {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    // Started from an empty directory, as an operator's server is: without `workflows` it
    // serves the built-in ones and reads nothing of the source tree.
    let cwd = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-cwd-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linli"));
    cmd.current_dir(&cwd)
        .args(["serve", "--bind", "127.0.0.1:0", "--database-url", db_url])
        .env_remove("LINLI_WORKFLOWS")
        // The load these servers take is one resident asking many times a minute.
        .env("LINLI_DAILY_REQUESTS", "0")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(log.map_or_else(Stdio::null, Stdio::from));
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(dir) = workflows {
        cmd.arg("--workflows").arg(dir);
    }
    if demo {
        cmd.arg("--demo");
    }
    let mut child = cmd.spawn().unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut tokens = std::collections::HashMap::new();
    let base = loop {
        let line = lines.next().expect("linli prints its address").unwrap();
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() == 4 && words[3].starts_with("ll_") {
            tokens.insert(words[0].to_owned(), words[3].to_owned());
        }
        if let Some(a) = line.strip_prefix("linli listening on ") {
            break a.to_owned();
        }
    };
    Running {
        child,
        base,
        tokens,
    }
}

impl Running {
    /// SIGTERM, then the exit status (within 15 s).
    pub async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let started = std::time::Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "did not stop after SIGTERM"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The first hundred tickets `requester` asked for, newest first.
pub async fn tickets_of(store: &SqlStore, requester: Uuid) -> Vec<workflow_core::Ticket> {
    use workflow_core::store::{Page, Scope, Store, TicketFilter};
    let page = Page {
        after: None,
        limit: 100,
    };
    store
        .list(&Scope::Requester(requester), &TicketFilter::default(), page)
        .await
        .unwrap()
}
