//! Who sees what, and who may do what beyond a workflow's own transitions: the one policy.
//!
//! A workflow file says which roles take which action on a ticket. Everything else about
//! people and requests is decided here: the part of the requests a person sees (their
//! [`Scope`], a union of [`Set`]s), whether they read a request's internal records, whether
//! they read a resident's number in full, whom they may enter a request for and where, and
//! which messages are theirs. The storage crate translates a scope into SQL, one [`Set`] at
//! a time (a property test holds that translation equal to [`Scope::sees`] on both
//! backends); the HTTP adapter maps a [`Refusal`] to a status. Neither decides.
//!
//! A newcomer's question "where is the rule that a resident cannot read a neighbour's
//! request?" is answered by [`Principal::scope`] and [`Set::Requested`].

use uuid::Uuid;

mod hotline;
mod volunteers;

use crate::command::{Actor, Recipient};
use crate::role::Role;
use crate::store::PersonRef;
use crate::ticket::Ticket;

/// Someone signed in, as the directory knows them.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Principal {
    pub id: Uuid,
    pub name: String,
    pub roles: Vec<Role>,
    pub community_id: Option<Uuid>,
    pub street_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub home_building_id: Option<Uuid>,
    pub teams: Vec<Uuid>,
}

/// Whose tickets a caller may see. Visibility is applied in the query, never after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The system (timer worker) and administrators' tooling.
    Everything,
    /// A resident: their own requests.
    Requester(Uuid),
    /// A volunteer: their own requests (they are residents too), those they entered for a
    /// resident (代办), what is assigned to them or they co-handle, and what sits in one of
    /// their teams' pools. And, in `community`, whatever stands on the wall (a `wall` state).
    Assignee {
        person: Uuid,
        teams: Vec<Uuid>,
        community: Option<Uuid>,
    },
    /// A branch secretary: the branch's area.
    Branch(Uuid),
    /// A community office: the community.
    Community(Uuid),
    /// A street office: every community under it.
    Street(Uuid),
}

/// A set of requests a scope is made of: each one condition on a request, which the store
/// translates into one condition on its row (and serves from one index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Set {
    Everything,
    /// What someone asked for themselves.
    Requested(Uuid),
    /// What someone holds.
    Held(Uuid),
    /// What a team's pool holds or held, for the teams named (a member's teams).
    Pools(Vec<Uuid>),
    /// What someone co-handles (协办), or did.
    Shared(Uuid),
    /// What someone entered for a resident (代办).
    Entered(Uuid),
    /// A community's micro-wish wall: what stands in a `wall` state.
    Wall(Uuid),
    Branch(Uuid),
    Community(Uuid),
    /// Every community under a street.
    Street(Uuid),
}

/// What the organisation's tree says that a request does not: which street a community is
/// under.
pub trait Places {
    fn street_of(&self, community: Uuid) -> Option<Uuid>;
}

/// Knows no place: a street's sets contain nothing. What [`Scope::sees`] answers with it is
/// true for certain, or false for want of the tree.
pub struct NoPlaces;

impl Places for NoPlaces {
    fn street_of(&self, _: Uuid) -> Option<Uuid> {
        None
    }
}

impl Scope {
    /// The sets this scope is the union of.
    pub fn sets(&self) -> Vec<Set> {
        match self {
            Scope::Everything => vec![Set::Everything],
            Scope::Requester(p) => vec![Set::Requested(*p)],
            Scope::Assignee {
                person,
                teams,
                community,
            } => {
                let mut sets = vec![Set::Requested(*person), Set::Held(*person)];
                if !teams.is_empty() {
                    sets.push(Set::Pools(teams.clone()));
                }
                sets.extend([Set::Shared(*person), Set::Entered(*person)]);
                sets.extend(community.map(Set::Wall));
                sets
            }
            Scope::Branch(b) => vec![Set::Branch(*b)],
            Scope::Community(c) => vec![Set::Community(*c)],
            Scope::Street(s) => vec![Set::Street(*s)],
        }
    }

    /// Whether this scope sees the request.
    pub fn sees(&self, t: &Ticket, places: &dyn Places) -> bool {
        self.sets().iter().any(|s| s.contains(t, places))
    }
}

