//! Data that survives mistakes: `linli backup` while the server is written to, `linli
//! restore` into an empty database, `linli verify` of the result (and of a tampered copy);
//! on PostgreSQL, `pg_dump` and `pg_restore` as docs/DEPLOY.md says, then `linli verify`.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::TestApp;
use serde_json::json;
use uuid::Uuid;
use workflow_core::store::{Page, Scope, Store, TicketFilter};

fn linli(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linli"))
        .args(args)
        .output()
        .expect("linli runs")
}

fn scratch(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-{name}-{}.db", Uuid::now_v7().simple()))
}

/// Every ticket of a database: id → (version, description).
async fn tickets_of(url: &str) -> BTreeMap<Uuid, (u64, String)> {
    let store = storage::connect(&storage::Options::new(url)).await.unwrap();
    let mut all = BTreeMap::new();
    let mut after = None;
    loop {
        let page = store
            .list(
                &Scope::Everything,
                &TicketFilter::default(),
                Page { after, limit: 500 },
            )
            .await
            .unwrap();
        all.extend(
            page.iter()
                .map(|t| (t.id, (t.version, t.description.clone()))),
        );
        match page.last() {
            Some(last) if page.len() == 500 => after = Some(last.id),
            _ => break,
        }
    }
    store.close().await;
    all
}

/// Submits requests one after another until told to stop; the ids acknowledged, in order.
fn load(app: &TestApp, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Vec<String>> {
    let client = app.client.clone();
    let url = app.url("/api/v1/tickets");
    let token = app.token("resident");
    tokio::spawn(async move {
        let mut acked = Vec::new();
        let mut n = 0;
        while !stop.load(Ordering::Relaxed) {
            n += 1;
            let r = client
                .post(&url)
                .bearer_auth(&token)
                .json(&json!({"category": "repair", "description": format!("负载 {n}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            let body: serde_json::Value = r.json().await.unwrap();
            acked.push(body["id"].as_str().unwrap().to_owned());
        }
        acked
    })
}

/// Three requests closed with hours on the ledger, then submissions one after another until
/// told to stop (already running when this returns).
async fn history_then_load(
    app: &TestApp,
) -> (Arc<AtomicBool>, tokio::task::JoinHandle<Vec<String>>) {
    for i in 0..3 {
        let t = app
            .submit("resident", "repair", &format!("修好的 {i}"))
            .await;
        app.work_to_closed(&t).await;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let writing = load(app, stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    (stop, writing)
}

/// Every ticket of a copy is in the live database, as it was or an earlier version of it.
fn a_snapshot_of(copy: &BTreeMap<Uuid, (u64, String)>, live: &BTreeMap<Uuid, (u64, String)>) {
    for (id, (version, description)) in copy {
        let (live_version, live_description) = &live[id];
        assert_eq!(description, live_description);
        assert!(version <= live_version);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_and_verifies() {
    let live_url = crate::support::sqlite_url().await;
    let app = TestApp::spawn(&live_url).await;
    let (stop, writing) = history_then_load(&app).await;
    let before_backup = tickets_of(&live_url).await;

    let copy = scratch("backup");
    let out = linli(&[
        "backup",
        "--database-url",
        &live_url,
        copy.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("backup written to"), "{said}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writing.await.unwrap();
    assert!(acked.len() > 10, "the load ran: {} requests", acked.len());

    let restored = scratch("restored");
    let restored_url = format!("sqlite://{}", restored.display());
    let out = linli(&[
        "restore",
        "--database-url",
        &restored_url,
        copy.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = linli(&["verify", "--database-url", &restored_url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 ledger entries"));

    // The copy is a snapshot: everything acknowledged before it began, and nothing that
    // was not in the live database.
    let live = tickets_of(&live_url).await;
    let back = tickets_of(&restored_url).await;
    for (id, ticket) in &before_backup {
        assert_eq!(
            back.get(id),
            Some(ticket),
            "ticket {id} acknowledged before the backup"
        );
    }
    a_snapshot_of(&back, &live);
    assert!(back.len() < live.len(), "the load went on after the copy");

    // A restore refuses a database that holds data.
    let again = linli(&[
        "restore",
        "--database-url",
        &restored_url,
        copy.to_str().unwrap(),
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("holds data"));

    // Verify finds a ticket whose projection is not what its events say.
    let store = storage::connect(&storage::Options::new(&restored_url))
        .await
        .unwrap();
    let victim = *back.iter().find(|(_, (_, d))| d == "修好的 0").unwrap().0;
    sqlx::query("UPDATE tickets SET body = replace(body, '修好的', '改过的') WHERE id = ?")
        .bind(victim)
        .execute(&sqlx::SqlitePool::connect(&restored_url).await.unwrap())
        .await
        .unwrap();
    // And a ledger that lost a credit.
    sqlx::query("DELETE FROM ledger WHERE rowid = (SELECT MIN(rowid) FROM ledger)")
        .execute(&sqlx::SqlitePool::connect(&restored_url).await.unwrap())
        .await
        .unwrap();
    store.close().await;
    let out = linli(&["verify", "--database-url", &restored_url]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("ticket {victim}: stored at")),
        "{stderr}"
    );
    assert!(stderr.contains("ledger: ticket"), "{stderr}");
    assert!(stderr.contains("2 problem(s)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_dump_and_pg_restore_round_trip_and_verify() {
    let Some(live_url) = crate::support::postgres_url().await else {
        return;
    };
    assert!(
        Command::new("pg_dump").arg("--version").output().is_ok(),
        "the PostgreSQL backup test needs pg_dump and pg_restore (apt-get install postgresql-client)"
    );
    let app = TestApp::spawn(&live_url).await;
    let (stop, writing) = history_then_load(&app).await;
    let dump = scratch("pg").with_extension("dump");
    let out = Command::new("pg_dump")
        .args([
            "--format=custom",
            "--file",
            dump.to_str().unwrap(),
            &live_url,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stop.store(true, Ordering::Relaxed);
    writing.await.unwrap();

    let restored_url = crate::support::postgres_url().await.unwrap();
    let out = Command::new("pg_restore")
        .args([
            "--no-owner",
            "--exit-on-error",
            "--dbname",
            &restored_url,
            dump.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = linli(&["verify", "--database-url", &restored_url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = tickets_of(&restored_url).await;
    let live = tickets_of(&live_url).await;
    assert!(back.len() > 3);
    a_snapshot_of(&back, &live);
}
