//! The checks at the end of the year, each by a way of its own rather than the product's:
//! the figures counted again from every request's events (a simple fold, beside the
//! product's SQL), every timer's firing against its due instant and against the others, the
//! timers left, and the requests nobody holds and nothing will move (no timer, no assignee,
//! and no way on for the branch's secretary or the resident). The projections against
//! their replays, and the ledger against its events, are `linli verify`'s check.

use std::collections::{BTreeMap, HashSet};

use jiff::Timestamp;
use storage::SqlStore;
use storage::reports::{ACCEPT_ACTIONS, COMPLETE_ACTIONS, ClockFigures, Period, Spread, Stats};
use uuid::Uuid;
use workflow_core::access::Unit;
use workflow_core::event::{Event, EventKind};
use workflow_core::role::Party;
use workflow_core::store::Store;
use workflow_core::{Catalog, Role, Ticket};

/// Runs `$body` with `$pool` bound to the store's pool, whichever the backend.
macro_rules! on_pool {
    ($store:expr, $pool:ident, $body:expr) => {
        match ($store.pg_pool(), $store.sqlite_pool()) {
            (Some($pool), _) => $body,
            (None, Some($pool)) => $body,
            (None, None) => unreachable!("a store has one backend"),
        }
    };
}

/// Requests of a community not yet finished.
pub async fn open_requests(store: &SqlStore, community: Uuid) -> anyhow::Result<i64> {
    let sql = "SELECT COUNT(*) FROM tickets WHERE community_id = $1 AND NOT terminal";
    Ok(on_pool!(store, pool, {
        sqlx::query_scalar(sql)
            .bind(community)
            .fetch_one(pool)
            .await?
    }))
}

async fn ticket_ids(store: &SqlStore, community: Uuid) -> anyhow::Result<Vec<Uuid>> {
    let sql = "SELECT id FROM tickets WHERE community_id = $1 ORDER BY id";
    Ok(on_pool!(store, pool, {
        sqlx::query_scalar(sql)
            .bind(community)
            .fetch_all(pool)
            .await?
    }))
}

async fn timers_of(store: &SqlStore, ticket: Uuid) -> anyhow::Result<i64> {
    let sql = "SELECT COUNT(*) FROM timers WHERE ticket_id = $1";
    Ok(on_pool!(store, pool, {
        sqlx::query_scalar(sql).bind(ticket).fetch_one(pool).await?
    }))
}

async fn timers_due_before(
    store: &SqlStore,
    community: Uuid,
    end: Timestamp,
) -> anyhow::Result<i64> {
    let sql = "SELECT COUNT(*) FROM timers WHERE community_id = $1 AND due_at_us < $2";
    Ok(on_pool!(store, pool, {
        sqlx::query_scalar(sql)
            .bind(community)
            .bind(end.as_microsecond())
            .fetch_one(pool)
            .await?
    }))
}

/// What the checks of one community found.
#[derive(Debug, Default)]
pub struct Found {
    /// The figures counted from the events.
    pub stats: Stats,
    pub events: u64,
    /// Timer firings recorded in the events, and the latest any fired after its due instant.
    pub firings: u64,
    pub max_lateness_us: i64,
    pub problems: Vec<String>,
}

/// Every check of the year, and the product's figures it held against the events.
pub struct Year {
    pub found: Vec<Found>,
    /// `/api/v1/stats` for each community, and for the street.
    pub stats: Vec<Stats>,
    pub street_stats: Stats,
    pub max_lateness_us: i64,
    pub problems: Vec<String>,
}

