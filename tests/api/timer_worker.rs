//! The timer worker in real time, as the composition root starts it: it sleeps (its
//! safety-net look is every 30 s), and a timer set two seconds ahead still fires on time,
//! because the worker is woken: in process by the Engine, across nodes by PostgreSQL
//! NOTIFY. It stops cleanly on shutdown.

use std::time::{Duration, Instant};

use linli::app::{App, Config, Workers};
use storage::SqlStore;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::engine::NewRequest;
use workflow_core::store::{Scope, Store};
use workflow_core::{Source, Urgency, load};

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

/// A server with the two expiring workflows over `store` (its workers not yet started).
async fn server(store: &SqlStore) -> App {
    let catalog = load(&[expiring("quick", "2s", "快"), expiring("slow", "1h", "慢")]).unwrap();
    App::over(store.clone(), Config::new(catalog))
        .await
        .unwrap()
}

/// The demo's resident, signed in, and where they live.
async fn resident(store: &SqlStore) -> (Principal, uuid::Uuid) {
    let demo = storage::demo::seed(store).await.unwrap();
    let id = demo.user("resident").id;
    let home = store.person(id).await.unwrap().unwrap().home_building_id;
    let who = Principal {
        id,
        roles: vec![workflow_core::Role::Resident],
        home_building_id: home,
        ..Principal::default()
    };
    (who, home.unwrap())
}

fn request(category: &str, building: uuid::Uuid) -> NewRequest {
    NewRequest {
        category: category.into(),
        urgency: Urgency::Normal,
        description: "到期提醒".into(),
        asked: Asked {
            building_id: Some(building),
            ..Asked::default()
        },
        door: Door::Api,
    }
}

/// The server's workers, running until stopped.
struct Running {
    stop: tokio::sync::watch::Sender<bool>,
    workers: Workers,
}

impl Running {
    fn start(app: &App) -> Running {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        Running {
            stop,
            workers: app.spawn_workers(stopped),
        }
    }

    /// Stops them, and checks that they stop promptly.
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.workers.join())
            .await
            .expect("stops promptly");
    }
}

/// Submits through `submitter`, waits (reading through `reader`) for the 2-second timer, and
/// returns how long that took; checks the timer did not fire before it was due.
async fn submit_and_wait(submitter: &App, reader: &SqlStore) -> Duration {
    let (who, building) = resident(&submitter.store).await;
    let start = Instant::now();
    let t = submitter
        .engine
        .submit(&who, &request("quick", building), None)
        .await
        .unwrap();
    loop {
        let now = reader
            .ticket(t.id, &Scope::Everything)
            .await
            .unwrap()
            .unwrap();
        if now.state == "done" {
            let events = reader.events(t.id).await.unwrap();
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

async fn a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly(url: String) {
    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let app = server(&store).await;
    let workers = Running::start(&app);
    tokio::time::sleep(Duration::from_millis(300)).await; // the worker is asleep now
    let took = submit_and_wait(&app, &store).await;
    assert!(
        took < Duration::from_secs(10),
        "woken, not left to its 30 s look: {took:?}"
    );
    workers.stop().await;
}

/// Timers due after the worker's next look do not wake it, neither in process nor (on
/// PostgreSQL) by an announcement.
async fn a_worker_sleeps_through_timers_due_after_its_next_look(url: String) {
    let store = storage::connect(&storage::Options::new(&url))
        .await
        .unwrap();
    let app = server(&store).await;
    let (who, building) = resident(&store).await;
    let workers = Running::start(&app);
    tokio::time::sleep(Duration::from_millis(300)).await; // asleep, for up to 30 s
    let looked = app.wake.timer_passes();
    assert!(looked >= 1, "the worker looked once on starting");
    for _ in 0..20 {
        app.engine
            .submit(&who, &request("slow", building), None)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        app.wake.timer_passes(),
        looked,
        "twenty timers due in an hour woke the worker"
    );
    workers.stop().await;
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly() {
        let url = crate::support::sqlite_url().await;
        super::a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly(url).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_sleeps_through_timers_due_after_its_next_look() {
        let url = crate::support::sqlite_url().await;
        super::a_worker_sleeps_through_timers_due_after_its_next_look(url).await
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly() {
        let Some(url) = crate::support::postgres_url().await else {
            return;
        };
        super::a_sleeping_worker_is_woken_by_an_earlier_timer_and_stops_cleanly(url).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_sleeps_through_timers_due_after_its_next_look() {
        let Some(url) = crate::support::postgres_url().await else {
            return;
        };
        super::a_worker_sleeps_through_timers_due_after_its_next_look(url).await
    }

    /// Node B runs the workers; node A serves the request and runs none, so only PostgreSQL's
    /// NOTIFY can wake B's worker before its 30 s look.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_timer_set_on_one_node_wakes_the_worker_of_another() {
        let Some(url) = crate::support::postgres_url().await else {
            return;
        };
        let options = storage::Options::new(&url);
        let (a, b) = (
            storage::connect(&options).await.unwrap(),
            storage::connect(&options).await.unwrap(),
        );
        let node_b = super::server(&b).await;
        let workers = super::Running::start(&node_b);
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let node_a = super::server(&a).await;
        let took = super::submit_and_wait(&node_a, &a).await;
        assert!(
            took < std::time::Duration::from_secs(10),
            "woken by NOTIFY: {took:?}"
        );
        workers.stop().await;
    }
}
