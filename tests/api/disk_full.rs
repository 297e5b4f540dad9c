//! The real `linli serve` on SQLite when its disk stops taking writes mid-run and later
//! takes them again, as an operator's full disk does: one client submitting one request
//! after another and sixteen at once, with and without `Idempotency-Key`, and a secretary
//! acting on requests meanwhile.
//!
//! While the disk refuses: every answer is a 2xx or a 503 problem with `Retry-After` (never
//! a 500); reads go on (a number whose reading cannot be recorded stays masked); `/readyz`
//! says writes fail. After: writes succeed again without a restart, a refused submission
//! retried with its key is taken, and every 2xx answered before, during and after is there,
//! at once and after a restart.
//!
//! The disk is the server process's file size limit, lowered (`prlimit`) under its files'
//! sizes: growing the database or its write-ahead log then fails, as on a full disk.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{Running, spawn_linli};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// Sets the server's file size limit (soft; the hard one is kept).
fn limit_file_size(server: &Running, bytes: libc::rlim_t) {
    let pid = server.child.id() as libc::pid_t;
    // SAFETY: prlimit on a child process of ours, with valid pointers.
    unsafe {
        let mut old = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, std::ptr::null(), &mut old),
            0
        );
        let new = libc::rlimit {
            rlim_cur: bytes.min(old.rlim_max),
            rlim_max: old.rlim_max,
        };
        assert_eq!(
            libc::prlimit(pid, libc::RLIMIT_FSIZE, &new, std::ptr::null_mut()),
            0
        );
    }
}

/// What the server said to every write: the tickets it acknowledged (id → the version it
/// reported), and the keyed submissions it refused, to be sent again.
#[derive(Default)]
struct Answers {
    acknowledged: Vec<(String, u64)>,
    refused: usize,
    refused_keyed: Vec<(String, Value)>,
}

struct Load {
    client: Client,
    base: String,
    resident: String,
    secretary: String,
    answers: Arc<Mutex<Answers>>,
}

impl Load {
    /// Submits a request (with `key` if given) and notes the answer.
    async fn submit(&self, key: Option<String>) {
        let body = json!({"category": "repair", "description": "满盘测试：楼道灯坏了"});
        let mut req = self
            .client
            .post(format!("{}/api/v1/tickets", self.base))
            .bearer_auth(&self.resident)
            .json(&body);
        if let Some(k) = &key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.unwrap();
        self.note(r, key.map(|k| (k, body))).await;
    }

    /// Triages a request the secretary has not yet triaged, and notes the answer.
    async fn triage(&self, id: &str, version: u64) {
        let r = self
            .client
            .post(format!("{}/api/v1/tickets/{id}/actions/triage", self.base))
            .bearer_auth(&self.secretary)
            .json(&json!({"version": version}))
            .send()
            .await
            .unwrap();
        self.note(r, None).await;
    }

