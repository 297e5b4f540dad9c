//! Group commit keeps single-write semantics: in a batch formed by many concurrent callers,
//! every write gets the answer it would have got alone, what succeeds is all there, and what
//! fails left nothing behind. Runs on both backends.

use std::sync::Arc;

use crate::support::*;
use futures_util::future::join_all;
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::store::*;
use workflow_core::*;

/// What a concurrent caller tried, and so what it must be told.
#[derive(Debug)]
enum Expect {
    Ok,
    Conflict,
    Duplicate,
    IdempotencyMismatch,
}

fn check(expect: &Expect, got: &Result<(), StoreError>) -> bool {
    matches!(
        (expect, got),
        (Expect::Ok, Ok(()))
            | (Expect::Conflict, Err(StoreError::Conflict { .. }))
            | (Expect::Duplicate, Err(StoreError::Duplicate(_)))
            | (
                Expect::IdempotencyMismatch,
                Err(StoreError::IdempotencyMismatch(_))
            )
    )
}

fn record(caller: Uuid, key: &str, d: &Decision) -> IdempotencyRecord {
    IdempotencyRecord {
        caller,
        key: key.into(),
        request_hash: format!("hash of {}", d.ticket.id),
        ticket_id: d.ticket.id,
        response: serde_json::json!({ "id": d.ticket.id }).to_string(),
    }
}

