//! What a write tells the other nodes (PostgreSQL `NOTIFY`): that it set a timer due soon,
//! and when; that it wrote messages. The timer workers and the event streams listen
//! (the `linli` runtime); this crate only decides what a write announces.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// The channel PostgreSQL nodes announce new timers on, with the earliest due time set
/// ([`timer_announcement`]).
pub const TIMER_CHANNEL: &str = "linli_timers";

/// The channel PostgreSQL nodes announce new outbox messages on (event streams, delivery).
pub const OUTBOX_CHANNEL: &str = "linli_outbox";

/// What a write announces on [`TIMER_CHANNEL`]: the earliest timer it set, in Unix µs. A
/// worker that means to look before then sleeps on: every write that sets a timer announces
/// it, the node's own included, and waking for each (three queries) was two fifths of the
/// database's statements under load, a tenth of their execution time.
pub fn timer_announcement(due: Timestamp) -> String {
    due.as_microsecond().to_string()
}

/// The longest a timer worker may sleep without looking for due timers: [`announced`]
/// counts on every worker honouring it.
pub const LONGEST_SLEEP: Duration = Duration::from_secs(30);

/// A timer due later than this after it was set is not announced: every worker looks again
/// within [`LONGEST_SLEEP`], finds it, and sleeps no longer than until it is due. The other
/// half is room for the nodes' clocks to disagree.
const ANNOUNCED_WITHIN: SignedDuration =
    SignedDuration::from_secs(2 * LONGEST_SLEEP.as_secs() as i64);

/// Whether a timer set by a decision taken at `decided_at` and due at `due` is announced on
/// [`TIMER_CHANNEL`]. Most are not: an SLA's warning and deadline, a state's expiry and a
/// follow-up are hours or days away, and a NOTIFY is not free (PostgreSQL orders the commits
/// that send one, and wakes every listening connection of every node for each).
pub fn announced(due: Timestamp, decided_at: Timestamp) -> bool {
    decided_at
        .checked_add(ANNOUNCED_WITHIN)
        .is_ok_and(|horizon| due < horizon)
}

#[cfg(test)]
#[test]
fn a_timer_is_announced_only_if_due_before_every_worker_looks_again_with_room_to_spare() {
    let at = Timestamp::from_second(1_800_000_000).unwrap();
    let after = |secs| at + SignedDuration::from_secs(secs);
    assert!(announced(after(2), at));
    assert!(announced(after(59), at));
    assert!(!announced(after(60), at));
    assert!(!announced(after(3600), at), "an SLA deadline an hour away");
    assert!(
        announced(at - SignedDuration::from_secs(5), at),
        "one already due"
    );
    assert!(
        ANNOUNCED_WITHIN >= SignedDuration::try_from(LONGEST_SLEEP).unwrap(),
        "a worker could sleep through one it was not told of"
    );
}
