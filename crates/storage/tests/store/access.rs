//! The access policy and its SQL are one rule: for random requests and random people, what
//! the store reads for a person's scope (a list paged to its end, and each request read on
//! its own) is exactly what `Scope::sees` says they see, on both backends.
//!
//! Requests are made by the core (a real submission), then given random holders, pools,
//! proxies, co-handlers and walls, so that every set of every scope has members and
//! non-members; people are given random roles, places and teams, so that every kind of
//! scope comes up.

use std::collections::{BTreeSet, HashMap};

use crate::support::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use storage::{NewPerson, SqlStore};
use uuid::Uuid;
use workflow_core::access::{Places, Principal, Scope};
use workflow_core::store::{Page, Store, TicketFilter};
use workflow_core::ticket::CoHandler;
use workflow_core::{Actor, Assignee, Event, EventKind, Role, Submission, Ticket, Urgency};

/// Two streets; three communities (two under the first street, one under the second), two
/// branches each; people and two teams in the first community.
struct Org {
    communities: Vec<(Uuid, Uuid)>,
    branches: Vec<Vec<Uuid>>,
    people: Vec<Uuid>,
    teams: Vec<Uuid>,
    streets: Vec<Uuid>,
}

impl Places for Org {
    fn street_of(&self, community: Uuid) -> Option<Uuid> {
        self.communities
            .iter()
            .find(|(c, _)| *c == community)
            .map(|(_, s)| *s)
    }
}

impl Org {
    async fn create(s: &SqlStore) -> Org {
        let mut streets = Vec::new();
        for name in ["下摄司街道", "湘湖街道"] {
            streets.push(s.create_org_unit("street", name, None).await.unwrap());
        }
        let mut communities = Vec::new();
        let mut branches = Vec::new();
        for (name, street) in [("运河社区", 0), ("荷花塘社区", 0), ("湖畔社区", 1)] {
            let c = s
                .create_org_unit("community", name, Some(streets[street]))
                .await
                .unwrap();
            let mut own = Vec::new();
            for b in ["一支部", "二支部"] {
                let compound = s.create_org_unit("compound", b, Some(c)).await.unwrap();
                own.push(s.create_branch(c, b, &[compound]).await.unwrap());
            }
            communities.push((c, streets[street]));
            branches.push(own);
        }
        let mut people = Vec::new();
        for n in 0..6 {
            let p = NewPerson {
                name: format!("居民{n}"),
                roles: vec![Role::Resident, Role::Member],
                community_id: Some(communities[0].0),
                ..NewPerson::default()
            };
            people.push(s.create_person(&p).await.unwrap());
        }
        let mut teams = Vec::new();
        for name in ["红马甲", "和事佬"] {
            teams.push(
                s.create_team(communities[0].0, name, None, &people[..3])
                    .await
                    .unwrap(),
            );
        }
        Org {
            communities,
            branches,
            people,
            teams,
            streets,
        }
    }
}

/// Indices into the org for one request.
#[derive(Clone, Debug)]
struct Shape {
    requester: usize,
    community: usize,
    branch: usize,
    holder: Option<(bool, usize)>,
    pool: Option<usize>,
    proxy: Option<usize>,
    on_wall: bool,
    co_handlers: Vec<usize>,
    terminal: bool,
}

fn shapes() -> impl Strategy<Value = Shape> {
    (
        (0..6usize, 0..3usize, 0..2usize),
        proptest::option::of((any::<bool>(), 0..6usize)),
        proptest::option::of(0..2usize),
        proptest::option::of(0..6usize),
        (
            any::<bool>(),
            proptest::collection::vec(0..6usize, 0..3),
            any::<bool>(),
        ),
    )
        .prop_map(
            |((requester, community, branch), holder, pool, proxy, (on_wall, co, terminal))| {
                Shape {
                    requester,
                    community,
                    branch,
                    holder,
                    pool,
                    proxy,
                    on_wall,
                    co_handlers: co,
                    terminal,
                }
            },
        )
}

/// Someone with random roles and places (some of them not the org's), and random teams.
#[derive(Clone, Debug)]
struct Who {
    person: Option<usize>,
    roles: Vec<Role>,
    community: Option<usize>,
    /// (community, branch of it)
    branch: Option<(usize, usize)>,
    street: Option<usize>,
    teams: Vec<usize>,
}

fn people() -> impl Strategy<Value = Who> {
    let role = prop_oneof![
        Just(Role::Resident),
        Just(Role::Member),
        Just(Role::Secretary),
        Just(Role::Community),
        Just(Role::Street),
    ];
    (
        proptest::option::of(0..6usize),
        proptest::collection::vec(role, 1..3),
        proptest::option::of(0..3usize),
        proptest::option::of((0..3usize, 0..2usize)),
        proptest::option::of(0..2usize),
        proptest::collection::vec(0..2usize, 0..3),
    )
        .prop_map(|(person, roles, community, branch, street, teams)| Who {
            person,
            roles,
            community,
            branch,
            street,
            teams,
        })
}