async fn mixed_concurrent_writes_each_get_their_own_answer(s: SqlStore) {
    let w = Arc::new(World::new());
    // 60 submitted tickets to act on.
    let mut tickets = Vec::new();
    for _ in 0..60 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let mut writes: Vec<(Expect, Decision, Option<IdempotencyRecord>)> = Vec::new();
    for t in &tickets {
        // Good: triage at the current version.
        writes.push((
            Expect::Ok,
            w.act(t, &w.secretary, "triage", Fields::default()),
            None,
        ));
    }
    for t in tickets.iter().take(20) {
        // Stale: a decision from a version the ticket has already left.
        let note = Fields {
            note: Some("迟到的一次分诊".into()),
            ..Fields::default()
        };
        let mut d = w.act(t, &w.secretary, "triage", note);
        // Consistent in itself (its events follow the version it names), so that only the
        // version check refuses it, not the events' key.
        let shift = 7;
        d.expected_version += shift;
        d.ticket.version += shift;
        for e in &mut d.events {
            e.seq += shift;
        }
        writes.push((Expect::Conflict, d, None));
    }
    for t in tickets.iter().take(5) {
        // Duplicate: a submission of a ticket id that exists.
        let mut d = w.submit_with("重复的编号", now());
        d.ticket.id = t.id;
        for e in &mut d.events {
            e.ticket_id = t.id;
        }
        writes.push((Expect::Duplicate, d, None));
    }
    // Idempotency: a key already stored, and one key used twice within the concurrent set
    // (exactly one of those two wins).
    let stored = w.submit(now());
    s.apply(&stored, Some(&record(w.resident.id, "already", &stored)))
        .await
        .unwrap();
    let again = w.submit(now());
    let rec = record(w.resident.id, "already", &again);
    writes.push((Expect::IdempotencyMismatch, again, Some(rec)));
    let first = w.submit(now());
    let second = w.submit(now());
    let (r1, r2) = (
        record(w.resident.id, "twice", &first),
        record(w.resident.id, "twice", &second),
    );
    // New submissions with fresh keys succeed; a volunteer entered them for the resident.
    for i in 0..20 {
        let d = w.submit_as(&w.member, "王奶奶来电: 灯坏了", now());
        let rec = record(w.resident.id, &format!("fresh-{i}"), &d);
        writes.push((Expect::Ok, d, Some(rec)));
    }

    let mut tasks = Vec::new();
    for (expect, d, rec) in writes {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let got = s.apply(&d, rec.as_ref()).await;
            (expect, d, got)
        }));
    }
    let twice: Vec<_> = [(first, r1), (second, r2)]
        .into_iter()
        .map(|(d, rec)| {
            let s = s.clone();
            tokio::spawn(async move {
                let got = s.apply(&d, Some(&rec)).await;
                (d, got)
            })
        })
        .collect();

    for task in tasks {
        let (expect, d, got) = task.await.unwrap();
        assert!(check(&expect, &got), "expected {expect:?}, got {got:?}");
        let stored = s.ticket(d.ticket.id, &Scope::Everything).await.unwrap();
        match expect {
            Expect::Ok => {
                assert_eq!(stored.as_ref(), Some(&d.ticket), "a success is all there");
                let events = s.events(d.ticket.id).await.unwrap();
                assert_eq!(events.len() as u64, d.ticket.version);
                assert_eq!(Ticket::replay(&events).unwrap(), d.ticket);
            }
            Expect::IdempotencyMismatch => {
                assert_eq!(stored, None, "a refused submission leaves no ticket")
            }
            _ => {
                let events = s.events(d.ticket.id).await.unwrap();
                // The first event is the write's own (its note, its text).
                assert!(
                    !events.contains(&d.events[0]),
                    "a failure left nothing: {expect:?} {got:?}"
                );
            }
        }
    }
    let mut winners = 0;
    for task in join_all(twice).await {
        let (d, got) = task.unwrap();
        let stored = s.ticket(d.ticket.id, &Scope::Everything).await.unwrap();
        match got {
            Ok(()) => {
                winners += 1;
                assert!(stored.is_some());
            }
            Err(StoreError::IdempotencyMismatch(_)) => assert!(stored.is_none()),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(winners, 1, "one key, one ticket");
    // The volunteer who entered them sees them, batched or not (the proxy column is written).
    let proxy = Scope::Assignee {
        person: w.member.id,
        teams: vec![],
        community: None,
    };
    let entered = first_page(&s, &proxy).await;
    assert_eq!(entered.len(), 20);
    // Every triaged ticket holds its submission's events and the triage's, nothing else.
    let triage_events = w
        .act(&tickets[0], &w.secretary, "triage", Fields::default())
        .events
        .len() as u64;
    for t in &tickets {
        let events = s.events(t.id).await.unwrap();
        assert_eq!(
            events.len() as u64,
            t.version + triage_events,
            "no doubled events"
        );
    }
    let stats = s.writer_stats().expect("group commit is on by default");
    assert!(
        stats.batches > 0 && stats.batched > stats.batches,
        "concurrent callers shared transactions: {stats:?}"
    );
}

async fn concurrent_fires_and_actions_on_the_same_tickets(s: SqlStore) {
    let w = Arc::new(World::new());
    // Dispatched tickets: each has an accept-expiry timer due in 30 minutes.
    let mut tickets = Vec::new();
    for _ in 0..40 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        let d = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
        s.apply(&d, None).await.unwrap();
        let d = w.act(&d.ticket, &w.secretary, "dispatch", w.to_member());
        s.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let later = jiff::Timestamp::from_second(now().as_second() + 7 * 24 * 3600).unwrap();
    let owner = Uuid::now_v7();
    let claimed = s
        .claim_due(later, 10_000, owner, later)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| tickets.iter().any(|t| t.id == c.ticket_id))
        .collect::<Vec<_>>();
    assert!(!claimed.is_empty());
    // For each claimed timer, at once: the member accepts (which cancels the expiry) and
    // the timer is fired with no decision (a discard). Whichever order they land in, the
    // accept succeeds once, the fire either deletes the timer or finds it gone, and no
    // timer outlives the state it belonged to.
    eprintln!("{} timers claimed", claimed.len());
    let mut tasks = Vec::new();
    for t in &tickets {
        let accept = w.act(t, &w.member, "accept", Fields::default());
        let s = s.clone();
        tasks.push(tokio::spawn(async move { s.apply(&accept, None).await }));
    }
    for c in &claimed {
        let (s2, c) = (s.clone(), c.clone());
        tasks.push(tokio::spawn(async move {
            match s2.fire(&c, None).await {
                Ok(()) | Err(StoreError::TimerGone) => Ok(()),
                other => other,
            }
        }));
    }
    for t in join_all(tasks).await {
        t.unwrap().unwrap();
    }
    for c in &claimed {
        let t = s
            .ticket(c.ticket_id, &Scope::Everything)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(t.state, "accepted");
        assert_eq!(s.events(t.id).await.unwrap().len() as u64, t.version);
    }
    // The accept-expiry keys are gone: claiming far in the future finds none of them.
    let leftover = s
        .claim_due(later, 10_000, Uuid::now_v7(), later)
        .await
        .unwrap();
    assert!(
        leftover.iter().all(|l| !claimed
            .iter()
            .any(|c| c.ticket_id == l.ticket_id && c.key == l.key)),
        "a cancelled or fired timer came back: {leftover:?}"
    );
}

