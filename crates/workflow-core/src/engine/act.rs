//! Actions on a ticket: decided on the ticket as the caller may see it, the linked tickets'
//! sides applied together, and the assignee a dispatch names checked.

use super::*;

impl Engine {
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
        let credit = self.credit_context(wf, &ticket, &act.action).await?;
        let decision = match decide_with(wf, ticket, actor, &act, self.clock.now(), &credit) {
            Ok(d) => self.banked(d).await?,
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
        // Requests merged under this one follow it, and the parent of one that leaves lets go
        // of it, in the same transaction; one of them changing meanwhile is decided again
        // (the caller's own request is what they saw).
        let (decision_, stale) = (&decision, &stale);
        let attempt = |()| async move {
            let decision = decision_;
            let mut followers = self.followers(decision).await?;
            followers.extend(self.parent_letting_go(wf, decision).await?);
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
    pub(super) async fn followers(&self, d: &Decision) -> Result<Vec<Decision>, EngineError> {
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
            if let Some(follow) =
                crate::link::decide_follow(wf, child, &d.ticket, note.clone(), now)
            {
                out.push(self.banked(follow).await?);
            }
        }
        Ok(out)
    }

    /// The parent's side of a request merged under it that left by its own action (its
    /// resident cancelled it): the parent no longer lists it.
    async fn parent_letting_go(
        &self,
        wf: &Workflow,
        d: &Decision,
    ) -> Result<Option<Decision>, EngineError> {
        let Some(parent_id) = d.ticket.parent else {
            return Ok(None);
        };
        let Some(parent) = self.store.ticket(parent_id, &Scope::Everything).await? else {
            return Ok(None);
        };
        let Some(parent_wf) = self
            .catalog
            .workflow(&parent.workflow_id, parent.workflow_version)
        else {
            return Ok(None);
        };
        Ok(crate::link::decide_leaving(
            wf,
            d,
            parent_wf,
            parent,
            self.clock.now(),
        ))
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
        // Who may link comes first: a caller without the role hears that, not of a parent
        // they never named or cannot see.
        crate::decide::may_take(wf, &ticket, actor, &act.action)?;
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

    /// Today in the deployment's zone, from its first instant to the next day's: what daily
    /// caps count in. (A day the zone cannot name, at the ends of time, is empty.)
    fn today(&self) -> (jiff::Timestamp, jiff::Timestamp) {
        let now = self.clock.now();
        let today = now.to_zoned(self.catalog.time_zone());
        match (
            today.start_of_day(),
            today.tomorrow().and_then(|t| t.start_of_day()),
        ) {
            (Ok(from), Ok(to)) => (from.timestamp(), to.timestamp()),
            _ => (now, now),
        }
    }

    /// `d` with what it moves in its community's time bank (时间银行), if the community runs
    /// one and `d` credits someone or ends the request: what the ledger says now of the
    /// request's hold and of the credited volunteer is read, and the core decides
    /// ([`crate::time_bank::on_decision`]). The store writes the movements with `d`, refusing
    /// any an account cannot cover.
    pub(super) async fn banked(&self, mut d: Decision) -> Result<Decision, EngineError> {
        let credited = d.events.iter().find_map(|e| match &e.kind {
            crate::EventKind::Transitioned {
                credit: Some(c), ..
            } => Some(c.person),
            _ => None,
        });
        let ends = d.events.iter().any(|e| {
            matches!(
                &e.kind,
                crate::EventKind::Transitioned { terminal: true, .. }
            )
        });
        if credited.is_none() && !ends {
            return Ok(d);
        }
        let Some(policy) = self.store.time_bank(d.ticket.community_id).await? else {
            return Ok(d);
        };
        let (from, to) = self.today();
        let state = self
            .store
            .time_state(d.ticket.id, credited, from, to)
            .await?;
        let moves = crate::time_bank::on_decision(&d, &policy, &state);
        d.time.extend(moves);
        Ok(d)
    }

    /// What a crediting action's daily caps and doubts need beyond the ticket: the holder's
    /// credits earlier today (in the deployment's zone) and when they took the request and
    /// reported it done. Only what the workflow's rule asks for is read: nothing for an
    /// action that credits nobody, or under a rule without caps or doubts.
    pub(super) async fn credit_context(
        &self,
        wf: &Workflow,
        ticket: &Ticket,
        action: &str,
    ) -> Result<CreditContext, EngineError> {
        let rule = wf
            .credit
            .as_ref()
            .filter(|r| r.on.iter().any(|a| a == action));
        let holder = ticket.assignee.and_then(Assignee::person);
        let (Some(rule), Some(person)) = (rule, holder) else {
            return Ok(CreditContext::default());
        };
        let mut cx = CreditContext::default();
        if rule.daily_minutes.is_some() || rule.daily_points.is_some() {
            let (from, to) = self.today();
            cx.earned_today = self.store.earned(person, from, to).await?;
        }
        if rule.question_under_secs.is_some() {
            let events = self.store.events(ticket.id).await?;
            cx.work_span = crate::credit::work_span(&events, person);
        }
        Ok(cx)
    }
}
