//! `serve --demo` opens on a community with a past: three weeks of requests written through
//! the Engine, in every state, once.

use std::collections::BTreeMap;

use crate::support::TestApp;
use workflow_core::event::EventKind;
use workflow_core::store::{Page, Scope, Store, TicketFilter};

async fn the_demo_has_three_weeks_of_history_written_once(app: TestApp) {
    // TestApp seeds the people only; the history is what `serve --demo` adds.
    let catalog = app.engine.catalog().clone();
    let history = linli::demo_history::seed(&app.store, catalog.clone(), &app.demo)
        .await
        .unwrap()
        .expect("an empty demo gets its history");
    let all = app
        .store
        .list(
            &Scope::Everything,
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(all.len(), history.requests);
    let mut states = BTreeMap::new();
    for t in &all {
        *states.entry(t.state.as_str()).or_insert(0) += 1;
    }
    for state in [
        "closed",
        "in_progress",
        "dispatched",
        "triaged",
        "submitted",
        "approved",
        "cancelled",
    ] {
        assert!(states.contains_key(state), "no request {state}: {states:?}");
    }
    let rated = all.iter().filter(|t| t.rating.is_some()).count();
    assert!(rated >= 5, "{rated} rated");
    let created: Vec<_> = all.iter().map(|t| t.created_at).collect();
    let span = created
        .iter()
        .max()
        .unwrap()
        .duration_since(*created.iter().min().unwrap());
    assert!(span.as_hours() >= 14 * 24, "spread over weeks: {span}");

    let overdue = app
        .store
        .ticket(history.overdue, &Scope::Everything)
        .await
        .unwrap()
        .unwrap();
    assert!(
        overdue.clocks.iter().any(|c| c.breached),
        "the neglected request breached"
    );
    assert!(overdue.escalated_to.is_some(), "{:?}", overdue.escalated_to);
    let events = app.store.events(history.overdue).await.unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Escalated { .. })),
        "and climbed the ladder: {:?}",
        events.iter().map(|e| e.kind.name()).collect::<Vec<_>>()
    );
    let merged = all.iter().filter(|t| t.parent.is_some()).count();
    assert_eq!(merged, 1, "one merged duplicate");

    // On the pages people open: the wall and the ledger.
    let wall = app.get("resident", "/api/v1/wall").await;
    assert!(!wall.body.as_array().unwrap().is_empty(), "{:?}", wall.body);
    let member = app.demo.user("member").id;
    let ledger = app
        .get("member", &format!("/api/v1/members/{member}/ledger"))
        .await;
    assert!(
        ledger.body["hours"].as_f64().unwrap() >= 4.0,
        "{:?}",
        ledger.body
    );
    let report = app.store.verify(&mut |_, _| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);

    // Once: a restart with --demo keeps the history as it is.
    let again = linli::demo_history::seed(&app.store, catalog, &app.demo)
        .await
        .unwrap();
    assert!(again.is_none());
}

crate::backends! {
    the_demo_has_three_weeks_of_history_written_once,
}
