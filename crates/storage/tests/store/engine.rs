//! The Engine and its timers end to end on real stores, with a manual clock (no sleeps):
//! every timer kind at its calendar time, escalation that stops with the clock, a restart
//! with 1,000 timers, and three Engines sharing PostgreSQL while one of them dies.

use std::sync::{Arc, Mutex};

use crate::support::*;
use jiff::{SignedDuration, Timestamp};
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::clock::ManualClock;
use workflow_core::engine::{Engine, NewRequest, Quiet};
use workflow_core::event::EventKind;
use workflow_core::store::*;
use workflow_core::ticket::ClockStatus;
use workflow_core::*;

fn at(s: &str) -> Timestamp {
    format!("{s}+08[Asia/Shanghai]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp()
}

struct Rig {
    engine: Engine,
    clock: Arc<ManualClock>,
    dir: Directory,
    resident: Actor,
    secretary: Actor,
    member: Actor,
}

async fn rig(s: SqlStore, start: &str) -> Rig {
    rig_on(s, start, load_catalog()).await
}

async fn rig_on(s: SqlStore, start: &str, catalog: Catalog) -> Rig {
    let dir = Directory::create(&s).await;
    let clock = Arc::new(ManualClock::new(at(start)));
    let engine = Engine::new(
        Arc::new(s),
        clock.clone(),
        Arc::new(catalog),
        Arc::new(Quiet),
    );
    engine.register_workflows().await.unwrap();
    Rig {
        resident: Actor::new(dir.resident, [Role::Resident]),
        secretary: Actor::new(dir.secretary, [Role::Secretary]),
        member: Actor::new(dir.member, [Role::Member]),
        engine,
        clock,
        dir,
    }
}

/// The calendar and ladder arithmetic here counts every timer a step fires, on
/// community-service v2, whose clocks warn once. Version 3's clocks warn at several
/// thresholds and chase before the deadline, which would interleave with each count; its
/// warnings are checked end to end in `tests/api/practice.rs`.
fn load_catalog() -> Catalog {
    catalog_before_v3()
}

impl Rig {
    async fn submit(&self, category: &str, urgency: Urgency) -> Ticket {
        let req = NewRequest {
            category: category.into(),
            urgency,
            description: "楼道扶手松动,请帮忙".into(),
            asked: Asked {
                building_id: Some(self.dir.building),
                channel: Some("console".into()),
                ..Asked::default()
            },
            door: Door::Api,
        };
        self.engine
            .submit(&Principal::acting(&self.resident), &req, None)
            .await
            .unwrap()
    }

    async fn act(&self, who: &Actor, t: Uuid, action: &str, fields: Fields) -> Ticket {
        self.engine
            .act(who, &Scope::Everything, t, action, None, fields)
            .await
            .unwrap_or_else(|e| panic!("{action}: {e}"))
    }

    /// Moves the clock and fires whatever is due, as the worker would.
    async fn at(&self, when: &str) -> usize {
        self.clock.set(at(when));
        let mut fired = 0;
        loop {
            let f = self
                .engine
                .fire_due(Uuid::now_v7(), 50, SignedDuration::from_secs(60))
                .await
                .unwrap();
            fired += f.fired;
            if f.claimed == 0 {
                return fired;
            }
        }
    }

    async fn kinds_since(&self, t: Uuid, seq: usize) -> Vec<(String, Timestamp)> {
        let events = self.engine.events(&Scope::Everything, t).await.unwrap();
        events[seq..]
            .iter()
            .map(|e| (e.kind.name().to_owned(), e.at))
            .collect()
    }
}

fn to(p: Uuid) -> Fields {
    Fields {
        assignee: Some(Assignee::Person(p)),
        ..Fields::default()
    }
}

async fn warnings_breaches_and_the_ladder_follow_office_hours(s: SqlStore) {
    let r = rig(s, "2026-03-06T16:30").await;
    let t = r.submit("repair", Urgency::Normal).await;
    let base = t.version as usize;
    assert_eq!(
        r.at("2026-03-07T12:00").await,
        0,
        "nothing over the weekend"
    );
    assert_eq!(r.at("2026-03-09T09:09").await, 0);
    assert_eq!(
        r.at("2026-03-09T09:10").await,
        1,
        "the warning, 20 working minutes ahead"
    );
    assert_eq!(
        r.at("2026-03-09T09:30").await,
        1,
        "the breach, with level 1 at once"
    );
    assert_eq!(r.at("2026-03-09T11:29").await, 0);
    assert_eq!(
        r.at("2026-03-09T11:30").await,
        1,
        "community, 2 working hours later"
    );
    assert_eq!(r.at("2026-03-10T11:29").await, 0);
    assert_eq!(
        r.at("2026-03-10T11:30").await,
        1,
        "street, one working day later"
    );
    let kinds = r.kinds_since(t.id, base).await;
    let names: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "sla_warning",
            "sla_breach",
            "escalation",
            "escalation",
            "escalation"
        ]
    );
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(
        (t.escalated_to, t.urgency),
        (Some(Role::Street), Urgency::Urgent),
        "raised priority"
    );
    // The events say when each was due and when it fired.
    let events = r.engine.events(&Scope::Everything, t.id).await.unwrap();
    let breach = events
        .iter()
        .find(|e| e.kind.name() == "sla_breach")
        .unwrap();
    let EventKind::SlaBreached { due, timer_due, .. } = &breach.kind else {
        panic!()
    };
    assert_eq!(
        (*due, *timer_due, breach.at),
        (
            at("2026-03-09T09:30"),
            at("2026-03-09T09:30"),
            at("2026-03-09T09:30")
        )
    );
}

