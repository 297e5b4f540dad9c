//! 双报到 over HTTP on SQLite and on PostgreSQL: a scripted quarter. The office publishes a
//! code; a newcomer reports in from it and two members from the console; the office decides;
//! the members serve; the quarter's feedback sheets (one per work unit) total what an
//! independent count of the events says; the office signs one off, which freezes it, and the
//! work unit reads it with its check code and nobody without.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Works a ticket through to closed by `member_key`, reporting `hours`.
async fn worked_by(app: &TestApp, member_key: &str, what: &str, hours: f64) -> String {
    let t = app.submit("resident", "repair", what).await;
    let member = app.demo.user(member_key).id;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": member})),
        (member_key, "accept", Value::Null),
        (member_key, "start", Value::Null),
        (member_key, "complete", json!({"hours": hours})),
        ("resident", "confirm", json!({"rating": 4})),
    ] {
        let r = app.act(who, &t, action, body).await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {:?}", r.body);
    }
    t
}

/// The minutes a member's confirmed work in `tickets` was worth, counted from the events
/// alone: the service minutes the member reported on `complete`, for each ticket its resident confirmed within
/// the quarter.
async fn counted_from_events(app: &TestApp, tickets: &[String], member: &str) -> (i64, i64) {
    let (mut minutes, mut services) = (0, 0);
    for t in tickets {
        let events = app
            .get("secretary", &format!("/api/v1/tickets/{t}/events"))
            .await;
        let events = events.body.as_array().unwrap().clone();
        let confirmed_in_quarter = events.iter().any(|e| {
            e["kind"] == "confirm"
                && e["at"]
                    .as_str()
                    .is_some_and(|at| ("2026-06-30T16".."2026-09-30T16").contains(&at))
        });
        let done = events
            .iter()
            .find(|e| e["kind"] == "complete" && e["actor_id"] == member);
        if let (true, Some(done)) = (confirmed_in_quarter, done) {
            minutes += done["data"]["service_minutes"].as_i64().expect("reported");
            services += 1;
        }
    }
    (minutes, services)
}

