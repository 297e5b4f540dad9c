//! A person's rights and the records kept of access to their data (PIPL arts. 44–47, 56).

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const PNG: &[u8] = include_bytes!("../fixtures/photo.png");

async fn records(app: &TestApp, who: &str, query: &str) -> Vec<Value> {
    let r = app.get(who, &format!("/api/v1/admin/audit{query}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn access_is_recorded_and_read_by_admins_and_the_street(app: TestApp) {
    // A neighbour's request read by a resident of another community: refused, recorded.
    let theirs = app.submit("resident", "repair", "厨房漏水").await;
    let nosy = app.demo.user("yunhe_resident").id;
    let r = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/tickets/{theirs}")))
                .bearer_auth(app.token("yunhe_resident"))
                .header("x-request-id", "nosy-1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The secretary reads the number in full; a code is tried wrong, then right.
    app.get("secretary", &format!("/api/v1/tickets/{theirs}"))
        .await;
    let resident = app.demo.user("resident").id;
    let wrong = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"code": "ABCD-EFGH"})),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let code = app
        .post(
            "secretary",
            &format!("/api/v1/people/{resident}/sign-in-codes"),
            Value::Null,
        )
        .await;
    let ok = app
        .send(
            app.client
                .post(app.url("/api/v1/sessions"))
                .json(&json!({"code": code.body["code"]})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);

    let all = records(&app, "admin", "").await;
    let kinds: Vec<&str> = all.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    for kind in ["refused", "contact_read", "sign_in_failed", "sign_in"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    let refused = all.iter().find(|r| r["kind"] == "refused").unwrap();
    assert_eq!(refused["actor_id"], nosy.to_string());
    assert_eq!(refused["subject_id"], theirs.as_str());
    assert_eq!(refused["request_id"], "nosy-1");
    assert!(
        refused["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1"),
        "{refused}"
    );
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/tickets/{id}")
    );

    // Filtered by person: what the nosy neighbour did, and nothing else.
    let theirs_only = records(&app, "admin", &format!("?person={nosy}")).await;
    assert!(!theirs_only.is_empty());
    assert!(
        theirs_only
            .iter()
            .all(|r| r["actor_id"] == nosy.to_string() || r["subject_id"] == nosy.to_string())
    );
    // The street office reads its street's; a secretary none; CSV for a spreadsheet.
    let street = records(&app, "street", "").await;
    assert!(street.iter().any(|r| r["kind"] == "contact_read"));
    assert_eq!(
        app.get("secretary", "/api/v1/admin/audit").await.status,
        StatusCode::FORBIDDEN
    );
    let csv = app
        .client
        .get(app.url("/api/v1/admin/audit?format=csv"))
        .bearer_auth(app.token("admin"))
        .send()
        .await
        .unwrap();
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("\u{feff}at,kind,actor_id"), "{text}");
    assert!(text.contains(",\"refused\","));
}

/// 我的数据 as `who` downloads it (`query`: `?format=zip`, or nothing for JSON).
async fn my_data(app: &TestApp, who: &str, query: &str) -> reqwest::Response {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/me/export{query}")))
        .bearer_auth(app.token(who))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res
}

async fn a_person_downloads_everything_held_about_them(app: TestApp) {
    let t = app.submit("resident", "repair", "楼道灯坏了").await;
    app.work_to_closed(&t).await;
    let res = my_data(&app, "resident", "").await;
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"linli-my-data-")
    );
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["profile"]["name"], "王奶奶");
    assert_eq!(
        mine["profile"]["phone"], "13912345678",
        "their own number, in full"
    );
    let asked = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == t.as_str())
        .expect("the request is in it");
    assert_eq!(asked["state"], "closed");
    assert!(asked["events"].as_array().unwrap().len() >= 7, "{asked}");
    assert!(!mine["sign_ins"].as_array().unwrap().is_empty());
    // The volunteer's hours are in theirs.
    let member: Value = my_data(&app, "member", "").await.json().await.unwrap();
    assert!(!member["ledger"].as_array().unwrap().is_empty(), "{member}");
    // Each export is recorded.
    let resident = app.demo.user("resident").id.to_string();
    let recorded = records(&app, "admin", &format!("?person={resident}")).await;
    assert!(
        recorded.iter().any(|r| r["kind"] == "export"),
        "{recorded:?}"
    );
}

