//! The core's access policy as SQL: a [`Scope`] is a union of [`Set`]s, and each set is one
//! condition on a `tickets` row ([`push_set`], the one translation; the property test in
//! `tests/store/access.rs` holds it equal to [`Scope::sees`] on both backends). A list whose scope
//! is a union of several sets reads the newest page of each set and keeps the newest of those
//! ([`push_list_conditions`]), so that each set's own index serves it.

use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;
use workflow_core::access::{Scope, Set};
use workflow_core::store::{Page, TicketFilter};

use crate::dialect::Dialect;
use crate::us;

/// Pushes the condition of one set.
pub(crate) fn push_set<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, set: &Set)
where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    match set {
        Set::Everything => {
            q.push("1 = 1");
        }
        Set::Requested(p) => {
            q.push("requester_id = ").push_bind(*p);
        }
        Set::Held(p) => {
            q.push("assignee_person = ").push_bind(*p);
        }
        Set::Pools(teams) if teams.is_empty() => {
            q.push("1 = 0");
        }
        Set::Pools(teams) => {
            q.push("assignee_team IN (");
            let mut list = q.separated(", ");
            for team in teams {
                list.push_bind(*team);
            }
            q.push(")");
        }
        Set::Shared(p) => {
            q.push("id IN (SELECT ticket_id FROM co_handlers WHERE person_id = ")
                .push_bind(*p)
                .push(")");
        }
        Set::Entered(p) => {
            q.push("proxy_id = ").push_bind(*p);
        }
        Set::Wall(c) => {
            q.push("on_wall AND community_id = ").push_bind(*c);
        }
        Set::Branch(b) => {
            q.push("branch_id = ").push_bind(*b);
        }
        Set::Community(c) => {
            q.push("community_id = ").push_bind(*c);
        }
        Set::Street(s) => {
            q.push(
                "community_id IN (SELECT id FROM org_units WHERE kind = 'community' AND parent_id = ",
            )
            .push_bind(*s)
            .push(")");
        }
    }
}

/// Pushes, after an `AND`, the community that holds every request `scope` sees where the
/// dialect asks for it ([`Dialect::names_partition`]) and the scope is one community's by
/// rule without naming it: a branch's requests are its community's, read from `branches` (a
/// reference table of a sharded database). The partition a table partitioned by community
/// reads is then known; what is read is the same.
pub(crate) fn push_partition<'a, DB: Database>(
    q: &mut QueryBuilder<'a, DB>,
    scope: &Scope,
    dialect: &Dialect,
) where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    if let (true, Scope::Branch(b)) = (dialect.names_partition, scope) {
        q.push(" AND community_id = (SELECT community_id FROM branches WHERE id = ")
            .push_bind(*b)
            .push(")");
    }
}

/// The community where a person's scope finds nearly every request it sees, where the
/// dialect names partitions: a volunteer holds only their community's requests (their scope
/// carries it), and a resident asks in theirs but for the rare request asked before a move.
/// Not a rule: a read of one request looks there first, and everywhere only when the
/// request is not there.
#[derive(Clone, Copy)]
pub(crate) enum Home {
    Community(Uuid),
    /// The community of the person's directory entry.
    OfPerson(Uuid),
}

pub(crate) fn home(scope: &Scope, dialect: &Dialect) -> Option<Home> {
    match scope {
        _ if !dialect.names_partition => None,
        Scope::Assignee {
            community: Some(c), ..
        } => Some(Home::Community(*c)),
        Scope::Requester(person) => Some(Home::OfPerson(*person)),
        _ => None,
    }
}

/// Pushes `home`'s condition after an `AND`.
pub(crate) fn push_home<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, home: Home)
where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    match home {
        Home::Community(c) => {
            q.push(" AND community_id = ").push_bind(c);
        }
        Home::OfPerson(p) => {
            q.push(" AND community_id = (SELECT community_id FROM people WHERE id = ")
                .push_bind(p)
                .push(")");
        }
    }
}

/// Pushes the condition of a scope: its sets, `OR`ed.
pub(crate) fn push_scope<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, scope: &Scope)
where
    Uuid: Encode<'a, DB> + Type<DB>,
{
    q.push("(");
    for (i, set) in scope.sets().iter().enumerate() {
        if i > 0 {
            q.push(" OR ");
        }
        push_set(q, set);
    }
    q.push(")");
}

/// Pushes a list query's conditions, order and limit (shared by the query and its EXPLAIN).
/// `sets`: the scope as a union of sets to read one by one, if it is one.
pub(crate) fn push_list_conditions<'a, DB: Database>(
    q: &mut QueryBuilder<'a, DB>,
    scope: &Scope,
    sets: Option<&[Set]>,
    f: &TicketFilter,
    page: Page,
    dialect: &Dialect,
) where
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    match sets {
        // The newest page of each set, then the newest of those: each set's index reads at
        // most a page of it, from its newest. Written as one condition (an OR of a
        // volunteer's sets, `community_id IN` a street's), the planner's only way to the
        // newest page was to walk every ticket newest first, testing each (at a million
        // tickets, a volunteer holding a few read them all); as the whole of each set, a
        // volunteer of years read years.
        Some([]) => {
            q.push("1 = 0");
        }
        Some(sets) => {
            q.push("id IN (");
            for (i, set) in sets.iter().enumerate() {
                if i > 0 {
                    q.push(" UNION ALL ");
                }
                // (A subquery each: SQLite orders and limits no bare part of a union.)
                q.push("SELECT id FROM (SELECT id FROM tickets WHERE ");
                push_set(q, set);
                push_filters(q, f, page);
                q.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(i64::from(page.limit))
                    .push(format!(") AS set{i}"));
            }
            q.push(")");
        }
        None => {
            push_scope(q, scope);
            push_filters(q, f, page);
        }
    }
    push_partition(q, scope, dialect);
    q.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(page.limit));
}

/// Pushes a list's filters and its page's keyset, each after an `AND`.
fn push_filters<'a, DB: Database>(q: &mut QueryBuilder<'a, DB>, f: &TicketFilter, page: Page)
where
    Uuid: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
    String: Encode<'a, DB> + Type<DB>,
{
    if let Some(s) = &f.state {
        q.push(" AND state = ").push_bind(s.clone());
    }
    if let Some(c) = &f.category {
        q.push(" AND category = ").push_bind(c.clone());
    }
    if let Some(a) = f.assignee {
        q.push(" AND assignee_person = ").push_bind(a);
    }
    // The yes/no filters are written as literals, not parameters, so that they match the
    // partial indexes on those columns in every plan: PostgreSQL's generic plan for a
    // prepared statement (sqlx prepares and caches each text) cannot match a parameter.
    if let Some(b) = f.breached {
        q.push(if b {
            " AND breached"
        } else {
            " AND NOT breached"
        });
    }
    if let Some(w) = &f.workflow {
        q.push(" AND workflow_id = ")
            .push_bind(w.id.clone())
            .push(" AND workflow_version = ")
            .push_bind(i64::from(w.version));
    }
    if let Some(due) = f.follow_up_due {
        q.push(if due {
            " AND follow_up_due"
        } else {
            " AND NOT follow_up_due"
        });
    }
    if let Some(open) = f.open {
        q.push(if open {
            " AND NOT terminal"
        } else {
            " AND terminal"
        });
    }
    if let Some(t) = f.created_from {
        q.push(" AND created_at_us >= ").push_bind(us(t));
    }
    if let Some(t) = f.created_to {
        q.push(" AND created_at_us < ").push_bind(us(t));
    }
    if let Some(after) = page.after {
        q.push(" AND id < ").push_bind(after);
    }
}
