//! Sign-in codes and sessions as rows: codes and tokens are kept as hashes; what their times
//! mean is the core's ([`workflow_core::session`]).

use jiff::Timestamp;
use workflow_core::session::{
    CODE_VALID_FOR, SessionPolicy, TokenKind, TokenTimes, Verdict, new_code, normalize_code,
};

use super::*;
use crate::from_us;

/// A token taken: who it is, and the token that replaces it if it was rotated (the answer
/// hands it to the client).
#[derive(Clone, Debug, PartialEq)]
pub struct Authenticated {
    pub principal: Principal,
    /// A machine's token or a session's: only a machine's is taken as an Open311 key,
    /// which travels in a URL.
    pub kind: TokenKind,
    pub replacement: Option<String>,
}

/// A session opened by a code.
#[derive(Clone, Debug)]
pub struct Session {
    pub token: String,
    pub person: Uuid,
    pub ends: Timestamp,
}

/// A token as its person sees it in their data (never the token itself).
#[derive(Clone, Debug)]
pub struct TokenSeen {
    pub kind: String,
    pub issued: Timestamp,
    pub last_used: Option<Timestamp>,
    pub ends: Option<Timestamp>,
}

/// A machine token as the admin lists it (never the token itself).
#[derive(Clone, Debug)]
pub struct MachineToken {
    pub person_id: Uuid,
    pub person_name: String,
    pub name: Option<String>,
    pub created: Timestamp,
    pub revoked: Option<Timestamp>,
}

/// A session token's row: its session, issued, last used, ends, replaced (microseconds).
type SessionRow = (Option<Uuid>, i64, Option<i64>, Option<i64>, Option<i64>);

