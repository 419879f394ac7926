//! `cargo xtask bench`: loads a real `tally serve` (release build) over HTTP with concurrent
//! clients, on SQLite and on PostgreSQL, and runs pgbench's TPC-B-like script (`-N`) on the same
//! PostgreSQL server in the same run as the baseline. Prints throughput, p50/p99 latency and the
//! ratio to pgbench. Not a test: nothing here asserts a speed.
//!
//! Environment: TALLY_BIN (the release binary), TALLY_TEST_POSTGRES_URL (a server where
//! databases may be created), BENCH_CLIENTS (default 16), BENCH_SECONDS (default 10).

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use serde_json::json;
use tally_bench::{create_database, env_number, ms};
use tally_server::{ledger::Timestamp, programs::Program};
use tokio::{io::AsyncBufReadExt, process::Command};

const CUSTOMERS: usize = 1_000;

struct Phase {
    name: &'static str,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let index = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[index]
    }
}

#[tokio::main]
async fn main() {
    let clients: usize = env_number("BENCH_CLIENTS", 16);
    let seconds: u64 = env_number("BENCH_SECONDS", 10);
    let tally = std::env::var("TALLY_BIN").expect("TALLY_BIN: the tally release binary (cargo xtask bench sets it)");
    let admin = std::env::var("TALLY_TEST_POSTGRES_URL").expect("TALLY_TEST_POSTGRES_URL: a PostgreSQL server");
    let duration = Duration::from_secs(seconds);
    println!("Tally API benchmark: {clients} clients, {seconds} s per phase, {CUSTOMERS} customers");

    let run = std::process::id();
    let sqlite_file = std::env::temp_dir().join(format!("tally-bench-{run}.db"));
    let databases = [
        ("SQLite", format!("sqlite://{}", sqlite_file.display())),
        ("PostgreSQL", create_database(&admin, &format!("tally_bench_{run}")).await),
    ];
    let mut postgres_earn_rate = 0.0;
    println!("\n{:<11} {:<14} {:>10} {:>9} {:>9} {:>7}", "database", "phase", "req/s", "p50 ms", "p99 ms", "errors");
    for (label, url) in &databases {
        for phase in bench_database(&tally, url, clients, duration).await {
            println!(
                "{label:<11} {:<14} {:>10.0} {:>9.2} {:>9.2} {:>7}",
                phase.name,
                phase.per_second(),
                ms(phase.percentile(0.50)),
                ms(phase.percentile(0.99)),
                phase.errors
            );
            if *label == "PostgreSQL" && phase.name == "earn events" {
                postgres_earn_rate = phase.per_second();
            }
        }
    }
    let _ = std::fs::remove_file(&sqlite_file);

    let tps = pgbench(&admin, &format!("tally_pgbench_{run}"), clients, seconds).await;
    println!("\npgbench -N (TPC-B-like, no branch/teller updates), same server, {clients} clients: {tps:.0} tps");
    println!("ratio: Tally earn events/s on PostgreSQL / pgbench tps = {:.3}", postgres_earn_rate / tps);
}

/// Starts the server on `url`, creates a program, then runs the earn and read phases.
async fn bench_database(tally: &str, url: &str, clients: usize, duration: Duration) -> Vec<Phase> {
    let storage = tally_server::storage::connect(url).await.expect("the database opens");
    let (program, key, secret) = Program::create("Bench", "USD", "points", vec![]).unwrap();
    storage.create_program(&program, &key, Timestamp(0)).await.unwrap();
    let mut server = Command::new(tally)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url, "--upkeep-interval", "0"])
        .env("RUST_LOG", "warn,tally_server=info")
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("tally starts");
    let mut lines = tokio::io::BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next_line().await.unwrap().expect("tally logs its address");
        if let Some(field) = line.split_whitespace().find(|word| word.starts_with("addr=")) {
            break field.trim_start_matches("addr=").to_owned();
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let base = Arc::new(format!("http://{addr}"));
    let secret = Arc::new(secret);

    let earn = load("earn events", clients, duration, {
        let (base, secret) = (base.clone(), secret.clone());
        move |client: reqwest::Client, n: usize| {
            let (base, secret) = (base.clone(), secret.clone());
            async move {
                let body = json!({"event_id": format!("e{n}"), "customer_id": format!("c{}", n % CUSTOMERS),
                    "type": "order", "order_id": format!("o{n}"), "currency": "USD", "subtotal": 2_500 + (n % 100) as i64});
                let response = client.post(format!("{base}/api/v1/events")).bearer_auth(secret.as_str()).json(&body).send().await;
                response.is_ok_and(|r| r.status() == 201)
            }
        }
    })
    .await;
    let read = load("customer reads", clients, duration, move |client: reqwest::Client, n: usize| {
        let (base, secret) = (base.clone(), secret.clone());
        async move {
            let url = format!("{base}/api/v1/customers/c{}", n % CUSTOMERS);
            let response = client.get(url).bearer_auth(secret.as_str()).send().await;
            response.is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    let _ = server.kill().await;
    vec![earn, read]
}

/// `clients` tasks call `request` back to back for `duration`; returns what they measured.
async fn load<F, Fut>(name: &'static str, clients: usize, duration: Duration, request: F) -> Phase
where
    F: Fn(reqwest::Client, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let counter = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (request, counter) = (request.clone(), counter.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while Instant::now() < deadline {
                    let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let sent = Instant::now();
                    if request(client.clone(), n).await {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut phase = Phase { name, requests: 0, errors: 0, elapsed: Duration::ZERO, latencies: Vec::new() };
    for task in tasks {
        let (latencies, errors) = task.await.unwrap();
        phase.latencies.extend(latencies);
        phase.errors += errors;
    }
    phase.elapsed = start.elapsed();
    phase.requests = phase.latencies.len();
    phase.latencies.sort();
    phase
}

/// pgbench's TPC-B-like transactions (`-N`: without the contended branch/teller updates) on a
/// fresh database of the same server; returns its tps.
async fn pgbench(admin: &str, name: &str, clients: usize, seconds: u64) -> f64 {
    let url = create_database(admin, name).await;
    let init = Command::new("pgbench").args(["-i", "-q", "-s", "10", &url]).output().await.expect("pgbench runs");
    assert!(init.status.success(), "pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr));
    let run = Command::new("pgbench")
        .args(["-N", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), &url])
        .output()
        .await
        .expect("pgbench runs");
    let report = String::from_utf8_lossy(&run.stdout);
    report
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| line.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's report:\n{report}"))
}
