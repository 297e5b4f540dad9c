//! Every rule of the workflow validator, each by a file that breaks it: the error must name
//! the file, the line of the offending text, and the offending name.

use workflow_core::{LoadError, Source, load};

const BASE: &str = r#"id = "t"
version = 1
initial = "open"

[states.open]
[states.doing]
[states.done]
terminal = true

[[transitions]]
action = "take"
from = "open"
to = "doing"
roles = ["member"]

[[transitions]]
action = "expire"
from = "doing"
to = "open"
roles = ["system"]

[[transitions]]
action = "finish"
from = "doing"
to = "done"
roles = ["assignee"]
requires = ["note"]

[sla.resolution]
start = ["open"]
stop = ["done"]
target = { normal = "2h" }
calendar = "office"

[[timers]]
in = "doing"
after = "1d"
action = "expire"

[calendars.office]
week = { mon = ["09:00-17:00"] }

[categories.fix]
label = { zh-CN = "维修" }
workflow = "t"
"#;

fn load_one(text: &str) -> Result<(), Vec<LoadError>> {
    load(&[Source {
        name: "t.toml".into(),
        text: text.into(),
    }])
    .map(|_| ())
}

/// Replaces `from` (which must occur once) in the base file, loads it, and checks that an
/// error mentions `message` on the line where `at` occurs in the changed file.
#[track_caller]
fn assert_rejected(from: &str, to: &str, at: &str, message: &str) {
    assert_edit_rejected(BASE, "t.toml", &[], from, to, at, message);
}

/// Edits `original` (which must contain `from` once), loads it as `name` beside `others`,
/// and checks that an error mentions `message` on `name`'s line where `at` occurs.
#[track_caller]
fn assert_edit_rejected(
    original: &str,
    name: &str,
    others: &[Source],
    from: &str,
    to: &str,
    at: &str,
    message: &str,
) {
    assert_eq!(
        original.matches(from).count(),
        1,
        "fixture edit {from:?} must be unique"
    );
    let text = original.replace(from, to);
    let line = text
        .lines()
        .position(|l| l.contains(at))
        .unwrap_or_else(|| panic!("{at:?} not in the edited file"))
        + 1;
    let mut sources = others.to_vec();
    sources.push(Source {
        name: name.into(),
        text,
    });
    let errors = load(&sources)
        .map(|_| ())
        .expect_err("the edited file must be rejected");
    assert!(
        errors
            .iter()
            .any(|e| e.file == name && e.line == line && e.message.contains(message)),
        "expected {name}:{line}: …{message}…, got:\n{}",
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_base_fixture_is_valid() {
    load_one(BASE).unwrap();
}

#[test]
fn unknown_state_in_from() {
    assert_rejected(
        "from = \"open\"\nto = \"doing\"",
        "from = \"opne\"\nto = \"doing\"",
        "from = \"opne\"",
        "unknown state \"opne\"",
    );
}

#[test]
fn unknown_state_in_to() {
    assert_rejected(
        "to = \"done\"",
        "to = \"finished\"",
        "to = \"finished\"",
        "unknown state \"finished\"",
    );
}

#[test]
fn unknown_state_in_sla() {
    assert_rejected(
        "stop = [\"done\"]",
        "stop = [\"gone\"]",
        "stop = [\"gone\"]",
        "unknown state \"gone\"",
    );
}

#[test]
fn unknown_state_in_timer() {
    assert_rejected(
        "in = \"doing\"",
        "in = \"busy\"",
        "in = \"busy\"",
        "unknown state \"busy\"",
    );
}

#[test]
fn unknown_initial_state() {
    assert_rejected(
        "initial = \"open\"",
        "initial = \"new\"",
        "initial",
        "unknown state \"new\"",
    );
}

#[test]
fn unreachable_state() {
    assert_rejected(
        "[states.done]",
        "[states.limbo]\nterminal = true\n[states.done]",
        "[states.limbo]",
        "state \"limbo\" is unreachable",
    );
}

#[test]
fn non_terminal_state_with_no_way_out() {
    assert_rejected(
        "[states.done]\nterminal = true",
        "[states.done]",
        "[states.done]",
        "state \"done\" is not terminal and has no way out",
    );
}

#[test]
fn no_terminal_state() {
    assert_rejected(
        "[states.done]\nterminal = true",
        "[states.done]\n[[transitions]]\naction = \"again\"\nfrom = \"done\"\nto = \"open\"\nroles = [\"member\"]",
        "id = \"t\"",
        "no terminal state",
    );
}

#[test]
fn duplicate_action_from_one_state() {
    // The duplicate is reported where the second one stands, naming the first one's line.
    let text = BASE.replace(
        "[[transitions]]\naction = \"expire\"\nfrom = \"doing\"",
        "[[transitions]]\naction = \"take\"\nfrom = [\"doing\", \"open\"]",
    );
    let errors = load_one(&text).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.line == 17 && e.message.contains("first declared on line 10")),
        "{errors:?}"
    );
}

