//! The `Store` port: what the Engine needs from persistence. The `storage` crate implements
//! it for SQLite and PostgreSQL; the core only names the operations and their guarantees.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::access::Scope;
use crate::command::{Decision, TimerKey};
use crate::definition::Workflow;
use crate::dispatch::{Place, Volunteer};
use crate::event::Event;
use crate::role::Role;
use crate::ticket::Ticket;

/// List filters (all optional, combined with AND).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TicketFilter {
    pub state: Option<String>,
    pub category: Option<String>,
    pub assignee: Option<Uuid>,
    pub breached: Option<bool>,
    pub open: Option<bool>,
    /// A follow-up call (回访) is due and not yet recorded.
    pub follow_up_due: Option<bool>,
    /// On this version of this workflow.
    pub workflow: Option<crate::definition::WorkflowKey>,
    pub created_from: Option<Timestamp>,
    pub created_to: Option<Timestamp>,
}

/// Keyset pagination: tickets after `after` (by id, which is time-ordered UUIDv7), newest
/// first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub after: Option<Uuid>,
    pub limit: u32,
}

/// A timer claimed by one worker for the length of its lease.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedTimer {
    pub ticket_id: Uuid,
    /// The ticket's community: where a deployment partitions its tables by community, the
    /// timer's and the ticket's partition.
    pub community_id: Uuid,
    pub key: TimerKey,
    pub due_at: Timestamp,
    pub epoch: u64,
    pub owner: Uuid,
}

/// What a submit with an `Idempotency-Key` leaves behind: a retry gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub caller: Uuid,
    pub key: String,
    /// A hash of the request, so the same key with a different request is caught.
    pub request_hash: String,
    pub ticket_id: Uuid,
    /// The response as first sent (JSON).
    pub response: String,
}

/// An outbox row: a notification to deliver after the transition that wrote it committed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: Uuid,
    pub community_id: Uuid,
    pub ticket_id: Uuid,
    pub event_seq: u64,
    pub event: String,
    pub recipient: crate::command::Recipient,
    pub attempts: u32,
    pub created_at: Timestamp,
}

/// A person as the Engine needs them: to check an assignee, to resolve a caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonRef {
    pub id: Uuid,
    pub roles: Vec<Role>,
    pub community_id: Option<Uuid>,
    pub branch_id: Option<Uuid>,
    pub home_building_id: Option<Uuid>,
    pub active: bool,
}

/// A read of a resident's number in full, for the audit of who read whose number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactRead {
    pub community_id: Uuid,
    /// Whose number.
    pub person_id: Uuid,
    pub reader_id: Uuid,
    pub ticket_id: Uuid,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRef {
    pub id: Uuid,
    pub community_id: Uuid,
    pub members: Vec<Uuid>,
}

/// Where a building is: the community and branch that own requests from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub building_id: Uuid,
    pub community_id: Uuid,
    pub branch_id: Uuid,
    /// The compound (小区) the building stands in, if the directory has one above it.
    pub compound_id: Option<Uuid>,
}

