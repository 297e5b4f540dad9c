//! Open311 GeoReport v2: every endpoint in both formats, against the field names and shapes
//! the spec gives; a request created through Open311 is dispatched and closed through the
//! normal API and then reads `closed`, with its notes, through Open311. Both backends.

use crate::support::*;
use quick_xml::Reader;
use quick_xml::events::Event;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The element paths of an XML document (`services/service/service_code` …), checking it is
/// well-formed on the way.
fn xml_paths(text: &str) -> Vec<String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => {
                stack.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap());
                paths.push(stack.join("/"));
            }
            Event::End(_) => {
                stack.pop();
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty(), "every element closed");
    paths
}

async fn get_raw(app: &TestApp, path: &str) -> (StatusCode, String, String) {
    let res = app.client.get(app.url(path)).send().await.unwrap();
    let status = res.status();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, ct, res.text().await.unwrap())
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let (status, ct, body) = get_raw(app, path).await;
    assert!(ct.starts_with("application/json"), "{path}: {ct}");
    (status, serde_json::from_str(&body).unwrap())
}

async fn get_xml(app: &TestApp, path: &str) -> (StatusCode, Vec<String>, String) {
    let (status, ct, body) = get_raw(app, path).await;
    assert!(ct.starts_with("text/xml"), "{path}: {ct}");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"));
    (status, xml_paths(&body), body)
}

fn has_all(paths: &[String], want: &[&str]) {
    for w in want {
        assert!(paths.iter().any(|p| p == w), "missing {w} in {paths:?}");
    }
}

