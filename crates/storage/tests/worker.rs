//! The timer worker in real time: it sleeps (its safety-net poll is 30 s), and a timer set
//! two seconds ahead still fires on time, because the worker is woken: in process by the
//! Engine, across nodes by PostgreSQL NOTIFY. It stops cleanly on shutdown.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use storage::SqlStore;
use storage::worker::{SystemClock, Wakeup, WorkerConfig, spawn_timer_worker};
use support::*;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::engine::{Engine, NewRequest, Quiet, Signals};
use workflow_core::store::Scope;
use workflow_core::*;

/// A workflow whose one state expires `after` its start (a timer the system fires): "quick"
/// in two seconds, "slow" in an hour, later than a sleeping worker means to look anyway.
fn expiring(id: &str, after: &str, label: &str) -> Source {
    let text = format!(
        r#"
id = "{id}"
version = 1
initial = "open"
[states.open]
[states.done]
terminal = true
[[transitions]]
action = "expire"
from = "open"
to = "done"
roles = ["system"]
[[timers]]
in = "open"
after = "{after}"
action = "expire"
[categories.{id}]
label = {{ zh-CN = "{label}" }}
workflow = "{id}"
"#
    );
    Source {
        name: format!("{id}.toml"),
        text,
    }
}

fn engine(s: &SqlStore, signals: Arc<dyn Signals>) -> Arc<Engine> {
    let catalog = load(&[expiring("quick", "2s", "快"), expiring("slow", "1h", "慢")]).unwrap();
    Arc::new(Engine::new(
        Arc::new(s.clone()),
        Arc::new(SystemClock),
        Arc::new(catalog),
        signals,
    ))
}

fn config() -> WorkerConfig {
    WorkerConfig {
        max_sleep: Duration::from_secs(30),
        ..WorkerConfig::default()
    }
}

/// Submits, waits for the 2-second timer, and returns how long that took; checks the timer
/// did not fire before it was due.
async fn submit_and_wait(submitter: &Engine, reader: &SqlStore, dir: &Directory) -> Duration {
    let req = NewRequest {
        category: "quick".into(),
        urgency: Urgency::Normal,
        description: "两秒后到期".into(),
        asked: Asked {
            building_id: Some(dir.building),
            channel: Some("console".into()),
            ..Asked::default()
        },
        door: Door::Api,
    };
    let resident = Actor::new(dir.resident, [Role::Resident]);
    let start = Instant::now();
    let t = submitter
        .submit(&Principal::acting(&resident), &req, None)
        .await
        .unwrap();
    loop {
        let now = reader.ticket_for_test(t.id).await;
        if now.state == "done" {
            let events = submitter.events(&Scope::Everything, t.id).await.unwrap();
            let expired = events.last().unwrap();
            let workflow_core::EventKind::Transitioned {
                timer_due: Some(due),
                ..
            } = &expired.kind
            else {
                panic!("{expired:?}")
            };
            assert_eq!(
                *due,
                t.created_at
                    .checked_add(jiff::SignedDuration::from_secs(2))
                    .unwrap()
            );
            assert!(
                expired.at >= *due,
                "fired at {} before it was due at {due}",
                expired.at
            );
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the timer did not fire"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

trait ForTest {
    async fn ticket_for_test(&self, id: uuid::Uuid) -> Ticket;
}

impl ForTest for SqlStore {
    async fn ticket_for_test(&self, id: uuid::Uuid) -> Ticket {
        use workflow_core::store::Store;
        self.ticket(id, &Scope::Everything).await.unwrap().unwrap()
    }
}

/// A timer worker running on a store, until stopped.
struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(e: Arc<Engine>, s: &SqlStore, wake: Arc<Wakeup>) -> Running {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = spawn_timer_worker(e, s.clone(), Arc::new(SystemClock), wake, config(), stopped);
        Running { stop, task }
    }

    /// Stops it, and checks that it stops promptly.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stops promptly")
            .unwrap();
    }
}

async fn a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let wake = Arc::new(Wakeup::default());
    let e = engine(&s, wake.clone());
    let worker = Running::start(e.clone(), &s, wake);
    tokio::time::sleep(Duration::from_millis(300)).await; // the worker is asleep now
    let took = submit_and_wait(&e, &s, &dir).await;
    assert!(
        took < Duration::from_secs(10),
        "woken, not left to its 30 s poll: {took:?}"
    );
    worker.stop().await;
}

