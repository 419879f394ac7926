//! Rate limits (sign-in, widget, merchant API) on `governor`'s GCRA limiters, keyed and kept in
//! memory: with several replicas each enforces its own share (documented in the README), which
//! still bounds abuse. Every answer under a limit carries the IETF `RateLimit-*` headers
//! (draft-ietf-httpapi-ratelimit-headers); a refusal is a 429 problem with `Retry-After`.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use governor::{
    middleware::{StateInformationMiddleware, StateSnapshot},
    state::keyed::DashMapStateStore,
    NotUntil, Quota,
};

use super::problem::Problem;
use crate::time::Clock;

/// Our clock as governor's: tests move time with it. Instants are durations since the epoch.
#[derive(Clone)]
pub struct LimiterClock(pub Arc<dyn Clock>);

impl governor::clock::Clock for LimiterClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now().0).unwrap_or(0))
    }
}

type Keyed = governor::RateLimiter<String, DashMapStateStore<String>, LimiterClock, StateInformationMiddleware>;

/// A limit per key: bursts of up to `burst` requests, one more allowed every `interval`.
pub struct RateLimiter {
    limiter: Keyed,
    burst: NonZeroU32,
    /// How long an exhausted burst takes to come back in full, in seconds (`w` of the policy).
    window_seconds: u64,
}

/// What a request may still do under its limit, for the response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub limit: u32,
    pub window_seconds: u64,
    pub remaining: u32,
    /// Seconds until the full burst is available again.
    pub reset_seconds: u64,
}

/// A refused request: the limit it hit and how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub limit: u32,
    pub window_seconds: u64,
    pub retry_after: Duration,
}

impl RateLimiter {
    /// `per_minute` requests a minute on average, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32, clock: Arc<dyn Clock>) -> Self {
        let per_minute = per_minute.max(1);
        Self::new(per_minute, Duration::from_secs(60) / per_minute, clock)
    }

    /// Bursts of `burst`, then one request per `interval`.
    pub fn new(burst: u32, interval: Duration, clock: Arc<dyn Clock>) -> Self {
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        let interval = interval.max(Duration::from_millis(1));
        let quota = Quota::with_period(interval).expect("a positive interval").allow_burst(burst);
        let limiter = governor::RateLimiter::dashmap_with_clock(quota, LimiterClock(clock))
            .with_middleware::<StateInformationMiddleware>();
        let window_seconds = interval.saturating_mul(burst.get()).as_secs_f64().ceil() as u64;
        Self { limiter, burst, window_seconds }
    }

    /// Takes one request from `key`'s allowance, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<Allowance, Refusal> {
        let (limit, window_seconds) = (self.burst.get(), self.window_seconds);
        match self.limiter.check_key(&key.to_owned()) {
            Ok(state) => Ok(allowance(limit, window_seconds, &state)),
            Err(not_until) => Err(Refusal { limit, window_seconds, retry_after: wait(&self.limiter, &not_until) }),
        }
    }

    /// Forgets keys whose allowance is full again: one pass over the shards, a shard locked at a
    /// time (requests on other shards go on), run by a background task instead of by requests.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    pub fn tracked_keys(&self) -> usize {
        self.limiter.len()
    }
}

/// A limit on failures (wrong passwords): successes cost nothing. Each failure takes from the
/// key's allowance; once it is used up, the key is refused until one more failure would be
/// allowed, whatever the attempt (a refused right password tells a guesser nothing).
pub struct FailureLimit {
    limiter: RateLimiter,
    clock: Arc<dyn Clock>,
    /// Keys whose failures used up their allowance, and until when (ms) they are refused.
    locked_until: std::sync::Mutex<std::collections::HashMap<String, i64>>,
}

impl FailureLimit {
    /// Bursts of `burst` failures, then one per `interval`.
    pub fn new(burst: u32, interval: Duration, clock: Arc<dyn Clock>) -> Self {
        Self { limiter: RateLimiter::new(burst, interval, clock.clone()), clock, locked_until: Default::default() }
    }

    /// Whether `key` may try now.
    pub fn check(&self, key: &str) -> Result<(), Refusal> {
        let now = self.clock.now().0;
        let locked = self.locked_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match locked.get(key) {
            Some(&until) if until > now => Err(Refusal {
                limit: self.limiter.burst.get(),
                window_seconds: self.limiter.window_seconds,
                retry_after: Duration::from_millis(u64::try_from(until - now).unwrap_or(0)),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a failure of `key`; the one that uses up the allowance locks the key.
    pub fn failed(&self, key: &str) {
        let wait = match self.limiter.check(key) {
            Ok(allowance) if allowance.remaining > 0 => return,
            // The last failure allowed: locked until the next one would be.
            Ok(_) => self.limiter.window_seconds * 1_000 / u64::from(self.limiter.burst.get()),
            Err(refusal) => u64::try_from(refusal.retry_after.as_millis()).unwrap_or(u64::MAX),
        };
        let until = self.clock.now().0.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX));
        self.locked_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert(key.to_owned(), until);
    }

    pub fn forget_idle(&self) {
        self.limiter.forget_idle();
        let now = self.clock.now().0;
        self.locked_until.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|_, until| *until > now);
    }
}

/// Per-minute limits whose rate each program chooses (the merchant API's): one limiter per rate
/// in use, shared by the keys of every program at that rate.
pub struct LimitsByRate {
    clock: Arc<dyn Clock>,
    limiters: std::sync::Mutex<std::collections::HashMap<u32, Arc<RateLimiter>>>,
}

impl LimitsByRate {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, limiters: Default::default() }
    }

    /// Takes one request from `key`'s allowance of `per_minute` a minute.
    pub fn check(&self, per_minute: u32, key: &str) -> Result<Allowance, Refusal> {
        let limiter = {
            let mut limiters = self.limiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let limiter = limiters
                .entry(per_minute)
                .or_insert_with(|| Arc::new(RateLimiter::per_minute(per_minute, self.clock.clone())));
            limiter.clone()
        };
        limiter.check(key)
    }

    pub fn forget_idle(&self) {
        let limiters: Vec<_> =
            self.limiters.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).values().cloned().collect();
        for limiter in limiters {
            limiter.forget_idle();
        }
    }
}

