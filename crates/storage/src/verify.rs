//! Checking a database, and copying one: `linli verify`, `linli backup`, `linli restore`.
//!
//! A database is sound when the file is (SQLite's `integrity_check`), every migration this
//! build carries is recorded as applied, every ticket's stored projection is what its events
//! replay to (the core's fold, [`workflow_core::Ticket::replay`]), the ledger holds exactly
//! the credits its tickets' events made, no more, no less, and the time bank's double-entry
//! ledger balances ([`SqlStore::check_time_ledger`]).

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;
use workflow_core::event::EventKind;
use workflow_core::store::{Page, Scope, Store, StoreError, TicketFilter};
use workflow_core::{Event, Ticket};

use crate::error::from_sqlx;
use crate::{Backend, SqlStore};

/// What a check found: how much it read, and every problem, one line each.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub tickets: u64,
    pub events: u64,
    pub ledger_entries: u64,
    /// The time bank's entries (时间银行: two per movement).
    pub time_entries: u64,
    pub problems: Vec<String>,
}

/// How far a long check has got: `done` of `total` tickets.
pub type Progress<'a> = &'a mut (dyn FnMut(u64, u64) + Send);

const PAGE: u32 = 500;

impl SqlStore {
    /// Checks the whole database ([module docs](self)); `progress` hears of each page of
    /// tickets checked. A ticket written while it is read is read again before it is
    /// called wrong (a live database can be verified).
    pub async fn verify(&self, progress: Progress<'_>) -> Result<Report, StoreError> {
        let mut report = Report::default();
        self.check_file(&mut report).await?;
        if !self.migrations_applied().await? {
            report
                .problems
                .push("migrations: not every migration of this build is applied".into());
        }
        let total = self.ticket_count().await?;
        let ledger = self.ledger_credits().await?;
        report.ledger_entries = ledger.values().map(|c| c.entries).sum();
        let mut credited: BTreeMap<Uuid, Credits> = BTreeMap::new();
        let mut after = None;
        loop {
            let page = self
                .list(
                    &Scope::Everything,
                    &TicketFilter::default(),
                    Page { after, limit: PAGE },
                )
                .await?;
            for stored in &page {
                let (events, problem) = self.check_ticket(stored).await?;
                report.problems.extend(problem);
                report.events += events.len() as u64;
                let credits = credits_of(&events);
                if credits.entries > 0 {
                    credited.insert(stored.id, credits);
                }
            }
            report.tickets += page.len() as u64;
            progress(report.tickets, total.max(report.tickets));
            match page.last() {
                Some(last) if page.len() == PAGE as usize => after = Some(last.id),
                _ => break,
            }
        }
        for (ticket, expected) in &credited {
            let found = ledger.get(ticket).copied().unwrap_or_default();
            if found != *expected {
                report.problems.push(format!(
                    "ledger: ticket {ticket}: its events credit {expected}, the ledger holds {found}"
                ));
            }
        }
        for (ticket, found) in ledger.iter().filter(|(t, _)| !credited.contains_key(t)) {
            report.problems.push(format!(
                "ledger: ticket {ticket}: {found} in the ledger that no event of it credits"
            ));
        }
        let bank = self.check_time_ledger().await?;
        report.time_entries = bank.entries as u64;
        report
            .problems
            .extend(bank.problems.into_iter().map(|p| format!("time bank: {p}")));
        Ok(report)
    }