/// Stale decisions, each consistent in itself (its events follow the version it names) and
/// each the only write to its ticket, batched among good ones: only the version check can
/// refuse them, and it refuses them alone.
async fn stale_decisions_in_a_batch_fail_alone(s: SqlStore) {
    let w = Arc::new(World::new());
    let mut tickets = Vec::new();
    for _ in 0..48 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let mut tasks = Vec::new();
    for (i, t) in tickets.iter().enumerate() {
        let mut d = w.act(t, &w.secretary, "triage", Fields::default());
        let stale = i % 4 == 0;
        if stale {
            let shift = 5;
            d.expected_version += shift;
            d.ticket.version += shift;
            for e in &mut d.events {
                e.seq += shift;
            }
        }
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let got = s.apply(&d, None).await;
            (stale, d, got)
        }));
    }
    for task in join_all(tasks).await {
        let (stale, d, got) = task.unwrap();
        let stored = s.ticket(d.ticket.id, &Scope::Everything).await.unwrap();
        let events = s.events(d.ticket.id).await.unwrap();
        if stale {
            assert!(matches!(got, Err(StoreError::Conflict { .. })), "{got:?}");
            assert_eq!(
                stored.unwrap().state,
                "submitted",
                "the ticket did not move"
            );
            assert!(
                events.iter().all(|e| e.seq <= 3),
                "a refused write left its events: {events:?}"
            );
        } else {
            assert!(got.is_ok(), "{got:?}");
            assert_eq!(stored.as_ref(), Some(&d.ticket));
            assert_eq!(events.len() as u64, d.ticket.version);
        }
    }
}

/// Tickets dispatched in batches are listed for their volunteer: the columns the lists read
/// (on SQLite written by a statement of their own where they changed) are written in a
/// batch too.
async fn batched_dispatches_are_listed_for_the_volunteer(s: SqlStore) {
    let w = Arc::new(World::new());
    let mut triaged = Vec::new();
    for _ in 0..30 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
        s.apply(&t, None).await.unwrap();
        triaged.push(t.ticket);
    }
    let volunteer = Scope::Assignee {
        person: w.member.id,
        teams: vec![],
        community: None,
    };
    assert!(first_page(&s, &volunteer).await.is_empty());
    let before = s.writer_stats().unwrap();
    let dispatches = triaged.iter().map(|t| {
        let (s, d) = (s.clone(), w.act(t, &w.secretary, "dispatch", w.to_member()));
        tokio::spawn(async move { s.apply(&d, None).await })
    });
    for written in join_all(dispatches).await {
        written.unwrap().unwrap();
    }
    let stats = s.writer_stats().unwrap() - before;
    assert!(stats.batched > 0, "some dispatches were batched: {stats:?}");
    let listed = first_page(&s, &volunteer).await;
    assert_eq!(
        listed.len(),
        30,
        "every dispatched ticket is the volunteer's"
    );
}

/// Callers that stop waiting at every moment of their write (a timeout from nothing up to
/// 2 ms) leave nothing half-written and the writer able to go on: each ticket there is whole,
/// and the write after each is written.
async fn writes_given_up_halfway_leave_nothing_half_written(s: SqlStore) {
    let w = World::new();
    let mut given_up = Vec::new();
    for i in 0..200u64 {
        let d = w.submit(now());
        let wait = std::time::Duration::from_micros(i * 10);
        let _ = tokio::time::timeout(wait, s.apply(&d, None)).await;
        given_up.push(d.ticket.id);
        let next = w.submit(now());
        s.apply(&next, None)
            .await
            .unwrap_or_else(|e| panic!("the write after one given up at {wait:?}: {e}"));
    }
    // Let a write that was still going finish before reading.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for id in given_up {
        let events = s.events(id).await.unwrap();
        let stored = s.ticket(id, &Scope::Everything).await.unwrap();
        match stored {
            Some(t) => assert_eq!(Ticket::replay(&events).unwrap(), t, "whole"),
            None => assert!(events.is_empty(), "no events without their ticket"),
        }
    }
}

backends! {
    writes_given_up_halfway_leave_nothing_half_written,
    batched_dispatches_are_listed_for_the_volunteer,
    stale_decisions_in_a_batch_fail_alone,
    mixed_concurrent_writes_each_get_their_own_answer,
    concurrent_fires_and_actions_on_the_same_tickets,
}

