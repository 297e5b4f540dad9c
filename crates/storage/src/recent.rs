//! The tickets this process last wrote, remembered so that the next action on one needs no
//! read first. A lifecycle is a ticket acted on again and again, mostly through the same
//! node: without this every action costs a read of the ~1.5 KB ticket before its write.
//!
//! A remembered ticket is only ever handed out for the version the caller names
//! ([`workflow_core::store::Store::ticket_at`]), and a decision made on it is written only
//! if the stored ticket is still at that version: if another node (or process) wrote since,
//! the write is refused as a conflict and the ticket forgotten. Nothing but a versioned
//! write changes a ticket's row.

use std::collections::HashMap;
use std::sync::Mutex;

use uuid::Uuid;
use workflow_core::Ticket;
use workflow_core::store::Scope;

/// Tickets remembered at most; past that the memory starts over (tickets at rest cost
/// nothing, the ones in motion come back with their next write).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct RecentTickets {
    by_id: Mutex<HashMap<Uuid, Ticket>>,
}

impl RecentTickets {
    /// The ticket as last written here, if that is `version` and `scope` certainly sees it.
    pub(crate) fn get(&self, id: Uuid, scope: &Scope, version: u64) -> Option<Ticket> {
        let by_id = self.by_id.lock().expect("never poisoned");
        by_id
            .get(&id)
            .filter(|t| t.version == version && certainly_sees(scope, t))
            .cloned()
    }

    /// Just committed. Two writes of one ticket answered out of order leave the later.
    pub(crate) fn remember(&self, ticket: &Ticket) {
        let mut by_id = self.by_id.lock().expect("never poisoned");
        match by_id.get(&ticket.id) {
            Some(known) if known.version >= ticket.version => return,
            Some(_) => {}
            None if by_id.len() >= CAPACITY => by_id.clear(),
            None => {}
        }
        by_id.insert(ticket.id, ticket.clone());
    }

    /// A write that was refused or whose fate is unknown: what is stored is not known here.
    pub(crate) fn forget(&self, id: Uuid) {
        self.by_id.lock().expect("never poisoned").remove(&id);
    }
}

/// Whether the scope sees the ticket, from the ticket alone; `false` where that takes the
/// database (a team's pool, a co-handler, a street's communities): the caller then reads,
/// and the query decides.
fn certainly_sees(scope: &Scope, t: &Ticket) -> bool {
    match scope {
        Scope::Everything => true,
        Scope::Requester(p) => t.requester == *p,
        Scope::Assignee {
            person, community, ..
        } => {
            t.requester == *person
                || t.proxy == Some(*person)
                || t.assignee.and_then(|a| a.person()) == Some(*person)
                || (t.on_wall && *community == Some(t.community_id))
        }
        Scope::Branch(b) => t.branch_id == *b,
        Scope::Community(c) => t.community_id == *c,
        Scope::Street(_) => false,
    }
}