#[test]
fn action_with_no_role() {
    assert_rejected(
        "roles = [\"member\"]",
        "roles = []",
        "action = \"take\"",
        "action \"take\" has no role",
    );
}

#[test]
fn unknown_role() {
    assert_rejected(
        "roles = [\"member\"]",
        "roles = [\"mayor\"]",
        "roles = [\"mayor\"]",
        "unknown role \"mayor\"",
    );
}

#[test]
fn unknown_required_field() {
    assert_rejected(
        "requires = [\"note\"]",
        "requires = [\"photo\"]",
        "requires",
        "unknown field \"photo\"",
    );
}

#[test]
fn bad_duration() {
    assert_rejected(
        "normal = \"2h\"",
        "normal = \"2 hours\"",
        "normal",
        "bad duration \"2 hours\"",
    );
    assert_rejected(
        "after = \"1d\"",
        "after = \"1x\"",
        "after = \"1x\"",
        "bad duration \"1x\"",
    );
}

#[test]
fn unknown_calendar() {
    assert_rejected(
        "calendar = \"office\"",
        "calendar = \"ofice\"",
        "calendar = \"ofice\"",
        "unknown calendar \"ofice\"",
    );
}

#[test]
fn empty_calendar_week() {
    assert_rejected(
        "week = { mon = [\"09:00-17:00\"] }",
        "week = {}",
        "week = {}",
        "calendar \"office\" has an empty week",
    );
}

#[test]
fn bad_working_hours_and_holidays() {
    assert_rejected(
        "week = { mon = [\"09:00-17:00\"] }",
        "week = { mon = [\"17:00-09:00\"] }",
        "week",
        "end before they start",
    );
    assert_rejected(
        "week = { mon = [\"09:00-17:00\"] }",
        "week = { mon = [\"09:00-17:00\"] }\nholidays = [\"2026-13-01\"]",
        "holidays",
        "bad date \"2026-13-01\"",
    );
}

#[test]
fn unknown_time_zone() {
    assert_rejected(
        "[calendars.office]",
        "[calendars.office]\ntime_zone = \"Mars/Olympus\"",
        "time_zone",
        "unknown time zone \"Mars/Olympus\"",
    );
}

#[test]
fn category_naming_an_unknown_workflow() {
    assert_rejected(
        "workflow = \"t\"",
        "workflow = \"tt\"",
        "workflow = \"tt\"",
        "category \"fix\" names unknown workflow \"tt\"",
    );
}

#[test]
fn category_overriding_an_unknown_clock() {
    assert_rejected(
        "workflow = \"t\"",
        "workflow = \"t\"\nsla.respons = { normal = \"1h\" }",
        "sla.respons",
        "unknown SLA clock \"respons\"",
    );
}

#[test]
fn timer_action_that_the_system_may_not_take() {
    let text = BASE.replace(
        "after = \"1d\"\naction = \"expire\"",
        "after = \"1d\"\naction = \"finish\"",
    );
    let errors = load_one(&text).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.message.contains("must admit the `system` role")),
        "{errors:?}"
    );
}

