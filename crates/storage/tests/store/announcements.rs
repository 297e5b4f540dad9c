//! What a write announces to the other nodes (PostgreSQL NOTIFY): only a timer due within a
//! minute, with its due time (`storage::announce`).

use std::sync::Arc;
use std::time::Duration;

use crate::support::*;
use workflow_core::access::{Asked, Door, Principal};
use workflow_core::engine::{Engine, NewRequest, Quiet};
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

fn engine(s: &storage::SqlStore) -> Arc<Engine> {
    let catalog = load(&[expiring("quick", "2s", "快"), expiring("slow", "1h", "慢")]).unwrap();
    Arc::new(Engine::new(
        Arc::new(s.clone()),
        Arc::new(workflow_core::clock::ManualClock::new(
            jiff::Timestamp::now(),
        )),
        Arc::new(catalog),
        Arc::new(Quiet),
    ))
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
        .listen(storage::announce::TIMER_CHANNEL)
        .await
        .unwrap();
    let e = engine(&s);
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
        storage::announce::timer_announcement(due),
        "the first announcement heard is the quick timer's"
    );
}
