//! Shared helpers for black-box tests: a real server on a free port over a real database.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
    sync::Arc,
    time::{SystemTime, UNIX_EPOCH},
};

use sqlx::{Connection, Executor, PgConnection};
use tally_server::{
    config::{HttpArgs, ServeArgs},
    ledger::{Clock, ManualClock, Timestamp},
    programs::Program,
    storage::Storage,
    Application,
};

/// The databases every server test runs against.
#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// A running server; dropping it stops the server.
pub struct TestApp {
    pub addr: SocketAddr,
    pub database_url: String,
    pub storage: std::sync::Arc<dyn Storage>,
    pub client: reqwest::Client,
    /// The first-run set-up code the server printed (none once an owner exists).
    pub setup_code: Option<String>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request reaches the server")
    }

    /// Creates a program through storage, as `tally program create` does; returns it with
    /// its secret key.
    pub async fn create_program(&self, name: &str) -> (Program, String) {
        let (program, key, secret) = Program::create(name, "USD", "points", vec![]).unwrap();
        self.storage.create_program(&program, &key, T0).await.unwrap();
        (program, secret)
    }

    /// An authenticated API request.
    pub fn api(&self, method: reqwest::Method, path: &str, secret: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(secret)
    }

    pub async fn api_get(&self, path: &str, secret: &str) -> (u16, serde_json::Value) {
        into_parts(self.api(reqwest::Method::GET, path, secret).send().await.unwrap()).await
    }

    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        secret: &str,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        into_parts(self.api(method, path, secret).json(body).send().await.unwrap()).await
    }

    /// The customer's available points through the API, `None` when there is no such customer.
    pub async fn available(&self, secret: &str, customer: &str) -> Option<i64> {
        self.api_get(&format!("/api/v1/customers/{customer}"), secret).await.1["available"].as_i64()
    }

    /// Applies every stored store delivery, as the server's inbox worker would.
    pub async fn apply_inbox(&self, clock: Arc<dyn Clock>) {
        let points = tally_server::points::PointsService::new(self.storage.clone(), clock);
        let worker = tally_server::connections::inbox::InboxWorker::new(points);
        while worker.run_once().await.unwrap() > 0 {}
    }

    /// Stops accepting connections and waits for the server task to finish.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("server task ends cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A name no other test (or earlier run) uses.
/// A test's HTTP client: a request that hangs fails the test after a minute, naming the
/// request, instead of stalling the whole run (one console test once hung under the full suite).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(std::time::Duration::from_secs(60))
}

pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").subsec_nanos();
    format!("{prefix}_{}_{}_{nanos}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// The PostgreSQL server tests create their databases on. `./dev.sh test` starts it and sets this.
pub fn postgres_admin_url() -> String {
    std::env::var("TALLY_TEST_POSTGRES_URL").expect(
        "TALLY_TEST_POSTGRES_URL must point at a PostgreSQL server (e.g. postgres://postgres@127.0.0.1:5432/postgres); \
         `./dev.sh test` starts one and sets it",
    )
}

/// A fresh, empty database of the given kind; returns its URL.
pub async fn fresh_database(db: Db) -> String {
    match db {
        Db::Sqlite => {
            let dir = std::env::temp_dir().join("tally-tests");
            std::fs::create_dir_all(&dir).expect("temp dir is writable");
            let file: PathBuf = dir.join(format!("{}.db", unique_name("t")));
            format!("sqlite://{}", file.display())
        }
        Db::Postgres => {
            let admin = postgres_admin_url();
            let name = unique_name("tally_test");
            let mut conn = PgConnection::connect(&admin).await.expect("connect to the test PostgreSQL server");
            conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create test database");
            with_database(&admin, &name)
        }
    }
}

/// `admin` with its database name replaced by `name`.
pub fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let server = base.rsplit_once('/').map_or(base, |(server, _)| server);
    format!("{server}/{name}{query}")
}

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_on(fresh_database(db).await).await
}

/// Starts the real application on a free port over `database_url`.
pub async fn spawn_app_on(database_url: String) -> TestApp {
    spawn_app_with_clock(database_url, Arc::new(tally_server::ledger::SystemClock)).await
}

/// A fixed start time for tests that move the clock: 2026-01-01T00:00:00Z.
pub const T0: Timestamp = Timestamp(1_767_225_600_000);

/// The real application with a clock the test moves.
pub async fn spawn_app_at(db: Db) -> (TestApp, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::at(T0));
    (spawn_app_with_clock(fresh_database(db).await, clock.clone()).await, clock)
}

pub async fn spawn_app_with_clock(database_url: String, clock: Arc<dyn Clock>) -> TestApp {
    spawn_app_with_public_url(database_url, clock, None).await
}

/// As behind a proxy that browsers reach at `public_url` (`--public-url`).
pub async fn spawn_app_with_public_url(
    database_url: String,
    clock: Arc<dyn Clock>,
    public_url: Option<&str>,
) -> TestApp {
    spawn_app_configured(database_url, clock, |args| args.http.public_url = public_url.map(str::to_owned)).await
}

