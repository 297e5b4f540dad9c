//! The directory file: `linli admin import` and `export` as an operator runs them (the real
//! binary on a fresh SQLite file), idempotent re-import, line-precise errors that import
//! nothing; and dispatch ranking on the imported community over HTTP, on both backends.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::TestApp;
use reqwest::StatusCode;
use workflow_core::directory;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/directory.toml")
}

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "linli-dir-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn admin(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linli"))
        .arg("admin")
        .arg("--database-url")
        .arg(format!("sqlite://{}", db.display()))
        .args(args)
        .env("LINLI_WORKFLOWS", workflows())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn import_is_idempotent_and_export_reimports_to_the_same_directory() {
    let db = scratch("linli.db");
    let fixture = fixture();
    let first = admin(&db, &["import", fixture.to_str().unwrap()]);
    assert!(
        first.status.success(),
        "{}{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    assert!(
        text(&first.stdout).contains("created"),
        "{}",
        text(&first.stdout)
    );
    let again = admin(&db, &["import", fixture.to_str().unwrap()]);
    assert!(
        text(&again.stdout).contains("0 created, 0 updated"),
        "{}",
        text(&again.stdout)
    );

    let export = admin(&db, &["export"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let exported = text(&export.stdout);
    for needle in [
        "桂花苑党支部",
        "东湖街道/桂花社区/二网格/丹桂里/8栋",
        "away_until = \"2099-01-01\"",
        "partner = \"东湖小学\"",
        "parent = \"惠管家志愿服务队\"",
        "[[posts]]\nname = \"助老\"",
        "person_in_charge = \"刘书记\"",
        "[[time_banks]]\ncommunity = \"东湖街道/桂花社区\"\ndaily_cap_hours = 2.0",
    ] {
        assert!(
            exported.contains(needle),
            "{needle} missing from\n{exported}"
        );
    }
    // The export is itself an import file: into a fresh database, then out again, unchanged.
    let file = scratch("export.toml");
    std::fs::write(&file, &exported).unwrap();
    let db2 = scratch("linli2.db");
    let r = admin(&db2, &["import", file.to_str().unwrap()]);
    assert!(r.status.success(), "{}", text(&r.stderr));
    assert_eq!(text(&admin(&db2, &["export"]).stdout), exported);

    // An edit is an update: one person moves, and only that changes.
    let edited = exported.replace("max_open = 3", "max_open = 4");
    assert_ne!(edited, exported);
    std::fs::write(&file, &edited).unwrap();
    let r = admin(&db, &["import", file.to_str().unwrap()]);
    assert!(
        text(&r.stdout).contains("0 created, 1 updated"),
        "{}",
        text(&r.stdout)
    );
}

#[test]
fn a_bad_file_is_refused_line_by_line_and_imports_nothing() {
    let db = scratch("linli.db");
    let bad = scratch("bad.toml");
    std::fs::write(
        &bad,
        r#"units = ["东湖街道/桂花社区/一网格/桂花苑/1栋"]

[[people]]
name = "郑师傅"
roles = ["member", "plumber"]
community = "东湖街道/桂花社区"
home = "东湖街道/桂花社区/一网格/桂花苑/9栋"
skills = ["repair", "juggling"]
away_until = "next week"

[[teams]]
name = "维修组"
community = "东湖街道/桂花社区"
members = ["郑师傅", "无名氏"]

[[time_banks]]
community = "东湖街道/桂花社区"
daily_cap_hours = -2
"#,
    )
    .unwrap();
    let r = admin(&db, &["import", bad.to_str().unwrap()]);
    assert!(!r.status.success());
    let err = text(&r.stderr);
    let name = bad.display().to_string();
    for (line, what) in [
        (5, "unknown role \"plumber\""),
        (7, "is not among `units`"),
        (8, "unknown skill \"juggling\""),
        (9, "away_until"),
        (14, "\"无名氏\" is not a person"),
        (18, "a cap is a number of hours above zero"),
    ] {
        assert!(
            err.contains(&format!("{name}:{line}:")) && err.contains(what),
            "line {line} {what:?} in:\n{err}"
        );
    }
    assert!(err.contains("nothing was imported"), "{err}");
    let export = text(&admin(&db, &["export"]).stdout);
    assert!(!export.contains("东湖街道"), "{export}");
}

/// Imports the fixture into a test server's store; tokens for its people by name.
/// Imports a directory file's text as `linli admin import` would.
async fn import(app: &TestApp, text: &str) -> directory::DirectoryFile {
    let catalog = storage::workflow_files::load_dir(&workflows()).unwrap();
    let skills: BTreeSet<String> = catalog
        .categories
        .values()
        .flat_map(|c| c.skills.iter().cloned())
        .collect();
    let d = directory::parse("directory.toml", text, &skills).unwrap();
    let zone = app.engine.catalog().time_zone();
    app.store.import_directory(&d, &zone).await.unwrap();
    d
}

async fn import_fixture(app: &TestApp) -> HashMap<String, String> {
    let d = import(app, &std::fs::read_to_string(fixture()).unwrap()).await;
    let community = community(app).await;
    let mut tokens = HashMap::new();
    for p in d.people.iter().filter(|p| p.community.is_some()) {
        let id = app
            .store
            .person_named(Some(community), &p.name)
            .await
            .unwrap()
            .unwrap();
        tokens.insert(p.name.clone(), app.store.issue_token(id).await.unwrap());
    }
    tokens
}

/// A GET as the holder of `token` (the imported people are not the demo's users).
async fn get_as(app: &TestApp, token: &str, path: &str) -> crate::support::Reply {
    app.send(app.client.get(app.url(path)).bearer_auth(token))
        .await
}

async fn ranking(app: &TestApp, token: &str, ticket: &str) -> Vec<(String, bool, Vec<String>)> {
    let r = get_as(app, token, &format!("/api/v1/tickets/{ticket}/candidates")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let codes = c["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["code"].as_str().unwrap().to_owned())
                .collect();
            (
                c["name"].as_str().unwrap().to_owned(),
                c["eligible"].as_bool().unwrap(),
                codes,
            )
        })
        .collect()
}

async fn submit(app: &TestApp, token: &str, category: &str) -> String {
    let r = app
        .send(
            app.client
                .post(app.url("/api/v1/tickets"))
                .bearer_auth(token)
                .json(&serde_json::json!({"category": category, "description": "测试"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_owned()
}

async fn the_imported_community_is_ranked_as_expected(app: TestApp) {
    let tokens = import_fixture(&app).await;
    let (resident, secretary) = (tokens["吴奶奶"].clone(), tokens["孙支书"].clone());
    let names = |r: &[(String, bool, Vec<String>)]| {
        r.iter().map(|c| (c.0.clone(), c.1)).collect::<Vec<_>>()
    };

    // A repair in building 1: 郑师傅 lives there and repairs; 冯师傅 repairs from grid 2;
    // then the building-2 neighbours; 陈医生 is away; the partner's teacher is not listed.
    let t = submit(&app, &resident, "repair").await;
    let r = ranking(&app, &secretary, &t).await;
    assert_eq!(
        names(&r),
        vec![
            ("郑师傅".into(), true),
            ("冯师傅".into(), true),
            ("卫阿姨".into(), true),
            ("孙支书".into(), true),
            ("陈医生".into(), false),
        ]
    );
    assert!(
        r[0].2.contains(&"same_building".to_owned()) && r[0].2.contains(&"skill_match".to_owned())
    );
    assert!(r[1].2.contains(&"same_community".to_owned()));
    assert!(r[4].2.contains(&"away".to_owned()));

    // Elderly care: 卫阿姨 has the skill in the same compound; 陈医生 has it too but is away.
    let t = submit(&app, &resident, "elderly_care").await;
    let r = ranking(&app, &secretary, &t).await;
    assert_eq!(r[0].0, "卫阿姨");
    assert!(r[0].2.contains(&"same_compound".to_owned()));
    assert_eq!(
        r.last().map(|c| (c.0.as_str(), c.1)),
        Some(("陈医生", false))
    );

    // An errand is dispatched automatically to the best of the same ranking: 冯师傅, the only
    // one with the skill.
    let t = submit(&app, &resident, "errand").await;
    let ranked = ranking(&app, &secretary, &t).await;
    assert_eq!(ranked[0].0, "冯师傅");
    let r = app
        .send(
            app.client
                .post(app.url(&format!("/api/v1/tickets/{t}/actions/triage")))
                .bearer_auth(&secretary),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    app.advance(0).await;
    let now = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/tickets/{t}")))
                .bearer_auth(&secretary),
        )
        .await
        .body;
    let feng = app
        .store
        .person_named(Some(community(&app).await), "冯师傅")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now["state"].as_str(), now["assignee"]["id"].as_str()),
        (Some("dispatched"), Some(feng.to_string().as_str()))
    );
}

async fn community(app: &TestApp) -> uuid::Uuid {
    app.store
        .org_unit_named("community", "桂花社区")
        .await
        .unwrap()
        .unwrap()
}

/// The requester's number as the secretary's answer shows it.
async fn requester_phone(app: &TestApp, token: &str, ticket: &str) -> String {
    let r = get_as(app, token, &format!("/api/v1/tickets/{ticket}")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["requester"]["phone"].as_str().unwrap().to_owned()
}

/// Names and numbers are remembered for a few seconds, but an import on this node forgets
/// them: a resident's new number shows in the next answer.
async fn a_number_changed_by_an_import_shows_at_once(app: TestApp) {
    let tokens = import_fixture(&app).await;
    let (resident, secretary) = (tokens["吴奶奶"].clone(), tokens["孙支书"].clone());
    let t = submit(&app, &resident, "repair").await;
    assert_eq!(requester_phone(&app, &secretary, &t).await, "13700000002");
    let text = std::fs::read_to_string(fixture()).unwrap().replacen(
        "phone = \"13700000002\"",
        "phone = \"13700009999\"",
        1,
    );
    import(&app, &text).await;
    assert_eq!(requester_phone(&app, &secretary, &t).await, "13700009999");
}

backends! {
    the_imported_community_is_ranked_as_expected,
    a_number_changed_by_an_import_shows_at_once,
}
