//! Webhook delivery: each outbox message is POSTed as JSON to its community's webhook (or the
//! deployment's), signed with HMAC-SHA256 over `"{timestamp}.{body}"`, retried with
//! exponential backoff and jitter, every attempt recorded, and parked after the last one
//! for an admin to retry. At least once: a receiver de-duplicates by `Linli-Message-Id`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use serde::Serialize;
use storage::{DeliveryAttempt, SqlStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;
use workflow_core::clock::Clock;
use workflow_core::store::{OutboxMessage, Store};
use workflow_core::{Event, Recipient};

use super::Wakeup;
use super::egress::Egress;

/// The headers a receiver reads.
pub const MESSAGE_ID_HEADER: &str = "linli-message-id";
pub use linli_http::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Where a community's messages go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    /// The shared secret the signature is made with.
    pub secret: String,
}

/// The deployment's webhook and the communities that have their own.
#[derive(Clone, Debug, Default)]
pub struct Webhooks {
    pub default: Option<Endpoint>,
    pub communities: HashMap<Uuid, Endpoint>,
    /// The 12345 platform's callbacks (`--hotline FILE`).
    pub platform: Option<Endpoint>,
}

impl Webhooks {
    pub fn endpoint(&self, community: Uuid) -> Option<&Endpoint> {
        self.communities.get(&community).or(self.default.as_ref())
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.communities.is_empty() && self.platform.is_none()
    }

    /// Whose messages wait in the outbox for these webhooks; the others are written delivered.
    pub fn outbox_delivery(&self) -> storage::OutboxDelivery {
        storage::OutboxDelivery {
            everyone: self.default.is_some(),
            communities: self.communities.keys().copied().collect(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DeliveryConfig {
    /// Messages claimed at once.
    pub batch: u32,
    /// How long a claim holds before another node may take the message over.
    pub lease: SignedDuration,
    /// The wait before the second attempt; doubled for each further one, up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// Attempts before a message is parked.
    pub max_attempts: u32,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Hosts (names or addresses) delivery may reach though not public (`--webhook-allow`):
    /// a receiver on the same machine or network ([`super::egress`]).
    pub allow: Vec<String>,
    /// The longest the worker waits without looking (retries fall due; a wake-up was lost).
    pub poll: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            batch: 50,
            lease: SignedDuration::from_secs(60),
            first_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(3600),
            max_attempts: 10,
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(1),
            allow: Vec::new(),
        }
    }
}

impl DeliveryConfig {
    /// The wait after failed attempt `attempt` (1-based): exponential, with ±25 % jitter so
    /// that messages failed together do not retry together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .first_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_backoff);
        // Jitter from a v4 UUID's random bits: the process already has that generator.
        let unit = (Uuid::new_v4().as_u128() % 1_000) as f64 / 1_000.0;
        exp.mul_f64(0.75 + unit * 0.5)
    }
}

pub use linli_http::signature::sign;

/// The JSON a receiver gets.
#[derive(Serialize)]
pub struct Payload<'a> {
    /// Stable across attempts: the de-duplication key.
    pub id: Uuid,
    /// What happened: an action, `submitted`, `sla_warning`, `sla_breach`, `escalation`.
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub ticket_id: Uuid,
    pub community_id: Uuid,
    pub event_seq: u64,
    /// Who is to be told.
    pub recipient: Recipient,
    pub created_at: String,
    /// The event itself, from the ticket's history.
    pub event: Option<&'a Event>,
}

/// Delivers until `shutdown` turns true.
pub fn spawn_delivery_worker(
    store: SqlStore,
    webhooks: Arc<Webhooks>,
    clock: Arc<dyn Clock>,
    wake: Arc<Wakeup>,
    config: DeliveryConfig,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let owner = Uuid::now_v7();
        let egress = Egress::allowing(config.allow.clone());
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(egress.clone()))
            .user_agent(concat!("linli/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client");
        let mut changes = wake.outbox_changes();
        tracing::info!(%owner, "webhook delivery started");
        while !*shutdown.borrow() {
            let now = clock.now();
            let claimed = match store
                .claim_outbox(now, config.batch, owner, now + config.lease)
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outbox messages failed");
                    Vec::new()
                }
            };
            let full = claimed.len() as u32 >= config.batch;
            futures_util::future::join_all(
                claimed
                    .iter()
                    .map(|m| deliver(&store, &client, &egress, &webhooks, &*clock, &config, m)),
            )
            .await;
            if full {
                continue;
            }
            tokio::select! {
                _ = tokio::time::sleep(config.poll) => {}
                _ = changes.changed() => {}
                _ = shutdown.changed() => {}
            }
        }
        tracing::info!(%owner, "webhook delivery stopped");
    })
}