async fn a_breach_during_the_spring_festival_waits_for_the_office(s: SqlStore) {
    let r = rig(s, "2026-02-13T17:00").await;
    let t = r.submit("elderly_care", Urgency::Urgent).await;
    r.act(&r.secretary, t.id, "triage", Fields::default()).await;
    let t = r
        .act(&r.secretary, t.id, "dispatch", to(r.dir.member))
        .await;
    r.act(&r.member, t.id, "accept", Fields::default()).await;
    // Resolution (urgent: one working day) falls due on the make-up Saturday at 17:00.
    assert_eq!(
        r.at("2026-02-14T16:59").await,
        1,
        "only the warning (2 working hours ahead)"
    );
    assert_eq!(r.at("2026-02-14T17:00").await, 1);
    // Level 2 (community) is 2 working hours after: past the nine-day holiday.
    assert_eq!(r.at("2026-02-23T23:59").await, 0);
    assert_eq!(r.at("2026-02-24T10:30").await, 1);
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(t.escalated_to, Some(Role::Community));
}

async fn a_paused_clock_fires_at_its_moved_deadline(s: SqlStore) {
    let r = rig(s, "2026-03-09T09:00").await;
    let t = r.submit("elderly_care", Urgency::Normal).await;
    r.act(&r.secretary, t.id, "triage", Fields::default()).await;
    r.act(&r.secretary, t.id, "dispatch", to(r.dir.member))
        .await;
    r.act(&r.member, t.id, "accept", Fields::default()).await;
    r.act(&r.member, t.id, "start", Fields::default()).await;
    r.clock.set(at("2026-03-09T11:00"));
    let hold = Fields {
        reason: Some("等配件".into()),
        ..Fields::default()
    };
    r.act(&r.member, t.id, "hold", hold).await;
    // Unpaused, the warning would have come on Wednesday at 16:00 (deadline Thursday 09:00).
    assert_eq!(r.at("2026-03-11T16:30").await, 0);
    r.clock.set(at("2026-03-12T09:00"));
    r.act(&r.member, t.id, "resume", Fields::default()).await;
    // 19 working hours left from Thursday 09:00: Monday 16 March 16:00. The warning, two
    // working hours before, is the end of Monday morning (12:00), not after lunch.
    assert_eq!(r.at("2026-03-16T11:59").await, 0);
    assert_eq!(r.at("2026-03-16T12:00").await, 1);
    assert_eq!(r.at("2026-03-16T15:59").await, 0);
    assert_eq!(r.at("2026-03-16T16:00").await, 1);
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert!(t.clock("resolution").unwrap().breached);
}

