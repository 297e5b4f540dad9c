//! A database outage under load (PostgreSQL): the server's connections are killed with
//! `pg_terminate_backend` again and again while requests run. Requests fail with a 503
//! problem document while the database is away, never another 5xx; the server recovers by
//! itself; everything acknowledged is there afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use workflow_core::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killed_connections_are_503s_then_the_server_recovers() {
    let Some(url) = crate::support::postgres_url().await else {
        return;
    };
    let app = Arc::new(TestApp::spawn(&url).await);
    let database = url.rsplit('/').next().unwrap().to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (app, stop) = (app.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut acked, mut unavailable) = (Vec::new(), 0);
            while !stop.load(Ordering::Relaxed) {
                let r = app
                    .post(
                        "resident",
                        "/api/v1/tickets",
                        json!({"category": "sanitation", "description": "停电测试"}),
                    )
                    .await;
                match r.status {
                    StatusCode::CREATED => acked.push(r.body["id"].as_str().unwrap().to_owned()),
                    StatusCode::SERVICE_UNAVAILABLE => {
                        assert_eq!(r.code(), "unavailable");
                        unavailable += 1;
                    }
                    other => panic!("unexpected {other}: {:?}", r.body),
                }
            }
            (acked, unavailable)
        }));
    }
    // Kill every connection of the server's database, five times, while the load runs.
    let admin = std::env::var("LINLI_TEST_DATABASE_URL").unwrap();
    // A bare pool: nothing is migrated in the server's own database.
    let pool = &sqlx::PgPool::connect(&admin).await.unwrap();
    let mut killed = 0i64;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(&database)
        .fetch_one(pool)
        .await
        .unwrap();
        killed += n;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut acked, mut unavailable) = (Vec::new(), 0);
    for l in load {
        let (a, u) = l.await.unwrap();
        acked.extend(a);
        unavailable += u;
    }
    assert!(killed > 0, "connections were killed");
    eprintln!(
        "outage: {killed} connections killed, {} acknowledged, {unavailable} answered 503",
        acked.len()
    );
    // Recovered by itself: ready, and serving.
    let ready = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(ready.status, StatusCode::OK);
    app.submit("resident", "repair", "恢复之后").await;
    // Nothing acknowledged was lost.
    for id in &acked {
        let t = app
            .store
            .ticket(
                id.parse().unwrap(),
                &workflow_core::store::Scope::Everything,
            )
            .await
            .unwrap();
        assert!(t.is_some(), "acknowledged ticket {id} is missing");
    }
}