/// Timers due after the worker's next look do not wake it, neither in process nor (on
/// PostgreSQL) by an announcement.
async fn a_worker_sleeps_through_timers_due_after_its_next_look(s: SqlStore) {
    let dir = Directory::create(&s).await;
    let wake = Arc::new(Wakeup::default());
    let e = engine(&s, wake.clone());
    let worker = Running::start(e.clone(), &s, wake.clone());
    tokio::time::sleep(Duration::from_millis(300)).await; // asleep, for up to 30 s
    let looked = wake.timer_passes();
    assert!(looked >= 1, "the worker looked once on starting");
    let resident = Actor::new(dir.resident, [Role::Resident]);
    for _ in 0..20 {
        let req = NewRequest {
            category: "slow".into(),
            urgency: Urgency::Normal,
            description: "一小时后到期".into(),
            asked: Asked {
                building_id: Some(dir.building),
                channel: Some("console".into()),
                ..Asked::default()
            },
            door: Door::Api,
        };
        e.submit(&Principal::acting(&resident), &req, None)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        wake.timer_passes(),
        looked,
        "twenty timers due in an hour woke the worker"
    );
    worker.stop().await;
}

backends! {
    a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly,
    a_worker_sleeps_through_timers_due_after_its_next_look,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_timer_set_on_one_node_wakes_the_worker_of_another() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let (a, b) = (connect(&url).await, connect(&url).await);
    let dir = Directory::create(&a).await;
    // Node B runs the worker; node A serves the request and tells nobody in its process.
    let wake_b = Arc::new(Wakeup::default());
    let engine_b = engine(&b, wake_b.clone());
    let worker = Running::start(engine_b, &b, wake_b);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let engine_a = engine(&a, Arc::new(Quiet));
    let took = submit_and_wait(&engine_a, &a, &dir).await;
    assert!(took < Duration::from_secs(10), "woken by NOTIFY: {took:?}");
    worker.stop().await;
}

/// On PostgreSQL only a timer due within a minute is announced to the other nodes: a worker
/// looks every 30 s at the most and finds the others itself, long before they are due. So
/// twenty submissions whose timers are an hour away, batched or alone, announce nothing; the
/// quick one that follows is the first announcement heard, with its own due time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_only_timers_due_within_a_minute_are_announced() {
    let Some(url) = postgres_database().await else {
        return;
    };
    let s = connect(&url).await;
    let dir = Directory::create(&s).await;
    let mut listener = sqlx::postgres::PgListener::connect(&url).await.unwrap();
    listener
        .listen(storage::worker::TIMER_CHANNEL)
        .await
        .unwrap();
    let e = engine(&s, Arc::new(Quiet));
    let resident = Actor::new(dir.resident, [Role::Resident]);
    let request = |category: &str| NewRequest {
        category: category.into(),
        urgency: Urgency::Normal,
        description: "到期提醒".into(),
        asked: Asked {
            building_id: Some(dir.building),
            channel: Some("console".into()),
            ..Asked::default()
        },
        door: Door::Api,
    };
    let slow = request("slow");
    let resident = Principal::acting(&resident);
    let submissions = (0..20).map(|_| e.submit(&resident, &slow, None));
    for t in futures_util::future::join_all(submissions).await {
        t.unwrap();
    }
    let quick = e.submit(&resident, &request("quick"), None).await.unwrap();
    let heard = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("the quick timer was announced")
        .unwrap();
    let due = quick
        .created_at
        .checked_add(jiff::SignedDuration::from_secs(2))
        .unwrap();
    assert_eq!(
        heard.payload(),
        storage::worker::timer_announcement(due),
        "the first announcement heard is the quick timer's"
    );
}
