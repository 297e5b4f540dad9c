//! A scripted month of requests, then the reports: the figures `/api/v1/stats` computes in
//! the database equal what this test computes on its own from the tickets' events, for a
//! branch, a community and a street; the ledger and the leaderboard credit what the workflow
//! rules say; a correction is a new entry. Both backends, with a manual clock.

use std::collections::BTreeMap;

use crate::support::TestApp;
use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const MIN: i64 = 60;

/// Acts and insists it worked.
async fn ok(app: &TestApp, who: &str, t: &str, action: &str, body: Value) {
    let r = app.act(who, t, action, body).await;
    assert_eq!(r.status, StatusCode::OK, "{who} {action}: {:?}", r.body);
}

/// Triage, dispatch to `to`, wait `accept_after`, accept, start, complete with `hours`.
async fn work(app: &TestApp, t: &str, to: &str, accept_after: i64, hours: f64) {
    ok(app, "secretary", t, "triage", Value::Null).await;
    let id = app.demo.user(to).id;
    ok(app, "secretary", t, "dispatch", json!({"assignee": id})).await;
    app.advance(accept_after).await;
    ok(app, to, t, "accept", Value::Null).await;
    ok(app, to, t, "start", Value::Null).await;
    app.advance(45 * MIN).await;
    ok(app, to, t, "complete", json!({"hours": hours})).await;
}

/// The month: returns 荷花塘's tickets and 运河's.
async fn script(app: &TestApp) -> (Vec<String>, Vec<String>) {
    let mut ours = Vec::new();
    // Repaired, rated 5.
    let t = app.submit("resident", "repair", "厨房水管漏水").await;
    work(app, &t, "member", 10 * MIN, 1.5).await;
    ok(app, "resident", &t, "confirm", json!({"rating": 5})).await;
    ours.push(t);
    app.advance(3 * 3600).await;
    // Legal advice, rated 2.
    let t = app.submit("resident", "legal", "租房合同纠纷咨询").await;
    work(app, &t, "lawyer", 20 * MIN, 0.5).await;
    ok(app, "resident", &t, "confirm", json!({"rating": 2})).await;
    ours.push(t);
    // Rejected, and cancelled.
    let t = app.submit("resident", "sanitation", "楼道堆物").await;
    ok(app, "secretary", &t, "triage", Value::Null).await;
    ok(
        app,
        "secretary",
        &t,
        "reject",
        json!({"reason": "物业负责"}),
    )
    .await;
    ours.push(t);
    let t = app.submit("resident", "repair", "灯不亮").await;
    ok(app, "resident", &t, "cancel", Value::Null).await;
    ours.push(t);
    app.advance(24 * 3600).await;
    // Elderly care, completed but never confirmed: closed automatically later.
    let t = app.submit("resident", "elderly_care", "陪同就医").await;
    work(app, &t, "member", 5 * MIN, 1.0).await;
    ours.push(t);
    // Health, rated 4, accepted late in the window.
    let t = app.submit("resident", "health", "上门量血压").await;
    work(app, &t, "doctor", 25 * MIN, 0.75).await;
    ok(app, "resident", &t, "confirm", json!({"rating": 4})).await;
    ours.push(t);
    // A neighbours' dispute, settled; the mediator rates it at the visit (not the resident's
    // word: not satisfaction).
    let dispute = app.submit("resident", "mediation", "邻居装修噪音").await;
    let member = app.demo.user("member").id;
    ok(
        app,
        "secretary",
        &dispute,
        "dispatch",
        json!({"assignee": member}),
    )
    .await;
    ok(app, "member", &dispute, "take", Value::Null).await;
    ok(
        app,
        "member",
        &dispute,
        "settle",
        json!({"note": "双方约定施工时间", "hours": 1.0}),
    )
    .await;
    // Nobody acts on this one: it breaches and climbs the ladder.
    let t = app.submit("resident", "repair", "屋顶漏雨").await;
    ours.push(t);

    let mut theirs = Vec::new();
    let t = app.submit("yunhe_resident", "repair", "门锁坏了").await;
    ok(app, "yunhe_secretary", &t, "triage", Value::Null).await;
    let m = app.demo.user("yunhe_member").id;
    ok(
        app,
        "yunhe_secretary",
        &t,
        "dispatch",
        json!({"assignee": m}),
    )
    .await;
    ok(app, "yunhe_member", &t, "accept", Value::Null).await;
    ok(app, "yunhe_member", &t, "complete", json!({"hours": 2.0})).await;
    ok(app, "yunhe_resident", &t, "confirm", json!({"rating": 4})).await;
    theirs.push(t);

    // Ten days on: the unconfirmed one has closed itself, the neglected one has breached and
    // the secretary has been told; each next level comes some office time after the last.
    app.advance(10 * 24 * 3600).await;
    for _ in 0..2 {
        app.advance(4 * 24 * 3600).await;
    }
    // At last someone takes up the neglected one: its response clock stops, late.
    let neglected = ours.last().unwrap();
    ok(app, "secretary", neglected, "triage", Value::Null).await;
    let member = app.demo.user("member").id;
    ok(
        app,
        "secretary",
        neglected,
        "dispatch",
        json!({"assignee": member}),
    )
    .await;
    ok(app, "member", neglected, "accept", Value::Null).await;
    ok(
        app,
        "member",
        &dispute,
        "visit",
        json!({"note": "已回访", "rating": 5}),
    )
    .await;
    ours.push(dispute);
    (ours, theirs)
}