async fn dispatch_expiry_and_auto_close_act_as_the_system(s: SqlStore) {
    let r = rig(s, "2026-03-09T09:00").await;
    let t = r.submit("sanitation", Urgency::Normal).await;
    r.act(&r.secretary, t.id, "triage", Fields::default()).await;
    r.act(&r.secretary, t.id, "dispatch", to(r.dir.member))
        .await;
    assert_eq!(r.at("2026-03-09T09:30").await, 1);
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(
        (t.state.as_str(), t.assignee),
        ("triaged", None),
        "back in the branch's queue"
    );
    r.act(&r.secretary, t.id, "dispatch", to(r.dir.member))
        .await;
    r.act(&r.member, t.id, "accept", Fields::default()).await;
    let done = Fields {
        hours: Some(0.5),
        ..Fields::default()
    };
    r.act(&r.member, t.id, "complete", done).await;
    assert_eq!(r.at("2026-03-12T09:29").await, 0);
    assert_eq!(
        r.at("2026-03-12T09:30").await,
        1,
        "72 hours after completion"
    );
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(
        (t.state.as_str(), t.auto_closed, t.rating),
        ("closed", true, None)
    );
}

async fn escalation_stops_the_moment_the_clock_stops(s: SqlStore) {
    let r = rig(s, "2026-03-09T09:00").await;
    let t = r.submit("repair", Urgency::Normal).await;
    assert_eq!(
        r.at("2026-03-09T11:00").await,
        2,
        "warning, then breach with level 1"
    );
    r.act(&r.secretary, t.id, "triage", Fields::default()).await;
    r.act(&r.secretary, t.id, "dispatch", to(r.dir.member))
        .await;
    let t = r.act(&r.member, t.id, "accept", Fields::default()).await;
    assert_eq!(t.clock("response").unwrap().status, ClockStatus::Stopped);
    let before = t.version;
    // Level 2 was due at 15:00 and level 3 the next day: neither comes.
    assert_eq!(r.at("2026-03-09T15:00").await, 0);
    assert_eq!(r.at("2026-03-10T15:00").await, 0);
    let t = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(t.version, before);
    assert_eq!(t.escalated_to, Some(Role::Secretary));
}

/// Records the order in which timers are fired, around a real store.
struct Recording {
    inner: SqlStore,
    fired: Mutex<Vec<(Uuid, String, Timestamp)>>,
}

