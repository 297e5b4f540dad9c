//! The 12345 bridge (接诉即办): what a city hotline work order (工单) is to Linli, what of it a
//! ticket keeps, how a re-sent order differs from the one taken in, and which of the
//! workflow's actions a platform's answers are. Nothing here does IO: the `http` adapter
//! reads the order and the `linli` binary delivers the callbacks.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The platform's request types (诉求类型). Deadlines by type are the workflow file's
/// (`[sla.*] by_type`), not this module's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestType {
    /// 咨询
    Consult,
    /// 求助
    Help,
    /// 投诉
    Complaint,
    /// 举报
    Report,
    /// 建议
    Suggestion,
    /// 感谢
    Thanks,
}

impl RequestType {
    pub const ALL: [RequestType; 6] = [
        RequestType::Consult,
        RequestType::Help,
        RequestType::Complaint,
        RequestType::Report,
        RequestType::Suggestion,
        RequestType::Thanks,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::Consult => "consult",
            RequestType::Help => "help",
            RequestType::Complaint => "complaint",
            RequestType::Report => "report",
            RequestType::Suggestion => "suggestion",
            RequestType::Thanks => "thanks",
        }
    }

    /// What the platform and the staff call it.
    pub fn zh_cn(self) -> &'static str {
        match self {
            RequestType::Consult => "咨询",
            RequestType::Help => "求助",
            RequestType::Complaint => "投诉",
            RequestType::Report => "举报",
            RequestType::Suggestion => "建议",
            RequestType::Thanks => "感谢",
        }
    }

    /// By its name in English or in Chinese (platforms send either).
    pub fn parse(s: &str) -> Option<RequestType> {
        RequestType::ALL
            .into_iter()
            .find(|t| t.as_str() == s || t.zh_cn() == s)
    }
}

/// What a ticket keeps of the work order it was made from: enough to answer the platform and
/// to show the staff the platform's own terms. The requester is a person of the community
/// (matched by phone), never a copy of their name and number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// The platform's order number (工单编号): unique across the deployment.
    pub order_number: String,
    pub request_type: RequestType,
    /// 保密: the requester is hidden from everyone but the lead handler and the office, and
    /// from every export ([`crate::access::Principal::sees_requester`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confidential: bool,
    /// When the platform received the call.
    pub received_at: Timestamp,
    /// The platform's own deadline (办理时限), as it sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_deadline: Option<Timestamp>,
    /// The platform's category code (事项分类), as sent; the mapping file chose the category.
    pub category_code: String,
    /// Where the matter is, as the caller said it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// The lead unit (主办单位) and the assisting units (协办单位), as the platform names them.
    pub lead_unit: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assisting_units: Vec<String>,
    /// Reminders (催办) and supervisions (督办) received.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reminders: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub supervisions: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A work order as the platform sends it, its codes already mapped (the adapter read the
/// body; the deployment's mapping file chose the category and the branch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub facts: Facts,
    /// The platform's channel (电话, 网络, 微信…), kept in the record of the submission.
    pub channel: String,
    pub requester: Caller,
    /// What the caller asked (诉求内容): the ticket's description.
    pub content: String,
    /// The Linli category the mapping file chose for the platform's code.
    pub category: String,
    pub urgent: bool,
}

/// Who called the hotline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub name: String,
    pub phone: String,
}

/// An order sent again with something changed (补充/更正): what changed, recorded on the
/// ticket as [`crate::EventKind::OrderUpdated`] rather than taken in as a new ticket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    /// The names of the fields that changed (`content`, `address`, `deadline`, …).
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidential: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assisting_units: Option<Vec<String>>,
}

