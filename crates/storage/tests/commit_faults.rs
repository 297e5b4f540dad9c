//! SQLite when the disk refuses to grow its files, so that a `COMMIT` itself fails (the
//! write-ahead log cannot take the transaction's pages): every write path answers
//! `Unavailable` (HTTP 503) and writes nothing; none is ever answered as committed without
//! being in the file; when the disk takes writes again, writing resumes on the same store;
//! and after a restart everything acknowledged before, during and after is there.
//!
//! The fault is real: the process's file size limit (`RLIMIT_FSIZE`) is lowered under the
//! files' present sizes, so that growing any of them fails with `EFBIG` as a full disk fails
//! with `ENOSPC` (SQLite reports an I/O error rather than "full"; its handling is the same).
//! The limit is the whole process's, so this file holds one test, which restores it on the
//! way out, failing or not.

mod support;

use std::sync::Arc;

use support::*;
use uuid::Uuid;
use workflow_core::store::{IdempotencyRecord, Scope, Store, StoreError};
use workflow_core::{Decision, Fields, Ticket};

/// While this lives, no file of this process may grow (as on a full disk).
struct DiskFull {
    before: libc::rlimit,
}

impl DiskFull {
    fn now() -> DiskFull {
        // SAFETY: plain system calls on this process's own limits and signal disposition.
        unsafe {
            // Without this the kernel stops the process (SIGXFSZ) instead of failing the write.
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let mut before = std::mem::zeroed::<libc::rlimit>();
            assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut before), 0);
            let full = libc::rlimit {
                rlim_cur: 0,
                rlim_max: before.rlim_max,
            };
            assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &full), 0);
            DiskFull { before }
        }
    }
}

impl Drop for DiskFull {
    fn drop(&mut self) {
        // SAFETY: as above.
        unsafe {
            libc::setrlimit(libc::RLIMIT_FSIZE, &self.before);
        }
    }
}

fn record(d: &Decision) -> IdempotencyRecord {
    IdempotencyRecord {
        caller: d.ticket.requester,
        key: Uuid::now_v7().to_string(),
        request_hash: "hash".into(),
        ticket_id: d.ticket.id,
        response: "{}".into(),
    }
}

/// What one write path did while the disk was full: what it acknowledged, how often it
/// was refused.
#[derive(Default)]
struct Tally {
    acknowledged: Vec<Uuid>,
    refused: usize,
}

