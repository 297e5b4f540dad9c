//! Who may do what on the volunteers' side of a community: read a volunteer's ledger and
//! issue their certificates of service, report in (双报到) and decide report-ins, read and sign
//! the work units' feedback sheets, keep and read the time bank (时间银行). Part of the one
//! policy ([`super`]).

use uuid::Uuid;

use super::{Principal, Refusal, Scope, UnitInfo};
use crate::role::Role;

impl Principal {
    /// Whether this person reads a volunteer's ledger of hours and points: their own, an
    /// administrator, and staff who answer for the volunteer's community (a secretary for
    /// their whole community's volunteers, not only their branch's). `community`: the
    /// volunteer's, if they have one.
    pub fn reads_ledger(&self, member: Uuid, community: Option<&UnitInfo>) -> Result<(), Refusal> {
        if self.id == member || self.has(Role::Admin) {
            return Ok(());
        }
        if !self.is_staff() {
            return Err(Refusal::Forbidden("only staff see another member's ledger"));
        }
        let covered = community.is_some_and(|c| match self.scope() {
            Scope::Branch(_) => self.community_id == c.community,
            _ => self.covers(c),
        });
        if covered {
            Ok(())
        } else {
            Err(Refusal::Hidden)
        }
    }

    /// Whether this person issues a certificate of service (志愿服务证明) for a volunteer: the
    /// volunteer themself, or staff who answer for the volunteer's community (their office).
    /// An administrator runs the system and certifies nobody's service.
    pub fn may_certify(&self, member: Uuid, community: Option<&UnitInfo>) -> Result<(), Refusal> {
        if self.id == member {
            return Ok(());
        }
        if !self.is_staff() {
            return Err(Refusal::Forbidden(
                "a certificate is issued by the volunteer or their community's office",
            ));
        }
        self.reads_ledger(member, community)
    }

    /// Whether this person reports in (双报到) to a community: a party member, to the one
    /// they live in (the community returned). A newcomer the directory does not know yet uses
    /// the community's published form instead.
    pub fn may_report_in(&self) -> Result<Uuid, Refusal> {
        match self.community_id {
            Some(c) if self.has(Role::Member) => Ok(c),
            _ => Err(Refusal::Forbidden(
                "a party member reports in to the community they live in",
            )),
        }
    }

    /// Whether this person acts as `community`'s office for its reporting-in members: decides
    /// their report-ins, publishes the code to report in with, signs off their work units'
    /// feedback sheets. The community office only; other staff are told there is nothing.
    pub fn may_take_in(&self, community: Uuid) -> Result<(), Refusal> {
        self.office_of(
            community,
            "the community office takes members in and signs their sheets",
        )
    }

    /// Whether this person keeps `community`'s time bank (时间银行): grants from its pool,
    /// confirms who is whose relative. The community office only.
    pub fn keeps_time_bank(&self, community: Uuid) -> Result<(), Refusal> {
        self.office_of(community, "the community office keeps its time bank")
    }

    /// Whether this person is `community`'s office; other staff are told there is nothing,
    /// anyone else why not.
    fn office_of(&self, community: Uuid, why: &'static str) -> Result<(), Refusal> {
        if self.has(Role::Community) && self.community_id == Some(community) {
            Ok(())
        } else if self.is_staff() {
            Err(Refusal::Hidden)
        } else {
            Err(Refusal::Forbidden(why))
        }
    }

    /// Whether this person reads `community`'s report-ins and feedback sheets: the staff
    /// who answer for it (its branches' secretaries, its office, its street's office).
    pub fn reads_feedback(&self, community: &UnitInfo) -> Result<(), Refusal> {
        self.answers_for(
            community,
            "a community's report-ins and feedback sheets are its staff's",
        )
    }

    /// Whether this person reads `community`'s time bank (its pool, its caps, what it has
    /// issued): the staff who answer for it.
    pub fn reads_time_bank(&self, community: &UnitInfo) -> Result<(), Refusal> {
        self.answers_for(community, "a community's time bank is its staff's to read")
    }

    /// Whether this person is among the staff who answer for `community`: its branches'
    /// secretaries, its office, its street's office.
    fn answers_for(&self, community: &UnitInfo, why: &'static str) -> Result<(), Refusal> {
        if !self.is_staff() {
            return Err(Refusal::Forbidden(why));
        }
        let covered = match self.scope() {
            Scope::Branch(_) => self.community_id == community.community,
            _ => self.covers(community),
        };
        if covered {
            Ok(())
        } else {
            Err(Refusal::Hidden)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Unit;

    fn staff(role: Role, community: u128) -> Principal {
        Principal {
            id: Uuid::from_u128(100 + community),
            roles: vec![role],
            community_id: Some(Uuid::from_u128(community)),
            street_id: Some(Uuid::from_u128(9)),
            branch_id: Some(Uuid::from_u128(50 + community)),
            ..Principal::default()
        }
    }

    fn community(n: u128) -> UnitInfo {
        UnitInfo {
            unit: Unit::Community(Uuid::from_u128(n)),
            community: Some(Uuid::from_u128(n)),
            street: Some(Uuid::from_u128(9)),
        }
    }

    #[test]
    fn the_office_keeps_its_own_community_and_staff_elsewhere_learn_nothing() {
        let here = Uuid::from_u128(1);
        assert!(staff(Role::Community, 1).may_take_in(here).is_ok());
        assert!(staff(Role::Community, 1).keeps_time_bank(here).is_ok());
        assert_eq!(
            staff(Role::Community, 2).keeps_time_bank(here),
            Err(Refusal::Hidden)
        );
        assert_eq!(
            staff(Role::Secretary, 1).may_take_in(here),
            Err(Refusal::Hidden)
        );
        let member = Principal {
            roles: vec![Role::Member],
            community_id: Some(here),
            ..Principal::default()
        };
        assert!(matches!(
            member.keeps_time_bank(here),
            Err(Refusal::Forbidden(_))
        ));
        assert_eq!(member.may_report_in(), Ok(here));
        let resident = Principal {
            roles: vec![Role::Resident],
            ..member.clone()
        };
        assert!(resident.may_report_in().is_err());
    }

    #[test]
    fn the_staff_who_answer_for_a_community_read_its_sheets_and_bank() {
        for who in [
            staff(Role::Secretary, 1),
            staff(Role::Community, 1),
            staff(Role::Street, 1),
        ] {
            assert!(who.reads_feedback(&community(1)).is_ok(), "{:?}", who.roles);
            assert!(
                who.reads_time_bank(&community(1)).is_ok(),
                "{:?}",
                who.roles
            );
        }
        assert_eq!(
            staff(Role::Secretary, 2).reads_time_bank(&community(1)),
            Err(Refusal::Hidden)
        );
        let admin = Principal {
            roles: vec![Role::Admin],
            ..Principal::default()
        };
        assert!(matches!(
            admin.reads_feedback(&community(1)),
            Err(Refusal::Forbidden(_))
        ));
    }
}
