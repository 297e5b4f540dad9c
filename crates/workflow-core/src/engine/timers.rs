//! Due timers: claimed, fired on whatever each ticket is now, several tickets at once.

use super::*;

impl Engine {
    /// Claims and fires up to `limit` due timers as `owner`, earliest first, each in its own
    /// transaction with its deletion. A timer whose ticket moved between load and write is
    /// decided again on the ticket as it now is.
    pub async fn fire_due(
        &self,
        owner: Uuid,
        limit: u32,
        lease: SignedDuration,
    ) -> Result<Fired, EngineError> {
        self.fire_due_within(None, owner, limit, lease).await
    }

    /// [`Engine::fire_due`] of one community's timers.
    pub async fn fire_due_in(
        &self,
        community: Uuid,
        owner: Uuid,
        limit: u32,
        lease: SignedDuration,
    ) -> Result<Fired, EngineError> {
        self.fire_due_within(Some(community), owner, limit, lease)
            .await
    }

    async fn fire_due_within(
        &self,
        community: Option<Uuid>,
        owner: Uuid,
        limit: u32,
        lease: SignedDuration,
    ) -> Result<Fired, EngineError> {
        let now = self.clock.now();
        let lease_until = now.checked_add(lease).unwrap_or(Timestamp::MAX);
        let claimed = match community {
            Some(c) => {
                self.store
                    .claim_due_in(c, now, limit, owner, lease_until)
                    .await?
            }
            None => self.store.claim_due(now, limit, owner, lease_until).await?,
        };
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
            // Read within the timer's community: the ticket is there, and a store partitioned
            // by community reads that one partition.
            let Some(ticket) = self
                .store
                .ticket(timer.ticket_id, &Scope::Community(timer.community_id))
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
                TimerKey::State(action) => {
                    let credit = self.credit_context(wf, &ticket, action).await?;
                    decide_firing_with(wf, &ticket, &firing, self.clock.now(), &credit)?
                }
                _ => decide_firing_with(
                    wf,
                    &ticket,
                    &firing,
                    self.clock.now(),
                    &CreditContext::default(),
                )?,
            };
            let decision = match decision {
                Some(d) => Some(self.banked(d).await?),
                None => None,
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
}