/// The facts [`crate::dispatch::rank`] weighs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DispatchFacts {
    pub place: Place,
    pub volunteers: Vec<Volunteer>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The ticket is not at the version the decision was based on; nothing was written.
    #[error("the ticket changed meanwhile (now at version {actual:?})")]
    Conflict { actual: Option<u64> },
    #[error("ticket {0} already exists")]
    Duplicate(Uuid),
    #[error("idempotency key {0:?} was used with a different request")]
    IdempotencyMismatch(String),
    #[error(
        "workflow {id}@{version} is registered with different content (a changed file needs a new version)"
    )]
    WorkflowChanged { id: String, version: u32 },
    #[error("the timer was taken or replaced meanwhile")]
    TimerGone,
    /// The database cannot be reached or refused for a transient reason (HTTP 503).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A written reference names nothing of the kind it must (a `community_id` that is not
    /// a community, a team member of another community); nothing was written.
    #[error("{field}: {detail}")]
    InvalidReference { field: &'static str, detail: String },
    /// A time bank account cannot cover a movement (an overdraft): nothing was written.
    #[error("not enough hours in the {account} account")]
    NotEnoughHours { account: &'static str },
    #[error("storage error: {0}")]
    Other(String),
}

/// Persistence as the Engine sees it. Every method is one transaction.
#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records a workflow version; the same id+version with different content is refused.
    async fn register_workflow(&self, wf: &Workflow) -> Result<(), StoreError>;

    /// Applies a decision atomically: version check (`Conflict`, nothing written), ticket,
    /// events, timers, outbox rows for its notifications, the idempotency record.
    async fn apply(
        &self,
        decision: &Decision,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError>;

    /// Applies the decisions of a link between tickets (a merge and its parent, a parent and
    /// the requests merged under it) in one transaction: every version checked, all written
    /// or nothing (`Conflict` if any ticket moved).
    async fn apply_linked(&self, decisions: &[Decision]) -> Result<(), StoreError>;

    /// Deletes a claimed timer and applies what its firing decided, in one transaction.
    /// `TimerGone` if the claim was lost or the timer replaced; `Conflict` if the ticket moved.
    async fn fire(
        &self,
        timer: &ClaimedTimer,
        decision: Option<&Decision>,
    ) -> Result<(), StoreError>;

    /// As [`Store::fire`] for a firing that moves a ticket with requests merged under it
    /// (并单): `decisions` is the fired ticket's decision, then each follower's, all written
    /// with the timer's deletion in one transaction or none of it (`Conflict` if any ticket
    /// moved, `TimerGone` as for a fire).
    async fn fire_linked(
        &self,
        timer: &ClaimedTimer,
        decisions: &[Decision],
    ) -> Result<(), StoreError>;

    /// A ticket, if the scope may see it.
    async fn ticket(&self, id: Uuid, scope: &Scope) -> Result<Option<Ticket>, StoreError>;

    /// A ticket the caller says is at `version`, to act on: as [`Store::ticket`], except
    /// that a store may answer from the ticket as it last wrote it when that is the version
    /// named, without reading. Sound because an action is written only if the stored
    /// version is still the one it was decided on: an answer gone stale meanwhile (another
    /// node wrote) is refused as a conflict when written, never applied.
    async fn ticket_at(
        &self,
        id: Uuid,
        scope: &Scope,
        version: u64,
    ) -> Result<Option<Ticket>, StoreError> {
        let _ = version;
        self.ticket(id, scope).await
    }

    /// A ticket's history, oldest first.
    async fn events(&self, id: Uuid) -> Result<Vec<Event>, StoreError>;

    /// Tickets the scope may see, newest first.
    async fn list(
        &self,
        scope: &Scope,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<Vec<Ticket>, StoreError>;

    /// The earliest instant a timer becomes claimable (due, or its lease expired).
    async fn next_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Claims up to `limit` due timers for `owner` until `lease_until`, earliest first.
    async fn claim_due(
        &self,
        now: Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError>;

    /// [`Store::next_due`] of one community's timers.
    async fn next_due_in(&self, community: Uuid) -> Result<Option<Timestamp>, StoreError>;

    /// [`Store::claim_due`] of one community's timers: what a node that fires only some
    /// communities' timers claims (one shard of a deployment sharded by community).
    async fn claim_due_in(
        &self,
        community: Uuid,
        now: Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError>;

    /// Gives back an owner's claims (clean shutdown).
    async fn release_claims(&self, owner: Uuid) -> Result<(), StoreError>;

    async fn idempotency(
        &self,
        caller: Uuid,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// What dispatch ranking needs: where the ticket is, and the active volunteers of its
    /// community with their load, availability and record since `since`.
    async fn dispatch_facts(
        &self,
        ticket: &Ticket,
        since: Timestamp,
    ) -> Result<DispatchFacts, StoreError>;

    /// What `person` was credited with in `[from, to)` (the ledger's sums, corrections too).
    async fn earned(
        &self,
        person: Uuid,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<crate::credit::Earned, StoreError>;

    /// The time bank of `community`, if it runs one (时间银行). None by default: a store
    /// that keeps no time bank runs none.
    async fn time_bank(
        &self,
        _community: Uuid,
    ) -> Result<Option<crate::time_bank::Policy>, StoreError> {
        Ok(None)
    }

    /// What the time bank's ledger says now of a request's hold and of a volunteer's account
    /// (their balance, and their deposits in `[from, to)`: the day).
    async fn time_state(
        &self,
        _ticket: Uuid,
        _person: Option<Uuid>,
        _from: Timestamp,
        _to: Timestamp,
    ) -> Result<crate::time_bank::State, StoreError> {
        Ok(crate::time_bank::State::default())
    }

    /// How many requests `requester` asked for themself since `since`, and when the first of
    /// them was asked (for the per-person daily limit).
    async fn asked_since(
        &self,
        requester: Uuid,
        since: Timestamp,
    ) -> Result<(u32, Option<Timestamp>), StoreError>;

    async fn person(&self, id: Uuid) -> Result<Option<PersonRef>, StoreError>;
    /// Records that someone read a resident's number in full.
    async fn record_contact_read(&self, read: &ContactRead) -> Result<(), StoreError>;
    async fn team(&self, id: Uuid) -> Result<Option<TeamRef>, StoreError>;
    async fn locate(&self, building_id: Uuid) -> Result<Option<Location>, StoreError>;

    /// Undelivered outbox rows due for an attempt, claimed for `owner` until `lease_until`.
    async fn claim_outbox(
        &self,
        now: Timestamp,
        limit: u32,
        owner: Uuid,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError>;
    async fn outbox_delivered(&self, id: Uuid, at: Timestamp) -> Result<(), StoreError>;
    /// Records a failed attempt; the row is tried again at `retry_at`, or parked if `None`.
    async fn outbox_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;
}
