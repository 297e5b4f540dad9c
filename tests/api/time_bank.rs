//! 时间银行 over HTTP on SQLite and on PostgreSQL, in the demo's 运河社区 (2 hours a day, 600
//! in all): service confirmed is deposited, up to the day's cap; a resident with hours pays
//! for help, set aside at once and paid to the volunteer when the request is done (not minted
//! again), given back when it ends undone; a balance that cannot cover a request refuses it;
//! transfers only to a relative the office confirmed; donations and grants through the pool;
//! two paid requests from one balance at once never overdraw it; the ledger balances after.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A yunhe request by its resident, paid with `pay` hours if any: its reply.
async fn ask(app: &TestApp, pay: Option<f64>) -> crate::support::Reply {
    let mut body = json!({"category": "repair", "description": "水龙头坏了"});
    if let Some(h) = pay {
        body["pay_hours"] = json!(h);
    }
    app.post("yunhe_resident", "/api/v1/tickets", body).await
}

/// Works a yunhe ticket to closed by `volunteer`, who reports `hours`.
async fn worked(app: &TestApp, ticket: &str, volunteer: &str, hours: f64) {
    let id = app.demo.user(volunteer).id;
    for (who, action, body) in [
        ("yunhe_secretary", "triage", Value::Null),
        ("yunhe_secretary", "dispatch", json!({"assignee": id})),
        (volunteer, "accept", Value::Null),
        (volunteer, "start", Value::Null),
        (volunteer, "complete", json!({"hours": hours})),
        ("yunhe_resident", "confirm", json!({"rating": 5})),
    ] {
        let r = app.act(who, ticket, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
}

async fn book(app: &TestApp, who: &str) -> Value {
    let id = app.demo.user(who).id;
    let r = app.get(who, &format!("/api/v1/people/{id}/passbook")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn balance(book: &Value) -> f64 {
    book["balance_hours"].as_f64().unwrap()
}

async fn hours_given_are_banked_and_pay_for_help(app: TestApp) {
    app.at("2026-11-23T09:00");
    let yunhe = app.demo.yunhe;
    let grandpa = app.demo.user("yunhe_resident").id;

    // Service confirmed is deposited; the day's cap (2 h) cuts the second.
    let t = ask(&app, None).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    worked(&app, &t, "yunhe_repair", 1.5).await;
    let b = book(&app, "yunhe_repair").await;
    assert_eq!((b["open"].as_bool(), balance(&b)), (Some(true), 1.5));
    assert_eq!(b["lines"][0]["kind"], "deposit");
    let t = ask(&app, None).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    worked(&app, &t, "yunhe_repair", 1.0).await;
    assert_eq!(
        balance(&book(&app, "yunhe_repair").await),
        2.0,
        "0.5 h left in the day"
    );

    // No hours, no paid request: refused, and nothing asked.
    let r = ask(&app, Some(1.0)).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::CONFLICT, "not_enough_hours"),
        "{:?}",
        r.body
    );
    let mine = app.get("yunhe_resident", "/api/v1/tickets").await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 2);
    // Not in a community without a bank, nor for someone else.
    let r = app
        .post(
            "resident",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "x", "pay_hours": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);

    // A donation to the pool, granted by the office to a resident in need.
    let r = app
        .post(
            "yunhe_repair",
            "/api/v1/me/time-bank/donations",
            json!({"hours": 1.0}),
        )
        .await;
    assert_eq!(
        (r.status, r.body["balance_hours"].as_f64()),
        (StatusCode::CREATED, Some(1.0))
    );
    let grants = format!("/api/v1/communities/{yunhe}/time-bank/grants");
    let grant = |h: f64| json!({"person_id": grandpa, "hours": h, "reason": "独居老人"});
    for (who, status) in [
        ("yunhe_resident", StatusCode::FORBIDDEN),
        ("yunhe_secretary", StatusCode::NOT_FOUND),
        ("community", StatusCode::NOT_FOUND),
    ] {
        let r = app.post(who, &grants, grant(1.0)).await;
        assert_eq!(r.status, status, "{who}: {:?}", r.body);
    }
    let r = app.post("yunhe_community", &grants, grant(1.5)).await;
    assert_eq!(
        r.code(),
        "not_enough_hours",
        "the pool holds 1 h: {:?}",
        r.body
    );
    let r = app.post("yunhe_community", &grants, grant(1.0)).await;
    assert_eq!(
        (r.status, r.body["pool_hours"].as_f64()),
        (StatusCode::CREATED, Some(0.0))
    );
    assert_eq!(balance(&book(&app, "yunhe_resident").await), 1.0);

    // Paid help: set aside at once, paid to the volunteer when done, not minted again.
    let r = ask(&app, Some(1.0)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let paid = r.body["id"].as_str().unwrap().to_owned();
    let b = book(&app, "yunhe_resident").await;
    assert_eq!(balance(&b), 0.0);
    assert_eq!(b["holds"][0]["ticket_id"], paid.as_str());
    let read = app
        .get("yunhe_secretary", &format!("/api/v1/tickets/{paid}"))
        .await;
    assert_eq!(read.body["paid"], json!({"hours": 1.0, "state": "held"}));
    app.at("2026-11-24T09:00");
    worked(&app, &paid, "yunhe_member", 2.0).await;
    let helper = book(&app, "yunhe_member").await;
    assert_eq!(
        balance(&helper),
        1.0,
        "the hours paid, not the 2 reported: {helper}"
    );
    assert_eq!(helper["lines"][0]["kind"], "pay");
    let read = app
        .get("yunhe_resident", &format!("/api/v1/tickets/{paid}"))
        .await;
    assert_eq!(read.body["paid"]["state"], "paid");
    assert_eq!(book(&app, "yunhe_resident").await["holds"], json!([]));

    // A transfer, only to a relative the office confirmed; a cancelled paid request gives back.
    let transfer = json!({"to": grandpa, "hours": 0.5});
    let r = app
        .post(
            "yunhe_repair",
            "/api/v1/me/time-bank/transfers",
            transfer.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let repair = app.demo.user("yunhe_repair").id;
    let r = app
        .post(
            "yunhe_community",
            &format!("/api/v1/communities/{yunhe}/time-bank/relations"),
            json!({"person_id": repair, "relative_id": grandpa}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = app
        .post("yunhe_repair", "/api/v1/me/time-bank/transfers", transfer)
        .await;
    assert_eq!(
        (r.status, r.body["balance_hours"].as_f64()),
        (StatusCode::CREATED, Some(0.5))
    );
    let t = ask(&app, Some(0.5)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(balance(&book(&app, "yunhe_resident").await), 0.0);
    let r = app
        .act(
            "yunhe_resident",
            &t,
            "cancel",
            json!({"reason": "已经修好了"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let b = book(&app, "yunhe_resident").await;
    assert_eq!(
        (balance(&b), b["lines"][0]["kind"].as_str()),
        (0.5, Some("release"))
    );
    let read = app
        .get("yunhe_resident", &format!("/api/v1/tickets/{t}"))
        .await;
    assert_eq!(read.body["paid"]["state"], "returned");
    let listed = app.get("yunhe_resident", "/api/v1/tickets").await;
    assert!(
        listed.body["items"][0].get("paid").is_none(),
        "lists do not read it"
    );

    // Two paid requests from one balance at once: one is taken, the other refused.
    let (x, y) = tokio::join!(ask(&app, Some(0.5)), ask(&app, Some(0.5)));
    let mut statuses = [x.status, y.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{:?} {:?}",
        x.body,
        y.body
    );
    assert_eq!(balance(&book(&app, "yunhe_resident").await), 0.0);

    // The community's accounts, and the ledger balances.
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/communities/{yunhe}/time-bank"),
        )
        .await;
    assert_eq!(
        (
            r.body["issued_hours"].as_f64(),
            r.body["pool_hours"].as_f64(),
            r.body["daily_cap_hours"].as_f64()
        ),
        (Some(2.0), Some(0.0), Some(2.0)),
        "{:?}",
        r.body
    );
    let check = app.store.check_time_ledger().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
    assert!(check.entries >= 14, "{check:?}");
    // Others' passbooks are not for residents; the office reads its people's.
    let r = app
        .get(
            "yunhe_resident",
            &format!("/api/v1/people/{repair}/passbook"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/people/{grandpa}/passbook"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

/// A paid request its resident never confirms is closed by the timer after three working
/// days: the timer's decision pays the volunteer, as a confirmation would.
async fn an_automatic_close_pays_the_volunteer(app: TestApp) {
    app.at("2026-12-04T15:00");
    let yunhe = app.demo.yunhe;
    let grandpa = app.demo.user("yunhe_resident").id;
    let gift = workflow_core::time_bank::grant(yunhe, grandpa, 60);
    let pool = workflow_core::time_bank::Movement {
        kind: workflow_core::time_bank::Kind::Donate,
        from: workflow_core::time_bank::Account::Issue(yunhe),
        to: workflow_core::time_bank::Account::Pool(yunhe),
        ..gift.clone()
    };
    app.store
        .move_time(&[pool, gift], jiff::Timestamp::now(), &Default::default())
        .await
        .unwrap();
    let r = ask(&app, Some(1.0)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let t = r.body["id"].as_str().unwrap().to_owned();
    let id = app.demo.user("yunhe_member").id;
    for (who, action, body) in [
        ("yunhe_secretary", "triage", Value::Null),
        ("yunhe_secretary", "dispatch", json!({"assignee": id})),
        ("yunhe_member", "accept", Value::Null),
        ("yunhe_member", "start", Value::Null),
        ("yunhe_member", "complete", json!({"hours": 0.5})),
    ] {
        assert_eq!(
            app.act(who, &t, action, body).await.status,
            StatusCode::OK,
            "{action}"
        );
    }
    app.at("2026-12-09T16:00");
    app.advance(0).await;
    let read = app
        .get("yunhe_resident", &format!("/api/v1/tickets/{t}"))
        .await;
    assert_eq!(
        (
            read.body["state"].as_str(),
            read.body["paid"]["state"].as_str()
        ),
        (Some("closed"), Some("paid"))
    );
    let helper = book(&app, "yunhe_member").await;
    assert_eq!(
        (balance(&helper), helper["lines"][0]["kind"].as_str()),
        (1.0, Some("pay"))
    );
    let check = app.store.check_time_ledger().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

/// Random paid requests through the whole service: asked (taken exactly when the resident's
/// balance covers them), cancelled (given back) or worked and confirmed (paid to the
/// volunteer); after every step each balance is a simple model's, and at the end the ledger
/// balances. Holds and payments ride on the requests' own events.
async fn random_paid_requests_keep_every_balance(app: TestApp) {
    use proptest::strategy::{Strategy, ValueTree};
    app.at("2026-11-23T09:00");
    let yunhe = app.demo.yunhe;
    let mut residents = Vec::new();
    for name in ["甲居民", "乙居民", "丙居民"] {
        let id = app
            .store
            .create_person(&storage::NewPerson {
                name: name.into(),
                roles: vec![workflow_core::Role::Resident],
                community_id: Some(yunhe),
                home_building_id: Some(app.demo.yunhe_building),
                ..Default::default()
            })
            .await
            .unwrap();
        let deposit = workflow_core::time_bank::Movement {
            kind: workflow_core::time_bank::Kind::Deposit,
            community: yunhe,
            from: workflow_core::time_bank::Account::Issue(yunhe),
            to: workflow_core::time_bank::Account::Person(id),
            minutes: 180,
            ticket: None,
        };
        app.store
            .move_time(&[deposit], jiff::Timestamp::now(), &Default::default())
            .await
            .unwrap();
        residents.push((id, app.store.issue_token(id).await.unwrap()));
    }
    let helper = app.demo.user("yunhe_member").id;
    let mut model: std::collections::HashMap<uuid::Uuid, i64> =
        residents.iter().map(|(id, _)| (*id, 180)).collect();
    model.insert(helper, 0);
    // Open paid requests: (ticket, its resident's index, minutes held).
    let mut open: Vec<(String, usize, i64)> = Vec::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let ops = proptest::collection::vec((0..3usize, 0..3u8, 1..4i64), 40)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let (mut refused, mut paid, mut returned) = (0, 0, 0);
    for (who, what, halves) in ops {
        let (id, token) = &residents[who];
        match what {
            // Ask for help paid with 0.5 to 1.5 hours.
            0 | 1 => {
                let minutes = halves * 30;
                let r = app
                    .send(
                        app.client
                            .post(app.url("/api/v1/tickets"))
                            .bearer_auth(token)
                            .json(&json!({"category": "repair", "description": "随机",
                                "pay_hours": minutes as f64 / 60.0})),
                    )
                    .await;
                if model[id] >= minutes {
                    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
                    *model.get_mut(id).unwrap() -= minutes;
                    open.push((r.body["id"].as_str().unwrap().to_owned(), who, minutes));
                } else {
                    assert_eq!(r.code(), "not_enough_hours", "{:?}", r.body);
                    refused += 1;
                }
            }
            // Settle the oldest open one: cancelled, or worked and confirmed.
            _ if !open.is_empty() => {
                let (t, owner, minutes) = open.remove(0);
                let (owner_id, owner_token) = &residents[owner];
                let by_owner = |action: &str, body: Value| {
                    app.send(
                        app.client
                            .post(app.url(&format!("/api/v1/tickets/{t}/actions/{action}")))
                            .bearer_auth(owner_token)
                            .json(&body),
                    )
                };
                if halves == 1 {
                    let r = by_owner("cancel", json!({})).await;
                    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                    *model.get_mut(owner_id).unwrap() += minutes;
                    returned += 1;
                } else {
                    for (who, action, body) in [
                        ("yunhe_secretary", "triage", Value::Null),
                        ("yunhe_secretary", "dispatch", json!({"assignee": helper})),
                        ("yunhe_member", "accept", Value::Null),
                        ("yunhe_member", "start", Value::Null),
                        ("yunhe_member", "complete", json!({"hours": 0.5})),
                    ] {
                        let r = app.act(who, &t, action, body).await;
                        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
                    }
                    let r = by_owner("confirm", json!({"rating": 5})).await;
                    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                    *model.get_mut(&helper).unwrap() += minutes;
                    paid += 1;
                }
            }
            _ => {}
        }
        for (person, minutes) in &model {
            let held = app
                .store
                .balance(workflow_core::time_bank::Account::Person(*person))
                .await
                .unwrap();
            assert_eq!(held, *minutes, "{person}");
        }
    }
    assert!(
        refused > 0 && paid > 0 && returned > 0,
        "{refused} {paid} {returned}"
    );
    let check = app.store.check_time_ledger().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

crate::backends! {
    hours_given_are_banked_and_pay_for_help,
    an_automatic_close_pays_the_volunteer,
    random_paid_requests_keep_every_balance,
}
