//! What the benchmarks share: fresh PostgreSQL databases, settings from the environment,
//! durations in milliseconds.

use std::time::Duration;

use tokio::process::Command;

/// Creates database `name` on the server of `admin` (a URL) with psql; returns its URL.
pub async fn create_database(admin: &str, name: &str) -> String {
    let status = Command::new("psql")
        .args([admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
        .status()
        .await
        .expect("psql runs");
    assert!(status.success(), "could not create database {name}");
    let (base, query) = admin.split_once('?').map_or((admin, String::new()), |(b, q)| (b, format!("?{q}")));
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

/// Milliseconds, for reports.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1_000.0
}