/// Two nodes on one PostgreSQL database race the same idempotency key inside their own
/// batches: one wins; the other node's batch is not failed for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_racing_one_key() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let (a, b) = (connect(&url).await, connect(&url).await);
    let w = Arc::new(World::new());
    for round in 0..10 {
        let mut tasks = Vec::new();
        let key = format!("shared-{round}");
        for (i, node) in [a.clone(), b.clone()].into_iter().enumerate() {
            let d = w.submit(now());
            let rec = record(w.resident.id, &key, &d);
            let first = node.clone();
            tasks.push(tokio::spawn(async move {
                (true, i, first.apply(&d, Some(&rec)).await)
            }));
            for _ in 0..15 {
                let d = w.submit(now());
                let node = node.clone();
                tasks.push(tokio::spawn(async move {
                    (false, i, node.apply(&d, None).await)
                }));
            }
        }
        let mut shared_ok = 0;
        for t in join_all(tasks).await {
            match t.unwrap() {
                (true, _, Ok(())) => shared_ok += 1,
                (true, _, Err(StoreError::IdempotencyMismatch(_))) => {}
                (shared, node, got) => {
                    assert!(got.is_ok(), "node {node} shared={shared}: {got:?}")
                }
            }
        }
        assert_eq!(shared_ok, 1, "round {round}: one key, one ticket");
    }
}

/// On PostgreSQL a batch whose writes all hold goes in as one checked statement: concurrent
/// writes that conflict with nothing are never read back first (a broken check, refusing
/// every batch, would still give the right answers, only slower: this is what shows it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_batches_that_conflict_with_nothing_are_not_reread() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let w = Arc::new(World::new());
    let mut tickets = Vec::new();
    for _ in 0..64 {
        let d = w.submit(now());
        s.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let mut tasks = Vec::new();
    for t in &tickets {
        for d in [
            w.act(t, &w.secretary, "triage", Fields::default()),
            w.submit(now()),
        ] {
            let s = s.clone();
            tasks.push(tokio::spawn(async move { s.apply(&d, None).await }));
        }
    }
    for t in join_all(tasks).await {
        t.unwrap().unwrap();
    }
    let stats = s.writer_stats().unwrap();
    assert!(stats.batches > 0, "batches formed: {stats:?}");
    assert_eq!(stats.reread, 0, "no batch was refused: {stats:?}");
    for t in &tickets {
        let stored = s.ticket(t.id, &Scope::Everything).await.unwrap().unwrap();
        assert_eq!(stored.state, "triaged");
        assert_eq!(s.events(t.id).await.unwrap().len() as u64, stored.version);
    }
}

