//! The docs say what is true: every API route and problem code they name is in the OpenAPI
//! document (itself held equal to the served one by `inventory.rs`), every shipped workflow
//! and plan file is listed in workflows/README.md, and every role a person may hold is in
//! the role lists people read. What can be checked mechanically is, so the docs cannot drift.

use std::path::{Path, PathBuf};

use serde_json::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(Path::new(ROOT).join(path.as_ref())).unwrap()
}

fn openapi() -> Value {
    serde_json::from_str(&read("docs/openapi.json")).unwrap()
}

/// Every Markdown file people read: the README, docs/ and workflows/README.md.
fn documents() -> Vec<(PathBuf, String)> {
    let mut files: Vec<PathBuf> = vec!["README.md".into(), "workflows/README.md".into()];
    for entry in std::fs::read_dir(Path::new(ROOT).join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path.strip_prefix(ROOT).unwrap().to_owned());
        }
    }
    files.into_iter().map(|f| (f.clone(), read(&f))).collect()
}

/// `(method, path)` for each API route a text names: `GET /api/v1/…` or a bare `/api/v1/…`
/// (method `None`), the path up to its query, a space or a closing mark.
fn routes_named(text: &str) -> Vec<(Option<&str>, String)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("/api/v1/") {
        let path: String = text[at..]
            .chars()
            .take_while(|c| !" `)\"'?,;<>*|\n]".contains(*c))
            .collect();
        let path = path.trim_end_matches(['.', ':']).to_owned();
        let before = text[..at].trim_end_matches(' ');
        let method = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .find(|m| before.ends_with(m));
        out.push((method, path));
    }
    out
}

/// Whether a documented path fits a route's template (`{…}` fits any one segment, and a
/// documented `{…}` or `…` fits any value).
fn fits(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || t.starts_with('{') || p.starts_with('{') || p.contains('…'))
}

#[test]
fn every_route_the_docs_name_is_in_the_openapi_document() {
    let doc = openapi();
    let paths = doc["paths"].as_object().unwrap();
    let mut missing = Vec::new();
    let mut checked = 0;
    for (file, text) in documents() {
        for (method, path) in routes_named(&text) {
            let found = paths.iter().any(|(template, ops)| {
                fits(template, &path) && method.is_none_or(|m| ops.get(m.to_lowercase()).is_some())
            });
            checked += 1;
            if !found {
                missing.push(format!(
                    "{}: {} {path}",
                    file.display(),
                    method.unwrap_or("")
                ));
            }
        }
    }
    assert!(checked >= 30, "the scan found the routes ({checked})");
    assert!(
        missing.is_empty(),
        "routes in the docs but not in the API:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_problem_code_the_docs_name_is_one_the_api_sends() {
    let doc = openapi();
    let codes: Vec<&str> = doc["components"]["schemas"]["Code"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let mut unknown = Vec::new();
    let mut checked = 0;
    for (file, text) in documents() {
        // `409 stale_version`, `403 role_not_allowed`: a status and a code, as the docs write them.
        for piece in text.split('`').skip(1).step_by(2) {
            let mut words = piece.split(' ');
            let (Some(status), Some(code), None) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let is_status = status.len() == 3
                && (status.starts_with('4') || status.starts_with('5'))
                && status.chars().all(|c| c.is_ascii_digit());
            if is_status && code.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                checked += 1;
                if !codes.contains(&code) {
                    unknown.push(format!("{}: {piece}", file.display()));
                }
            }
        }
        // The table of docs/ERRORS.md: `| \`code\` | status |`.
        if file.ends_with("ERRORS.md") {
            for line in text.lines().filter(|l| l.starts_with("| `")) {
                let code = line.split('`').nth(1).unwrap();
                checked += 1;
                if !codes.contains(&code) {
                    unknown.push(format!("{}: {code}", file.display()));
                }
            }
        }
    }
    assert!(checked > 30, "the scan found the codes ({checked})");
    assert!(
        unknown.is_empty(),
        "codes in the docs the API never sends:\n{}",
        unknown.join("\n")
    );
}

#[test]
fn every_shipped_workflow_and_plan_file_is_listed() {
    let readme = read("workflows/README.md");
    let mut unlisted = Vec::new();
    for dir in ["workflows", "workflows/plans"] {
        for entry in std::fs::read_dir(Path::new(ROOT).join(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".toml") && !readme.contains(&format!("`{name}`")) {
                unlisted.push(format!("{dir}/{name}"));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "not in workflows/README.md: {unlisted:?}"
    );
}

#[test]
fn every_role_a_person_may_hold_is_in_the_role_lists() {
    let roles = workflow_core::role::Role::PEOPLES;
    // The directory file's example (docs/DISPATCH.md) lists them beside `roles = …`.
    let dispatch = read("docs/DISPATCH.md");
    let listed = dispatch
        .lines()
        .find(|l| l.starts_with("roles = ") && l.contains('#'))
        .expect("the directory example's roles line");
    // The admin API's body says them.
    let doc = openapi();
    let described =
        doc["components"]["schemas"]["NewPersonBody"]["properties"]["roles"]["description"]
            .as_str()
            .unwrap_or_default();
    for role in roles {
        assert!(
            listed.contains(role),
            "{role} missing from docs/DISPATCH.md: {listed}"
        );
        assert!(
            described.contains(role),
            "{role} missing from NewPersonBody.roles"
        );
    }
}

#[test]
fn every_refusal_is_documented_as_a_problem_document() {
    let doc = openapi();
    let mut wrong = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            for (status, response) in op["responses"].as_object().unwrap() {
                let content = response["content"].as_object();
                let refusal = status.starts_with('4') || status.starts_with('5');
                if refusal
                    && content.is_some_and(|c| c.keys().any(|k| k != "application/problem+json"))
                {
                    wrong.push(format!("{method} {path} {status}"));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "refusals not application/problem+json: {wrong:?}"
    );
}

#[test]
fn every_document_the_code_and_docs_point_to_exists() {
    let mut pointers = Vec::new();
    let mut stack: Vec<PathBuf> = ["src", "crates", "docs", "workflows", "README.md"]
        .iter()
        .map(|p| Path::new(ROOT).join(p))
        .collect();
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if !path.ends_with("node_modules") {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (at, _) in text.match_indices("docs/") {
            let name: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "/_.-".contains(*c))
                .collect();
            if name.ends_with(".md") {
                pointers.push((path.clone(), name));
            }
        }
    }
    let missing: Vec<_> = pointers
        .iter()
        .filter(|(_, name)| !Path::new(ROOT).join(name).exists())
        .map(|(from, name)| format!("{} → {name}", from.display()))
        .collect();
    assert!(
        pointers.len() > 20,
        "the scan found the pointers ({})",
        pointers.len()
    );
    assert!(
        missing.is_empty(),
        "pointers to documents that do not exist:\n{}",
        missing.join("\n")
    );
}
