//! Emails against a real SMTP server: aiosmtpd (PyPI, from bootstrap) stores what it receives
//! in a Maildir, and Python's `email` package reads the MIME back (headers decoded, both
//! parts). The messages come from real writes through the API, the outbox relay and the email
//! worker, on the test's clock.

use std::{path::PathBuf, sync::Arc, time::Duration};

use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{
    connections::{
        delivery::{DeliveryConfig, DeliveryWorker},
        webhooks::UrlPolicy,
    },
    jobs::run_upkeep,
    ledger::{ExpiryPolicy, Timestamp},
    notifications::{
        mailer::{Mailer, OutgoingEmail},
        worker::EmailWorker,
        MessageKind, NotificationSettings,
    },
    points::PointsService,
    storage::EmailStatus,
    time::Clock,
};

use crate::common::{spawn_app_at, TestApp, T0};

fn venv_python() -> PathBuf {
    std::env::var("TALLY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/tally-venv"))
        .join("bin/python")
}

/// A port for this process's next SMTP server. Not "bind port 0 and let go": two tests
/// starting at once could be handed the same released port, and one would read the other's
/// mail. Below Linux's ephemeral range, apart per process, one per server.
fn smtp_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 40;
    10_000 + (std::process::id() % 500) as u16 * 40 + slot
}

