//! One conformance suite for every backend: each test is written once as a function of a
//! store, and `backends!` runs it on SQLite always and on PostgreSQL when
//! `LINLI_TEST_DATABASE_URL` is set (each test in a database of its own).

use std::collections::HashSet;
use std::sync::Arc;

use crate::support::*;
use futures_util::future::join_all;
use jiff::{SignedDuration, Timestamp};
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::store::*;
use workflow_core::*;

async fn a_decision_round_trips_with_its_events(s: SqlStore) {
    let w = World::new();
    let hostile = "楼道灯坏了 💡🙏 '; DROP TABLE tickets; -- \"quoted\" \\ back\nslash";
    let d = w.submit_with(hostile, now());
    s.apply(&d, None).await.unwrap();
    let t = s
        .ticket(d.ticket.id, &Scope::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t, d.ticket);
    assert_eq!(t.description, hostile, "byte for byte");
    let events = s.events(t.id).await.unwrap();
    assert_eq!(events, d.events);
    assert_eq!(
        Ticket::replay(&events).unwrap(),
        t,
        "the stored projection equals the replay"
    );
}

async fn a_stale_version_is_a_conflict_and_writes_nothing(s: SqlStore) {
    let w = World::new();
    let d = w.submit(now());
    s.apply(&d, None).await.unwrap();
    let triage = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triage, None).await.unwrap();
    // The same decision again: based on a version that is gone.
    let err = s.apply(&triage, None).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            actual: Some(triage.ticket.version)
        }
    );
    assert_eq!(
        s.events(d.ticket.id).await.unwrap().len() as u64,
        triage.ticket.version
    );
    // A duplicate submission is refused the same way.
    assert_eq!(
        s.apply(&d, None).await.unwrap_err(),
        StoreError::Duplicate(d.ticket.id)
    );
}

/// A decision on a ticket that is not stored changes no ticket row, so nothing of it may be
/// written: not its events, timers or messages, which no foreign key refuses on PostgreSQL
/// (the statement's guard fails it whole there, without a transaction around it).
async fn a_decision_for_a_missing_ticket_is_a_conflict_and_writes_nothing(s: SqlStore) {
    let w = World::new();
    let d = w.submit(now());
    let triage = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    let dispatch = w.act(&triage.ticket, &w.secretary, "dispatch", w.to_member());
    assert!(
        !dispatch.notifications.is_empty() && !dispatch.timers.is_empty(),
        "the dispatch would write messages and timers"
    );
    assert_eq!(
        s.apply(&dispatch, None).await.unwrap_err(),
        StoreError::Conflict { actual: None }
    );
    assert!(s.events(d.ticket.id).await.unwrap().is_empty());
    for table in ["timers", "outbox"] {
        let sql = format!("SELECT count(*) FROM {table} WHERE ticket_id = $1 AND $2 = ''");
        assert_eq!(count(&s, &sql, d.ticket.id, "").await, 0, "{table}");
    }
}

/// A lone write sends a decision's statements together (one `WITH` statement on PostgreSQL,
/// one text of several statements on SQLite): every row of every kind must arrive.
async fn every_row_of_a_decision_is_written(s: SqlStore) {
    let w = World::new();
    let submitted = w.submit(now());
    s.apply(&submitted, None).await.unwrap();
    let mut t = submitted.ticket;
    let rating = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    let hours = Fields {
        hours: Some(1.5),
        ..Fields::default()
    };
    let steps = [
        (&w.secretary, "triage", Fields::default()),
        (&w.secretary, "dispatch", w.to_member()),
        (&w.member, "accept", Fields::default()),
        (&w.member, "complete", hours),
        (&w.resident, "confirm", rating),
    ];
    let (mut notifications, mut credits) = (submitted.notifications.len() as i64, 0);
    for (who, action, fields) in steps {
        let d = w.act(&t, who, action, fields);
        s.apply(&d, None).await.unwrap();
        notifications += d.notifications.len() as i64;
        credits += d
            .events
            .iter()
            .filter(|e| {
                matches!(
                    &e.kind,
                    EventKind::Transitioned {
                        credit: Some(_),
                        ..
                    }
                )
            })
            .count() as i64;
        let timers: HashSet<String> = d
            .timers
            .iter()
            .filter_map(|c| match c {
                TimerChange::Set(t) => Some(t.key.to_string()),
                TimerChange::Cancel(_) => None,
            })
            .collect();
        for key in &timers {
            let n = count(
                &s,
                "SELECT count(*) FROM timers WHERE ticket_id = $1 AND key = $2",
                d.ticket.id,
                key,
            )
            .await;
            assert_eq!(n, 1, "{action} set the timer {key}");
        }
        t = d.ticket;
    }
    assert!(notifications > 0 && credits == 1);
    let outbox = count(
        &s,
        "SELECT count(*) FROM outbox WHERE ticket_id = $1 AND event <> $2",
        t.id,
        "",
    )
    .await;
    assert_eq!(outbox, notifications, "every notification is in the outbox");
    let ledger = count(
        &s,
        "SELECT count(*) FROM ledger WHERE ticket_id = $1 AND category <> $2",
        t.id,
        "",
    )
    .await;
    assert_eq!(ledger, credits, "the confirmation credited the volunteer");
    let timers = count(
        &s,
        "SELECT count(*) FROM timers WHERE ticket_id = $1 AND key <> $2",
        t.id,
        "follow_up:follow_up",
    )
    .await;
    assert_eq!(
        timers, 0,
        "closed: every timer of the ticket is gone but the follow-up call's (回访)"
    );
    assert_eq!(s.events(t.id).await.unwrap().len() as u64, t.version);
}

