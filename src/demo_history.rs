//! Three weeks of the demo community's life, written through the Engine as it happened
//! (never by SQL): requests in every state, some rated, one overdue and escalated, a merged
//! duplicate, wishes on the wall, hours on the ledger. So the console's queue, figures,
//! board and wall show something real on first open.
//!
//! The history is acted on an Engine of its own whose clock starts three weeks ago and is
//! moved on between steps, firing what falls due (warnings, breaches, escalations) as the
//! timer worker would have. Once: a demo whose people have asked for anything keeps its
//! history as it is.

use std::sync::Arc;

use anyhow::Context;
use jiff::{SignedDuration, Timestamp};
use storage::SqlStore;
use storage::demo::Demo;
use uuid::Uuid;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::clock::{Clock, ManualClock};
use workflow_core::command::Fields;
use workflow_core::engine::Quiet;
use workflow_core::store::{Page, Scope, Store, TicketFilter};
use workflow_core::{Assignee, Catalog, Engine, NewRequest, Urgency};

/// How far back the history starts.
const WEEKS: i64 = 3;

/// What was written: how many requests, and the one left overdue.
#[derive(Debug)]
pub struct History {
    pub requests: usize,
    pub overdue: Uuid,
}

struct Walk<'a> {
    engine: Engine,
    clock: Arc<ManualClock>,
    start: Timestamp,
    demo: &'a Demo,
    people: std::collections::HashMap<&'static str, Principal>,
    requests: usize,
}

impl Walk<'_> {
    /// Moves the clock to `days` (and `hours`) after the start, firing what fell due.
    async fn at(&mut self, days: i64, hours: i64) -> anyhow::Result<()> {
        let to = self.start + SignedDuration::from_hours(days * 24 + hours);
        if to > self.clock.now() {
            self.clock.set(to);
        }
        self.fire().await
    }

    /// Moves the clock on by `minutes`, firing what fell due.
    async fn after(&mut self, minutes: i64) -> anyhow::Result<()> {
        self.clock.advance(SignedDuration::from_mins(minutes));
        self.fire().await
    }

    async fn fire(&self) -> anyhow::Result<()> {
        loop {
            let fired = self
                .engine
                .fire_due(Uuid::now_v7(), 100, SignedDuration::from_secs(60))
                .await?;
            if fired.claimed == 0 {
                return Ok(());
            }
        }
    }

    async fn ask(&mut self, who: &str, category: &str, text: &str) -> anyhow::Result<Uuid> {
        let request = NewRequest {
            category: category.into(),
            urgency: Urgency::Normal,
            description: text.into(),
            asked: Asked::default(),
            door: Door::Api,
        };
        let ticket = self
            .engine
            .submit(&self.people[who], &request, None)
            .await
            .with_context(|| format!("{who} asks: {text}"))?;
        self.requests += 1;
        Ok(ticket.id)
    }

    async fn act(
        &self,
        who: &str,
        ticket: Uuid,
        action: &str,
        fields: Fields,
    ) -> anyhow::Result<()> {
        let p = &self.people[who];
        self.engine
            .act(&p.actor(), &p.scope(), ticket, action, None, fields)
            .await
            .with_context(|| format!("{who} {action} on {ticket}"))?;
        Ok(())
    }

    fn person(&self, key: &str) -> Assignee {
        Assignee::Person(self.demo.user(key).id)
    }

    /// Triage, dispatch to `helper`, accepted a quarter of an hour later (a dispatch not
    /// accepted within half an hour expires), start: in progress.
    async fn work(&mut self, desk: &str, helper: &str, ticket: Uuid) -> anyhow::Result<()> {
        self.act(desk, ticket, "triage", note("已受理")).await?;
        let to = self.person(helper);
        self.act(desk, ticket, "dispatch", assign(to)).await?;
        self.after(15).await?;
        self.act(helper, ticket, "accept", Fields::default())
            .await?;
        self.act(helper, ticket, "start", Fields::default()).await
    }

    /// [`Walk::work`], then completed and rated a day later as `help` says.
    async fn close(&mut self, ticket: Uuid, day: i64, help: Help<'_>) -> anyhow::Result<()> {
        self.work(help.desk, help.helper, ticket).await?;
        self.at(day, 6).await?;
        let completed = Fields {
            hours: Some(help.hours),
            note: Some(help.done.into()),
            ..Fields::default()
        };
        self.act(help.helper, ticket, "complete", completed).await?;
        self.at(day + 1, 2).await?;
        let rated = Fields {
            rating: Some(help.stars),
            ..Fields::default()
        };
        self.act(help.requester, ticket, "confirm", rated).await
    }
}

