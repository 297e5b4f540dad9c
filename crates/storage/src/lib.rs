//! `storage`: the [`Store`] port of `workflow-core` implemented for SQLite (the embedded
//! default, one node) and PostgreSQL (production, any number of nodes), with the schema's
//! migrations, durable timers with leases, the outbox, idempotency records and the
//! community directory.
//!
//! What the two backends do alike is written once: the rows a decision writes ([`rows`],
//! generic over the backend), the scope as SQL ([`scope`]), and the plain queries, which
//! [`with_pool!`] expands once per backend so that each is type-checked against its own
//! driver (no `sqlx::Any`, which loses types). What differs is in [`sqlite`] and
//! [`postgres`]: their pools, how a lone decision travels, how a batch does.
//!
//! This crate decides nothing: it applies what `workflow-core` decided.

/// Runs `$body` with `$pool` bound to the backend's writer pool, once per backend.
macro_rules! with_pool {
    ($store:expr, $pool:ident, $body:block) => {
        match &*$store.backend {
            crate::Backend::Sqlite { writer, .. } => {
                let $pool = writer;
                $body
            }
            crate::Backend::Postgres { pool: p, .. } => {
                let $pool = p;
                $body
            }
        }
    };
}

/// Like [`with_pool!`], with SQLite's read-only pool for queries that only read.
macro_rules! with_reader {
    ($store:expr, $pool:ident, $body:block) => {
        match &*$store.backend {
            crate::Backend::Sqlite { reader, .. } => {
                let $pool = reader;
                $body
            }
            crate::Backend::Postgres { pool: p, .. } => {
                let $pool = p;
                $body
            }
        }
    };
}

pub mod announce;
pub mod audit;
pub mod certificates;
mod connect;
pub mod demo;
mod dialect;
mod directory;
mod dispatch;
pub mod erase;
mod error;
mod event_rows;
pub mod feedback;
mod health;
mod json_text;
pub mod limit;
mod outbox;
pub mod photos;
mod postgres;
pub mod rates;
mod recent;
pub mod remembered;
pub mod reports;
mod rows;
mod scope;
mod sqlite;
mod ticket_rows;
mod tickets;
pub mod time_bank;
mod timers;
pub mod verify;
pub mod workflow_files;
mod writer;

use std::sync::Arc;

pub use connect::{DEFAULT_TIMEOUT, Durability, Options, connect};
pub use directory::report_in;
pub use directory::{
    Applied, Authenticated, MachineToken, NewPerson, PersonEntry, Session, TokenSeen, hash_token,
};
pub use error::from_sqlx;
pub use outbox::{DeliveryAttempt, OutboxCounts, OutboxDelivery, OutboxEntry, OutboxState};
pub use postgres::create_database;
use sqlx::{PgPool, SqlitePool};
use workflow_core::store::*;
use workflow_core::{Decision, Event, Ticket, Workflow};
pub use writer::WriterStats;

/// The database behind a [`SqlStore`].
#[derive(Clone, Debug)]
pub(crate) enum Backend {
    /// One writer connection owns all writes (no `SQLITE_BUSY` between our own writers);
    /// a pool of read-only connections serves reads beside it (WAL).
    Sqlite {
        writer: SqlitePool,
        reader: SqlitePool,
    },
    /// `batches` serves the group writer's batches: its connections are set up for them
    /// ([`connect::BATCH_SESSION`]); `pool` serves everything else.
    Postgres { pool: PgPool, batches: PgPool },
}

/// The Store for both backends.
#[derive(Clone, Debug)]
pub struct SqlStore {
    pub(crate) backend: Arc<Backend>,
    /// Group commit for ticket writes; `None` writes each in its own transaction (the
    /// writer tasks' own store, and stores opened with `group_commit: false`).
    writer: Option<Arc<writer::GroupWriter>>,
    remembered: Arc<remembered::DirectoryMemory>,
    recent: Arc<recent::RecentTickets>,
    /// Whose messages wait for delivery ([`OutboxDelivery`]).
    delivery: Arc<std::sync::RwLock<Arc<OutboxDelivery>>>,
    /// The longest a write may take ([`Options::timeout`]).
    timeout: std::time::Duration,
    /// How this node's writes are going ([`SqlStore::writable`]).
    health: Arc<health::WriteHealth>,
}

