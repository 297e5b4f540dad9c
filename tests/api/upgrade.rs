//! A database written by a released build migrates forward and serves: each folder of
//! `tests/fixtures/schema/` (see its README) is loaded into a fresh database, the current
//! build migrates and verifies it, and the server answers from it as before.

use std::path::PathBuf;

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The released schemas, oldest first.
const RELEASED: &[&str] = &["0017"];

fn fixture(release: &str, file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/schema")
        .join(release)
        .join(file)
}

async fn load(url: &str, backend: &str, release: &str) {
    let sql = std::fs::read_to_string(fixture(release, &format!("{backend}.sql"))).unwrap();
    if backend == "sqlite" {
        let options = url
            .parse::<sqlx::sqlite::SqliteConnectOptions>()
            .unwrap()
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

async fn a_released_database_migrates_forward_and_serves(url: String, backend: &str) {
    for release in RELEASED {
        let url = if backend == "sqlite" {
            url.replace(".db", &format!("-{release}.db"))
        } else {
            url.clone()
        };
        load(&url, backend, release).await;
        let known: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture(release, &format!("{backend}.json"))).unwrap(),
        )
        .unwrap();
        let app = TestApp::spawn(&url).await;
        let report = app.store.verify(&mut |_, _| {}).await.unwrap();
        assert!(
            report.problems.is_empty(),
            "{release}: {:?}",
            report.problems
        );
        assert_eq!(report.tickets, 3, "{release}");
        assert_eq!(report.ledger_entries, 1, "{release}");

        let token = |who: &str| known["tokens"][who].as_str().unwrap().to_owned();
        let ticket = |which: &str| known["tickets"][which].as_str().unwrap().to_owned();
        let get = |who: &str, path: String| {
            app.client
                .get(app.url(&path))
                .bearer_auth(token(who))
                .send()
        };
        // The released build's tokens sign in; its requests read as they were.
        let mine: Value = get("resident", "/api/v1/tickets".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            mine["items"].as_array().unwrap().len(),
            3,
            "{release}: {mine}"
        );
        let closed: Value = get("resident", format!("/api/v1/tickets/{}", ticket("closed")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(closed["state"], "closed", "{release}");
        assert_eq!(closed["rating"], 5, "{release}: {closed}");
        let ledger: Value = get(
            "member",
            format!(
                "/api/v1/members/{}/ledger",
                closed["assignee"]["id"].as_str().unwrap()
            ),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        assert_eq!(ledger["hours"], 1.5, "{release}: {ledger}");
        // An open one moves on under the current build.
        let r = app
            .client
            .post(app.url(&format!(
                "/api/v1/tickets/{}/actions/triage",
                ticket("submitted")
            )))
            .bearer_auth(token("secretary"))
            .json(&json!({"note": "升级后受理"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{release}");
        let report = app.store.verify(&mut |_, _| {}).await.unwrap();
        assert!(
            report.problems.is_empty(),
            "{release}: {:?}",
            report.problems
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_released_databases_migrate_forward_and_serve() {
    a_released_database_migrates_forward_and_serves(crate::support::sqlite_url().await, "sqlite")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_released_databases_migrate_forward_and_serve() {
    let Some(url) = crate::support::postgres_url().await else {
        return;
    };
    a_released_database_migrates_forward_and_serves(url, "postgres").await;
}