/// `sql`'s count, with a ticket id and a text bound to `$1` and `$2`.
async fn count(s: &SqlStore, sql: &str, id: Uuid, text: &str) -> i64 {
    match (s.pg_pool(), s.sqlite_pool()) {
        (Some(pg), _) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .bind(text)
                .fetch_one(pg)
                .await
        }
        (None, Some(lite)) => {
            sqlx::query_scalar(sql)
                .bind(id)
                .bind(text)
                .fetch_one(lite)
                .await
        }
        (None, None) => unreachable!("a store has one backend"),
    }
    .unwrap()
}

async fn thirty_two_racers_one_winner(s: SqlStore) {
    let w = Arc::new(World::new());
    let d = w.submit(now());
    s.apply(&d, None).await.unwrap();
    let base = Arc::new(d.ticket.clone());
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (s, w, base) = (s.clone(), w.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let note = Fields {
                note: Some(format!("第{i}条备注")),
                ..Fields::default()
            };
            let d = w.act(&base, &w.secretary, "triage", note);
            s.apply(&d, None).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one of 32 wins");
    let events = s.events(base.id).await.unwrap();
    assert_eq!(
        events.len() as u64,
        base.version + 1,
        "exactly one new event"
    );
}

async fn timers_are_set_replaced_cancelled_and_fired_once(s: SqlStore) {
    let w = World::new();
    let t0 = now();
    let d = w.submit(t0);
    s.apply(&d, None).await.unwrap();
    let triaged = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triaged, None).await.unwrap();
    let dispatched = w.act(&triaged.ticket, &w.secretary, "dispatch", w.to_member());
    s.apply(&dispatched, None).await.unwrap();

    // Submission set warnings and breaches for two clocks; dispatch set the expiry.
    let next = s.next_due().await.unwrap().unwrap();
    let expiry = plus(t0, 1800);
    assert_eq!(
        next, expiry,
        "the earliest is the 30-minute dispatch expiry"
    );
    assert!(
        s.claim_due(plus(t0, 60), 10, Uuid::now_v7(), plus(t0, 120))
            .await
            .unwrap()
            .is_empty()
    );

    let owner = Uuid::now_v7();
    let claimed = s
        .claim_due(expiry, 10, owner, plus(expiry, 60))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let timer = &claimed[0];
    assert_eq!(timer.key, TimerKey::State("expire".into()));
    // Claimed: nobody else gets it while the lease runs.
    assert!(
        s.claim_due(expiry, 10, Uuid::now_v7(), plus(expiry, 60))
            .await
            .unwrap()
            .is_empty()
    );

    let fired = decide_firing(&w.wf, &dispatched.ticket, &firing(timer), expiry)
        .unwrap()
        .unwrap();
    s.fire(timer, Some(&fired)).await.unwrap();
    assert_eq!(
        s.fire(timer, Some(&fired)).await.unwrap_err(),
        StoreError::TimerGone,
        "fires once"
    );
    let t = s
        .ticket(d.ticket.id, &Scope::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.state, "triaged");

    // Cancelled timers are gone: accepting stops the response clock and its timers.
    let again = w.act(&t, &w.secretary, "dispatch", w.to_member());
    s.apply(&again, None).await.unwrap();
    let accepted = w.act(&again.ticket, &w.member, "accept", Fields::default());
    s.apply(&accepted, None).await.unwrap();
    let far = plus(t0, 86_400 * 30);
    let keys: HashSet<String> = s
        .claim_due(far, 100, Uuid::now_v7(), plus(far, 60))
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.key.to_string())
        .collect();
    assert_eq!(
        keys,
        HashSet::from([
            "sla_warning:resolution".to_owned(),
            "sla_breach:resolution".to_owned()
        ]),
        "response timers and the expiry were cancelled"
    );
}

async fn one_communitys_timers_are_claimed_apart_from_the_others(s: SqlStore) {
    let (here, there) = (World::new(), World::new());
    let t0 = now();
    let mine = here.submit(t0);
    let theirs = there.submit(plus(t0, -600));
    s.apply(&mine, None).await.unwrap();
    s.apply(&theirs, None).await.unwrap();
    assert_eq!(
        s.next_due().await.unwrap(),
        s.next_due_in(there.community).await.unwrap()
    );
    let mine_next = s.next_due_in(here.community).await.unwrap().unwrap();
    assert_eq!(
        mine_next,
        s.next_due_in(there.community).await.unwrap().unwrap() + SignedDuration::from_secs(600),
        "each community's earliest, ten minutes apart as their submissions"
    );
    assert_eq!(s.next_due_in(Uuid::now_v7()).await.unwrap(), None);

    let far = plus(t0, 86_400 * 30);
    let owner = Uuid::now_v7();
    let claimed = s
        .claim_due_in(here.community, far, 100, owner, plus(far, 60))
        .await
        .unwrap();
    assert!(!claimed.is_empty());
    assert!(claimed.iter().all(|c| c.ticket_id == mine.ticket.id));
    assert_eq!(
        s.next_due_in(here.community).await.unwrap(),
        Some(plus(far, 60)),
        "claimed: the community's next is its lease's end"
    );
    let rest = s
        .claim_due(far, 100, Uuid::now_v7(), plus(far, 60))
        .await
        .unwrap();
    assert!(!rest.is_empty());
    assert!(
        rest.iter().all(|c| c.ticket_id == theirs.ticket.id),
        "the other community's timers were left for the claim across the street"
    );
}

