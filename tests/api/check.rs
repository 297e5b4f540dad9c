//! `linli check` as a user runs it: the real binary on the shipped directory and on a broken
//! copy of it.

use std::process::Command;

fn linli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_linli"))
}

fn shipped() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows")
}

#[test]
fn the_shipped_workflows_check_clean_with_a_summary() {
    let out = linli().arg("check").arg(shipped()).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "community-service@1 社区服务",
        "micro-wish@1 微心愿",
        "dispute-mediation@1 纠纷调解",
        "SLA clocks: 2 (resolution, response)",
        "expire after 30m in dispatched",
        "community-service@2 社区服务",
        "hotline-12345@1 12345热线工单",
        "ok: 8 workflows, 8 categories",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}

#[test]
fn every_error_is_printed_as_file_line_col_and_the_exit_code_is_1() {
    let dir = tempdir();
    for entry in std::fs::read_dir(shipped()).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "toml") {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
    let file = dir.join("community-service.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let broken = text
        .replace("to = \"accepted\"", "to = \"acepted\"")
        .replacen("after = \"30m\"", "after = \"30 minutes\"", 1);
    std::fs::write(&file, broken).unwrap();

    let out = linli().arg("check").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let path = file.display().to_string();
    assert!(
        stderr.contains(&format!("{path}:66:6: unknown state \"acepted\"")),
        "{stderr}"
    );
    assert!(stderr.contains("bad duration \"30 minutes\""), "{stderr}");
    assert!(stderr.contains("2 error(s)"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_built_in_workflows_check_clean_and_export_to_a_directory_that_checks_the_same() {
    let built_in = linli()
        .arg("check")
        .env_remove("LINLI_WORKFLOWS")
        .output()
        .unwrap();
    assert!(built_in.status.success());
    let summary = String::from_utf8(built_in.stdout).unwrap();
    assert!(
        summary.contains("ok: 8 workflows, 8 categories"),
        "{summary}"
    );
    assert!(
        summary.contains("(built-in/community-service.toml)"),
        "{summary}"
    );

    let dir = tempdir();
    std::fs::remove_dir(&dir).unwrap();
    let out = linli()
        .args(["workflows", "export"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked = linli().arg("check").arg(&dir).output().unwrap();
    assert!(checked.status.success());
    let exported = String::from_utf8(checked.stdout).unwrap();
    assert_eq!(
        exported.replace(&format!("{}/", dir.display()), "built-in/"),
        summary,
        "the exported files are the built-in ones"
    );
    // A second export does not overwrite what an operator may have edited.
    let again = linli()
        .args(["workflows", "export"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_missing_directory_is_an_error_not_a_panic() {
    let out = linli().args(["check", "/no/such/dir"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/dir:1:1: cannot read"));
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-check-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