/// Who helps with a request that closes, how long it took, what they did, how it was rated.
struct Help<'a> {
    desk: &'a str,
    helper: &'a str,
    requester: &'a str,
    hours: f64,
    done: &'a str,
    stars: u8,
}

fn note(text: &str) -> Fields {
    Fields {
        note: Some(text.into()),
        ..Fields::default()
    }
}

fn assign(to: Assignee) -> Fields {
    Fields {
        assignee: Some(to),
        ..Fields::default()
    }
}

/// Writes the history unless the demo community has any request already; `None` then.
pub async fn seed(
    store: &SqlStore,
    catalog: Arc<Catalog>,
    demo: &Demo,
) -> anyhow::Result<Option<History>> {
    let any = store
        .list(
            &Scope::Everything,
            &TicketFilter::default(),
            Page {
                after: None,
                limit: 1,
            },
        )
        .await?;
    if !any.is_empty() {
        return Ok(None);
    }
    // Nine in the morning, three weeks ago, in the communities' zone: office hours.
    let zone = catalog.time_zone();
    let start = (Timestamp::now() - SignedDuration::from_hours(WEEKS * 7 * 24))
        .to_zoned(zone)
        .date()
        .at(9, 0, 0, 0)
        .to_zoned(catalog.time_zone())?
        .timestamp();
    let clock = Arc::new(ManualClock::new(start));
    let engine = Engine::new(
        Arc::new(store.clone()),
        clock.clone(),
        catalog,
        Arc::new(Quiet),
    );
    let mut people = std::collections::HashMap::new();
    for user in &demo.users {
        let principal = store
            .authenticate(&user.token)
            .await?
            .with_context(|| format!("the demo user {} signs in", user.key))?;
        people.insert(user.key, principal);
    }
    let mut walk = Walk {
        engine,
        clock,
        start,
        demo,
        people,
        requests: 0,
    };
    let (overdue, rail) = story(&mut walk).await?;
    // Up to now: what fell due meanwhile has fired. The last dispatch is ten minutes old (a
    // dispatch not accepted within half an hour goes back), waiting in the team's pool; the
    // server's timer worker takes it from there.
    walk.clock
        .set(Timestamp::now() - SignedDuration::from_mins(10));
    walk.fire().await?;
    let team = Assignee::Team(demo.hehuatang_team);
    walk.act("secretary", rail, "dispatch", assign(team))
        .await?;
    walk.clock.set(Timestamp::now());
    walk.fire().await?;
    Ok(Some(History {
        requests: walk.requests,
        overdue,
    }))
}