/// Checks the year of the street `street` and its `communities` (by name): `linli verify`,
/// each community ([`community`]), the product's figures of each against those counted
/// from its events, and the street's against their sum.
pub async fn year(
    store: &SqlStore,
    catalog: &Catalog,
    communities: &[(String, Uuid)],
    street: Uuid,
    period: Period,
) -> anyhow::Result<Year> {
    let mut problems = Vec::new();
    let report = store.verify(&mut |_, _| {}).await?;
    problems.extend(report.problems.iter().map(|p| format!("verify: {p}")));
    let mut found = Vec::new();
    let mut stats = Vec::new();
    for (name, id) in communities {
        let f = community(store, catalog, *id, period).await?;
        let product = store.stats(Unit::Community(*id), period).await?;
        if product != f.stats {
            problems.push(format!(
                "{name}: /api/v1/stats says {} but the events say {}",
                serde_json::to_string(&product)?,
                serde_json::to_string(&f.stats)?
            ));
        }
        problems.extend(f.problems.iter().map(|p| format!("{name}: {p}")));
        stats.push(product);
        found.push(f);
    }
    let street_stats = store.stats(Unit::Street(street), period).await?;
    let summed = summed(&found);
    if without_spreads(street_stats.clone()) != summed {
        problems.push(format!(
            "the street: /api/v1/stats says {} but its communities' events say {}",
            serde_json::to_string(&without_spreads(street_stats.clone()))?,
            serde_json::to_string(&summed)?
        ));
    }
    let max_lateness_us = found.iter().map(|f| f.max_lateness_us).max().unwrap_or(0);
    if max_lateness_us != 0 {
        problems.push(format!(
            "a timer fired {max_lateness_us} µs from its due instant"
        ));
    }
    Ok(Year {
        found,
        stats,
        street_stats,
        max_lateness_us,
        problems,
    })
}

/// Checks one community's year ([module docs](self)).
pub async fn community(
    store: &SqlStore,
    catalog: &Catalog,
    community: Uuid,
    period: Period,
) -> anyhow::Result<Found> {
    let mut found = Found::default();
    let mut fold = Fold::default();
    for id in ticket_ids(store, community).await? {
        let events = store.events(id).await?;
        found.events += events.len() as u64;
        if let Err(p) = fold.request(&events, period) {
            found.problems.push(format!("request {id}: {p}"));
        }
        found.check_timers(id, &events);
        if let Ok(t) = Ticket::replay(&events)
            && !t.terminal
            && t.assignee.is_none()
            && !moved_by_branch_or_requester(catalog, &t)
            && timers_of(store, id).await? == 0
        {
            found.problems.push(format!(
                "request {id} is stuck in {}: nobody holds it and no timer will move it",
                t.state
            ));
        }
    }
    found.stats = fold.finish();
    let left = timers_due_before(store, community, period.to).await?;
    if left > 0 {
        found
            .problems
            .push(format!("{left} timers due before the end were never fired"));
    }
    Ok(found)
}

/// Whether the branch's secretary or the resident can move the request on from its state to
/// another that is not an end (a queue of the branch's: triaged; a question for the
/// resident): someone holds it. Withdrawing it is not moving it on.
fn moved_by_branch_or_requester(catalog: &Catalog, t: &Ticket) -> bool {
    let Some(wf) = catalog.workflow(&t.workflow_id, t.workflow_version) else {
        return false;
    };
    let Some(state) = wf.state_id(&t.state) else {
        return false;
    };
    wf.transitions.iter().any(|d| {
        d.from.contains(&state)
            && d.to.is_some_and(|to| to != state && !wf.state(to).terminal)
            && d.roles
                .iter()
                .any(|p| matches!(p, Party::Requester | Party::Role(Role::Secretary)))
    })
}

impl Found {
    /// Each timer fired at its due instant, once: no firing recorded twice since a person
    /// last acted (a zero-delay timer set again by a person's act, an automatic dispatch
    /// after a decline, may fall due at the same instant as the one before it).
    fn check_timers(&mut self, id: Uuid, events: &[Event]) {
        let mut seen = HashSet::new();
        for e in events {
            if e.actor.id.is_some() {
                seen.clear();
            }
            let key = match &e.kind {
                EventKind::Transitioned {
                    action,
                    timer_due: Some(due),
                    ..
                } => (format!("action {action}"), *due),
                EventKind::SlaWarning {
                    clock, timer_due, ..
                } => (format!("warning {clock}"), *timer_due),
                EventKind::SlaBreached {
                    clock, timer_due, ..
                } => (format!("breach {clock}"), *timer_due),
                EventKind::Escalated {
                    clock,
                    level,
                    timer_due,
                    ..
                } => (format!("escalation {clock} {level}"), *timer_due),
                EventKind::FollowUpDue { timer_due } => ("follow-up".to_owned(), *timer_due),
                EventKind::CoHandlerBreached {
                    person, timer_due, ..
                } => (format!("co-handler {person}"), *timer_due),
                _ => continue,
            };
            self.firings += 1;
            let late = e.at.as_microsecond() - key.1.as_microsecond();
            self.max_lateness_us = self.max_lateness_us.max(late.abs());
            if !seen.insert(key.clone()) {
                self.problems.push(format!(
                    "request {id}: the {} timer due {} fired twice",
                    key.0, key.1
                ));
            }
        }
    }
}