#[async_trait::async_trait]
impl Store for Recording {
    async fn register_workflow(&self, wf: &Workflow) -> Result<(), StoreError> {
        self.inner.register_workflow(wf).await
    }
    async fn apply(&self, d: &Decision, i: Option<&IdempotencyRecord>) -> Result<(), StoreError> {
        self.inner.apply(d, i).await
    }
    async fn apply_linked(&self, d: &[Decision]) -> Result<(), StoreError> {
        self.inner.apply_linked(d).await
    }
    async fn fire(&self, t: &ClaimedTimer, d: Option<&Decision>) -> Result<(), StoreError> {
        self.inner.fire(t, d).await?;
        self.fired
            .lock()
            .unwrap()
            .push((t.ticket_id, t.key.to_string(), t.due_at));
        Ok(())
    }
    async fn fire_linked(&self, t: &ClaimedTimer, d: &[Decision]) -> Result<(), StoreError> {
        self.inner.fire_linked(t, d).await?;
        self.fired
            .lock()
            .unwrap()
            .push((t.ticket_id, t.key.to_string(), t.due_at));
        Ok(())
    }
    async fn ticket(&self, id: Uuid, s: &Scope) -> Result<Option<Ticket>, StoreError> {
        self.inner.ticket(id, s).await
    }
    async fn events(&self, id: Uuid) -> Result<Vec<Event>, StoreError> {
        self.inner.events(id).await
    }
    async fn list(&self, s: &Scope, f: &TicketFilter, p: Page) -> Result<Vec<Ticket>, StoreError> {
        self.inner.list(s, f, p).await
    }
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.next_due().await
    }
    async fn dispatch_facts(
        &self,
        t: &Ticket,
        since: Timestamp,
    ) -> Result<DispatchFacts, StoreError> {
        self.inner.dispatch_facts(t, since).await
    }
    async fn claim_due(
        &self,
        n: Timestamp,
        l: u32,
        o: Uuid,
        u: Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        self.inner.claim_due(n, l, o, u).await
    }
    async fn next_due_in(&self, c: Uuid) -> Result<Option<Timestamp>, StoreError> {
        self.inner.next_due_in(c).await
    }
    async fn claim_due_in(
        &self,
        c: Uuid,
        n: Timestamp,
        l: u32,
        o: Uuid,
        u: Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        self.inner.claim_due_in(c, n, l, o, u).await
    }
    async fn release_claims(&self, o: Uuid) -> Result<(), StoreError> {
        self.inner.release_claims(o).await
    }
    async fn idempotency(&self, c: Uuid, k: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.inner.idempotency(c, k).await
    }
    async fn person(&self, id: Uuid) -> Result<Option<PersonRef>, StoreError> {
        self.inner.person(id).await
    }
    async fn earned(
        &self,
        p: Uuid,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<workflow_core::credit::Earned, StoreError> {
        self.inner.earned(p, from, to).await
    }
    async fn asked_since(
        &self,
        r: Uuid,
        since: Timestamp,
    ) -> Result<(u32, Option<Timestamp>), StoreError> {
        self.inner.asked_since(r, since).await
    }
    async fn record_contact_read(&self, read: &ContactRead) -> Result<(), StoreError> {
        self.inner.record_contact_read(read).await
    }
    async fn team(&self, id: Uuid) -> Result<Option<TeamRef>, StoreError> {
        self.inner.team(id).await
    }
    async fn locate(&self, b: Uuid) -> Result<Option<Location>, StoreError> {
        self.inner.locate(b).await
    }
    async fn claim_outbox(
        &self,
        n: Timestamp,
        l: u32,
        o: Uuid,
        u: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.inner.claim_outbox(n, l, o, u).await
    }
    async fn outbox_delivered(&self, id: Uuid, at: Timestamp) -> Result<(), StoreError> {
        self.inner.outbox_delivered(id, at).await
    }
    async fn outbox_failed(
        &self,
        id: Uuid,
        e: &str,
        r: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.inner.outbox_failed(id, e, r).await
    }
}