/// The three weeks, day by day; the request left overdue, and the one to dispatch last.
async fn story(w: &mut Walk<'_>) -> anyhow::Result<(Uuid, Uuid)> {
    let lamp = w
        .ask("resident", "repair", "楼道灯坏了，晚上看不见")
        .await?;
    w.close(
        lamp,
        0,
        Help {
            desk: "secretary",
            helper: "member",
            requester: "resident",
            hours: 1.5,
            done: "已更换灯泡",
            stars: 5,
        },
    )
    .await?;

    w.at(2, 0).await?;
    let hospital = w
        .ask("yunhe_resident", "elderly_care", "想请人陪我去医院复查")
        .await?;
    w.close(
        hospital,
        2,
        Help {
            desk: "yunhe_secretary",
            helper: "yunhe_member",
            requester: "yunhe_resident",
            hours: 3.0,
            done: "已陪同复查，结果正常",
            stars: 5,
        },
    )
    .await?;

    w.at(4, 0).await?;
    let bins = w
        .ask("resident", "sanitation", "垃圾桶满了好几天没人清")
        .await?;
    w.close(
        bins,
        4,
        Help {
            desk: "secretary",
            helper: "member",
            requester: "resident",
            hours: 1.0,
            done: "已联系保洁清运",
            stars: 4,
        },
    )
    .await?;

    w.at(6, 0).await?;
    let book = w
        .ask("resident", "micro_wish", "想要一本《十万个为什么》给孙子")
        .await?;
    w.act("secretary", book, "approve", Fields::default())
        .await?;
    w.at(7, 0).await?;
    w.act("doctor", book, "claim", Fields::default()).await?;
    w.at(8, 0).await?;
    let given = Fields {
        hours: Some(1.0),
        ..Fields::default()
    };
    w.act("doctor", book, "fulfil", given).await?;
    let thanks = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    w.act("resident", book, "confirm", thanks).await?;

    w.at(9, 0).await?;
    let leak = w.ask("yunhe_resident", "repair", "厨房水管漏水").await?;
    w.act("yunhe_secretary", leak, "triage", note("已受理"))
        .await?;
    let pool = Assignee::Team(w.demo.yunhe_team);
    w.act("yunhe_secretary", leak, "dispatch", assign(pool))
        .await?;
    w.after(10).await?;
    w.act("yunhe_repair", leak, "accept", Fields::default())
        .await?;
    w.act("yunhe_repair", leak, "start", Fields::default())
        .await?;
    let fixed = Fields {
        hours: Some(2.0),
        note: Some("已更换阀门".into()),
        ..Fields::default()
    };
    w.act("yunhe_repair", leak, "complete", fixed).await?;
    w.at(10, 0).await?;
    let fine = Fields {
        rating: Some(4),
        ..Fields::default()
    };
    w.act("yunhe_resident", leak, "confirm", fine).await?;

    w.at(11, 0).await?;
    let door = w
        .ask("resident", "repair", "单元门关不上，晚上不安全")
        .await?;
    w.act("secretary", door, "triage", note("已受理")).await?;
    w.at(11, 4).await?;
    let again = w.ask("supervisor", "repair", "我们楼的单元门坏了").await?;
    let merged = Fields {
        parent: Some(door),
        ..Fields::default()
    };
    w.act("secretary", again, "merge", merged).await?;
    let to = w.person("member");
    w.act("secretary", door, "dispatch", assign(to)).await?;
    w.after(20).await?;
    w.act("member", door, "accept", Fields::default()).await?;
    w.act("member", door, "start", Fields::default()).await?;
    let mended = Fields {
        hours: Some(2.5),
        note: Some("已修好闭门器".into()),
        ..Fields::default()
    };
    w.act("member", door, "complete", mended).await?;
    w.at(13, 0).await?;
    let good = Fields {
        rating: Some(5),
        ..Fields::default()
    };
    w.act("resident", door, "confirm", good).await?;

    w.at(13, 2).await?;
    let window = w.ask("resident", "repair", "窗户关不严").await?;
    w.at(13, 5).await?;
    w.act("resident", window, "cancel", note("儿子回来已经修好了"))
        .await?;

    w.at(14, 0).await?;
    let phone = w
        .ask("resident", "micro_wish", "想学用智能手机和孙子视频通话")
        .await?;
    w.act("secretary", phone, "approve", Fields::default())
        .await?;

    w.at(15, 0).await?;
    let pressure = w
        .ask("resident", "health", "血压计好像不准，想请医生看看")
        .await?;
    w.work("secretary", "doctor", pressure).await?;

    w.at(16, 0).await?;
    let rail = w.ask("resident", "repair", "楼道扶手松了").await?;
    w.act("secretary", rail, "triage", note("已受理")).await?;

    // Nobody acts on this one: it warns, breaches and climbs the ladder.
    w.at(17, 0).await?;
    let flood = w
        .ask(
            "yunhe_resident",
            "sanitation",
            "小区门口积水很深，老人没法出门",
        )
        .await?;

    w.at(19, 0).await?;
    let shopping = w
        .ask("resident", "elderly_care", "腿脚不便，需要有人帮忙买菜")
        .await?;
    w.act("secretary", shopping, "triage", note("在找志愿者"))
        .await?;

    w.at(20, 0).await?;
    w.ask("supervisor", "repair", "小区路灯不亮了").await?;
    Ok((flood, rail))
}
