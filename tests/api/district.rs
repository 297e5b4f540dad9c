//! The district simulation as a correctness check (`linli bench district --check`, the real
//! binary): a week of a small street played through the Engine, after which the product's
//! figures equal a count from the events, every request equals its replay, every timer fired
//! once at its due instant and no request is stuck. On SQLite, twice with the same seed (the
//! same week both times), and on PostgreSQL with three nodes on one database.

use std::process::Command;

fn play(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_linli"))
        .args([
            "bench",
            "district",
            "--check",
            "--days",
            "7",
            "--raw-seconds",
            "0.2",
        ])
        .args(args)
        .output()
        .expect("linli runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "| every correctness check | 0 problems | PASS |",
        "| 0 µs | PASS |",
    ] {
        assert!(stdout.contains(check), "no `{check}` in\n{stdout}");
    }
    stdout
}

/// The year's figures and counts as printed: what the same seed must give again.
fn figures(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.contains("社区 |") || l.starts_with("| the street"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_week_of_one_community_checks_out_and_replays_from_its_seed() {
    let args = ["--communities", "1", "--households", "600", "--seed", "7"];
    let first = play(&args);
    let rows = figures(&first);
    assert_eq!(rows.len(), 2, "{first}");
    let requests: u64 = rows[1].split('|').nth(2).unwrap().trim().parse().unwrap();
    assert!(
        requests > 20,
        "a week of 600 households asks for something: {first}"
    );
    assert_eq!(figures(&play(&args)), rows, "the same seed, the same week");
}

#[tokio::test]
async fn three_nodes_on_one_postgresql_play_a_week_that_checks_out() {
    let Ok(server) = std::env::var("LINLI_TEST_DATABASE_URL") else {
        eprintln!(
            "SKIPPED (PostgreSQL): LINLI_TEST_DATABASE_URL is not set; only SQLite was tested"
        );
        return;
    };
    let out = tokio::task::spawn_blocking(move || {
        play(&[
            "--database",
            &server,
            "--nodes",
            "3",
            "--communities",
            "3",
            "--households",
            "300",
        ])
    })
    .await
    .unwrap();
    assert!(out.contains("| PostgreSQL | 3 | 3 |"), "{out}");
}
