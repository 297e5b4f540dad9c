//! On the request tables hash-partitioned by community (the shape of a database sharded by
//! community, `support/partition_by_community.sql`), each statement of a request's hot path
//! touches one community's partition. PostgreSQL's `auto_explain` hands the plan of every
//! statement the store's connections run back to them as a notice (with the rows each step
//! read, so that partitions pruned while running count as untouched); sqlx passes notices to
//! `tracing`, where this test collects them, operation by operation.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::support::*;
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Principal, Unit};
use workflow_core::clock::ManualClock;
use workflow_core::engine::{Engine, NewRequest, Quiet};
use workflow_core::store::*;
use workflow_core::*;

/// The tables partitioned by community.
const PARTITIONED: [&str; 6] = ["tickets", "events", "timers", "outbox", "ledger", "photos"];

/// One statement's plan: its text, and for each partitioned table the partitions it read.
#[derive(Debug)]
struct Plan {
    query: String,
    partitions: BTreeMap<String, BTreeSet<String>>,
}

impl Plan {
    fn parse(notice: &str) -> Option<Plan> {
        let json: Value = serde_json::from_str(&notice[notice.find('{')?..]).ok()?;
        let mut partitions = BTreeMap::new();
        read_partitions(&json["Plan"], &mut partitions);
        Some(Plan {
            query: json["Query Text"]
                .as_str()?
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            partitions,
        })
    }

    /// The partitioned tables of which the statement read more than one partition.
    fn spans(&self) -> Vec<(&str, usize)> {
        (self.partitions.iter())
            .filter(|(_, read)| read.len() > 1)
            .map(|(table, read)| (table.as_str(), read.len()))
            .collect()
    }
}

/// Every partition a step of the plan read (ran at least once).
fn read_partitions(node: &Value, out: &mut BTreeMap<String, BTreeSet<String>>) {
    let ran = node["Actual Loops"].as_u64().unwrap_or(0) > 0;
    if let (true, Some(relation)) = (ran, node["Relation Name"].as_str())
        && let Some((table, _)) = relation.rsplit_once("_p")
        && PARTITIONED.contains(&table)
    {
        (out.entry(table.to_owned()).or_default()).insert(relation.to_owned());
    }
    for child in node["Plans"].as_array().into_iter().flatten() {
        read_partitions(child, out);
    }
}

/// The plans noticed since the last call.
fn plans_noticed() -> Vec<Plan> {
    let notices = std::mem::take(&mut *NOTICES.lock().unwrap());
    notices.iter().filter_map(|n| Plan::parse(n)).collect()
}

static NOTICES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Collects the server's notices (`auto_explain`'s plans) that sqlx reports to `tracing`.
struct Notices;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Notices {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(Option<String>);
        impl tracing::field::Visit for Message {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "message" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = Some(format!("{value:?}"));
                }
            }
        }
        let mut message = Message(None);
        event.record(&mut message);
        NOTICES.lock().unwrap().extend(message.0);
    }
}

fn collect_notices() {
    use tracing_subscriber::prelude::*;
    let only_notices = tracing_subscriber::filter::Targets::new()
        .with_target("sqlx::postgres::notice", tracing::Level::INFO);
    // Once for the process; another test's attempt finds it set.
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(Notices.with_filter(only_notices)),
    );
}

/// Every new connection to the store's database reports each statement's plan.
const EXPLAIN_EVERY_STATEMENT: &str = "DO $$ BEGIN
    EXECUTE format('ALTER DATABASE %I SET session_preload_libraries = %L', current_database(), 'auto_explain');
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_min_duration = 0', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_analyze = on', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_timing = off', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_format = json', current_database());
    EXECUTE format('ALTER DATABASE %I SET auto_explain.log_level = notice', current_database());
END $$";

