//! One community's year: its people acting on their requests through the real Engine, and
//! its timers fired through the Engine's firing path, on a clock of its own that jumps to
//! the next thing that happens. Communities share nothing but the database (a request never
//! crosses one), so each is a world of its own, run beside the others: the timeline within
//! a community is exact, and the database sees the whole street's load at once.
//!
//! Within a community, whatever happens at one instant (the requests that arrive, the
//! people who look at theirs) is played at once, concurrently: each request draws from a
//! random stream of its own, so the year is the same whatever order the database answers in.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use anyhow::Context;
use futures_util::future::join_all;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use storage::SqlStore;
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::calendar::Calendar;
use workflow_core::clock::{Clock, ManualClock};
use workflow_core::command::Fields;
use workflow_core::engine::{Engine, EngineError, Quiet};
use workflow_core::store::{Scope, Store};
use workflow_core::{Assignee, Catalog, NewRequest, Ticket, Urgency};

use super::behaviour::{self as how, Answer, Verdict};
use super::cast::Cast;
use super::rng::Rng;
use super::tally::Tally;

/// Timers claimed at once (the timer worker's default).
const BATCH: u32 = 200;

/// What every world reports as it goes, for the progress line.
#[derive(Default)]
pub struct Progress {
    pub requests: AtomicU64,
    pub writes: AtomicU64,
    pub firings: AtomicU64,
    /// The simulated instant each world has reached, in seconds.
    pub reached: Vec<AtomicI64>,
}

/// What the simulation remembers of a request while it is open.
struct Case {
    /// The request's own random stream.
    rng: Rng,
    category: &'static str,
    urgent: bool,
    /// The resident means to withdraw it at this instant.
    cancel_at: Option<Timestamp>,
    follow_up_looks: u8,
}

/// A request about to be asked for, drawn from the world's stream.
struct Arrival {
    at: Timestamp,
    seq: u64,
    category: &'static str,
    urgency: Urgency,
    resident: usize,
    description: &'static str,
}

/// What one look did: when the request is looked at next (`None`: never again), the
/// transitions written, the actions refused.
#[derive(Default)]
struct Outcome {
    next: Option<Timestamp>,
    transitions: u64,
    refused: Vec<(String, EngineError)>,
}

/// What every look of a world shares, and only reads.
struct Stage {
    community: Uuid,
    engine: Engine,
    store: SqlStore,
    clock: Arc<ManualClock>,
    catalog: Arc<Catalog>,
    calendar: Arc<Calendar>,
    zone: TimeZone,
    cast: Cast,
}

pub struct World {
    index: usize,
    seed: u64,
    stage: Stage,
    /// The arrivals' stream.
    rng: Rng,
    owner: Uuid,
    cases: HashMap<Uuid, Case>,
    /// Who looks at which request when: (instant in seconds, order of scheduling, ticket).
    looks: BinaryHeap<Reverse<(i64, u64, Uuid)>>,
    scheduled: u64,
    /// Requests still to arrive in the hour being played, latest last-out.
    arrivals: Vec<Arrival>,
    asked: u64,
    next_hour: Timestamp,
    /// Requests per hour of weight 1.0.
    hourly_rate: f64,
    start: Timestamp,
    end: Timestamp,
    pub tally: Tally,
}

pub struct Setting {
    pub index: usize,
    pub community: Uuid,
    pub seed: u64,
    pub start: Timestamp,
    pub end: Timestamp,
    /// Requests expected in the whole run.
    pub requests: f64,
    /// The members' skills, by name.
    pub skills: HashMap<String, Vec<String>>,
}