async fn a_replaced_timer_cannot_be_fired_by_its_old_claim(s: SqlStore) {
    let w = World::new();
    let t0 = now();
    let d = w.submit(t0);
    s.apply(&d, None).await.unwrap();
    let triaged = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triaged, None).await.unwrap();
    let dispatched = w.act(&triaged.ticket, &w.secretary, "dispatch", w.to_member());
    s.apply(&dispatched, None).await.unwrap();
    let expiry = plus(t0, 1800);
    let claim = s
        .claim_due(expiry, 10, Uuid::now_v7(), plus(expiry, 60))
        .await
        .unwrap()
        .remove(0);
    // Meanwhile the secretary reassigns: the expiry timer is set anew (new epoch).
    let reassign = Fields {
        reason: Some("换人".into()),
        ..w.to_member()
    };
    let re = w.act(&dispatched.ticket, &w.secretary, "reassign", reassign);
    s.apply(&re, None).await.unwrap();
    assert_eq!(
        s.fire(&claim, None).await.unwrap_err(),
        StoreError::TimerGone
    );
}

async fn an_expired_lease_is_reclaimed(s: SqlStore) {
    let w = World::new();
    let t0 = now();
    let d = w.submit(t0);
    s.apply(&d, None).await.unwrap();
    let far = plus(t0, 86_400 * 30);
    let dead = Uuid::now_v7();
    let first = s.claim_due(far, 100, dead, plus(far, 30)).await.unwrap();
    assert!(!first.is_empty());
    assert_eq!(
        s.next_due().await.unwrap(),
        Some(plus(far, 30)),
        "next due is the lease's end"
    );
    assert!(
        s.claim_due(plus(far, 29), 100, Uuid::now_v7(), plus(far, 90))
            .await
            .unwrap()
            .is_empty()
    );
    let heir = Uuid::now_v7();
    let second = s
        .claim_due(plus(far, 30), 100, heir, plus(far, 90))
        .await
        .unwrap();
    assert_eq!(
        second.len(),
        first.len(),
        "every claim of the dead owner passes on"
    );
    assert!(second.iter().all(|c| c.owner == heir));
    // The dead owner's claim can no longer fire.
    assert_eq!(
        s.fire(&first[0], None).await.unwrap_err(),
        StoreError::TimerGone
    );
    // A clean shutdown gives claims back at once.
    s.release_claims(heir).await.unwrap();
    assert_eq!(
        s.claim_due(plus(far, 31), 100, Uuid::now_v7(), plus(far, 90))
            .await
            .unwrap()
            .len(),
        first.len()
    );
}

async fn outbox_rows_are_claimed_delivered_retried_and_parked(s: SqlStore) {
    let w = World::new();
    let t0 = now();
    let d = w.submit(t0);
    s.apply(&d, None).await.unwrap();
    let dispatched = {
        let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
        s.apply(&t, None).await.unwrap();
        let t2 = w.act(&t.ticket, &w.secretary, "dispatch", w.to_member());
        s.apply(&t2, None).await.unwrap();
        t2
    };
    let expected = d.notifications.len() + dispatched.notifications.len();
    let owner = Uuid::now_v7();
    let later = plus(t0, 10);
    let rows = s
        .claim_outbox(later, 100, owner, plus(later, 60))
        .await
        .unwrap();
    assert_eq!(rows.len(), expected);
    assert!(
        rows.iter()
            .any(|m| m.event == "dispatch" && m.recipient == Recipient::Person(w.member.id))
    );
    assert!(
        s.claim_outbox(later, 100, Uuid::now_v7(), plus(later, 60))
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    s.outbox_delivered(rows[0].id, later).await.unwrap();
    s.outbox_failed(rows[1].id, "503 from webhook", Some(plus(later, 100)))
        .await
        .unwrap();
    s.outbox_failed(rows[2].id, "410 gone", None).await.unwrap();
    s.release_claims(owner).await.unwrap();
    // After the leases end: the failed one comes back at its retry time, the parked and the
    // delivered ones never.
    let back = s
        .claim_outbox(plus(later, 100), 100, Uuid::now_v7(), plus(later, 200))
        .await
        .unwrap();
    let ids: HashSet<Uuid> = back.iter().map(|m| m.id).collect();
    assert!(ids.contains(&rows[1].id));
    assert!(!ids.contains(&rows[0].id) && !ids.contains(&rows[2].id));
    assert_eq!(
        back.iter().find(|m| m.id == rows[1].id).unwrap().attempts,
        1
    );
}

/// Messages no webhook would deliver are written delivered: not claimed, not in the backlog,
/// still in the event streams' reading; a community with a webhook of its own keeps its
/// messages waiting. Written alone and batched alike.
async fn messages_nobody_delivers_are_written_delivered(s: SqlStore) {
    let w = Arc::new(World::new());
    let elsewhere = Uuid::now_v7();
    s.set_outbox_delivery(storage::OutboxDelivery {
        everyone: false,
        communities: [elsewhere].into(),
    });
    let submit_all = |community: Uuid| {
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let mut d = w.submit(now());
                d.ticket.community_id = community;
                let s = s.clone();
                tokio::spawn(async move {
                    s.apply(&d, None).await.unwrap();
                    d
                })
            })
            .collect();
        join_all(tasks)
    };
    let quiet: Vec<Decision> = submit_all(w.community)
        .await
        .into_iter()
        .map(|t| t.unwrap())
        .collect();
    assert!(quiet.iter().all(|d| !d.notifications.is_empty()));
    let later = plus(now(), 10);
    let claim = || s.claim_outbox(later, 1000, Uuid::now_v7(), plus(later, 60));
    assert!(claim().await.unwrap().is_empty(), "nothing waits");
    assert_eq!(s.outbox_backlog().await.unwrap(), 0);
    let streamed = s
        .outbox_after(&Scope::Everything, Uuid::nil(), 1000)
        .await
        .unwrap();
    let told: usize = quiet.iter().map(|d| d.notifications.len()).sum();
    assert_eq!(streamed.len(), told, "the streams still read them");

    let hooked = submit_all(elsewhere).await;
    let waiting = claim().await.unwrap();
    let told: usize = hooked
        .into_iter()
        .map(|d| d.unwrap().notifications.len())
        .sum();
    assert_eq!(waiting.len(), told, "a webhook's community's messages wait");
    assert!(waiting.iter().all(|m| m.community_id == elsewhere));
}

