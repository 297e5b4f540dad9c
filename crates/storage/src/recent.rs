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
use workflow_core::access::{NoPlaces, Scope};

/// Tickets remembered at most; past that the memory starts over (tickets at rest cost
/// nothing, the ones in motion come back with their next write).
const CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct RecentTickets {
    by_id: Mutex<HashMap<Uuid, Ticket>>,
}

impl RecentTickets {
    /// The ticket as last written here, if that is `version` and `scope` certainly sees it,
    /// handed over rather than copied: it is asked for to be acted on, and the write that
    /// follows remembers what it leaves. A second caller at the same version (about to
    /// conflict) or an action refused before writing costs the next caller one read.
    pub(crate) fn take(&self, id: Uuid, scope: &Scope, version: u64) -> Option<Ticket> {
        let mut by_id = self.by_id.lock().expect("never poisoned");
        let known = by_id.get(&id)?;
        // Without the organisation's tree, a street's scope sees nothing here: the caller
        // then reads, and the query decides.
        if known.version != version || !scope.sees(known, &NoPlaces) {
            return None;
        }
        by_id.remove(&id)
    }

    /// Just committed. Two writes of one ticket answered out of order leave the later.
    pub(crate) fn remember(&self, ticket: Ticket) {
        let mut by_id = self.by_id.lock().expect("never poisoned");
        match by_id.get(&ticket.id) {
            Some(known) if known.version >= ticket.version => return,
            Some(_) => {}
            None if by_id.len() >= CAPACITY => by_id.clear(),
            None => {}
        }
        by_id.insert(ticket.id, ticket);
    }

    /// A write that was refused or whose fate is unknown: what is stored is not known here.
    pub(crate) fn forget(&self, id: Uuid) {
        self.by_id.lock().expect("never poisoned").remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_ticket_is_handed_over_once_at_its_version_to_a_scope_that_sees_it() {
        let recent = RecentTickets::default();
        let t: Ticket = serde_json::from_str(crate::ticket_rows::tests::WITH_THE_COLUMNS).unwrap();
        let stranger = Scope::Requester(Uuid::now_v7());
        recent.remember(t.clone());

        assert_eq!(
            recent.take(t.id, &Scope::Everything, 10),
            None,
            "an older version"
        );
        assert_eq!(
            recent.take(t.id, &stranger, 11),
            None,
            "a scope that does not see it"
        );
        assert_eq!(
            recent.take(t.id, &Scope::Requester(t.requester), 11),
            Some(t.clone())
        );
        assert_eq!(
            recent.take(t.id, &Scope::Everything, 11),
            None,
            "handed over already"
        );

        // An answer that arrives late leaves the later version remembered.
        let mut later = t.clone();
        later.version = 12;
        recent.remember(later.clone());
        recent.remember(t.clone());
        assert_eq!(recent.take(t.id, &Scope::Everything, 11), None);
        recent.forget(t.id);
        assert_eq!(recent.take(t.id, &Scope::Everything, 12), None, "forgotten");
    }
}