impl World {
    pub async fn new(store: SqlStore, catalog: Arc<Catalog>, s: Setting) -> anyhow::Result<World> {
        let calendar = catalog
            .calendars
            .get("office")
            .cloned()
            .context("the catalog has no office calendar")?;
        let zone = catalog.time_zone();
        let clock = Arc::new(ManualClock::new(s.start));
        let engine = Engine::new(
            Arc::new(store.clone()),
            clock.clone(),
            catalog.clone(),
            Arc::new(Quiet),
        );
        let cast = Cast::load(&store, s.community, &s.skills).await?;
        // The arrival rate that gives the expected count over the run's hours.
        let mut weights = 0.0;
        let mut hour = s.start;
        while hour < s.end {
            weights += how::arrival_weight(&calendar, &zone, hour);
            hour += SignedDuration::from_hours(1);
        }
        let days = ((s.end.as_second() - s.start.as_second()) / 86_400) as usize;
        Ok(World {
            index: s.index,
            seed: s.seed,
            stage: Stage {
                community: s.community,
                engine,
                store,
                clock,
                catalog,
                calendar,
                zone,
                cast,
            },
            rng: Rng::split(s.seed, s.index as u64),
            owner: Uuid::now_v7(),
            cases: HashMap::new(),
            looks: BinaryHeap::new(),
            scheduled: 0,
            arrivals: Vec::new(),
            asked: 0,
            next_hour: s.start,
            hourly_rate: s.requests / weights.max(1e-9),
            start: s.start,
            end: s.end,
            tally: Tally::new(days),
        })
    }

    /// Plays the run to its end.
    pub async fn run(mut self, progress: Arc<Progress>) -> anyhow::Result<World> {
        let mut day_ends = self.start + SignedDuration::from_hours(24);
        loop {
            self.draw_arrivals();
            let arrival = self.arrivals.last().map(|a| a.at);
            let look = self.looks.peek().map(|Reverse((at, _, _))| secs(*at));
            let timer = self.stage.store.next_due_in(self.stage.community).await?;
            let Some(now) = [arrival, look, timer].into_iter().flatten().min() else {
                break;
            };
            if now >= self.end {
                break;
            }
            while now >= day_ends {
                self.end_of_day(day_ends).await?;
                day_ends += SignedDuration::from_hours(24);
            }
            // Never backwards: a timer is due at the latest now (it was claimable before).
            let now = now.max(self.stage.clock.now());
            self.stage.clock.set(now);
            progress.reached[self.index].store(now.as_second(), Ordering::Relaxed);
            if timer.is_some_and(|t| t <= now) {
                // Timers first: what they set due at once fires before anyone acts.
                self.fire(&progress).await?;
                continue;
            }
            self.arrive(now, &progress).await?;
            self.look(now, &progress).await?;
        }
        while day_ends <= self.end {
            self.end_of_day(day_ends).await?;
            day_ends += SignedDuration::from_hours(24);
        }
        Ok(self)
    }

    /// The requests of the next hour with any, once the last hour's are all in.
    fn draw_arrivals(&mut self) {
        while self.arrivals.is_empty() && self.next_hour < self.end {
            let hour = self.next_hour;
            self.next_hour += SignedDuration::from_hours(1);
            let mean = self.hourly_rate
                * how::arrival_weight(&self.stage.calendar, &self.stage.zone, hour);
            let n = self.rng.poisson(mean);
            let mut drawn: Vec<Arrival> = (0..n)
                .map(|_| {
                    let offset = SignedDuration::from_secs(self.rng.below(3600) as i64);
                    let category = how::category(&mut self.rng);
                    Arrival {
                        at: how::minute(hour + offset),
                        seq: 0,
                        category,
                        urgency: how::urgency(&mut self.rng),
                        resident: self.rng.below(self.stage.cast.residents.len()),
                        description: how::describe(category, &mut self.rng),
                    }
                })
                .collect();
            drawn.sort_by_key(|a| Reverse(a.at));
            for a in drawn.iter_mut().rev() {
                self.asked += 1;
                a.seq = self.asked;
            }
            self.arrivals = drawn;
        }
    }