async fn deliver(
    store: &SqlStore,
    client: &reqwest::Client,
    egress: &Egress,
    webhooks: &Webhooks,
    clock: &dyn Clock,
    config: &DeliveryConfig,
    m: &OutboxMessage,
) {
    let event = store
        .event(m.ticket_id, m.event_seq)
        .await
        .unwrap_or_default();
    // The platform hears of an order's steps in the order they happened: a callback waits
    // until the earlier ones of its order are through.
    if m.recipient == Recipient::Platform && store.waits_behind(m).await.unwrap_or(true) {
        let _ = store
            .outbox_postpone(m.id, clock.now() + SignedDuration::from_millis(500))
            .await;
        return;
    }
    let (endpoint, body) = if m.recipient == Recipient::Platform {
        // The platform's record: it waits for the bridge, whenever it is configured again.
        let Some(endpoint) = webhooks.platform.as_ref() else {
            let retry = clock.now() + config.backoff(m.attempts + 1);
            let _ = store
                .outbox_failed(m.id, "no 12345 bridge is configured", Some(retry))
                .await;
            return;
        };
        let ticket = store
            .ticket(m.ticket_id, &workflow_core::store::Scope::Everything)
            .await
            .ok()
            .flatten();
        let Some(body) = super::callback::body(m, ticket.as_ref(), event.as_ref()) else {
            let _ = store
                .outbox_failed(m.id, "the order or its event is missing", None)
                .await;
            return;
        };
        (endpoint, body)
    } else {
        let Some(endpoint) = webhooks.endpoint(m.community_id) else {
            // Nobody to deliver to: the message stays readable by the event streams.
            let _ = store.outbox_delivered(m.id, clock.now()).await;
            return;
        };
        let payload = Payload {
            id: m.id,
            kind: &m.event,
            ticket_id: m.ticket_id,
            community_id: m.community_id,
            event_seq: m.event_seq,
            recipient: m.recipient,
            created_at: m.created_at.to_string(),
            event: event.as_ref(),
        };
        (
            endpoint,
            serde_json::to_vec(&payload).expect("a payload serializes"),
        )
    };
    let timestamp = clock.now().as_second();
    let sent = match egress.check_url(&endpoint.url) {
        Err(refused) => Err(refused),
        Ok(()) => client
            .post(&endpoint.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(MESSAGE_ID_HEADER, m.id.to_string())
            .header("idempotency-key", m.id.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&endpoint.secret, timestamp, &body))
            .body(body)
            .send()
            .await
            .map_err(|e| {
                // The resolver's refusal is the cause; say it rather than "error sending request".
                let e = e.without_url();
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(cause) = source {
                    text = format!("{text}: {cause}");
                    source = cause.source();
                }
                text
            }),
    };
    let attempt = m.attempts + 1;
    let (status, error) = match sent {
        Ok(r) if r.status().is_success() => (Some(r.status().as_u16()), None),
        Ok(r) => (
            Some(r.status().as_u16()),
            Some(format!("HTTP {}", r.status())),
        ),
        Err(e) => (None, Some(e)),
    };
    let now = clock.now();
    let record = DeliveryAttempt {
        attempt,
        at: now,
        status,
        error: error.clone(),
    };
    if let Err(e) = store.record_delivery_attempt(m.id, &record).await {
        tracing::warn!(error = %e, "could not record a delivery attempt");
    }
    let outcome = match error {
        None => store.outbox_delivered(m.id, now).await.map(|_| "delivered"),
        Some(error) if attempt >= config.max_attempts => {
            tracing::warn!(message = %m.id, %error, attempt, "webhook message parked");
            store
                .outbox_failed(m.id, &error, None)
                .await
                .map(|_| "parked")
        }
        Some(error) => {
            let retry_at = now + config.backoff(attempt);
            store
                .outbox_failed(m.id, &error, Some(retry_at))
                .await
                .map(|_| "failed")
        }
    };
    match outcome {
        Ok(outcome) => {
            metrics::counter!("linli_webhook_attempts_total", "outcome" => outcome).increment(1)
        }
        Err(e) => tracing::warn!(error = %e, "could not record a delivery outcome"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_community_with_its_own_webhook_uses_it_the_others_the_default() {
        let own = Uuid::now_v7();
        let hooks = Webhooks {
            default: Some(Endpoint {
                url: "https://all.example".into(),
                secret: "a".into(),
            }),
            communities: [(
                own,
                Endpoint {
                    url: "https://own.example".into(),
                    secret: "b".into(),
                },
            )]
            .into(),
            platform: None,
        };
        assert_eq!(hooks.endpoint(own).unwrap().url, "https://own.example");
        assert_eq!(
            hooks.endpoint(Uuid::now_v7()).unwrap().url,
            "https://all.example"
        );
        assert!(Webhooks::default().endpoint(own).is_none());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = DeliveryConfig {
            first_backoff: Duration::from_secs(4),
            max_backoff: Duration::from_secs(60),
            ..DeliveryConfig::default()
        };
        let first = c.backoff(1);
        assert!(first >= Duration::from_secs(3) && first <= Duration::from_secs(5));
        let third = c.backoff(3);
        assert!(third >= Duration::from_secs(12) && third <= Duration::from_secs(20));
        assert!(c.backoff(30) <= Duration::from_secs(75));
    }
}