/// aiosmtpd on a free port (refusing addresses that start with "bounce", see
/// `tests/fixtures/smtp/bouncing.py`), killed when dropped.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: PathBuf,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    async fn start() -> Self {
        Self::start_on(smtp_port()).await
    }

    async fn start_on(port: u16) -> Self {
        let maildir = std::env::temp_dir().join(crate::common::unique_name("tally-maildir"));
        let handlers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp");
        let child = std::process::Command::new(venv_python())
            .env("PYTHONPATH", handlers)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "bouncing.BouncingMailbox"])
            .arg(&maildir)
            .spawn()
            .unwrap_or_else(|error| panic!("aiosmtpd starts (scripts/bootstrap installs it): {error}"));
        let mut server = Self { child, port, maildir };
        for _ in 0..100 {
            assert!(server.child.try_wait().unwrap().is_none(), "aiosmtpd exited: is port {port} taken?");
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd listens on {port}");
    }

    /// Every message it stored, raw.
    fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries.map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap()).collect()
    }

    /// Every message it stored, read by Python's `email` package: `to`, `subject` (decoded),
    /// `text`, `html` and the headers, in the order they arrived.
    fn received(&self) -> Vec<Value> {
        const READ: &str = r#"
import email, email.policy, json, os, sys
folder = os.path.join(sys.argv[1], "new")
names = sorted(os.listdir(folder), key=lambda name: os.stat(os.path.join(folder, name)).st_mtime_ns) if os.path.isdir(folder) else []
out = []
for name in names:
    with open(os.path.join(folder, name), "rb") as f:
        message = email.message_from_binary_file(f, policy=email.policy.default)
    out.append({
        "to": str(message["to"]), "from": str(message["from"]), "subject": str(message["subject"]),
        "message_id": str(message["message-id"]), "list_unsubscribe": str(message["list-unsubscribe"]),
        "list_unsubscribe_post": str(message["list-unsubscribe-post"]),
        "text": message.get_body(("plain",)).get_content(), "html": message.get_body(("html",)).get_content(),
    })
print(json.dumps(out))
"#;
        let output = std::process::Command::new(venv_python()).args(["-c", READ]).arg(&self.maildir).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

/// The relay (which plans messages from the outbox) and the email worker, run by hand.
struct Mail {
    relay: DeliveryWorker,
    emails: EmailWorker,
}

impl Mail {
    fn new(app: &TestApp, clock: Arc<dyn Clock>, smtp: &SmtpServer) -> Self {
        let config = DeliveryConfig { urls: UrlPolicy { allow_private: true }, ..DeliveryConfig::default() };
        let mailer = Mailer::from_url(&format!("smtp://127.0.0.1:{}", smtp.port)).unwrap();
        Self {
            relay: DeliveryWorker::new(app.storage.clone(), clock.clone(), config),
            emails: EmailWorker::new(app.storage.clone(), clock, mailer, Arc::from(app.url(""))),
        }
    }

    /// Relays the outbox, then sends every due message; how many were handled.
    async fn pass(&self) -> usize {
        self.relay.run_once().await.unwrap();
        let mut handled = 0;
        loop {
            match self.emails.run_once().await.unwrap() {
                0 => return handled,
                more => handled += more,
            }
        }
    }
}

fn hours(hours: i64) -> Timestamp {
    Timestamp(T0.0 + hours * 3_600_000)
}

async fn order(app: &TestApp, secret: &str, id: &str, customer: &str, subtotal: i64) {
    let body = json!({"event_id": id, "customer_id": customer, "type": "order", "order_id": id,
        "currency": "USD", "subtotal": subtotal});
    let (status, answer) = app.api_send(Method::POST, "/api/v1/events", secret, &body).await;
    assert_eq!(status, 201, "{answer}");
}

/// A program that mails from a sender, in Japanese by default, with a 250-point reward, a
/// silver tier at 300, birthday points, expiry after 60 days warned 10 and 3 days ahead.
async fn mailing_program(app: &TestApp) -> String {
    let (mut program, secret) = app.create_program("Coffee Club").await;
    program.settings.expiry = ExpiryPolicy::AfterEarning { days: 60 };
    program.settings.tiers =
        serde_json::from_value(json!({"tiers": [{"id": "silver", "name": "Silver", "threshold": 300}]})).unwrap();
    program.settings.actions = serde_json::from_value(json!([{"action": "birthday", "points": 200}])).unwrap();
    program.settings.notifications = NotificationSettings {
        sender_address: Some("loyalty@coffee.example".into()),
        reply_to: Some("help@coffee.example".into()),
        storefront_url: Some("https://coffee.example/shop".into()),
        default_language: Some("ja".into()),
        expiry_warning_days: 10,
        last_chance_days: Some(3),
        ..NotificationSettings::default()
    };
    program.settings.validate().unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    let reward = json!({"name": "Free coffee", "reward": {"type": "free_shipping"}, "points": 250});
    assert_eq!(app.api_send(Method::POST, "/api/v1/rewards", &secret, &reward).await.0, 201);
    secret
}

async fn put_customer(app: &TestApp, secret: &str, id: &str, profile: Value) {
    let (status, answer) = app.api_send(Method::PUT, &format!("/api/v1/customers/{id}"), secret, &profile).await;
    assert!(status == 200 || status == 201, "{answer}");
}

fn subjects_to(received: &[Value], to: &str) -> Vec<String> {
    received.iter().filter(|m| m["to"] == to).map(|m| m["subject"].as_str().unwrap().to_owned()).collect()
}

each_db! {
/// Every message at its moment: a welcome with consent only, a digest of earned points at most
/// once a day, a reward unlocked when the balance first reaches its cost, a tier up, a
/// birthday, the expiry warning N days ahead and the last chance, in the customer's language
/// (else the program's), with the store's link and one-click unsubscribe, which is honoured at
/// once.
#[tokio::test]
async fn each_message_is_sent_when_it_should_be_in_the_customers_language(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let smtp = SmtpServer::start().await;
    let secret = mailing_program(&app).await;
    let mail = Mail::new(&app, clock.clone(), &smtp);
    put_customer(&app, &secret, "ana", json!({"email": "ana@example.com", "name": "Ana", "language": "ko",
        "marketing_consent": true})).await;
    put_customer(&app, &secret, "bo", json!({"email": "bo@example.com"})).await;
    mail.pass().await;
    let received = smtp.received();
    assert_eq!(subjects_to(&received, "ana@example.com"), ["Coffee Club에 오신 것을 환영합니다"], "{db:?}");
    assert!(subjects_to(&received, "bo@example.com").is_empty(), "{db:?}: a welcome needs consent");
    let welcome = &received[0];
    assert_eq!(welcome["from"], "Coffee Club <loyalty@coffee.example>", "{db:?}");
    assert!(welcome["text"].as_str().unwrap().contains("Ana님, 안녕하세요."), "{welcome}");
    assert!(welcome["text"].as_str().unwrap().contains("https://coffee.example/shop?tally=open"), "{welcome}");
    assert!(welcome["html"].as_str().unwrap().contains(r#"href="https://coffee.example/shop?tally=open""#), "{welcome}");
    let unsubscribe = welcome["list_unsubscribe"].as_str().unwrap().trim_matches(['<', '>']).to_owned();
    assert!(unsubscribe.starts_with(&app.url("/email/unsubscribe?t=")), "{welcome}");
    assert_eq!(welcome["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    assert!(welcome["text"].as_str().unwrap().contains(&unsubscribe), "the text part links to it too");

    // 100 points now: the day's first digest goes at once.
    order(&app, &secret, "o-1", "ana", 10_000).await;
    order(&app, &secret, "o-b", "bo", 2_000).await;
    mail.pass().await;
    let received = smtp.received();
    assert_eq!(subjects_to(&received, "ana@example.com")[1], "100 points을(를) 적립했습니다", "{db:?}");
    assert_eq!(subjects_to(&received, "bo@example.com"), ["20 points を獲得しました"], "{db:?}: the program's language");
    // 120 and 50 more within the day: gathered; crossing 250 unlocks the reward at once.
    clock.set(hours(1));
    order(&app, &secret, "o-2", "ana", 12_000).await;
    mail.pass().await;
    clock.set(hours(2));
    order(&app, &secret, "o-3", "ana", 5_000).await;
    mail.pass().await;
    let ana = subjects_to(&smtp.received(), "ana@example.com");
    assert_eq!(ana.len(), 3, "{db:?}: {ana:?}");
    assert_eq!(ana[2], "이제 Free coffee을(를) 교환할 수 있습니다", "{db:?}");
    clock.set(hours(23));
    assert_eq!(mail.pass().await, 0, "{db:?}: the digest waits for its day");
    clock.set(hours(24));
    mail.pass().await;
    let received = smtp.received();
    let ana = subjects_to(&received, "ana@example.com");
    assert_eq!(ana[3], "170 points을(를) 적립했습니다", "{db:?}: one digest of what came in: {ana:?}");

    // 40 more reach silver (310); the birthday gives 200.
    clock.set(hours(25));
    order(&app, &secret, "o-4", "ana", 4_000).await;
    let birthday = json!({"event_id": "bd-1", "customer_id": "ana", "type": "birthday"});
    assert_eq!(app.api_send(Method::POST, "/api/v1/events", &secret, &birthday).await.0, 201);
    mail.pass().await;
    let mut ana = subjects_to(&smtp.received(), "ana@example.com");
    // Sent in one pass, concurrently: in either order.
    ana[4..].sort();
    assert_eq!(ana[4..], ["Coffee Club에서 생일을 축하드립니다", "Silver 등급이 되었습니다"], "{db:?}: {ana:?}");
    // The next digest is due a day after the last one.
    clock.set(hours(47));
    assert_eq!(mail.pass().await, 0, "{db:?}");
    clock.set(hours(48));
    mail.pass().await;
    let ana = subjects_to(&smtp.received(), "ana@example.com");
    assert_eq!(ana.last().unwrap(), "40 points을(를) 적립했습니다", "{db:?}: {ana:?}");

    // Expiry: every batch expires 60 days after it was earned; warned 10 days ahead, once.
    let upkeep = |at: Timestamp| {
        let (storage, clock) = (app.storage.clone(), clock.clone());
        async move {
            clock.set(at);
            run_upkeep(&PointsService::new(storage, clock)).await.unwrap();
        }
    };
    upkeep(hours(49 * 24)).await;
    mail.pass().await;
    let before = smtp.received().len();
    upkeep(hours(51 * 24)).await;
    mail.pass().await;
    upkeep(Timestamp(hours(51 * 24).0 + 1_800_000)).await;
    mail.pass().await;
    let received = smtp.received();
    let warnings = subjects_to(&received[before..], "ana@example.com");
    assert_eq!(warnings, ["270 points이(가) 2026-03-02에 만료됩니다"], "{db:?}: the first day's three batches, once");
    assert_eq!(subjects_to(&received[before..], "bo@example.com").len(), 1, "{db:?}");
    upkeep(hours(52 * 24)).await;
    mail.pass().await;
    let ana = subjects_to(&smtp.received(), "ana@example.com");
    assert_eq!(ana.last().unwrap(), "240 points이(가) 2026-03-03에 만료됩니다", "{db:?}: the second day's: {ana:?}");
    // 3 days ahead, the last chance for the first day's batches.
    upkeep(hours(57 * 24 + 12)).await;
    mail.pass().await;
    let ana = subjects_to(&smtp.received(), "ana@example.com");
    assert_eq!(ana.last().unwrap(), "마지막 알림: 270 points이(가) 2026-03-02에 만료됩니다", "{db:?}: {ana:?}");

    // One click unsubscribes: GET only asks, POST (what mail clients send) records it.
    let page = app.client.get(&unsubscribe).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Coffee Club의 이메일을 그만 받으시겠습니까?"));
    let forged = unsubscribe.replace("?t=", "?t=x");
    assert_eq!(app.client.post(&forged).send().await.unwrap().status(), 400, "{db:?}");
    let done = app.client.post(&unsubscribe).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(done.status(), 200, "{db:?}");
    let again = app.client.post(&unsubscribe).form(&[("List-Unsubscribe", "One-Click")]).send().await.unwrap();
    assert_eq!(again.status(), 200, "{db:?}: a second click is the same answer");
    for bad in ["/email/unsubscribe", "/email/unsubscribe?t=%00", "/email/unsubscribe?t=a.b"] {
        assert_eq!(app.client.post(app.url(bad)).send().await.unwrap().status(), 400, "{db:?}: {bad}");
    }
    let huge = app.url(&format!("/email/unsubscribe?t={}", "A".repeat(20_000)));
    assert_eq!(app.client.get(huge).send().await.unwrap().status(), 400, "{db:?}");
    // Profiles refuse what is not a language or a consent.
    for (profile, field) in [(json!({"language": "xx"}), "language"), (json!({"marketing_consent": "yes"}), "marketing_consent")] {
        let (status, problem) = app.api_send(Method::PUT, "/api/v1/customers/ana", &secret, &profile).await;
        assert!((400..500).contains(&status), "{db:?}: {field}: {status} {problem}");
    }
    let sent = smtp.received().len();
    clock.set(hours(60 * 24));
    order(&app, &secret, "o-5", "ana", 10_000).await;
    mail.pass().await;
    assert_eq!(smtp.received().len(), sent, "{db:?}: nothing after unsubscribing");
    let log = app.storage.emails(&program_id(&app).await, Some("ana"), None, 50).await.unwrap();
    assert_eq!(log[0].status, EmailStatus::Suppressed, "{db:?}: {log:?}");
    assert_eq!(log[0].last_error.as_deref(), Some("the customer unsubscribed"));
    assert!(log.iter().skip(1).all(|email| email.status == EmailStatus::Sent), "{db:?}: {log:?}");
    let bo = app.storage.emails(&program_id(&app).await, Some("bo"), None, 50).await.unwrap();
    assert!(bo.iter().any(|email| email.status == EmailStatus::Suppressed
        && email.last_error.as_deref() == Some("no marketing consent")), "{db:?}: {bo:?}");
    app.stop().await;
}
}

each_db! {
/// A tier that a rolling 12-month window is about to take is told once, 30 days ahead, with
/// what keeps it; earning enough ends the episode, and the next risk is told again.
#[tokio::test]
async fn a_tier_at_risk_is_told_once_per_episode_before_the_rolling_window_takes_it(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let smtp = SmtpServer::start().await;
    let (mut program, secret) = app.create_program("Tea House").await;
    program.settings.tiers = serde_json::from_value(json!({"window": "rolling12_months",
        "tiers": [{"id": "silver", "name": "Silver", "threshold": 300}]})).unwrap();
    let mut notifications = NotificationSettings { sender_address: Some("club@tea.example".into()), ..Default::default() };
    for kind in MessageKind::ALL {
        notifications.set_switch(kind, kind == MessageKind::TierAtRisk);
    }
    program.settings.notifications = notifications;
    program.settings.validate().unwrap();
    app.storage.upsert_program(&program).await.unwrap();
    let mail = Mail::new(&app, clock.clone(), &smtp);
    put_customer(&app, &secret, "cy", json!({"email": "cy@example.com", "language": "en"})).await;
    let day = |n: u32| T0.plus_days(n);
    let upkeep = |at: Timestamp| {
        let (storage, clock) = (app.storage.clone(), clock.clone());
        async move {
            clock.set(at);
            run_upkeep(&PointsService::new(storage, clock)).await.unwrap();
        }
    };
    order(&app, &secret, "o-1", "cy", 30_000).await;
    upkeep(day(300)).await;
    mail.pass().await;
    assert!(smtp.received().is_empty(), "{db:?}: day 0's 300 points leave on day 365, more than 30 days ahead");
    upkeep(day(340)).await;
    mail.pass().await;
    upkeep(day(341)).await;
    mail.pass().await;
    let received = smtp.received();
    assert_eq!(subjects_to(&received, "cy@example.com"), ["Keep your Silver tier: 300 points more by 2027-01-01"], "{db:?}");
    assert!(received[0]["text"].as_str().unwrap().contains("Another 300 points before then keeps it."), "{}", received[0]["text"]);
    // Not enough yet (still the same episode: no second message), then enough: safe.
    clock.set(day(342));
    order(&app, &secret, "o-2", "cy", 10_000).await;
    upkeep(day(342)).await;
    clock.set(day(343));
    order(&app, &secret, "o-3", "cy", 20_000).await;
    upkeep(day(343)).await;
    upkeep(day(366)).await;
    mail.pass().await;
    assert_eq!(smtp.received().len(), 1, "{db:?}: told once");
    let (_, account) = app.api_get("/api/v1/customers/cy", &secret).await;
    assert_eq!(account["tiers"]["tier"]["id"], "silver", "{db:?}: kept: {account}");
    // Day 342's 100 points leave on day 707: at risk again, told again, 100 short.
    upkeep(day(680)).await;
    mail.pass().await;
    let subjects = subjects_to(&smtp.received(), "cy@example.com");
    assert_eq!(subjects[1..], ["Keep your Silver tier: 100 points more by 2027-12-09"], "{db:?}: {subjects:?}");
    app.stop().await;
}
}

async fn program_id(app: &TestApp) -> String {
    app.storage.list_programs().await.unwrap()[0].id.clone()
}

each_db! {
/// A message is planned once per event and sent once: a server that restarts after the
/// commit sends what was planned, a relay that runs again plans nothing more, and a worker
/// that died holding a message's lease leaves it to be sent after the lease, once.
#[tokio::test]
async fn a_message_is_sent_once_across_restarts_and_a_dead_worker(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let smtp = SmtpServer::start().await;
    let secret = mailing_program(&app).await;
    put_customer(&app, &secret, "ana", json!({"email": "ana@example.com", "language": "en"})).await;
    order(&app, &secret, "o-1", "ana", 10_000).await;
    // The first worker plans and claims (the welcome and the points earned), then dies
    // before sending.
    let first = Mail::new(&app, clock.clone(), &smtp);
    first.relay.run_once().await.unwrap();
    let claimed = app.storage.claim_emails(clock.now(), Timestamp(clock.now().0 + 300_000), 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{db:?}: {claimed:?}");
    drop(first);
    // A restarted server: a new worker over the same database.
    let restarted = Mail::new(&app, clock.clone(), &smtp);
    assert_eq!(restarted.pass().await, 0, "{db:?}: both are leased");
    assert!(smtp.received().is_empty(), "{db:?}");
    clock.set(Timestamp(T0.0 + 301_000));
    restarted.pass().await;
    restarted.pass().await;
    let received = smtp.received();
    assert_eq!(subjects_to(&received, "ana@example.com"), ["You earned 100 points"], "{db:?}");
    let log = app.storage.emails(&program_id(&app).await, None, None, 10).await.unwrap();
    let sent: Vec<_> = log.iter().filter(|email| email.status == EmailStatus::Sent).collect();
    assert_eq!(sent.len(), 1, "{db:?}: {log:?}");
    assert_eq!(format!("<{}>", received[0]["message_id"].as_str().unwrap().trim_matches(['<', '>'])), sent[0].message_id);
    app.stop().await;
}
}

#[tokio::test]
async fn a_message_reaches_a_real_smtp_server_with_both_parts_and_one_click_unsubscribe() {
    let server = SmtpServer::start().await;
    let mailer = Mailer::from_url(&format!("smtp://127.0.0.1:{}", server.port)).unwrap();
    let email = OutgoingEmail {
        from_name: Some("Coffee Club".into()),
        from_address: "loyalty@shop.example".into(),
        reply_to: Some("help@shop.example".into()),
        to: "ana@example.com".into(),
        subject: "포인트 120점이 적립되었습니다".into(),
        text: "Ana, you earned 120 points.\nhttps://shop.example/?tally=open".into(),
        html: "<p>Ana, you earned <strong>120 points</strong>.</p>".into(),
        unsubscribe_url: Some("https://loyalty.example/unsubscribe/abc".into()),
        message_id: "<msg_1@loyalty.example>".into(),
    };
    mailer.send(&email).await.expect("the server takes the message");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "one message stored");
    let raw = &messages[0];
    for header in [
        "From: \"Coffee Club\" <loyalty@shop.example>",
        "To: ana@example.com",
        "Reply-To: help@shop.example",
        "Message-ID: <msg_1@loyalty.example>",
        "List-Unsubscribe: <https://loyalty.example/unsubscribe/abc>",
        "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        "Content-Type: multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
    ] {
        assert!(raw.contains(header), "{header:?} in:\n{raw}");
    }
    assert!(raw.contains("Subject: =?utf-8?b?"), "the Korean subject is encoded:\n{raw}");
    assert!(raw.contains("<strong>120 points</strong>") && raw.contains("you earned 120 points."), "{raw}");

    let refused = OutgoingEmail { to: "not an address".into(), ..email };
    assert!(mailer.send(&refused).await.is_err(), "a bad address is an error, not a message");
    assert_eq!(server.messages().len(), 1);
}

/// In a runtime: lettre's connection pool starts a task.
#[tokio::test]
async fn a_bad_smtp_url_is_refused_without_quoting_its_password() {
    for url in
        ["ftp://mail.example.com", "smtp://user:s3cret@exa mple.com", "smtp://user:s3cret@mail.example.com:99999"]
    {
        let error = Mailer::from_url(url).err().unwrap_or_else(|| panic!("{url} is refused")).to_string();
        assert!(!error.contains("s3cret"), "{error}");
    }
    assert!(Mailer::from_url("smtps://user:s3cret@mail.example.com").is_ok());
}

each_db! {
/// A 5xx at SMTP time is a bounce, recorded with the server's answer and not retried; a server
/// that cannot be reached leaves the message pending for a retry on the webhook schedule, and the
/// retry sends it.
#[tokio::test]
async fn a_refused_address_bounces_and_an_unreachable_server_is_tried_again(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let smtp = SmtpServer::start().await;
    let secret = mailing_program(&app).await;
    put_customer(&app, &secret, "gone", json!({"email": "bounce@example.com"})).await;
    put_customer(&app, &secret, "ana", json!({"email": "ana@example.com", "language": "en"})).await;
    order(&app, &secret, "o-1", "gone", 10_000).await;
    let mail = Mail::new(&app, clock.clone(), &smtp);
    mail.pass().await;
    let program = program_id(&app).await;
    let gone = app.storage.emails(&program, Some("gone"), None, 10).await.unwrap();
    let bounced: Vec<_> = gone.iter().filter(|email| email.kind == tally_server::notifications::MessageKind::PointsEarned).collect();
    assert_eq!(bounced[0].status, EmailStatus::Bounced, "{db:?}: {gone:?}");
    assert!(bounced[0].last_error.as_deref().unwrap_or_default().contains("No such user"), "{db:?}: {gone:?}");
    assert_eq!(bounced[0].attempts, 1);

    // The SMTP server goes away: the message waits for its retry.
    let port = smtp.port;
    drop(smtp);
    order(&app, &secret, "o-2", "ana", 10_000).await;
    mail.pass().await;
    let log = app.storage.emails(&program, Some("ana"), None, 10).await.unwrap();
    let earned = log.iter().find(|email| email.kind == tally_server::notifications::MessageKind::PointsEarned).unwrap();
    assert_eq!((earned.status, earned.attempts), (EmailStatus::Pending, 1), "{db:?}: {log:?}");
    assert!(earned.send_after.0 > clock.now().0, "{db:?}: retried later");
    // Back, and past the retry: sent once.
    let smtp = SmtpServer::start_on(port).await;
    clock.set(Timestamp(earned.send_after.0 + 1));
    mail.pass().await;
    assert_eq!(subjects_to(&smtp.received(), "ana@example.com"), ["You earned 100 points"], "{db:?}");
    app.stop().await;
}
}