impl OrderUpdate {
    /// What `sent` changes of the order a ticket holds (its facts and its description); none
    /// when the order was only sent again. The request type, the category and the lead unit
    /// decided where the ticket went and which clocks it runs: a change to those is named in
    /// `fields` (the staff see it) but moves nothing.
    pub fn between(held: &Facts, description: &str, sent: &Order) -> Option<OrderUpdate> {
        let new = &sent.facts;
        let mut u = OrderUpdate::default();
        let mut changed = |name: &str, differs: bool| {
            if differs {
                u.fields.push(name.to_owned());
            }
            differs
        };
        if changed("content", description != sent.content.trim()) {
            u.content = Some(sent.content.trim().to_owned());
        }
        if changed("address", held.address != new.address) {
            u.address = Some(new.address.clone());
        }
        if changed("deadline", held.platform_deadline != new.platform_deadline) {
            u.deadline = new.platform_deadline;
        }
        if changed("confidential", held.confidential != new.confidential) {
            u.confidential = Some(new.confidential);
        }
        if changed(
            "assisting_units",
            held.assisting_units != new.assisting_units,
        ) {
            u.assisting_units = Some(new.assisting_units.clone());
        }
        changed("request_type", held.request_type != new.request_type);
        changed("category_code", held.category_code != new.category_code);
        changed("lead_unit", held.lead_unit != new.lead_unit);
        (!u.fields.is_empty()).then_some(u)
    }

    /// The facts and description with this update applied.
    pub(crate) fn apply(&self, facts: &mut Facts, description: &mut String) {
        if let Some(c) = &self.content {
            description.clone_from(c);
        }
        if let Some(a) = &self.address {
            facts.address.clone_from(a);
        }
        if self.fields.iter().any(|f| f == "deadline") {
            facts.platform_deadline = self.deadline;
        }
        if let Some(c) = self.confidential {
            facts.confidential = c;
        }
        if let Some(units) = &self.assisting_units {
            facts.assisting_units.clone_from(units);
        }
    }
}

/// 满意度, as the platform's follow-up call (回访) records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// 满意
    Satisfied,
    /// 基本满意
    BasicallySatisfied,
    /// 不满意
    Dissatisfied,
}

impl Satisfaction {
    /// As a rating, the scale every other request is rated on: 满意 5, 基本满意 4, 不满意 1.
    pub fn rating(self) -> u8 {
        match self {
            Satisfaction::Satisfied => 5,
            Satisfaction::BasicallySatisfied => 4,
            Satisfaction::Dissatisfied => 1,
        }
    }
}

/// What the platform sends about an order it dispatched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformEvent {
    /// 催办 (`supervision: false`) or 督办: told to the holder and the branch, recorded; the
    /// holder answers with the `acknowledge` action, which goes back to the platform.
    Reminder { supervision: bool, note: String },
    /// The answer to an extension request (延期申请).
    Extension { approved: bool, reason: String },
    /// The answer to a return (退单).
    Return { approved: bool, reason: String },
    /// The follow-up call (回访): solved or not, and how satisfied.
    FollowUp {
        solved: bool,
        satisfaction: Satisfaction,
        note: String,
    },
}

/// The workflow's actions a platform's answers are taken as, by the system: a workflow the
/// bridge runs must have each (checked when the bridge starts,
/// [`check_workflow`]).
pub mod actions {
    pub const APPROVE_EXTENSION: &str = "approve_extension";
    pub const REFUSE_EXTENSION: &str = "refuse_extension";
    pub const RETURN_APPROVED: &str = "return_approved";
    pub const RETURN_REFUSED: &str = "return_refused";
    /// 回访: solved.
    pub const CONFIRM: &str = "confirm";
    /// 回访: not solved, to be done again (重办).
    pub const REDO: &str = "redo";
    pub const ALL: [&str; 6] = [
        APPROVE_EXTENSION,
        REFUSE_EXTENSION,
        RETURN_APPROVED,
        RETURN_REFUSED,
        CONFIRM,
        REDO,
    ];
}

impl PlatformEvent {
    /// The action the answer is taken as, with what it records (`None` for a reminder, which
    /// is an event of its own).
    pub fn action(&self) -> Option<(&'static str, crate::Fields)> {
        let with = |reason: &str, note: &str, rating: Option<u8>| crate::Fields {
            reason: (!reason.trim().is_empty()).then(|| reason.trim().to_owned()),
            note: (!note.trim().is_empty()).then(|| note.trim().to_owned()),
            rating,
            ..crate::Fields::default()
        };
        match self {
            PlatformEvent::Reminder { .. } => None,
            PlatformEvent::Extension { approved: true, .. } => {
                Some((actions::APPROVE_EXTENSION, crate::Fields::default()))
            }
            PlatformEvent::Extension { reason, .. } => {
                Some((actions::REFUSE_EXTENSION, with(reason, "", None)))
            }
            PlatformEvent::Return { approved: true, .. } => {
                Some((actions::RETURN_APPROVED, crate::Fields::default()))
            }
            PlatformEvent::Return { reason, .. } => {
                Some((actions::RETURN_REFUSED, with(reason, "", None)))
            }
            PlatformEvent::FollowUp {
                solved: true,
                satisfaction,
                note,
            } => Some((
                actions::CONFIRM,
                with("", note, Some(satisfaction.rating())),
            )),
            PlatformEvent::FollowUp {
                satisfaction, note, ..
            } => {
                let reason = if note.trim().is_empty() {
                    "回访未解决"
                } else {
                    note
                };
                Some((actions::REDO, with(reason, "", Some(satisfaction.rating()))))
            }
        }
    }
}

