//! The authorization matrix: every route the API serves (read from its OpenAPI document,
//! which is built from the router's own route list) × every kind of caller, with the status
//! each must get. There is no default row: a new route without an entry fails this test.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    Anonymous,
    Malformed,
    Revoked,
    Requester,
    OtherResident,
    Assignee,
    OtherMember,
    Secretary,
    OtherSecretary,
    Community,
    Street,
    Admin,
    /// A residents' representative (督单): read-only oversight, a resident too.
    Supervisor,
}

const EVERYONE: [Who; 13] = [
    Who::Anonymous,
    Who::Malformed,
    Who::Revoked,
    Who::Requester,
    Who::OtherResident,
    Who::Assignee,
    Who::OtherMember,
    Who::Secretary,
    Who::OtherSecretary,
    Who::Community,
    Who::Street,
    Who::Admin,
    Who::Supervisor,
];

fn is_unauthenticated(w: Who) -> bool {
    matches!(w, Who::Anonymous | Who::Malformed | Who::Revoked)
}

/// The expected status of `method path` for `who`. Panics on a route it does not know.
fn expected(method: &str, path: &str, who: Who) -> StatusCode {
    use StatusCode as S;
    use Who::*;
    let public = matches!(path, "/healthz" | "/readyz" | "/metrics" | "/openapi.json");
    if public {
        return S::OK;
    }
    // Signing in needs no token, and a wrong code is refused alike for everyone: ten
    // attempts from one address, then 429 (all callers here come from one).
    if matches!(
        (method, path),
        ("POST", "/api/v1/sessions") | ("POST", "/api/v1/sign-in-requests")
    ) {
        let accepted = if path == "/api/v1/sessions" {
            S::UNAUTHORIZED
        } else {
            S::ACCEPTED
        };
        let attempt = EVERYONE.iter().position(|w| *w == who).expect("everyone");
        return if attempt < 10 {
            accepted
        } else {
            S::TOO_MANY_REQUESTS
        };
    }
    if is_unauthenticated(who) {
        return S::UNAUTHORIZED;
    }
    // Who can see the ticket under test (the requester's, held by the assignee, in the
    // secretary's branch, the community's community, the street's street).
    let sees = matches!(who, Requester | Assignee | Secretary | Community | Street);
    let staff = matches!(who, Secretary | OtherSecretary | Community | Street);
    match (method, path) {
        ("POST", "/api/v1/tickets") => match who {
            Requester | OtherResident | Supervisor => S::CREATED,
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/tickets")
        | ("GET", "/api/v1/workflows")
        | ("GET", "/api/v1/categories")
        | ("GET", "/api/v1/me")
        | ("GET", "/api/v1/me/export")
        | ("GET", "/api/v1/teams") => S::OK,
        ("GET", "/api/v1/tickets/{id}") | ("GET", "/api/v1/tickets/{id}/events") => {
            if sees {
                S::OK
            } else {
                S::NOT_FOUND
            }
        }
        // The action tried is `note`: requester, assignee and staff may add one.
        ("POST", "/api/v1/tickets/{id}/actions/{action}") => {
            if sees {
                S::OK
            } else {
                S::NOT_FOUND
            }
        }
        // Photos: whoever sees the request sees them, and may add one (the requester a
        // `request` photo, the holder and staff an `after` one).
        ("POST", "/api/v1/tickets/{id}/photos") => {
            if sees {
                S::CREATED
            } else {
                S::NOT_FOUND
            }
        }
        ("GET", "/api/v1/tickets/{id}/photos") | ("GET", "/api/v1/tickets/{id}/photos/{photo}") => {
            if sees {
                S::OK
            } else {
                S::NOT_FOUND
            }
        }
        // Asked without the phone number it looks for.
        ("GET", "/api/v1/residents") => match who {
            Assignee | OtherMember | Secretary | OtherSecretary | Community => {
                S::UNPROCESSABLE_ENTITY
            }
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/tickets/{id}/candidates") | ("GET", "/api/v1/tickets/{id}/duplicates") => {
            match (staff, sees) {
                (false, _) => S::FORBIDDEN,
                (true, true) => S::OK,
                (true, false) => S::NOT_FOUND,
            }
        }
        ("POST", "/api/v1/admin/org-units")
        | ("POST", "/api/v1/admin/branches")
        | ("POST", "/api/v1/admin/people")
        | ("POST", "/api/v1/admin/teams")
        | ("POST", "/api/v1/admin/partner-units") => {
            if who == Admin {
                S::CREATED
            } else {
                S::FORBIDDEN
            }
        }
        ("POST", "/api/v1/admin/people/{id}/revoke-tokens")
        | ("GET", "/api/v1/admin/people/{id}/contact-reads") => {
            if who == Admin {
                S::OK
            } else {
                S::FORBIDDEN
            }
        }
        ("GET", "/api/v1/admin/outbox") | ("GET", "/api/v1/admin/outbox/backlog") => {
            if who == Admin { S::OK } else { S::FORBIDDEN }
        }
        // The id tried is the ticket's, not a message's.
        ("POST", "/api/v1/admin/outbox/{id}/retry") => {
            if who == Admin {
                S::NOT_FOUND
            } else {
                S::FORBIDDEN
            }
        }
        // Everyone signed in has a stream of their own.
        ("GET", "/api/v1/me/stream") => S::OK,
        // The member under test is the assignee, 王师傅 of 荷花塘社区.
        ("GET", "/api/v1/members/{id}/ledger") | ("GET", "/api/v1/members/{id}/records") => {
            match who {
                Assignee | Secretary | Community | Street | Admin => S::OK,
                OtherSecretary => S::NOT_FOUND,
                _ => S::FORBIDDEN,
            }
        }
        // The volunteer and their office; an administrator certifies nobody's service.
        ("POST", "/api/v1/members/{id}/certificates") => match who {
            Assignee | Secretary | Community | Street => S::CREATED,
            OtherSecretary => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // One of the member's: whoever may not issue it learns nothing of it.
        ("GET", "/api/v1/certificates/{number}") => match who {
            Assignee | Secretary | Community | Street => S::OK,
            _ => S::NOT_FOUND,
        },
        ("POST", "/api/v1/members/{id}/ledger") => match who {
            Secretary | Community | Street => S::CREATED,
            OtherSecretary => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // Each caller's own unit; an administrator has none and must name one.
        ("GET", "/api/v1/leaderboard") => match who {
            Admin => S::UNPROCESSABLE_ENTITY,
            _ => S::OK,
        },
        // The caller's community's wall: the street office and the administrator have no
        // community of their own and must name one.
        ("GET", "/api/v1/wall") => match who {
            Street | Admin => S::UNPROCESSABLE_ENTITY,
            _ => S::OK,
        },
        // Oversight: supervisors of their community, staff of their area; nobody else.
        ("GET", "/api/v1/supervision/overdue") => match who {
            Secretary | OtherSecretary | Community | Street | Supervisor => S::OK,
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/stats") => match who {
            Secretary | OtherSecretary | Community | Street => S::OK,
            Admin => S::UNPROCESSABLE_ENTITY,
            _ => S::FORBIDDEN,
        },
        // People: an office's (or a branch secretary's) own community; the person under
        // test is the requester, 王奶奶 of 荷花塘社区; the administrator anyone.
        ("GET", "/api/v1/people")
        | ("POST", "/api/v1/people")
        | ("GET", "/api/v1/buildings")
        | ("GET", "/api/v1/sign-in-requests") => match who {
            Secretary | OtherSecretary | Community if method == "GET" => S::OK,
            Secretary | OtherSecretary | Community => S::CREATED,
            _ => S::FORBIDDEN,
        },
        ("POST", "/api/v1/people/{id}/sign-in-codes") => match who {
            Secretary | Community | Admin => S::CREATED,
            _ => S::NOT_FOUND,
        },
        // Anyone may sign themselves out everywhere.
        ("POST", "/api/v1/people/{id}/sessions/end") => match who {
            Requester | Secretary | Community | Admin => S::OK,
            _ => S::NOT_FOUND,
        },
        // Asked without confirming: refused before anything is done.
        ("POST", "/api/v1/people/{id}/erase") => match who {
            Requester | Secretary | Community | Admin => S::UNPROCESSABLE_ENTITY,
            _ => S::NOT_FOUND,
        },
        ("PUT", "/api/v1/people/{id}/active") => match who {
            Secretary | Community | Admin => S::OK,
            _ => S::NOT_FOUND,
        },
        ("GET", "/api/v1/admin/audit") => match who {
            Admin | Street => S::OK,
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/admin/tokens") => {
            if who == Admin {
                S::OK
            } else {
                S::FORBIDDEN
            }
        }
        ("POST", "/api/v1/admin/tokens") => {
            if who == Admin {
                S::CREATED
            } else {
                S::FORBIDDEN
            }
        }
        // 双报到: a party member reports in to their own community (each caller here once).
        ("GET", "/api/v1/me/report-in") | ("POST", "/api/v1/me/report-in") => match who {
            Assignee | OtherMember | Secretary | OtherSecretary if method == "GET" => S::OK,
            Assignee | OtherMember | Secretary | OtherSecretary => S::CREATED,
            _ => S::FORBIDDEN,
        },
        // The member under test reported in and was taken in.
        ("GET", "/api/v1/members/{id}/profile") => match who {
            Assignee | Secretary | Community | Street | Admin => S::OK,
            OtherSecretary => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // 荷花塘社区's report-ins, code and sheets: read by its staff.
        ("GET", "/api/v1/communities/{id}/report-ins")
        | ("GET", "/api/v1/communities/{id}/report-in-code")
        | ("GET", "/api/v1/communities/{id}/feedback") => match who {
            Secretary | Community | Street => S::OK,
            OtherSecretary => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/feedback-sheets/{number}") => match who {
            Secretary | Community | Street => S::OK,
            _ => S::NOT_FOUND,
        },
        // Decided, published and signed by its office only. The decision tried declines
        // without a reason, the sheet tried names a work unit nobody reported in from: the
        // office gets as far as the check, and nothing changes.
        ("POST", "/api/v1/report-ins/{id}/decision")
        | ("POST", "/api/v1/communities/{id}/report-in-code")
        | ("POST", "/api/v1/communities/{id}/feedback-sheets") => match who {
            Community if path.ends_with("code") => S::CREATED,
            Community => S::UNPROCESSABLE_ENTITY,
            Secretary | OtherSecretary | Street => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // 时间银行. The person under test is the requester, 王奶奶 of 荷花塘社区.
        ("GET", "/api/v1/people/{id}/passbook") => match who {
            Requester | Secretary | Community | Street | Admin => S::OK,
            OtherSecretary => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // 荷花塘社区 runs no bank; 运河社区's people have no hours yet (and no relatives).
        ("POST", "/api/v1/me/time-bank/donations") => match who {
            OtherResident | OtherMember | OtherSecretary => S::CONFLICT,
            _ => S::UNPROCESSABLE_ENTITY,
        },
        ("POST", "/api/v1/me/time-bank/transfers") => S::UNPROCESSABLE_ENTITY,
        // 运河社区's bank: read by its staff; kept by its office, who is none of these.
        ("GET", "/api/v1/communities/{id}/time-bank") => match who {
            OtherSecretary | Street => S::OK,
            Secretary | Community => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        ("POST", "/api/v1/communities/{id}/time-bank/grants")
        | ("POST", "/api/v1/communities/{id}/time-bank/relations") => match who {
            Secretary | OtherSecretary | Community | Street => S::NOT_FOUND,
            _ => S::FORBIDDEN,
        },
        // The 12345 bridge: nothing is taken without the bridge's signature, whoever sends it
        // (tests/api/hotline.rs signs); an order is read back by the offices whose area holds
        // it (the order under test is 荷花塘社区's).
        ("POST", "/api/v1/hotline/orders") | ("POST", "/api/v1/hotline/orders/{number}/events") => {
            S::UNAUTHORIZED
        }
        ("GET", "/api/v1/hotline/orders/{number}") => match who {
            Community | Street => S::OK,
            _ => S::FORBIDDEN,
        },
        ("GET", "/api/v1/stats/rates") => match who {
            Secretary | OtherSecretary | Community | Street => S::OK,
            Admin => S::UNPROCESSABLE_ENTITY,
            _ => S::FORBIDDEN,
        },
        ("DELETE", "/api/v1/sessions/current") => S::NO_CONTENT,
        _ => panic!("{method} {path} has no row in the authorization matrix: add one"),
    }
}

async fn every_route_answers_every_caller_as_the_matrix_says(app: TestApp) {
    // The ticket under test: 王奶奶's, dispatched to 王师傅.
    let t = app.submit("resident", "repair", "厨房水管漏水").await;
    app.act("secretary", &t, "triage", Value::Null).await;
    let member = app.demo.user("member").id;
    app.act("secretary", &t, "dispatch", json!({"assignee": member}))
        .await;
    // A person whose token is revoked.
    let r = app
        .post(
            "admin",
            "/api/v1/admin/people",
            json!({"name": "离任书记", "roles": ["secretary"]}),
        )
        .await;
    let revoked_token = r.body["token"].as_str().unwrap().to_owned();
    let revoked_id = r.body["id"].as_str().unwrap().to_owned();
    app.post(
        "admin",
        &format!("/api/v1/admin/people/{revoked_id}/revoke-tokens"),
        Value::Null,
    )
    .await;

    // A photo on it, for the route that serves one.
    let png = include_bytes!("../fixtures/photo.png").to_vec();
    let photo = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/tickets/{t}/photos")))
                .bearer_auth(app.token("resident"))
                .header("content-type", "image/png")
                .body(png.clone()),
        )
        .await;
    let photo = photo.body["id"].as_str().unwrap().to_owned();
    // A certificate of the member's, for the route that shows one.
    let certificate = app
        .post(
            "member",
            &format!("/api/v1/members/{member}/certificates"),
            json!({"from": "2026-01-01", "to": "2026-12-31", "id_type": "passport", "id_number": "E12345678"}),
        )
        .await;
    let certificate = certificate.body["number"].as_str().unwrap().to_owned();
    // 双报到: the member reported in and was taken in, a newcomer's report-in awaits the
    // office, a sheet of the member's work unit is signed.
    let community = app.demo.hehuatang;
    let report_in = json!({"work_unit": "矩阵单位", "party_org": "矩阵单位党支部", "post": "助老"});
    let asked = app.post("member", "/api/v1/me/report-in", report_in).await;
    let asked = asked.body["id"].as_str().unwrap().to_owned();
    let decided = app
        .post(
            "community",
            &format!("/api/v1/report-ins/{asked}/decision"),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(decided.status, StatusCode::OK, "{:?}", decided.body);
    let code_path = format!("/api/v1/communities/{community}/report-in-code");
    let code = app.post("community", &code_path, Value::Null).await.body["code"].clone();
    let newcomer = app
        .send(
            app.client
                .post(app.url(&format!("/public/v1/report-in/{}", code.as_str().unwrap())))
                .json(
                    &json!({"name": "矩阵新人", "phone": "13700009999", "work_unit": "矩阵单位",
                    "party_org": "矩阵单位党支部", "post": "助老"}),
                ),
        )
        .await;
    let newcomer = newcomer.body["id"].as_str().unwrap().to_owned();
    let sheet = app
        .post(
            "community",
            &format!("/api/v1/communities/{community}/feedback-sheets"),
            json!({"work_unit": "矩阵单位"}),
        )
        .await;
    let sheet = sheet.body["number"].as_str().unwrap().to_owned();
    // A 12345 order, for the route that reads one back.
    let order = crate::hotline::order("GD-MATRIX-1", "求助", false);
    let taken = crate::hotline::signed(&app, "hotline", "/api/v1/hotline/orders", &order).await;
    assert_eq!(taken.status, StatusCode::CREATED, "{:?}", taken.body);

    let token = |who: Who| -> Option<String> {
        let demo = |k: &str| Some(app.token(k));
        match who {
            Who::Anonymous => None,
            Who::Malformed => Some("not-a-token".into()),
            Who::Revoked => Some(revoked_token.clone()),
            Who::Requester => demo("resident"),
            Who::OtherResident => demo("yunhe_resident"),
            Who::Assignee => demo("member"),
            Who::OtherMember => demo("yunhe_member"),
            Who::Secretary => demo("secretary"),
            Who::OtherSecretary => demo("yunhe_secretary"),
            Who::Community => demo("community"),
            Who::Street => demo("street"),
            Who::Admin => demo("admin"),
            Who::Supervisor => demo("supervisor"),
        }
    };
    let body = |method: &str, path: &str| -> Option<Value> {
        let demo = &app.demo;
        match (method, path) {
            ("POST", "/api/v1/tickets") => {
                Some(json!({"category": "sanitation", "description": "矩阵测试"}))
            }
            ("POST", "/api/v1/tickets/{id}/actions/{action}") => Some(json!({"note": "矩阵测试"})),
            ("POST", "/api/v1/admin/org-units") => {
                Some(json!({"kind": "street", "name": "矩阵街道"}))
            }
            ("POST", "/api/v1/admin/branches") => {
                Some(json!({"community_id": demo.hehuatang, "name": "矩阵支部", "areas": []}))
            }
            ("POST", "/api/v1/admin/people") => {
                Some(json!({"name": "矩阵居民", "roles": ["resident"]}))
            }
            ("POST", "/api/v1/admin/teams") => {
                Some(json!({"community_id": demo.hehuatang, "name": "矩阵队"}))
            }
            ("POST", "/api/v1/admin/partner-units") => {
                Some(json!({"community_id": demo.hehuatang, "name": "矩阵共建单位"}))
            }
            ("POST", "/api/v1/people") => Some(json!({"name": "矩阵居民"})),
            ("PUT", "/api/v1/people/{id}/active") => Some(json!({"active": true})),
            ("POST", "/api/v1/people/{id}/erase") => Some(json!({"confirm": false})),
            ("POST", "/api/v1/admin/tokens") => {
                Some(json!({"person_id": demo.user("member").id, "name": "矩阵对接"}))
            }
            ("POST", "/api/v1/sessions") => Some(json!({"code": "ABCD-EFGH"})),
            ("POST", "/api/v1/sign-in-requests") => Some(json!({"phone": "13800000099"})),
            ("POST", "/api/v1/members/{id}/ledger") => {
                Some(json!({"ticket_id": t, "points": 1, "reason": "矩阵测试"}))
            }
            ("POST", "/api/v1/members/{id}/certificates") => Some(
                json!({"from": "2026-01-01", "to": "2026-12-31", "id_type": "passport", "id_number": "E12345678"}),
            ),
            ("POST", "/api/v1/me/report-in") => Some(
                json!({"work_unit": "矩阵单位", "party_org": "矩阵单位党支部", "post": "助老"}),
            ),
            ("POST", "/api/v1/report-ins/{id}/decision") => Some(json!({"approve": false})),
            ("POST", "/api/v1/me/time-bank/donations") => Some(json!({"hours": 1})),
            ("POST", "/api/v1/me/time-bank/transfers") => {
                Some(json!({"to": demo.user("yunhe_member").id, "hours": 1}))
            }
            ("POST", "/api/v1/communities/{id}/time-bank/grants") => Some(
                json!({"person_id": demo.user("yunhe_resident").id, "hours": 1, "reason": "矩阵"}),
            ),
            ("POST", "/api/v1/communities/{id}/time-bank/relations") => Some(
                json!({"person_id": demo.user("yunhe_resident").id, "relative_id": demo.user("yunhe_member").id}),
            ),
            ("POST", "/api/v1/communities/{id}/feedback-sheets") => {
                Some(json!({"work_unit": "无人报到的单位"}))
            }
            _ => None,
        }
    };

    let doc = app
        .send(app.client.get(app.url("/openapi.json")))
        .await
        .body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            for who in EVERYONE {
                // A fresh victim each time for revoke-tokens, so an admin's 200 does not
                // depend on the order of the rows.
                let concrete = path
                    .replace(
                        "{id}",
                        &if path.contains("revoke") {
                            app.demo.user("yunhe_repair").id.to_string()
                        } else if path.starts_with("/api/v1/members/") {
                            member.to_string()
                        } else if path.starts_with("/api/v1/people/") {
                            app.demo.user("resident").id.to_string()
                        } else if path.contains("time-bank") {
                            app.demo.yunhe.to_string()
                        } else if path.starts_with("/api/v1/communities/") {
                            community.to_string()
                        } else if path.starts_with("/api/v1/report-ins/") {
                            newcomer.clone()
                        } else {
                            t.clone()
                        },
                    )
                    .replace("{action}", "note")
                    .replace("{photo}", &photo)
                    .replace(
                        "{number}",
                        if path.contains("feedback") {
                            &sheet
                        } else if path.contains("hotline") {
                            "GD-MATRIX-1"
                        } else {
                            &certificate
                        },
                    );
                let mut req = app
                    .client
                    .request(method.parse().unwrap(), app.url(&concrete));
                if let Some(tok) = token(who) {
                    req = req.bearer_auth(tok);
                }
                if let Some(b) = body(&method, path) {
                    req = req.json(&b);
                } else if method == "POST" && path.ends_with("/photos") {
                    req = req.header("content-type", "image/png").body(png.clone());
                }
                let want = expected(&method, path, who);
                if path == "/api/v1/me/stream" && want == StatusCode::OK {
                    // An event stream does not end: its status is the answer.
                    let res = req.send().await.unwrap();
                    assert_eq!(res.status(), want, "{method} {path} as {who:?}");
                    checked += 1;
                    continue;
                }
                let r = app.send(req).await;
                assert_eq!(r.status, want, "{method} {path} as {who:?}: {:?}", r.body);
                if !r.status.is_success()
                    && !matches!(path.as_str(), "/healthz" | "/readyz" | "/metrics")
                {
                    assert_eq!(
                        r.content_type, "application/problem+json",
                        "{method} {path} as {who:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 18 * EVERYONE.len(), "{checked} cells");
    // Nothing the refused callers tried changed the ticket beyond the notes of those allowed.
    let events = app
        .get("secretary", &format!("/api/v1/tickets/{t}/events"))
        .await;
    let notes = events
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "note")
        .count();
    assert_eq!(
        notes, 5,
        "requester, assignee, secretary, community and street added one note each"
    );
}

backends! {
    every_route_answers_every_caller_as_the_matrix_says,
}
