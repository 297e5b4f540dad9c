//! Notifications that reach people here: the outbox rows each transition writes are streamed
//! to the people they concern ([`stream`]); webhook delivery is the runtime's (the `linli`
//! crate). Who is told of what is declared in the workflow files (`[[notify]]`); this module
//! only carries it.

pub mod stream;

/// Event streams open per person (OWASP API4): a phone, a desktop and a few tabs, not a
/// thousand connections held by one leaked token.
pub const STREAMS_PER_PERSON: usize = 5;

/// The event streams open now, per person.
#[derive(Clone, Default)]
pub struct OpenStreams(
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, usize>>>,
);

impl OpenStreams {
    /// A place for one more stream of `person`, held until dropped; `None` past
    /// [`STREAMS_PER_PERSON`].
    pub fn open(&self, person: uuid::Uuid) -> Option<StreamSlot> {
        let mut open = self.0.lock().expect("never poisoned");
        let n = open.entry(person).or_default();
        if *n >= STREAMS_PER_PERSON {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            streams: self.clone(),
            person,
        })
    }
}

/// One open stream; closing it (the connection ends) frees its place.
pub struct StreamSlot {
    streams: OpenStreams,
    person: uuid::Uuid,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.0.lock().expect("never poisoned");
        if let Some(n) = open.get_mut(&self.person) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.person);
            }
        }
    }
}
