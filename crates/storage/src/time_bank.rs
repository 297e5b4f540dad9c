//! 时间银行 as the database keeps it: the communities that run one, every account's balance
//! and the entries behind it. A movement is written as its two entries and the two balances'
//! changes, in the transaction of whatever causes it (an event's decision, a transfer); the
//! account it takes from is debited by a guarded `UPDATE` (`minutes >= n`), so two payments
//! from one balance at once cannot both pass: the second finds too little and its whole
//! transaction is refused. The rules are `workflow_core::time_bank`.

use std::collections::BTreeMap;

use jiff::Timestamp;
use sqlx::{Database, Encode, Executor, IntoArguments, Row, Type};
use uuid::Uuid;
use workflow_core::store::StoreError;
use workflow_core::time_bank::{Account, Kind, Movement, Policy, State};

use crate::error::from_sqlx;
use crate::{SqlStore, from_us, us};

/// Who moved minutes outside a request's events, and why (a transfer, a donation, a grant).
#[derive(Clone, Debug, Default)]
pub struct Why {
    pub actor: Option<Uuid>,
    pub reason: Option<String>,
}

/// Writes `movements` at `at` on `conn` (inside the caller's transaction): for each, the
/// guarded debit, the credit, and its two entries. `NotEnoughHours`: an account could not
/// cover one; the caller's transaction must then not commit.
pub(crate) async fn write_movements<DB>(
    conn: &mut DB::Connection,
    movements: &[Movement],
    at: Timestamp,
    why: &Why,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> Option<Uuid>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    for m in movements {
        if m.minutes <= 0 || m.from == m.to {
            return Err(StoreError::Other(format!(
                "a movement of {} minutes",
                m.minutes
            )));
        }
        if m.from.may_overdraw() {
            add::<DB>(&mut *conn, m.from, m.community, -m.minutes).await?;
        } else {
            let taken = sqlx::query::<DB>(
                "UPDATE time_accounts SET minutes = minutes - $1 \
                 WHERE kind = $2 AND owner_id = $3 AND minutes >= $1 RETURNING 1",
            )
            .bind(m.minutes)
            .bind(m.from.kind())
            .bind(m.from.owner())
            .fetch_optional(&mut *conn)
            .await
            .map_err(from_sqlx)?;
            if taken.is_none() {
                return Err(StoreError::NotEnoughHours {
                    account: m.from.kind(),
                });
            }
        }
        add::<DB>(&mut *conn, m.to, m.community, m.minutes).await?;
        let movement = Uuid::now_v7();
        for (account, minutes) in [(m.from, -m.minutes), (m.to, m.minutes)] {
            sqlx::query::<DB>(
                "INSERT INTO time_entries (id, movement_id, kind, community_id, account_kind, \
                 account_owner, minutes, ticket_id, actor_id, reason, at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(Uuid::now_v7())
            .bind(movement)
            .bind(m.kind.as_str())
            .bind(m.community)
            .bind(account.kind())
            .bind(account.owner())
            .bind(minutes)
            .bind(m.ticket)
            .bind(why.actor)
            .bind(why.reason.as_deref())
            .bind(us(at))
            .execute(&mut *conn)
            .await
            .map_err(from_sqlx)?;
        }
    }
    Ok(())
}

/// Adds `minutes` to an account's balance, opening it at zero if it has none.
async fn add<DB>(
    conn: &mut DB::Connection,
    account: Account,
    community: Uuid,
    minutes: i64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Uuid: Encode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO time_accounts (kind, owner_id, community_id, minutes) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (kind, owner_id) DO UPDATE SET minutes = time_accounts.minutes + excluded.minutes",
    )
    .bind(account.kind())
    .bind(account.owner())
    .bind(community)
    .bind(minutes)
    .execute(&mut *conn)
    .await
    .map(|_| ())
    .map_err(from_sqlx)
}

/// A movement as a passbook shows it: from the account's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub kind: Kind,
    /// Into the account (above zero) or out of it.
    pub minutes: i64,
    pub ticket: Option<Uuid>,
    pub reason: Option<String>,
    pub at: Timestamp,
}

