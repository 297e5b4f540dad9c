//! 时间银行: hours given are deposited and later withdrawn as help for oneself or a relative,
//! never cashed out. The rules of it, as a double-entry ledger: every movement takes minutes
//! from one account and puts them in another, so every movement sums to zero and so does the
//! whole ledger; which movements a request's events cause; the caps.
//!
//! Accounts: a person's; a community's pool (爱心池: donations, and deposits beyond an account's
//! cap, which its office grants to residents in need); a request's hold (what its resident
//! set aside to pay for it, until it is done or ends undone); and a community's issue account,
//! the other side of every deposit (hours given are new hours: it is the only account below
//! zero, by exactly the hours the community's volunteers have given).

use uuid::Uuid;

use crate::access::Refusal;
use crate::command::Decision;
use crate::event::EventKind;
use crate::ticket::Ticket;

/// What a community's time bank allows, as its directory entry says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// The most deposited to one person in one day (Shanghai Changning: 2 hours).
    pub daily_cap_minutes: Option<i64>,
    /// The most one account holds; deposits beyond it go to the community's pool (Nanjing:
    /// 1,500 hours).
    pub account_cap_minutes: Option<i64>,
    /// Hours that came in longer ago than this and are still unspent expire; none: never.
    pub expire_after_days: Option<i64>,
}

/// An account of the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    Person(Uuid),
    /// A community's pool.
    Pool(Uuid),
    /// A community's issue account: the other side of deposits.
    Issue(Uuid),
    /// What a request's resident set aside to pay for it.
    Hold(Uuid),
}

impl Account {
    pub fn kind(self) -> &'static str {
        match self {
            Account::Person(_) => "person",
            Account::Pool(_) => "pool",
            Account::Issue(_) => "issue",
            Account::Hold(_) => "hold",
        }
    }

    pub fn owner(self) -> Uuid {
        match self {
            Account::Person(id) | Account::Pool(id) | Account::Issue(id) | Account::Hold(id) => id,
        }
    }

    pub fn parse(kind: &str, owner: Uuid) -> Option<Account> {
        Some(match kind {
            "person" => Account::Person(owner),
            "pool" => Account::Pool(owner),
            "issue" => Account::Issue(owner),
            "hold" => Account::Hold(owner),
            _ => return None,
        })
    }

    /// Whether the account may go below zero: only the issue account, whose negative balance
    /// is the hours given. Every other is refused a movement it cannot cover.
    pub fn may_overdraw(self) -> bool {
        matches!(self, Account::Issue(_))
    }
}

/// Why minutes moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Confirmed service, deposited to its volunteer.
    Deposit,
    /// A deposit's part beyond the volunteer's account cap, to the pool.
    Excess,
    /// Set aside by a resident to pay for a request.
    Hold,
    /// A paid request done: what was held, to its volunteer.
    Pay,
    /// A paid request ended undone (cancelled, refused): what was held, back.
    Release,
    /// To a relative the community office confirmed.
    Transfer,
    /// To the community's pool.
    Donate,
    /// From the pool, by the community office.
    Grant,
    /// Unspent past the bank's expiry: back to the issue account.
    Expire,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Deposit,
        Kind::Excess,
        Kind::Hold,
        Kind::Pay,
        Kind::Release,
        Kind::Transfer,
        Kind::Donate,
        Kind::Grant,
        Kind::Expire,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Deposit => "deposit",
            Kind::Excess => "excess",
            Kind::Hold => "hold",
            Kind::Pay => "pay",
            Kind::Release => "release",
            Kind::Transfer => "transfer",
            Kind::Donate => "donate",
            Kind::Grant => "grant",
            Kind::Expire => "expire",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Minutes from one account to another: two entries (`-minutes` and `+minutes`) that sum to
/// zero by construction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Movement {
    pub kind: Kind,
    pub community: Uuid,
    pub from: Account,
    pub to: Account,
    /// Always above zero.
    pub minutes: i64,
    /// The request it is about, if any.
    pub ticket: Option<Uuid>,
}