impl Set {
    pub fn contains(&self, t: &Ticket, places: &dyn Places) -> bool {
        match self {
            Set::Everything => true,
            Set::Requested(p) => t.requester == *p,
            Set::Held(p) => t.assignee.and_then(|a| a.person()) == Some(*p),
            Set::Pools(teams) => t.pool_team.is_some_and(|team| teams.contains(&team)),
            Set::Shared(p) => t.co_handlers.iter().any(|c| c.person == *p),
            Set::Entered(p) => t.proxy == Some(*p),
            Set::Wall(c) => t.on_wall && t.community_id == *c,
            Set::Branch(b) => t.branch_id == *b,
            Set::Community(c) => t.community_id == *c,
            Set::Street(s) => places.street_of(t.community_id) == Some(*s),
        }
    }
}

/// An organisational unit figures are kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Unit {
    Branch(Uuid),
    Community(Uuid),
    Street(Uuid),
}

/// A unit with where it sits in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitInfo {
    pub unit: Unit,
    pub community: Option<Uuid>,
    pub street: Option<Uuid>,
}

/// A photo's stage in a request's life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhotoStage {
    /// With the request, by the resident who asked.
    Request,
    /// Before and after the work, by whoever does it.
    Before,
    After,
}

impl PhotoStage {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoStage::Request => "request",
            PhotoStage::Before => "before",
            PhotoStage::After => "after",
        }
    }
}

/// How much of a resident's contact a reader of their request sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Contact {
    /// Their own: in full.
    Own,
    /// In full where the request is read on its own (never in a list), each read recorded:
    /// the branch's staff, and the volunteer holding the open request.
    Recorded,
    /// Masked (`138****1234`).
    Masked,
}

/// How a request came in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Door {
    /// The API and the console: any channel but `open311` (default `api`).
    Api,
    /// The Open311 endpoint: channel `open311`, a resident for themselves.
    Open311,
}

/// A request as a caller asks to enter it, before the policy says whether they may.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// The resident it is for (代办); `None` or the caller's own id: the caller.
    pub on_behalf_of: Option<Uuid>,
    /// Where help is needed, if said.
    pub building_id: Option<Uuid>,
    /// How it reached the community, if said.
    pub channel: Option<String>,
}

/// A request as the policy admits it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intake {
    /// The resident it is for, when entered for someone else.
    pub on_behalf_of: Option<Uuid>,
    /// Where help is needed; `None` for a request entered for a resident: their home (the
    /// Engine looks it up).
    pub building_id: Option<Uuid>,
    pub channel: String,
}

/// Why the policy says no.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The caller's roles do not allow it.
    #[error("{0}")]
    Forbidden(&'static str),
    /// The request lacks what it needs.
    #[error("{field} is required: {reason}")]
    Missing {
        field: &'static str,
        reason: &'static str,
    },
    /// The request names something it may not.
    #[error("{field} {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
    /// Not for this person to know of (HTTP 404, as for what does not exist).
    #[error("not found")]
    Hidden,
}

/// Roles that may enter a request for a resident (代办): a volunteer or building head, the
/// branch, the community office; each only for a resident of their own community.
pub const PROXY_ROLES: [Role; 3] = [Role::Member, Role::Secretary, Role::Community];

/// What anyone, signed in or not, is shown of requests (the public board, Open311's
/// anonymous reads): a request's category, state, agency and dates, never who asked, where
/// (a building names a household in a small compound) or in their words (residents write
/// names and addresses into descriptions); and nothing at all of a sensitive category.
pub struct Public<'a> {
    pub catalog: &'a crate::Catalog,
}

impl Public<'_> {
    /// Whether the request is shown at all.
    pub fn shows(&self, ticket: &Ticket) -> bool {
        !self
            .catalog
            .category(&ticket.category)
            .is_some_and(|c| c.sensitive)
    }

    /// Residents have no way yet to agree to publish their words: descriptions stay private.
    pub fn shows_description(&self) -> bool {
        false
    }

    pub fn shows_place(&self) -> bool {
        false
    }
}

/// The roles a community office or a branch secretary may give a person they register:
/// residents (often entered for them from a phone call) and volunteers. Staff roles come
/// from an administrator.
pub const REGISTRABLE: [Role; 2] = [Role::Resident, Role::Member];