fn at(s: &str) -> Timestamp {
    format!("{s}+08[Asia/Shanghai]")
        .parse::<jiff::Zoned>()
        .unwrap()
        .timestamp()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_hot_path_touches_one_communitys_partition() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = partitioned_store(&url).await;
    let dir = Directory::create(&s).await;
    // Requests of other communities in every partition.
    for _ in 0..40 {
        let w = World::new();
        s.apply(&w.submit(Timestamp::now()), None).await.unwrap();
    }
    execute_sql(&s, EXPLAIN_EVERY_STATEMENT).await;
    s.pg_pool().unwrap().close().await;
    collect_notices();
    let s: SqlStore = connect(&url).await;

    let clock = Arc::new(ManualClock::new(at("2026-03-09T09:00")));
    let engine = Engine::new(
        Arc::new(s.clone()),
        clock.clone(),
        Arc::new(shipped_catalog()),
        Arc::new(Quiet),
    );
    let resident = Actor::new(dir.resident, [Role::Resident]);
    let secretary = Actor::new(dir.secretary, [Role::Secretary]);
    let member = Actor::new(dir.member, [Role::Member]);
    let branch = Scope::Branch(dir.branch);
    let volunteer = Scope::Assignee {
        person: dir.member,
        teams: vec![],
        community: Some(dir.community),
    };
    plans_noticed();

    let mut by_operation: Vec<(&str, Vec<Plan>)> = Vec::new();
    let request = NewRequest {
        category: "repair".into(),
        urgency: Urgency::Normal,
        description: "楼道扶手松动,请帮忙".into(),
        asked: Asked {
            building_id: Some(dir.building),
            channel: Some("console".into()),
            ..Asked::default()
        },
        door: Door::Api,
    };
    let t = engine
        .submit(&Principal::acting(&resident), &request, None)
        .await
        .unwrap();
    by_operation.push(("a resident asks", plans_noticed()));
    engine
        .act(&secretary, &branch, t.id, "triage", None, Fields::default())
        .await
        .unwrap();
    by_operation.push(("the branch triages", plans_noticed()));
    let to_member = Fields {
        assignee: Some(Assignee::Person(dir.member)),
        ..Fields::default()
    };
    engine
        .act(&secretary, &branch, t.id, "dispatch", None, to_member)
        .await
        .unwrap();
    by_operation.push(("the branch dispatches", plans_noticed()));
    engine
        .act(&member, &volunteer, t.id, "accept", None, Fields::default())
        .await
        .unwrap();
    by_operation.push(("the volunteer accepts", plans_noticed()));
    let page = Page {
        after: None,
        limit: 50,
    };
    engine
        .list(&branch, &TicketFilter::default(), page)
        .await
        .unwrap();
    by_operation.push(("the branch's queue", plans_noticed()));
    clock.set(at("2026-03-20T09:00"));
    let fired = engine
        .fire_due_in(
            dir.community,
            Uuid::now_v7(),
            50,
            SignedDuration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(fired.fired > 0, "a timer came due");
    by_operation.push(("the community's due timers fire", plans_noticed()));
    let hours = Fields {
        hours: Some(1.5),
        ..Fields::default()
    };
    engine
        .act(&member, &volunteer, t.id, "complete", None, hours)
        .await
        .unwrap();
    by_operation.push(("the volunteer completes", plans_noticed()));
    let rating = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    let own = Scope::Requester(dir.resident);
    engine
        .act(&resident, &own, t.id, "confirm", None, rating)
        .await
        .unwrap();
    by_operation.push(("the resident confirms", plans_noticed()));
    let period = storage::reports::Period {
        from: at("2026-03-01T00:00"),
        to: at("2026-04-01T00:00"),
    };
    s.stats(Unit::Community(dir.community), period)
        .await
        .unwrap();
    by_operation.push(("the community's figures", plans_noticed()));

    let mut spanning = Vec::new();
    for (operation, plans) in &by_operation {
        assert!(!plans.is_empty(), "{operation}: no plan noticed");
        for plan in plans {
            let spans = plan.spans();
            println!(
                "{operation:32} {:>2} {}",
                plan.partitions
                    .values()
                    .map(BTreeSet::len)
                    .max()
                    .unwrap_or(0),
                &plan.query[..plan.query.len().min(110)]
            );
            if !spans.is_empty() {
                spanning.push((*operation, spans, &plan.query));
            }
        }
    }
    assert!(
        spanning.is_empty(),
        "statements that read more than one community's partition:\n{spanning:#?}"
    );
}

/// A person's read of one request looks in their own community first (where the tables are
/// partitioned, its partition) and finds a request that is elsewhere all the same: one a
/// resident asked before moving, one a volunteer asked where they lived before.
async fn a_persons_request_in_another_community_is_still_theirs(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let w = World::located(&dir);
    let asked = w.submit(Timestamp::now());
    s.apply(&asked, None).await.unwrap();
    execute_sql(
        &s,
        &format!(
            "UPDATE people SET community_id = '{}' WHERE id = '{}'",
            dir.other_community, dir.resident
        ),
    )
    .await;
    let id = asked.ticket.id;
    let resident = Scope::Requester(dir.resident);
    assert!(s.ticket(id, &resident).await.unwrap().is_some());
    let volunteer = Scope::Assignee {
        person: dir.resident,
        teams: vec![],
        community: Some(dir.other_community),
    };
    assert!(s.ticket(id, &volunteer).await.unwrap().is_some());
    let stranger = Scope::Requester(Uuid::now_v7());
    assert!(s.ticket(id, &stranger).await.unwrap().is_none());
}

backends! {
    a_persons_request_in_another_community_is_still_theirs,
}