async fn discovery_services_and_definitions(app: TestApp) {
    let (s, d) = get_json(&app, "/open311/v2/discovery.json").await;
    assert_eq!(s, StatusCode::OK);
    for f in ["changeset", "contact", "key_service", "endpoints"] {
        assert!(d.get(f).is_some(), "discovery.{f}");
    }
    let e = &d["endpoints"][0];
    assert_eq!(e["specification"], "http://wiki.open311.org/GeoReport_v2");
    assert_eq!(e["formats"], json!(["text/xml", "application/json"]));
    assert!(e["url"].as_str().unwrap().ends_with("/open311/v2"));
    let (_, paths, _) = get_xml(&app, "/open311/v2/discovery.xml").await;
    has_all(
        &paths,
        &[
            "discovery/changeset",
            "discovery/endpoints/endpoint/specification",
            "discovery/endpoints/endpoint/url",
            "discovery/endpoints/endpoint/formats/format",
            "discovery/endpoints/endpoint/type",
        ],
    );

    let (s, services) = get_json(&app, "/open311/v2/services.json?jurisdiction_id=linli").await;
    assert_eq!(s, StatusCode::OK);
    let list = services.as_array().unwrap();
    let codes: Vec<&str> = list
        .iter()
        .map(|s| s["service_code"].as_str().unwrap())
        .collect();
    for code in ["repair", "elderly_care", "mediation", "micro_wish"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    let repair = list.iter().find(|s| s["service_code"] == "repair").unwrap();
    for f in ["service_name", "description", "keywords", "group"] {
        assert!(repair[f].is_string(), "service.{f}: {repair}");
    }
    assert_eq!(repair["metadata"], false);
    assert_eq!(repair["type"], "realtime");
    let (_, paths, body) = get_xml(&app, "/open311/v2/services.xml").await;
    has_all(
        &paths,
        &[
            "services/service/service_code",
            "services/service/service_name",
            "services/service/metadata",
            "services/service/type",
            "services/service/keywords",
            "services/service/group",
        ],
    );
    assert!(body.contains("<service_code>repair</service_code>"));

    let (s, def) = get_json(&app, "/open311/v2/services/repair.json").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(def, json!({"service_code": "repair", "attributes": []}));
    let (_, paths, _) = get_xml(&app, "/open311/v2/services/repair.xml").await;
    has_all(
        &paths,
        &[
            "service_definition/service_code",
            "service_definition/attributes",
        ],
    );

    // Errors in the spec's shape, in both formats.
    let (s, err) = get_json(&app, "/open311/v2/services/no_such.json").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(err[0]["code"], 404);
    assert!(err[0]["description"].is_string());
    let (s, paths, _) = get_xml(&app, "/open311/v2/services/no_such.xml").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    has_all(&paths, &["errors/error/code", "errors/error/description"]);
}

async fn post_request(app: &TestApp, ext: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let res = app
        .client
        .post(app.url(&format!("/open311/v2/requests.{ext}")))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

async fn a_request_from_open311_is_worked_through_the_api_and_reads_closed(app: TestApp) {
    let key = app.token("resident");
    // Refusals first: no key, a bad key, an unknown service, no description.
    let (s, body) = post_request(
        &app,
        "json",
        &[("service_code", "repair"), ("description", "x")],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["code"],
        401
    );
    let (s, _) = post_request(
        &app,
        "json",
        &[
            ("api_key", "nope"),
            ("service_code", "repair"),
            ("description", "x"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, body) = post_request(
        &app,
        "xml",
        &[
            ("api_key", &key),
            ("service_code", "no_such"),
            ("description", "x"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    has_all(
        &xml_paths(&body),
        &["errors/error/code", "errors/error/description"],
    );
    let (s, _) = post_request(
        &app,
        "json",
        &[("api_key", &key), ("service_code", "repair")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let secretary_key = app.token("secretary");
    let (s, _) = post_request(
        &app,
        "json",
        &[
            ("api_key", &secretary_key),
            ("service_code", "repair"),
            ("description", "x"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Created in JSON, and another in XML.
    let (s, body) = post_request(
        &app,
        "json",
        &[
            ("api_key", &key),
            ("jurisdiction_id", "linli"),
            ("service_code", "repair"),
            ("description", "3号楼2单元楼道灯坏了 <请尽快>"),
            ("lat", "30.27"),
            ("long", "120.15"),
            ("first_name", "王"),
            ("phone", "13800000000"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(created[0].get("service_notice").is_some());
    let (s, body) = post_request(
        &app,
        "xml",
        &[
            ("api_key", &key),
            ("service_code", "sanitation"),
            ("description", "垃圾桶满了"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    has_all(
        &xml_paths(&body),
        &["service_requests/request/service_request_id"],
    );

    // A normal ticket: in the repair workflow, from the open311 channel, seen by the branch.
    let r = app.get("secretary", &format!("/api/v1/tickets/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["channel"], "open311");
    assert_eq!(r.body["category"], "repair");
    assert_eq!(r.body["description"], "3号楼2单元楼道灯坏了 <请尽快>");

    let q = |path: &str| {
        format!(
            "{path}{}api_key={key}",
            if path.contains('?') { "&" } else { "?" }
        )
    };
    let (s, one) = get_json(&app, &q(&format!("/open311/v2/requests/{id}.json"))).await;
    assert_eq!(s, StatusCode::OK);
    let req = &one[0];
    for f in [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ] {
        assert!(req.get(f).is_some(), "request.{f}: {req}");
    }
    assert_eq!(req["status"], "open");
    assert_eq!(req["agency_responsible"], "荷花塘小区党支部");
    let w3c = |v: &Value| {
        let s = v.as_str().unwrap();
        s.len() == 25
            && s.ends_with("+08:00")
            && s.as_bytes()[10] == b'T'
            && s.parse::<jiff::Timestamp>().is_ok()
    };
    assert!(
        w3c(&req["requested_datetime"]),
        "{}",
        req["requested_datetime"]
    );
    assert!(
        w3c(&req["expected_datetime"]),
        "the SLA due time: {}",
        req["expected_datetime"]
    );

    // Dispatched and closed through the normal API.
    app.work_to_closed(&id).await;
    let (_, one) = get_json(&app, &q(&format!("/open311/v2/requests/{id}.json"))).await;
    assert_eq!(one[0]["status"], "closed");
    assert!(
        one[0]["status_notes"].as_str().unwrap().contains("已办结"),
        "{}",
        one[0]["status_notes"]
    );
    let (_, paths, body) = get_xml(&app, &q(&format!("/open311/v2/requests/{id}.xml"))).await;
    has_all(
        &paths,
        &[
            "service_requests/request/status",
            "service_requests/request/status_notes",
        ],
    );
    assert!(body.contains("<status>closed</status>"));
    assert!(body.contains("&lt;请尽快&gt;"), "text is escaped");

    // Lists with the spec's filters.
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, all) = get_json(&app, &q("/open311/v2/requests.json")).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, closed) = get_json(&app, &q("/open311/v2/requests.json?status=closed")).await;
    assert_eq!(ids(&closed), vec![id.as_str()]);
    let (_, open) = get_json(&app, &q("/open311/v2/requests.json?status=open")).await;
    assert_eq!(open[0]["service_code"], "sanitation");
    let (_, repair) = get_json(&app, &q("/open311/v2/requests.json?service_code=repair")).await;
    assert_eq!(ids(&repair), vec![id.as_str()]);
    let (_, named) = get_json(
        &app,
        &q(&format!(
            "/open311/v2/requests.json?service_request_id={id}"
        )),
    )
    .await;
    assert_eq!(ids(&named), vec![id.as_str()]);
    let (_, future) = get_json(&app, &q("/open311/v2/requests.json?start_date=2099-01-01T00:00:00%2B08:00&end_date=2099-02-01T00:00:00%2B08:00")).await;
    assert_eq!(future, json!([]));
    let (s, _) = get_json(&app, &q("/open311/v2/requests.json?start_date=yesterday")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (_, paths, _) = get_xml(&app, &q("/open311/v2/requests.xml?status=open,closed")).await;
    has_all(&paths, &["service_requests/request/service_request_id"]);

    // Tokens: our requests are created at once, so a token is the id.
    let (s, tok) = get_json(&app, &q(&format!("/open311/v2/tokens/{id}.json"))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tok, json!([{"service_request_id": id, "token": id}]));
    let (_, paths, _) = get_xml(&app, &q(&format!("/open311/v2/tokens/{id}.xml"))).await;
    has_all(
        &paths,
        &[
            "service_requests/request/service_request_id",
            "service_requests/request/token",
        ],
    );

    // Reads are scoped to the key's person: another community's resident sees nothing.
    let other = app.token("yunhe_resident");
    let (s, _) = get_json(
        &app,
        &format!("/open311/v2/requests/{id}.json?api_key={other}"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Without a key the read is anonymous, as GeoReport v2's are: the public form.
    let (s, public) = get_json(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(public[0]["status"], "closed");
    assert_eq!(
        public[0]["description"], "",
        "a resident's words are not public"
    );
    // An unknown format is a 404.
    let (s, _, _) = get_raw(&app, "/open311/v2/services.csv").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A client with a key creates; any GeoReport client, with no key, reads it back in both
/// formats, in its public form; a sensitive category is not public at all.
async fn anonymous_reads_see_the_public_form_and_nothing_sensitive(app: TestApp) {
    let key = app.token("resident");
    let mut ids = Vec::new();
    for (code, text) in [
        ("repair", "3号楼王奶奶家水管漏了"),
        ("health", "我血压高，想请医生上门"),
    ] {
        let (s, body) = post_request(
            &app,
            "json",
            &[
                ("api_key", &key),
                ("service_code", code),
                ("description", text),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        let created: Value = serde_json::from_str(&body).unwrap();
        ids.push(
            created[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let (repair, health) = (&ids[0], &ids[1]);

    let (s, doc) = get_json(&app, &format!("/open311/v2/requests/{repair}.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc[0]["service_request_id"], repair.as_str());
    assert_eq!(doc[0]["service_code"], "repair");
    assert_eq!(doc[0]["status"], "open");
    assert_eq!(doc[0]["description"], "");
    assert!(doc[0]["address_id"].is_null(), "{doc}");
    assert!(!doc.to_string().contains("王奶奶"));
    let (s, paths, body) = get_xml(&app, &format!("/open311/v2/requests/{repair}.xml")).await;
    assert_eq!(s, StatusCode::OK);
    has_all(
        &paths,
        &[
            "service_requests/request/service_request_id",
            "service_requests/request/status",
        ],
    );
    assert!(!body.contains("王奶奶"), "{body}");
    let (s, listed) = get_json(&app, "/open311/v2/requests.json").await;
    assert_eq!(s, StatusCode::OK);
    let listed: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap())
        .collect();
    assert!(listed.contains(&repair.as_str()));

    // Health is sensitive: not public, not listed; the key's person still reads it whole.
    let (s, _) = get_json(&app, &format!("/open311/v2/requests/{health}.json")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(!listed.contains(&health.as_str()));
    let (s, own) = get_json(
        &app,
        &format!("/open311/v2/requests/{health}.json?api_key={key}"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(own[0]["description"], "我血压高，想请医生上门");
    // A wrong key is still refused, not read as no key.
    let (s, _) = get_json(
        &app,
        &format!("/open311/v2/requests/{repair}.json?api_key=nope"),
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

backends! {
    discovery_services_and_definitions,
    a_request_from_open311_is_worked_through_the_api_and_reads_closed,
    anonymous_reads_see_the_public_form_and_nothing_sensitive,
}

/// An api_key is a person's token, with the same request budget as the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_has_the_callers_rate_limit() {
    let url = sqlite_url().await;
    let app = TestApp::spawn_with(&url, |c| linli::app::Config {
        rate_limit: 1,
        rate_burst: 1,
        ..c
    })
    .await;
    let key = app.token("resident");
    let path = format!("/open311/v2/requests.json?api_key={key}");
    let (first, _) = get_json(&app, &path).await;
    assert_eq!(first, StatusCode::OK);
    let (second, err) = get_json(&app, &path).await;
    assert_eq!(second, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(err[0]["code"], 429);
}

/// OWASP API10: what an integration sends through Open311 is held to the API's own checks
/// and sizes, and to the same person's daily limit; a refusal stores nothing.
async fn an_integration_is_held_to_the_apis_checks_and_sizes(url: String) {
    let app = TestApp::spawn_with(&url, |c| linli::app::Config {
        daily_requests: Some(2),
        ..c
    })
    .await;
    let key = app.token("resident");
    // Too large to read: refused before it is read.
    let huge = "长".repeat(40_000);
    let (s, _) = post_request(
        &app,
        "json",
        &[
            ("api_key", &key),
            ("service_code", "repair"),
            ("description", &huge),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    // Within the body limit, past the description's: refused by the core's own rule.
    let long = "长".repeat(workflow_core::command::MAX_DESCRIPTION_CHARS + 1);
    let (s, body) = post_request(
        &app,
        "json",
        &[
            ("api_key", &key),
            ("service_code", "repair"),
            ("description", &long),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    // Not a form at all.
    let res = app
        .client
        .post(app.url("/open311/v2/requests.json"))
        .header("content-type", "application/json")
        .body(r#"{"api_key":"x","service_code":"repair","description":"x"}"#)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error(), "{}", res.status());
    // A key longer than any token is not looked up.
    let long_key = "k".repeat(10_000);
    let (s, _) = post_request(
        &app,
        "json",
        &[
            ("api_key", &long_key),
            ("service_code", "repair"),
            ("description", "x"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let mine = app.get("resident", "/api/v1/tickets").await;
    assert_eq!(
        mine.body["items"],
        json!([]),
        "nothing was stored: {:?}",
        mine.body
    );
    // The door does not widen the person's day: two, then refused.
    for _ in 0..2 {
        let (s, body) = post_request(
            &app,
            "json",
            &[
                ("api_key", &key),
                ("service_code", "repair"),
                ("description", "楼道灯坏了"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
    }
    let (s, _) = post_request(
        &app,
        "json",
        &[
            ("api_key", &key),
            ("service_code", "repair"),
            ("description", "又一件"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_is_held_to_the_apis_checks_and_sizes_sqlite() {
    an_integration_is_held_to_the_apis_checks_and_sizes(sqlite_url().await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integration_is_held_to_the_apis_checks_and_sizes_postgres() {
    if let Some(url) = crate::support::postgres_url().await {
        an_integration_is_held_to_the_apis_checks_and_sizes(url).await
    }
}