/// With `parallelism` 1 the order is strictly by due time; with more, each ticket's own
/// timers still fire in due order.
async fn after_a_restart_every_timer_fires_once_in_due_order(
    s: SqlStore,
    reopen: SqlStore,
    parallelism: usize,
) {
    let r = rig(s, "2026-03-09T09:00").await;
    // 500 requests a minute apart: 1,000 response timers (warning and breach).
    for i in 0..500 {
        r.clock.set(
            at("2026-03-09T09:00")
                .checked_add(SignedDuration::from_mins(i))
                .unwrap(),
        );
        r.submit("repair", Urgency::Normal).await;
    }
    drop(r.engine);
    // A new Engine on a new connection, long after every deadline.
    let recording = Arc::new(Recording {
        inner: reopen,
        fired: Mutex::new(Vec::new()),
    });
    let clock = Arc::new(ManualClock::new(at("2026-03-13T09:00")));
    let engine = Engine::new(
        recording.clone(),
        clock,
        Arc::new(load_catalog()),
        Arc::new(Quiet),
    )
    .with_timer_parallelism(parallelism);
    loop {
        let f = engine
            .fire_due(Uuid::now_v7(), 64, SignedDuration::from_secs(60))
            .await
            .unwrap();
        if f.claimed == 0 {
            break;
        }
    }
    let fired = recording.fired.lock().unwrap().clone();
    let response: Vec<_> = fired
        .iter()
        .filter(|(_, k, _)| k.ends_with(":response"))
        .collect();
    assert_eq!(response.len(), 1_000, "every response timer fired");
    let unique: std::collections::HashSet<_> = fired.iter().map(|(t, k, _)| (t, k)).collect();
    assert_eq!(unique.len(), fired.len(), "none twice");
    if parallelism == 1 {
        assert!(
            fired.windows(2).all(|w| w[0].2 <= w[1].2),
            "overdue timers fire in due order"
        );
    }
    let mut per_ticket: std::collections::HashMap<Uuid, Vec<Timestamp>> = Default::default();
    for (t, _, due) in &fired {
        per_ticket.entry(*t).or_default().push(*due);
    }
    assert!(
        per_ticket
            .values()
            .all(|d| d.windows(2).all(|w| w[0] <= w[1])),
        "each ticket's in due order"
    );
}

async fn three_engines_share_the_timers_and_survive_one_dying(urls: [String; 3]) {
    let stores = [
        connect(&urls[0]).await,
        connect(&urls[1]).await,
        connect(&urls[2]).await,
    ];
    let r = rig(stores[0].clone(), "2026-03-09T09:00").await;
    // 2,500 requests: 5,000 response timers (warning, breach) due by 11:00.
    for _ in 0..2_500 {
        r.submit("repair", Urgency::Normal).await;
    }
    let clock = Arc::new(ManualClock::new(at("2026-03-09T11:00")));
    let catalog = Arc::new(load_catalog());
    // The first Engine claims a batch and dies holding it (no release, no firing).
    let dead = Uuid::now_v7();
    let lease_end = at("2026-03-09T11:01");
    let held = stores[0]
        .claim_due(at("2026-03-09T11:00"), 300, dead, lease_end)
        .await
        .unwrap();
    assert_eq!(held.len(), 300);
    let mut tasks = Vec::new();
    for s in stores[1..].iter().cloned() {
        let engine = Engine::new(Arc::new(s), clock.clone(), catalog.clone(), Arc::new(Quiet));
        tasks.push(tokio::spawn(async move {
            let mut total = 0;
            loop {
                let f = engine
                    .fire_due(Uuid::now_v7(), 64, SignedDuration::from_secs(60))
                    .await
                    .unwrap();
                total += f.fired + f.discarded;
                if f.claimed == 0 {
                    return total;
                }
            }
        }));
    }
    let mut survivors = 0;
    for t in tasks {
        survivors += t.await.unwrap();
    }
    assert_eq!(
        survivors,
        5_000 - 300,
        "the survivors fire everything not held"
    );
    // After the lease, the dead Engine's claims are taken over.
    clock.set(lease_end);
    let heir = Engine::new(
        Arc::new(stores[2].clone()),
        clock.clone(),
        catalog.clone(),
        Arc::new(Quiet),
    );
    let f = heir
        .fire_due(Uuid::now_v7(), 1_000, SignedDuration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        (f.claimed, f.fired + f.discarded, f.lost),
        (300, 300, 0),
        "taken over, each once"
    );
    // Each held timer was a warning whose breach came first: discarded, not sent late.
    // Every ticket has exactly one breach and at most one warning.
    let pool = stores[0].pg_pool().unwrap();
    let counts: Vec<(String, i64)> = sqlx::query_as("SELECT kind, COUNT(*) FROM events WHERE kind IN ('sla_warning', 'sla_breach') GROUP BY kind ORDER BY kind")
        .fetch_all(pool)
        .await
        .unwrap();
    assert_eq!(
        counts,
        [
            ("sla_breach".to_owned(), 2_500),
            ("sla_warning".to_owned(), 2_500 - f.discarded as i64)
        ]
    );
    let doubled: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT ticket_id, kind FROM events WHERE kind IN ('sla_warning','sla_breach') GROUP BY ticket_id, kind HAVING COUNT(*) > 1) d",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(doubled, 0);
}