#[test]
fn unknown_escalation_and_bad_levels() {
    assert_rejected(
        "calendar = \"office\"\n\n[[timers]]",
        "calendar = \"office\"\nescalation = \"ladder\"\n\n[[timers]]",
        "escalation = \"ladder\"",
        "unknown escalation \"ladder\"",
    );
    assert_rejected(
        "[calendars.office]",
        "[escalations.up]\nlevels = [{ to = \"resident\", after = \"1h\" }]\n\n[calendars.office]",
        "levels",
        "must be secretary, community or street",
    );
}

#[test]
fn unknown_keys_and_toml_syntax_errors_are_located() {
    assert_rejected(
        "terminal = true",
        "terminal = true\ncolour = \"red\"",
        "colour",
        "unknown field `colour`",
    );
    assert_rejected("version = 1", "version = = 1", "version", "");
}

#[test]
fn two_files_with_the_same_id_and_version() {
    let other = BASE
        .replace(
            "[categories.fix]\nlabel = { zh-CN = \"维修\" }\nworkflow = \"t\"\n",
            "",
        )
        .replace(
            "[calendars.office]\nweek = { mon = [\"09:00-17:00\"] }\n",
            "",
        );
    let errors = load(&[
        Source {
            name: "a.toml".into(),
            text: BASE.into(),
        },
        Source {
            name: "b.toml".into(),
            text: other,
        },
    ])
    .unwrap_err();
    assert!(
        errors.iter().any(|e| e.file == "b.toml"
            && e.line == 1
            && e.message
                .contains("workflow t@1 is already defined in a.toml")),
        "{errors:?}"
    );
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let text = BASE
        .replace("to = \"done\"", "to = \"finished\"")
        .replace("roles = [\"member\"]", "roles = [\"mayor\"]");
    let errors = load_one(&text).unwrap_err();
    assert!(errors.len() >= 2, "{errors:?}");
    assert!(errors.iter().all(|e| e.to_string().starts_with("t.toml:")));
}

#[test]
fn the_shipped_workflows_load() {
    let catalog = crate::common::load_shipped();
    for id in ["community-service", "micro-wish", "dispute-mediation"] {
        assert!(catalog.latest(id).is_some(), "{id}");
    }
    for c in [
        "elderly_care",
        "repair",
        "sanitation",
        "mediation",
        "legal",
        "health",
        "errand",
        "micro_wish",
    ] {
        assert!(catalog.category(c).is_some(), "{c}");
    }
}

#[test]
fn auto_dispatch_action_must_take_an_assignee() {
    assert_rejected(
        "[calendars.office]",
        "[auto_dispatch]\nin = \"open\"\naction = \"take\" # by the system\n\n[calendars.office]",
        "# by the system",
        "must take an assignee",
    );
}

#[test]
fn auto_dispatch_in_an_unknown_state() {
    assert_rejected(
        "[calendars.office]",
        "[auto_dispatch]\nin = \"nowhere\"\naction = \"take\"\n\n[calendars.office]",
        "in = \"nowhere\"",
        "unknown state \"nowhere\"",
    );
}

#[test]
fn a_category_cannot_ask_for_auto_dispatch_its_workflow_lacks() {
    assert_rejected(
        "workflow = \"t\"\n",
        "workflow = \"t\"\nauto_dispatch = 2\n",
        "auto_dispatch = 2",
        "has no [auto_dispatch] section",
    );
}