async fn idempotency_records_answer_retries(s: SqlStore) {
    let w = World::new();
    let d = w.submit(now());
    let caller = w.resident.id;
    let rec = IdempotencyRecord {
        caller,
        key: "key-1".into(),
        request_hash: "h1".into(),
        ticket_id: d.ticket.id,
        response: serde_json::json!({"id": d.ticket.id, "note": "首次"}).to_string(),
    };
    assert_eq!(s.idempotency(caller, "key-1").await.unwrap(), None);
    s.apply(&d, Some(&rec)).await.unwrap();
    let stored = s.idempotency(caller, "key-1").await.unwrap().unwrap();
    assert_eq!(stored.request_hash, "h1");
    assert_eq!(stored.ticket_id, d.ticket.id);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.response).unwrap(),
        serde_json::from_str::<serde_json::Value>(&rec.response).unwrap()
    );
    // Another caller may use the same key.
    assert_eq!(s.idempotency(Uuid::now_v7(), "key-1").await.unwrap(), None);
    // A second submission racing on the same key is refused whole: no ticket is written.
    let d2 = w.submit(now());
    let err = s.apply(&d2, Some(&rec)).await.unwrap_err();
    assert!(matches!(err, StoreError::IdempotencyMismatch(_)), "{err}");
    assert!(
        s.ticket(d2.ticket.id, &Scope::Everything)
            .await
            .unwrap()
            .is_none()
    );
}

async fn a_changed_workflow_under_the_same_version_is_refused(s: SqlStore) {
    let w = World::new();
    s.register_workflow(&w.wf).await.unwrap();
    s.register_workflow(&w.wf).await.unwrap();
    let changed = changed_workflow();
    let err = s.register_workflow(&changed).await.unwrap_err();
    assert_eq!(
        err,
        StoreError::WorkflowChanged {
            id: "community-service".into(),
            version: w.wf.version
        }
    );
}