/// Why a workflow cannot carry hotline orders: an answer action it lacks, or one the system
/// may not take.
pub fn check_workflow(wf: &crate::Workflow) -> Result<(), String> {
    for action in actions::ALL {
        let system = wf.transitions.iter().any(|t| {
            t.action == action && t.roles.contains(&crate::Party::Role(crate::Role::System))
        });
        if !system {
            return Err(format!(
                "workflow {}@{} has no action {action:?} the system may take: the platform's answers are taken as it",
                wf.id, wf.version
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            facts: Facts {
                order_number: "GD2026120700001".into(),
                request_type: RequestType::Help,
                confidential: false,
                received_at: "2026-12-07T01:00:00Z".parse().unwrap(),
                platform_deadline: Some("2026-12-14T09:30:00Z".parse().unwrap()),
                category_code: "0301".into(),
                address: "荷花塘3栋".into(),
                lead_unit: "荷花塘社区".into(),
                assisting_units: vec![],
                reminders: 0,
                supervisions: 0,
            },
            channel: "电话".into(),
            requester: Caller {
                name: "王阿姨".into(),
                phone: "13800000001".into(),
            },
            content: "楼道灯坏了".into(),
            category: "repair".into(),
            urgent: false,
        }
    }

    #[test]
    fn request_types_are_read_in_either_language() {
        for t in RequestType::ALL {
            assert_eq!(RequestType::parse(t.as_str()), Some(t));
            assert_eq!(RequestType::parse(t.zh_cn()), Some(t));
        }
        assert_eq!(RequestType::parse("求表扬"), None);
    }

    #[test]
    fn an_order_sent_again_unchanged_is_no_update_and_a_changed_one_names_what_changed() {
        let o = order();
        assert_eq!(OrderUpdate::between(&o.facts, "楼道灯坏了", &o), None);
        let mut sent = o.clone();
        sent.content = "楼道灯坏了，三楼也不亮".into();
        sent.facts.platform_deadline = None;
        sent.facts.request_type = RequestType::Complaint;
        let u = OrderUpdate::between(&o.facts, "楼道灯坏了", &sent).unwrap();
        assert_eq!(u.fields, ["content", "deadline", "request_type"]);
        let (mut facts, mut description) = (o.facts.clone(), "楼道灯坏了".to_owned());
        u.apply(&mut facts, &mut description);
        assert_eq!(description, "楼道灯坏了，三楼也不亮");
        assert_eq!(facts.platform_deadline, None);
        // The type decided the clocks: named, not moved.
        assert_eq!(facts.request_type, RequestType::Help);
    }

    #[test]
    fn a_follow_up_that_was_not_solved_is_done_again_with_its_rating() {
        let (action, fields) = PlatformEvent::FollowUp {
            solved: false,
            satisfaction: Satisfaction::Dissatisfied,
            note: String::new(),
        }
        .action()
        .unwrap();
        assert_eq!(action, actions::REDO);
        assert_eq!(
            (fields.rating, fields.reason.as_deref()),
            (Some(1), Some("回访未解决"))
        );
        let (action, fields) = PlatformEvent::FollowUp {
            solved: true,
            satisfaction: Satisfaction::BasicallySatisfied,
            note: "已修好".into(),
        }
        .action()
        .unwrap();
        assert_eq!((action, fields.rating), (actions::CONFIRM, Some(4)));
        assert!(
            PlatformEvent::Reminder {
                supervision: true,
                note: "请尽快".into()
            }
            .action()
            .is_none()
        );
    }
}