/// The figures of [`Stats`], counted request by request from the events.
#[derive(Default)]
struct Fold {
    stats: Stats,
    to_accept: Vec<i64>,
    to_complete: Vec<i64>,
}

impl Fold {
    fn request(&mut self, events: &[Event], period: Period) -> Result<(), String> {
        let Some(EventKind::Submitted(submitted)) = events.first().map(|e| &e.kind) else {
            return Err("its first event is not its submission".into());
        };
        let created = events[0].at;
        if created < period.from || created >= period.to {
            return Ok(());
        }
        let s = &mut self.stats;
        s.submitted += 1;
        s.categories
            .entry(submitted.category.clone())
            .or_default()
            .submitted += 1;
        let (mut state, mut terminal) = (submitted.state.clone(), false);
        let (mut accepted, mut completed) = (None, None);
        // Breaches of each clock not yet followed by its stop.
        let mut breached: BTreeMap<&str, i64> = BTreeMap::new();
        for e in events {
            match &e.kind {
                EventKind::Transitioned {
                    action,
                    to,
                    terminal: t,
                    stays,
                    data,
                    credit,
                    ..
                } => {
                    if !stays {
                        state.clone_from(to);
                        terminal = *t;
                    }
                    let by_requester = e.actor.id.is_some()
                        && (e.actor.id == Some(submitted.requester)
                            || e.actor.id == submitted.proxy);
                    if let (Some(r), true) = (data.rating, by_requester) {
                        s.rated += 1;
                        s.rating_sum += i64::from(r);
                        s.satisfied += i64::from(r >= 4);
                    }
                    if ACCEPT_ACTIONS.contains(&action.as_str()) && accepted.is_none() {
                        accepted = Some(e.at);
                    }
                    if COMPLETE_ACTIONS.contains(&action.as_str()) && completed.is_none() {
                        completed = Some(e.at);
                    }
                    if let Some(c) = credit
                        && e.at >= period.from
                        && e.at < period.to
                    {
                        s.volunteer_minutes += i64::from(c.minutes);
                        s.volunteer_points += i64::from(c.points);
                    }
                }
                EventKind::Migrated { state: to, .. } => state.clone_from(to),
                EventKind::ClockStopped {
                    clock,
                    overrun_secs,
                    ..
                } => {
                    let c = s.clocks.entry(clock.clone()).or_default();
                    c.stopped += 1;
                    c.on_time += i64::from(*overrun_secs <= 0);
                    breached.remove(clock.as_str());
                }
                EventKind::SlaBreached { clock, .. } => {
                    s.clocks.entry(clock.clone()).or_default().breaches += 1;
                    *breached.entry(clock.as_str()).or_default() += 1;
                }
                EventKind::Escalated { to, .. } => {
                    let level = serde_json::to_value(to)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    *s.escalations.entry(level).or_default() += 1;
                }
                _ => {}
            }
        }
        for (clock, n) in breached {
            s.clocks.entry(clock.to_owned()).or_default().breached_open += n;
        }
        match state.as_str() {
            "closed" => {
                s.closed += 1;
                s.categories
                    .entry(submitted.category.clone())
                    .or_default()
                    .closed += 1;
            }
            "rejected" => s.rejected += 1,
            "cancelled" | "withdrawn" => s.cancelled += 1,
            _ => {}
        }
        s.open += i64::from(!terminal);
        if let Some(at) = accepted {
            self.to_accept
                .push(at.as_microsecond() - created.as_microsecond());
        }
        if let Some(at) = completed {
            self.to_complete
                .push(at.as_microsecond() - created.as_microsecond());
        }
        Ok(())
    }

