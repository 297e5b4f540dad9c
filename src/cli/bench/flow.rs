//! The lifecycle every benchmark walks, once: a resident's repair request submitted, triaged
//! and dispatched to a volunteer by the branch secretary, accepted, started and completed by
//! the volunteer, confirmed and rated by the resident. In-process and over HTTP alike.

use serde_json::{Value, json};
use uuid::Uuid;
use workflow_core::{Assignee, Fields};

pub const CATEGORY: &str = "repair";
pub const DESCRIPTION: &str = "楼道灯不亮，晚上看不见";

/// Who takes a step: one of the demo community's people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    Resident,
    Secretary,
    Member,
}

/// The steps after submission, in order.
pub const STEPS: [(Who, &str); 6] = [
    (Who::Secretary, "triage"),
    (Who::Secretary, "dispatch"),
    (Who::Member, "accept"),
    (Who::Member, "start"),
    (Who::Member, "complete"),
    (Who::Resident, "confirm"),
];

/// Every request of a lifecycle by name, submission first (the latency table's rows).
pub const ACTIONS: [&str; 7] = [
    "submit", "triage", "dispatch", "accept", "start", "complete", "confirm",
];

/// What `action` carries, as the core takes it.
pub fn fields(action: &str, volunteer: Uuid) -> Fields {
    match action {
        "dispatch" => Fields {
            assignee: Some(Assignee::Person(volunteer)),
            ..Fields::default()
        },
        "complete" => Fields {
            hours: Some(1.0),
            ..Fields::default()
        },
        "confirm" => Fields {
            rating: Some(5),
            ..Fields::default()
        },
        _ => Fields::default(),
    }
}

/// What `action` carries, as a client sends it: the same fields and the version it is based on.
pub fn body(action: &str, volunteer: Uuid, version: u64) -> Value {
    let f = fields(action, volunteer);
    let mut body = json!({ "version": version });
    if let Some(Assignee::Person(p)) = f.assignee {
        body["assignee"] = json!(p);
    }
    if let Some(h) = f.hours {
        body["hours"] = json!(h);
    }
    if let Some(r) = f.rating {
        body["rating"] = json!(r);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_http_body_carries_what_the_core_takes() {
        let v = Uuid::now_v7();
        assert_eq!(body("dispatch", v, 3), json!({"version": 3, "assignee": v}));
        assert_eq!(body("complete", v, 5), json!({"version": 5, "hours": 1.0}));
        assert_eq!(body("confirm", v, 6), json!({"version": 6, "rating": 5}));
        assert_eq!(body("accept", v, 4), json!({"version": 4}));
    }
}
