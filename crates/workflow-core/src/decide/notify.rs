//! Who is told of an event: the workflow's `[[notify]]` rules, never the person who acted.

use crate::command::*;
use crate::event::{Event, EventKind, Submitted};
use crate::role::{Party, Role};
use crate::ticket::Assignee;

use super::Builder;

impl Builder<'_> {
    /// Queues the notifications the workflow declares for this event.
    pub(super) fn notify(&mut self, event: &Event) {
        // Clock bookkeeping is never announced: rules may only name actions and the events
        // in `SYSTEM_EVENTS`, so there is nothing to look up.
        if matches!(
            event.kind,
            EventKind::ClockStarted { .. }
                | EventKind::ClockPaused { .. }
                | EventKind::ClockResumed { .. }
                | EventKind::ClockStopped { .. }
        ) {
            return;
        }
        let name = event.kind.name();
        let mut recipients: Vec<Recipient> = Vec::new();
        match event.kind {
            EventKind::Escalated { to, .. } | EventKind::ObjectionsEscalated { to, .. } => {
                recipients.push(Recipient::Staff(to))
            }
            // Automatic dispatch hands the ticket back to the branch, a follow-up is the
            // branch's task, and a questioned credit is the branch's to look at: always say so.
            EventKind::AutoDispatchStopped { .. }
            | EventKind::FollowUpDue { .. }
            | EventKind::CreditQuestioned { .. } => {
                recipients.push(Recipient::Staff(Role::Secretary))
            }
            // A co-handler is told of their part, and of their deadline passing (with the
            // branch).
            EventKind::CoHandlerAdded { person, .. } => recipients.push(Recipient::Person(person)),
            EventKind::CoHandlerBreached { person, .. } => {
                recipients.push(Recipient::Person(person));
                recipients.push(Recipient::Staff(Role::Secretary));
            }
            // A request entered for a resident: the resident is told it exists.
            EventKind::Submitted(Submitted { proxy: Some(_), .. }) => {
                recipients.push(Recipient::Person(self.ticket.requester))
            }
            _ => {}
        }
        for party in self.wf.notify.get(name).into_iter().flatten() {
            let r = match *party {
                Party::Requester | Party::Role(Role::Resident) => {
                    Some(Recipient::Person(self.ticket.requester))
                }
                Party::Assignee | Party::Role(Role::Member) => {
                    self.ticket.assignee.map(|a| match a {
                        Assignee::Person(p) => Recipient::Person(p),
                        Assignee::Team(t) => Recipient::Team(t),
                    })
                }
                Party::Role(r) if r.is_staff() => Some(Recipient::Staff(r)),
                Party::Role(_) => None,
                Party::Platform => self.ticket.hotline.as_ref().map(|_| Recipient::Platform),
                Party::CoHandler => {
                    recipients.extend(
                        self.ticket
                            .co_handlers
                            .iter()
                            .filter(|c| !c.closed)
                            .map(|c| Recipient::Person(c.person)),
                    );
                    None
                }
            };
            recipients.extend(r);
        }
        // Asking for more time goes to those who may decide it: a staff level the asker holds
        // cannot approve its own asking (`decide/guards.rs`), so the level above is told.
        let asks = self
            .wf
            .extensions
            .as_ref()
            .is_some_and(|x| x.request == name);
        if asks {
            for r in &mut recipients {
                if let Recipient::Staff(level) = *r
                    && self.actor_roles.contains(level)
                    && let Some(above) = level.above()
                {
                    *r = Recipient::Staff(above);
                }
            }
        }
        let actor = self.actor_id;
        for r in recipients {
            let own = r == Recipient::Person(actor);
            let dup = self
                .notifications
                .iter()
                .any(|n| n.event_seq == event.seq && n.recipient == r);
            if !own && !dup {
                self.notifications.push(Notification {
                    ticket_id: self.ticket.id,
                    event_seq: event.seq,
                    event: name.to_owned(),
                    recipient: r,
                });
            }
        }
    }
}
