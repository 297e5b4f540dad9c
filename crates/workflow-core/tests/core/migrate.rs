//! Migration plans are checked whole against the two versions before anything moves.

use workflow_core::migrate::MigrationPlan;

fn plan(text: &str) -> MigrationPlan {
    MigrationPlan::parse("plan.toml", text).unwrap()
}

const STATES: &str = "[states]\nsubmitted = \"submitted\"\ntriaged = \"triaged\"\ndispatched = \"dispatched\"\naccepted = \"accepted\"\nin_progress = \"in_progress\"\non_hold = \"on_hold\"\ncompleted = \"completed\"\n";

#[test]
fn a_plan_maps_every_open_state_to_an_open_state_and_names_each_shared_clock() {
    let c = crate::common::catalog();
    let (v2, v3) = (
        c.workflow("community-service", 2).unwrap(),
        c.workflow("community-service", 3).unwrap(),
    );
    let good = format!("{STATES}[clocks]\nresponse = \"keep\"\nresolution = \"recompute\"\n");
    assert_eq!(plan(&good).check(v2, v3), Vec::<String>::new());

    let problems = |text: &str| plan(text).check(v2, v3).join("\n");
    assert!(
        problems(&good.replace("on_hold = \"on_hold\"\n", ""))
            .contains("state \"on_hold\" of community-service@2 is not mapped")
    );
    assert!(
        problems(&good.replace("= \"completed\"", "= \"closed\""))
            .contains("a terminal state: a migration finishes no request")
    );
    assert!(
        problems(&good.replace("= \"triaged\"", "= \"waiting\""))
            .contains("\"waiting\", which community-service@3 does not have")
    );
    assert!(
        problems(&good.replace("response = \"keep\"\n", ""))
            .contains("clock \"response\" is in both versions")
    );
    assert!(problems(&format!("{good}speed = \"keep\"\n")).contains("[clocks] names \"speed\""));
    assert!(
        plan(&good)
            .check(v3, v2)
            .join("\n")
            .contains("moves to a newer version")
    );
    let err = MigrationPlan::parse("plan.toml", "[states]\nsubmitted = 3\n").unwrap_err();
    assert!(err.starts_with("plan.toml:2:"), "{err}");
    let err = MigrationPlan::parse("plan.toml", "[clocks]\nresponse = \"later\"\n").unwrap_err();
    assert!(err.starts_with("plan.toml:2:"), "{err}");
}

/// Every shipped plan (`workflows/plans/<id>-v<from>-to-v<to>.toml`) checks clean against the
/// shipped versions it names.
#[test]
fn the_shipped_plans_check_clean() {
    let c = crate::common::catalog();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows/plans");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let (head, to) = name.rsplit_once("-to-v").unwrap();
        let (id, from) = head.rsplit_once("-v").unwrap();
        let version = |v: &str| v.parse::<u32>().unwrap();
        let (old, new) = (
            c.workflow(id, version(from)).unwrap(),
            c.workflow(id, version(to)).unwrap(),
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let plan = MigrationPlan::parse(&name, &text).unwrap();
        assert_eq!(plan.check(old, new), Vec::<String>::new(), "{name}");
        checked += 1;
    }
    assert!(checked >= 3, "{checked} plans");
}
