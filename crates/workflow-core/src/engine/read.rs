//! Reads within a scope: a ticket, its events, a page of a list, dispatch candidates,
//! likely duplicates, and a contact shown as the reader may see it (and recorded).

use super::*;

impl Engine {
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

    /// Volunteers ranked for a ticket the scope may see, best first, with the reasons.
    pub async fn candidates(&self, scope: &Scope, id: Uuid) -> Result<Vec<Ranked>, EngineError> {
        let ticket = self.ticket(scope, id).await?;
        self.rank(&ticket).await
    }

    pub(super) async fn rank(&self, ticket: &Ticket) -> Result<Vec<Ranked>, EngineError> {
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
}