async fn visibility_is_enforced_in_the_query(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let w = World::located(&dir);
    let d = w.submit(now());
    s.apply(&d, None).await.unwrap();
    let id = d.ticket.id;
    let sees = |scope: Scope| {
        let s = s.clone();
        async move { s.ticket(id, &scope).await.unwrap().is_some() }
    };
    assert!(sees(Scope::Requester(w.resident.id)).await);
    assert!(!sees(Scope::Requester(Uuid::now_v7())).await);
    assert!(sees(Scope::Branch(dir.branch)).await);
    assert!(!sees(Scope::Branch(dir.other_branch)).await);
    assert!(sees(Scope::Community(dir.community)).await);
    assert!(!sees(Scope::Community(dir.other_community)).await);
    assert!(sees(Scope::Street(dir.street)).await);
    assert!(!sees(Scope::Street(Uuid::now_v7())).await);
    let member = Scope::Assignee {
        person: w.member.id,
        teams: vec![],
        community: Some(dir.community),
    };
    assert!(!sees(member.clone()).await, "not yet dispatched");
    let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&t, None).await.unwrap();
    let team = Fields {
        assignee: Some(Assignee::Team(dir.team)),
        ..Fields::default()
    };
    let pooled = w.act(&t.ticket, &w.secretary, "dispatch", team);
    s.apply(&pooled, None).await.unwrap();
    assert!(
        sees(Scope::Assignee {
            person: dir.team_member,
            teams: vec![dir.team],
            community: Some(dir.community),
        })
        .await,
        "the team's pool"
    );
    assert!(!sees(member.clone()).await, "not in that team");
    // A volunteer who entered a request for the resident (代办) follows it.
    let entered = w.submit_as(&w.member, "王奶奶来电: 灯坏了", now());
    assert_eq!(entered.ticket.proxy, Some(w.member.id));
    s.apply(&entered, None).await.unwrap();
    let sees_entered = || {
        let (s, member) = (s.clone(), member.clone());
        async move {
            s.ticket(entered.ticket.id, &member)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(sees_entered().await, "the proxy's own entry");
    // Tickets entered before migration 0009 held their proxy in their body alone, and get
    // the column from it. (Bodies no longer repeat the columns: put it back as it was.)
    let before_0009 = if s.is_postgres() {
        "UPDATE tickets SET proxy_id = NULL, \
         body = (body::jsonb || jsonb_build_object('proxy', proxy_id))::json \
         WHERE proxy_id IS NOT NULL"
    } else {
        "UPDATE tickets SET proxy_id = NULL, body = json_set(body, '$.proxy', \
         substr(hex(proxy_id), 1, 8) || '-' || substr(hex(proxy_id), 9, 4) || '-' || \
         substr(hex(proxy_id), 13, 4) || '-' || substr(hex(proxy_id), 17, 4) || '-' || \
         substr(hex(proxy_id), 21)) WHERE proxy_id IS NOT NULL"
    };
    execute_sql(&s, before_0009).await;
    assert!(!sees_entered().await);
    let migration = if s.is_postgres() {
        include_str!("../../../../migrations/postgres/0009_proxy.sql")
    } else {
        include_str!("../../../../migrations/sqlite/0009_proxy.sql")
    };
    let backfill = &migration[migration.find("UPDATE").unwrap()..];
    let backfill = &backfill[..=backfill.find(';').unwrap()];
    // It ran on the jsonb body of its day; migrations 0010 and 0015 made the body text.
    let backfill = match s.is_postgres() {
        true => backfill.replace("body", "body::jsonb"),
        false => backfill.to_string(),
    };
    execute_sql(&s, &backfill).await;
    assert!(sees_entered().await, "backfilled: {backfill}");
    // Lists obey the same scope.
    let mine = first_page(&s, &Scope::Requester(w.resident.id)).await;
    assert_eq!(mine.len(), 2, "hers, whoever entered them");
    let others = first_page(&s, &Scope::Branch(dir.other_branch)).await;
    assert!(others.is_empty());
}

async fn lists_filter_and_page_by_keyset(s: SqlStore) {
    let w = World::new();
    let mut ids = Vec::new();
    for i in 0..7 {
        let d = w.submit(plus(now(), i));
        s.apply(&d, None).await.unwrap();
        if i % 2 == 0 {
            let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
            s.apply(&t, None).await.unwrap();
        }
        ids.push(d.ticket.id);
    }
    ids.reverse();
    let scope = Scope::Requester(w.resident.id);
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = s
            .list(&scope, &TicketFilter::default(), Page { after, limit: 3 })
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|t| t.id);
        seen.extend(page.into_iter().map(|t| t.id));
    }
    assert_eq!(seen, ids, "newest first, each once");
    let triaged = TicketFilter {
        state: Some("triaged".into()),
        ..TicketFilter::default()
    };
    assert_eq!(
        s.list(
            &scope,
            &triaged,
            Page {
                after: None,
                limit: 50
            }
        )
        .await
        .unwrap()
        .len(),
        4
    );
    let wrong = TicketFilter {
        category: Some("legal".into()),
        ..TicketFilter::default()
    };
    assert!(
        s.list(
            &scope,
            &wrong,
            Page {
                after: None,
                limit: 50
            }
        )
        .await
        .unwrap()
        .is_empty()
    );
}

/// The lists read as unions of sets (a volunteer's, a street's) page through every ticket
/// once, newest first, a ticket in two sets (entered for a resident and then held) too, and
/// filter within every set.
async fn union_lists_page_through_each_ticket_once(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let w = World::located(&dir);
    let (mut theirs, mut held) = (Vec::new(), Vec::new());
    for i in 0..6 {
        let entered = i % 3 == 0;
        let d = match entered {
            true => w.submit_as(&w.member, "王奶奶来电: 水管漏水", plus(now(), i)),
            false => w.submit(plus(now(), i)),
        };
        s.apply(&d, None).await.unwrap();
        if i % 3 == 2 {
            continue; // nobody's but the resident's
        }
        if i != 3 {
            let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
            s.apply(&t, None).await.unwrap();
            let dispatched = w.act(&t.ticket, &w.secretary, "dispatch", w.to_member());
            s.apply(&dispatched, None).await.unwrap();
            held.push(d.ticket.id);
        }
        theirs.push(d.ticket.id);
    }
    theirs.reverse();
    held.reverse();
    let all_of = |scope: Scope, filter: TicketFilter| {
        let s = s.clone();
        async move {
            let (mut seen, mut after) = (Vec::new(), None);
            loop {
                let page = s
                    .list(&scope, &filter, Page { after, limit: 2 })
                    .await
                    .unwrap();
                let Some(last) = page.last() else {
                    return seen;
                };
                after = Some(last.id);
                seen.extend(page.iter().map(|t| t.id));
            }
        }
    };
    let volunteer = Scope::Assignee {
        person: w.member.id,
        teams: vec![],
        community: Some(dir.community),
    };
    assert_eq!(
        all_of(volunteer.clone(), TicketFilter::default()).await,
        theirs,
        "entered, held, or both; newest first, each once"
    );
    let dispatched = TicketFilter {
        state: Some("dispatched".into()),
        ..TicketFilter::default()
    };
    assert_eq!(all_of(volunteer, dispatched.clone()).await, held);

    let street = Scope::Street(dir.street);
    let everything = all_of(Scope::Community(dir.community), TicketFilter::default()).await;
    assert_eq!(everything.len(), 6);
    assert_eq!(
        all_of(street.clone(), TicketFilter::default()).await,
        everything
    );
    assert_eq!(all_of(street, dispatched).await, held);
    let elsewhere = s.create_org_unit("street", "别的街道", None).await.unwrap();
    assert!(
        all_of(Scope::Street(elsewhere), TicketFilter::default())
            .await
            .is_empty()
    );
}