async fn idempotent_submits_answer_alike_and_refuse_a_changed_body(s: SqlStore) {
    let r = rig(s, "2026-03-09T09:00").await;
    let req = NewRequest {
        category: "repair".into(),
        urgency: Urgency::Normal,
        description: "水管漏水".into(),
        asked: Asked {
            building_id: Some(r.dir.building),
            channel: Some("console".into()),
            ..Asked::default()
        },
        door: Door::Api,
    };
    let first = r
        .engine
        .submit(&Principal::acting(&r.resident), &req, Some("k-1"))
        .await
        .unwrap();
    let again = r
        .engine
        .submit(&Principal::acting(&r.resident), &req, Some("k-1"))
        .await
        .unwrap();
    assert_eq!(first, again);
    let changed = NewRequest {
        description: "水管又漏水".into(),
        ..req.clone()
    };
    let err = r
        .engine
        .submit(&Principal::acting(&r.resident), &changed, Some("k-1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, workflow_core::EngineError::IdempotencyMismatch),
        "{err}"
    );
    let mine = r
        .engine
        .list(
            &Scope::Requester(r.resident.id),
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1, "one ticket for one key");
}

async fn assignees_must_belong_to_the_ticket_s_community(s: SqlStore) {
    let r = rig(s, "2026-03-09T09:00").await;
    let t = r.submit("repair", Urgency::Normal).await;
    r.act(&r.secretary, t.id, "triage", Fields::default()).await;
    let stranger = Uuid::now_v7();
    let err = r
        .engine
        .act(
            &r.secretary,
            &Scope::Everything,
            t.id,
            "dispatch",
            None,
            to(stranger),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            workflow_core::EngineError::Invalid {
                field: "assignee",
                ..
            }
        ),
        "{err}"
    );
    let err = r
        .engine
        .act(
            &r.secretary,
            &Scope::Branch(r.dir.other_branch),
            t.id,
            "triage",
            None,
            Fields::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, workflow_core::EngineError::NotFound),
        "another branch cannot see it"
    );
}

