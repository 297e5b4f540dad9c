//! Decisions per second on the shipped community-service workflow (target: ≥ 1,000,000/s on
//! one core). `cargo bench -p workflow-core --bench decide`; criterion prints elements/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
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
    };
    let submitted = decide_submission(&wf, &resident, &sub, now).unwrap().ticket;
    let triaged = decide(
        &wf,
        &submitted,
        &secretary,
        &act("triage", &submitted, Fields::default()),
        now,
    )
    .unwrap()
    .ticket;
    let dispatch_fields = Fields {
        assignee: Some(Assignee::Person(member.id)),
        ..Fields::default()
    };
    let dispatched = decide(
        &wf,
        &triaged,
        &secretary,
        &act("dispatch", &triaged, dispatch_fields.clone()),
        now,
    )
    .unwrap()
    .ticket;

    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(1));
    g.bench_function("accept (stops the response clock)", |b| {
        let cmd = act("accept", &dispatched, Fields::default());
        b.iter(|| decide(black_box(&wf), black_box(&dispatched), &member, &cmd, now).unwrap())
    });
    g.bench_function("dispatch (sets the expiry timer)", |b| {
        let cmd = act("dispatch", &triaged, dispatch_fields.clone());
        b.iter(|| decide(black_box(&wf), black_box(&triaged), &secretary, &cmd, now).unwrap())
    });
    g.bench_function("submit (starts two calendar clocks)", |b| {
        b.iter(|| decide_submission(black_box(&wf), &resident, black_box(&sub), now).unwrap())
    });
    g.bench_function("refusal (stale version)", |b| {
        let cmd = Act {
            expected_version: 0,
            ..act("accept", &dispatched, Fields::default())
        };
        b.iter(|| decide(black_box(&wf), black_box(&dispatched), &member, &cmd, now).unwrap_err())
    });
    g.finish();

    let mut g = c.benchmark_group("lifecycle");
    g.throughput(Throughput::Elements(7));
    g.bench_function("submit → confirm, 7 decisions", |b| {
        b.iter(|| {
            let t = decide_submission(&wf, &resident, &sub, now).unwrap().ticket;
            let t = decide(
                &wf,
                &t,
                &secretary,
                &act("triage", &t, Fields::default()),
                now,
            )
            .unwrap()
            .ticket;
            let t = decide(
                &wf,
                &t,
                &secretary,
                &act("dispatch", &t, dispatch_fields.clone()),
                now,
            )
            .unwrap()
            .ticket;
            let t = decide(&wf, &t, &member, &act("accept", &t, Fields::default()), now)
                .unwrap()
                .ticket;
            let t = decide(&wf, &t, &member, &act("start", &t, Fields::default()), now)
                .unwrap()
                .ticket;
            let hours = Fields {
                hours: Some(1.0),
                ..Fields::default()
            };
            let t = decide(&wf, &t, &member, &act("complete", &t, hours), now)
                .unwrap()
                .ticket;
            let rating = Fields {
                rating: Some(5),
                ..Fields::default()
            };
            decide(&wf, &t, &resident, &act("confirm", &t, rating), now).unwrap()
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