impl Tally {
    /// Notes a write's answer: committed, or refused as `Unavailable` (anything else, such
    /// as "cannot start a transaction within a transaction", fails the test).
    fn note(&mut self, id: Uuid, written: Result<(), StoreError>) {
        match written {
            Ok(()) => self.acknowledged.push(id),
            Err(StoreError::Unavailable(_)) => self.refused += 1,
            Err(e) => panic!("a write on a full disk must be Unavailable, not: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn commits_that_fail_on_a_full_disk_lose_nothing_acknowledged() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-full-{}.db", Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", path.display());
    let s = connect(&url).await;
    let w = Arc::new(World::new());

    // Before the disk fills: tickets to link and a claimed timer to fire later.
    let mut before: Vec<Ticket> = Vec::new();
    for _ in 0..4 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        before.push(d.ticket);
    }
    let owner = Uuid::now_v7();
    let far = now() + jiff::SignedDuration::from_hours(24 * 400);
    let timers = s.claim_due(far, 10, owner, far).await.unwrap();
    assert!(!timers.is_empty(), "a submitted ticket has a timer");
    let triage = |t: &Ticket| w.act(t, &w.secretary, "triage", Fields::default());

    let mut during = Tally::default();
    {
        let _full = DiskFull::now();
        // Each path in turn, alone and mixed, several times: after a refusal the next write
        // must be refused too, never answered as committed into a transaction left open.
        for round in 0..6 {
            let d = w.submit(now());
            during.note(d.ticket.id, s.apply(&d, None).await);
            let d = w.submit(now());
            during.note(d.ticket.id, s.apply(&d, Some(&record(&d))).await);
            let linked = [triage(&before[0]), triage(&before[1])];
            during.note(before[0].id, s.apply_linked(&linked).await);
            let fired = s.fire(&timers[0], None).await;
            during.note(timers[0].ticket_id, fired);
            let created = s.create_person(&resident(round)).await.map(|_| ());
            during.note(Uuid::nil(), created);
            // Sixteen at once, half with idempotency keys: the group writer's batches.
            let writes = (0..16).map(|i| {
                let (s, w) = (s.clone(), w.clone());
                tokio::spawn(async move {
                    let d = w.submit(now());
                    let rec = (i % 2 == 0).then(|| record(&d));
                    (d.ticket.id, s.apply(&d, rec.as_ref()).await)
                })
            });
            for write in writes.collect::<Vec<_>>() {
                let (id, written) = write.await.unwrap();
                during.note(id, written);
            }
        }
    }
    assert!(during.refused > 0, "the full disk refused nothing");
    eprintln!(
        "while full: {} acknowledged, {} refused",
        during.acknowledged.len(),
        during.refused
    );

    // The disk takes writes again: every path writes on the same store, no restart.
    let mut after = Vec::new();
    for _ in 0..3 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        after.push(d.ticket.id);
        let d = w.submit(now());
        s.apply(&d, Some(&record(&d))).await.unwrap();
        after.push(d.ticket.id);
    }
    let linked = [triage(&before[2]), triage(&before[3])];
    s.apply_linked(&linked).await.unwrap();
    s.fire(&timers[0], None).await.unwrap();
    s.create_person(&resident(99)).await.unwrap();
    let writes: Vec<_> = (0..16)
        .map(|_| {
            let (s, w) = (s.clone(), w.clone());
            tokio::spawn(async move {
                let d = w.submit(now());
                s.apply(&d, Some(&record(&d))).await.unwrap();
                d.ticket.id
            })
        })
        .collect();
    for write in writes {
        after.push(write.await.unwrap());
    }

    let acknowledged: Vec<Uuid> = before
        .iter()
        .map(|t| t.id)
        .chain(
            during
                .acknowledged
                .iter()
                .copied()
                .filter(|id| !id.is_nil()),
        )
        .chain(after)
        .collect();
    let check = |s: storage::SqlStore, when: &'static str| {
        let acknowledged = acknowledged.clone();
        async move {
            for id in &acknowledged {
                let t = s.ticket(*id, &Scope::Everything).await.unwrap();
                let t = t.unwrap_or_else(|| panic!("{when}: acknowledged ticket {id} is missing"));
                let replayed = Ticket::replay(&s.events(*id).await.unwrap()).unwrap();
                assert_eq!(replayed, t, "{when}: ticket {id} is its events' replay");
            }
            let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(s.sqlite_pool().unwrap())
                .await
                .unwrap();
            assert_eq!(integrity, "ok", "{when}");
        }
    };
    check(s.clone(), "at once").await;
    // Linked writes took effect on both tickets, or on neither.
    for pair in [&before[0..2], &before[2..4]] {
        let versions: Vec<u64> = futures_util::future::join_all(pair.iter().map(|t| async {
            s.ticket(t.id, &Scope::Everything)
                .await
                .unwrap()
                .unwrap()
                .version
        }))
        .await;
        assert_eq!(versions[0], versions[1], "a link is all or nothing");
    }
    s.close().await;
    check(connect(&url).await, "after a restart").await;
}

/// Someone to register while the disk is full, and after.
fn resident(n: usize) -> storage::NewPerson {
    storage::NewPerson {
        name: format!("居民{n}"),
        phone: Some("13800000000".into()),
        roles: vec![workflow_core::Role::Resident],
        ..storage::NewPerson::default()
    }
}