    fn finish(mut self) -> Stats {
        self.stats.to_accept = spread(&mut self.to_accept);
        self.stats.to_complete = spread(&mut self.to_complete);
        self.stats
    }
}

/// Median and 90th percentile by nearest rank, in whole seconds.
fn spread(values: &mut [i64]) -> Spread {
    values.sort_unstable();
    let n = values.len();
    let rank = |p: usize| (n > 0).then(|| values[(p * n).div_ceil(100).max(1) - 1] / 1_000_000);
    Spread {
        count: n as i64,
        p50_secs: rank(50),
        p90_secs: rank(90),
    }
}

/// The street's counts, summed from its communities' (spreads do not sum, and are left out).
fn summed(found: &[Found]) -> Stats {
    let mut s = Stats::default();
    for f in found {
        let o = &f.stats;
        s.submitted += o.submitted;
        s.closed += o.closed;
        s.rejected += o.rejected;
        s.cancelled += o.cancelled;
        s.open += o.open;
        s.rated += o.rated;
        s.rating_sum += o.rating_sum;
        s.satisfied += o.satisfied;
        s.volunteer_minutes += o.volunteer_minutes;
        s.volunteer_points += o.volunteer_points;
        for (k, c) in &o.clocks {
            let t: &mut ClockFigures = s.clocks.entry(k.clone()).or_default();
            t.stopped += c.stopped;
            t.on_time += c.on_time;
            t.breaches += c.breaches;
            t.breached_open += c.breached_open;
        }
        for (k, n) in &o.escalations {
            *s.escalations.entry(k.clone()).or_default() += n;
        }
        for (k, c) in &o.categories {
            let t = s.categories.entry(k.clone()).or_default();
            t.submitted += c.submitted;
            t.closed += c.closed;
        }
    }
    s
}

/// The street's figures from the product without their spreads, to compare with [`summed`].
fn without_spreads(mut s: Stats) -> Stats {
    s.to_accept = Spread::default();
    s.to_complete = Spread::default();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use workflow_core::event::ActorRef;

    fn warning(seq: u64, at: i64, due: i64) -> Event {
        Event {
            ticket_id: Uuid::nil(),
            seq,
            at: Timestamp::from_second(at).unwrap(),
            actor: ActorRef::system(),
            kind: EventKind::SlaWarning {
                clock: "response".into(),
                due: Timestamp::from_second(due + 600).unwrap(),
                timer_due: Timestamp::from_second(due).unwrap(),
                share: None,
                chase: false,
                next_at: None,
            },
        }
    }

    fn by_a_person(seq: u64, at: i64) -> Event {
        Event {
            actor: ActorRef {
                id: Some(Uuid::nil()),
                role: Role::Secretary,
            },
            kind: EventKind::FollowUpDone,
            ..warning(seq, at, at)
        }
    }

    #[test]
    fn a_timer_late_or_fired_twice_is_found() {
        let t = 1_800_000_000;
        let mut on_time = Found::default();
        on_time.check_timers(Uuid::nil(), &[warning(1, t, t)]);
        assert_eq!((on_time.max_lateness_us, on_time.problems.len()), (0, 0));

        let mut late = Found::default();
        late.check_timers(Uuid::nil(), &[warning(1, t + 60, t)]);
        assert_eq!(late.max_lateness_us, 60_000_000);

        let mut twice = Found::default();
        twice.check_timers(Uuid::nil(), &[warning(1, t, t), warning(2, t, t)]);
        assert_eq!(twice.problems.len(), 1, "{:?}", twice.problems);

        // Set again by a person's act and due at the same instant: two timers, once each.
        let mut again = Found::default();
        let events = [warning(1, t, t), by_a_person(2, t), warning(3, t, t)];
        again.check_timers(Uuid::nil(), &events);
        assert!(again.problems.is_empty(), "{:?}", again.problems);
        assert_eq!(again.firings, 2);
    }

    #[test]
    fn spreads_are_nearest_rank_in_seconds() {
        let mut v: Vec<i64> = (1..=10).rev().map(|s| s * 1_000_000).collect();
        let s = spread(&mut v);
        assert_eq!((s.count, s.p50_secs, s.p90_secs), (10, Some(5), Some(9)));
        assert_eq!(spread(&mut []).p50_secs, None);
    }
}