fn allowance(limit: u32, window_seconds: u64, state: &StateSnapshot) -> Allowance {
    let remaining = state.remaining_burst_capacity().min(limit);
    let interval = state.quota().replenish_interval();
    let reset = interval.saturating_mul(limit.saturating_sub(remaining));
    Allowance { limit, window_seconds, remaining, reset_seconds: reset.as_secs_f64().ceil() as u64 }
}

fn wait(limiter: &Keyed, not_until: &NotUntil<Duration>) -> Duration {
    use governor::clock::Clock as _;
    not_until.wait_time_from(limiter.clock().now())
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` and `RateLimit-Policy` on an
/// answer.
fn add_headers(headers: &mut HeaderMap, limit: u32, window_seconds: u64, remaining: u32, reset_seconds: u64) {
    let pairs = [
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", remaining.to_string()),
        ("ratelimit-reset", reset_seconds.to_string()),
        ("ratelimit-policy", format!("{limit};w={window_seconds}")),
    ];
    for (name, value) in pairs {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

impl Allowance {
    pub fn add_to(&self, headers: &mut HeaderMap) {
        add_headers(headers, self.limit, self.window_seconds, self.remaining, self.reset_seconds);
    }
}

impl Refusal {
    fn seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }

    /// 429 with `Retry-After` and the `RateLimit-*` headers.
    pub fn response(&self) -> axum::response::Response {
        use axum::response::IntoResponse;
        let seconds = self.seconds();
        let detail = format!("Slow down: try again in {seconds} s.");
        let problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests", detail);
        let mut response = problem.into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        add_headers(headers, self.limit, self.window_seconds, 0, seconds);
        response
    }

    /// Whole seconds to wait, for messages.
    pub fn wait_seconds(&self) -> u64 {
        self.seconds()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{ManualClock, Timestamp};

    #[test]
    fn bursts_are_allowed_then_requests_refill_over_time() {
        let clock = Arc::new(ManualClock::at(Timestamp(1_000_000)));
        let limiter = RateLimiter::per_minute(60, clock.clone());
        for expected_remaining in (0..60).rev() {
            let allowance = limiter.check("ip").unwrap();
            assert_eq!((allowance.limit, allowance.remaining), (60, expected_remaining));
        }
        let refusal = limiter.check("ip").unwrap_err();
        assert_eq!((refusal.limit, refusal.wait_seconds()), (60, 1));
        assert!(limiter.check("other ip").is_ok(), "keys are independent");
        clock.set(Timestamp(1_001_000));
        assert!(limiter.check("ip").is_ok(), "one a second comes back");
        assert!(limiter.check("ip").is_err());
    }

    #[test]
    fn only_failures_use_up_a_failure_limit_and_the_last_one_locks_the_key() {
        let clock = Arc::new(ManualClock::at(Timestamp(1_000_000)));
        let limit = FailureLimit::new(3, Duration::from_secs(60), clock.clone());
        for _ in 0..100 {
            assert!(limit.check("ana").is_ok(), "checks alone (successes) cost nothing");
        }
        for _ in 0..3 {
            assert!(limit.check("ana").is_ok());
            limit.failed("ana");
        }
        let refusal = limit.check("ana").unwrap_err();
        assert_eq!(refusal.wait_seconds(), 60, "one more failure a minute");
        assert!(limit.check("bo").is_ok(), "keys are independent");
        clock.set(Timestamp(1_060_000));
        assert!(limit.check("ana").is_ok(), "a minute later, one try");
        limit.failed("ana");
        assert!(limit.check("ana").is_err(), "and a failure locks again");
        clock.set(Timestamp(1_200_000));
        limit.forget_idle();
        assert!(limit.locked_until.lock().unwrap().is_empty());
    }

    #[test]
    fn idle_keys_are_forgotten_by_the_background_pass() {
        let clock = Arc::new(ManualClock::at(Timestamp(1_000_000)));
        let limiter = RateLimiter::per_minute(10, clock.clone());
        for index in 0..1_000 {
            limiter.check(&format!("ip {index}")).unwrap();
        }
        assert_eq!(limiter.tracked_keys(), 1_000);
        clock.set(Timestamp(1_061_000));
        limiter.check("busy").unwrap();
        limiter.forget_idle();
        assert_eq!(limiter.tracked_keys(), 1, "only the key still using its allowance stays");
    }

    #[test]
    fn a_refusal_answers_429_with_retry_after_and_ratelimit_headers() {
        let refusal = Refusal { limit: 600, window_seconds: 60, retry_after: Duration::from_millis(2_500) };
        let response = refusal.response();
        assert_eq!(response.status(), 429);
        let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
        assert_eq!(header("retry-after"), "3");
        assert_eq!((header("ratelimit-limit"), header("ratelimit-remaining")), ("600".into(), "0".into()));
        assert_eq!(header("ratelimit-policy"), "600;w=60");
    }
}