/// Two nodes acting on one ticket by turns: each answers an action from the ticket as it
/// last wrote it when the caller names that version, and must still refuse a caller whose
/// version the other node has moved past (as a conflict, even where the action would not
/// fit the state it remembers), and still let only those who may see the ticket act on it.
async fn two_nodes_acting_on_one_ticket_by_turns(first: SqlStore, second: SqlStore) {
    let a = rig(first, "2026-03-09T09:00").await;
    let b = Engine::new(
        Arc::new(second),
        a.clock.clone(),
        Arc::new(load_catalog()),
        Arc::new(Quiet),
    );
    let t = a.submit("repair", Urgency::Normal).await;
    let branch = Scope::Branch(a.dir.branch);
    let stale = |r: Result<Ticket, workflow_core::EngineError>, expected: u64, actual: u64| match r
    {
        Err(workflow_core::EngineError::Command(CommandError::StaleVersion {
            expected: e,
            actual: got,
        })) => assert_eq!((e, got), (expected, actual)),
        other => panic!("expected a conflict at {expected} → {actual}, got {other:?}"),
    };
    let triaged = a
        .engine
        .act(
            &a.secretary,
            &branch,
            t.id,
            "triage",
            Some(t.version),
            Fields::default(),
        )
        .await
        .unwrap();
    // The other node dispatches it: the first one's memory of it is now behind.
    let dispatched = b
        .act(
            &a.secretary,
            &branch,
            t.id,
            "dispatch",
            Some(triaged.version),
            to(a.dir.member),
        )
        .await
        .unwrap();
    // A stale caller on the first node: refused, and nothing of it written.
    stale(
        a.engine
            .act(
                &a.secretary,
                &branch,
                t.id,
                "dispatch",
                Some(triaged.version),
                to(a.dir.member),
            )
            .await,
        triaged.version,
        dispatched.version,
    );
    let stored = a.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(stored.version, dispatched.version);
    let events = a.engine.events(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(events.len() as u64, dispatched.version);

    // The first node writes again (and remembers), the second moves it on.
    let member = Scope::Assignee {
        person: a.dir.member,
        teams: Vec::new(),
        community: Some(a.dir.community),
    };
    let hours = || Fields {
        hours: Some(1.0),
        ..Fields::default()
    };
    let accepted = a
        .engine
        .act(
            &a.member,
            &member,
            t.id,
            "accept",
            Some(dispatched.version),
            Fields::default(),
        )
        .await
        .unwrap();
    let started = b
        .act(
            &a.member,
            &member,
            t.id,
            "start",
            Some(accepted.version),
            Fields::default(),
        )
        .await
        .unwrap();
    // `complete` does not fit the state the first node remembers (accepted): the caller
    // hears of the conflict, not of a state the ticket has left.
    stale(
        a.engine
            .act(
                &a.member,
                &member,
                t.id,
                "complete",
                Some(accepted.version),
                hours(),
            )
            .await,
        accepted.version,
        started.version,
    );
    // Those who may not see it get nothing from the first node's memory either.
    let stranger = Uuid::now_v7();
    for (who, scope) in [
        (
            Actor::new(stranger, [Role::Resident]),
            Scope::Requester(stranger),
        ),
        (a.secretary.clone(), Scope::Branch(a.dir.other_branch)),
        (a.secretary.clone(), Scope::Community(a.dir.other_community)),
        (
            a.member.clone(),
            Scope::Assignee {
                person: stranger,
                teams: Vec::new(),
                community: Some(a.dir.other_community),
            },
        ),
    ] {
        let err = a
            .engine
            .act(
                &who,
                &scope,
                t.id,
                "start",
                Some(accepted.version),
                Fields::default(),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, workflow_core::EngineError::NotFound),
            "{scope:?}: {err}"
        );
    }
    // An up-to-date caller on the first node goes on.
    let completed = a
        .engine
        .act(
            &a.member,
            &member,
            t.id,
            "complete",
            Some(started.version),
            hours(),
        )
        .await
        .unwrap();
    assert!(completed.version > started.version);
    let stored = b.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(stored.version, completed.version);
}

