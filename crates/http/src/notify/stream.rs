//! What a caller's event stream carries, and how it reads the outbox without missing a
//! message: outbox ids are UUIDv7 (time-ordered), so a stream reads the ids after a point.
//! Transactions can commit a little out of their ids' order (two writers, two nodes), so a
//! live stream re-reads a short window behind "now" and skips what it already sent.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::access::Principal;
use workflow_core::store::{OutboxMessage, Scope};

/// How far behind "now" a live stream re-reads for late commits.
pub const SETTLE: Duration = Duration::from_secs(2);
/// Messages read per query.
const PAGE: u32 = 200;

/// The smallest UUIDv7 of a millisecond: every id made at or after `t` is larger.
pub fn uuid_floor(t: Timestamp) -> Uuid {
    let ms = t.as_millisecond().max(0) as u128;
    Uuid::from_u128((ms << 80) | (0x7u128 << 76))
}

/// A caller's position in the outbox.
pub struct Reader {
    store: SqlStore,
    principal: Principal,
    scope: Scope,
    /// Never read at or before this id: the stream's start, or the `Last-Event-ID` resumed.
    resume: Uuid,
    /// Ids inside the settle window already looked at.
    seen: HashSet<Uuid>,
    ready: VecDeque<OutboxMessage>,
}

impl Reader {
    pub fn new(store: SqlStore, principal: Principal, scope: Scope, resume: Uuid) -> Reader {
        Reader {
            store,
            principal,
            scope,
            resume,
            seen: HashSet::new(),
            ready: VecDeque::new(),
        }
    }

    /// The next message for the caller, if one is there now.
    pub async fn next(
        &mut self,
        now: Timestamp,
    ) -> Result<Option<OutboxMessage>, workflow_core::store::StoreError> {
        if self.ready.is_empty() {
            self.read(now).await?;
        }
        Ok(self.ready.pop_front())
    }

    async fn read(&mut self, now: Timestamp) -> Result<(), workflow_core::store::StoreError> {
        let window = uuid_floor(now - SETTLE).max(self.resume);
        self.seen.retain(|id| *id > window);
        let mut after = window;
        loop {
            let page = self.store.outbox_after(&self.scope, after, PAGE).await?;
            let full = page.len() as u32 == PAGE;
            if let Some(last) = page.last() {
                after = last.id;
            }
            for m in page {
                if self.seen.insert(m.id) && self.principal.is_told(&m.recipient) {
                    self.ready.push_back(m);
                }
            }
            if !full {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_below_every_id_of_its_millisecond_and_above_earlier_ones() {
        let t: Timestamp = "2026-11-22T08:00:00.123Z".parse().unwrap();
        let floor = uuid_floor(t);
        for _ in 0..100 {
            let same = Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                t.as_second() as u64,
                t.subsec_nanosecond() as u32,
            ));
            assert!(same >= floor);
            let earlier = Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                t.as_second() as u64,
                t.subsec_nanosecond() as u32 - 1_000_000,
            ));
            assert!(earlier < floor);
        }
    }
}
