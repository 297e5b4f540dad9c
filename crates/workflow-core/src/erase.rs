//! Anonymising a history in place (PIPL art. 47): what people wrote in their own words is
//! replaced, everything else stays, so a ticket still replays, still counts in every figure
//! (states, deadlines, ratings, hours) and names nobody. Storage rewrites the events and the
//! projection their replay gives; this says which words go.

use uuid::Uuid;

use crate::access::Refusal;
use crate::event::{Event, EventKind};

/// What a removed text reads as.
pub const ERASED: &str = "（已删除）";

/// Whose words go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Whose {
    /// A person who asked to be erased: the requests they asked for, and what they wrote on
    /// any other.
    Person(Uuid),
    /// A request past its retention period: every word anyone wrote on it.
    Everyone,
}

/// Replaces the free text of `events` that `whose` covers; how many texts changed.
pub fn anonymise(events: &mut [Event], whose: Whose) -> usize {
    let mut changed = 0;
    let asked_by_them = events.iter().any(|e| match (&e.kind, whose) {
        (EventKind::Submitted(s), Whose::Person(p)) => s.requester == p || e.actor.id == Some(p),
        (_, Whose::Everyone) => true,
        _ => false,
    });
    for event in events.iter_mut() {
        let theirs = match whose {
            Whose::Everyone => true,
            Whose::Person(p) => event.actor.id == Some(p),
        };
        for text in free_text(&mut event.kind, whose, asked_by_them, theirs) {
            if text != ERASED {
                ERASED.clone_into(text);
                changed += 1;
            }
        }
    }
    changed
}

/// The texts of an event written in someone's own words: the description (if the request
/// is theirs), notes and reasons (if the event is theirs), a co-handler's note (if theirs).
fn free_text(kind: &mut EventKind, whose: Whose, request: bool, event: bool) -> Vec<&mut String> {
    match kind {
        EventKind::Submitted(s) if request => vec![&mut s.description],
        EventKind::Transitioned { data, .. } if event => {
            data.note.iter_mut().chain(data.reason.iter_mut()).collect()
        }
        EventKind::ExtensionRequested { reason, .. } | EventKind::ClockExtended { reason, .. }
            if event =>
        {
            vec![reason]
        }
        EventKind::CoHandlerReported { note, .. } if event => vec![note],
        EventKind::CoHandlingClosed { notes } => notes
            .iter_mut()
            .filter(|n| whose == Whose::Everyone || whose == Whose::Person(n.person))
            .filter_map(|n| n.note.as_mut())
            .collect(),
        _ => Vec::new(),
    }
}

/// A person is erased only once nothing they asked for or hold is still open: a request
/// being worked on is finished, cancelled or handed over first (its volunteer needs the
/// address and the words to do it).
pub fn ready(open_asked: usize, open_held: usize) -> Result<(), Refusal> {
    match (open_asked, open_held) {
        (0, 0) => Ok(()),
        (_, 0) => Err(Refusal::Invalid {
            field: "person",
            reason: "has requests still open: finish or cancel them first",
        }),
        _ => Err(Refusal::Invalid {
            field: "person",
            reason: "holds requests still open: hand them over first",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ActorRef, Recorded, Submitted};
    use crate::role::Role;
    use crate::ticket::Urgency;
    use jiff::Timestamp;

    fn event(seq: u64, actor: Uuid, kind: EventKind) -> Event {
        Event {
            ticket_id: Uuid::nil(),
            seq,
            at: Timestamp::UNIX_EPOCH,
            actor: ActorRef {
                id: Some(actor),
                role: Role::Resident,
            },
            kind,
        }
    }

    fn history(resident: Uuid, volunteer: Uuid) -> Vec<Event> {
        let submitted = Submitted {
            workflow_id: "w".into(),
            workflow_version: 1,
            category: "repair".into(),
            urgency: Urgency::Normal,
            description: "3号楼王奶奶家水管漏了".into(),
            channel: "api".into(),
            state: "submitted".into(),
            requester: resident,
            proxy: None,
            community_id: Uuid::nil(),
            branch_id: Uuid::nil(),
            building_id: None,
            clocks: vec![],
            on_wall: false,
            hotline: None,
        };
        let noted = |note: &str| EventKind::Transitioned {
            action: "note".into(),
            from: "a".into(),
            to: "a".into(),
            terminal: false,
            stays: true,
            on_wall: false,
            internal: false,
            objection: false,
            assignee_after: None,
            data: Recorded {
                note: Some(note.into()),
                ..Recorded::default()
            },
            timer_due: None,
            credit: None,
            released: None,
        };
        vec![
            event(1, resident, EventKind::Submitted(submitted)),
            event(2, volunteer, noted("已联系王奶奶，明天上门")),
            event(3, resident, noted("我下午在家")),
        ]
    }

    fn texts(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .map(|e| match &e.kind {
                EventKind::Submitted(s) => s.description.clone(),
                EventKind::Transitioned { data, .. } => data.note.clone().unwrap_or_default(),
                _ => String::new(),
            })
            .collect()
    }

    #[test]
    fn a_person_erased_takes_their_words_and_leaves_the_others() {
        let (resident, volunteer) = (Uuid::now_v7(), Uuid::now_v7());
        let mut events = history(resident, volunteer);
        assert_eq!(anonymise(&mut events, Whose::Person(resident)), 2);
        assert_eq!(texts(&events), [ERASED, "已联系王奶奶，明天上门", ERASED]);
        // Again: nothing more to take.
        assert_eq!(anonymise(&mut events, Whose::Person(resident)), 0);
        // The volunteer erased: only their note goes.
        let mut events = history(resident, volunteer);
        assert_eq!(anonymise(&mut events, Whose::Person(volunteer)), 1);
        assert_eq!(
            texts(&events),
            ["3号楼王奶奶家水管漏了", ERASED, "我下午在家"]
        );
    }

    #[test]
    fn past_retention_every_word_goes() {
        let mut events = history(Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(anonymise(&mut events, Whose::Everyone), 3);
        assert_eq!(texts(&events), [ERASED, ERASED, ERASED]);
    }

    #[test]
    fn nobody_is_erased_with_requests_open() {
        assert!(ready(0, 0).is_ok());
        assert!(ready(1, 0).is_err());
        assert!(ready(0, 2).is_err());
    }
}