fn at(e: &Value) -> Timestamp {
    e["at"].as_str().unwrap().parse().unwrap()
}

/// Nearest rank, as the reports define it.
fn percentile(sorted: &[i64], p: i64) -> Option<i64> {
    let n = sorted.len() as i64;
    (n > 0).then(|| sorted[((p * n + 99) / 100 - 1) as usize])
}

/// The figures, computed here from each ticket's events and state.
async fn independent(app: &TestApp, tickets: &[String]) -> Value {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    let mut categories: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut rated, mut rating_sum, mut satisfied) = (0, 0, 0);
    let mut clocks: BTreeMap<String, (i64, i64, i64, i64)> = BTreeMap::new();
    let mut escalations: BTreeMap<String, i64> = BTreeMap::new();
    let (mut accept, mut complete) = (Vec::new(), Vec::new());
    for t in tickets {
        let ticket = app
            .get("street", &format!("/api/v1/tickets/{t}"))
            .await
            .body;
        let events = app
            .get("street", &format!("/api/v1/tickets/{t}/events"))
            .await
            .body;
        let events = events.as_array().unwrap();
        let state = ticket["state"].as_str().unwrap();
        // Whose rating is the resident's word: theirs, or who entered it for them.
        let residents = [
            ticket["requester"]["id"].clone(),
            ticket["proxy_id"].clone(),
        ];
        *counts.entry("submitted").or_default() += 1;
        let c = categories
            .entry(ticket["category"].as_str().unwrap().to_owned())
            .or_default();
        c.0 += 1;
        match state {
            "closed" => {
                *counts.entry("closed").or_default() += 1;
                c.1 += 1;
            }
            "rejected" => *counts.entry("rejected").or_default() += 1,
            "cancelled" => *counts.entry("cancelled").or_default() += 1,
            _ => *counts.entry("open").or_default() += 1,
        }
        let submitted = at(&events[0]);
        let first = |kinds: &[&str]| {
            events
                .iter()
                .find(|e| kinds.iter().any(|k| e["kind"] == *k))
                .map(|e| at(e).as_microsecond() - submitted.as_microsecond())
        };
        accept.extend(first(&storage::reports::ACCEPT_ACTIONS));
        complete.extend(first(&storage::reports::COMPLETE_ACTIONS));
        for (i, e) in events.iter().enumerate() {
            let d = &e["data"];
            if let Some(r) = d["rating"]
                .as_i64()
                .filter(|_| residents.contains(&e["actor_id"]))
            {
                rated += 1;
                rating_sum += r;
                satisfied += i64::from(r >= 4);
            }
            match e["kind"].as_str().unwrap() {
                "clock_stopped" => {
                    let c = clocks
                        .entry(d["clock"].as_str().unwrap().into())
                        .or_default();
                    c.0 += 1;
                    c.1 += i64::from(d["overrun_secs"].as_i64().unwrap() <= 0);
                }
                "sla_breach" => {
                    let c = clocks
                        .entry(d["clock"].as_str().unwrap().into())
                        .or_default();
                    c.2 += 1;
                    let stopped_since = events[i + 1..].iter().any(|later| {
                        later["kind"] == "clock_stopped" && later["data"]["clock"] == d["clock"]
                    });
                    c.3 += i64::from(!stopped_since);
                }
                "escalation" => {
                    *escalations
                        .entry(d["to"].as_str().unwrap().into())
                        .or_default() += 1
                }
                _ => {}
            }
        }
    }
    let spread = |mut v: Vec<i64>| {
        v.sort();
        let secs = |x: Option<i64>| x.map(|us| us / 1_000_000);
        json!({"count": v.len(), "p50_secs": secs(percentile(&v, 50)), "p90_secs": secs(percentile(&v, 90))})
    };
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    json!({
        "submitted": n("submitted"), "closed": n("closed"), "rejected": n("rejected"),
        "cancelled": n("cancelled"), "open": n("open"),
        "rated": rated, "rating_sum": rating_sum, "satisfied": satisfied,
        "to_accept": spread(accept), "to_complete": spread(complete),
        "clocks": clocks.iter().map(|(k, (s, o, b, open))| (k.clone(), json!({"stopped": s, "on_time": o, "breaches": b, "breached_open": open}))).collect::<serde_json::Map<_, _>>(),
        "escalations": escalations,
        "categories": categories.iter().map(|(k, (s, c))| (k.clone(), json!({"submitted": s, "closed": c}))).collect::<serde_json::Map<_, _>>(),
    })
}

