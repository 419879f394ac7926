//! Token-bucket rate limits for the public widget API, per client IP and per shopper. Kept in
//! memory: with several replicas each enforces its own share, which still bounds abuse.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use axum::http::{header, HeaderValue, StatusCode};

use super::problem::Problem;
use crate::ledger::Timestamp;

/// Past this many tracked keys, idle (full) buckets are dropped.
const MAX_TRACKED: usize = 50_000;

pub struct RateLimiter {
    /// Requests allowed in a burst.
    capacity: f64,
    /// Requests regained per second.
    per_second: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated_ms: i64,
}

impl RateLimiter {
    /// `per_minute` requests a minute on average, in bursts of up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        Self { capacity: f64::from(per_minute), per_second: f64::from(per_minute) / 60.0, buckets: Mutex::default() }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &str, now: Timestamp) -> Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > MAX_TRACKED {
            let (capacity, per_second) = (self.capacity, self.per_second);
            buckets.retain(|_, bucket| refilled(*bucket, now, capacity, per_second) < capacity);
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.capacity, updated_ms: now.0 });
        let tokens = refilled(*bucket, now, self.capacity, self.per_second);
        if tokens >= 1.0 {
            *bucket = Bucket { tokens: tokens - 1.0, updated_ms: now.0 };
            Ok(())
        } else {
            *bucket = Bucket { tokens, updated_ms: now.0 };
            Err(Duration::from_secs_f64(((1.0 - tokens) / self.per_second).max(1.0)))
        }
    }
}

impl RateLimiter {
    /// Returns the request `check` took: for limits that count only failures (sign-in
    /// attempts per email), a success gives its token back.
    pub fn give_back(&self, key: &str, now: Timestamp) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = buckets.get_mut(key) {
            let tokens = refilled(*bucket, now, self.capacity, self.per_second);
            *bucket = Bucket { tokens: (tokens + 1.0).min(self.capacity), updated_ms: now.0 };
        }
    }
}

fn refilled(bucket: Bucket, now: Timestamp, capacity: f64, per_second: f64) -> f64 {
    let elapsed = (now.0 - bucket.updated_ms).max(0) as f64 / 1_000.0;
    (bucket.tokens + elapsed * per_second).min(capacity)
}

/// 429 with `Retry-After`.
pub fn too_many_requests(wait: Duration) -> axum::response::Response {
    use axum::response::IntoResponse;
    let seconds = wait.as_secs().max(1);
    let detail = format!("Slow down: try again in {seconds} s.");
    let problem = Problem::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests", detail);
    let mut response = problem.into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_allowed_then_requests_refill_over_time() {
        let limiter = RateLimiter::per_minute(60);
        let start = Timestamp(1_000_000);
        for _ in 0..60 {
            assert!(limiter.check("ip", start).is_ok());
        }
        assert_eq!(limiter.check("ip", start), Err(Duration::from_secs(1)));
        assert!(limiter.check("other ip", start).is_ok(), "keys are independent");
        assert!(limiter.check("ip", Timestamp(start.0 + 1_000)).is_ok(), "one a second comes back");
        assert!(limiter.check("ip", Timestamp(start.0 + 1_000)).is_err());
    }

    #[test]
    fn a_token_given_back_can_be_used_again_but_never_beyond_the_burst() {
        let limiter = RateLimiter::per_minute(2);
        let start = Timestamp(1_000_000);
        for _ in 0..10 {
            assert!(limiter.check("owner@shop.example", start).is_ok(), "successes cost nothing");
            limiter.give_back("owner@shop.example", start);
        }
        limiter.give_back("owner@shop.example", start);
        assert!(limiter.check("owner@shop.example", start).is_ok());
        assert!(limiter.check("owner@shop.example", start).is_ok());
        assert!(limiter.check("owner@shop.example", start).is_err(), "the burst stays 2");
    }
}