#[test]
fn credit_names_known_actions_and_five_bonuses() {
    assert_rejected(
        "[calendars.office]",
        "[credit]\non = [\"finish\", \"celebrate\"]\n\n[calendars.office]",
        "on = [\"finish\", \"celebrate\"]",
        "unknown action \"celebrate\"",
    );
    assert_rejected(
        "[calendars.office]",
        "[credit]\non = \"finish\"\nrating_bonus = [0, 1]\n\n[calendars.office]",
        "rating_bonus = [0, 1]",
        "5 numbers, got 2",
    );
    assert_rejected(
        "[calendars.office]",
        "[credit]\non = \"finish\"\ndaily_time = \"1wd\"\n\n[calendars.office]",
        "daily_time = \"1wd\"",
        "clock time",
    );
    assert_rejected(
        "[calendars.office]",
        "[credit]\non = \"finish\"\nquestion_under = \"soon\"\n\n[calendars.office]",
        "question_under = \"soon\"",
        "bad duration",
    );
}

#[test]
fn an_internal_action_keeps_the_state() {
    assert_rejected(
        "roles = [\"assignee\"]\nrequires = [\"note\"]",
        "roles = [\"assignee\"]\nrequires = [\"note\"]\ninternal = true",
        "internal = true",
        "cannot be internal",
    );
}

#[test]
fn an_internal_action_is_never_told_to_the_resident() {
    assert_rejected(
        "[[transitions]]\naction = \"expire\"",
        "[[transitions]]\naction = \"whisper\"\nfrom = \"doing\"\nroles = [\"assignee\"]\nrequires = [\"note\"]\ninternal = true\n\n[[notify]]\non = [\"whisper\"]\nto = [\"requester\"]\n\n[[transitions]]\naction = \"expire\"",
        "on = [\"whisper\"]",
        "is internal",
    );
}

#[test]
fn warnings_are_shares_of_the_target() {
    assert_rejected(
        "target = { normal = \"2h\" }",
        "target = { normal = \"2h\" }\nwarn = [\"50%\", \"150%\"]",
        "warn = [",
        "from \"1%\" to \"99%\"",
    );
}

/// The base file with three actions that stay in `doing` and an `[extensions]` rule.
fn with_extensions(rule: &str) -> String {
    let asks = "[[transitions]]\naction = \"ask\"\nfrom = \"doing\"\nroles = [\"assignee\"]\nrequires = [\"reason\", \"extend_by\"]\n\n[[transitions]]\naction = \"grant\"\nfrom = \"doing\"\nroles = [\"secretary\"]\n\n[[transitions]]\naction = \"deny\"\nfrom = \"doing\"\nroles = [\"secretary\"]\nrequires = [\"reason\"]\n\n";
    format!("{asks}[extensions]\n{rule}\n\n[calendars.office]")
}

const GOOD_EXTENSIONS: &str = "clock = \"resolution\"\nrequest = \"ask\"\napprove = \"grant\"\nrefuse = \"deny\"\nmax = \"1wd\"";

#[test]
fn extensions_name_a_clock_and_actions_that_stay() {
    let text = BASE.replace("[calendars.office]", &with_extensions(GOOD_EXTENSIONS));
    assert!(load_one(&text).is_ok(), "{:?}", load_one(&text));
    let bad = |from: &str, to: &str| with_extensions(&GOOD_EXTENSIONS.replace(from, to));
    assert_rejected(
        "[calendars.office]",
        &bad("\"resolution\"", "\"response\""),
        "clock = \"response\"",
        "unknown SLA clock",
    );
    assert_rejected(
        "[calendars.office]",
        &bad("\"grant\"", "\"finish\""),
        "approve = \"finish\"",
        "must keep the ticket where it is",
    );
    assert_rejected(
        "[calendars.office]",
        &bad("refuse = \"deny\"", "refuse = \"grant\""),
        "refuse = \"grant\"",
        "must require \"reason\"",
    );
}

#[test]
fn only_the_extension_request_takes_extend_by() {
    assert_rejected(
        "roles = [\"assignee\"]\nrequires = [\"note\"]",
        "roles = [\"assignee\"]\nrequires = [\"note\", \"extend_by\"]",
        "requires = [\"note\", \"extend_by\"]",
        "only the [extensions] request action may take",
    );
}