/// A desk of the service beyond the tickets in one's scope, each open to some roles; the
/// routes that serve it ask [`Principal::may`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Desk {
    /// The directory, tokens, the contact-read audit and the outbox: admins.
    Admin,
    /// Dispatch candidates, likely duplicates and ledger corrections: branch staff and above.
    Dispatch,
    /// A unit's figures: branch staff and above, and admins.
    Figures,
    /// Looking up the resident a request is entered for (代办): the proxy roles.
    Intake,
}

/// The role in which `actor` enters a request for `requester`: a resident for themselves;
/// for someone else, the first proxy role they hold. `None`: they may not.
pub fn entering_role(actor: &Actor, requester: Uuid) -> Option<Role> {
    if actor.id == requester {
        actor
            .roles
            .contains(Role::Resident)
            .then_some(Role::Resident)
    } else {
        PROXY_ROLES.into_iter().find(|r| actor.roles.contains(*r))
    }
}

impl Principal {
    /// Someone known only by who they are and their roles (no place in the organisation):
    /// tools and tests that act as a given actor.
    pub fn acting(actor: &Actor) -> Principal {
        Principal {
            id: actor.id,
            roles: actor.roles.iter().collect(),
            teams: actor.teams.clone(),
            ..Principal::default()
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Branch staff and above: secretary, community office, street office.
    pub fn is_staff(&self) -> bool {
        self.roles.iter().any(|r| r.is_staff())
    }

    /// Whether this person may use `desk`.
    pub fn may(&self, desk: Desk) -> Result<(), Refusal> {
        let open = match desk {
            Desk::Admin => self.has(Role::Admin),
            Desk::Dispatch => self.is_staff(),
            Desk::Figures => self.is_staff() || self.has(Role::Admin),
            Desk::Intake => PROXY_ROLES.iter().any(|r| self.has(*r)),
        };
        if open {
            Ok(())
        } else {
            Err(Refusal::Forbidden("your role may not use this"))
        }
    }

    /// The community whose people this person looks after (registers, issues sign-in codes
    /// to, signs out, disables): community office staff and branch secretaries, their own.
    pub fn looks_after(&self) -> Option<Uuid> {
        (self.has(Role::Community) || self.has(Role::Secretary))
            .then_some(self.community_id)
            .flatten()
    }

    /// Whether this person may register someone with `roles`; the community the new
    /// person belongs to (the registering office's own: nobody registers anyone outside
    /// their area).
    pub fn may_register(&self, roles: &[Role]) -> Result<Uuid, Refusal> {
        let community = self.looks_after().ok_or(Refusal::Forbidden(
            "only a community office or a branch secretary registers people",
        ))?;
        if roles.is_empty() {
            return Err(Refusal::Missing {
                field: "roles",
                reason: "a person needs a role",
            });
        }
        if !roles.iter().all(|r| REGISTRABLE.contains(r)) {
            return Err(Refusal::Invalid {
                field: "roles",
                reason: "may only be resident or member: staff roles come from an administrator",
            });
        }
        Ok(community)
    }

    /// Whether this person may act on the account of someone of `community` (a sign-in
    /// code, ending their sessions, disabling them): administrators anyone's, an office its
    /// own community's; anyone else is told there is nobody (404).
    pub fn may_look_after(&self, community: Option<Uuid>) -> Result<(), Refusal> {
        if self.has(Role::Admin) || (community.is_some() && self.looks_after() == community) {
            Ok(())
        } else {
            Err(Refusal::Hidden)
        }
    }

    /// Whose access records this person reads: an administrator everyone's (`None`), a
    /// street office its street's communities'; nobody else any.
    pub fn audit_view(&self) -> Result<Option<Uuid>, Refusal> {
        match (self.has(Role::Admin), self.street_id) {
            (true, _) => Ok(None),
            (false, Some(street)) if self.has(Role::Street) => Ok(Some(street)),
            _ => Err(Refusal::Forbidden(
                "the access records are an administrator's or a street office's",
            )),
        }
    }

    /// This person as the workflows' decisions see them.
    pub fn actor(&self) -> Actor {
        Actor::new(self.id, self.roles.iter().copied()).with_teams(self.teams.clone())
    }

    /// The widest view this person's roles give them.
    pub fn scope(&self) -> Scope {
        match (self.street_id, self.community_id, self.branch_id) {
            (Some(street), _, _) if self.has(Role::Street) => Scope::Street(street),
            (_, Some(c), _) if self.has(Role::Community) => Scope::Community(c),
            (_, _, Some(b)) if self.has(Role::Secretary) => Scope::Branch(b),
            _ if self.has(Role::Member) => Scope::Assignee {
                person: self.id,
                teams: self.teams.clone(),
                community: self.community_id,
            },
            _ => Scope::Requester(self.id),
        }
    }

    /// Whether the internal records (internal notes) of a request by `requester` are for
    /// this person: those who handle requests (volunteers, staff, administrators) read them;
    /// the resident who asked never does, whatever other role they hold.
    pub fn sees_internal(&self, requester: Uuid) -> bool {
        self.id != requester && (self.is_staff() || self.has(Role::Member) || self.has(Role::Admin))
    }

    /// How much of the contact of the resident who asked for `t` this person sees.
    pub fn contact(&self, t: &Ticket) -> Contact {
        let holds = !t.terminal && t.assignee.and_then(|a| a.person()) == Some(self.id);
        if self.id == t.requester {
            Contact::Own
        } else if self.is_staff() || holds {
            Contact::Recorded
        } else {
            Contact::Masked
        }
    }

    /// Whether this person reads a sensitive request's own words and its asker's number
    /// (a category marked `sensitive`): the asker, the volunteer holding it, its branch's
    /// secretary. Anyone else who sees the request sees that it is there, not what it says;
    /// and the words are read only on the request's own page, each read but the asker's
    /// recorded (as a contact read).
    pub fn reads_sensitive(&self, t: &Ticket) -> bool {
        self.id == t.requester
            || t.assignee.and_then(|a| a.person()) == Some(self.id)
            || (self.has(Role::Secretary) && self.branch_id == Some(t.branch_id))
    }

    /// Whether a message to `recipient` is for this person: to them, to a team of theirs,
    /// or to staff of a level they hold (what they may see of its request is their scope's).
    pub fn is_told(&self, recipient: &Recipient) -> bool {
        match recipient {
            Recipient::Person(id) => *id == self.id,
            Recipient::Team(t) => self.teams.contains(t),
            Recipient::Staff(role) => self.has(*role),
            Recipient::Platform => false,
        }
    }

    /// Whether this person may enter what `asked` asks, through `door`, and as what: a
    /// resident for themselves (where they live unless they say where); a volunteer, a
    /// secretary or a community office for a resident ([`PROXY_ROLES`];
    /// [`Principal::may_enter_for`] checks the resident).
    pub fn intake(&self, asked: &Asked, door: Door) -> Result<Intake, Refusal> {
        let for_someone = asked.on_behalf_of.filter(|r| *r != self.id);
        let may = match (door, for_someone) {
            (Door::Open311, Some(_)) => false,
            (_, requester) => entering_role(&self.actor(), requester.unwrap_or(self.id)).is_some(),
        };
        if !may {
            return Err(Refusal::Forbidden(match door {
                Door::Open311 => "only residents may submit requests",
                Door::Api => "your role may not use this",
            }));
        }
        let building_id =
            match for_someone {
                None => Some(asked.building_id.or(self.home_building_id).ok_or(
                    Refusal::Missing {
                        field: "building_id",
                        reason: "you have no home building on record",
                    },
                )?),
                Some(_) => asked.building_id,
            };
        let channel = match (door, asked.channel.as_deref()) {
            (Door::Open311, _) => "open311",
            (Door::Api, Some("open311")) => {
                return Err(Refusal::Invalid {
                    field: "channel",
                    reason: "open311 is for requests through /open311",
                });
            }
            (Door::Api, channel) => channel.unwrap_or("api"),
        };
        Ok(Intake {
            on_behalf_of: for_someone,
            building_id,
            channel: channel.to_owned(),
        })
    }

    /// Whether a request this person enters may be placed at a building of `community`:
    /// their own community's buildings only, for themselves or for a resident they enter it
    /// for (a neighbour's community's queue is not theirs to fill).
    pub fn may_place_in(&self, community: Uuid) -> Result<(), Refusal> {
        match self.community_id {
            Some(own) if own != community => Err(Refusal::Invalid {
                field: "building_id",
                reason: "is not a building of your community",
            }),
            _ => Ok(()),
        }
    }

    /// The unit whose figures this person reads when they name none: staff, the one their
    /// scope is; anyone else, their community.
    pub fn own_unit(&self) -> Option<Uuid> {
        match self.scope() {
            Scope::Branch(b) => Some(b),
            Scope::Community(c) => Some(c),
            Scope::Street(s) => Some(s),
            _ => self.community_id,
        }
    }

    /// Whether this person's view covers a unit's figures: staff, the units their scope
    /// holds (a branch, anything in their community, anything under their street).
    pub fn covers(&self, unit: &UnitInfo) -> bool {
        match self.scope() {
            Scope::Everything => true,
            Scope::Branch(b) => unit.unit == Unit::Branch(b),
            Scope::Community(c) => unit.community == Some(c),
            Scope::Street(s) => unit.street == Some(s),
            Scope::Requester(_) | Scope::Assignee { .. } => false,
        }
    }

    /// Whether this person reads a unit's leaderboard (光荣榜): the units they cover, and
    /// (residents and volunteers) their own community's.
    pub fn reads_board(&self, unit: &UnitInfo) -> bool {
        let own_community =
            !self.is_staff() && self.community_id.is_some() && unit.community == self.community_id;
        self.covers(unit) || own_community
    }

    /// Whether this person reads a community's micro-wish wall: its own people, and the
    /// staff who cover it.
    pub fn reads_wall(&self, community: &UnitInfo) -> bool {
        self.community_id == community.community || self.covers(community)
    }

    /// The requests whose lateness this person oversees (督单), without personal data:
    /// staff, their scope's; a supervisor, their community's.
    pub fn oversight(&self) -> Option<Scope> {
        match self.community_id {
            _ if self.is_staff() => Some(self.scope()),
            Some(c) if self.has(Role::Supervisor) => Some(Scope::Community(c)),
            _ => None,
        }
    }

    /// Whether this person adds a photo of `stage` to `t`: the resident who asked, with the
    /// request; the volunteer holding it or branch staff, before and after the work.
    pub fn may_add_photo(&self, t: &Ticket, stage: PhotoStage) -> Result<(), Refusal> {
        let holds = t.assignee.and_then(|a| a.person()) == Some(self.id);
        match stage {
            PhotoStage::Request if t.requester == self.id => Ok(()),
            PhotoStage::Request => Err(Refusal::Forbidden(
                "a request photo is added by the resident who asked",
            )),
            PhotoStage::Before | PhotoStage::After if holds || self.is_staff() => Ok(()),
            PhotoStage::Before => Err(Refusal::Forbidden(
                "a before photo is added by the volunteer holding the request or branch staff",
            )),
            PhotoStage::After => Err(Refusal::Forbidden(
                "an after photo is added by the volunteer holding the request or branch staff",
            )),
        }
    }

    /// Whether this person may enter a request for `resident`: an active resident of their
    /// own community.
    pub fn may_enter_for(&self, resident: &PersonRef) -> bool {
        resident.active
            && resident.roles.contains(&Role::Resident)
            && resident.community_id.is_some()
            && resident.community_id == self.community_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Someone with these roles, in a community, street and branch of their own.
    pub(super) fn someone(roles: &[Role]) -> Principal {
        Principal {
            id: Uuid::now_v7(),
            roles: roles.to_vec(),
            community_id: Some(Uuid::now_v7()),
            street_id: Some(Uuid::now_v7()),
            branch_id: Some(Uuid::now_v7()),
            home_building_id: Some(Uuid::now_v7()),
            ..Principal::default()
        }
    }

    #[test]
    fn each_desk_is_open_to_its_roles_only() {
        use Role::*;
        let open = |desk: Desk| -> Vec<Role> {
            [
                Resident, Member, Secretary, Community, Street, Supervisor, Admin,
            ]
            .into_iter()
            .filter(|r| someone(&[*r]).may(desk).is_ok())
            .collect()
        };
        assert_eq!(open(Desk::Admin), [Admin]);
        assert_eq!(open(Desk::Dispatch), [Secretary, Community, Street]);
        assert_eq!(open(Desk::Figures), [Secretary, Community, Street, Admin]);
        assert_eq!(open(Desk::Intake), [Member, Secretary, Community]);
    }

    #[test]
    fn offices_register_and_look_after_their_own_community_only() {
        use Role::*;
        let all = [
            Resident, Member, Secretary, Community, Street, Supervisor, Admin,
        ];
        let registering: Vec<Role> = all
            .into_iter()
            .filter(|r| someone(&[*r]).may_register(&[Resident]).is_ok())
            .collect();
        assert_eq!(registering, [Secretary, Community]);
        let office = someone(&[Community]);
        assert_eq!(
            office.may_register(&[Resident, Member]),
            office.community_id.ok_or(Refusal::Hidden)
        );
        assert!(matches!(
            office.may_register(&[Secretary]),
            Err(Refusal::Invalid { field: "roles", .. })
        ));
        assert!(office.may_register(&[]).is_err());

        assert_eq!(office.may_look_after(office.community_id), Ok(()));
        assert_eq!(
            office.may_look_after(Some(Uuid::now_v7())),
            Err(Refusal::Hidden)
        );
        assert_eq!(office.may_look_after(None), Err(Refusal::Hidden));
        let neighbour = someone(&[Resident]);
        assert_eq!(
            neighbour.may_look_after(neighbour.community_id),
            Err(Refusal::Hidden)
        );
        assert_eq!(someone(&[Admin]).may_look_after(None), Ok(()));
    }

    #[test]
    fn the_widest_role_with_a_place_gives_the_scope() {
        let p = someone(&[Role::Member, Role::Secretary, Role::Community]);
        assert_eq!(p.scope(), Scope::Community(p.community_id.unwrap()));
        let p = Principal {
            community_id: None,
            ..p
        };
        assert_eq!(p.scope(), Scope::Branch(p.branch_id.unwrap()));
        let resident = someone(&[Role::Resident]);
        assert_eq!(resident.scope(), Scope::Requester(resident.id));
    }

    #[test]
    fn a_resident_enters_for_themselves_where_they_live_and_a_volunteer_for_a_resident() {
        let resident = someone(&[Role::Resident]);
        let own = resident.intake(&Asked::default(), Door::Api).unwrap();
        assert_eq!(own.building_id, resident.home_building_id);
        assert_eq!((own.on_behalf_of, own.channel.as_str()), (None, "api"));
        let for_neighbour = Asked {
            on_behalf_of: Some(Uuid::now_v7()),
            ..Asked::default()
        };
        assert!(matches!(
            resident.intake(&for_neighbour, Door::Api),
            Err(Refusal::Forbidden(_))
        ));
        let member = someone(&[Role::Member]);
        assert!(matches!(
            member.intake(&Asked::default(), Door::Api),
            Err(Refusal::Forbidden(_))
        ));
        let entered = member.intake(&for_neighbour, Door::Api).unwrap();
        assert_eq!(entered.on_behalf_of, for_neighbour.on_behalf_of);
        assert_eq!(
            entered.building_id, None,
            "the resident's home, found later"
        );
        assert!(matches!(
            member.intake(&for_neighbour, Door::Open311),
            Err(Refusal::Forbidden(_))
        ));
        let open311 = Asked {
            channel: Some("open311".into()),
            ..Asked::default()
        };
        assert!(matches!(
            resident.intake(&open311, Door::Api),
            Err(Refusal::Invalid {
                field: "channel",
                ..
            })
        ));
        assert_eq!(
            resident.intake(&open311, Door::Open311).unwrap().channel,
            "open311"
        );
        let homeless = Principal {
            home_building_id: None,
            ..resident
        };
        assert!(matches!(
            homeless.intake(&Asked::default(), Door::Api),
            Err(Refusal::Missing {
                field: "building_id",
                ..
            })
        ));
    }

    #[test]
    fn the_asker_never_reads_internal_records_and_handlers_do() {
        let member = someone(&[Role::Member, Role::Resident]);
        assert!(!member.sees_internal(member.id));
        assert!(member.sees_internal(Uuid::now_v7()));
        assert!(!someone(&[Role::Resident]).sees_internal(Uuid::now_v7()));
    }
}
