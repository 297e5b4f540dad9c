//! Which writes of a batch go in, decided before anything is written: each write is checked
//! against what the batch's first reads found (under lock on PostgreSQL; the one writer owns
//! SQLite), as if the writes were applied one after another in arrival order. A write that
//! would fail is answered with the error it would have got alone, and its neighbours go on.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;
use workflow_core::store::{ClaimedTimer, IdempotencyRecord, StoreError};
use workflow_core::{Decision, Ticket};

/// One caller's write.
#[derive(Clone, Debug)]
pub(crate) enum Write {
    Apply(Decision, Option<IdempotencyRecord>),
    Fire(ClaimedTimer, Option<Decision>),
    /// Several tickets' decisions that stand or fall together (a link), and the timer that
    /// fired them if one did: always written in a transaction of their own.
    Linked(Vec<Decision>, Option<ClaimedTimer>),
}

impl Write {
    pub(crate) fn ticket_id(&self) -> Uuid {
        match self {
            Write::Apply(d, _) => d.ticket.id,
            Write::Fire(t, _) => t.ticket_id,
            Write::Linked(ds, _) => ds.first().map_or(Uuid::nil(), |d| d.ticket.id),
        }
    }

    pub(crate) fn decision(&self) -> Option<&Decision> {
        match self {
            Write::Apply(d, _) => Some(d),
            Write::Fire(_, d) => d.as_ref(),
            Write::Linked(..) => None,
        }
    }

    /// The timer row a fire deletes, as its claim left it.
    pub(crate) fn fired(&self) -> Option<TimerRow> {
        match self {
            Write::Fire(t, _) => Some(TimerRow::claimed(t)),
            Write::Apply(..) | Write::Linked(..) => None,
        }
    }

    /// The tickets written, given up once the write's fate is known (to be remembered).
    pub(crate) fn into_tickets(self) -> impl Iterator<Item = Ticket> {
        let (one, linked) = match self {
            Write::Apply(d, _) | Write::Fire(_, Some(d)) => (Some(d), Vec::new()),
            Write::Fire(_, None) => (None, Vec::new()),
            Write::Linked(ds, _) => (None, ds),
        };
        one.into_iter().chain(linked).map(|d| d.ticket)
    }

    /// The ticket this write creates, if it creates one.
    pub(crate) fn creates(&self) -> Option<Uuid> {
        self.decision()
            .filter(|d| d.expected_version == 0)
            .map(|d| d.ticket.id)
    }

    pub(crate) fn idempotency(&self) -> Option<&IdempotencyRecord> {
        match self {
            Write::Apply(_, idem) => idem.as_ref(),
            Write::Fire(..) | Write::Linked(..) => None,
        }
    }
}

/// A timer row exactly as a claim left it: a fire deletes only what it claimed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct TimerRow {
    pub ticket_id: Uuid,
    pub key: String,
    pub owner: Option<Uuid>,
    pub epoch: u64,
    pub due_at_us: i64,
}

impl TimerRow {
    pub(crate) fn claimed(t: &ClaimedTimer) -> TimerRow {
        TimerRow {
            ticket_id: t.ticket_id,
            key: t.key.to_string(),
            owner: Some(t.owner),
            epoch: t.epoch,
            due_at_us: crate::us(t.due_at),
        }
    }
}

/// A timer row as a batch reads it: (ticket, key, claimed by, epoch, due at in µs).
pub(crate) type StoredTimer = (Uuid, String, Option<Uuid>, i64, i64);

impl From<StoredTimer> for TimerRow {
    fn from((ticket_id, key, owner, epoch, due_at_us): StoredTimer) -> TimerRow {
        TimerRow {
            ticket_id,
            key,
            owner,
            epoch: epoch as u64,
            due_at_us,
        }
    }
}

/// What the batch's reads found.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Ticket id → stored version, for every ticket the batch touches that exists.
    pub versions: HashMap<Uuid, u64>,
    /// The timer rows the batch's fires name, as stored.
    pub timers: HashSet<TimerRow>,
    /// (caller, key) of the idempotency records that already exist.
    pub idempotency: HashSet<(Uuid, String)>,
}

impl Found {
    /// What the writes expect to find: each ticket at the version its decision was based on
    /// (absent for a new one), no idempotency key used. Planned against this, a batch goes in
    /// whole if the database agrees, which its statement checks as it writes (see
    /// [`super::batch`]). Not a fired timer: a firing planned against this fails
    /// (`TimerGone`), as its claim can only be known by reading it.
    pub(crate) fn expected(writes: &[&Write]) -> Found {
        let mut found = Found::default();
        for w in writes {
            if let Some(d) = w.decision()
                && d.expected_version > 0
            {
                // A ticket's later writes in the batch are written alone: the first decides.
                found
                    .versions
                    .entry(d.ticket.id)
                    .or_insert(d.expected_version);
            }
        }
        found
    }
}

#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// Goes into the batch.
    Write,
    /// Refused with the error it would have got alone; nothing of it is written.
    Fail(StoreError),
    /// Touches a ticket an earlier write of the batch already changed: written on its own
    /// after the batch commits, so it sees that change (and conflicts as it would alone).
    Alone,
}

pub(crate) fn plan(writes: &[&Write], found: &Found) -> Vec<Outcome> {
    let mut touched: HashSet<Uuid> = HashSet::new();
    let mut keys: HashSet<(Uuid, &str)> = HashSet::new();
    writes
        .iter()
        .map(|w| {
            // A decision that moves time bank hours may be refused for a balance: on its own.
            let banks = w.decision().is_some_and(|d| !d.time.is_empty());
            if matches!(w, Write::Linked(..)) || banks || touched.contains(&w.ticket_id()) {
                return Outcome::Alone;
            }
            if let Write::Fire(timer, _) = w
                && !found.timers.contains(&TimerRow::claimed(timer))
            {
                return Outcome::Fail(StoreError::TimerGone);
            }
            if let Some(d) = w.decision()
                && let Err(e) = check_version(d, found)
            {
                return Outcome::Fail(e);
            }
            if let Some(rec) = w.idempotency() {
                let exists = found.idempotency.contains(&(rec.caller, rec.key.clone()));
                if exists || !keys.insert((rec.caller, rec.key.as_str())) {
                    return Outcome::Fail(StoreError::IdempotencyMismatch(rec.key.clone()));
                }
            }
            touched.insert(w.ticket_id());
            Outcome::Write
        })
        .collect()
}

/// The compare-and-set a single write does with its `UPDATE … WHERE version = $expected`.
fn check_version(d: &Decision, found: &Found) -> Result<(), StoreError> {
    if d.events.is_empty() {
        return Err(StoreError::Other("a decision without events".into()));
    }
    let actual = found.versions.get(&d.ticket.id).copied();
    match (d.expected_version, actual) {
        (0, None) => Ok(()),
        (0, Some(_)) => Err(StoreError::Duplicate(d.ticket.id)),
        (expected, Some(v)) if v == expected => Ok(()),
        (_, actual) => Err(StoreError::Conflict { actual }),
    }
}