    /// Fires what is due now, as the timer worker does: a batch, and another while batches
    /// come back full (what a firing sets due at once, the next pass finds).
    async fn fire(&mut self, progress: &Progress) -> anyhow::Result<()> {
        loop {
            let fired = self
                .stage
                .engine
                .fire_due_in(
                    self.stage.community,
                    self.owner,
                    BATCH,
                    SignedDuration::from_secs(60),
                )
                .await?;
            let now = self.stage.clock.now();
            self.tally.fired(&fired, self.week(now));
            progress
                .firings
                .fetch_add(fired.fired as u64, Ordering::Relaxed);
            progress
                .writes
                .fetch_add(fired.fired as u64, Ordering::Relaxed);
            if fired.claimed < BATCH as usize {
                return Ok(());
            }
        }
    }

    /// The requests asked for at `now`, submitted together.
    async fn arrive(&mut self, now: Timestamp, progress: &Progress) -> anyhow::Result<()> {
        let mut due = Vec::new();
        while self.arrivals.last().is_some_and(|a| a.at == now) {
            due.extend(self.arrivals.pop());
        }
        if due.is_empty() {
            return Ok(());
        }
        let stage = &self.stage;
        let submitted = join_all(due.iter().map(|a| stage.submit(a))).await;
        for (a, result) in due.into_iter().zip(submitted) {
            let ticket = match result {
                Ok(t) => t,
                Err(EngineError::Store(e)) => return Err(e).context("submitting"),
                Err(e) => {
                    self.tally.refused("submit", &e);
                    continue;
                }
            };
            self.tally.submitted(self.day(now));
            progress.requests.fetch_add(1, Ordering::Relaxed);
            progress.writes.fetch_add(1, Ordering::Relaxed);
            let mut rng = Rng::split(self.seed ^ (self.index as u64).rotate_left(32), a.seq);
            let urgent = a.urgency == Urgency::Urgent;
            let cancel_at = rng.chance(how::CANCELS).then(|| {
                how::minute(now + SignedDuration::from_mins(rng.between(10.0, 120.0) as i64))
            });
            let first = match cancel_at {
                Some(at) => at,
                None => how::secretary_at(&mut rng, &self.stage.calendar, now, urgent),
            };
            self.cases.insert(
                ticket.id,
                Case {
                    rng,
                    category: a.category,
                    urgent,
                    cancel_at,
                    follow_up_looks: 0,
                },
            );
            self.schedule(ticket.id, first);
        }
        Ok(())
    }

    /// Everyone due to look at a request at `now` does, together.
    async fn look(&mut self, now: Timestamp, progress: &Progress) -> anyhow::Result<()> {
        let mut batch = Vec::new();
        while let Some(Reverse((at, _, id))) = self.looks.peek().copied() {
            if secs(at) > now {
                break;
            }
            self.looks.pop();
            batch.extend(self.cases.remove(&id).map(|case| (id, case)));
        }
        let stage = &self.stage;
        let outcomes = join_all(
            batch
                .iter_mut()
                .map(|(id, case)| stage.look(*id, case, progress)),
        )
        .await;
        for ((id, case), outcome) in batch.into_iter().zip(outcomes) {
            let outcome = outcome?;
            self.tally.transitions += outcome.transitions;
            for (what, e) in &outcome.refused {
                self.tally.refused(what, e);
            }
            if let Some(at) = outcome.next {
                self.cases.insert(id, case);
                self.schedule(id, at);
            }
        }
        Ok(())
    }

    fn schedule(&mut self, id: Uuid, at: Timestamp) {
        self.scheduled += 1;
        self.looks
            .push(Reverse((at.as_second(), self.scheduled, id)));
    }

    fn day(&self, t: Timestamp) -> usize {
        ((t.as_second() - self.start.as_second()).max(0) / 86_400) as usize
    }

    fn week(&self, t: Timestamp) -> usize {
        self.day(t) / 7
    }

    /// The backlog as the day ends: requests not yet finished.
    async fn end_of_day(&mut self, at: Timestamp) -> anyhow::Result<()> {
        let day = self.day(at).saturating_sub(1);
        let open = super::audit::open_requests(&self.stage.store, self.stage.community).await?;
        self.tally.backlog(day, open as u32);
        Ok(())
    }
}