/// What the ledger says now of the accounts a decision's movements touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct State {
    /// Held for the request.
    pub held: i64,
    /// The volunteer's deposits earlier today (the deployment's day).
    pub deposited_today: i64,
    /// The volunteer's balance.
    pub balance: i64,
}

/// A new request's resident setting `minutes` aside to pay for it: only a resident asking for
/// themself (a request entered for someone, 代办, is not paid from their hours), and only where
/// the community runs a time bank (`bank`).
pub fn paying(
    ticket: &Ticket,
    minutes: i64,
    entered_for: bool,
    bank: Option<&Policy>,
) -> Result<Movement, Refusal> {
    if entered_for {
        return Err(Refusal::Invalid {
            field: "pay_hours",
            reason: "is for a resident asking for themself",
        });
    }
    if bank.is_none() {
        return Err(Refusal::Invalid {
            field: "pay_hours",
            reason: "is for a community that runs a time bank",
        });
    }
    Ok(Movement {
        kind: Kind::Hold,
        community: ticket.community_id,
        from: Account::Person(ticket.requester),
        to: Account::Hold(ticket.id),
        minutes,
        ticket: Some(ticket.id),
    })
}

/// A person giving `minutes` to a relative: only one the community office confirmed as theirs.
pub fn transfer(
    community: Uuid,
    giver: Uuid,
    relative: Uuid,
    minutes: i64,
    confirmed: bool,
) -> Result<Movement, Refusal> {
    if giver == relative || !confirmed {
        return Err(Refusal::Invalid {
            field: "to",
            reason: "is not a relative of yours the community office confirmed",
        });
    }
    Ok(Movement {
        kind: Kind::Transfer,
        community,
        from: Account::Person(giver),
        to: Account::Person(relative),
        minutes,
        ticket: None,
    })
}

/// A person giving `minutes` to their community's pool.
pub fn donate(community: Uuid, giver: Uuid, minutes: i64) -> Movement {
    Movement {
        kind: Kind::Donate,
        community,
        from: Account::Person(giver),
        to: Account::Pool(community),
        minutes,
        ticket: None,
    }
}

/// The community office granting `minutes` from the pool to a resident in need.
pub fn grant(community: Uuid, resident: Uuid, minutes: i64) -> Movement {
    Movement {
        kind: Kind::Grant,
        community,
        from: Account::Pool(community),
        to: Account::Person(resident),
        minutes,
        ticket: None,
    }
}

/// What of an account expires: spending takes the oldest hours first, so of the hours that came
/// in before the cutoff (`old_in`), what all that went out since it opened (`out`) has not
/// used up is still there, and old. Never more than the balance.
pub fn expiring(old_in: i64, out: i64, balance: i64) -> i64 {
    (old_in - out).clamp(0, balance.max(0))
}

/// A person's expired hours, retired to the community's issue account.
pub fn expire(community: Uuid, person: Uuid, minutes: i64) -> Movement {
    Movement {
        kind: Kind::Expire,
        community,
        from: Account::Person(person),
        to: Account::Issue(community),
        minutes,
        ticket: None,
    }
}

/// What `d` moves in its community's bank: a crediting action pays the volunteer what was
/// held for a paid request, or deposits the credited service (within the caps; beyond the
/// account's cap, to the pool); a request ending without a credit gives back what was held.
/// Ratings never move hours: only the credit's minutes.
pub fn on_decision(d: &Decision, policy: &Policy, now: &State) -> Vec<Movement> {
    let community = d.ticket.community_id;
    let ticket = Some(d.ticket.id);
    let mut out = Vec::new();
    for e in &d.events {
        let EventKind::Transitioned {
            credit, terminal, ..
        } = &e.kind
        else {
            continue;
        };
        match credit {
            Some(c) if now.held > 0 => out.push(Movement {
                kind: Kind::Pay,
                community,
                from: Account::Hold(d.ticket.id),
                to: Account::Person(c.person),
                minutes: now.held,
                ticket,
            }),
            Some(c) => {
                let (kept, excess) = deposit(policy, now, i64::from(c.minutes));
                for (kind, to, minutes) in [
                    (Kind::Deposit, Account::Person(c.person), kept),
                    (Kind::Excess, Account::Pool(community), excess),
                ] {
                    if minutes > 0 {
                        out.push(Movement {
                            kind,
                            community,
                            from: Account::Issue(community),
                            to,
                            minutes,
                            ticket,
                        });
                    }
                }
            }
            None if *terminal && now.held > 0 => out.push(Movement {
                kind: Kind::Release,
                community,
                from: Account::Hold(d.ticket.id),
                to: Account::Person(d.ticket.requester),
                minutes: now.held,
                ticket,
            }),
            None => {}
        }
    }
    out
}

