//! A volunteer's service records and certificates of service (志愿服务记录与证明, 民政部令第67号),
//! over HTTP on SQLite and on PostgreSQL: records of each confirmed piece of work, as JSON and
//! as CSV; a certificate for a period with its totals frozen, of the identity document only
//! the last four characters; verified by anyone with its number and check code, and by nobody
//! without; issued by the volunteer or their office only.

use crate::support::TestApp;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ID: &str = "11010519491231002X";

async fn a_volunteer_has_records_and_a_certificate_anyone_can_verify(app: TestApp) {
    app.at("2026-11-23T08:30");
    let member = app.demo.user("member").id;
    for what in ["楼道灯坏了", "水管漏水"] {
        let t = app.submit("resident", "repair", what).await;
        app.work_to_closed(&t).await;
    }
    // The records: each piece of work, where, organised by whom, rated how.
    let period = "from=2026-11-01&to=2026-12-01";
    let r = app
        .get(
            "member",
            &format!("/api/v1/members/{member}/records?{period}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let records = r.body.as_array().unwrap();
    assert_eq!(records.len(), 2, "{records:?}");
    for rec in records {
        assert_eq!(
            (
                rec["content"].as_str(),
                rec["hours"].as_f64(),
                rec["rating"].as_i64()
            ),
            (Some("维修"), Some(1.0), Some(5))
        );
        assert_eq!(rec["date"], "2026-11-23");
        assert!(
            rec["place"].as_str().is_some_and(|p| p.contains("栋")),
            "{rec}"
        );
        assert!(
            rec["organiser"]
                .as_str()
                .is_some_and(|o| o.contains("支部")),
            "{rec}"
        );
    }
    let csv = app
        .send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/members/{member}/records?{period}&format=csv"
                )))
                .bearer_auth(app.token("secretary")),
        )
        .await;
    let text = csv.body.as_str().unwrap();
    assert!(
        text.starts_with("\u{feff}volunteer_id,volunteer_name,date,content,hours"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 3, "a header and two records: {text}");
    // Both were reported done the moment they were taken, an hour each: flagged for the branch.
    for rec in records {
        assert_eq!(
            (rec["held_hours"].as_f64(), rec["flagged"].as_bool()),
            (Some(0.0), Some(true)),
            "{rec}"
        );
    }
    // Work that took its time is not.
    app.at("2026-12-02T09:00");
    let t = app.submit("resident", "repair", "窗户关不上").await;
    let id = app.demo.user("member").id;
    for (who, action, body) in [
        ("secretary", "triage", Value::Null),
        ("secretary", "dispatch", json!({"assignee": id})),
        ("member", "accept", Value::Null),
        ("member", "start", Value::Null),
    ] {
        assert_eq!(app.act(who, &t, action, body).await.status, StatusCode::OK);
    }
    app.at("2026-12-02T11:00");
    for (who, action, body) in [
        ("member", "complete", json!({"hours": 1.5})),
        ("resident", "confirm", json!({"rating": 5})),
    ] {
        assert_eq!(app.act(who, &t, action, body).await.status, StatusCode::OK);
    }
    let r = app
        .get(
            "secretary",
            &format!("/api/v1/members/{member}/records?from=2026-12-01&to=2026-12-03"),
        )
        .await;
    assert_eq!(
        (
            r.body[0]["held_hours"].as_f64(),
            r.body[0]["flagged"].as_bool()
        ),
        (Some(2.0), Some(false)),
        "{:?}",
        r.body
    );

    // Who may issue one: the volunteer and their office; nobody else learns anything.
    let body = json!({"from": "2026-11-01", "to": "2026-11-30", "id_type": "resident_id", "id_number": ID,
        "volunteer_number": "ZJ-330100-0012345"});
    let path = format!("/api/v1/members/{member}/certificates");
    for (who, status) in [
        ("resident", StatusCode::FORBIDDEN),
        ("admin", StatusCode::FORBIDDEN),
        ("yunhe_secretary", StatusCode::NOT_FOUND),
    ] {
        let r = app.post(who, &path, body.clone()).await;
        assert_eq!(r.status, status, "{who}: {:?}", r.body);
    }
    let typo = json!({"from": "2026-11-01", "to": "2026-11-30", "id_type": "resident_id", "id_number": "110105194912310021"});
    let r = app.post("member", &path, typo).await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field")
    );

    let r = app.post("member", &path, body.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let cert = r.body.clone();
    assert_eq!(
        (
            cert["hours"].as_f64(),
            cert["services"].as_i64(),
            cert["id_last4"].as_str()
        ),
        (Some(2.0), Some(2), Some("002X"))
    );
    assert_eq!(cert["records"].as_array().unwrap().len(), 2);
    assert_eq!(cert["name"], "王师傅");
    assert_eq!(cert["id_type"], "居民身份证");
    assert!(
        !cert.to_string().contains("11010519491231"),
        "the number is not kept: {cert}"
    );
    let (number, code) = (
        cert["number"].as_str().unwrap(),
        cert["check_code"].as_str().unwrap(),
    );
    // The office issues one too.
    let r = app.post("secretary", &path, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // Printed again by its holder; nobody else learns it exists.
    let r = app
        .get("member", &format!("/api/v1/certificates/{number}"))
        .await;
    assert_eq!(
        (r.status, r.body["number"].as_str()),
        (StatusCode::OK, Some(number))
    );
    let r = app
        .get("resident", &format!("/api/v1/certificates/{number}"))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Verified by anyone with both the number and the code: the name and the totals only.
    let anonymous = |path: String| {
        let client = app.client.clone();
        let url = app.url(&path);
        async move { client.get(url).send().await.unwrap() }
    };
    let r = anonymous(format!("/public/v1/certificates/{number}?code={code}")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (
            v["genuine"].as_bool(),
            v["name"].as_str(),
            v["hours"].as_f64(),
            v["services"].as_i64()
        ),
        (Some(true), Some("王师傅"), Some(2.0), Some(2))
    );
    assert!(
        v.get("id_last4").is_none() && v.get("records").is_none(),
        "{v}"
    );
    let wrong = anonymous(format!("/public/v1/certificates/{number}?code=AAAAAA")).await;
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);
    let page = anonymous(format!("/verify/{number}?code={}", code.to_lowercase())).await;
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(page.text().await.unwrap().contains("真实有效"));

    // As a PDF, for the holder: its text as a reader extracts it (poppler's `pdftotext`).
    let pdf = app
        .client
        .get(app.url(&format!("/api/v1/certificates/{number}?format=pdf")))
        .bearer_auth(app.token("member"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(
        bytes.len() < 20_000,
        "no font embedded: {} bytes",
        bytes.len()
    );
    if let Some(text) = pdf_text(&bytes) {
        for needle in [
            "志愿服务证明",
            "王师傅",
            "尾号 002X",
            "累计服务时长 2.0 小时",
            number,
            code,
        ] {
            assert!(
                text.contains(needle),
                "{needle:?} not in the PDF's text:\n{text}"
            );
        }
        assert!(
            !text.contains("11010519491231"),
            "the number is not in the PDF"
        );
    }
    let r = app
        .get(
            "yunhe_secretary",
            &format!("/api/v1/certificates/{number}?format=pdf"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Issuing is recorded.
    let audit = app
        .get("admin", &format!("/api/v1/admin/audit?person={member}"))
        .await;
    let issued = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "certificate")
        .count();
    assert_eq!(issued, 2, "{:?}", audit.body);
}

/// The text of a PDF as poppler's `pdftotext` reads it; `None` (said loudly) where the tool is
/// missing, unless `LINLI_REQUIRE_PDF_READER` says it must be there (CI installs it).
fn pdf_text(bytes: &[u8]) -> Option<String> {
    let file = std::env::temp_dir().join(format!("linli-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&file, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output();
    let _ = std::fs::remove_file(&file);
    match out {
        Ok(out) if out.status.success() => Some(String::from_utf8_lossy(&out.stdout).into_owned()),
        Ok(out) => panic!(
            "pdftotext refused the PDF: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if std::env::var_os("LINLI_REQUIRE_PDF_READER").is_some() => {
            panic!("pdftotext is missing (apt-get install poppler-utils poppler-data)")
        }
        Err(_) => {
            eprintln!("SKIPPED: pdftotext is missing; the PDF's text was not read");
            None
        }
    }
}

crate::backends! {
    a_volunteer_has_records_and_a_certificate_anyone_can_verify,
}