/// An action at the version this node last wrote is decided on the ticket as written, not
/// read again: the stored row is changed behind the node's back (its state, not its
/// version, which no real writer does), and the node still acts on what it wrote.
async fn an_action_at_the_version_written_here_does_not_read_the_ticket(s: SqlStore) {
    let raw = s.clone();
    let r = rig(s, "2026-03-09T09:00").await;
    let t = r.submit("repair", Urgency::Normal).await;
    let branch = Scope::Branch(r.dir.branch);
    let triaged = r
        .engine
        .act(
            &r.secretary,
            &branch,
            t.id,
            "triage",
            Some(t.version),
            Fields::default(),
        )
        .await
        .unwrap();
    let behind_its_back = if raw.is_postgres() {
        format!("UPDATE tickets SET state = 'closed' WHERE id = '{}'", t.id)
    } else {
        format!(
            "UPDATE tickets SET state = 'closed' WHERE id = x'{}'",
            t.id.simple()
        )
    };
    execute_sql(&raw, &behind_its_back).await;
    let read = r.engine.ticket(&Scope::Everything, t.id).await.unwrap();
    assert_eq!(read.state, "closed", "a read sees the changed row");
    let dispatched = r
        .engine
        .act(
            &r.secretary,
            &branch,
            t.id,
            "dispatch",
            Some(triaged.version),
            to(r.dir.member),
        )
        .await
        .expect("decided on the ticket as this node wrote it (triaged)");
    assert_eq!(dispatched.version, triaged.version + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_nodes_acting_on_one_ticket_by_turns() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-nodes-{}.db", Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", path.display());
    two_nodes_acting_on_one_ticket_by_turns(connect(&url).await, connect(&url).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_acting_on_one_ticket_by_turns() {
    let Some(url) = postgres_database().await else {
        return;
    };
    two_nodes_acting_on_one_ticket_by_turns(connect(&url).await, connect(&url).await).await;
}

/// A request nobody dispatched lapses after two hours: no shipped workflow does this, but
/// an office may write one, and the requests merged under one that lapses must not stay
/// merged under a closed request for ever.
const LAPSE: &str = r#"
[[transitions]]
action = "lapse"
label = { zh-CN = "逾期未派,自动撤销", en = "Lapsed undispatched" }
from = "triaged"
to = "cancelled"
roles = ["system"]

[[timers]]
in = "triaged"
after = "2h"
action = "lapse"
"#;

async fn merged_requests_follow_a_parent_a_timer_moved(s: SqlStore) {
    let r = rig_on(s, "2026-03-09T09:00", catalog_with(LAPSE)).await;
    let parent = r.submit("repair", Urgency::Normal).await;
    let child = r.submit("repair", Urgency::Normal).await;
    r.act(&r.secretary, parent.id, "triage", Fields::default())
        .await;
    let merged = Fields {
        parent: Some(parent.id),
        ..Fields::default()
    };
    let child = r.act(&r.secretary, child.id, "merge", merged).await;
    assert_eq!(child.state, "merged");
    // The parent lapses (the response clock's warning and breach fire by then too).
    r.at("2026-03-09T11:00").await;
    let parent = r
        .engine
        .ticket(&Scope::Everything, parent.id)
        .await
        .unwrap();
    assert_eq!(parent.state, "cancelled");
    let child = r.engine.ticket(&Scope::Everything, child.id).await.unwrap();
    assert_eq!(
        (child.state.as_str(), child.parent),
        ("triaged", None),
        "released by the lapse, back with the branch"
    );
    let kinds = r.kinds_since(child.id, 0).await;
    assert!(
        kinds.contains(&("parent_released".into(), at("2026-03-09T11:00"))),
        "when the parent lapsed: {kinds:?}"
    );
}

backends! {
    merged_requests_follow_a_parent_a_timer_moved,
    warnings_breaches_and_the_ladder_follow_office_hours,
    a_breach_during_the_spring_festival_waits_for_the_office,
    a_paused_clock_fires_at_its_moved_deadline,
    dispatch_expiry_and_auto_close_act_as_the_system,
    escalation_stops_the_moment_the_clock_stops,
    idempotent_submits_answer_alike_and_refuse_a_changed_body,
    assignees_must_belong_to_the_ticket_s_community,
    an_action_at_the_version_written_here_does_not_read_the_ticket,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_restart_fires_every_timer_once_in_due_order() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-restart-{}.db", Uuid::now_v7().simple()));
    let url = format!("sqlite://{}", path.display());
    let first = connect(&url).await;
    let second = connect(&url).await;
    after_a_restart_every_timer_fires_once_in_due_order(first, second, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_fires_every_timer_once_in_due_order() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let (first, second) = (connect(&url).await, connect(&url).await);
    let parallelism = first.timer_parallelism();
    after_a_restart_every_timer_fires_once_in_due_order(first, second, parallelism).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_three_engines_fire_five_thousand_timers_once_and_take_over_a_dead_one() {
    let Some(url) = postgres_database().await else {
        return;
    };
    three_engines_share_the_timers_and_survive_one_dying([url.clone(), url.clone(), url]).await;
}