    /// A ticket's events, and what is wrong if its projection is not what they replay to
    /// (read twice before saying so).
    async fn check_ticket(
        &self,
        stored: &Ticket,
    ) -> Result<(Vec<Event>, Option<String>), StoreError> {
        let mut ticket = stored.clone();
        for attempt in 0..2 {
            let events = self.events(ticket.id).await?;
            match Ticket::replay(&events) {
                Ok(replayed) if replayed == ticket => return Ok((events, None)),
                outcome if attempt == 1 => {
                    let problem = match outcome {
                        Ok(replayed) => format!(
                            "ticket {}: stored at version {} in state {:?}, its {} events replay to version {} in state {:?}{}",
                            ticket.id,
                            ticket.version,
                            ticket.state,
                            events.len(),
                            replayed.version,
                            replayed.state,
                            if replayed.state == ticket.state && replayed.version == ticket.version
                            {
                                " (other fields differ)"
                            } else {
                                ""
                            }
                        ),
                        Err(e) => format!("ticket {}: its events do not replay: {e}", ticket.id),
                    };
                    return Ok((events, Some(problem)));
                }
                _ => {
                    // Written meanwhile? Read it again.
                    match self.ticket(ticket.id, &Scope::Everything).await? {
                        Some(now) => ticket = now,
                        None => {
                            return Ok((events, Some(format!("ticket {}: vanished", ticket.id))));
                        }
                    }
                }
            }
        }
        unreachable!("the second attempt returns")
    }

    async fn check_file(&self, report: &mut Report) -> Result<(), StoreError> {
        if let Backend::Sqlite { reader, .. } = &*self.backend {
            let lines: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(reader)
                .await
                .map_err(from_sqlx)?;
            if lines != ["ok"] {
                report
                    .problems
                    .extend(lines.into_iter().map(|l| format!("integrity_check: {l}")));
            }
        }
        Ok(())
    }

    async fn ticket_count(&self) -> Result<u64, StoreError> {
        let n: i64 = with_reader!(self, pool, {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
                .fetch_one(pool)
                .await
                .map_err(from_sqlx)?
        });
        Ok(n.max(0) as u64)
    }

    /// The ledger's credits (not corrections) per ticket.
    async fn ledger_credits(&self) -> Result<BTreeMap<Uuid, Credits>, StoreError> {
        let rows: Vec<(Uuid, i64, i64, i64)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT ticket_id, COUNT(*), SUM(minutes), SUM(points) FROM ledger \
                 WHERE event_seq IS NOT NULL GROUP BY ticket_id",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(rows
            .into_iter()
            .map(|(ticket, entries, minutes, points)| {
                (
                    ticket,
                    Credits {
                        entries: entries as u64,
                        minutes,
                        points,
                    },
                )
            })
            .collect())
    }

    /// A consistent copy of a SQLite database into `target` (a new file), taken while the
    /// server runs (`VACUUM INTO`: one read transaction, so a snapshot). PostgreSQL is
    /// backed up with `pg_dump` (docs/DEPLOY.md).
    pub async fn backup_into(&self, target: &Path) -> Result<(), StoreError> {
        let Backend::Sqlite { reader, .. } = &*self.backend else {
            return Err(StoreError::Other(
                "a PostgreSQL database is backed up with pg_dump -Fc (see docs/DEPLOY.md)".into(),
            ));
        };
        if target.exists() {
            return Err(StoreError::Other(format!(
                "{} exists: a backup is written to a new file",
                target.display()
            )));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(target.display().to_string())
            .execute(reader)
            .await
            .map_err(from_sqlx)?;
        Ok(())
    }

    /// Whether the database holds nothing yet (no person, no ticket): what a restore
    /// writes into.
    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM people) + (SELECT COUNT(*) FROM tickets)",
            )
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(n == 0)
    }
}

/// Ledger credits: how many entries, how many minutes and points.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Credits {
    entries: u64,
    minutes: i64,
    points: i64,
}

impl std::fmt::Display for Credits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} entries, {} minutes, {} points",
            self.entries, self.minutes, self.points
        )
    }
}

/// What a ticket's events credited its holders with.
fn credits_of(events: &[Event]) -> Credits {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Transitioned {
                credit: Some(c), ..
            } => Some(c),
            _ => None,
        })
        .fold(Credits::default(), |sum, c| Credits {
            entries: sum.entries + 1,
            minutes: sum.minutes + i64::from(c.minutes),
            points: sum.points + i64::from(c.points),
        })
}