async fn the_directory_resolves_tokens_buildings_and_teams(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let p = s.authenticate(&dir.member_token).await.unwrap().unwrap();
    assert_eq!(p.id, dir.team_member);
    assert_eq!(p.roles, vec![Role::Member]);
    assert_eq!(p.teams, vec![dir.team]);
    assert_eq!(s.authenticate("ll_not_a_token").await.unwrap(), None);
    // A token's answer is remembered for a few seconds, but never past a change this
    // process makes: a new team shows at once.
    let second = s
        .create_team(dir.community, "第二队", None, &[dir.team_member])
        .await
        .unwrap();
    let p = s.authenticate(&dir.member_token).await.unwrap().unwrap();
    let mut expected = vec![dir.team, second];
    let mut teams = p.teams.clone();
    expected.sort();
    teams.sort();
    assert_eq!(teams, expected, "a new team shows at once");
    assert_eq!(s.revoke_tokens(dir.team_member).await.unwrap(), 1);
    assert_eq!(
        s.authenticate(&dir.member_token).await.unwrap(),
        None,
        "revoked at once"
    );
    let loc = s.locate(dir.building).await.unwrap().unwrap();
    assert_eq!(
        (loc.branch_id, loc.community_id),
        (dir.branch, dir.community)
    );
    assert_eq!(
        s.locate(dir.community).await.unwrap(),
        None,
        "only buildings locate"
    );
    // Where a building is, is remembered too, and forgotten by a change here: a branch newly
    // covering it owns its next request.
    let nearer = s
        .create_branch(dir.community, "楼栋支部", &[dir.building])
        .await
        .unwrap();
    assert_eq!(
        s.locate(dir.building).await.unwrap().unwrap().branch_id,
        nearer
    );
    let team = s.team(dir.team).await.unwrap().unwrap();
    assert_eq!(team.members, vec![dir.team_member]);
}

