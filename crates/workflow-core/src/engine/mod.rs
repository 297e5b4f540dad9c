//! The Engine: the one way anything changes. HTTP commands and due timers both come here;
//! each is loaded within the caller's scope, decided by the pure core, and applied by the
//! [`Store`] in one transaction. The Engine never retries a person's command on its own (a
//! stale version is the caller's to resolve); it does retry a timer whose ticket moved
//! meanwhile, since the system acts on whatever the ticket is now.

use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use crate::access::{Asked, Contact, Door, Principal, Refusal};
use crate::clock::Clock;
use crate::command::*;
use crate::credit::CreditContext;
use crate::decide::{
    decide, decide_auto_dispatch, decide_firing_with, decide_submission, decide_with,
};
use crate::definition::{Catalog, Workflow, WorkflowKey};
use crate::dispatch::{self, Need, RECENT_DAYS, Ranked};
use crate::event::Event;
use crate::migrate::{MigrationPlan, Move, decide_migration};
use crate::role::Role;
use crate::store::*;
use crate::ticket::{Assignee, Ticket, Urgency};

mod act;
pub mod hotline;
mod migrate;
mod read;
mod submit;
mod timers;

/// What a runtime wants to hear about: the timer worker sleeps until the earliest timer and
/// must wake when an earlier one is set; the outbox worker delivers new rows.
pub trait Signals: Send + Sync + 'static {
    fn timer_set(&self, due: Timestamp);
    fn outbox_written(&self);
}

/// Signals nobody listens to (tests that drive timers by hand).
pub struct Quiet;

impl Signals for Quiet {
    fn timer_set(&self, _: Timestamp) {}
    fn outbox_written(&self) {}
}

/// A new request as a caller asks for it; the policy ([`access`](crate::access)) says
/// whether they may and for whom, the Engine finds its workflow and its branch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRequest {
    pub category: String,
    pub urgency: Urgency,
    pub description: String,
    /// For whom, where, by which channel, as asked.
    pub asked: Asked,
    pub door: Door,
}

/// A new request as admitted, the form an idempotency key's request is compared in.
#[derive(serde::Serialize)]
struct Admitted<'a> {
    category: &'a str,
    urgency: Urgency,
    description: &'a str,
    channel: &'a str,
    building_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<Uuid>,
    #[serde(skip_serializing_if = "is_zero")]
    pay_minutes: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// How much of a resident's number a reader sees where a request is read on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// In full (their own, or a read now recorded).
    Full,
    Masked,
    /// In full by right, but masked: the read could not be recorded (the store refuses
    /// writes), and no read goes unrecorded.
    Withheld,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Command(#[from] CommandError),
    /// Missing, or not visible to this caller: the same answer either way.
    #[error("no such ticket")]
    NotFound,
    #[error("{field} is invalid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("this idempotency key was used with a different request")]
    IdempotencyMismatch,
    #[error("workflow {0} is not loaded")]
    WorkflowMissing(String),
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// A person asked for more requests in a day than the deployment allows.
    #[error(
        "at most {limit} requests a day may be asked for online; call the community office, \
         or try again later"
    )]
    TooManyToday { limit: u32, retry_after_secs: u64 },
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::IdempotencyMismatch(_) => EngineError::IdempotencyMismatch,
            other => EngineError::Store(other),
        }
    }
}

/// Where a suggested duplicate (并单) was asked from, against the request it may repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Nearness {
    SameBuilding,
    SameCompound,
}

impl Nearness {
    pub fn as_str(self) -> &'static str {
        match self {
            Nearness::SameBuilding => "same_building",
            Nearness::SameCompound => "same_compound",
        }
    }
}

/// How a timer batch went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Timers whose firing changed a ticket.
    pub fired: usize,
    /// Timers that had outlived their reason and were discarded.
    pub discarded: usize,
    /// Timers another worker took or the ticket replaced meanwhile.
    pub lost: usize,
    pub claimed: usize,
    /// Fired with effect, by timer kind (`sla_warning`, `sla_breach`, `escalation`, `state`).
    pub by_kind: std::collections::BTreeMap<&'static str, usize>,
}

pub struct Engine {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    catalog: Arc<Catalog>,
    signals: Arc<dyn Signals>,
    /// How many tickets' timers fire at once. 1 fires in strict due order; more overlaps
    /// the database round trips of different tickets (a ticket's own timers always fire in
    /// due order, one after another).
    timer_parallelism: usize,
    /// At most this many requests a person asks for themself in any 24 hours (OWASP API4:
    /// a script or a stuck finger cannot flood the branch's queue); `None`: no limit.
    daily_requests: Option<u32>,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        catalog: Arc<Catalog>,
        signals: Arc<dyn Signals>,
    ) -> Engine {
        Engine {
            store,
            clock,
            catalog,
            signals,
            timer_parallelism: 1,
            daily_requests: None,
        }
    }

    /// Limits the requests one person asks for themself in any 24 hours. Requests entered
    /// for someone (代办) count for nobody: the desk that enters them is staff at work.
    pub fn with_daily_request_limit(mut self, limit: Option<u32>) -> Engine {
        self.daily_requests = limit;
        self
    }

    pub fn with_timer_parallelism(mut self, n: usize) -> Engine {
        self.timer_parallelism = n.max(1);
        self
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// Whom the Engine tells of what it wrote: what else writes to the outbox (a parked
    /// message retried) tells them too.
    pub fn signals(&self) -> &Arc<dyn Signals> {
        &self.signals
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Records every loaded workflow version; a changed file under an old version is refused.
    pub async fn register_workflows(&self) -> Result<(), EngineError> {
        for wf in self.catalog.workflows.values() {
            self.store.register_workflow(wf).await?;
        }
        Ok(())
    }

    fn signal(&self, d: &Decision) {
        if let Some(due) = d
            .timers
            .iter()
            .filter_map(|c| match c {
                TimerChange::Set(t) => Some(t.due_at),
                TimerChange::Cancel(_) => None,
            })
            .min()
        {
            self.signals.timer_set(due);
        }
        if !d.notifications.is_empty() {
            self.signals.outbox_written();
        }
    }
}

/// How many times a write that meets concurrent changes is decided again, on what is stored
/// then, before the Engine gives up.
const ATTEMPTS: usize = 5;

/// What one attempt at a write decided on what was read came to.
enum Attempt<T, S = ()> {
    Done(T),
    /// The write met a concurrent change: decide again, on what is stored now (`S`: what
    /// the next attempt starts from).
    Again(S),
}

/// Runs `attempt` from `start` until it is done, at most [`ATTEMPTS`] times; `gave_up` says
/// what kept changing if it never settles.
async fn settle<T, S, F, Fut>(
    start: S,
    mut attempt: F,
    gave_up: impl FnOnce() -> String,
) -> Result<T, EngineError>
where
    F: FnMut(S) -> Fut,
    Fut: Future<Output = Result<Attempt<T, S>, EngineError>>,
{
    let mut state = start;
    for _ in 0..ATTEMPTS {
        match attempt(state).await? {
            Attempt::Done(done) => return Ok(done),
            Attempt::Again(next) => state = next,
        }
    }
    Err(EngineError::Store(StoreError::Other(gave_up())))
}
