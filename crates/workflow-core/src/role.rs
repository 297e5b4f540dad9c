//! Who acts: the roles of the organisation, and the relations to a ticket a workflow may admit.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A role a person holds in the organisation (DESIGN.md, "Who uses it").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    Secretary,
    Member,
    Community,
    Street,
    Admin,
    System,
    /// Read-only oversight (督单): residents' representatives who see overdue requests,
    /// without personal data, and take no action.
    Supervisor,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Resident,
        Role::Secretary,
        Role::Member,
        Role::Community,
        Role::Street,
        Role::Admin,
        Role::System,
        Role::Supervisor,
    ];

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::Secretary => "secretary",
            Role::Member => "member",
            Role::Community => "community",
            Role::Street => "street",
            Role::Admin => "admin",
            Role::System => "system",
            Role::Supervisor => "supervisor",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// Roles that staff the levels of the escalation ladder, lowest first.
    /// The roles a person may hold (all but the system's), as written in files and bodies.
    pub const PEOPLES: [&'static str; 7] = [
        "resident",
        "secretary",
        "member",
        "community",
        "street",
        "admin",
        "supervisor",
    ];

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Secretary | Role::Community | Role::Street)
    }

    /// The staff level above this one (branch → community → street), if any.
    pub fn above(self) -> Option<Role> {
        match self {
            Role::Secretary => Some(Role::Community),
            Role::Community => Some(Role::Street),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small set of roles (a person may be, say, both `member` and `secretary`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct RoleSet(u8);

impl RoleSet {
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

impl FromIterator<Role> for RoleSet {
    fn from_iter<I: IntoIterator<Item = Role>>(iter: I) -> Self {
        let mut set = RoleSet::default();
        for r in iter {
            set.insert(r);
        }
        set
    }
}

impl fmt::Debug for RoleSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// Whom a transition admits: an organisational role, or a relation to this ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Party {
    Role(Role),
    /// The resident who submitted the ticket.
    Requester,
    /// The person the ticket is assigned to, or any member of the team whose pool holds it.
    Assignee,
    /// A co-handler (协办) of the ticket whose part is still open (`[co_handling]`).
    CoHandler,
    /// The city hotline platform a ticket's work order came from: told (its callbacks),
    /// never acting (its answers are the system's actions).
    Platform,
}

impl Party {
    pub fn parse(s: &str) -> Option<Party> {
        match s {
            "requester" => Some(Party::Requester),
            "assignee" => Some(Party::Assignee),
            "co_handler" => Some(Party::CoHandler),
            "platform" => Some(Party::Platform),
            other => Role::parse(other).map(Party::Role),
        }
    }
}

impl fmt::Display for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Party::Role(r) => r.fmt(f),
            Party::Requester => f.write_str("requester"),
            Party::Assignee => f.write_str("assignee"),
            Party::CoHandler => f.write_str("co_handler"),
            Party::Platform => f.write_str("platform"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peoples_roles_are_every_role_but_the_systems() {
        let all: Vec<_> = Role::ALL
            .iter()
            .filter(|r| **r != Role::System)
            .map(|r| r.as_str())
            .collect();
        assert_eq!(all, Role::PEOPLES);
    }
}
