//! `linli migrate-tickets`, the real binary over a real store (SQLite and PostgreSQL):
//! requests opened on community-service v2 move to v3 by the shipped plan. The dry run lists
//! exactly the open requests and writes nothing; a plan that leaves a state unmapped is
//! refused whole; the real run keeps every event, adds one, and the moved requests run on v3.

use std::collections::HashMap;
use std::process::{Command, Output};

use crate::support::{TestApp, WORKFLOWS, workflows_before_v3};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use workflow_core::store::Store;
use workflow_core::{Event, Ticket};

fn migrate(url: &str, plan: &str, apply: bool) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_linli"));
    cmd.args([
        "migrate-tickets",
        "--database-url",
        url,
        "--workflows",
        WORKFLOWS,
    ])
    .args([
        "--from",
        "community-service@2",
        "--to",
        "community-service@3",
    ])
    .args(["--plan", plan])
    .env("RUST_LOG", "error");
    if apply {
        cmd.arg("--apply");
    }
    cmd.output().unwrap()
}

/// The request ids a run's output lists, one per line.
fn listed(out: &Output) -> Vec<String> {
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| w.parse::<Uuid>().is_ok())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

async fn history(app: &TestApp, ids: &[&String]) -> HashMap<String, Vec<Event>> {
    let mut all = HashMap::new();
    for id in ids {
        let events = app.store.events(id.parse().unwrap()).await.unwrap();
        all.insert((*id).clone(), events);
    }
    all
}

async fn open_requests_move_to_the_new_version_and_keep_their_history(url: String) {
    let old = TestApp::spawn_on(
        &url,
        storage::workflow_files::load_dir(&workflows_before_v3()).unwrap(),
    )
    .await;
    let member = old.demo.user("member").id;
    let waiting = old.submit("resident", "repair", "楼道灯坏了").await;
    let working = old.submit("resident", "elderly_care", "帮王奶奶取药").await;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": member})),
        ("member", "accept", Value::Null),
        ("member", "start", Value::Null),
    ] {
        let r = old.act(who, &working, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    let done = old.submit("resident", "sanitation", "垃圾桶满了").await;
    old.work_to_closed(&done).await;
    for t in [&waiting, &working, &done] {
        let r = old.get("secretary", &format!("/api/v1/tickets/{t}")).await;
        assert_eq!(r.body["workflow"], "community-service@2");
    }
    let before = history(&old, &[&waiting, &working, &done]).await;
    let plan = format!("{WORKFLOWS}/plans/community-service-v2-to-v3.toml");

    // The dry run lists exactly the open requests and writes nothing.
    let out = migrate(&url, &plan, false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut open = vec![waiting.clone(), working.clone()];
    open.sort();
    assert_eq!(
        listed(&out),
        open,
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("dry run: 2 request(s)"));
    // Each clock with its deadline before and after, in the office's zone.
    let line = printed.lines().find(|l| l.starts_with(&waiting)).unwrap();
    for clock in ["response keep: due 20", "resolution recompute: due 20"] {
        assert!(line.contains(clock), "{clock} in {line}");
    }
    assert_eq!(history(&old, &[&waiting, &working, &done]).await, before);

    // A plan that leaves an open state unmapped is refused, naming it; nothing moves.
    let partial = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("plan-{}.toml", Uuid::now_v7().simple()));
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(&partial, text.replace("on_hold = \"on_hold\"\n", "")).unwrap();
    let out = migrate(&url, partial.to_str().unwrap(), true);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"on_hold\"") && err.contains("not mapped"),
        "{err}"
    );
    assert_eq!(history(&old, &[&waiting, &working, &done]).await, before);

    // The real run: each open request keeps its events and gains one; the closed one stays.
    let out = migrate(&url, &plan, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listed(&out), open);
    let after = history(&old, &[&waiting, &working, &done]).await;
    for t in [&waiting, &working] {
        let (b, a) = (&before[t.as_str()], &after[t.as_str()]);
        assert_eq!(a.len(), b.len() + 1);
        assert_eq!(
            &a[..b.len()],
            &b[..],
            "every earlier event is kept as it was"
        );
        assert_eq!(a.last().unwrap().kind.name(), "migrated");
        let stored = old
            .store
            .ticket(t.parse().unwrap(), &workflow_core::store::Scope::Everything)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            Ticket::replay(a).unwrap(),
            stored,
            "the ticket is its events"
        );
        assert_eq!(stored.workflow_version, 3);
    }
    assert_eq!(after[done.as_str()], before[done.as_str()]);
    // Run again: nothing is left to move.
    let out = migrate(&url, &plan, true);
    assert!(listed(&out).is_empty());

    // The moved requests run on v3: the volunteer may now ask for more time.
    let new = TestApp::spawn(&url).await;
    let r = new
        .get("member", &format!("/api/v1/tickets/{working}"))
        .await;
    assert_eq!(r.body["workflow"], "community-service@3");
    assert!(
        r.body["allowed_actions"]
            .to_string()
            .contains("request_extension")
    );
    let r = new
        .act(
            "member",
            &working,
            "request_extension",
            json!({"reason": "药房缺货, 明天到", "extend_by": "1wd"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = new
        .get("secretary", &format!("/api/v1/tickets/{done}"))
        .await;
    assert_eq!(r.body["workflow"], "community-service@2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    open_requests_move_to_the_new_version_and_keep_their_history(crate::support::sqlite_url().await)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let Some(url) = crate::support::postgres_url().await else {
        return;
    };
    open_requests_move_to_the_new_version_and_keep_their_history(url).await
}
