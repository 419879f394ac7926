//! Outbound webhooks: the endpoints a program's other systems register, how each delivery is
//! signed (the Standard Webhooks specification, so receivers can use its libraries) and when a
//! failed one is tried again.

use std::net::IpAddr;

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use super::events::EventType;
use crate::{
    ledger::Timestamp,
    message::{message, FieldError},
    secrets,
};

/// A rotated secret keeps signing next to the new one for this long, so receivers can switch.
pub const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;
const MAX_URL: usize = 2_000;
const MAX_DESCRIPTION: usize = 200;

/// Where a program's events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// `whe_...`
    pub id: String,
    pub program_id: String,
    pub url: String,
    pub description: String,
    /// The types sent; empty means every type.
    pub event_types: Vec<EventType>,
    /// `whsec_` and base64: the Standard Webhooks signing secret.
    pub secret: String,
    /// The secret before the last rotation and when it stops signing.
    pub previous_secret: Option<(String, Timestamp)>,
    pub created_at: Timestamp,
    /// Nothing is sent while disabled; events are not queued for it either.
    pub disabled: bool,
    /// Set when a delivery gave up after its last retry; cleared by the next success.
    pub failing_since: Option<Timestamp>,
}

/// What an admin or the API asks for an endpoint.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointRequest {
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// Event type names (`points.earned`, ...); empty or absent for every type.
    #[serde(default)]
    pub event_types: Vec<String>,
    #[serde(default)]
    pub disabled: bool,
}

/// Which webhook URLs this server may call. Private and loopback addresses, and plain HTTP,
/// only when the operator allows them (a test receiver, an internal service): otherwise a
/// merchant's URL could make Tally probe the network it runs in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_private: bool,
}

impl UrlPolicy {
    /// The URL, if an endpoint may have it.
    pub fn check(self, raw: &str) -> Result<url::Url, FieldError> {
        let refused = || FieldError::new("url", message!("an https:// URL of a public host, at most 2000 characters"));
        if raw.len() > MAX_URL {
            return Err(refused());
        }
        let url = url::Url::parse(raw).map_err(|_| refused())?;
        let scheme_ok = url.scheme() == "https" || (self.allow_private && url.scheme() == "http");
        if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        match url.host() {
            None => Err(refused()),
            Some(url::Host::Domain(name)) if !self.allow_private && is_local_name(name) => Err(refused()),
            Some(url::Host::Ipv4(ip)) if !self.allow_private && !is_public(IpAddr::V4(ip)) => Err(refused()),
            Some(url::Host::Ipv6(ip)) if !self.allow_private && !is_public(IpAddr::V6(ip)) => Err(refused()),
            Some(_) => Ok(url),
        }
    }

    /// Whether a delivery may connect to `ip` (checked again after DNS, at every delivery).
    pub fn allows(self, ip: IpAddr) -> bool {
        self.allow_private || is_public(ip)
    }
}

fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local") || name.ends_with(".internal")
}

/// A globally routable address: not loopback, private, link-local (cloud metadata lives at
/// 169.254.169.254), shared, documentation, multicast or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || ip.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = ip.segments()[0];
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && ip.segments()[1] == 0x0db8)
        }
    }
}

impl EndpointRequest {
    /// A new endpoint of `program_id` with a fresh id and secret, or the first field that is wrong.
    pub fn validated(
        &self,
        program_id: &str,
        policy: UrlPolicy,
        now: Timestamp,
    ) -> Result<WebhookEndpoint, FieldError> {
        let mut endpoint = WebhookEndpoint {
            id: secrets::random_token("whe_", 8),
            program_id: program_id.to_owned(),
            url: String::new(),
            description: String::new(),
            event_types: Vec::new(),
            secret: new_secret(),
            previous_secret: None,
            created_at: now,
            disabled: false,
            failing_since: None,
        };
        self.apply_to(&mut endpoint, policy)?;
        Ok(endpoint)
    }

    /// Replaces what the request names (URL, description, types, disabled) on `endpoint`;
    /// nothing changes on error.
    pub fn apply_to(&self, endpoint: &mut WebhookEndpoint, policy: UrlPolicy) -> Result<(), FieldError> {
        let url = policy.check(self.url.trim())?;
        let description = self.description.trim();
        if description.chars().count() > MAX_DESCRIPTION {
            return Err(FieldError::new("description", message!("a description of at most 200 characters")));
        }
        let mut types = Vec::new();
        for (index, name) in self.event_types.iter().enumerate() {
            let kind = EventType::parse(name).filter(|kind| *kind != EventType::WebhookTest).ok_or_else(|| {
                FieldError::new(
                    format!("event_types[{index}]"),
                    message!("no event type is called {0}", format!("{name:?}")),
                )
            })?;
            if !types.contains(&kind) {
                types.push(kind);
            }
        }
        endpoint.url = url.to_string();
        endpoint.description = description.to_owned();
        endpoint.event_types = types;
        endpoint.disabled = self.disabled;
        Ok(())
    }
}

impl WebhookEndpoint {
    /// Whether an event of this type is queued for this endpoint (a test event goes only to the
    /// endpoint it was sent to).
    pub fn wants(&self, event_type: EventType) -> bool {
        !self.disabled
            && event_type != EventType::WebhookTest
            && (self.event_types.is_empty() || self.event_types.contains(&event_type))
    }