/// A submission by the core, then the shape's holders, pools, proxy, wall and co-handlers.
fn request(org: &Org, shape: &Shape) -> workflow_core::Decision {
    let wf = catalog().latest("community-service").unwrap();
    let (community, _) = org.communities[shape.community];
    let requester = org.people[shape.requester];
    let sub = Submission {
        id: Uuid::now_v7(),
        category: "repair".into(),
        urgency: Urgency::Normal,
        description: "楼道灯坏了".into(),
        channel: "console".into(),
        requester,
        community_id: community,
        branch_id: org.branches[shape.community][shape.branch],
        building_id: None,
        hotline: None,
    };
    let resident = Actor::new(requester, [Role::Resident]);
    let mut d = workflow_core::decide_submission(wf, &resident, &sub, now()).unwrap();
    let t = &mut d.ticket;
    t.assignee = shape.holder.map(|(team, i)| match team {
        true => Assignee::Team(org.teams[i % 2]),
        false => Assignee::Person(org.people[i]),
    });
    t.pool_team = shape.pool.map(|i| org.teams[i]);
    t.proxy = shape.proxy.map(|i| org.people[i]);
    t.on_wall = shape.on_wall;
    t.terminal = shape.terminal;
    let first = d.events[0].clone();
    for i in &shape.co_handlers {
        let person = org.people[*i];
        if t.co_handlers.iter().any(|c| c.person == person) {
            continue;
        }
        let seq = d.events.len() as u64 + 1;
        t.co_handlers.push(CoHandler {
            person,
            added_at: first.at,
            added_seq: seq,
            due: first.at,
            breached: false,
            reported_at: None,
            note: None,
            closed: false,
        });
        d.events.push(Event {
            seq,
            kind: EventKind::CoHandlerAdded {
                person,
                due: first.at,
            },
            ..first.clone()
        });
    }
    d.ticket.version = d.events.last().unwrap().seq;
    d
}

fn principal(org: &Org, who: &Who) -> Principal {
    Principal {
        id: who.person.map_or_else(Uuid::now_v7, |i| org.people[i]),
        name: "某人".into(),
        roles: who.roles.clone(),
        community_id: who.community.map(|i| org.communities[i].0),
        street_id: who.street.map(|i| org.streets[i]),
        branch_id: who.branch.map(|(c, b)| org.branches[c][b]),
        home_building_id: None,
        teams: who.teams.iter().map(|i| org.teams[*i]).collect(),
    }
}

/// Every request the scope lists, paged to the end.
async fn listed(s: &SqlStore, scope: &Scope) -> BTreeSet<Uuid> {
    let mut all = BTreeSet::new();
    let mut after = None;
    loop {
        let page = Page { after, limit: 7 };
        let got = s.list(scope, &TicketFilter::default(), page).await.unwrap();
        all.extend(got.iter().map(|t| t.id));
        if got.len() < 7 {
            return all;
        }
        after = got.last().map(|t| t.id);
    }
}

async fn a_scope_reads_exactly_what_the_policy_says_it_sees(s: SqlStore) {
    let org = Org::create(&s).await;
    let mut runner = TestRunner::deterministic();
    let mut tickets: Vec<Ticket> = Vec::new();
    for _ in 0..60 {
        let shape = shapes().new_tree(&mut runner).unwrap().current();
        let d = request(&org, &shape);
        s.apply(&d, None).await.unwrap();
        tickets.push(d.ticket);
    }
    let mut scopes = vec![Scope::Everything];
    for _ in 0..60 {
        let who = people().new_tree(&mut runner).unwrap().current();
        scopes.push(principal(&org, &who).scope());
    }
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for scope in &scopes {
        let expected: BTreeSet<Uuid> = tickets
            .iter()
            .filter(|t| scope.sees(t, &org))
            .map(|t| t.id)
            .collect();
        assert_eq!(listed(&s, scope).await, expected, "the list of {scope:?}");
        for t in &tickets {
            let read = s.ticket(t.id, scope).await.unwrap().is_some();
            assert_eq!(read, expected.contains(&t.id), "{scope:?} reading {t:?}");
        }
        let kind = match scope {
            Scope::Everything => "everything",
            Scope::Requester(_) => "requester",
            Scope::Assignee { .. } => "assignee",
            Scope::Branch(_) => "branch",
            Scope::Community(_) => "community",
            Scope::Street(_) => "street",
        };
        *kinds.entry(kind).or_default() += usize::from(!expected.is_empty());
    }
    // Each kind of scope came up seeing something (and so not seeing the rest).
    for kind in ["requester", "assignee", "branch", "community", "street"] {
        assert!(
            kinds.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {kinds:?}"
        );
    }
}

backends! {
    a_scope_reads_exactly_what_the_policy_says_it_sees,
}
