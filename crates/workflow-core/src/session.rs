//! Signing in: the one-time sign-in codes staff hand to a person, the sessions a code
//! opens, and when a token stops working. Storage keeps the times; this says what they mean.
//!
//! Two kinds of token: a *machine* token (an integration's, an Open311 key, one an
//! administrator issued) lives until revoked; a *session* (what a code opens in the
//! console) ends after [`SessionPolicy::idle`] without use, at [`SessionPolicy::lifetime`]
//! after sign-in whatever the use, on sign-out, when its person is disabled, or when their
//! office signs them out everywhere. A session token older than half the idle time is
//! replaced on use (the answer carries the new one); the old one is still taken for
//! [`ROTATION_GRACE`], so requests already in flight do not fail.

use jiff::{SignedDuration, Timestamp};

/// A code is good for this long after it is issued, and for one exchange.
pub const CODE_VALID_FOR: SignedDuration = SignedDuration::from_hours(24);
/// Codes issued for one person in a day at most: a slip lost ten times a day is someone
/// fishing for a code, not a resident (OWASP API2, throttled per person as well as per
/// address).
pub const CODES_PER_PERSON_PER_DAY: u64 = 10;
/// Characters in a code: easy to read aloud and to type on a phone; no 0/O, 1/I/L.
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LEN: usize = 8;
/// A replaced session token is still taken this long (requests already sent with it).
pub const ROTATION_GRACE: SignedDuration = SignedDuration::from_mins(2);
/// A session's last use is written at most this often: the idle limit is days, and a write
/// per request would cost every request a database write.
pub const TOUCH_EVERY: SignedDuration = SignedDuration::from_mins(10);

/// How long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session not used for this long has ended.
    pub idle: SignedDuration,
    /// A session ends this long after sign-in, however much it is used.
    pub lifetime: SignedDuration,
}

impl Default for SessionPolicy {
    /// Long enough that an elderly resident on their own phone is not asked for a new code
    /// every week: a month idle, half a year in all.
    fn default() -> Self {
        SessionPolicy {
            idle: SignedDuration::from_hours(30 * 24),
            lifetime: SignedDuration::from_hours(180 * 24),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Machine,
    Session,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Machine => "machine",
            TokenKind::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<TokenKind> {
        match s {
            "machine" => Some(TokenKind::Machine),
            "session" => Some(TokenKind::Session),
            _ => None,
        }
    }
}

/// What storage knows of a token that has not been revoked.
#[derive(Clone, Copy, Debug)]
pub struct TokenTimes {
    pub kind: TokenKind,
    /// When this token (not its session) was issued.
    pub issued: Timestamp,
    pub last_used: Option<Timestamp>,
    /// The session's end (its sign-in plus the lifetime).
    pub ends: Option<Timestamp>,
    /// When a newer token replaced this one.
    pub replaced: Option<Timestamp>,
}

/// Whether a token is taken, and what to write about it if so.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Refused,
    Accepted {
        /// Write now as its last use.
        touch: bool,
        /// Replace it by a new token of the same session.
        rotate: bool,
    },
}

impl SessionPolicy {
    /// When a session signed in at `now` ends, however it is used.
    pub fn ends(&self, now: Timestamp) -> Timestamp {
        now.saturating_add(self.lifetime).unwrap_or(now)
    }

    /// Until when a token is taken without anything happening to it (`None`: until
    /// revoked): its session's end, its idle limit, the end of its grace once replaced.
    pub fn taken_until(&self, t: &TokenTimes) -> Option<Timestamp> {
        if t.kind == TokenKind::Machine {
            return None;
        }
        let last = t.last_used.unwrap_or(t.issued);
        let idle_end = last.saturating_add(self.idle).unwrap_or(last);
        let grace_end = t
            .replaced
            .map(|r| r.saturating_add(ROTATION_GRACE).unwrap_or(r));
        [t.ends.or(Some(t.issued)), Some(idle_end), grace_end]
            .into_iter()
            .flatten()
            .min()
    }