impl SqlStore {
    pub(crate) fn new(
        backend: Backend,
        group_writers: usize,
        timeout: std::time::Duration,
    ) -> SqlStore {
        let direct = SqlStore {
            backend: Arc::new(backend),
            writer: None,
            remembered: Arc::default(),
            recent: Arc::default(),
            delivery: Arc::default(),
            timeout,
            health: Arc::default(),
        };
        if group_writers == 0 {
            return direct;
        }
        SqlStore {
            writer: Some(Arc::new(writer::GroupWriter::spawn(
                direct.clone(),
                group_writers,
            ))),
            ..direct
        }
    }

    /// Remembers the tickets a write committed ([`recent`]); forgets them if it did not.
    /// Called by whoever owns the write once its fate is known (the group writer, or the
    /// store writing on its own), so that what is remembered is the write's own copy.
    pub(crate) fn note_written(&self, write: writer::Write, written: &Result<(), StoreError>) {
        self.health.note(written);
        for ticket in write.into_tickets() {
            match written {
                Ok(()) => self.recent.remember(ticket),
                Err(_) => self.recent.forget(ticket.id),
            }
        }
    }

    /// Writes through the group writer, or on its own when group commit is off.
    async fn write(&self, write: writer::Write) -> Result<(), StoreError> {
        match &self.writer {
            Some(w) => w.write(write).await,
            None => self.write_noted(write).await,
        }
    }

    /// The longest a write, or the wait for a connection, may take ([`Options::timeout`]).
    pub fn timeout(&self) -> std::time::Duration {
        self.timeout
    }

    /// How group commit went so far (`None` when it is off).
    pub fn writer_stats(&self) -> Option<WriterStats> {
        self.writer.as_ref().map(|w| w.stats())
    }

    /// How many tickets' timers this store serves firing at once: PostgreSQL overlaps their
    /// round trips (`Engine::with_timer_parallelism`); SQLite's one writer takes them in turn.
    pub fn timer_parallelism(&self) -> usize {
        if self.is_postgres() { 8 } else { 1 }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(*self.backend, Backend::Postgres { .. })
    }

    /// How this backend writes what shared SQL spells differently.
    pub(crate) fn dialect(&self) -> &'static dialect::Dialect {
        match *self.backend {
            Backend::Sqlite { .. } => &sqlite::DIALECT,
            Backend::Postgres { .. } => &postgres::DIALECT,
        }
    }

    /// The PostgreSQL pool, for LISTEN/NOTIFY and tests.
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &*self.backend {
            Backend::Postgres { pool, .. } => Some(pool),
            Backend::Sqlite { .. } => None,
        }
    }

    /// The SQLite writer pool, for tests and benchmarks that need the raw connection.
    pub fn sqlite_pool(&self) -> Option<&SqlitePool> {
        match &*self.backend {
            Backend::Sqlite { writer, .. } => Some(writer),
            Backend::Postgres { .. } => None,
        }
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.stop().await;
        }
        match &*self.backend {
            Backend::Sqlite { writer, reader } => {
                writer.close().await;
                reader.close().await;
            }
            Backend::Postgres { pool, batches } => {
                batches.close().await;
                pool.close().await;
            }
        }
    }
}

#[async_trait::async_trait]
impl Store for SqlStore {
    async fn register_workflow(&self, wf: &Workflow) -> Result<(), StoreError> {
        self.register_workflow_version(wf).await
    }

    async fn apply(
        &self,
        d: &Decision,
        idem: Option<&IdempotencyRecord>,
    ) -> Result<(), StoreError> {
        self.write(writer::Write::Apply(d.clone(), idem.cloned()))
            .await
    }

    async fn apply_linked(&self, decisions: &[Decision]) -> Result<(), StoreError> {
        self.write(writer::Write::Linked(decisions.to_vec(), None))
            .await
    }

    async fn fire_linked(
        &self,
        timer: &ClaimedTimer,
        decisions: &[Decision],
    ) -> Result<(), StoreError> {
        self.write(writer::Write::Linked(
            decisions.to_vec(),
            Some(timer.clone()),
        ))
        .await
    }

    async fn fire(&self, timer: &ClaimedTimer, d: Option<&Decision>) -> Result<(), StoreError> {
        self.write(writer::Write::Fire(timer.clone(), d.cloned()))
            .await
    }

    async fn ticket(&self, id: uuid::Uuid, scope: &Scope) -> Result<Option<Ticket>, StoreError> {
        self.load_ticket(id, scope).await
    }

