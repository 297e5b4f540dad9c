//! Submissions: who may enter a request for whom and where (the access policy decides),
//! and the same submission sent again under one idempotency key.

use super::*;

impl Engine {
    /// A resident's request (点单), or one entered for a resident (代办). With an
    /// idempotency key, a retry of the same request gets the first answer; the same key with
    /// a different request is refused.
    pub async fn submit(
        &self,
        principal: &Principal,
        new: &NewRequest,
        idempotency_key: Option<&str>,
    ) -> Result<Ticket, EngineError> {
        self.submit_paying(principal, new, idempotency_key, 0).await
    }

    /// A request paid with `pay_minutes` of the resident's time bank hours (时间银行), set
    /// aside in the same transaction as the submission (none: an ordinary request). Only a
    /// resident asking for themself pays, in a community that runs a time bank; a balance
    /// that cannot cover it refuses the request.
    pub async fn submit_paying(
        &self,
        principal: &Principal,
        new: &NewRequest,
        idempotency_key: Option<&str>,
        pay_minutes: i64,
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
            pay_minutes,
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
        if intake.on_behalf_of.is_none() {
            self.within_daily_limit(actor.id).await?;
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
        principal.may_place_in(place.community_id)?;
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
            hotline: None,
        };
        let mut decision = decide_submission(wf, actor, &sub, self.clock.now())?;
        if pay_minutes > 0 {
            let bank = self.store.time_bank(place.community_id).await?;
            decision.time.push(crate::time_bank::paying(
                &decision.ticket,
                pay_minutes,
                intake.on_behalf_of.is_some(),
                bank.as_ref(),
            )?);
        }
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

    /// Refuses a person's request past the daily limit, saying when the oldest of the day's
    /// requests leaves the window (a retry before then is refused again). Counted against
    /// what is committed: requests sent at the same instant for the last place may all pass,
    /// which a limit against floods can bear.
    async fn within_daily_limit(&self, person: Uuid) -> Result<(), EngineError> {
        let Some(limit) = self.daily_requests else {
            return Ok(());
        };
        let now = self.clock.now();
        let day = SignedDuration::from_hours(24);
        let (asked, first) = self.store.asked_since(person, now - day).await?;
        if asked < limit {
            return Ok(());
        }
        let free_at = first.map_or(now + day, |f| f + day);
        Err(EngineError::TooManyToday {
            limit,
            retry_after_secs: free_at.duration_since(now).as_secs().max(1) as u64,
        })
    }
}
