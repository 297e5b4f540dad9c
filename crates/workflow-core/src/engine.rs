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
use crate::decide::{decide, decide_auto_dispatch, decide_firing, decide_submission};
use crate::definition::{Catalog, Workflow, WorkflowKey};
use crate::dispatch::{self, Need, RECENT_DAYS, Ranked};
use crate::event::Event;
use crate::migrate::{MigrationPlan, Move, decide_migration};
use crate::role::Role;
use crate::store::*;
use crate::ticket::{Assignee, Ticket, Urgency};

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
        }
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

    /// A resident's request (点单), or one entered for a resident (代办). With an
    /// idempotency key, a retry of the same request gets the first answer; the same key with
    /// a different request is refused.
    pub async fn submit(
        &self,
        principal: &Principal,
        new: &NewRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Ticket, EngineError> {
        let intake = principal.intake(&new.asked, new.door)?;
        let actor = &principal.actor();
        let admitted = Admitted {
            category: &new.category,
            urgency: new.urgency,
            description: &new.description,
            channel: &intake.channel,
            building_id: intake.building_id,
            on_behalf_of: intake.on_behalf_of,
        };
        let request_hash = crate::hash::sha256_hex(
            serde_json::to_string(&admitted)
                .expect("requests serialise")
                .as_bytes(),
        );
        if let Some(key) = idempotency_key
            && let Some(done) = self.replay_idempotent(actor.id, key, &request_hash).await?
        {
            return Ok(done);
        }
        let category = self
            .catalog
            .category(&new.category)
            .ok_or_else(|| CommandError::UnknownCategory(new.category.clone()))?;
        let wf = self
            .catalog
            .latest(&category.workflow)
            .ok_or_else(|| EngineError::WorkflowMissing(category.workflow.clone()))?;
        let resident = match intake.on_behalf_of {
            Some(resident) => Some(self.resident_for(principal, resident).await?),
            None => None,
        };
        // Entered for a resident: where help is needed defaults to their home.
        let building = intake
            .building_id
            .or(resident.as_ref().and_then(|r| r.home_building_id))
            .ok_or(EngineError::Invalid {
                field: "building_id",
                reason: "required: there is no home building on record".into(),
            })?;
        let place = self
            .store
            .locate(building)
            .await?
            .ok_or(EngineError::Invalid {
                field: "building_id",
                reason: "no branch covers this building".into(),
            })?;
        let requester = resident.map_or(actor.id, |r| r.id);
        let sub = Submission {
            id: Uuid::now_v7(),
            category: new.category.clone(),
            urgency: new.urgency,
            description: new.description.clone(),
            channel: intake.channel,
            requester,
            community_id: place.community_id,
            branch_id: place.branch_id,
            building_id: Some(place.building_id),
        };
        let decision = decide_submission(wf, actor, &sub, self.clock.now())?;
        let record = idempotency_key.map(|key| IdempotencyRecord {
            caller: actor.id,
            key: key.to_owned(),
            request_hash: request_hash.clone(),
            ticket_id: decision.ticket.id,
            response: serde_json::to_string(&decision.ticket).expect("tickets serialise"),
        });
        match self.store.apply(&decision, record.as_ref()).await {
            Ok(()) => {}
            // A concurrent retry with the same key won the race: answer as it did.
            Err(StoreError::IdempotencyMismatch(key)) => {
                return self
                    .replay_idempotent(actor.id, &key, &request_hash)
                    .await?
                    .ok_or(EngineError::IdempotencyMismatch);
            }
            Err(e) => return Err(e.into()),
        }
        self.signal(&decision);
        Ok(decision.ticket)
    }

    async fn replay_idempotent(
        &self,
        caller: Uuid,
        key: &str,
        hash: &str,
    ) -> Result<Option<Ticket>, EngineError> {
        match self.store.idempotency(caller, key).await? {
            None => Ok(None),
            Some(rec) if rec.request_hash == hash => Ok(Some(
                serde_json::from_str(&rec.response)
                    .map_err(|e| StoreError::Other(e.to_string()))?,
            )),
            Some(_) => Err(EngineError::IdempotencyMismatch),
        }
    }

    /// A workflow action on a ticket the caller can see. `expected_version` defaults to the
    /// version just loaded (a client that does not send one accepts last-writer-wins only
    /// between its own read and write, never across them).
    pub async fn act(
        &self,
        actor: &Actor,
        scope: &Scope,
        ticket_id: Uuid,
        action: &str,
        expected_version: Option<u64>,
        fields: Fields,
    ) -> Result<Ticket, EngineError> {
        let ticket = match expected_version {
            Some(v) => self.store.ticket_at(ticket_id, scope, v).await?,
            None => self.store.ticket(ticket_id, scope).await?,
        }
        .ok_or(EngineError::NotFound)?;
        let wf = self
            .catalog
            .workflow(&ticket.workflow_id, ticket.workflow_version)
            .ok_or_else(|| {
                EngineError::WorkflowMissing(format!(
                    "{}@{}",
                    ticket.workflow_id, ticket.workflow_version
                ))
            })?;
        if let Some(a) = fields.assignee {
            self.check_assignee(&ticket, a).await?;
        }
        let act = Act {
            action: action.to_owned(),
            expected_version: expected_version.unwrap_or(ticket.version),
            fields,
        };
        if let Some(rule) = &wf.merging
            && (act.action == rule.merge || act.action == rule.unmerge)
        {
            return self.act_on_link(wf, ticket, actor, scope, &act).await;
        }
        let stale = |actual: Option<u64>| CommandError::StaleVersion {
            expected: act.expected_version,
            actual: actual.unwrap_or(act.expected_version + 1),
        };
        let decision = match decide(wf, ticket, actor, &act, self.clock.now()) {
            Ok(d) => d,
            // A ticket remembered rather than read may be behind the stored one: a caller
            // whose version is stale hears of the conflict, not of a state the ticket left.
            Err(e) if expected_version.is_some() => {
                let stored = self.store.ticket(ticket_id, scope).await?;
                return Err(match stored.map(|t| t.version) {
                    None => EngineError::NotFound,
                    Some(v) if v == act.expected_version => e.into(),
                    actual => stale(actual).into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        // Requests merged under this one follow it, in the same transaction; one of them
        // changing meanwhile is decided again (the caller's own request is what they saw).
        let (decision_, stale) = (&decision, &stale);
        let attempt = |()| async move {
            let decision = decision_;
            let followers = self.followers(decision).await?;
            let written = if followers.is_empty() {
                self.store.apply(decision, None).await
            } else {
                let mut all = vec![decision.clone()];
                all.extend(followers.iter().cloned());
                self.store.apply_linked(&all).await
            };
            match written {
                Ok(()) => {
                    self.signal(decision);
                    followers.iter().for_each(|d| self.signal(d));
                    Ok(Attempt::Done(()))
                }
                Err(StoreError::Conflict { actual }) if followers.is_empty() => {
                    Err(stale(actual).into())
                }
                Err(StoreError::Conflict { .. }) => {
                    let now = self
                        .store
                        .ticket(decision.ticket.id, &Scope::Everything)
                        .await?;
                    let actual = now.map(|t| t.version);
                    if actual != Some(decision.expected_version) {
                        return Err(stale(actual).into());
                    }
                    Ok(Attempt::Again(()))
                }
                Err(e) => Err(e.into()),
            }
        };
        settle((), attempt, || {
            format!(
                "the requests merged under {} kept changing",
                decision.ticket.id
            )
        })
        .await?;
        Ok(decision.ticket)
    }

    /// What the requests merged under a ticket do now that `d` moved it (并单): each takes
    /// its workflow's `[merging]` action for the parent's new state, with the parent's note.
    async fn followers(&self, d: &Decision) -> Result<Vec<Decision>, EngineError> {
        let moved = d.events.iter().find_map(|e| match &e.kind {
            crate::EventKind::Transitioned {
                stays: false, data, ..
            } => Some(data.note.clone()),
            _ => None,
        });
        let Some(note) = moved.filter(|_| !d.ticket.duplicates.is_empty()) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for id in &d.ticket.duplicates {
            let Some(child) = self.store.ticket(*id, &Scope::Everything).await? else {
                continue;
            };
            let Some(wf) = self
                .catalog
                .workflow(&child.workflow_id, child.workflow_version)
            else {
                continue;
            };
            let now = self.clock.now();
            out.extend(crate::link::decide_follow(
                wf,
                child,
                &d.ticket,
                note.clone(),
                now,
            ));
        }
        Ok(out)
    }

    /// A merge (并单) or an unmerge: the request and its parent change together. The parent
    /// is one the caller can see; its changing meanwhile is decided again.
    async fn act_on_link(
        &self,
        wf: &Workflow,
        ticket: Ticket,
        actor: &Actor,
        scope: &Scope,
        act: &Act,
    ) -> Result<Ticket, EngineError> {
        let rule = wf.merging.as_ref().expect("a link action");
        let parent_id = if act.action == rule.merge {
            act.fields.parent
        } else {
            ticket.parent
        };
        let no_parent = || EngineError::Invalid {
            field: "parent",
            reason: "no request you can see has this id".into(),
        };
        let Some(parent_id) = parent_id else {
            // Nothing to link: the core says what is missing.
            decide(wf, ticket.clone(), actor, act, self.clock.now())?;
            return Err(no_parent());
        };
        let (ticket, no_parent) = (&ticket, &no_parent);
        let attempt = |()| async move {
            let parent = self
                .store
                .ticket(parent_id, scope)
                .await?
                .ok_or_else(no_parent)?;
            let parent_wf = self
                .catalog
                .workflow(&parent.workflow_id, parent.workflow_version)
                .ok_or_else(|| EngineError::WorkflowMissing(parent.workflow_id.clone()))?;
            let parent_version = parent.version;
            let decisions = crate::link::decide_link(
                wf,
                ticket.clone(),
                parent_wf,
                parent,
                actor,
                act,
                self.clock.now(),
            )?;
            match self.store.apply_linked(&decisions).await {
                Ok(()) => {
                    decisions.iter().for_each(|d| self.signal(d));
                    let [child, _] = decisions;
                    Ok(Attempt::Done(child.ticket))
                }
                Err(StoreError::Conflict { .. }) => {
                    let now = self.store.ticket(parent_id, &Scope::Everything).await?;
                    if now.map(|p| p.version) != Some(parent_version) {
                        return Ok(Attempt::Again(()));
                    }
                    let actual = self.store.ticket(ticket.id, &Scope::Everything).await?;
                    Err(CommandError::StaleVersion {
                        expected: act.expected_version,
                        actual: actual.map_or(act.expected_version + 1, |t| t.version),
                    }
                    .into())
                }
                Err(e) => Err(e.into()),
            }
        };
        settle((), attempt, || {
            format!("request {parent_id} kept changing while merging under it")
        })
        .await
    }

    /// The resident a request is entered for, if `proxy` may enter one for them
    /// ([`Principal::may_enter_for`]); someone else gets the same answer as an unknown id.
    async fn resident_for(
        &self,
        proxy: &Principal,
        resident: Uuid,
    ) -> Result<PersonRef, EngineError> {
        match self.store.person(resident).await? {
            Some(r) if proxy.may_enter_for(&r) => Ok(r),
            _ => Err(EngineError::Invalid {
                field: "on_behalf_of",
                reason: "no resident of your community has this id".into(),
            }),
        }
    }

    /// How much of the number of the resident who asked for `t` the reader sees, where the
    /// request is read on its own; a read in full by someone else is recorded first.
    pub async fn read_contact(&self, reader: &Principal, t: &Ticket) -> Result<Shown, EngineError> {
        match reader.contact(t) {
            Contact::Own => Ok(Shown::Full),
            Contact::Masked => Ok(Shown::Masked),
            Contact::Recorded => {
                let read = ContactRead {
                    community_id: t.community_id,
                    person_id: t.requester,
                    reader_id: reader.id,
                    ticket_id: t.id,
                    at: self.clock.now(),
                };
                match self.store.record_contact_read(&read).await {
                    Ok(()) => Ok(Shown::Full),
                    Err(StoreError::Unavailable(_)) => Ok(Shown::Withheld),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }

    /// Only a member of the ticket's community, or one of its teams, may be handed a ticket.
    async fn check_assignee(&self, ticket: &Ticket, a: Assignee) -> Result<(), EngineError> {
        let invalid = |reason: &str| EngineError::Invalid {
            field: "assignee",
            reason: reason.into(),
        };
        match a {
            Assignee::Person(p) => {
                let person = self
                    .store
                    .person(p)
                    .await?
                    .ok_or_else(|| invalid("no such person"))?;
                if !person.active
                    || !person
                        .roles
                        .iter()
                        .any(|r| matches!(r, Role::Member | Role::Secretary))
                {
                    return Err(invalid("this person cannot take requests"));
                }
                if person.community_id != Some(ticket.community_id) {
                    return Err(invalid("this person belongs to another community"));
                }
            }
            Assignee::Team(t) => {
                let team = self
                    .store
                    .team(t)
                    .await?
                    .ok_or_else(|| invalid("no such team"))?;
                if team.community_id != ticket.community_id {
                    return Err(invalid("this team belongs to another community"));
                }
            }
        }
        Ok(())
    }

    /// Volunteers ranked for a ticket the scope may see, best first, with the reasons.
    pub async fn candidates(&self, scope: &Scope, id: Uuid) -> Result<Vec<Ranked>, EngineError> {
        let ticket = self.ticket(scope, id).await?;
        self.rank(&ticket).await
    }

    async fn rank(&self, ticket: &Ticket) -> Result<Vec<Ranked>, EngineError> {
        let now = self.clock.now();
        let since = now
            .checked_sub(SignedDuration::from_hours(24 * RECENT_DAYS))
            .unwrap_or(Timestamp::MIN);
        let facts = self.store.dispatch_facts(ticket, since).await?;
        let skills = self
            .catalog
            .category(&ticket.category)
            .map(|c| c.skills.as_slice())
            .unwrap_or_default();
        let need = Need {
            skills,
            place: facts.place,
            tried: &ticket.tried,
            requester: ticket.requester,
            now,
        };
        Ok(dispatch::rank(&need, &facts.volunteers))
    }

    /// Open requests the caller can see that may be the same as this one (并单): the same
    /// category, asked from the same building or compound within the workflow's `[merging]`
    /// window, and free to take it under them. Same building first, then the nearest in time.
    pub async fn duplicates(
        &self,
        scope: &Scope,
        id: Uuid,
    ) -> Result<Vec<(Ticket, Nearness)>, EngineError> {
        let ticket = self.ticket(scope, id).await?;
        let rule = self
            .catalog
            .workflow(&ticket.workflow_id, ticket.workflow_version)
            .and_then(|wf| wf.merging.as_ref());
        let (Some(rule), Some(building)) = (rule, ticket.building_id) else {
            return Ok(Vec::new());
        };
        let window = SignedDuration::from_secs(rule.window.seconds(86_400));
        let filter = TicketFilter {
            category: Some(ticket.category.clone()),
            open: Some(true),
            created_from: ticket.created_at.checked_sub(window).ok(),
            created_to: ticket.created_at.checked_add(window).ok(),
            ..TicketFilter::default()
        };
        let page = Page {
            after: None,
            limit: 200,
        };
        let mut compounds = std::collections::HashMap::new();
        let mut compound_of = async |b: Uuid| -> Result<Option<Uuid>, EngineError> {
            if let Some(c) = compounds.get(&b) {
                return Ok(*c);
            }
            let c = self.store.locate(b).await?.and_then(|l| l.compound_id);
            compounds.insert(b, c);
            Ok(c)
        };
        let here = compound_of(building).await?;
        let mut found = Vec::new();
        for t in self.store.list(scope, &filter, page).await? {
            let free = t.id != ticket.id
                && t.parent.is_none()
                && t.community_id == ticket.community_id
                && t.workflow_id == ticket.workflow_id
                && rule.follow(&t.state).is_none();
            let Some(theirs) = t.building_id.filter(|_| free) else {
                continue;
            };
            let near = if theirs == building {
                Nearness::SameBuilding
            } else if here.is_some() && compound_of(theirs).await? == here {
                Nearness::SameCompound
            } else {
                continue;
            };
            found.push((t, near));
        }
        let apart = |t: &Ticket| (t.created_at.as_second() - ticket.created_at.as_second()).abs();
        found.sort_by_key(|(t, near)| (*near, apart(t)));
        Ok(found)
    }

    pub async fn ticket(&self, scope: &Scope, id: Uuid) -> Result<Ticket, EngineError> {
        self.store
            .ticket(id, scope)
            .await?
            .ok_or(EngineError::NotFound)
    }

    /// The audit trail of a ticket the caller can see.
    pub async fn events(&self, scope: &Scope, id: Uuid) -> Result<Vec<Event>, EngineError> {
        self.ticket(scope, id).await?;
        Ok(self.store.events(id).await?)
    }

    pub async fn list(
        &self,
        scope: &Scope,
        filter: &TicketFilter,
        page: Page,
    ) -> Result<Vec<Ticket>, EngineError> {
        Ok(self.store.list(scope, filter, page).await?)
    }

    /// Claims and fires up to `limit` due timers as `owner`, earliest first, each in its own
    /// transaction with its deletion. A timer whose ticket moved between load and write is
    /// decided again on the ticket as it now is.
    pub async fn fire_due(
        &self,
        owner: Uuid,
        limit: u32,
        lease: SignedDuration,
    ) -> Result<Fired, EngineError> {
        let now = self.clock.now();
        let lease_until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let claimed = self.store.claim_due(now, limit, owner, lease_until).await?;
        let mut out = Fired {
            claimed: claimed.len(),
            ..Fired::default()
        };
        // In parallel: one group per ticket (its timers in due order), groups in the order
        // of their first timer. Alone: every timer in due order.
        let mut groups: Vec<Vec<&ClaimedTimer>> = Vec::new();
        for timer in &claimed {
            let same_ticket = match self.timer_parallelism {
                1 => None,
                _ => groups
                    .iter_mut()
                    .find(|g| g[0].ticket_id == timer.ticket_id),
            };
            match same_ticket {
                Some(g) => g.push(timer),
                None => groups.push(vec![timer]),
            }
        }
        let firings: Vec<_> = groups.into_iter().map(|g| self.fire_group(g)).collect();
        let mut results = stream::iter(firings).buffered(self.timer_parallelism);
        while let Some(outcomes) = results.next().await {
            for (kind, outcome) in outcomes? {
                match outcome {
                    Some(true) => {
                        out.fired += 1;
                        *out.by_kind.entry(kind).or_default() += 1;
                    }
                    Some(false) => out.discarded += 1,
                    None => out.lost += 1,
                }
            }
        }
        Ok(out)
    }

    /// One ticket's timers, one after another in due order.
    async fn fire_group(
        &self,
        group: Vec<&ClaimedTimer>,
    ) -> Result<Vec<(&'static str, Option<bool>)>, EngineError> {
        let mut outcomes = Vec::with_capacity(group.len());
        for timer in group {
            outcomes.push((timer.key.kind(), self.fire_one(timer).await?));
        }
        Ok(outcomes)
    }

    /// `Some(true)`: fired with effect; `Some(false)`: discarded; `None`: lost to another.
    async fn fire_one(&self, timer: &ClaimedTimer) -> Result<Option<bool>, EngineError> {
        let attempt = |()| async move {
            let Some(ticket) = self
                .store
                .ticket(timer.ticket_id, &Scope::Everything)
                .await?
            else {
                self.store.fire(timer, None).await.ok();
                return Ok(Attempt::Done(Some(false)));
            };
            let Some(wf) = self
                .catalog
                .workflow(&ticket.workflow_id, ticket.workflow_version)
            else {
                return Err(EngineError::WorkflowMissing(format!(
                    "{}@{}",
                    ticket.workflow_id, ticket.workflow_version
                )));
            };
            let firing = Firing {
                key: timer.key.clone(),
                due_at: timer.due_at,
                epoch: timer.epoch,
            };
            let decision = match &firing.key {
                TimerKey::AutoDispatch(_) => {
                    let pick = dispatch::best(&self.rank(&ticket).await?).map(Assignee::Person);
                    decide_auto_dispatch(wf, &ticket, &firing, pick, self.clock.now())?
                }
                _ => decide_firing(wf, &ticket, &firing, self.clock.now())?,
            };
            // Requests merged under the ticket follow what the timer did, as they follow a
            // person's action (a workflow's timer that cancels a request releases them).
            let followers = match &decision {
                Some(d) => self.followers(d).await?,
                None => Vec::new(),
            };
            let written = match &decision {
                Some(d) if !followers.is_empty() => {
                    let mut all = vec![d.clone()];
                    all.extend(followers.iter().cloned());
                    self.store.fire_linked(timer, &all).await
                }
                _ => self.store.fire(timer, decision.as_ref()).await,
            };
            match written {
                Ok(()) => {
                    if let Some(d) = &decision {
                        self.signal(d);
                    }
                    followers.iter().for_each(|d| self.signal(d));
                    Ok(Attempt::Done(Some(decision.is_some())))
                }
                Err(StoreError::TimerGone) => Ok(Attempt::Done(None)),
                Err(StoreError::Conflict { .. }) => Ok(Attempt::Again(())),
                Err(e) => Err(e.into()),
            }
        };
        settle((), attempt, || {
            format!(
                "timer {} of ticket {} kept conflicting",
                timer.key, timer.ticket_id
            )
        })
        .await
    }

    /// Moves the open requests of `from` to `to` by `plan` (checked first: an unmapped state
    /// refuses the whole run), or with `apply` false only says what it would move. Each
    /// request moves alone, with its version checked: one changed meanwhile is decided again.
    pub async fn migrate(
        &self,
        from: &WorkflowKey,
        to: &WorkflowKey,
        plan: &MigrationPlan,
        apply: bool,
    ) -> Result<Vec<Move>, EngineError> {
        let find = |k: &WorkflowKey| {
            self.catalog
                .workflow(&k.id, k.version)
                .ok_or_else(|| EngineError::WorkflowMissing(k.to_string()))
        };
        let (old, new) = (find(from)?, find(to)?);
        let problems = plan.check(old, new);
        if !problems.is_empty() {
            return Err(EngineError::Invalid {
                field: "plan",
                reason: problems.join("; "),
            });
        }
        let filter = TicketFilter {
            open: Some(true),
            workflow: Some(from.clone()),
            ..TicketFilter::default()
        };
        let mut moved = Vec::new();
        let mut after = None;
        loop {
            let page = Page { after, limit: 500 };
            let tickets = self.store.list(&Scope::Everything, &filter, page).await?;
            let Some(last) = tickets.last() else { break };
            after = Some(last.id);
            for ticket in tickets {
                if let Some(m) = self.migrate_one(old, new, plan, ticket, apply).await? {
                    moved.push(m);
                }
            }
        }
        Ok(moved)
    }

    async fn migrate_one(
        &self,
        old: &Workflow,
        new: &Workflow,
        plan: &MigrationPlan,
        ticket: Ticket,
        apply: bool,
    ) -> Result<Option<Move>, EngineError> {
        let id = ticket.id;
        let attempt = |ticket: Ticket| async move {
            let Some((decision, report)) =
                decide_migration(old, new, plan, &ticket, self.clock.now())
            else {
                return Ok(Attempt::Done(None));
            };
            if !apply {
                return Ok(Attempt::Done(Some(report)));
            }
            match self.store.apply(&decision, None).await {
                Ok(()) => {
                    self.signal(&decision);
                    Ok(Attempt::Done(Some(report)))
                }
                Err(StoreError::Conflict { .. }) => {
                    match self.store.ticket(ticket.id, &Scope::Everything).await? {
                        Some(now) => Ok(Attempt::Again(now)),
                        None => Ok(Attempt::Done(None)),
                    }
                }
                Err(e) => Err(e.into()),
            }
        };
        settle(ticket, attempt, || {
            format!("ticket {id} kept changing while it was being moved")
        })
        .await
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