async fn a_quarter_of_reporting_in_ends_in_signed_feedback_sheets(app: TestApp) {
    app.at("2026-07-01T09:00");
    let community = app.demo.hehuatang;
    let member = app.demo.user("member").id.to_string();
    let doctor = app.demo.user("doctor").id.to_string();

    // The office publishes the code a poster carries; nobody else may.
    let code_path = format!("/api/v1/communities/{community}/report-in-code");
    for (who, status) in [
        ("member", StatusCode::FORBIDDEN),
        ("secretary", StatusCode::NOT_FOUND),
        ("yunhe_secretary", StatusCode::NOT_FOUND),
    ] {
        let r = app.post(who, &code_path, Value::Null).await;
        assert_eq!(r.status, status, "{who}: {:?}", r.body);
    }
    let r = app.post("community", &code_path, Value::Null).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let code = r.body["code"].as_str().unwrap().to_owned();
    assert!(
        r.body["link"]
            .as_str()
            .unwrap()
            .ends_with(&format!("#report-in/{code}"))
    );
    assert!(r.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let r = app.get("secretary", &code_path).await;
    assert_eq!(
        r.body["code"],
        code.as_str(),
        "the branch reads it to hand it on"
    );

    // A newcomer reports in from it, signed in nowhere.
    let anonymous = reqwest::Client::new();
    let form = anonymous
        .get(app.url(&format!("/public/v1/report-in/{code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let form: Value = form.json().await.unwrap();
    assert_eq!(form["community"], "荷花塘社区");
    assert!(form["posts"].as_array().unwrap().contains(&json!("助老")));
    let newcomer = json!({"name": "孙老师", "phone": "13700001111", "work_unit": "区税务局",
        "party_org": "区税务局机关党支部", "post": "助老", "skills": ["elderly_care"]});
    let send = |path: String, body: Value| {
        let req = anonymous.post(app.url(&path)).json(&body);
        async move { req.send().await.unwrap() }
    };
    let r = send("/public/v1/report-in/AAAAAAAA".to_owned(), newcomer.clone()).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND, "a code nobody published");
    let mut wrong_post = newcomer.clone();
    wrong_post["post"] = json!("宇航员");
    let r = send(format!("/public/v1/report-in/{code}"), wrong_post).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = send(
        format!("/public/v1/report-in/{}", code.to_lowercase()),
        newcomer,
    )
    .await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let newcomer_id: Value = r.json().await.unwrap();

    // Two members report in from the console; a resident may not; one at a time.
    let mine = |unit: &str, post: &str| {
        json!({"work_unit": unit, "party_org": format!("{unit}机关党支部"), "post": post,
            "skills": ["mediation"]})
    };
    let r = app
        .post("resident", "/api/v1/me/report-in", mine("区税务局", "助老"))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .post(
            "member",
            "/api/v1/me/report-in",
            mine("区税务局", "和事佬调解员"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let member_asks = r.body["id"].as_str().unwrap().to_owned();
    let r = app
        .post("member", "/api/v1/me/report-in", mine("区税务局", "助老"))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = app
        .post("doctor", "/api/v1/me/report-in", mine("区人民医院", "助老"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let doctor_asks = r.body["id"].as_str().unwrap().to_owned();
    let r = app.get("member", "/api/v1/me/report-in").await;
    assert_eq!(r.body["pending"]["id"], member_asks.as_str());

    // The office decides; the branch reads; the next community's secretary learns nothing.
    let pending = format!("/api/v1/communities/{community}/report-ins?status=pending");
    let r = app.get("secretary", &pending).await;
    assert_eq!(r.body.as_array().map(Vec::len), Some(3), "{:?}", r.body);
    let r = app.get("yunhe_secretary", &pending).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let decide = |id: &str| format!("/api/v1/report-ins/{id}/decision");
    let r = app
        .post("secretary", &decide(&member_asks), json!({"approve": true}))
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "the branch does not decide"
    );
    let r = app
        .post(
            "community",
            &decide(&member_asks),
            json!({"approve": false}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a decline says why"
    );
    for id in [
        &member_asks,
        &doctor_asks,
        newcomer_id["id"].as_str().unwrap(),
    ] {
        let r = app
            .post("community", &decide(id), json!({"approve": true}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = app
        .post("community", &decide(&member_asks), json!({"approve": true}))
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "decided once");
    // The newcomer is a member of the community now, their skill with them.
    let people = app
        .get("community", "/api/v1/people?phone=13700001111")
        .await;
    let people = people.body.as_array().unwrap();
    assert_eq!(people.len(), 1, "{people:?}");
    assert!(
        people[0]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("member"))
    );
    let newcomer_person = people[0]["id"].as_str().unwrap().to_owned();
    let r = app
        .get("member", &format!("/api/v1/members/{member}/profile"))
        .await;
    assert_eq!(
        (r.body["work_unit"].as_str(), r.body["post"].as_str()),
        (Some("区税务局"), Some("和事佬调解员"))
    );

    // The quarter: the member serves three times; the doctor does not.
    let mut tickets = Vec::new();
    for (day, hours) in [("2026-07-10T10:00", 1.5), ("2026-08-20T15:00", 2.0)] {
        app.at(day);
        tickets.push(worked_by(&app, "member", "楼道灯坏了", hours).await);
    }
    app.at("2026-09-12T09:00");
    tickets.push(worked_by(&app, "member", "水管漏水", 0.5).await);
    app.at("2026-09-30T10:00");

    let feedback = format!("/api/v1/communities/{community}/feedback?period=2026Q3");
    let r = app.get("community", &feedback).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let view = r.body.clone();
    let sheets = view["sheets"].as_array().unwrap();
    let units: Vec<&str> = sheets
        .iter()
        .map(|s| s["work_unit"].as_str().unwrap())
        .collect();
    assert_eq!(units, ["区人民医院", "区税务局"]);
    let tax = &sheets[1];
    let (minutes, services) = counted_from_events(&app, &tickets, &member).await;
    assert_eq!((minutes, services), (240, 3), "the independent count");
    assert_eq!(
        (tax["hours"].as_f64(), tax["services"].as_i64()),
        (Some(minutes as f64 / 60.0), Some(services))
    );
    let line = tax["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["person_id"] == member.as_str())
        .unwrap();
    assert_eq!(line["post"], "和事佬调解员");
    assert_eq!(line["done"].as_array().unwrap().len(), 3);
    assert_eq!(line["done"][0]["rating"], 4);
    assert_eq!(sheets[0]["hours"].as_f64(), Some(0.0));
    let idle: Vec<&str> = view["idle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["person_id"].as_str().unwrap())
        .collect();
    assert!(idle.contains(&doctor.as_str()) && idle.contains(&newcomer_person.as_str()));
    assert!(!idle.contains(&member.as_str()));
    let not_reported: Vec<&str> = view["not_reported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(not_reported.contains(&"周律师"), "{not_reported:?}");
    assert!(!not_reported.contains(&"王师傅") && !not_reported.contains(&"孙老师"));

    // Signed off by the office: frozen; once per unit and period.
    let sign = format!("/api/v1/communities/{community}/feedback-sheets");
    let body =
        json!({"work_unit": "区税务局", "period": "2026Q3", "remark": "表现突出，服务认真。"});
    let r = app.post("secretary", &sign, body.clone()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.post("community", &sign, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let signed = r.body.clone();
    assert_eq!(signed["hours"], tax["hours"]);
    let (number, check) = (
        signed["number"].as_str().unwrap().to_owned(),
        signed["check_code"].as_str().unwrap().to_owned(),
    );
    let r = app.post("community", &sign, body).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let audit = app.get("admin", "/api/v1/admin/audit").await;
    let signing: Vec<&Value> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "feedback_sheet")
        .collect();
    assert_eq!(
        signing.len(),
        1,
        "the sign-off is recorded once: {:?}",
        audit.body
    );
    assert!(signing[0]["detail"].as_str().unwrap().contains(&number));
    // A correction after the sign-off, in the quarter still, does not change the signed
    // sheet; work after the quarter is on none of its sheets.
    app.at("2026-09-30T14:00");
    let r = app
        .post(
            "community",
            &format!("/api/v1/members/{member}/ledger"),
            json!({"ticket_id": tickets[0], "minutes": 30, "reason": "补记漏记的服务时间"}),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.body);
    app.at("2026-10-02T09:00");
    tickets.push(worked_by(&app, "member", "门锁坏了", 3.0).await);
    let records = app
        .get(
            "member",
            &format!("/api/v1/members/{member}/records?from=2026-07-01&to=2026-10-01"),
        )
        .await;
    let live: f64 = records
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["hours"].as_f64().unwrap())
        .sum();
    assert_eq!(live, 4.5, "the records have the correction");
    let r = app.get("community", &feedback).await;
    let tax_now = &r.body["sheets"][1];
    assert_eq!(
        (tax_now["number"].as_str(), tax_now["hours"].as_f64()),
        (Some(number.as_str()), Some(4.0))
    );
    assert_eq!(
        r.body["sheets"][0]["number"],
        Value::Null,
        "the other unit's is not signed"
    );

    // The work unit reads its sheet with the check code; without it, nothing.
    let read = |path: String| {
        let req = anonymous.get(app.url(&path));
        async move { req.send().await.unwrap() }
    };
    let r = read(format!("/public/v1/feedback-sheets/{number}?code={check}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["work_unit"].as_str(), v["hours"].as_f64()),
        (Some("区税务局"), Some(4.0))
    );
    let r = read(format!("/public/v1/feedback-sheets/{number}?code=AAAAAA")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let page = read(format!("/feedback/{number}?code={check}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("反馈单") && html.contains("王师傅") && html.contains("表现突出"));
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/feedback-sheets/{number}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let csv = app
        .send(
            app.client
                .get(app.url(&format!("{feedback}&format=csv")))
                .bearer_auth(app.token("community")),
        )
        .await;
    let text = csv.body.as_str().unwrap();
    assert!(
        text.starts_with("\u{feff}work_unit,from,to,sheet_number"),
        "{text}"
    );
    // The doctor and the newcomer with a line each, the member with a line per service.
    assert_eq!(text.lines().count(), 1 + 2 + 3, "{text}");
}

crate::backends! {
    a_quarter_of_reporting_in_ends_in_signed_feedback_sheets,
}
