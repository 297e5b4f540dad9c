//! `linli serve`: the server the composition root builds (`linli::app`), on its address,
//! until SIGTERM or ctrl-c; with `--demo`, the demo community seeded and its sign-ins printed.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use jiff::SignedDuration;
use linli::app::{App, Config};
use linli::runtime::webhooks;
use storage::demo::Demo;

use super::{Database, Workflows};

#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: Database,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "LINLI_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    #[command(flatten)]
    pub workflows: Workflows,
    /// Seed the demo community (once) and print its users' tokens and a walk-through.
    #[arg(long, env = "LINLI_DEMO")]
    pub demo: bool,
    /// Requests per second each caller may make on average (0: no limit).
    #[arg(long, env = "LINLI_RATE_LIMIT", default_value_t = 20)]
    pub rate_limit: u32,
    /// How many requests a caller may make at once before the average applies.
    #[arg(long, env = "LINLI_RATE_BURST", default_value_t = 60)]
    pub rate_burst: u32,
    /// Seconds a node's claim on a due timer or an outbox message holds; a node that dies
    /// holding claims gives them up to the others (or to itself, restarted) after this long.
    #[arg(long, env = "LINLI_TIMER_LEASE", default_value_t = 60)]
    pub timer_lease: u32,
    /// The webhook every community's messages go to (unless the webhooks file gives it its
    /// own); signed with LINLI_WEBHOOK_SECRET.
    #[arg(long, env = "LINLI_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    #[arg(long, env = "LINLI_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Hosts (names or addresses) webhooks may reach though they are not public: loopback,
    /// private, link-local addresses are refused otherwise (repeat, or comma-separate).
    #[arg(
        long = "webhook-allow",
        env = "LINLI_WEBHOOK_ALLOW",
        value_delimiter = ','
    )]
    pub webhook_allow: Vec<String>,
    /// A TOML file of webhooks per community (see docs/NOTIFICATIONS.md).
    #[arg(long, env = "LINLI_WEBHOOKS")]
    pub webhooks: Option<PathBuf>,
    /// Seconds before a failed delivery (webhook or 12345 callback) is tried again; doubled
    /// for each further attempt, up to an hour.
    #[arg(long, env = "LINLI_WEBHOOK_BACKOFF", default_value_t = 5)]
    pub webhook_backoff: u64,
    /// Attempts before a message is parked for an administrator to retry.
    #[arg(long, env = "LINLI_WEBHOOK_ATTEMPTS", default_value_t = 10)]
    pub webhook_attempts: u32,
    /// The 12345 bridge's mapping file: the platform's categories and units, its callback
    /// URL and shared secret (see docs/HOTLINE.md).
    #[arg(long, env = "LINLI_HOTLINE")]
    pub hotline: Option<PathBuf>,
    /// A console session not used for this long ends (`30d`, `12h`).
    #[arg(long, env = "LINLI_SESSION_IDLE", default_value = "30d", value_parser = parse_days)]
    pub session_idle: SignedDuration,
    /// A console session ends this long after sign-in however much it is used.
    #[arg(long, env = "LINLI_SESSION_LIFETIME", default_value = "180d", value_parser = parse_days)]
    pub session_lifetime: SignedDuration,
    /// Days the words on a closed request (descriptions, notes, photos) are kept before they
    /// are anonymised; figures stay. 0 keeps them for ever.
    #[arg(long, env = "LINLI_RETENTION_DAYS", default_value_t = 1095)]
    pub retention_days: u32,
    /// Requests one person may ask for themself in any 24 hours (those entered for them by
    /// staff or a volunteer do not count). 0: no limit.
    #[arg(long, env = "LINLI_DAILY_REQUESTS", default_value_t = 20)]
    pub daily_requests: u32,
    /// `text` for people, `json` (one object a line, with the request's span and its
    /// `request_id`) for log shippers.
    #[arg(long, env = "LINLI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Behind a reverse proxy: take the client's address (for per-address limits such as
    /// sign-in attempts) from the last `X-Forwarded-For` entry the proxy appends. Never
    /// without a proxy that sets it: a client could claim any address.
    #[arg(long, env = "LINLI_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
}

