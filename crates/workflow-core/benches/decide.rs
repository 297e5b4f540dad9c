//! Decisions per second on the shipped community-service workflow (target: ≥ 1,000,000/s on
//! one core). `cargo bench -p workflow-core --bench decide`; criterion prints elements/s.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::*;

#[path = "../tests/common/mod.rs"]
mod common;

fn act(action: &str, t: &Ticket, fields: Fields) -> Act {
    Act {
        action: action.into(),
        expected_version: t.version,
        fields,
    }
}

fn bench(c: &mut Criterion) {
    let catalog = common::load_shipped();
    let wf = catalog.latest("community-service").unwrap().clone();
    let resident = Actor::new(Uuid::now_v7(), [Role::Resident]);
    let secretary = Actor::new(Uuid::now_v7(), [Role::Secretary]);
    let member = Actor::new(Uuid::now_v7(), [Role::Member]);
    let now: Timestamp = "2026-03-09T01:00:00Z".parse().unwrap();
    let sub = Submission {
        id: Uuid::now_v7(),
        category: "repair".into(),
        urgency: Urgency::Normal,
        description: "楼道灯坏了".into(),
        channel: "console".into(),
        requester: resident.id,
        community_id: Uuid::nil(),
        branch_id: Uuid::nil(),
        building_id: None,
        hotline: None,
    };
    let submitted = decide_submission(&wf, &resident, &sub, now).unwrap().ticket;
    let triage = act("triage", &submitted, Fields::default());
    let triaged = decide(&wf, submitted, &secretary, &triage, now)
        .unwrap()
        .ticket;
    let dispatch_fields = Fields {
        assignee: Some(Assignee::Person(member.id)),
        ..Fields::default()
    };
    let dispatch = act("dispatch", &triaged, dispatch_fields.clone());
    let dispatched = decide(&wf, triaged.clone(), &secretary, &dispatch, now)
        .unwrap()
        .ticket;

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(1));
    g.bench_function("accept (stops the response clock)", |b| {
        let cmd = act("accept", &dispatched, Fields::default());
        b.iter_batched(
            || dispatched.clone(),
            |t| decide(black_box(&wf), t, &member, &cmd, now).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("dispatch (sets the expiry timer)", |b| {
        let cmd = act("dispatch", &triaged, dispatch_fields.clone());
        b.iter_batched(
            || triaged.clone(),
            |t| decide(black_box(&wf), t, &secretary, &cmd, now).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("submit (starts two calendar clocks)", |b| {
        b.iter(|| decide_submission(black_box(&wf), &resident, black_box(&sub), now).unwrap())
    });
    g.bench_function("refusal (stale version)", |b| {
        let cmd = Act {
            expected_version: 0,
            ..act("accept", &dispatched, Fields::default())
        };
        b.iter_batched(
            || dispatched.clone(),
            |t| decide(black_box(&wf), t, &member, &cmd, now).unwrap_err(),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("lifecycle");
    g.throughput(Throughput::Elements(7));
    g.bench_function("submit → confirm, 7 decisions", |b| {
        // As the Engine does: each decision takes the ticket the last one produced.
        let step = |t: Ticket, who: &Actor, action: &str, fields: Fields| {
            let cmd = act(action, &t, fields);
            decide(&wf, t, who, &cmd, now).unwrap().ticket
        };
        b.iter(|| {
            let t = decide_submission(&wf, &resident, &sub, now).unwrap().ticket;
            let t = step(t, &secretary, "triage", Fields::default());
            let t = step(t, &secretary, "dispatch", dispatch_fields.clone());
            let t = step(t, &member, "accept", Fields::default());
            let t = step(t, &member, "start", Fields::default());
            let hours = Fields {
                hours: Some(1.0),
                ..Fields::default()
            };
            let t = step(t, &member, "complete", hours);
            let rating = Fields {
                rating: Some(5),
                ..Fields::default()
            };
            step(t, &resident, "confirm", rating)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
