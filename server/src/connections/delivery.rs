//! The delivery worker: relays the outbox to deliveries, sends each due one signed, and records
//! what came of it. Deliveries are at least once: a delivery is leased while it is sent, and a
//! worker that dies mid-send leaves it to be claimed again when the lease runs out. Replicas
//! share the work through the database (claims skip each other's rows), so in normal operation
//! each event reaches each endpoint once.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use super::webhooks::{next_attempt, signature, UrlPolicy};
use crate::{
    ledger::Timestamp,
    storage::{Attempt, DueDelivery, Storage, StorageError},
    time::Clock,
};

/// How the worker paces itself.
#[derive(Clone, Copy, Debug)]
pub struct DeliveryConfig {
    /// The longest wait between passes when nothing wakes the worker.
    pub poll: Duration,
    /// A receiver gets this long to answer (Standard Webhooks suggests 15 s at most).
    pub timeout: Duration,
    /// Deliveries claimed and sent concurrently per pass.
    pub batch: u32,
    pub urls: UrlPolicy,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            timeout: Duration::from_secs(10),
            batch: 64,
            urls: UrlPolicy::default(),
        }
    }
}

/// Resolves a receiver's host and keeps only the addresses the policy allows, so a public name
/// pointing at a private address is refused too (and cannot be switched there after the check).
struct CheckedResolver {
    urls: UrlPolicy,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let urls = self.urls;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.into_iter().filter(|addr| urls.allows(addr.ip())).collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP client for calls to addresses merchants give (webhook receivers, store APIs): the
/// policy's addresses only, after DNS too, and no redirects.
pub(super) fn checked_client(config: &DeliveryConfig, user_agent: &'static str) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(config.timeout)
        // A redirect could point anywhere: not followed, the attempt fails.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(CheckedResolver { urls: config.urls }))
        .user_agent(user_agent)
        .build()
        .expect("the HTTP client builds")
}

pub struct DeliveryWorker {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    config: DeliveryConfig,
}

impl DeliveryWorker {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, config: DeliveryConfig) -> Self {
        let client = checked_client(&config, concat!("Tally-Webhooks/", env!("CARGO_PKG_VERSION")));
        Self { storage, clock, client, config }
    }

    /// One pass: relays what the outbox holds, then sends every due delivery it can claim.
    /// How many deliveries were attempted.
    pub async fn run_once(&self) -> Result<usize, StorageError> {
        while self.storage.relay_events(self.clock.now(), 500).await? == 500 {}
        let now = self.clock.now();
        // Leased for a timeout and a margin: past that, another worker may try it again.
        let lease_ms = i64::try_from(self.config.timeout.as_millis()).unwrap_or(i64::MAX).saturating_mul(3);
        let lease_until = Timestamp(now.0.saturating_add(lease_ms));
        let due = self.storage.claim_deliveries(now, lease_until, self.config.batch).await?;
        let attempted = due.len();
        let attempts = futures_util::future::join_all(due.into_iter().map(|delivery| self.attempt(delivery))).await;
        self.storage.record_attempts(&attempts).await?;
        Ok(attempted)
    }

    /// Sends one delivery and says what came of it.
    async fn attempt(&self, delivery: DueDelivery) -> (i64, Attempt) {
        let started = Instant::now();
        let sent_at = self.clock.now();
        let outcome = self.send(&delivery, sent_at).await;
        let latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let at = self.clock.now();
        let (response_status, error) = match outcome {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("the receiver answered {status}"))),
            Err(error) => (None, Some(error)),
        };
        let delivered = error.is_none();
        let retry_at = if delivered { None } else { next_attempt(delivery.attempts + 1, at, jitter()) };
        if let (Some(error), None) = (&error, retry_at) {
            tracing::warn!(endpoint = %delivery.endpoint.id, event = %delivery.event_id, %error,
                "webhook delivery gave up after its last retry; the endpoint is marked failing");
        }
        (delivery.id, Attempt { at, response_status, error, latency_ms, retry_at, delivered })
    }

    async fn send(&self, delivery: &DueDelivery, now: Timestamp) -> Result<u16, String> {
        // Checked again at each attempt: the policy may have changed since the endpoint was saved.
        let url = self.config.urls.check(&delivery.endpoint.url).map_err(|error| error.message.to_string())?;
        let timestamp = now.0.div_euclid(1_000);
        let secrets = delivery.endpoint.signing_secrets(now);
        let signed = signature(&secrets, &delivery.event_id, timestamp, &delivery.payload);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(describe)?;
        Ok(response.status().as_u16())
    }

    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }
}

/// Why a request failed, without the URL's query (it may hold a receiver's token).
pub(super) fn describe(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "the receiver did not answer in time".to_owned()
    } else if error.is_connect() {
        "could not connect to the receiver".to_owned()
    } else {
        error.without_url().to_string()
    }
}

/// 0 to 1, to spread retries.
pub(crate) fn jitter() -> f64 {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    f64::from(u16::from_le_bytes(bytes)) / f64::from(u16::MAX)
}