async fn timers_fire_exactly_once_across_three_stores(s: SqlStore, others: Vec<SqlStore>) {
    let w = Arc::new(World::new());
    let t0 = now();
    // 10,000 due timers: 5,000 tickets × (response warning, response breach), all due by `far`.
    let tickets = 5_000;
    let mut submitted = Vec::new();
    for _ in 0..tickets {
        let d = w.submit(t0);
        s.apply(&d, None).await.unwrap();
        submitted.push(d.ticket.id);
    }
    let far = plus(t0, 86_400 * 2);
    let mut stores = vec![s.clone()];
    stores.extend(others);
    let mut tasks = Vec::new();
    for store in stores {
        tasks.push(tokio::spawn(async move {
            let owner = Uuid::now_v7();
            let mut mine = Vec::new();
            loop {
                let batch = store
                    .claim_due(far, 97, owner, plus(far, 600))
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for c in batch {
                    if c.key.kind() != "sla_breach" && c.key.kind() != "sla_warning" {
                        continue;
                    }
                    store.fire(&c, None).await.unwrap();
                    mine.push((c.ticket_id, c.key.to_string()));
                }
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let unique: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(unique.len(), all.len(), "no timer fired twice");
    let response = all.iter().filter(|(_, k)| k.ends_with(":response")).count();
    assert_eq!(response, tickets * 2, "every response timer fired");
}

async fn volunteers_come_with_skills_and_open_load(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let w = World::located(&dir);
    let d = w.submit(now());
    s.apply(&d, None).await.unwrap();
    let t = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&t, None).await.unwrap();
    let held = w.act(&t.ticket, &w.secretary, "dispatch", w.to_member());
    s.apply(&held, None).await.unwrap();
    let since = jiff::Timestamp::UNIX_EPOCH;
    let facts = s.dispatch_facts(&held.ticket, since).await.unwrap();
    let vs = facts.volunteers;
    let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names.len(), 2, "members only: {names:?}");
    let member = vs.iter().find(|v| v.id == dir.member).unwrap();
    assert_eq!(
        (member.open, member.max_open, member.available),
        (1, 5, true)
    );
    assert_eq!(facts.place.building, held.ticket.building_id);
    assert_eq!(facts.place.community, Some(dir.community));
    let mut elsewhere = held.ticket.clone();
    elsewhere.community_id = dir.other_community;
    elsewhere.building_id = None;
    assert!(
        s.dispatch_facts(&elsewhere, since)
            .await
            .unwrap()
            .volunteers
            .is_empty()
    );
}

/// Dispatch ranking weighs a volunteer's record: the requests they handed back and the
/// ratings of those they completed, read from the events that go on record, whichever way
/// they were written (alone, or batched with others).
async fn a_volunteers_declines_and_ratings_are_on_their_record(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let w = Arc::new(World::located(&dir));
    let dispatched = |w: Arc<World>, s: SqlStore| async move {
        let mut d = w.submit(now());
        for (who, action, fields) in [
            (&w.secretary, "triage", Fields::default()),
            (&w.secretary, "dispatch", w.to_member()),
        ] {
            s.apply(&d, None).await.unwrap();
            d = w.act(&d.ticket, who, action, fields);
        }
        s.apply(&d, None).await.unwrap();
        d.ticket
    };
    let declined = (0..12).map(|_| {
        let (w, s) = (w.clone(), s.clone());
        tokio::spawn(async move {
            let t = dispatched(w.clone(), s.clone()).await;
            let reason = Fields {
                reason: Some("这周在外地".into()),
                ..Fields::default()
            };
            s.apply(&w.act(&t, &w.member, "decline", reason), None)
                .await
                .unwrap();
        })
    });
    let rated = (0..3).map(|i| {
        let (w, s) = (w.clone(), s.clone());
        tokio::spawn(async move {
            let mut t = dispatched(w.clone(), s.clone()).await;
            for (who, action, fields) in [
                (&w.member, "accept", Fields::default()),
                (&w.member, "start", Fields::default()),
                (
                    &w.member,
                    "complete",
                    Fields {
                        hours: Some(1.0),
                        ..Fields::default()
                    },
                ),
                (
                    &w.resident,
                    "confirm",
                    Fields {
                        rating: Some(3 + i),
                        ..Fields::default()
                    },
                ),
            ] {
                let d = w.act(&t, who, action, fields);
                s.apply(&d, None).await.unwrap();
                t = d.ticket;
            }
        })
    });
    for task in join_all(declined.chain(rated)).await {
        task.unwrap();
    }
    let next = dispatched(w.clone(), s.clone()).await;
    let record = || async {
        let facts = s
            .dispatch_facts(&next, jiff::Timestamp::UNIX_EPOCH)
            .await
            .unwrap();
        let member = facts
            .volunteers
            .iter()
            .find(|v| v.id == dir.member)
            .unwrap();
        (member.recent_declines, member.ratings, member.rating_sum)
    };
    assert_eq!(record().await, (12, 3, 3 + 4 + 5));
    // Events written before migration 0014 are marked from their bodies.
    execute_sql(&s, "UPDATE events SET on_record = FALSE").await;
    assert_eq!(record().await, (0, 0, 0));
    let migration = if s.is_postgres() {
        include_str!("../../../../migrations/postgres/0014_events_on_record.sql")
    } else {
        include_str!("../../../../migrations/sqlite/0014_events_on_record.sql")
    };
    let backfill = &migration[migration.find("UPDATE").unwrap()..];
    let backfill = &backfill[..=backfill.find(';').unwrap()];
    // It ran on the json body of its day; migration 0015 made the body text.
    let backfill = match s.is_postgres() {
        true => backfill.replace("body", "body::json"),
        false => backfill.to_string(),
    };
    execute_sql(&s, &backfill).await;
    assert_eq!(record().await, (12, 3, 3 + 4 + 5), "backfilled");
}

/// A link's decisions stand or fall together: one stale decision among them writes none.
async fn linked_decisions_are_written_together_or_not_at_all(s: SqlStore) {
    let w = World::new();
    let (a, b) = (w.submit(now()), w.submit(now()));
    s.apply(&a, None).await.unwrap();
    s.apply(&b, None).await.unwrap();
    let triage_a = w.act(&a.ticket, &w.secretary, "triage", Fields::default());
    let triage_b = w.act(&b.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triage_b, None).await.unwrap();
    // b's decision is now stale: a's, though valid, is not written either.
    let err = s
        .apply_linked(&[triage_a.clone(), triage_b.clone()])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    let stored = async |id| s.ticket(id, &Scope::Everything).await.unwrap().unwrap();
    assert_eq!(stored(a.ticket.id).await.version, a.ticket.version);
    // Both current: both written, in one go.
    let cancel_b = w.act(
        &triage_b.ticket,
        &w.secretary,
        "reject",
        Fields {
            reason: Some("重复".into()),
            ..Fields::default()
        },
    );
    s.apply_linked(&[triage_a.clone(), cancel_b.clone()])
        .await
        .unwrap();
    assert_eq!(stored(a.ticket.id).await, triage_a.ticket);
    assert_eq!(stored(b.ticket.id).await, cancel_b.ticket);

    // Fired by a timer: the timer goes with the decisions, or nothing does.
    let owner = Uuid::now_v7();
    let due = plus(now(), 30 * 86_400);
    let claimed = s.claim_due(due, 10, owner, plus(due, 60)).await.unwrap();
    let timer = claimed
        .iter()
        .find(|t| t.ticket_id == a.ticket.id)
        .expect("a's clocks have timers");
    let note = |t: &Ticket| {
        let fields = Fields {
            note: Some("联动".into()),
            ..Fields::default()
        };
        w.act(t, &w.secretary, "note", fields)
    };
    let c = w.submit(now());
    s.apply(&c, None).await.unwrap();
    let (note_a, stale_c) = (note(&triage_a.ticket), note(&c.ticket));
    let triage_c = w.act(&c.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triage_c, None).await.unwrap();
    let err = s.fire_linked(timer, &[note_a.clone(), stale_c]).await;
    assert!(matches!(err, Err(StoreError::Conflict { .. })), "{err:?}");
    assert_eq!(stored(a.ticket.id).await, triage_a.ticket);
    let note_c = note(&triage_c.ticket);
    s.fire_linked(timer, &[note_a.clone(), note_c.clone()])
        .await
        .unwrap();
    assert_eq!(stored(a.ticket.id).await, note_a.ticket);
    assert_eq!(stored(c.ticket.id).await, note_c.ticket);
    let again = [note(&note_a.ticket)];
    assert_eq!(
        s.fire_linked(timer, &again).await.unwrap_err(),
        StoreError::TimerGone,
        "the timer went with them"
    );
    assert_eq!(stored(a.ticket.id).await, note_a.ticket);
}

backends! {
    linked_decisions_are_written_together_or_not_at_all,
    volunteers_come_with_skills_and_open_load,
    a_volunteers_declines_and_ratings_are_on_their_record,
    a_decision_round_trips_with_its_events,
    a_stale_version_is_a_conflict_and_writes_nothing,
    a_decision_for_a_missing_ticket_is_a_conflict_and_writes_nothing,
    every_row_of_a_decision_is_written,
    thirty_two_racers_one_winner,
    timers_are_set_replaced_cancelled_and_fired_once,
    a_replaced_timer_cannot_be_fired_by_its_old_claim,
    an_expired_lease_is_reclaimed,
    one_communitys_timers_are_claimed_apart_from_the_others,
    outbox_rows_are_claimed_delivered_retried_and_parked,
    messages_nobody_delivers_are_written_delivered,
    idempotency_records_answer_retries,
    a_changed_workflow_under_the_same_version_is_refused,
    visibility_is_enforced_in_the_query,
    lists_filter_and_page_by_keyset,
    union_lists_page_through_each_ticket_once,
    the_directory_resolves_tokens_buildings_and_teams,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_three_stores_claim_ten_thousand_timers_each_once() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let stores = [
        connect(&url).await,
        connect(&url).await,
        connect(&url).await,
    ];
    let first = stores[0].clone();
    timers_fire_exactly_once_across_three_stores(first, stores[1..].to_vec()).await;
}

fn plus(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn firing(c: &ClaimedTimer) -> workflow_core::command::Firing {
    workflow_core::command::Firing {
        key: c.key.clone(),
        due_at: c.due_at,
        epoch: c.epoch,
    }
}

/// The pool does not ping a connection before each use (a round trip each time); one the
/// server closed while it sat idle (a restart, a proxy's timeout) is found out by the ping
/// an idle connection gets, and replaced, so the next write and read still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_closed_while_idle_are_replaced() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let w = World::new();
    let d = w.submit(now());
    s.apply(&d, None).await.unwrap();
    let closed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&sqlx::PgPool::connect(&url).await.unwrap())
    .await
    .unwrap();
    assert!(closed > 0, "the store's connections were closed");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let triage = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triage, None).await.unwrap();
    let t = s.ticket(d.ticket.id, &Scope::Everything).await.unwrap();
    assert_eq!(t.unwrap().version, triage.ticket.version);
}

/// Bodies written while they were `json` (migrations 0010 to 0014) read the same before
/// migration 0015 runs and after it made them `text`: a request with a hostile description,
/// triaged, its ticket and every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_bodies_written_as_json_read_the_same_as_text() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let w = World::new();
    let d = w.submit_with("楼道灯坏了 💡 \"quoted\" \\ back\nslash", now());
    s.apply(&d, None).await.unwrap();
    let triage = w.act(&d.ticket, &w.secretary, "triage", Fields::default());
    s.apply(&triage, None).await.unwrap();
    // Each read on a store of its own, as after a restart: a connection that prepared the
    // reads keeps their result types, which the migration changes.
    let read = || async {
        let s = connect(&url).await;
        let t = s.ticket(d.ticket.id, &Scope::Everything).await.unwrap();
        (t.unwrap(), s.events(d.ticket.id).await.unwrap())
    };
    let written = read().await;
    assert_eq!(written.0, triage.ticket);
    execute_sql(
        &s,
        "ALTER TABLE tickets ALTER COLUMN body TYPE json USING body::json; \
         ALTER TABLE events ALTER COLUMN body TYPE json USING body::json",
    )
    .await;
    assert_eq!(read().await, written, "read from json");
    execute_sql(
        &s,
        include_str!("../../../../migrations/postgres/0015_text_bodies.sql"),
    )
    .await;
    assert_eq!(read().await, written, "read from text, migrated");
}