async fn the_download_as_a_zip_holds_the_photos(app: TestApp) {
    let t = app.submit("resident", "repair", "楼道灯坏了").await;
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/tickets/{t}/photos")))
                .bearer_auth(app.token("resident"))
                .header("content-type", "image/png")
                .body(PNG),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let res = my_data(&app, "resident", "?format=zip").await;
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .ends_with(".zip\""),
    );
    let bytes = res.bytes().await.unwrap().to_vec();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mine: Value = serde_json::from_reader(zip.by_name("my-data.json").unwrap()).unwrap();
    let asked = mine["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == t.as_str())
        .expect("the request is in it");
    let file = asked["photos"][0]["file"]
        .as_str()
        .expect("where the photo is");
    assert!(
        file.starts_with(&format!("photos/{t}/")) && file.ends_with(".png"),
        "{file}"
    );
    let mut photo = Vec::new();
    std::io::Read::read_to_end(&mut zip.by_name(file).unwrap(), &mut photo).unwrap();
    assert_eq!(photo, PNG, "the photo as it was uploaded");
    // Neither another format nor a guess.
    let r = app.get("resident", "/api/v1/me/export?format=rar").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// The branch's figures over the years around now (dates in the communities' zone).
async fn stats(app: &TestApp) -> Value {
    let r = app
        .get("secretary", "/api/v1/stats?from=2020-01-01&to=2040-01-01")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn a_person_erased_leaves_the_figures_and_nothing_of_themselves(app: TestApp) {
    let resident = app.demo.user("resident").id;
    let done = app
        .submit(
            "resident",
            "repair",
            "3号楼王奶奶家水管漏了，电话13912345678",
        )
        .await;
    app.act("resident", &done, "note", json!({"note": "我下午在家"}))
        .await;
    app.work_to_closed(&done).await;
    let open = app.submit("resident", "sanitation", "楼下垃圾没人收").await;

    // Not while something of hers is open; not by another community's office; confirmed.
    let path = format!("/api/v1/people/{resident}/erase");
    let r = app.post("secretary", &path, json!({"confirm": true})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    app.act("resident", &open, "cancel", json!({"reason": "不用了"}))
        .await;
    let r = app
        .post("yunhe_secretary", &path, json!({"confirm": true}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .post("secretary", &path, json!({"confirm": false}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let before = stats(&app).await;
    let r = app.post("secretary", &path, json!({"confirm": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["tickets"], 2, "{:?}", r.body);

    // Her words and her record are gone; the volunteer's notes and every figure stay.
    let seen = app
        .get("secretary", &format!("/api/v1/tickets/{done}"))
        .await;
    assert_eq!(seen.body["description"], workflow_core::erase::ERASED);
    assert!(
        !seen.body.to_string().contains("13912345678"),
        "{}",
        seen.body
    );
    assert!(!seen.body.to_string().contains("王奶奶"), "{}", seen.body);
    let history = app
        .get("secretary", &format!("/api/v1/tickets/{done}/events"))
        .await;
    let text = history.body.to_string();
    assert!(
        !text.contains("我下午在家") && !text.contains("13912345678"),
        "{text}"
    );
    assert_eq!(stats(&app).await, before, "the figures do not change");
    let me = app
        .send(
            app.client
                .get(app.url("/api/v1/me"))
                .bearer_auth(app.token("resident")),
        )
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED, "her tokens ended");
    let report = app.store.verify(&mut |_, _| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let recorded = records(&app, "admin", &format!("?subject={resident}")).await;
    assert!(
        recorded.iter().any(|r| r["kind"] == "erase"),
        "{recorded:?}"
    );
}

async fn past_retention_the_words_go_and_the_figures_stay(app: TestApp) {
    let old = app.submit("resident", "repair", "旧事：3号楼漏水").await;
    app.work_to_closed(&old).await;
    // The follow-up call falls due the next working day (the request's last change).
    app.advance(7 * 24 * 3600).await;
    app.advance(3 * 365 * 24 * 3600 + 3600).await;
    let fresh = app.submit("resident", "repair", "新事：灯坏了").await;
    let before = stats(&app).await;
    let keep = jiff::SignedDuration::from_hours(1095 * 24);
    let touched = linli::runtime::retention::run_once(&app.store, app.clock.as_ref(), keep)
        .await
        .unwrap();
    assert!(touched >= 1, "{touched}");
    let seen = app
        .get("secretary", &format!("/api/v1/tickets/{old}"))
        .await;
    assert_eq!(seen.body["description"], workflow_core::erase::ERASED);
    let seen = app
        .get("secretary", &format!("/api/v1/tickets/{fresh}"))
        .await;
    assert_eq!(
        seen.body["description"], "新事：灯坏了",
        "open and recent: kept"
    );
    // Once: the next run touches nothing; the figures of the old period are what they were.
    let again = linli::runtime::retention::run_once(&app.store, app.clock.as_ref(), keep)
        .await
        .unwrap();
    assert_eq!(again, 0);
    let report = app.store.verify(&mut |_, _| {}).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let recorded = records(&app, "admin", "").await;
    assert!(recorded.iter().any(|r| r["kind"] == "retention"));
    assert_eq!(stats(&app).await, before, "the figures do not change");
}

async fn a_sensitive_request_is_read_by_its_volunteer_and_branch_only(app: TestApp) {
    let hidden = linli_http::SENSITIVE_HIDDEN;
    let t = app
        .submit("resident", "health", "我血压高，头晕，想请医生上门")
        .await;
    let own = app.get("resident", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(own.body["description"], "我血压高，头晕，想请医生上门");
    // The community office sees it is there, not what it says, nor the number.
    let office = app.get("community", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(office.status, StatusCode::OK);
    assert_eq!(office.body["description"], hidden);
    assert!(
        office.body["requester"]["phone"]
            .as_str()
            .unwrap()
            .contains('*')
    );
    // The branch secretary reads it on its page (recorded), never in a list.
    let page = app.get("secretary", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(page.body["description"], "我血压高，头晕，想请医生上门");
    let list = app.get("secretary", "/api/v1/tickets").await;
    let listed = list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == t.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["description"], hidden);
    // The volunteer it is dispatched to reads it, recorded too.
    app.act("secretary", &t, "triage", Value::Null).await;
    let doctor = app.demo.user("doctor").id;
    app.act("secretary", &t, "dispatch", json!({"assignee": doctor}))
        .await;
    let theirs = app.get("doctor", &format!("/api/v1/tickets/{t}")).await;
    assert_eq!(theirs.body["description"], "我血压高，头晕，想请医生上门");
    let resident = app.demo.user("resident").id;
    let reads: Vec<Value> = records(&app, "admin", &format!("?subject={resident}"))
        .await
        .into_iter()
        .filter(|r| r["kind"] == "contact_read" && r["ticket_id"] == t.as_str())
        .collect();
    let readers: Vec<&str> = reads
        .iter()
        .map(|r| r["actor_id"].as_str().unwrap())
        .collect();
    assert!(
        readers.contains(&app.demo.user("secretary").id.to_string().as_str()),
        "{reads:?}"
    );
    assert!(readers.contains(&doctor.to_string().as_str()), "{reads:?}");
}

/// OWASP API6: hours and points are not to be farmed: a volunteer who entered a request for
/// a resident (代办) earns nothing doing it themselves.
async fn nobody_earns_on_a_request_they_entered(app: TestApp) {
    let resident = app.demo.user("resident").id;
    let member = app.demo.user("member").id;
    let r = app
        .post(
            "member",
            "/api/v1/tickets",
            json!({"category": "repair", "description": "替王奶奶报修", "on_behalf_of": resident, "channel": "phone"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let t = r.body["id"].as_str().unwrap().to_owned();
    app.act("secretary", &t, "triage", Value::Null).await;
    app.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    app.act("member", &t, "accept", Value::Null).await;
    app.act("member", &t, "start", Value::Null).await;
    let done = app
        .act("member", &t, "complete", json!({"hours": 3.0}))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{:?}", done.body);
    app.act("resident", &t, "confirm", json!({"rating": 5}))
        .await;
    let ledger = app
        .get("member", &format!("/api/v1/members/{member}/ledger"))
        .await;
    let entries = ledger.body["entries"].as_array().unwrap();
    assert!(
        entries.iter().all(|e| e["ticket_id"] != t.as_str()),
        "{:?}",
        ledger.body
    );
}

/// The shipped workflows, community-service's `[credit]` rule capping a person's day at 90
/// minutes and 7 points and questioning work reported done within ten minutes of its taking.
fn capped_catalog() -> workflow_core::Catalog {
    let sources: Vec<_> = linli::workflows::built_in_sources()
        .into_iter()
        .map(|mut s| {
            if s.name.ends_with("community-service-v5.toml") {
                s.text = s.text.replace(
                    "rating_bonus = [-1, 0, 0, 1, 2]\n",
                    "rating_bonus = [-1, 0, 0, 1, 2]\ndaily_time = \"90m\"\ndaily_points = 7\nquestion_under = \"10m\"\n",
                );
                assert!(s.text.contains("question_under"));
            }
            s
        })
        .collect();
    workflow_core::load(&sources).expect("the capped workflows load")
}

/// The member's ledger entries for `ticket`, as (minutes, points).
async fn credited(app: &TestApp, ticket: &str) -> Vec<(i64, i64)> {
    let member = app.demo.user("member").id;
    let r = app
        .get(
            "member",
            &format!("/api/v1/members/{member}/ledger?from=2000-01-01&to=2100-01-01"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ticket_id"] == ticket)
        .map(|e| {
            (
                e["minutes"].as_i64().unwrap(),
                e["points"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// The `credit_questioned` doubts in a request's history, as the secretary reads it.
async fn doubts(app: &TestApp, ticket: &str, who: &str) -> Vec<Value> {
    let r = app
        .get(who, &format!("/api/v1/tickets/{ticket}/events"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "credit_questioned")
        .inspect(|e| assert_eq!(e["actor_id"], Value::Null, "the system questions: {e}"))
        .flat_map(|e| e["data"]["doubts"].as_array().unwrap().clone())
        .collect()
}

async fn hours_and_points_cannot_be_farmed(url: String) {
    let app = TestApp::spawn_on(&url, capped_catalog()).await;
    // An hour reported the instant the work was taken: credited (the branch decides), and
    // questioned, to the secretary, not to the resident.
    let first = app.submit("resident", "repair", "楼道灯坏了").await;
    app.work_to_closed(&first).await;
    let points = credited(&app, &first).await[0].1;
    assert_eq!(credited(&app, &first).await, vec![(60, points)]);
    let said = doubts(&app, &first, "secretary").await;
    assert_eq!(said[0], json!({"doubt": "fast", "secs": 0}), "{said:?}");
    assert_eq!(
        said[1],
        json!({"doubt": "beyond_held", "reported_minutes": 60, "held_minutes": 0})
    );
    assert!(
        doubts(&app, &first, "resident").await.is_empty(),
        "not the resident's to see"
    );
    let told = crate::support::told(&app, &first).await;
    assert!(
        told.iter().any(|(event, to)| event == "credit_questioned"
            && *to == workflow_core::Recipient::Staff(workflow_core::role::Role::Secretary)),
        "{told:?}"
    );
    // The same day, a second hour: only what is left of the day's 90 minutes and 7 points.
    let second = app.submit("resident", "repair", "水管漏了").await;
    app.work_to_closed(&second).await;
    assert_eq!(credited(&app, &second).await, vec![(30, 7 - points)]);
    let said = doubts(&app, &second, "secretary").await;
    assert!(
        said.contains(
            &json!({"doubt": "daily_cap", "would_minutes": 60, "would_points": points,
            "minutes": 30, "points": 7 - points})
        ),
        "{said:?}"
    );
    // The next day, an hour worked over two: credited in full, and nothing to question.
    app.advance(26 * 3600).await;
    let third = app.submit("resident", "repair", "门锁坏了").await;
    let member = app.demo.user("member").id;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": member})),
        ("member", "accept", Value::Null),
        ("member", "start", Value::Null),
    ] {
        let r = app.act(who, &third, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    app.advance(2 * 3600).await;
    let r = app
        .act("member", &third, "complete", json!({"hours": 1.0}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .act("resident", &third, "confirm", json!({"rating": 5}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(credited(&app, &third).await, vec![(60, points)]);
    assert!(doubts(&app, &third, "secretary").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_and_points_cannot_be_farmed_sqlite() {
    hours_and_points_cannot_be_farmed(crate::support::sqlite_url().await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hours_and_points_cannot_be_farmed_postgres() {
    if let Some(url) = crate::support::postgres_url().await {
        hours_and_points_cannot_be_farmed(url).await
    }
}

crate::backends! {
    nobody_earns_on_a_request_they_entered,
    a_sensitive_request_is_read_by_its_volunteer_and_branch_only,
    a_person_erased_leaves_the_figures_and_nothing_of_themselves,
    past_retention_the_words_go_and_the_figures_stay,
    a_person_downloads_everything_held_about_them,
    the_download_as_a_zip_holds_the_photos,
    access_is_recorded_and_read_by_admins_and_the_street,
}