fn new_token() -> String {
    format!("ll_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

impl SqlStore {
    /// A new one-time sign-in code for `person` (shown once; its hash is kept), good for
    /// [`CODE_VALID_FOR`]; the person's earlier unused codes stop working and their asks for
    /// a code are answered.
    pub async fn issue_sign_in_code(
        &self,
        person: Uuid,
        community: Option<Uuid>,
        issued_by: Uuid,
        now: Timestamp,
    ) -> Result<(String, Timestamp), StoreError> {
        let code = new_code(Uuid::new_v4().as_u128());
        let expires = now.saturating_add(CODE_VALID_FOR).unwrap_or(now);
        with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            sqlx::query(
                "UPDATE sign_in_codes SET used_at_us = $2 WHERE person_id = $1 AND used_at_us IS NULL",
            )
            .bind(person)
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            sqlx::query(
                "UPDATE sign_in_requests SET handled_at_us = $2 WHERE person_id = $1 AND handled_at_us IS NULL",
            )
            .bind(person)
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            sqlx::query(
                "INSERT INTO sign_in_codes (hash, person_id, community_id, issued_by, created_at_us, expires_at_us) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(hash_token(&code))
            .bind(person)
            .bind(community)
            .bind(issued_by)
            .bind(us(now))
            .bind(us(expires))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)
        })?;
        Ok((code, expires))
    }

    /// Someone asks at the console for a new code by their phone number: each active person
    /// with that number, who has not asked in the last day, is put on their office's list.
    /// How many were (the asker is never told: a phone number says nothing of who is here).
    pub async fn ask_for_sign_in_code(
        &self,
        phone: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let day_ago = now - jiff::SignedDuration::from_hours(24);
        let asked = with_pool!(self, pool, {
            let people: Vec<(Uuid, Option<Uuid>)> = sqlx::query_as(
                "SELECT id, community_id FROM people WHERE phone = $1 AND active AND community_id IS NOT NULL \
                 AND id NOT IN (SELECT person_id FROM sign_in_requests WHERE created_at_us > $2) LIMIT 5",
            )
            .bind(phone)
            .bind(us(day_ago))
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            for (person, community) in &people {
                sqlx::query(
                    "INSERT INTO sign_in_requests (id, person_id, community_id, created_at_us) VALUES ($1, $2, $3, $4)",
                )
                .bind(Uuid::now_v7())
                .bind(person)
                .bind(community)
                .bind(us(now))
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            }
            Ok::<_, StoreError>(people.len() as u64)
        })?;
        Ok(asked)
    }

    /// The people of a community who asked for a new code and have not been given one,
    /// oldest first: (person, name, phone, asked at).
    pub async fn sign_in_requests(
        &self,
        community: Uuid,
    ) -> Result<Vec<(Uuid, String, Option<String>, Timestamp)>, StoreError> {
        let rows: Vec<(Uuid, String, Option<String>, i64)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT p.id, p.name, p.phone, MIN(r.created_at_us) FROM sign_in_requests r \
                 JOIN people p ON p.id = r.person_id \
                 WHERE r.community_id = $1 AND r.handled_at_us IS NULL AND p.active \
                 GROUP BY p.id, p.name, p.phone ORDER BY MIN(r.created_at_us) LIMIT 200",
            )
            .bind(community)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(rows
            .into_iter()
            .map(|(id, name, phone, at)| (id, name, phone, from_us(at)))
            .collect())
    }

    /// How many sign-in codes were issued for `person` since `since`.
    pub async fn codes_issued_since(
        &self,
        person: Uuid,
        since: Timestamp,
    ) -> Result<u64, StoreError> {
        let n: i64 = with_reader!(self, pool, {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM sign_in_codes WHERE person_id = $1 AND created_at_us >= $2",
            )
            .bind(person)
            .bind(us(since))
            .fetch_one(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(n.max(0) as u64)
    }

    /// Exchanges a code for a new session: once, before it expires, for a person still
    /// active. `None` for anything else (which, the caller is not told).
    pub async fn exchange_sign_in_code(
        &self,
        typed: &str,
        now: Timestamp,
        policy: &SessionPolicy,
    ) -> Result<Option<Session>, StoreError> {
        let Some(code) = normalize_code(typed) else {
            return Ok(None);
        };
        let token = new_token();
        let ends = policy.ends(now);
        let person = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            // Used once: of two exchanges at once, one updates the row.
            let person: Option<Uuid> = sqlx::query_scalar(
                "UPDATE sign_in_codes SET used_at_us = $2 \
                 WHERE hash = $1 AND used_at_us IS NULL AND expires_at_us > $2 \
                 AND person_id IN (SELECT id FROM people WHERE active) \
                 RETURNING person_id",
            )
            .bind(hash_token(&code))
            .bind(us(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            let Some(person) = person else {
                return Ok(None);
            };
            sqlx::query(
                "INSERT INTO tokens (hash, person_id, created_at_us, kind, session_id, ends_at_us) \
                 VALUES ($1, $2, $3, 'session', $4, $5)",
            )
            .bind(hash_token(&token))
            .bind(person)
            .bind(us(now))
            .bind(Uuid::now_v7())
            .bind(us(ends))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok::<_, StoreError>(Some(person))
        })?;
        Ok(person.map(|person| Session {
            token,
            person,
            ends,
        }))
    }

    /// The person a token belongs to at `now`, if it is taken ([`SessionPolicy::judge`]);
    /// a session token past half its idle time comes back with its replacement. Answers
    /// are remembered for a few seconds ([`crate::remembered`]).
    pub async fn authenticate_at(
        &self,
        token: &str,
        now: Timestamp,
        policy: &SessionPolicy,
    ) -> Result<Option<Authenticated>, StoreError> {
        let hash = hash_token(token);
        let generation = match self.remembered.principals.get(&hash) {
            Ok((principal, kind, until)) if until.is_none_or(|until| now < until) => {
                return Ok(Some(Authenticated {
                    principal,
                    kind,
                    replacement: None,
                }));
            }
            Ok(_) => self.remembered.principals.generation(),
            Err(generation) => generation,
        };
        let Some((principal, times, session)) = self.read_token(&hash).await? else {
            return Ok(None);
        };
        let (touch, rotate) = match policy.judge(&times, now) {
            Verdict::Refused => return Ok(None),
            Verdict::Accepted { touch, rotate } => (touch, rotate),
        };
        let replacement = if rotate {
            self.rotate(&hash, &principal, session, &times, now).await?
        } else {
            if touch {
                self.touch(&hash, now).await?;
            }
            None
        };
        // As it is now: touched or replaced (taken only for its grace from now on).
        let times = TokenTimes {
            last_used: if touch || replacement.is_some() {
                Some(now)
            } else {
                times.last_used
            },
            replaced: times.replaced.or(replacement.as_ref().map(|_| now)),
            ..times
        };
        let until = policy.quiet_until(&times);
        self.remembered
            .principals
            .remember([(hash, (principal.clone(), times.kind, until))], generation);
        Ok(Some(Authenticated {
            principal,
            kind: times.kind,
            replacement,
        }))
    }

    /// [`SqlStore::authenticate_at`] now, under the default session policy, for tools.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, StoreError> {
        Ok(self
            .authenticate_at(token, Timestamp::now(), &SessionPolicy::default())
            .await?
            .map(|a| a.principal))
    }

    async fn read_token(
        &self,
        hash: &[u8],
    ) -> Result<Option<(Principal, TokenTimes, Option<Uuid>)>, StoreError> {
        with_reader!(self, pool, {
            let row = sqlx::query(
                "SELECT p.id, p.name, p.roles, p.community_id, p.street_id, p.branch_id, p.home_building_id, \
                 t.kind, t.created_at_us, t.last_used_at_us, t.ends_at_us, t.replaced_at_us, t.session_id \
                 FROM tokens t JOIN people p ON p.id = t.person_id \
                 WHERE t.hash = $1 AND t.revoked_at_us IS NULL AND p.active",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await
            .map_err(from_sqlx)?;
            let Some(row) = row else { return Ok(None) };
            let id: Uuid = row.try_get(0).map_err(from_sqlx)?;
            let teams: Vec<Uuid> =
                sqlx::query_scalar("SELECT team_id FROM team_members WHERE person_id = $1")
                    .bind(id)
                    .fetch_all(pool)
                    .await
                    .map_err(from_sqlx)?;
            let uuid = |i| row.try_get::<Option<Uuid>, _>(i).map_err(from_sqlx);
            let at = |i| {
                row.try_get::<Option<i64>, _>(i)
                    .map(|v| v.map(from_us))
                    .map_err(from_sqlx)
            };
            let kind: String = row.try_get(7).map_err(from_sqlx)?;
            let principal = Principal {
                id,
                name: row.try_get(1).map_err(from_sqlx)?,
                roles: parse_roles(&row.try_get::<String, _>(2).map_err(from_sqlx)?),
                community_id: uuid(3)?,
                street_id: uuid(4)?,
                branch_id: uuid(5)?,
                home_building_id: uuid(6)?,
                teams,
            };
            let times = TokenTimes {
                kind: TokenKind::parse(&kind).unwrap_or(TokenKind::Session),
                issued: from_us(row.try_get(8).map_err(from_sqlx)?),
                last_used: at(9)?,
                ends: at(10)?,
                replaced: at(11)?,
            };
            Ok(Some((principal, times, uuid(12)?)))
        })
    }

    async fn touch(&self, hash: &[u8], now: Timestamp) -> Result<(), StoreError> {
        with_pool!(self, pool, {
            sqlx::query("UPDATE tokens SET last_used_at_us = $2 WHERE hash = $1")
                .bind(hash)
                .bind(us(now))
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            Ok(())
        })
    }

    /// Replaces a session's token by a new one of the same session and end; of two
    /// requests rotating at once, one does (the other goes on with the old token, still
    /// taken for the grace period).
    async fn rotate(
        &self,
        old: &[u8],
        principal: &Principal,
        session: Option<Uuid>,
        times: &TokenTimes,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let token = new_token();
        let rotated = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let r = sqlx::query(
                "UPDATE tokens SET replaced_at_us = $2, last_used_at_us = $2 \
                 WHERE hash = $1 AND replaced_at_us IS NULL",
            )
            .bind(old)
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            if r.rows_affected() == 0 {
                return Ok(None);
            }
            sqlx::query(
                "INSERT INTO tokens (hash, person_id, created_at_us, kind, session_id, ends_at_us, last_used_at_us) \
                 VALUES ($1, $2, $3, 'session', $4, $5, $3)",
            )
            .bind(hash_token(&token))
            .bind(principal.id)
            .bind(us(now))
            .bind(session)
            .bind(times.ends.map(us))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok::<_, StoreError>(true)
        })?;
        Ok(rotated.then_some(token))
    }

    /// Ends the session `token` belongs to (sign-out): every token of it stops working.
    /// Whether there was one.
    pub async fn end_session(&self, token: &str, now: Timestamp) -> Result<bool, StoreError> {
        let ended = with_pool!(self, pool, {
            let r = sqlx::query(
                "UPDATE tokens SET revoked_at_us = $2 WHERE revoked_at_us IS NULL AND kind = 'session' \
                 AND session_id = (SELECT session_id FROM tokens WHERE hash = $1)",
            )
            .bind(hash_token(token))
            .bind(us(now))
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok::<_, StoreError>(r.rows_affected())
        })?;
        self.remembered.forget_all();
        Ok(ended > 0)
    }

    /// Ends every session of a person ("sign out everywhere"); machine tokens stay. How
    /// many sessions were live (not yet ended by time) and are ended now.
    pub async fn end_sessions(
        &self,
        person: Uuid,
        now: Timestamp,
        policy: &SessionPolicy,
    ) -> Result<u64, StoreError> {
        let live = with_pool!(self, pool, {
            let mut tx = pool.begin().await.map_err(from_sqlx)?;
            let rows: Vec<SessionRow> =
                sqlx::query_as(
                    "SELECT session_id, created_at_us, last_used_at_us, ends_at_us, replaced_at_us \
                     FROM tokens WHERE person_id = $1 AND kind = 'session' AND revoked_at_us IS NULL",
                )
                .bind(person)
                .fetch_all(&mut *tx)
                .await
                .map_err(from_sqlx)?;
            sqlx::query(
                "UPDATE tokens SET revoked_at_us = $2 \
                 WHERE person_id = $1 AND kind = 'session' AND revoked_at_us IS NULL",
            )
            .bind(person)
            .bind(us(now))
            .execute(&mut *tx)
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            let live: std::collections::HashSet<Option<Uuid>> = rows
                .into_iter()
                .filter(|(_, issued, last_used, ends, replaced)| {
                    let times = TokenTimes {
                        kind: TokenKind::Session,
                        issued: from_us(*issued),
                        last_used: last_used.map(from_us),
                        ends: ends.map(from_us),
                        replaced: replaced.map(from_us),
                    };
                    policy.judge(&times, now) != Verdict::Refused
                })
                .map(|(session, ..)| session)
                .collect();
            Ok::<_, StoreError>(live.len() as u64)
        })?;
        self.remembered.forget_all();
        Ok(live)
    }

    /// Disables or re-enables a person: a disabled person's tokens and codes stop working
    /// at once, and they are no longer offered for dispatch.
    pub async fn set_active(&self, person: Uuid, active: bool) -> Result<bool, StoreError> {
        let changed = with_pool!(self, pool, {
            let r = sqlx::query("UPDATE people SET active = $2 WHERE id = $1")
                .bind(person)
                .bind(active)
                .execute(pool)
                .await
                .map_err(from_sqlx)?;
            Ok::<_, StoreError>(r.rows_affected())
        })?;
        self.remembered.forget_all();
        Ok(changed > 0)
    }

    /// A named machine token for a person (an integration, an Open311 client): lives until
    /// revoked. Shown once.
    pub async fn issue_named_token(
        &self,
        person: Uuid,
        name: Option<&str>,
    ) -> Result<String, StoreError> {
        let token = new_token();
        with_pool!(self, pool, {
            sqlx::query(
                "INSERT INTO tokens (hash, person_id, created_at_us, kind, name) VALUES ($1, $2, $3, 'machine', $4)",
            )
            .bind(hash_token(&token))
            .bind(person)
            .bind(us(Timestamp::now()))
            .bind(name)
            .execute(pool)
            .await
            .map_err(from_sqlx)?;
            Ok(token)
        })
    }

    /// A person's live sessions and machine tokens as they see them in their data: when each
    /// began, was last used, ends; (kind, issued, last used, ends), newest first.
    pub async fn tokens_of(&self, person: Uuid) -> Result<Vec<TokenSeen>, StoreError> {
        let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = with_reader!(self, pool, {
            sqlx::query_as(
                "SELECT kind, created_at_us, last_used_at_us, ends_at_us FROM tokens \
                 WHERE person_id = $1 AND revoked_at_us IS NULL AND replaced_at_us IS NULL \
                 ORDER BY created_at_us DESC",
            )
            .bind(person)
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?
        });
        Ok(rows
            .into_iter()
            .map(|(kind, issued, last_used, ends)| TokenSeen {
                kind,
                issued: from_us(issued),
                last_used: last_used.map(from_us),
                ends: ends.map(from_us),
            })
            .collect())
    }

    /// Every machine token, newest first.
    pub async fn machine_tokens(&self) -> Result<Vec<MachineToken>, StoreError> {
        with_reader!(self, pool, {
            let rows = sqlx::query(
                "SELECT t.person_id, p.name, t.name, t.created_at_us, t.revoked_at_us \
                 FROM tokens t JOIN people p ON p.id = t.person_id \
                 WHERE t.kind = 'machine' ORDER BY t.created_at_us DESC",
            )
            .fetch_all(pool)
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| {
                    Ok(MachineToken {
                        person_id: r.try_get(0)?,
                        person_name: r.try_get(1)?,
                        name: r.try_get(2)?,
                        created: from_us(r.try_get(3)?),
                        revoked: r.try_get::<Option<i64>, _>(4)?.map(from_us),
                    })
                })
                .collect::<Result<_, sqlx::Error>>()
                .map_err(from_sqlx)
        })
    }
}