    async fn note(&self, r: reqwest::Response, keyed: Option<(String, Value)>) {
        let status = r.status();
        let retry_after = r.headers().get("retry-after").is_some();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let mut answers = self.answers.lock().unwrap();
        match status {
            StatusCode::OK | StatusCode::CREATED => answers.acknowledged.push((
                body["id"].as_str().unwrap().to_owned(),
                body["version"].as_u64().unwrap(),
            )),
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(body["code"], "unavailable", "{body}");
                assert!(retry_after, "a 503 says when to retry");
                answers.refused += 1;
                answers.refused_keyed.extend(keyed);
            }
            other => panic!("a write answered {other}: {body}"),
        }
    }

    /// One client after another's answer, and sixteen at once, for `how_long`.
    async fn load(self: &Arc<Self>, how_long: Duration, tickets: &[(String, u64)]) {
        let until = Instant::now() + how_long;
        let mut tasks = Vec::new();
        for n in 0..17 {
            let (me, tickets) = (self.clone(), tickets.to_vec());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while Instant::now() < until {
                    let key = (i % 2 == 0).then(|| uuid::Uuid::now_v7().to_string());
                    me.submit(key).await;
                    if let Some((id, version)) = tickets.get(n + 17 * i) {
                        me.triage(id, *version).await;
                    }
                    i += 1;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_loses_nothing_acknowledged_and_writing_resumes_by_itself() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("linli-full-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/linli.db", dir.display());
    let env = [("LINLI_RATE_LIMIT", "0"), ("LINLI_DATABASE_TIMEOUT", "3s")];
    let mut server = spawn_linli(&url, None, true, &env, None);
    let load = Arc::new(Load {
        client: Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
        base: server.base.clone(),
        resident: server.tokens["resident"].clone(),
        secretary: server.tokens["secretary"].clone(),
        answers: Arc::default(),
    });

    // Requests to act on while the disk is full.
    load.load(Duration::from_millis(500), &[]).await;
    let waiting = std::mem::take(&mut load.answers.lock().unwrap().acknowledged);
    assert!(!waiting.is_empty());

    limit_file_size(&server, 0);
    load.load(Duration::from_secs(2), &waiting).await;
    let (during, refused) = {
        let a = load.answers.lock().unwrap();
        (a.acknowledged.len(), a.refused)
    };
    assert!(refused > 0, "the full disk refused nothing");
    let ready = load
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["database"].clone(), ready["writes"].clone()),
        (json!(true), json!(false))
    );
    // Reads go on; the secretary may read the resident's number, but the reading cannot be
    // recorded, so it stays masked.
    let read = load
        .client
        .get(format!("{}/api/v1/tickets/{}", server.base, waiting[0].0))
        .bearer_auth(&load.secretary)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["requester"]["withheld"], true, "{read}");
    assert!(
        read["requester"]["phone"]
            .as_str()
            .unwrap()
            .contains("****")
    );

    // The disk takes writes again: no restart.
    limit_file_size(&server, libc::RLIM_INFINITY);
    load.load(Duration::from_millis(500), &[]).await;
    let refused_keyed = std::mem::take(&mut load.answers.lock().unwrap().refused_keyed);
    for (key, body) in &refused_keyed {
        let r = load
            .client
            .post(format!("{}/api/v1/tickets", server.base))
            .bearer_auth(&load.resident)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::CREATED,
            "a refused submission, sent again"
        );
        let t: Value = r.json().await.unwrap();
        load.answers.lock().unwrap().acknowledged.push((
            t["id"].as_str().unwrap().to_owned(),
            t["version"].as_u64().unwrap(),
        ));
    }
    let ready = load
        .client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK, "ready again");

    let acknowledged: Vec<(String, u64)> = waiting
        .into_iter()
        .chain(load.answers.lock().unwrap().acknowledged.drain(..))
        .collect();
    eprintln!(
        "full disk: {} acknowledged in all, {during} while full, {refused} refused (503), \
         {} keyed submissions refused and taken when sent again",
        acknowledged.len(),
        refused_keyed.len()
    );
    let present = |server: &Running| {
        let (client, base, token) = (
            load.client.clone(),
            server.base.clone(),
            load.secretary.clone(),
        );
        let acknowledged = acknowledged.clone();
        async move {
            for (id, version) in &acknowledged {
                let r = client
                    .get(format!("{base}/api/v1/tickets/{id}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    r.status(),
                    StatusCode::OK,
                    "acknowledged ticket {id} is missing"
                );
                let t: Value = r.json().await.unwrap();
                assert!(
                    t["version"].as_u64().unwrap() >= *version,
                    "{id} lost an acknowledged change"
                );
            }
        }
    };
    present(&server).await;
    assert!(server.terminate().await.success());
    let mut restarted = spawn_linli(&url, None, false, &env, None);
    present(&restarted).await;
    assert!(restarted.terminate().await.success());
    let _ = std::fs::remove_dir_all(&dir);
}