/// A duration in days, hours or minutes: `30d`, `12h`, `90m` (jiff's durations stop at
/// hours; a session's limits are said in days).
fn parse_days(text: &str) -> Result<SignedDuration, String> {
    let (n, unit) = text.split_at(text.trim_end_matches(char::is_alphabetic).len());
    let minutes = match (n.parse::<i64>(), unit) {
        (Ok(n), "d") => n * 24 * 60,
        (Ok(n), "h") => n * 60,
        (Ok(n), "m") => n,
        _ => return Err(format!("{text:?} is not a duration like 30d, 12h or 90m")),
    };
    if minutes <= 0 {
        return Err(format!("{text:?}: must be more than zero"));
    }
    Ok(SignedDuration::from_mins(minutes))
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr: every line logged while a request is answered carries that request's
/// span (method, path, `request_id`, the `x-request-id` its answer carries).
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => logs
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    ignore_file_size_signal();
    init_logs(args.log_format);
    let config = Config {
        rate_limit: args.rate_limit,
        rate_burst: args.rate_burst,
        timer_lease: SignedDuration::from_secs(i64::from(args.timer_lease.max(1))),
        webhooks: webhooks::Source {
            url: args.webhook_url,
            secret: args.webhook_secret,
            file: args.webhooks,
        },
        sessions: workflow_core::session::SessionPolicy {
            idle: args.session_idle,
            lifetime: args.session_lifetime,
        },
        trust_forwarded_for: args.trust_forwarded_for,
        retention: SignedDuration::from_hours(i64::from(args.retention_days) * 24),
        daily_requests: (args.daily_requests > 0).then_some(args.daily_requests),
        delivery: linli::runtime::delivery::DeliveryConfig {
            allow: args.webhook_allow,
            first_backoff: std::time::Duration::from_secs(args.webhook_backoff.max(1)),
            lease: SignedDuration::from_secs(i64::from(args.timer_lease.max(1))),
            max_attempts: args.webhook_attempts.max(1),
            ..Default::default()
        },
        hotline: args.hotline,
        ..Config::new(args.workflows.catalog()?)
    };
    let options = args.db.options();
    let store = storage::connect(&options)
        .await
        .with_context(|| format!("cannot open {}", options.url))?;
    // The demo's directory before the server is built over it: the files that name its
    // communities (webhooks, the 12345 bridge's mapping) find them.
    let demo = match args.demo {
        true => Some(
            storage::demo::seed(&store)
                .await
                .context("seeding the demo community")?,
        ),
        false => None,
    };
    let app = App::over(store, config).await?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr()?;
    if let Some(demo) = demo {
        let catalog = app.engine.catalog().clone();
        if let Some(history) = linli::demo_history::seed(&app.store, catalog, &demo)
            .await
            .context("writing the demo community's history")?
        {
            tracing::info!(requests = history.requests, "demo history written");
        }
        print_demo(&demo, &format!("http://{addr}"));
    }
    println!("linli listening on http://{addr}");
    tracing::info!(%addr, "listening");
    app.serve(listener, shutdown_signal()).await?;
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

/// The demo's users, their tokens, and a request walked through with curl.
pub fn print_demo(demo: &Demo, base: &str) {
    println!(
        "\n演示社区 demo community: 荷花塘社区 (和事佬志愿服务队) and 运河社区 (红马甲党员志愿服务队)\n"
    );
    for u in &demo.users {
        println!(
            "  {:<16} {:<10} {:<10} {}",
            u.key,
            u.name,
            u.role.as_str(),
            u.token
        );
    }
    println!("\n网页 web console (open on a phone or a desktop; the link signs in):\n");
    for key in ["resident", "secretary", "member"] {
        let u = demo.user(key);
        println!("  {:<10} {base}/#token={}", u.name, u.token);
    }
    let t = |k: &str| demo.user(k).token.clone();
    println!(
        r#"
Walk a request from 点单 to 评价 (copy line by line; needs curl and jq):

  R={resident}; S={secretary}; M={member}; B={base}
  T=$(curl -s -X POST $B/api/v1/tickets -H "Authorization: Bearer $R" -H 'Content-Type: application/json' \
      -d '{{"category":"repair","description":"楼道灯坏了，晚上看不见","urgency":"normal"}}' | jq -r .id)
  curl -s -X POST $B/api/v1/tickets/$T/actions/triage   -H "Authorization: Bearer $S"
  curl -s $B/api/v1/tickets/$T/candidates -H "Authorization: Bearer $S" | jq '.[0]'
  curl -s -X POST $B/api/v1/tickets/$T/actions/dispatch -H "Authorization: Bearer $S" -H 'Content-Type: application/json' -d '{{"assignee":"{member_id}"}}'
  curl -s -X POST $B/api/v1/tickets/$T/actions/accept   -H "Authorization: Bearer $M"
  curl -s -X POST $B/api/v1/tickets/$T/actions/start    -H "Authorization: Bearer $M"
  curl -s -X POST $B/api/v1/tickets/$T/actions/complete -H "Authorization: Bearer $M" -H 'Content-Type: application/json' -d '{{"hours":1.5,"note":"已更换灯泡"}}'
  curl -s -X POST $B/api/v1/tickets/$T/actions/confirm  -H "Authorization: Bearer $R" -H 'Content-Type: application/json' -d '{{"rating":5,"note":"谢谢王师傅"}}'
  curl -s $B/api/v1/tickets/$T/events -H "Authorization: Bearer $R" | jq -r '.[] | "\(.seq) \(.kind) \(.actor_role)"'
"#,
        resident = t("resident"),
        secretary = t("secretary"),
        member = t("member"),
        member_id = demo.user("member").id,
    );
}
