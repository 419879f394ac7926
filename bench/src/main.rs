//! `cargo xtask bench`: loads a real `tally serve` (release build) over HTTP with concurrent
//! clients, on SQLite and on PostgreSQL, and runs pgbench's TPC-B-like script (`-N`) on the same
//! PostgreSQL server in the same run as the baseline. Prints throughput, p50/p99 latency and the
//! ratio to pgbench. Then, per database: WooCommerce-shaped store deliveries (acknowledged, and
//! applied by the inbox: its rate from the first post until none is pending), and earn events
//! with a webhook endpoint on a receiver in this process, whose p50/p99 columns are the delay
//! from the write's acknowledgement to the receiver's request. And the emails' share: earn
//! events again with the program's emails on (one points email per earn, to customers with
//! addresses), against the earn phase with them off in the same run, and how many messages a
//! second the worker sent to a local SMTP server (aiosmtpd from the bootstrap's virtualenv,
//! discarding what it gets). Not a test: nothing here asserts a speed.
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
    let mut ratios = Vec::new();
    let mut email_ratios = Vec::new();
    println!("\n{:<11} {:<14} {:>10} {:>9} {:>9} {:>7}", "database", "phase", "req/s", "p50 ms", "p99 ms", "errors");
    for (label, url) in &databases {
        let phases = bench_database(&tally, url, clients, duration).await;
        let rate = |name: &str| phases.iter().find(|phase| phase.name == name).map_or(0.0, Phase::per_second);
        ratios.push((*label, rate("  …applied") / rate("earn events")));
        email_ratios.push((*label, rate("earn, emails on") / rate("earn events")));
        for phase in phases {
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
    for (label, ratio) in ratios {
        println!("{label}: store deliveries applied per second / REST earn events per second = {ratio:.2}");
    }
    for (label, ratio) in email_ratios {
        println!("{label}: earn events/s with emails on / with emails off = {ratio:.2}");
    }
    println!("(\"…emails sent\": messages the worker sent per second to a local SMTP server, from the phase's start until none was pending)");
    println!("(\"…applied\": deliveries applied per second; \"webhook latency\": earn events/s with an endpoint, p50/p99 = write acknowledged → receiver got it)");

    let tps = pgbench(&admin, &format!("tally_pgbench_{run}"), clients, seconds).await;
    println!("\npgbench -N (TPC-B-like, no branch/teller updates), same server, {clients} clients: {tps:.0} tps");
    println!("ratio: Tally earn events/s on PostgreSQL / pgbench tps = {:.3}", postgres_earn_rate / tps);
}

/// What the bench's servers seal with: `[0x42; 32]` in hex, as the bench's own connection.
const BENCH_SECRET_KEY: &str = "4242424242424242424242424242424242424242424242424242424242424242";

/// Starts the server on `url`, creates a program, then runs the earn and read phases.
async fn bench_database(tally: &str, url: &str, clients: usize, duration: Duration) -> Vec<Phase> {
    let keys = tally_server::secrets::SecretKeys::new([0x42; 32]);
    let storage = tally_server::storage::connect_with_keys(url, keys).await.expect("the database opens");
    let (program, key, secret) = Program::create("Bench", "USD", "points", vec![]).unwrap();
    storage.create_program(&program, &key, Timestamp(0)).await.unwrap();
    let smtp = SmtpSink::start().await;
    let mut server = Command::new(tally)
        .env("TALLY_SECRET_KEY", BENCH_SECRET_KEY)
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url", url, "--upkeep-interval", "0"])
        // The webhook phase's receiver listens on 127.0.0.1.
        .args(["--webhooks-allow-private"])
        // The bench measures the write path, not the rate limit (600 a minute per key by default).
        .args(["--api-requests-per-minute", "1000000000"])
        .args(["--smtp-url", &format!("smtp://127.0.0.1:{}", smtp.port), "--public-url", "http://127.0.0.1"])
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

    let earn = earn_phase("earn events", "e", &base, &secret, clients, duration).await;
    let read = load("customer reads", clients, duration, {
        let (base, secret) = (base.clone(), secret.clone());
        move |client: reqwest::Client, n: usize| {
            let (base, secret) = (base.clone(), secret.clone());
            async move {
                let url = format!("{base}/api/v1/customers/c{}", n % CUSTOMERS);
                let response = client.get(url).bearer_auth(secret.as_str()).send().await;
                response.is_ok_and(|r| r.status() == 200)
            }
        }
    })
    .await;
    let (with_emails, sent) = emails(storage.as_ref(), &program, &base, &secret, clients, duration).await;
    let (deliveries, applied) = store_deliveries(storage.as_ref(), &base, &secret, clients, duration).await;
    // The webhook phase starts on an idle outbox: the earlier phases' events (no endpoint
    // wants them) relayed first, so its latency is the pipeline's, not that backlog's.
    idle_outbox(storage.as_ref()).await;
    let webhooks = webhook_latency(storage.as_ref(), &base, &secret, clients, duration).await;
    let _ = server.kill().await;
    drop(smtp);
    let mut phases = vec![earn, read, with_emails, sent, deliveries, applied];
    phases.extend(webhooks);
    phases
}

/// Orders of the bench's customers through the REST API (`prefix` keeps each phase's ids apart).
async fn earn_phase(
    name: &'static str,
    prefix: &'static str,
    base: &Arc<String>,
    secret: &Arc<String>,
    clients: usize,
    duration: Duration,
) -> Phase {
    let (base, secret) = (base.clone(), secret.clone());
    load(name, clients, duration, move |client: reqwest::Client, n: usize| {
        let (base, secret) = (base.clone(), secret.clone());
        async move {
            let body = json!({"event_id": format!("{prefix}{n}"), "customer_id": format!("c{}", n % CUSTOMERS),
                "type": "order", "order_id": format!("{prefix}{n}"), "currency": "USD", "subtotal": 2_500 + (n % 100) as i64});
            let response = client.post(format!("{base}/api/v1/events")).bearer_auth(secret.as_str()).json(&body).send().await;
            response.is_ok_and(|r| r.status() == 201)
        }
    })
    .await
}

/// Waits (five minutes at most) until the outbox has relayed and delivered what it holds.
async fn idle_outbox(storage: &dyn tally_server::storage::Storage) {
    let waited = Instant::now();
    while storage.outbox_backlog().await.expect("the database answers") > 0
        && waited.elapsed() < Duration::from_secs(300)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// aiosmtpd on a free port, discarding what it receives; stopped when dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
}

impl SmtpSink {
    async fn start() -> Self {
        let venv = std::env::var("TALLY_VENV").map(std::path::PathBuf::from).unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/tally-venv")
        });
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new(venv.join("bin/python"))
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Sink"])
            .spawn()
            .expect("aiosmtpd starts (scripts/bootstrap installs it)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { child, port };
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd listens on {port}");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Earn events with the program's emails on (each earn one points email: no batching, every
/// customer with an address), then the worker's rate: messages sent from the phase's start until
/// none is pending. The emails are switched off again for the phases after.
async fn emails(
    storage: &dyn tally_server::storage::Storage,
    program: &Program,
    base: &Arc<String>,
    secret: &Arc<String>,
    clients: usize,
    duration: Duration,
) -> (Phase, Phase) {
    use tally_server::{
        customers::{CustomerId, CustomerProfile},
        storage::EmailStatus,
    };
    idle_outbox(storage).await;
    for n in 0..CUSTOMERS {
        let profile = CustomerProfile { email: Some(format!("c{n}@bench.example")), ..CustomerProfile::default() };
        let id = CustomerId::parse(&format!("c{n}")).unwrap();
        storage.upsert_customer(&program.id, &id, &profile, Timestamp(0)).await.expect("the database answers");
    }
    let mut mailing = program.clone();
    mailing.settings.notifications.sender_address = Some("loyalty@bench.example".into());
    mailing.settings.notifications.earned_batch_hours = 0;
    storage.upsert_program(&mailing).await.expect("the database answers");
    let started = Instant::now();
    let earn = earn_phase("earn, emails on", "m", base, secret, clients, duration).await;
    let count =
        |counts: &[(EmailStatus, u64)], status| counts.iter().find(|(s, _)| *s == status).map_or(0, |(_, n)| *n);
    let sent = loop {
        let counts = storage.email_counts(&program.id).await.expect("the database answers");
        let backlog = storage.outbox_backlog().await.expect("the database answers");
        if (count(&counts, EmailStatus::Pending) == 0 && backlog == 0) || started.elapsed() > Duration::from_secs(600) {
            break count(&counts, EmailStatus::Sent);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let sent = Phase {
        name: "  …emails sent",
        requests: usize::try_from(sent).unwrap_or(usize::MAX),
        errors: 0,
        elapsed: started.elapsed(),
        latencies: Vec::new(),
    };
    storage.upsert_program(program).await.expect("the database answers");
    (earn, sent)
}

/// WooCommerce-shaped order deliveries, signed as WooCommerce signs them, to a connection: the
/// acknowledgements' rate and latency, then (as a phase of its own) how fast the inbox applied
/// them all, from the first post until none was left.
async fn store_deliveries(
    storage: &dyn tally_server::storage::Storage,
    base: &Arc<String>,
    secret: &Arc<String>,
    clients: usize,
    duration: Duration,
) -> (Phase, Phase) {
    use base64::Engine;
    use hmac::Mac;
    let client = reqwest::Client::new();
    let connection: serde_json::Value = client
        .post(format!("{base}/api/v1/connections"))
        .bearer_auth(secret.as_str())
        .json(&json!({"platform": "woocommerce"}))
        .send()
        .await
        .expect("the connection is made")
        .json()
        .await
        .unwrap();
    let url = Arc::new(format!("{base}/connections/woocommerce/{}", connection["id"].as_str().unwrap()));
    let key = Arc::new(connection["secret"].as_str().unwrap().to_owned());
    let started = Instant::now();
    let acknowledged = load("store deliveries", clients, duration, move |client: reqwest::Client, n: usize| {
        let (url, key) = (url.clone(), key.clone());
        async move {
            let body = json!({"id": n + 1, "status": "processing", "currency": "USD", "customer_id": n % CUSTOMERS + 1,
                "date_modified_gmt": "2026-01-01T00:00:00",
                "line_items": [{"product_id": 5, "variation_id": 0, "quantity": 1, "subtotal": "25.00"}]})
            .to_string();
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(body.as_bytes());
            let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
            let response = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .header("x-wc-webhook-topic", "order.created")
                .header("x-wc-webhook-signature", signature)
                .body(body)
                .send()
                .await;
            response.is_ok_and(|r| r.status() == 200)
        }
    })
    .await;
    while storage.pending_inbox().await.expect("the database answers") > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let applied = Phase {
        name: "  …applied",
        requests: acknowledged.requests,
        errors: 0,
        elapsed: started.elapsed(),
        latencies: Vec::new(),
    };
    (acknowledged, applied)
}

/// Earn events with a webhook endpoint on a receiver in this process: the latency from the
/// write's acknowledgement to the receiver's request, per event (p50/p99 in the table), at full
/// load (`clients`, more events than one worker sends: the queue grows) and at a light load (two
/// clients), each on an idle outbox.
async fn webhook_latency(
    storage: &dyn tally_server::storage::Storage,
    base: &Arc<String>,
    secret: &Arc<String>,
    clients: usize,
    duration: Duration,
) -> Vec<Phase> {
    let (acked, received): (Times, Times) = (Arc::default(), Arc::default());
    let log = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let log = log.clone();
            async move {
                let event: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if let Some(order) = event["data"]["entry"]["order_id"].as_str() {
                    log.lock().unwrap().insert(order.to_owned(), Instant::now());
                }
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    let endpoint = json!({"url": hook, "event_types": ["points.earned"]});
    let created = reqwest::Client::new()
        .post(format!("{base}/api/v1/webhooks"))
        .bearer_auth(secret.as_str())
        .json(&endpoint)
        .send()
        .await
        .expect("the endpoint is made");
    assert_eq!(created.status(), 201, "the webhook endpoint");
    let mut phases = Vec::new();
    for (name, clients, prefix) in [("webhook latency", clients, "h"), ("  …2 clients", 2, "l")] {
        let waited = Instant::now();
        while storage.outbox_backlog().await.expect("the database answers") > 0
            && waited.elapsed() < Duration::from_secs(300)
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        acked.lock().unwrap().clear();
        received.lock().unwrap().clear();
        phases.push(webhook_phase(name, prefix, base, secret, clients, duration, &acked, &received).await);
    }
    phases
}

type Times = Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>;

#[allow(clippy::too_many_arguments)]
async fn webhook_phase(
    name: &'static str,
    prefix: &'static str,
    base: &Arc<String>,
    secret: &Arc<String>,
    clients: usize,
    duration: Duration,
    acked: &Times,
    received: &Times,
) -> Phase {
    let phase = load(name, clients, duration, {
        let (base, secret, acked) = (base.clone(), secret.clone(), acked.clone());
        move |client: reqwest::Client, n: usize| {
            let (base, secret, acked) = (base.clone(), secret.clone(), acked.clone());
            async move {
                let order = format!("{prefix}{n}");
                let body = json!({"event_id": order, "customer_id": format!("h{}", n % CUSTOMERS), "type": "order",
                    "order_id": order, "currency": "USD", "subtotal": 2_500});
                let response =
                    client.post(format!("{base}/api/v1/events")).bearer_auth(secret.as_str()).json(&body).send().await;
                let ok = response.is_ok_and(|r| r.status() == 201);
                if ok {
                    acked.lock().unwrap().insert(order, Instant::now());
                }
                ok
            }
        }
    })
    .await;
    // Every acknowledged event arrives (a minute at most), then each one's delay is measured.
    let expected = acked.lock().unwrap().len();
    let waited = Instant::now();
    while received.lock().unwrap().len() < expected && waited.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (acked, received) = (acked.lock().unwrap(), received.lock().unwrap());
    let mut latencies: Vec<Duration> = acked
        .iter()
        .filter_map(|(order, at)| received.get(order).map(|got| got.saturating_duration_since(*at)))
        .collect();
    latencies.sort();
    Phase { name, requests: phase.requests, errors: expected - latencies.len(), elapsed: phase.elapsed, latencies }
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