    async fn ticket_at(
        &self,
        id: uuid::Uuid,
        scope: &Scope,
        version: u64,
    ) -> Result<Option<Ticket>, StoreError> {
        match self.recent.take(id, scope, version) {
            Some(t) => Ok(Some(t)),
            None => self.load_ticket(id, scope).await,
        }
    }

    async fn events(&self, id: uuid::Uuid) -> Result<Vec<Event>, StoreError> {
        self.load_events(id).await
    }

    async fn list(
        &self,
        scope: &Scope,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<Vec<Ticket>, StoreError> {
        self.list_tickets(scope, filter, page).await
    }

    async fn next_due(&self) -> Result<Option<jiff::Timestamp>, StoreError> {
        self.next_timer_due(None).await
    }

    async fn next_due_in(
        &self,
        community: uuid::Uuid,
    ) -> Result<Option<jiff::Timestamp>, StoreError> {
        self.next_timer_due(Some(community)).await
    }

    async fn claim_due(
        &self,
        now: jiff::Timestamp,
        limit: u32,
        owner: uuid::Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        self.claim_due_timers(None, now, limit, owner, lease_until)
            .await
    }

    async fn claim_due_in(
        &self,
        community: uuid::Uuid,
        now: jiff::Timestamp,
        limit: u32,
        owner: uuid::Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<ClaimedTimer>, StoreError> {
        self.claim_due_timers(Some(community), now, limit, owner, lease_until)
            .await
    }

    async fn release_claims(&self, owner: uuid::Uuid) -> Result<(), StoreError> {
        self.release_timer_claims(owner).await
    }

    async fn idempotency(
        &self,
        caller: uuid::Uuid,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.idempotency_record(caller, key).await
    }

    async fn earned(
        &self,
        person: uuid::Uuid,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<workflow_core::credit::Earned, StoreError> {
        self.earned_between(person, from, to).await
    }

    async fn time_bank(
        &self,
        community: uuid::Uuid,
    ) -> Result<Option<workflow_core::time_bank::Policy>, StoreError> {
        self.time_bank_of(community).await
    }

    async fn time_state(
        &self,
        ticket: uuid::Uuid,
        person: Option<uuid::Uuid>,
        from: jiff::Timestamp,
        to: jiff::Timestamp,
    ) -> Result<workflow_core::time_bank::State, StoreError> {
        self.time_state_of(ticket, person, from, to).await
    }

    async fn asked_since(
        &self,
        requester: uuid::Uuid,
        since: jiff::Timestamp,
    ) -> Result<(u32, Option<jiff::Timestamp>), StoreError> {
        self.count_asked_since(requester, since).await
    }

    async fn person(&self, id: uuid::Uuid) -> Result<Option<PersonRef>, StoreError> {
        self.person_ref(id).await
    }

    async fn record_contact_read(&self, read: &ContactRead) -> Result<(), StoreError> {
        self.insert_contact_read(read).await
    }

    async fn team(&self, id: uuid::Uuid) -> Result<Option<TeamRef>, StoreError> {
        self.team_ref(id).await
    }

    async fn dispatch_facts(
        &self,
        ticket: &workflow_core::Ticket,
        since: jiff::Timestamp,
    ) -> Result<DispatchFacts, StoreError> {
        self.gather_dispatch_facts(ticket, since).await
    }

    async fn locate(&self, building_id: uuid::Uuid) -> Result<Option<Location>, StoreError> {
        self.building_location(building_id).await
    }

    async fn claim_outbox(
        &self,
        now: jiff::Timestamp,
        limit: u32,
        owner: uuid::Uuid,
        lease_until: jiff::Timestamp,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        self.claim_outbox_rows(now, limit, owner, lease_until).await
    }

    async fn outbox_delivered(
        &self,
        id: uuid::Uuid,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        self.mark_outbox_delivered(id, at).await
    }

    async fn outbox_failed(
        &self,
        id: uuid::Uuid,
        error: &str,
        retry_at: Option<jiff::Timestamp>,
    ) -> Result<(), StoreError> {
        self.mark_outbox_failed(id, error, retry_at).await
    }
}

/// Instants are stored as Unix microseconds (UTC).
pub(crate) fn us(t: jiff::Timestamp) -> i64 {
    t.as_microsecond()
}

pub(crate) fn from_us(v: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(v).unwrap_or(jiff::Timestamp::MAX)
}
