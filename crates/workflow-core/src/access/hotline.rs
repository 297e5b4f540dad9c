//! Who may do what with the city hotline's work orders (12345, 接诉即办): bring them in and
//! answer for the platform, and see a confidential (保密) order's requester. Part of the one
//! policy ([`super`]).

use super::{Principal, Refusal, UnitInfo};
use crate::role::Role;
use crate::ticket::Ticket;

impl Principal {
    /// Whether this person may bring the platform's work orders in for `community` and send
    /// the platform's reminders and answers: a street or community office (the integration
    /// is given one of those roles) whose area holds the community.
    pub fn may_bridge(&self, community: &UnitInfo) -> Result<(), Refusal> {
        let office = self.has(Role::Street) || self.has(Role::Community);
        if !office {
            return Err(Refusal::Forbidden(
                "only a street or community office's integration brings hotline orders in",
            ));
        }
        if self.covers(community) {
            Ok(())
        } else {
            Err(Refusal::Forbidden(
                "this community is outside the integration's area",
            ))
        }
    }

    /// Whether this person sees who asked for `t` (name, number, identity). A confidential
    /// hotline order (保密) hides its requester from everyone but the lead handler (the person
    /// holding it) and the offices (community, street); every export leaves it out, whoever
    /// asks. Anything else: the requester is shown as the contact rules say.
    pub fn sees_requester(&self, t: &Ticket) -> bool {
        let confidential = t.hotline.as_ref().is_some_and(|h| h.confidential);
        !confidential
            || self.id == t.requester
            || t.assignee.and_then(|a| a.person()) == Some(self.id)
            || self.has(Role::Community)
            || self.has(Role::Street)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::access::Unit;
    use crate::access::tests::someone;
    use crate::hotline::{Facts, RequestType};
    use crate::ticket::Assignee;

    fn order(confidential: bool) -> Ticket {
        let mut t: Ticket = serde_json::from_value(serde_json::json!({
            "id": Uuid::now_v7(), "workflow_id": "hotline-12345", "workflow_version": 1,
            "category": "repair", "urgency": "normal", "description": "楼道灯坏了",
            "channel": "12345", "state": "signed", "requester": Uuid::now_v7(),
            "community_id": Uuid::now_v7(), "branch_id": Uuid::now_v7(), "version": 2,
            "state_entered_seq": 2, "clocks": [], "created_at": "2026-12-07T01:00:00Z",
            "updated_at": "2026-12-07T01:00:00Z"
        }))
        .unwrap();
        t.hotline = Some(Facts {
            order_number: "GD1".into(),
            request_type: RequestType::Help,
            confidential,
            received_at: t.created_at,
            platform_deadline: None,
            category_code: "0301".into(),
            address: String::new(),
            lead_unit: "荷花塘社区".into(),
            assisting_units: vec![],
            reminders: 0,
            supervisions: 0,
        });
        t
    }

    #[test]
    fn a_confidential_requester_is_seen_by_the_lead_handler_and_the_offices_only() {
        let mut t = order(true);
        let secretary = someone(&[Role::Secretary]);
        let member = someone(&[Role::Member]);
        assert!(!secretary.sees_requester(&t));
        assert!(!member.sees_requester(&t));
        assert!(!someone(&[Role::Admin]).sees_requester(&t));
        assert!(someone(&[Role::Community]).sees_requester(&t));
        assert!(someone(&[Role::Street]).sees_requester(&t));
        t.assignee = Some(Assignee::Person(member.id));
        assert!(member.sees_requester(&t));
        assert!(!secretary.sees_requester(&t));
        // Not confidential: the contact rules decide, as for any request.
        assert!(secretary.sees_requester(&order(false)));
    }

    #[test]
    fn only_an_office_whose_area_holds_the_community_bridges_its_orders() {
        let street = Uuid::now_v7();
        let id = Uuid::now_v7();
        let community = UnitInfo {
            unit: Unit::Community(id),
            community: Some(id),
            street: Some(street),
        };
        let mut office = someone(&[Role::Street]);
        office.street_id = Some(street);
        assert!(office.may_bridge(&community).is_ok());
        office.street_id = Some(Uuid::now_v7());
        assert!(office.may_bridge(&community).is_err());
        let mut secretary = someone(&[Role::Secretary]);
        secretary.street_id = Some(street);
        assert!(secretary.may_bridge(&community).is_err());
    }
}
