//! Erasure and retention as writes: histories anonymised by the core
//! ([`workflow_core::erase`]) rewritten with the projection their replay gives, a person's
//! record emptied of who they are. Counts, states, deadlines, ratings and hours are not
//! touched: every figure reads the same after as before.

use jiff::Timestamp;
use uuid::Uuid;
use workflow_core::erase::{self, Whose};
use workflow_core::store::{Page, Scope, Store, StoreError, TicketFilter};
use workflow_core::{Event, Ticket};

use crate::error::from_sqlx;
use crate::{SqlStore, us};

/// What an erasure changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Erased {
    pub tickets: u64,
    pub texts: u64,
    pub photos: u64,
}

/// A person's record once erased.
pub const ERASED_NAME: &str = "已注销";

impl SqlStore {
    /// Anonymises one ticket's history for `whose`, if it has anything of theirs; whether
    /// it did. Written at the version read: a ticket that moved meanwhile is read again.
    async fn anonymise_ticket(&self, id: Uuid, whose: Whose) -> Result<u64, StoreError> {
        for _ in 0..5 {
            let Some(ticket) = self.ticket(id, &Scope::Everything).await? else {
                return Ok(0);
            };
            let mut events = self.events(id).await?;
            let changed = erase::anonymise(&mut events, whose) as u64;
            if changed == 0 {
                return Ok(0);
            }
            let replayed = Ticket::replay(&events)
                .map_err(|e| StoreError::Other(format!("ticket {id}: {e}")))?;
            if self.rewrite(&replayed, ticket.version, &events).await? {
                return Ok(changed);
            }
        }
        Err(StoreError::Conflict { actual: None })
    }

    /// Writes `events`' bodies and the ticket's, if the ticket is still at `version`.
    async fn rewrite(
        &self,
        ticket: &Ticket,
        version: u64,
        events: &[Event],
    ) -> Result<bool, StoreError> {
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let r = sqlx::query("UPDATE tickets SET body = $1 WHERE id = $2 AND version = $3")
                .bind(crate::ticket_rows::body(ticket))
                .bind(ticket.id)
                .bind(version as i64)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            if r.rows_affected() == 0 {
                return Ok(false);
            }
            for e in events {
                sqlx::query("UPDATE events SET body = $1 WHERE ticket_id = $2 AND seq = $3")
                    .bind(crate::event_rows::body(e))
                    .bind(e.ticket_id)
                    .bind(e.seq as i64)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(true)
        })
    }

    /// How many requests a person asked for and holds that are still open.
    pub async fn open_for(&self, person: Uuid) -> Result<(usize, usize), StoreError> {
        let open = |assignee| TicketFilter {
            open: Some(true),
            assignee,
            ..TicketFilter::default()
        };
        let page = Page {
            after: None,
            limit: 100,
        };
        let asked = self
            .list(&Scope::Requester(person), &open(None), page)
            .await?
            .len();
        let held = self
            .list(&Scope::Everything, &open(Some(person)), page)
            .await?
            .len();
        Ok((asked, held))
    }

    /// Erases a person (PIPL art. 47): their words on every request anonymised, their
    /// photos deleted, their record emptied (name, phone, home, skills) and disabled, their
    /// tokens and codes ended. Irreversible. The caller checks they may
    /// (`Principal::may_look_after`) and that nothing of theirs is open ([`erase::ready`]).
    pub async fn erase_person(&self, person: Uuid, now: Timestamp) -> Result<Erased, StoreError> {
        let tickets: Vec<Uuid> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT id FROM tickets WHERE requester_id = $1 \
                 UNION SELECT ticket_id FROM events WHERE actor_id = $1",
            )
            .bind(person)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        let mut erased = Erased::default();
        for id in tickets {
            let texts = self.anonymise_ticket(id, Whose::Person(person)).await?;
            if texts > 0 {
                erased.tickets += 1;
                erased.texts += texts;
            }
        }
        erased.photos = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let photos = sqlx::query("DELETE FROM photos WHERE uploaded_by = $1")
                .bind(person)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?
                .rows_affected();
            sqlx::query(
                "UPDATE people SET name = $2, phone = NULL, home_building_id = NULL, skills = '[]', \
                 active = FALSE WHERE id = $1",
            )
            .bind(person)
            .bind(ERASED_NAME)
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            // Certificates issued stay genuine (their totals are the community's record), with
            // the name gone as everywhere else.
            sqlx::query("UPDATE certificates SET name = $2 WHERE person_id = $1")
                .bind(person)
                .bind(ERASED_NAME)
                .execute(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            // Their report-ins and the feedback sheets signed with them keep the work unit's
            // record (who served is a number now), without their name or phone.
            for statement in [
                "UPDATE report_ins SET name = $2, phone = NULL WHERE person_id = $1",
                "UPDATE feedback_lines SET name = $2 WHERE person_id = $1",
            ] {
                sqlx::query(statement)
                    .bind(person)
                    .bind(ERASED_NAME)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            for statement in [
                "UPDATE tokens SET revoked_at_us = $2 WHERE person_id = $1 AND revoked_at_us IS NULL",
                "UPDATE sign_in_codes SET used_at_us = $2 WHERE person_id = $1 AND used_at_us IS NULL",
                "UPDATE sign_in_requests SET handled_at_us = $2 WHERE person_id = $1 AND handled_at_us IS NULL",
            ] {
                sqlx::query(statement)
                    .bind(person)
                    .bind(us(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok::<_, StoreError>(photos)
        })?;
        self.remembered.forget_all();
        Ok(erased)
    }

    /// Retention: every word written on requests closed before `cutoff` anonymised, and
    /// their photos deleted; each ticket once (`anonymised_at_us`). How many tickets.
    pub async fn anonymise_closed_before(
        &self,
        cutoff: Timestamp,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let due: Vec<Uuid> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT id FROM tickets WHERE terminal AND updated_at_us < $1 \
                 AND anonymised_at_us IS NULL ORDER BY id LIMIT 10000",
            )
            .bind(us(cutoff))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        for id in &due {
            self.anonymise_ticket(*id, Whose::Everyone).await?;
            with_pool!(self, pool, {
                let mut tx = pool.begin().await.map_err(from_sqlx)?;
                sqlx::query("DELETE FROM photos WHERE ticket_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                sqlx::query("UPDATE tickets SET anonymised_at_us = $2 WHERE id = $1")
                    .bind(id)
                    .bind(us(now))
                    .execute(&mut *tx)
                    .await
                    .map_err(from_sqlx)?;
                tx.commit().await.map_err(from_sqlx)
            })?;
        }
        Ok(due.len() as u64)
    }
}