/// Two nodes on one PostgreSQL database dispatch the same tickets at once, each from the
/// version both read, inside their own batches: each ticket has one winner and one
/// conflict, and holds exactly the winner's events (the batch's check meets a version
/// another node's batch moved while it waited for the row).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_dispatching_the_same_tickets_have_one_winner_each() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let (a, b) = (connect(&url).await, connect(&url).await);
    let w = Arc::new(World::new());
    let mut tickets = Vec::new();
    for _ in 0..40 {
        let d = w.submit(now());
        a.apply(&d, None).await.unwrap();
        let d = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
        a.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let mut tasks = Vec::new();
    for t in &tickets {
        for node in [a.clone(), b.clone()] {
            let d = w.act(t, &w.secretary, "dispatch", w.to_member());
            tasks.push(tokio::spawn(async move {
                let got = node.apply(&d, None).await;
                (d, got)
            }));
        }
    }
    let mut won = std::collections::HashMap::new();
    for t in join_all(tasks).await {
        let (d, got) = t.unwrap();
        match got {
            Ok(()) => assert!(won.insert(d.ticket.id, d).is_none(), "two winners"),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won.len(), tickets.len(), "every ticket has a winner");
    for (id, d) in &won {
        let stored = a.ticket(*id, &Scope::Everything).await.unwrap().unwrap();
        assert_eq!(&stored, &d.ticket, "the winner's write is what is stored");
        let events = a.events(*id).await.unwrap();
        assert_eq!(events.len() as u64, stored.version, "no doubled events");
        assert_eq!(Ticket::replay(&events).unwrap(), stored);
    }
}

/// A writer keeps its connection between batches; when the server closes it (a restart),
/// the batch that meets the closed connection is written alone instead, and the writers go
/// on batching on new connections: no caller is failed for it. Closing the store still
/// returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writers_go_on_after_the_server_closes_their_connections() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let w = Arc::new(World::new());
    let submit_many = |n: usize| {
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let (s, d) = (s.clone(), w.submit(now()));
                tokio::spawn(async move { s.apply(&d, None).await.map(|()| d.ticket.id) })
            })
            .collect();
        join_all(tasks)
    };
    for t in submit_many(64).await {
        t.unwrap().unwrap();
    }
    let before = s.writer_stats().unwrap();
    assert!(
        before.batches > 0,
        "the writers took connections: {before:?}"
    );
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&sqlx::PgPool::connect(&url).await.unwrap())
    .await
    .unwrap();
    assert!(closed > 0, "the store's connections were closed");
    // Past the idle time after which a pooled connection is pinged before use.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut alone = Vec::new();
    for round in 0..6 {
        let before_round = s.writer_stats().unwrap().alone;
        for t in submit_many(64).await {
            let id = t.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(s.ticket(id, &Scope::Everything).await.unwrap().is_some());
        }
        alone.push(s.writer_stats().unwrap().alone - before_round);
    }
    // Each writer meets its closed connection once, in one batch written alone.
    let failed_rounds = alone.iter().filter(|&&n| n > 32).count();
    assert!(
        failed_rounds <= 2,
        "written alone per round: {alone:?} (a writer kept its closed connection)"
    );
    // Closing the store stops the writers, which give their connections back.
    let closing = tokio::time::timeout(std::time::Duration::from_secs(10), s.close());
    closing
        .await
        .expect("the store closes with its writers holding connections");
}

/// While one write is being written, a write that finds nobody queued waits for a
/// companion (or for that write) instead of taking the second writer for a transaction of
/// its own: one commit a write, beside a commit in flight, is what made PostgreSQL's share
/// of a lifecycle grow under a moderate load (docs/DECISIONS.md, "Group commit").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lone_write_beside_a_busy_writer_waits_for_a_companion() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let w = Arc::new(World::new());
    let first = w.submit(now());
    s.apply(&first, None).await.unwrap();
    // Another session holds the ticket's row, so a write to it is stuck in its writer.
    let other = sqlx::PgPool::connect(&url).await.unwrap();
    let mut holding = other.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM tickets WHERE id = $1 FOR UPDATE")
        .bind(first.ticket.id)
        .execute(&mut *holding)
        .await
        .unwrap();
    let before = s.writer_stats().unwrap();
    let triage = w.act(&first.ticket, &w.secretary, "triage", Fields::default());
    let stuck = tokio::spawn({
        let s = s.clone();
        async move { s.apply(&triage, None).await }
    });
    let apply = |d: Decision| {
        let s = s.clone();
        tokio::spawn(async move { s.apply(&d, None).await })
    };
    // Until the stuck write waits on the lock, holding its writer.
    let waiting_on_the_lock = "SELECT count(*) FROM pg_stat_activity \
        WHERE datname = current_database() AND wait_event_type = 'Lock'";
    let mut stuck_on_the_lock = false;
    for _ in 0..200 {
        let n: i64 = sqlx::query_scalar(waiting_on_the_lock)
            .fetch_one(&other)
            .await
            .unwrap();
        stuck_on_the_lock = n > 0;
        if stuck_on_the_lock {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(stuck_on_the_lock, "the first write waits on the row lock");
    let lone = apply(w.submit(now()));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !lone.is_finished(),
        "a lone write beside a busy writer waits for a companion"
    );
    let companion = apply(w.submit(now()));
    let waited = std::time::Duration::from_secs(10);
    for written in [lone, companion] {
        let written = tokio::time::timeout(waited, written).await;
        written.expect("the pair is written").unwrap().unwrap();
    }
    let stats = s.writer_stats().unwrap() - before;
    assert_eq!(
        (stats.batches, stats.batched, stats.alone),
        (1, 2, 1),
        "the stuck write alone, the other two in one batch"
    );
    holding.rollback().await.unwrap();
    let stuck = tokio::time::timeout(waited, stuck).await;
    stuck.expect("the stuck write goes on").unwrap().unwrap();
}
