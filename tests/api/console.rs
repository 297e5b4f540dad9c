//! The web console: served from the binary at `/`, and walked end to end by the three roles in
//! a real headless Chromium (`tests/browser/console.mjs`, driven by npm's `playwright-core`).
//!
//! The browser half needs Debian's `chromium` and `npm ci --prefix tests/browser`; `.ci/run`
//! installs both and sets `LINLI_REQUIRE_BROWSER=1`, so there it cannot be skipped. Elsewhere,
//! without them, it says loudly that it was skipped.

use std::path::{Path, PathBuf};

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// Each language's strings name each key once: a later duplicate silently replaces the
/// earlier one (a report-in QR code's words once took the sign-in code's).
#[test]
fn each_console_string_is_defined_once_per_language() {
    let text = include_str!("../../crates/http/console/i18n.js");
    let blocks: Vec<&str> = text.split("\n  },").collect();
    assert!(blocks.len() >= 3, "two languages' blocks");
    for block in &blocks[..2] {
        let mut seen = std::collections::BTreeSet::new();
        for line in block.lines().filter(|l| l.starts_with("    ")) {
            for part in line.split("', ") {
                let Some((key, _)) = part.trim().split_once(": ") else {
                    continue;
                };
                if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !key.is_empty() {
                    assert!(seen.insert(key.to_owned()), "{key} is defined twice");
                }
            }
        }
        assert!(seen.len() > 100, "the keys were read: {}", seen.len());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_is_served_from_the_binary_with_a_strict_policy() {
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    let page = app.client.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<html lang="zh-CN">"#) && html.contains("/console/app.js"));

    // Every script the page loads is served, as JavaScript, and revalidates cheaply.
    for file in [
        "app.js",
        "api.js",
        "i18n.js",
        "ui.js",
        "ticket.js",
        "views.js",
        "volunteers.js",
    ] {
        let r = app
            .client
            .get(app.url(&format!("/console/{file}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{file}");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
        let etag = r.headers()["etag"].clone();
        let again = app
            .client
            .get(app.url(&format!("/console/{file}")))
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{file}");
        // Compressed for a browser that takes it: a third of the bytes or less.
        let plain = r.bytes().await.unwrap().len();
        let zipped = app
            .client
            .get(app.url(&format!("/console/{file}")))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{file}");
        let zipped = zipped.bytes().await.unwrap().len();
        assert!(zipped * 2 < plain, "{file}: {zipped} of {plain} bytes");
    }
    // Nothing else is: not a path outside the list, not a way out of it.
    for path in ["/console/nope.js", "/console/..%2FCargo.toml", "/console/"] {
        let r = app.send(app.client.get(app.url(path))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.content_type, "application/problem+json", "{path}");
    }
}

/// Chromium and the installed `playwright-core`, or `None` (said loudly) when this machine has
/// not got them and CI did not ask for them.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser"));
    let chromium = std::env::var_os("LINLI_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        });
    let driver = dir.join("node_modules/playwright-core");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    match chromium {
        Some(chromium) if driver.exists() && node => Some((chromium, dir)),
        _ => {
            let what = "needs node, Debian's chromium and `npm ci --prefix tests/browser`";
            if std::env::var_os("LINLI_REQUIRE_BROWSER").is_some() {
                panic!("the browser tests {what}, and LINLI_REQUIRE_BROWSER is set");
            }
            eprintln!("SKIPPED (browser): the web console's end-to-end test {what}");
            None
        }
    }
}

/// Runs a browser walk (`tests/browser/NAME`) against `app`, its clock running on with real
/// time from now as a deployed server's does; what it printed, once it passed.
async fn walk(
    app: &TestApp,
    chromium: &Path,
    dir: &Path,
    script: &str,
    env: &[(&str, &str)],
) -> String {
    let clock = app.clock.clone();
    tokio::spawn(async move {
        let tick = std::time::Duration::from_millis(100);
        loop {
            tokio::time::sleep(tick).await;
            clock.advance(jiff::SignedDuration::try_from(tick).unwrap());
        }
    });
    let users: serde_json::Map<_, _> = app
        .demo
        .users
        .iter()
        .map(|u| {
            (
                u.key.to_owned(),
                json!({"id": u.id, "name": u.name, "token": u.token}),
            )
        })
        .collect();
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("console-screenshots");
    let mut command = tokio::process::Command::new("node");
    command
        .arg(dir.join(script))
        .current_dir(dir)
        .env("LINLI_BASE", format!("http://{}", app.addr))
        .env("LINLI_USERS", serde_json::Value::Object(users).to_string())
        .env("LINLI_CHROMIUM", chromium)
        .env("LINLI_SCREENSHOTS", &screenshots);
    for (k, v) in env {
        command.env(k, v);
    }
    let walked = command.output().await.expect("node runs");
    let said = String::from_utf8_lossy(&walked.stdout).into_owned();
    eprintln!("{said}{}", String::from_utf8_lossy(&walked.stderr));
    assert!(
        walked.status.success(),
        "the browser walk {script} failed (screenshots so far in {})",
        screenshots.display()
    );
    eprintln!("screenshots: {}", screenshots.display());
    said
}

/// What people stumbled on, walked on a phone: seven tabs, a double tap, an empty form, a
/// revoked session, the network away and back, 200 % text; axe-core and tap targets on
/// every page (tests/browser/phone.mjs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_walk_meets_none_of_the_stumbling_blocks() {
    let Some((chromium, dir)) = browser() else {
        return;
    };
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    walk(&app, &chromium, &dir, "phone.mjs", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_roles_walk_a_request_in_a_real_browser() {
    let Some((chromium, dir)) = browser() else {
        return;
    };
    let app = TestApp::spawn(&crate::support::sqlite_url().await).await;
    // An overdue request: submitted, then three days pass with nobody acting on it.
    let overdue = app.submit("resident", "repair", "单元门坏了，关不上").await;
    app.advance(3 * 24 * 3600).await;
    let seen = app
        .get("secretary", &format!("/api/v1/tickets/{overdue}"))
        .await;
    assert!(
        seen.body["clocks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["breached"] == true),
        "{:?}",
        seen.body
    );

    // A confidential 12345 order, as the platform sends it.
    let order = crate::hotline::order("GD-CONSOLE-1", "投诉", true);
    let taken = crate::hotline::signed(&app, "hotline", "/api/v1/hotline/orders", &order).await;
    let hotline = taken.body["ticket_id"].as_str().unwrap().to_owned();

    let said = walk(
        &app,
        &chromium,
        &dir,
        "console.mjs",
        &[
            ("LINLI_OVERDUE", &overdue),
            ("LINLI_HOTLINE_TICKET", &hotline),
        ],
    )
    .await;
    // The session the walk left signed in ends once idle past its limit.
    let live = said
        .lines()
        .find_map(|l| l.strip_prefix("live-session: "))
        .expect("the walk leaves a session signed in");
    let me = |token: String| {
        let client = app.client.clone();
        let url = app.url("/api/v1/me");
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(me(live.to_owned()).await, StatusCode::OK);
    app.advance(31 * 24 * 3600).await;
    assert_eq!(
        me(live.to_owned()).await,
        StatusCode::UNAUTHORIZED,
        "idle past 30 days"
    );
}
