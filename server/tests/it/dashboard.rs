//! The console dashboard's numbers on both databases, against sums worked out by hand from
//! ledger activity created through the merchant API, in a program whose days are Seoul's.

use crate::common::{spawn_app_at, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_app::console::model::{HistoryQuery, RangeChoice};
use tally_server::{
    dashboard::{self, HistoryPage},
    ledger::Timestamp,
};

const HOUR: i64 = 3_600_000;

fn order(event_id: &str, customer: &str, subtotal: i64) -> Value {
    json!({
        "event_id": event_id, "customer_id": customer, "type": "order", "order_id": event_id,
        "currency": "USD", "subtotal": subtotal, "shipping": 0, "tax": 0, "discount": 0, "lines": []
    })
}

async fn send(app: &TestApp, secret: &str, path: &str, body: Value) -> Value {
    let (status, answer) = app.api_send(Method::POST, path, secret, &body).await;
    assert!(status == 200 || status == 201, "{path} {body} -> {status} {answer}");
    answer
}

each_db! {
#[tokio::test]
async fn the_four_sections_match_hand_computed_sums_on_both_databases(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Shop").await;
    program.settings.time_zone = Some("Asia/Seoul".into());
    program.settings.actions = vec![serde_json::from_value(json!({"action": "review", "points": 50})).unwrap()];
    app.storage.upsert_program(&program).await.unwrap();
    let at = |hours: i64| clock.set(Timestamp(T0.0 + hours * HOUR));

    // T0 is 2026-01-01 00:00 UTC, 09:00 in Seoul. Ten hours earlier is still 2025 there.
    at(-10);
    send(&app, &secret, "/api/v1/events", order("o0", "cy", 5_000)).await; // cy +50 (Dec 31)
    at(0);
    send(&app, &secret, "/api/v1/events", order("o1", "ana", 10_000)).await; // ana +100 (Jan 1)
    send(&app, &secret, "/api/v1/events", order("o2", "bo", 30_000)).await; // bo +300 (Jan 1)
    at(20); // 2026-01-02 05:00 in Seoul
    send(&app, &secret, "/api/v1/events", json!({"event_id": "r1", "customer_id": "ana", "type": "review"})).await;
    let bonus = json!({"adjustment_id": "a1", "points": 25, "reason": "goodwill"});
    send(&app, &secret, "/api/v1/customers/bo/adjustments", bonus).await; // bo +25
    at(48); // 2026-01-03 09:00 in Seoul
    let reward = send(
        &app,
        &secret,
        "/api/v1/rewards",
        json!({"name": "$1 off", "reward": {"type": "amount_off", "amount": 100}, "points": 100}),
    )
    .await;
    let redemption = json!({"redemption_id": "d1", "reward_id": reward["id"]});
    send(&app, &secret, "/api/v1/customers/ana/redemptions", redemption).await; // ana -100
    send(&app, &secret, "/api/v1/orders/o2/refunds", json!({"refund_id": "f1", "amount": 15_000})).await; // bo -150
    at(72);
    let now = Timestamp(T0.0 + 72 * HOUR);

    let choice = RangeChoice {
        range: Some("custom".into()),
        from: Some("2026-01-01".into()),
        to: Some("2026-01-31".into()),
    };
    let range = dashboard::resolve_range(&program, &choice, now).unwrap();
    let board = dashboard::load(app.storage.as_ref(), &program, &range, now).await.unwrap();
    assert_eq!(board.time_zone, "Asia/Seoul");
    let status = &board.status;
    assert_eq!(
        (status.issued, status.redeemed, status.expired, status.reversed, status.adjusted),
        (450, 100, 0, 150, 25),
        "{db:?}: flows in January (Seoul), cy's December order left out"
    );
    // cy 50, ana 100 + 50 - 100, bo 300 + 25 - 150; 100 points are worth $1.00.
    assert_eq!((status.outstanding, status.pending, status.liability), (275, 0, 275), "{db:?}");

    assert_eq!(board.series.len(), 31);
    let day = |label: &str| board.series.iter().find(|point| point.label == label).unwrap().clone();
    assert_eq!((day("2026-01-01").earned, day("2026-01-01").redeemed), (400, 0), "{db:?}");
    assert_eq!((day("2026-01-02").earned, day("2026-01-03").redeemed), (50, 100), "{db:?}");
    assert_eq!(board.series.iter().map(|point| point.earned).sum::<i64>(), 450);

    let sources: Vec<(String, i64)> = board.sources.iter().map(|s| (s.source.clone(), s.points)).collect();
    assert_eq!(sources, [("purchase".into(), 400), ("review".into(), 50)], "{db:?}: earnings only");
    assert_eq!(sources.iter().map(|(_, points)| points).sum::<i64>(), board.status.issued, "{db:?}: the sources add up to Issued");

    let top: Vec<(String, i64, i64)> =
        board.top_earners.iter().map(|row| (row.customer_id.clone(), row.earned, row.balance)).collect();
    assert_eq!(top, [("bo".into(), 300, 175), ("ana".into(), 150, 50)], "{db:?}: cy earned in December");

    // Last year (Seoul) holds only cy's order.
    let last_year = RangeChoice { range: Some("last_year".into()), ..RangeChoice::default() };
    let range = dashboard::resolve_range(&program, &last_year, now).unwrap();
    let board = dashboard::load(app.storage.as_ref(), &program, &range, now).await.unwrap();
    assert_eq!((board.first_day.as_str(), board.last_day.as_str()), ("2025-01-01", "2025-12-31"));
    assert_eq!((board.status.issued, board.series.len()), (50, 12), "{db:?}: monthly buckets");
    assert_eq!(board.series[11].earned, 50);

    // Section 4: newest first, filtered, paged by cursor.
    let all = dashboard::history_filter(&HistoryQuery::default(), None).unwrap();
    let page = dashboard::history(app.storage.as_ref(), &program, &all, None, now).await.unwrap();
    let kinds: Vec<&str> = page.rows.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(kinds, ["reverse", "redeem", "adjust", "earn", "earn", "earn", "earn"], "{db:?}");
    assert_eq!(page.next_cursor, None);
    let ana = HistoryQuery { customer: Some("ana".into()), kind: Some("earn".into()), ..HistoryQuery::default() };
    let filter = dashboard::history_filter(&ana, None).unwrap();
    let page = dashboard::history(app.storage.as_ref(), &program, &filter, None, now).await.unwrap();
    let points: Vec<i64> = page.rows.iter().map(|row| row.points).collect();
    assert_eq!(points, [50, 100], "{db:?}");
    let first = app.storage.program_history(&program.id, &all, None, 3).await.unwrap();
    let rest = app.storage.program_history(&program.id, &all, Some(&first[2].cursor()), 10).await.unwrap();
    assert_eq!(first.len() + rest.len(), 7, "{db:?}: pages neither skip nor repeat");
    assert!(rest.iter().all(|entry| !first.contains(entry)));
    let cursor = HistoryPage::cursor(&first[2].cursor());
    assert_eq!(HistoryPage::parse_cursor(&cursor), Some(first[2].cursor()));

    let bad = RangeChoice { range: Some("fortnight".into()), ..RangeChoice::default() };
    assert_eq!(dashboard::resolve_range(&program, &bad, now).unwrap_err().field, "range");
    app.stop().await;
}
}

each_db! {
/// The console's dashboard as the page asks for it: the Points History follows the range (as
/// its CSV does), dates typed under a preset mean those dates, and a reversed or too long range
/// is a message for the range controls while the page still shows (this month).
#[tokio::test]
async fn the_history_follows_the_range_and_a_bad_range_is_a_message_not_an_error_page(db: Db) {
    use crate::console::{add_user, browser, post_json, sign_in};
    let (app, clock) = spawn_app_at(db).await;
    let client = browser();
    let (program, secret) = app.create_program("Shop").await;
    add_user(&app, "usr_owner", "owner@shop.example", tally_server::console_users::Role::Owner, &[]).await;
    let day = |text: &str| Timestamp::parse_rfc3339(&format!("{text}T12:00:00.000Z")).unwrap();
    clock.set(day("2025-07-15"));
    send(&app, &secret, "/api/v1/events", order("summer", "ana", 7_000)).await;
    clock.set(day("2026-03-10"));
    send(&app, &secret, "/api/v1/events", order("spring", "bo", 3_000)).await;
    clock.set(day("2026-03-12"));
    let (cookie, _) = sign_in(&app, &client, "owner@shop.example").await;
    let board = |range: &str, from: Option<&str>, to: Option<&str>| {
        let body = json!({"program": program.id, "choice": {"range": range, "from": from, "to": to},
            "filter": {"customer": null, "source": null, "kind": null, "cursor": null}});
        let (app, client, cookie) = (&app, &client, cookie.clone());
        async move {
            let (status, board) = post_json(app, client, "dashboard", &cookie, &body).await;
            assert_eq!(status, 200, "{board}");
            let customers: Vec<String> =
                board["history"]["rows"].as_array().unwrap().iter().map(|row| row["customer_id"].as_str().unwrap().to_owned()).collect();
            (board["dashboard"]["range"].as_str().unwrap().to_owned(), customers, board["range_error"].clone())
        }
    };
    assert_eq!(board("last_year", None, None).await, ("last_year".into(), vec!["ana".into()], Value::Null), "{db:?}");
    assert_eq!(board("custom", Some("2025-06-01"), Some("2025-09-30")).await.1, ["ana"], "{db:?}");
    assert_eq!(board("month_to_date", None, None).await.1, ["bo"], "{db:?}");
    // The form sends the preset with the dates typed: the dates win.
    let typed = board("month_to_date", Some("2025-06-01"), Some("2025-09-30")).await;
    assert_eq!((typed.0.as_str(), typed.1), ("custom", vec!["ana".to_owned()]), "{db:?}");
    let unchanged = board("month_to_date", Some("2026-03-01"), Some("2026-03-12")).await;
    assert_eq!(unchanged.0, "month_to_date", "{db:?}: the preset's own days keep the preset");
    let (range, rows, error) = board("custom", Some("2025-09-30"), Some("2025-06-01")).await;
    assert_eq!((range.as_str(), rows), ("month_to_date", vec!["bo".to_owned()]), "{db:?}: this month meanwhile");
    assert!(error.as_str().unwrap().starts_with("to: on or after the start date"), "{db:?}: {error}");
    let (_, _, error) = board("custom", Some("2015-01-01"), Some("2025-06-01")).await;
    assert!(error.as_str().unwrap().contains("at most five years"), "{db:?}: {error}");
    app.stop().await;
}
}