/// The figures a report gave, without the ledger's part (checked against the ledger).
fn figures(report: &Value) -> Value {
    let mut f = report["figures"].clone();
    let o = f.as_object_mut().unwrap();
    o.remove("volunteer_minutes");
    o.remove("volunteer_points");
    f
}

async fn stats_equal_the_independent_computation(app: TestApp) {
    let start = app.engine.now();
    let (ours, theirs) = script(&app).await;
    let end = app.engine.now();
    let period = format!(
        "from={}&to={}",
        start
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap(),
        end.checked_add(jiff::SignedDuration::from_secs(1)).unwrap()
    );

    let branch = app.demo.hehuatang_branch;
    let r = app
        .get(
            "secretary",
            &format!("/api/v1/stats?unit={branch}&{period}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let expected = independent(&app, &ours).await;
    assert_eq!(figures(&r.body), expected);
    // The script made every kind of figure non-trivial.
    assert_eq!(
        (expected["closed"].as_i64(), expected["rejected"].as_i64()),
        (Some(5), Some(1))
    );
    assert!(
        expected["escalations"]["street"].as_i64() >= Some(1),
        "{expected}"
    );
    assert!(
        expected["clocks"]["response"]["breaches"].as_i64() >= Some(1),
        "{expected}"
    );
    // Clocks stopped both before their deadline (on time) and after it (late).
    let clocks = expected["clocks"].as_object().unwrap().values();
    let (stopped, on_time) = clocks.fold((0, 0), |(s, o), c| {
        (
            s + c["stopped"].as_i64().unwrap(),
            o + c["on_time"].as_i64().unwrap(),
        )
    });
    assert!(0 < on_time && on_time < stopped, "{expected}");
    // 及时率 counts a breach still running as late: stopped on time ÷ (stopped + breached
    // and still running).
    let open_breaches: i64 = expected["clocks"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["breached_open"].as_i64().unwrap())
        .sum();
    assert!(open_breaches >= 1, "{expected}");
    for (clock, c) in expected["clocks"].as_object().unwrap() {
        let n = |k: &str| c[k].as_i64().unwrap() as f64;
        let rate = n("on_time") / (n("stopped") + n("breached_open"));
        assert_eq!(
            r.body["on_time_rate"][clock].as_f64(),
            Some(rate),
            "{clock}"
        );
    }
    // The mediator's 5 stars at the visit are not the resident's word.
    assert_eq!(r.body["satisfaction_rate"].as_f64(), Some(2.0 / 3.0));
    // The secretary's own unit is the default.
    let own = app
        .get("secretary", &format!("/api/v1/stats?{period}"))
        .await;
    assert_eq!(own.body["figures"], r.body["figures"]);

    // The community (one branch) says the same; the street adds 运河.
    let community = app.demo.hehuatang;
    let r = app
        .get(
            "community",
            &format!("/api/v1/stats?unit={community}&{period}"),
        )
        .await;
    assert_eq!(figures(&r.body), expected);
    let all: Vec<String> = ours.iter().chain(&theirs).cloned().collect();
    let r = app
        .get(
            "street",
            &format!("/api/v1/stats?unit={}&{period}", app.demo.street),
        )
        .await;
    assert_eq!(figures(&r.body), independent(&app, &all).await);
    // Out of scope: another branch's secretary, a resident.
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/stats?unit={branch}&{period}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .get("resident", &format!("/api/v1/stats?unit={branch}&{period}"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // CSV: the same figures.
    let csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/stats?unit={branch}&{period}&format=csv")))
                .bearer_auth(app.token("secretary")),
        )
        .await;
    assert!(
        csv.content_type.starts_with("text/csv"),
        "{}",
        csv.content_type
    );
    let text = csv.body.as_str().unwrap();
    let value = |metric: &str, key: &str| -> String {
        text.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .find(|c| c[0] == metric && c[2] == key)
            .map(|c| c[3].to_owned())
            .unwrap_or_else(|| panic!("no {metric} {key} in {text}"))
    };
    assert_eq!(value("closed", ""), "5");
    assert_eq!(
        value("category_submitted", "repair"),
        expected["categories"]["repair"]["submitted"].to_string()
    );
    assert_eq!(value("satisfaction_rate", ""), "0.6667");
}

async fn ledger_and_leaderboard_credit_what_the_rules_say(app: TestApp) {
    let start = app.engine.now();
    let (ours, _) = script(&app).await;
    let period = format!(
        "from={}&to={}",
        start
            .checked_sub(jiff::SignedDuration::from_secs(1))
            .unwrap(),
        app.engine
            .now()
            .checked_add(jiff::SignedDuration::from_secs(1))
            .unwrap()
    );
    let member = app.demo.user("member").id;
    let r = app
        .get(
            "member",
            &format!("/api/v1/members/{member}/ledger?{period}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let entries = r.body["entries"].as_array().unwrap();
    // Repair (2 points) rated 5 (+2): 4 points, 90 minutes; elderly care (2), closed
    // automatically without a rating: 2 points, 60 minutes.
    let got: Vec<(String, i64, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["ticket_id"].as_str().unwrap().to_owned(),
                e["points"].as_i64().unwrap(),
                e["minutes"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(ours[0].clone(), 4, 90), (ours[4].clone(), 2, 60)]
    );
    assert_eq!(
        (r.body["points"].as_i64(), r.body["minutes"].as_i64()),
        (Some(6), Some(150))
    );

    // The leaderboard of the branch: 王师傅 6, 刘医生 (health 2 + 1 for 4 stars) 3, 周律师
    // (legal 2 + 0 for 2 stars) 2.
    let board = app
        .get("member", &format!("/api/v1/leaderboard?{period}"))
        .await;
    assert_eq!(board.status, StatusCode::OK, "{:?}", board.body);
    let standings: Vec<(String, i64)> = board.body["standings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["points"].as_i64().unwrap(),
            )
        })
        .collect();
    let name = |k: &str| app.demo.user(k).name.to_owned();
    assert_eq!(
        standings,
        vec![
            (name("member"), 6),
            (name("doctor"), 3),
            (name("lawyer"), 2)
        ]
    );
    // 运河's volunteer is on 运河's board, not this one; the street's has everyone.
    let street = app
        .get("street", &format!("/api/v1/leaderboard?{period}"))
        .await;
    assert_eq!(street.body["standings"].as_array().unwrap().len(), 4);

    // A correction is a new entry naming the one it corrects, which stays as it was.
    let records = app
        .get(
            "secretary",
            &format!("/api/v1/members/{member}/records?from={start}"),
        )
        .await;
    let credited = records
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket_id"] == ours[0].as_str());
    let credited = credited.expect("the first request's record")["id"].clone();
    let other = records
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ticket_id"] != ours[0].as_str());
    let r = app
        .post(
            "secretary",
            &format!("/api/v1/members/{member}/ledger"),
            json!({"ticket_id": ours[0], "points": -1, "reason": "重复计分更正", "corrects": other.expect("another record")["id"]}),
        )
        .await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
        "a record of another request is not this one's"
    );
    let r = app
        .post(
            "secretary",
            &format!("/api/v1/members/{member}/ledger"),
            json!({"ticket_id": ours[0], "points": -1, "reason": "重复计分更正", "corrects": credited}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let later = app
        .engine
        .now()
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();
    let records = app
        .get(
            "secretary",
            &format!("/api/v1/members/{member}/records?from={start}&to={later}"),
        )
        .await;
    let correction = records
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["correction"] == true)
        .cloned();
    assert_eq!(
        correction.expect("the correction's record")["corrects"],
        credited
    );
    let to = app
        .engine
        .now()
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();
    let r = app
        .get(
            "secretary",
            &format!("/api/v1/members/{member}/ledger?from={start}&to={to}"),
        )
        .await;
    let entries = r.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0]["points"], 4);
    assert_eq!(
        (entries[2]["points"].as_i64(), entries[2]["reason"].as_str()),
        (Some(-1), Some("重复计分更正"))
    );
    assert_eq!(r.body["points"], 5);
    // Refused: no reason; a resident; another community's secretary.
    let r = app
        .post(
            "secretary",
            &format!("/api/v1/members/{member}/ledger"),
            json!({"ticket_id": ours[0], "points": 1, "reason": " "}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .get("resident", &format!("/api/v1/members/{member}/ledger"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/members/{member}/ledger"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The stats' hours and points are the ledger's, corrections included.
    let s = app
        .get("secretary", &format!("/api/v1/stats?from={start}&to={to}"))
        .await;
    assert_eq!(s.body["figures"]["volunteer_points"], 6 + 3 + 2 - 1);
    assert_eq!(s.body["figures"]["volunteer_minutes"], 90 + 60 + 45 + 30);
}

backends! {
    stats_equal_the_independent_computation,
    ledger_and_leaderboard_credit_what_the_rules_say,
}