/// The real application with the tests' settings changed by `configure`.
pub async fn spawn_app_configured(
    database_url: String,
    clock: Arc<dyn Clock>,
    configure: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let mut args = ServeArgs {
        http: HttpArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            site_root: PathBuf::from("../target/site"),
            public_url: None,
            // Tests that play a load balancer send from 127.0.0.1 with X-Forwarded-For.
            trusted_proxies: "127.0.0.1".into(),
            api_requests_per_minute: tally_server::http::API_CALLS_PER_KEY_PER_MINUTE,
            smtp_url: None,
        },
        database_url: database_url.clone(),
        upkeep_interval: 0,
        // Test receivers listen on 127.0.0.1.
        webhooks_allow_private: true,
        webhook_poll_ms: 50,
        webhook_timeout_ms: 10_000,
        report_cache_mb: 256,
        retention_days: 30,
    };
    configure(&mut args);
    let storage = connect(&database_url).await;
    let app = Application::with_storage_and_clock(&args, storage, clock).await.expect("the server starts");
    let addr = app.local_addr();
    let storage = app.storage();
    let setup_code = app.setup_code().map(str::to_owned);
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        app.run_until(async move {
            let _ = stopped.await;
        })
        .await
        .expect("server runs");
    });
    TestApp {
        addr,
        database_url,
        storage,
        client: client_builder().build().unwrap(),
        shutdown: Some(shutdown),
        server: Some(server),
        setup_code,
    }
}

/// Status and JSON body of a response; problem bodies must be `application/problem+json`.
pub async fn into_parts(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if status >= 400 {
        assert_eq!(content_type.as_deref(), Some("application/problem+json"), "{status} {body}");
    }
    (status, body)
}

/// The secret key every test server seals with (the processes get it as `TALLY_SECRET_KEY`):
/// replicas of one test share a database, so they must share the key.
pub const TEST_SECRET_KEY: &str = "7e57000000000000000000000000000000000000000000000000000000007e57";

pub fn test_keys() -> tally_server::secrets::SecretKeys {
    tally_server::secrets::SecretKeys::new(std::array::from_fn(|at| {
        u8::from_str_radix(&TEST_SECRET_KEY[2 * at..2 * at + 2], 16).unwrap()
    }))
}

/// The test database's storage, sealing with the test key.
pub async fn connect(database_url: &str) -> Arc<dyn Storage> {
    tally_server::storage::connect_with_keys(database_url, test_keys()).await.expect("the database opens")
}

/// A `tally` process started from the built binary; killed when dropped.
pub struct TallyProcess {
    pub child: std::process::Child,
    pub addr: String,
    /// Its log lines after the "listening" one.
    pub lines: std::sync::mpsc::Receiver<String>,
    /// Its log lines before it.
    pub startup: Vec<String>,
}

impl Drop for TallyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tally ARGS...` with `env`, and waits for it to log the address it listens on.
pub fn start_tally(args: &[&str], env: &[(&str, &str)]) -> TallyProcess {
    use std::io::{BufRead, BufReader};
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .args(args)
        .env("RUST_LOG", "info")
        .env("TALLY_SECRET_KEY", TEST_SECRET_KEY)
        .stderr(std::process::Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("tally starts");
    let stderr = child.stderr.take().unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut startup = Vec::new();
    let addr = loop {
        let line = lines.recv_timeout(std::time::Duration::from_secs(30)).expect("tally logs that it is listening");
        if line.contains("tally is listening") {
            let field = line.split_whitespace().find(|word| word.starts_with("addr=")).expect("addr field");
            break field.trim_start_matches("addr=").to_owned();
        }
        startup.push(line);
    };
    TallyProcess { child, addr, lines, startup }
}

/// One value (the first column of the first row) of `sql`, read behind the server's back.
pub async fn scalar<T>(database_url: &str, sql: &str) -> T
where
    T: Send + Unpin,
    T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.expect("the SQLite file opens");
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("the query runs")
    } else {
        let mut conn = PgConnection::connect(database_url).await.expect("the database answers");
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.expect("the query runs")
    }
}

/// Runs `sql` (one statement) on the test's database directly, as an operator would: to
/// inject a failure (a trigger that raises) or look behind the API.
pub async fn execute_sql(database_url: &str, sql: &str) {
    use sqlx::{Connection, Executor};
    if database_url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(database_url).await.expect("the SQLite file opens");
        conn.execute(sql).await.expect("the statement runs");
    } else {
        let mut conn = PgConnection::connect(database_url).await.expect("the database answers");
        conn.execute(sql).await.expect("the statement runs");
    }
}

/// Makes every insert into `table` matching `condition` (SQL over `NEW`) fail, on either
/// database: a crash in the middle of a transaction, as seen by the transaction.
pub async fn fail_inserts(database_url: &str, table: &str, condition: &str) {
    if database_url.starts_with("sqlite:") {
        let sql = format!(
            "CREATE TRIGGER injected_failure BEFORE INSERT ON {table} WHEN {condition}
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        );
        execute_sql(database_url, &sql).await;
    } else {
        let function = format!(
            "CREATE FUNCTION injected_failure() RETURNS trigger AS $$ BEGIN
               IF {condition} THEN RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
        );
        execute_sql(database_url, &function).await;
        let trigger = format!(
            "CREATE TRIGGER injected_failure BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION injected_failure()"
        );
        execute_sql(database_url, &trigger).await;
    }
}

/// Undoes [`fail_inserts`].
pub async fn stop_failing_inserts(database_url: &str, table: &str) {
    if database_url.starts_with("sqlite:") {
        execute_sql(database_url, "DROP TRIGGER injected_failure").await;
    } else {
        execute_sql(database_url, &format!("DROP TRIGGER injected_failure ON {table}")).await;
        execute_sql(database_url, "DROP FUNCTION injected_failure()").await;
    }
}