    /// A new secret; the current one keeps signing for [`ROTATION_OVERLAP_MS`].
    pub fn rotate_secret(&mut self, now: Timestamp) {
        let old = std::mem::replace(&mut self.secret, new_secret());
        self.previous_secret = Some((old, Timestamp(now.0.saturating_add(ROTATION_OVERLAP_MS))));
    }

    /// The secrets that sign a delivery at `now`: the current one, and the previous one
    /// during the overlap.
    pub fn signing_secrets(&self, now: Timestamp) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let Some((previous, until)) = &self.previous_secret {
            if now < *until {
                secrets.push(previous);
            }
        }
        secrets
    }
}

/// A `webhook.test` event for one endpoint (relayed to it alone).
pub fn test_event(program_id: &str, endpoint_id: &str, now: Timestamp) -> super::events::OutboxEvent {
    let data = serde_json::json!({ "endpoint_id": endpoint_id, "message": "A test event from Tally." });
    super::events::OutboxEvent::new(program_id, None, EventType::WebhookTest, now, data)
}

/// `whsec_` and 32 random bytes in base64, as Standard Webhooks' libraries expect.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system's random source is available");
    format!("whsec_{}", STANDARD.encode(key))
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each secret, space separated: the
/// `webhook-signature` header. `timestamp` is in seconds, as sent in `webhook-timestamp`.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| {
            // Secrets are Tally's own (`new_secret`): their base64 part always decodes.
            let key = STANDARD.decode(secret.trim_start_matches("whsec_")).unwrap_or_default();
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes keys of any length");
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Waits before each retry, after the first attempt failed: about three days in all.
const RETRY_DELAYS_MS: [i64; 9] = [
    5_000,
    5 * 60_000,
    30 * 60_000,
    2 * 3_600_000,
    5 * 3_600_000,
    10 * 3_600_000,
    10 * 3_600_000,
    14 * 3_600_000,
    24 * 3_600_000,
];

/// When a delivery that failed `attempts` times is tried again, or `None` to give up. `jitter`
/// (0 to 1) spreads the retries of many deliveries that failed together by up to a fifth.
pub fn next_attempt(attempts: u32, now: Timestamp, jitter: f64) -> Option<Timestamp> {
    let delay = *RETRY_DELAYS_MS.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let spread = (delay as f64 * 0.2 * jitter.clamp(0.0, 1.0)) as i64;
    Some(Timestamp(now.0.saturating_add(delay + spread)))
}

/// How many attempts a delivery gets before it is marked failed.
pub const MAX_ATTEMPTS: u32 = RETRY_DELAYS_MS.len() as u32 + 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the specification's README (standard-webhooks/standard-webhooks).
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        let signed = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let both = signature(&[secret, secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(both, format!("{signed} {signed}"));
    }

    #[test]
    fn retries_back_off_for_about_three_days_then_stop() {
        let now = Timestamp(0);
        assert_eq!(next_attempt(0, now, 0.0), None);
        assert_eq!(next_attempt(1, now, 0.0), Some(Timestamp(5_000)));
        assert_eq!(next_attempt(1, now, 1.0), Some(Timestamp(6_000)));
        let total: i64 = RETRY_DELAYS_MS.iter().sum();
        assert!((60 * 3_600_000..80 * 3_600_000).contains(&total), "{total}");
        assert_eq!(next_attempt(MAX_ATTEMPTS - 1, now, 0.0), Some(Timestamp(24 * 3_600_000)));
        assert_eq!(next_attempt(MAX_ATTEMPTS, now, 0.0), None);
    }

    #[test]
    fn urls_must_be_https_to_public_hosts_unless_the_operator_allows_private_ones() {
        let strict = UrlPolicy::default();
        let lax = UrlPolicy { allow_private: true };
        assert!(strict.check("https://hooks.shop.example/tally").is_ok());
        for refused in [
            "http://hooks.shop.example/",
            "https://localhost/",
            "https://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.7/",
            "https://[::1]/",
            "https://[::ffff:192.168.1.1]/",
            "https://user:pass@hooks.shop.example/",
            "ftp://hooks.shop.example/",
            "not a url",
        ] {
            assert!(strict.check(refused).is_err(), "{refused}");
        }
        assert!(lax.check("http://127.0.0.1:9000/hook").is_ok());
        assert!(!strict.allows("10.1.2.3".parse().unwrap()) && strict.allows("93.184.216.34".parse().unwrap()));
    }

    #[test]
    fn a_rotated_secret_signs_alongside_the_new_one_for_a_day() {
        let request = EndpointRequest {
            url: "https://hooks.shop.example/".into(),
            description: String::new(),
            event_types: vec!["points.earned".into(), "points.earned".into()],
            disabled: false,
        };
        let mut endpoint = request.validated("prg_1", UrlPolicy::default(), Timestamp(0)).unwrap();
        assert_eq!(endpoint.event_types, [EventType::PointsEarned]);
        assert!(endpoint.wants(EventType::PointsEarned) && !endpoint.wants(EventType::TierChanged));
        let first = endpoint.secret.clone();
        endpoint.rotate_secret(Timestamp(1_000));
        assert_eq!(endpoint.signing_secrets(Timestamp(2_000)), [endpoint.secret.as_str(), first.as_str()]);
        assert_eq!(endpoint.signing_secrets(Timestamp(1_000 + ROTATION_OVERLAP_MS)), [endpoint.secret.as_str()]);
        let bad = EndpointRequest { event_types: vec!["points.stolen".into()], ..request };
        let error = bad.validated("prg_1", UrlPolicy::default(), Timestamp(0)).unwrap_err();
        assert_eq!(error.field, "event_types[0]");
    }
}
