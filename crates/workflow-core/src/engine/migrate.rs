//! Moving open tickets to a newer workflow version by a checked plan.

use super::*;

impl Engine {
    /// Moves the open requests of `from` to `to` by `plan` (checked first: an unmapped state
    /// refuses the whole run), or with `apply` false only says what it would move. Each
    /// request moves alone, with its version checked: one changed meanwhile is decided again.
    /// `progress` hears how many open requests of `from` were looked at, page by page.
    pub async fn migrate(
        &self,
        from: &WorkflowKey,
        to: &WorkflowKey,
        plan: &MigrationPlan,
        apply: bool,
        progress: &mut (dyn FnMut(u64) + Send),
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
        let mut looked_at = 0;
        loop {
            let page = Page { after, limit: 500 };
            let tickets = self.store.list(&Scope::Everything, &filter, page).await?;
            let Some(last) = tickets.last() else { break };
            after = Some(last.id);
            looked_at += tickets.len() as u64;
            for ticket in tickets {
                if let Some(m) = self.migrate_one(old, new, plan, ticket, apply).await? {
                    moved.push(m);
                }
            }
            progress(looked_at);
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
}