#[test]
fn a_follow_up_comes_after_the_request_is_done() {
    assert_rejected(
        "[calendars.office]",
        "[follow_up]\nin = \"open\"\nafter = \"1wd\"\naction = \"take\"\n\n[calendars.office]",
        "in = \"open\"",
        "terminal state",
    );
    assert_rejected(
        "[calendars.office]",
        "[[transitions]]\naction = \"call\"\nfrom = \"done\"\nroles = [\"assignee\"]\nrequires = [\"note\"]\n\n[follow_up]\nin = \"done\"\nafter = \"1wd\"\naction = 'call'\n\n[calendars.office]",
        "action = 'call'",
        "staff levels",
    );
    assert_rejected(
        "workflow = \"t\"",
        "workflow = \"t\"\nfollow_up = true",
        "follow_up = true",
        "no version of workflow \"t\" has a [follow_up] section",
    );
}

#[test]
fn the_supervisor_only_looks() {
    assert_rejected(
        "roles = [\"member\"]",
        "roles = [\"supervisor\"]",
        "roles = [\"supervisor\"]",
        "read-only",
    );
}

/// Edits the shipped community-service v4 (which must contain `from` once), loads it with the
/// shipped catalog, and checks that an error mentions `message` on the line of `at`.
#[track_caller]
fn assert_v4_rejected(from: &str, to: &str, at: &str, message: &str) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    let catalog = Source {
        name: "catalog.toml".into(),
        text: read("catalog.toml")
            .split_inclusive('\n')
            .filter(|l| !l.starts_with("follow_up = true"))
            .collect(),
    };
    let v4 = read("community-service-v4.toml");
    assert_edit_rejected(&v4, "v4.toml", &[catalog], from, to, at, message);
}

#[test]
fn merging_waits_in_an_open_state_and_follows_by_the_systems_actions() {
    assert_v4_rejected(
        "in = \"merged\"",
        "in = \"closed\" # waits",
        "# waits",
        "not a terminal state",
    );
    assert_v4_rejected(
        "done = { completed = \"parent_completed\" }",
        "done = { completed = \"confirm\" }",
        "done = { completed = \"confirm\" }",
        "must lead out of \"merged\"",
    );
    assert_v4_rejected(
        "done = { completed = \"parent_completed\" }",
        "done = { finished = \"parent_completed\" }",
        "done = { finished",
        "unknown state \"finished\"",
    );
    assert_v4_rejected(
        "requires = [\"reason\"]\n\n[[transitions]]\naction = \"parent_completed\"",
        "requires = [\"reason\", \"parent\"]\n\n[[transitions]]\naction = \"parent_completed\"",
        "requires = [\"reason\", \"parent\"]",
        "only the [merging] merge action may take",
    );
}

#[test]
fn co_handling_is_added_by_staff_and_reported_by_the_co_handler_only() {
    assert_v4_rejected(
        "roles = [\"co_handler\"]",
        "roles = [\"assignee\"]",
        "report = \"co_report\"",
        "admit only co_handler",
    );
    assert_v4_rejected(
        "requires = [\"assignee\"]\nassign = \"keep\"",
        "requires = [\"assignee\"]",
        "add = \"add_co_handler\"",
        "assign = \"keep\"",
    );
    assert_v4_rejected(
        "roles = [\"requester\", \"assignee\", \"secretary\"]",
        "roles = [\"requester\", \"assignee\", \"secretary\", \"co_handler\"]",
        "\"co_handler\"]",
        "only the [co_handling] report action may",
    );
}

#[test]
fn a_sensitive_category_is_never_on_a_wall() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows");
    let read = |f: &str| std::fs::read_to_string(format!("{dir}/{f}")).unwrap();
    let wishes = Source {
        name: "micro-wish.toml".into(),
        text: read("micro-wish.toml"),
    };
    let catalog = read("catalog.toml");
    assert_edit_rejected(
        &catalog,
        "catalog.toml",
        &[wishes],
        "workflow = \"micro-wish\"",
        "workflow = \"micro-wish\"\nsensitive = true",
        "workflow = \"micro-wish\"",
        "puts requests on the community's wall",
    );
}