impl Stage {
    async fn submit(&self, a: &Arrival) -> Result<Ticket, EngineError> {
        let request = NewRequest {
            category: a.category.into(),
            urgency: a.urgency,
            description: a.description.into(),
            asked: Asked::default(),
            door: Door::Api,
        };
        self.engine
            .submit(&self.cast.residents[a.resident], &request, None)
            .await
    }

    /// Someone looks at a request: whoever it waits on now acts, as the people of [`how`]
    /// would.
    async fn look(
        &self,
        id: Uuid,
        case: &mut Case,
        progress: &Progress,
    ) -> anyhow::Result<Outcome> {
        let mut out = Outcome::default();
        let Some(ticket) = self.store.ticket(id, &Scope::Everything).await? else {
            return Ok(out);
        };
        let now = self.clock.now();
        let (category, urgent) = (case.category, case.urgent);
        let rng = &mut case.rng;
        let cancellable = matches!(
            ticket.state.as_str(),
            "submitted" | "triaged" | "dispatched"
        );
        if case.cancel_at.take().is_some_and(|at| at <= now) && cancellable {
            let resident = self.requester(&ticket)?;
            let fields = with_reason("家里人已经解决了");
            self.act(resident, &ticket, "cancel", fields, &mut out, progress)
                .await?;
            return Ok(out);
        }
        let secretary = || {
            self.cast
                .secretaries
                .get(&ticket.branch_id)
                .context("a branch without a secretary")
        };
        let acted = match ticket.state.as_str() {
            "submitted" => {
                if rng.chance(how::REJECTS) {
                    let fields = with_reason("不属于社区服务范围，已告知居民联系物业");
                    self.act(secretary()?, &ticket, "reject", fields, &mut out, progress)
                        .await?
                } else {
                    let fields = Fields {
                        note: Some("已受理".into()),
                        ..Fields::default()
                    };
                    match self
                        .act(secretary()?, &ticket, "triage", fields, &mut out, progress)
                        .await?
                    {
                        // The system dispatches what it may at once (its timer, due now);
                        // the secretary dispatches the rest then and there.
                        Some(t) if t.state == "triaged" && !self.auto_dispatched(category) => {
                            self.dispatch(secretary()?, &t, category, rng, &mut out, progress)
                                .await?
                        }
                        other => other,
                    }
                }
            }
            "triaged" => {
                self.dispatch(secretary()?, &ticket, category, rng, &mut out, progress)
                    .await?
            }
            "dispatched" => match self.holder(&ticket, rng) {
                Some(volunteer) => match how::answer(rng) {
                    Answer::Accept => {
                        self.act(
                            volunteer,
                            &ticket,
                            "accept",
                            Fields::default(),
                            &mut out,
                            progress,
                        )
                        .await?
                    }
                    Answer::Decline => {
                        let fields = with_reason("时间冲突，这几天去不了");
                        self.act(volunteer, &ticket, "decline", fields, &mut out, progress)
                            .await?
                    }
                    Answer::Ignore => {
                        // The dispatch expires by itself; the secretary sees it come back.
                        let expired = self.calendar.add(now, 31 * 60);
                        out.next = Some(how::secretary_at(rng, &self.calendar, expired, urgent));
                        return Ok(out);
                    }
                },
                None => {
                    let skill = self.skill(category);
                    match self.cast.volunteer(rng, ticket.branch_id, &skill, None) {
                        Some(to) => {
                            let fields = Fields {
                                assignee: Some(Assignee::Person(to)),
                                ..with_reason("改派给能做的党员")
                            };
                            self.act(
                                secretary()?,
                                &ticket,
                                "reassign",
                                fields,
                                &mut out,
                                progress,
                            )
                            .await?
                        }
                        None => None,
                    }
                }
            },
            "accepted" | "in_progress" | "on_hold" => match self.holder(&ticket, rng) {
                Some(volunteer) => {
                    let (action, fields) = match ticket.state.as_str() {
                        "accepted" => ("start", Fields::default()),
                        "on_hold" => ("resume", Fields::default()),
                        _ if rng.chance(how::HOLDS) => {
                            ("hold", with_reason("居民不在家，约好改日上门"))
                        }
                        _ => (
                            "complete",
                            Fields {
                                hours: Some(how::hours(rng, category)),
                                note: Some("已办好".into()),
                                ..Fields::default()
                            },
                        ),
                    };
                    self.act(volunteer, &ticket, action, fields, &mut out, progress)
                        .await?
                }
                None => None,
            },
            "completed" => {
                let resident = self.requester(&ticket)?;
                match how::verdict(rng) {
                    Verdict::Confirm(stars) => {
                        let fields = Fields {
                            rating: Some(stars),
                            ..Fields::default()
                        };
                        self.act(resident, &ticket, "confirm", fields, &mut out, progress)
                            .await?
                    }
                    Verdict::Reopen => {
                        let fields = with_reason("问题还没有解决");
                        self.act(resident, &ticket, "reopen", fields, &mut out, progress)
                            .await?
                    }
                    Verdict::Leave => {
                        // It closes by itself after three working days.
                        let days = 3 * self.calendar.working_day_secs() + 60;
                        out.next = Some(self.calendar.add(now, days));
                        return Ok(out);
                    }
                }
            }
            "closed" => {
                self.follow_up(&ticket, case, &mut out, progress).await?;
                return Ok(out);
            }
            // Finished (rejected, cancelled) or merged under another: nobody looks again.
            _ => return Ok(out),
        };
        out.next = Some(match acted {
            Some(t) => match self.next_look(&t, category, urgent, &mut case.rng) {
                Some(at) => at,
                None => return Ok(out),
            },
            // Refused, or nobody to send: looked at again in a working hour.
            None => {
                how::minute(self.calendar.add(now, 3600)).max(now + SignedDuration::from_mins(1))
            }
        });
        Ok(out)
    }