/// A person's passbook (存折): their balance, what they have set aside for requests not yet
/// done, and every movement of their account, newest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passbook {
    pub balance: i64,
    /// `(request, minutes)` held.
    pub holds: Vec<(Uuid, i64)>,
    pub lines: Vec<Line>,
}

/// What `linli verify` finds wrong with the ledger; nothing when it holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerCheck {
    pub accounts: usize,
    pub entries: usize,
    pub problems: Vec<String>,
}

impl SqlStore {
    /// The time bank of a community, if it runs one.
    pub async fn time_bank_of(&self, community: Uuid) -> Result<Option<Policy>, StoreError> {
        let row: Option<(Option<i64>, Option<i64>, Option<i64>)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT daily_cap_minutes, account_cap_minutes, expire_after_days FROM time_banks \
                 WHERE community_id = $1",
            )
            .bind(community)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(row.map(|(daily, account, expire)| Policy {
            daily_cap_minutes: daily,
            account_cap_minutes: account,
            expire_after_days: expire,
        }))
    }

    /// A request's hold and a volunteer's balance and deposits in `[from, to)`.
    pub async fn time_state_of(
        &self,
        ticket: Uuid,
        person: Option<Uuid>,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<State, StoreError> {
        let held = self.balance(Account::Hold(ticket)).await?;
        let Some(person) = person else {
            return Ok(State {
                held,
                ..State::default()
            });
        };
        let balance = self.balance(Account::Person(person)).await?;
        let deposited_today: Option<i64> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT CAST(SUM(minutes) AS BIGINT) FROM time_entries WHERE account_kind = 'person' \
                 AND account_owner = $1 AND kind = 'deposit' AND at_us >= $2 AND at_us < $3",
            )
            .bind(person)
            .bind(us(from))
            .bind(us(to))
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(State {
            held,
            balance,
            deposited_today: deposited_today.unwrap_or(0),
        })
    }

    /// An account's balance (zero for one never opened).
    pub async fn balance(&self, account: Account) -> Result<i64, StoreError> {
        let minutes: Option<i64> = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT minutes FROM time_accounts WHERE kind = $1 AND owner_id = $2",
            )
            .bind(account.kind())
            .bind(account.owner())
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(minutes.unwrap_or(0))
    }

    /// Moves minutes outside a request's events (a transfer, a donation, a grant), in a
    /// transaction of its own: all of `movements` or none.
    pub async fn move_time(
        &self,
        movements: &[Movement],
        at: Timestamp,
        why: &Why,
    ) -> Result<(), StoreError> {
        match &*self.backend {
            crate::Backend::Sqlite { writer, .. } => {
                let mut tx = writer.begin().await.map_err(from_sqlx)?;
                write_movements::<sqlx::Sqlite>(&mut tx, movements, at, why).await?;
                tx.commit().await.map_err(from_sqlx)
            }
            crate::Backend::Postgres { pool, .. } => {
                let mut tx = pool.begin().await.map_err(from_sqlx)?;
                write_movements::<sqlx::Postgres>(&mut tx, movements, at, why).await?;
                tx.commit().await.map_err(from_sqlx)
            }
        }
    }

    /// A person's passbook.
    pub async fn passbook(&self, person: Uuid) -> Result<Passbook, StoreError> {
        let balance = self.balance(Account::Person(person)).await?;
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT kind, minutes, ticket_id, reason, at_us FROM time_entries \
                 WHERE account_kind = 'person' AND account_owner = $1 \
                 ORDER BY at_us DESC, id DESC LIMIT 500",
            )
            .bind(person)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            let mut lines = Vec::new();
            for r in &rows {
                let kind: String = r.try_get(0).map_err(from_sqlx)?;
                lines.push(Line {
                    kind: Kind::parse(&kind).unwrap_or(Kind::Transfer),
                    minutes: r.try_get(1).map_err(from_sqlx)?,
                    ticket: r.try_get(2).map_err(from_sqlx)?,
                    reason: r.try_get(3).map_err(from_sqlx)?,
                    at: from_us(r.try_get(4).map_err(from_sqlx)?),
                });
            }
            // A hold still open: the request's hold account has minutes, taken from this person.
            let holds: Vec<(Uuid, i64)> = sqlx::query_as(
                "SELECT a.owner_id, a.minutes FROM time_accounts a WHERE a.kind = 'hold' AND a.minutes > 0 \
                 AND EXISTS (SELECT 1 FROM time_entries e WHERE e.account_kind = 'hold' \
                   AND e.account_owner = a.owner_id AND e.kind = 'hold' AND e.movement_id IN \
                   (SELECT movement_id FROM time_entries WHERE account_kind = 'person' \
                    AND account_owner = $1 AND kind = 'hold')) ORDER BY a.owner_id",
            )
            .bind(person)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(Passbook {
                balance,
                holds,
                lines,
            })
        })
    }

    /// Expires, in every bank that expires hours, what each person's account holds of hours
    /// that came in before the bank's cutoff and are still unspent (oldest spent first:
    /// [`workflow_core::time_bank::expiring`]). Each person's expiry is a movement of its own;
    /// one that meets a balance spent meanwhile is left for the next run. How many expired.
    pub async fn expire_time(&self, now: Timestamp) -> Result<u64, StoreError> {
        let banks: Vec<(Uuid, i64)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT community_id, expire_after_days FROM time_banks \
                 WHERE expire_after_days IS NOT NULL",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        let mut expired = 0;
        for (community, days) in banks {
            let cutoff = now - jiff::SignedDuration::from_hours(24 * days);
            // Per person of the bank with hours: what came in before the cutoff, what went out.
            let accounts: Vec<(Uuid, i64, Option<i64>, Option<i64>)> = with_reader!(self, pool, {
                sqlx::query_as(
                    "SELECT a.owner_id, a.minutes, \
                     CAST(SUM(CASE WHEN e.minutes > 0 AND e.at_us < $2 THEN e.minutes ELSE 0 END) AS BIGINT), \
                     CAST(SUM(CASE WHEN e.minutes < 0 THEN -e.minutes ELSE 0 END) AS BIGINT) \
                     FROM time_accounts a JOIN time_entries e \
                       ON e.account_kind = 'person' AND e.account_owner = a.owner_id \
                     WHERE a.kind = 'person' AND a.community_id = $1 AND a.minutes > 0 \
                     GROUP BY a.owner_id, a.minutes",
                )
                .bind(community)
                .bind(us(cutoff))
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
            });
            for (person, balance, old_in, out) in accounts {
                let minutes = workflow_core::time_bank::expiring(
                    old_in.unwrap_or(0),
                    out.unwrap_or(0),
                    balance,
                );
                if minutes == 0 {
                    continue;
                }
                let m = workflow_core::time_bank::expire(community, person, minutes);
                match self.move_time(&[m], now, &Why::default()).await {
                    Ok(()) => expired += 1,
                    Err(StoreError::NotEnoughHours { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(expired)
    }

    /// What a request was paid with, if it was: the minutes set aside for it, and whether they
    /// went to its volunteer (`pay`), back to its resident (`release`) or are still held.
    pub async fn paid_for(&self, ticket: Uuid) -> Result<Option<(i64, Kind)>, StoreError> {
        let rows: Vec<(String, Option<i64>)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT kind, CAST(SUM(minutes) AS BIGINT) FROM time_entries \
                 WHERE ticket_id = $1 AND account_kind = 'hold' GROUP BY kind",
            )
            .bind(ticket)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        let sum = |k: Kind| {
            rows.iter()
                .find(|(kind, _)| kind == k.as_str())
                .and_then(|(_, m)| *m)
        };
        let Some(held) = sum(Kind::Hold) else {
            return Ok(None);
        };
        let end = [Kind::Pay, Kind::Release]
            .into_iter()
            .find(|k| sum(*k).is_some())
            .unwrap_or(Kind::Hold);
        Ok(Some((held, end)))
    }

    /// Records that `relative` is `person`'s relative, as the community office confirmed.
    pub async fn confirm_relation(
        &self,
        person: Uuid,
        relative: Uuid,
        community: Uuid,
        by: Uuid,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO time_relations (person_id, relative_id, community_id, confirmed_by, confirmed_at_us) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (person_id, relative_id) DO NOTHING",
            )
            .bind(person)
            .bind(relative)
            .bind(community)
            .bind(by)
            .bind(us(at))
            .execute(pool)
            .await
            .map(|_| ())
            .map_err(from_sqlx)
        })
    }

    /// The relatives the office confirmed for `person`, by id and name.
    pub async fn relatives_of(&self, person: Uuid) -> Result<Vec<(Uuid, String)>, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT p.id, p.name FROM time_relations r JOIN people p ON p.id = r.relative_id \
                 WHERE r.person_id = $1 ORDER BY p.name, p.id",
            )
            .bind(person)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)
        })
    }

    /// Whether the office confirmed `relative` as `person`'s relative.
    pub async fn related(&self, person: Uuid, relative: Uuid) -> Result<bool, StoreError> {
        with_reader!(self, pool, {
            sqlx::query_scalar::<_, Uuid>(
                "SELECT relative_id FROM time_relations WHERE person_id = $1 AND relative_id = $2",
            )
            .bind(person)
            .bind(relative)
            .fetch_optional(pool)
            .await
            .map(|r| r.is_some())
            .map_err(from_sqlx)
        })
    }

    /// The ledger's check: every movement's two entries sum to zero, the whole ledger sums to
    /// zero, every balance equals the sum of its account's entries, and no account but an
    /// issue account is below zero. What it reads in several statements may cross a movement
    /// being written on a live database: a problem is read again before it is reported.
    pub async fn check_time_ledger(&self) -> Result<LedgerCheck, StoreError> {
        let first = self.check_time_ledger_once().await?;
        if first.problems.is_empty() {
            return Ok(first);
        }
        self.check_time_ledger_once().await
    }

    async fn check_time_ledger_once(&self) -> Result<LedgerCheck, StoreError> {
        /// `(account kind, owner, minutes)`.
        type Amounts = Vec<(String, Uuid, i64)>;
        let balances: Amounts = with_reader!(self, pool, {
            sqlx::query_as("SELECT kind, owner_id, minutes FROM time_accounts")
                .fetch_all(pool)
                .await
                .map_err(from_sqlx)?
        });
        let sums: Amounts = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT account_kind, account_owner, CAST(SUM(minutes) AS BIGINT) FROM time_entries \
                 GROUP BY account_kind, account_owner",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        let movements: Vec<(Uuid, i64, i64)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT movement_id, CAST(SUM(minutes) AS BIGINT), COUNT(*) FROM time_entries \
                 GROUP BY movement_id HAVING SUM(minutes) <> 0 OR COUNT(*) <> 2",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        let (total, entries): (Option<i64>, i64) = with_reader!(self, pool, {
            sqlx::query_as("SELECT CAST(SUM(minutes) AS BIGINT), COUNT(*) FROM time_entries")
                .fetch_one(pool)
                .await
                .map_err(from_sqlx)?
        });
        let mut problems = Vec::new();
        for (id, sum, count) in movements {
            problems.push(format!(
                "movement {id}: {count} entries summing to {sum}, not two summing to zero"
            ));
        }
        if total.unwrap_or(0) != 0 {
            problems.push(format!(
                "the ledger sums to {} minutes, not zero",
                total.unwrap_or(0)
            ));
        }
        let summed: BTreeMap<(String, Uuid), i64> =
            sums.into_iter().map(|(k, o, m)| ((k, o), m)).collect();
        let kept: BTreeMap<(String, Uuid), i64> =
            balances.into_iter().map(|(k, o, m)| ((k, o), m)).collect();
        for (key, sum) in &summed {
            let balance = kept.get(key).copied().unwrap_or(0);
            if balance != *sum {
                problems.push(format!(
                    "{} account {}: balance {balance} minutes, its entries sum to {sum}",
                    key.0, key.1
                ));
            }
        }
        for ((kind, owner), balance) in &kept {
            if !summed.contains_key(&(kind.clone(), *owner)) && *balance != 0 {
                problems.push(format!(
                    "{kind} account {owner}: balance {balance} minutes without entries"
                ));
            }
            let overdrawable = Account::parse(kind, *owner).is_some_and(Account::may_overdraw);
            if *balance < 0 && !overdrawable {
                problems.push(format!(
                    "{kind} account {owner} is overdrawn: {balance} minutes"
                ));
            }
        }
        Ok(LedgerCheck {
            accounts: kept.len(),
            entries: entries as usize,
            problems,
        })
    }
}
