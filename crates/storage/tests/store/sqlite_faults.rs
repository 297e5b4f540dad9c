//! SQLite when the disk is full or the database is read-only: writes fail with a clear,
//! transient error (HTTP 503), nothing is half-written, reads go on, `integrity_check` passes,
//! and writing resumes when space (or write access) returns.
//!
//! Simulated at SQLite's level: `max_page_count` is the disk filling up, `query_only` a
//! read-only database. (Tests run as root, for whom a file's permission bits stop nothing.)

use crate::support::*;
use workflow_core::store::{Scope, Store, StoreError};

async fn integrity(s: &storage::SqlStore) -> String {
    sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(s.sqlite_pool().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_and_a_read_only_file_fail_cleanly_and_corrupt_nothing() {
    let s = sqlite_store().await;
    let w = World::new();
    let first = w.submit(now());
    s.apply(&first, None).await.unwrap();
    let writer = s.sqlite_pool().unwrap();

    // The disk fills up: the database may not grow past its present size.
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(writer)
        .await
        .unwrap();
    sqlx::query(&format!("PRAGMA max_page_count = {pages}"))
        .execute(writer)
        .await
        .unwrap();
    let mut written = Vec::new();
    let err = loop {
        let d = w.submit_with(&"满".repeat(1500), now());
        match s.apply(&d, None).await {
            Ok(()) => written.push(d.ticket.id),
            Err(e) => break (e, d.ticket.id),
        }
        assert!(written.len() < 10_000, "the page cap never bit");
    };
    let (err, refused) = err;
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("full")),
        "{err}"
    );
    assert!(
        s.ticket(refused, &Scope::Everything)
            .await
            .unwrap()
            .is_none(),
        "nothing half-written"
    );
    assert!(s.events(refused).await.unwrap().is_empty());
    assert!(
        s.ticket(first.ticket.id, &Scope::Everything)
            .await
            .unwrap()
            .is_some(),
        "reads go on"
    );
    assert_eq!(integrity(&s).await, "ok");
    // Space returns: writing resumes.
    sqlx::query("PRAGMA max_page_count = 1073741823")
        .execute(writer)
        .await
        .unwrap();
    s.apply(&w.submit(now()), None).await.unwrap();

    // The database turns read-only.
    sqlx::query("PRAGMA query_only = 1")
        .execute(writer)
        .await
        .unwrap();
    let d = w.submit(now());
    let err = s.apply(&d, None).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Unavailable(m) if m.contains("readonly")),
        "{err}"
    );
    assert!(
        s.ticket(d.ticket.id, &Scope::Everything)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(integrity(&s).await, "ok");
    sqlx::query("PRAGMA query_only = 0")
        .execute(writer)
        .await
        .unwrap();
    s.apply(&w.submit(now()), None).await.unwrap();
    for id in written {
        let t = s.ticket(id, &Scope::Everything).await.unwrap().unwrap();
        assert_eq!(
            workflow_core::Ticket::replay(&s.events(id).await.unwrap()).unwrap(),
            t
        );
    }
}
