//! The time bank's double-entry ledger on both backends: random deposits, holds, payments,
//! refunds, transfers, donations and grants, each taken exactly when a simple model of the
//! balances says the account it takes from can cover it; after every one, every balance is
//! the model's and the ledger's check (each movement two entries summing to zero, the whole
//! ledger zero, each balance the sum of its entries, nothing but an issue account below zero)
//! finds nothing. And two payments from one balance at once never overdraw it.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use storage::SqlStore;
use storage::time_bank::Why;
use uuid::Uuid;
use workflow_core::store::StoreError;
use workflow_core::time_bank::{Account, Kind, Movement};

const PEOPLE: u128 = 4;
const TICKETS: u128 = 3;

#[derive(Clone, Debug)]
enum Op {
    Deposit(u128, i64),
    Hold(u128, u128, i64),
    Pay(u128, u128),
    Release(u128, u128),
    Transfer(u128, u128, i64),
    Donate(u128, i64),
    Grant(u128, i64),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let person = 0..PEOPLE;
    let ticket = 0..TICKETS;
    let minutes = 1..240i64;
    let op = prop_oneof![
        (person.clone(), minutes.clone()).prop_map(|(p, m)| Op::Deposit(p, m)),
        (person.clone(), ticket.clone(), minutes.clone()).prop_map(|(p, t, m)| Op::Hold(p, t, m)),
        (ticket.clone(), person.clone()).prop_map(|(t, p)| Op::Pay(t, p)),
        (ticket, person.clone()).prop_map(|(t, p)| Op::Release(t, p)),
        (person.clone(), person.clone(), minutes.clone())
            .prop_map(|(a, b, m)| Op::Transfer(a, b, m)),
        (person.clone(), minutes.clone()).prop_map(|(p, m)| Op::Donate(p, m)),
        (person, minutes).prop_map(|(p, m)| Op::Grant(p, m)),
    ];
    proptest::collection::vec(op, 40..80)
}

struct World {
    community: Uuid,
    /// A distinct id per run, so that runs on one database do not share accounts.
    base: u128,
}

impl World {
    fn person(&self, n: u128) -> Account {
        Account::Person(Uuid::from_u128(self.base + n))
    }
    fn hold(&self, n: u128) -> Account {
        Account::Hold(Uuid::from_u128(self.base + 100 + n))
    }

    /// The movement an op makes, given what the model holds (a payment or refund moves all
    /// that is held; none when nothing is).
    fn movement(&self, op: &Op, model: &HashMap<Account, i64>) -> Option<Movement> {
        let c = self.community;
        let at = |a: Account| model.get(&a).copied().unwrap_or(0);
        let m = |kind, from, to, minutes| Movement {
            kind,
            community: c,
            from,
            to,
            minutes,
            ticket: None,
        };
        Some(match *op {
            Op::Deposit(p, n) => m(Kind::Deposit, Account::Issue(c), self.person(p), n),
            Op::Hold(p, t, n) => m(Kind::Hold, self.person(p), self.hold(t), n),
            Op::Pay(t, p) | Op::Release(t, p) => {
                let held = at(self.hold(t));
                if held == 0 {
                    return None;
                }
                let kind = if matches!(op, Op::Pay(..)) {
                    Kind::Pay
                } else {
                    Kind::Release
                };
                m(kind, self.hold(t), self.person(p), held)
            }
            Op::Transfer(a, b, n) if a != b => m(Kind::Transfer, self.person(a), self.person(b), n),
            Op::Transfer(..) => return None,
            Op::Donate(p, n) => m(Kind::Donate, self.person(p), Account::Pool(c), n),
            Op::Grant(p, n) => m(Kind::Grant, Account::Pool(c), self.person(p), n),
        })
    }
}

async fn random_movements_keep_the_ledger_balanced(s: SqlStore) {
    let mut runner = TestRunner::deterministic();
    let mut refused = 0;
    let mut taken = 0;
    for run in 0..6u128 {
        let world = World {
            community: Uuid::now_v7(),
            base: run * 1_000 + 1,
        };
        let mut model: HashMap<Account, i64> = HashMap::new();
        for op in ops().new_tree(&mut runner).unwrap().current() {
            let Some(mv) = world.movement(&op, &model) else {
                continue;
            };
            let covered =
                mv.from.may_overdraw() || model.get(&mv.from).copied().unwrap_or(0) >= mv.minutes;
            let written = s
                .move_time(
                    std::slice::from_ref(&mv),
                    jiff::Timestamp::now(),
                    &Why::default(),
                )
                .await;
            match (covered, written) {
                (true, Ok(())) => {
                    *model.entry(mv.from).or_default() -= mv.minutes;
                    *model.entry(mv.to).or_default() += mv.minutes;
                    taken += 1;
                }
                (false, Err(StoreError::NotEnoughHours { .. })) => refused += 1,
                (covered, written) => panic!("{op:?} ({mv:?}): covered {covered}, got {written:?}"),
            }
            for (account, minutes) in &model {
                assert_eq!(
                    s.balance(*account).await.unwrap(),
                    *minutes,
                    "{account:?} after {op:?}"
                );
            }
        }
        let check = s.check_time_ledger().await.unwrap();
        assert!(check.problems.is_empty(), "{:?}", check.problems);
    }
    assert!(
        taken > 100 && refused > 10,
        "both kinds came up: {taken} taken, {refused} refused"
    );
}