/// A deposit of `minutes` split into what the volunteer keeps and what goes to the pool: the
/// day's cap cuts it (what is cut is not deposited at all: the service beyond a day's cap is
/// not banked), the account's cap sends the rest beyond it to the pool.
pub fn deposit(policy: &Policy, now: &State, minutes: i64) -> (i64, i64) {
    let minutes = match policy.daily_cap_minutes {
        Some(cap) => minutes.min((cap - now.deposited_today).max(0)),
        None => minutes,
    };
    match policy.account_cap_minutes {
        Some(cap) => {
            let room = (cap - now.balance).max(0);
            (minutes.min(room), (minutes - room).max(0))
        }
        None => (minutes, 0),
    }
}

/// Hours as the API takes them (`1.5`) in whole minutes: above zero, at most `max_hours`.
pub fn minutes_of(hours: f64, max_hours: f64) -> Option<i64> {
    (hours.is_finite() && hours > 0.0 && hours <= max_hours)
        .then(|| (hours * 60.0).round() as i64)
        .filter(|m| *m > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_cap_cuts_and_the_account_cap_overflows_to_the_pool() {
        let policy = Policy {
            daily_cap_minutes: Some(120),
            account_cap_minutes: Some(600),
            expire_after_days: None,
        };
        let fresh = State::default();
        assert_eq!(deposit(&policy, &fresh, 90), (90, 0));
        let busy = State {
            deposited_today: 100,
            ..fresh
        };
        assert_eq!(
            deposit(&policy, &busy, 90),
            (20, 0),
            "20 minutes left today"
        );
        let full = State {
            balance: 590,
            ..fresh
        };
        assert_eq!(
            deposit(&policy, &full, 60),
            (10, 50),
            "the rest to the pool"
        );
        assert_eq!(deposit(&Policy::default(), &full, 60), (60, 0));
    }

    #[test]
    fn the_oldest_hours_are_spent_first_and_what_is_left_of_them_expires() {
        // 10 h in long ago, 4 h in lately; 6 h spent: 4 of the old are left, and expire.
        assert_eq!(expiring(600, 360, 480), 240);
        // Spent more than came in long ago: nothing old is left.
        assert_eq!(expiring(600, 700, 300), 0);
        assert_eq!(expiring(600, 0, 100), 100, "never more than the balance");
    }

    #[test]
    fn hours_are_whole_minutes_above_zero() {
        assert_eq!(minutes_of(1.5, 24.0), Some(90));
        assert_eq!(minutes_of(0.0, 24.0), None);
        assert_eq!(minutes_of(-1.0, 24.0), None);
        assert_eq!(minutes_of(f64::NAN, 24.0), None);
        assert_eq!(minutes_of(25.0, 24.0), None);
        assert_eq!(minutes_of(0.001, 24.0), None);
    }

    #[test]
    fn only_the_issue_account_goes_below_zero() {
        let id = Uuid::from_u128(1);
        for account in [Account::Person(id), Account::Pool(id), Account::Hold(id)] {
            assert!(!account.may_overdraw());
            assert_eq!(Account::parse(account.kind(), id), Some(account));
        }
        assert!(Account::Issue(id).may_overdraw());
    }
}