    /// The secretary hands a triaged request to a volunteer, or now and then to a team's pool.
    async fn dispatch(
        &self,
        secretary: &Principal,
        ticket: &Ticket,
        category: &str,
        rng: &mut Rng,
        out: &mut Outcome,
        progress: &Progress,
    ) -> anyhow::Result<Option<Ticket>> {
        let released = match &ticket.assignee {
            Some(Assignee::Person(p)) => Some(*p),
            _ => None,
        };
        let to = match rng.chance(how::TO_TEAM) {
            true => rng.pick(&self.cast.teams).map(|(t, _)| Assignee::Team(*t)),
            false => None,
        };
        let to = to.or_else(|| {
            let skill = self.skill(category);
            self.cast
                .volunteer(rng, ticket.branch_id, &skill, released)
                .map(Assignee::Person)
        });
        let Some(to) = to else {
            return Ok(None);
        };
        let fields = Fields {
            assignee: Some(to),
            ..Fields::default()
        };
        self.act(secretary, ticket, "dispatch", fields, out, progress)
            .await
    }

    /// 回访: the branch calls back once the follow-up falls due, for the categories that ask.
    async fn follow_up(
        &self,
        ticket: &Ticket,
        case: &mut Case,
        out: &mut Outcome,
        progress: &Progress,
    ) -> anyhow::Result<()> {
        let now = self.clock.now();
        case.follow_up_looks += 1;
        match ticket.follow_up.as_ref().filter(|f| f.done_at.is_none()) {
            Some(f) if f.due_at <= now => {
                let secretary = self
                    .cast
                    .secretaries
                    .get(&ticket.branch_id)
                    .context("a branch without a secretary")?;
                let fields = Fields {
                    note: Some("已电话回访，居民表示满意".into()),
                    ..Fields::default()
                };
                self.act(secretary, ticket, "follow_up", fields, out, progress)
                    .await?;
            }
            Some(f) if case.follow_up_looks < 4 => {
                out.next = Some(how::secretary_at(
                    &mut case.rng,
                    &self.calendar,
                    f.due_at,
                    false,
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// When the request is looked at next, by who it waits on in its new state; `None`
    /// when nobody will.
    fn next_look(
        &self,
        t: &Ticket,
        category: &str,
        urgent: bool,
        rng: &mut Rng,
    ) -> Option<Timestamp> {
        let now = self.clock.now();
        let later =
            |rng: &mut Rng, after: SignedDuration| how::daytime(rng, &self.zone, now + after);
        Some(match t.state.as_str() {
            "submitted" | "triaged" if self.auto_dispatched(category) && t.state == "triaged" => {
                how::volunteer_answers_at(rng, now)
            }
            "submitted" | "triaged" => how::secretary_at(rng, &self.calendar, now, urgent),
            "dispatched" => how::volunteer_answers_at(rng, now),
            "accepted" => {
                let after = how::start_after(rng);
                later(rng, after)
            }
            "in_progress" => {
                let after = how::work_takes(rng, category);
                later(rng, after)
            }
            "on_hold" => {
                let after = how::hold_for(rng);
                later(rng, after)
            }
            "completed" => {
                let after = how::resident_answers_after(rng);
                later(rng, after)
            }
            "closed" => match &t.follow_up {
                Some(f) => how::secretary_at(rng, &self.calendar, f.due_at.max(now), false),
                None if self.catalog.category(category).is_some_and(|c| c.follow_up) => self
                    .calendar
                    .add(now, self.calendar.working_day_secs() + 60),
                None => return None,
            },
            _ => return None,
        })
    }

    /// `None` when the action was refused (counted by the reason, to be read in the table:
    /// a simulated person trying what the workflow does not allow is a fault of the model).
    async fn act(
        &self,
        who: &Principal,
        ticket: &Ticket,
        action: &str,
        fields: Fields,
        out: &mut Outcome,
        progress: &Progress,
    ) -> anyhow::Result<Option<Ticket>> {
        let acted = self
            .engine
            .act(
                &who.actor(),
                &who.scope(),
                ticket.id,
                action,
                Some(ticket.version),
                fields,
            )
            .await;
        match acted {
            Ok(t) => {
                out.transitions += 1;
                progress.writes.fetch_add(1, Ordering::Relaxed);
                Ok(Some(t))
            }
            Err(EngineError::Store(e)) => {
                Err(e).with_context(|| format!("{action} on {}", ticket.id))
            }
            Err(e) => {
                out.refused
                    .push((format!("{} → {action}", ticket.state), e));
                Ok(None)
            }
        }
    }

    fn requester(&self, t: &Ticket) -> anyhow::Result<&Principal> {
        self.cast
            .people
            .get(&t.requester)
            .context("a requester the simulation does not know")
    }

    /// Who holds the request, to act on it: the volunteer, or one of the team whose pool it
    /// sits in. `None` if it is held by no volunteer the simulation knows.
    fn holder(&self, t: &Ticket, rng: &mut Rng) -> Option<&Principal> {
        let id = match &t.assignee {
            Some(Assignee::Person(p)) => *p,
            Some(Assignee::Team(team)) => {
                let members = &self.cast.teams.iter().find(|(id, _)| id == team)?.1;
                *rng.pick(members)?
            }
            None => return None,
        };
        self.cast.people.get(&id)
    }

    fn skill(&self, category: &str) -> String {
        self.catalog
            .category(category)
            .and_then(|c| c.skills.first().cloned())
            .unwrap_or_default()
    }

    /// Whether the system dispatches requests of the category (`auto_dispatch`).
    fn auto_dispatched(&self, category: &str) -> bool {
        self.catalog
            .category(category)
            .is_some_and(|c| c.auto_dispatch > 0)
    }
}

fn with_reason(reason: &str) -> Fields {
    Fields {
        reason: Some(reason.into()),
        ..Fields::default()
    }
}

fn secs(s: i64) -> Timestamp {
    Timestamp::from_second(s).unwrap_or(Timestamp::MAX)
}