async fn two_payments_from_one_balance_at_once_never_overdraw_it(s: SqlStore) {
    let community = Uuid::now_v7();
    let payer = Account::Person(Uuid::now_v7());
    let deposit = Movement {
        kind: Kind::Deposit,
        community,
        from: Account::Issue(community),
        to: payer,
        minutes: 60,
        ticket: None,
    };
    s.move_time(&[deposit], jiff::Timestamp::now(), &Why::default())
        .await
        .unwrap();
    for round in 0..10 {
        let hold = |n: u128| Movement {
            kind: Kind::Hold,
            community,
            from: payer,
            to: Account::Hold(Uuid::from_u128(round * 10 + n)),
            minutes: 60,
            ticket: None,
        };
        let (a, b) = (hold(1), hold(2));
        let why = Why::default();
        let now = jiff::Timestamp::now();
        let (x, y) = tokio::join!(
            s.move_time(std::slice::from_ref(&a), now, &why),
            s.move_time(std::slice::from_ref(&b), now, &why),
        );
        let ok = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            ok, 1,
            "exactly one of two holds of the whole balance: {x:?} {y:?}"
        );
        assert!(
            [&x, &y]
                .iter()
                .any(|r| matches!(r, Err(StoreError::NotEnoughHours { account: "person" }))),
            "{x:?} {y:?}"
        );
        assert_eq!(s.balance(payer).await.unwrap(), 0);
        // Given back, for the next round.
        let held = if x.is_ok() { a } else { b };
        let back = Movement {
            kind: Kind::Release,
            from: held.to,
            to: payer,
            ..held
        };
        s.move_time(&[back], jiff::Timestamp::now(), &Why::default())
            .await
            .unwrap();
    }
    let check = s.check_time_ledger().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

async fn unspent_hours_expire_oldest_first_where_the_bank_says(s: SqlStore) {
    let street = s.create_org_unit("street", "到期街道", None).await.unwrap();
    let community = s
        .create_org_unit("community", "到期社区", Some(street))
        .await
        .unwrap();
    let policy = workflow_core::time_bank::Policy {
        expire_after_days: Some(365),
        ..Default::default()
    };
    s.open_time_bank(community, policy).await.unwrap();
    let now = jiff::Timestamp::now();
    let days_ago = |d: i64| now - jiff::SignedDuration::from_hours(24 * d);
    let person = Uuid::now_v7();
    let me = Account::Person(person);
    let m = |kind, from, to, minutes| Movement {
        kind,
        community,
        from,
        to,
        minutes,
        ticket: None,
    };
    for (at, mv) in [
        // 10 hours long ago, 4 lately; then 6 spent: the oldest first.
        (
            days_ago(400),
            m(Kind::Deposit, Account::Issue(community), me, 600),
        ),
        (
            days_ago(10),
            m(Kind::Deposit, Account::Issue(community), me, 240),
        ),
        (
            days_ago(5),
            m(Kind::Donate, me, Account::Pool(community), 360),
        ),
    ] {
        s.move_time(&[mv], at, &Why::default()).await.unwrap();
    }
    assert_eq!(s.expire_time(now).await.unwrap(), 1);
    assert_eq!(
        s.balance(me).await.unwrap(),
        240,
        "the 4 old hours left expired"
    );
    assert_eq!(s.expire_time(now).await.unwrap(), 0, "once");
    let book = s.passbook(person).await.unwrap();
    assert_eq!(
        (book.lines[0].kind, book.lines[0].minutes),
        (Kind::Expire, -240)
    );
    // A bank that says nothing of expiry never expires anything.
    let other = s
        .create_org_unit("community", "不到期社区", Some(street))
        .await
        .unwrap();
    s.open_time_bank(other, Default::default()).await.unwrap();
    let them = Account::Person(Uuid::now_v7());
    let long_ago = Movement {
        community: other,
        ..m(Kind::Deposit, Account::Issue(other), them, 600)
    };
    s.move_time(&[long_ago], days_ago(4000), &Why::default())
        .await
        .unwrap();
    assert_eq!(s.expire_time(now).await.unwrap(), 0);
    let check = s.check_time_ledger().await.unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

backends! {
    unspent_hours_expire_oldest_first_where_the_bank_says,
    random_movements_keep_the_ledger_balanced,
    two_payments_from_one_balance_at_once_never_overdraw_it,
}