    /// Until when nothing is to be written about a token either (no touch, no rotation
    /// due): how long an answer about it may be remembered without asking storage again.
    pub fn quiet_until(&self, t: &TokenTimes) -> Option<Timestamp> {
        let taken = self.taken_until(t)?;
        let last = t.last_used.unwrap_or(t.issued);
        let touch_due = last.saturating_add(TOUCH_EVERY).unwrap_or(last);
        let rotation_due = t
            .replaced
            .is_none()
            .then(|| t.issued.saturating_add(self.idle / 2).unwrap_or(t.issued));
        [Some(taken), Some(touch_due), rotation_due]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn judge(&self, t: &TokenTimes, now: Timestamp) -> Verdict {
        if self.taken_until(t).is_some_and(|end| now >= end) {
            return Verdict::Refused;
        }
        if t.kind == TokenKind::Machine {
            return Verdict::Accepted {
                touch: false,
                rotate: false,
            };
        }
        let last = t.last_used.unwrap_or(t.issued);
        Verdict::Accepted {
            touch: now.duration_since(last) >= TOUCH_EVERY,
            rotate: t.replaced.is_none() && now.duration_since(t.issued) >= self.idle / 2,
        }
    }
}

/// A new code from `random` (at least 40 random bits are used).
pub fn new_code(random: u128) -> String {
    let base = CODE_ALPHABET.len() as u128;
    let mut n = random;
    (0..CODE_LEN)
        .map(|_| {
            let c = CODE_ALPHABET[(n % base) as usize] as char;
            n /= base;
            c
        })
        .collect()
}

/// A code as a person may type it (lower case, spaces or a dash in the middle) in the one
/// form it is stored in; `None` if it cannot be a code.
pub fn normalize_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

/// A code as printed and read aloud: two groups of four (`7KQM-2XPA`).
pub fn display_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(CODE_LEN / 2));
    format!("{a}-{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hours: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_hours(hours)
    }

    fn session(issued: i64, last_used: Option<i64>) -> TokenTimes {
        let policy = SessionPolicy::default();
        TokenTimes {
            kind: TokenKind::Session,
            issued: at(issued),
            last_used: last_used.map(at),
            ends: Some(policy.ends(at(0))),
            replaced: None,
        }
    }

    #[test]
    fn a_session_ends_when_idle_too_long_or_past_its_lifetime() {
        let p = SessionPolicy::default();
        let day = 24;
        assert!(matches!(
            p.judge(&session(0, None), at(29 * day)),
            Verdict::Accepted { .. }
        ));
        assert_eq!(p.judge(&session(0, None), at(30 * day)), Verdict::Refused);
        // Used every day, it still ends after 180 days.
        assert!(matches!(
            p.judge(&session(170 * day, Some(179 * day)), at(179 * day + 23)),
            Verdict::Accepted { .. }
        ));
        assert_eq!(
            p.judge(&session(170 * day, Some(179 * day)), at(180 * day)),
            Verdict::Refused
        );
    }

    #[test]
    fn a_session_is_rotated_past_half_its_idle_time_and_touched_now_and_then() {
        let p = SessionPolicy::default();
        let day = 24;
        assert_eq!(
            p.judge(&session(0, None), at(0)),
            Verdict::Accepted {
                touch: false,
                rotate: false
            }
        );
        assert_eq!(
            p.judge(&session(0, Some(day)), at(15 * day)),
            Verdict::Accepted {
                touch: true,
                rotate: true
            }
        );
        let mut replaced = session(0, Some(15 * day));
        replaced.replaced = Some(at(15 * day));
        assert_eq!(
            p.judge(&replaced, at(15 * day)),
            Verdict::Accepted {
                touch: false,
                rotate: false
            },
            "in flight with the old token: taken, not rotated twice"
        );
        assert_eq!(p.judge(&replaced, at(15 * day + 1)), Verdict::Refused);
    }

    #[test]
    fn a_machine_token_lives_until_revoked() {
        let t = TokenTimes {
            kind: TokenKind::Machine,
            issued: at(0),
            last_used: None,
            ends: None,
            replaced: None,
        };
        assert!(matches!(
            SessionPolicy::default().judge(&t, at(10 * 365 * 24)),
            Verdict::Accepted { .. }
        ));
    }

    #[test]
    fn codes_are_typed_forgivingly_and_only_from_their_alphabet() {
        let code = new_code(0x1234_5678_9abc_def0_1122_3344);
        assert_eq!(code.len(), CODE_LEN);
        assert_eq!(normalize_code(&code), Some(code.clone()));
        let typed = display_code(&code).to_lowercase().replace('-', " - ");
        assert_eq!(normalize_code(&typed), Some(code));
        assert_eq!(normalize_code("ABCD-EFG0"), None, "no zero");
        assert_eq!(normalize_code("ABCD"), None);
        assert_ne!(new_code(1), new_code(2));
    }
}
