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
    assert_eq!(sources, [("purchase".into(), 400), ("review".into(), 50), ("admin".into(), 25)], "{db:?}");

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
