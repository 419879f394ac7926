//! The dashboard's running totals (invariants T1 and T2 in `ledger::totals`) after a long
//! random mix of writes through the merchant API, on both databases: the flows between uneven
//! cuts equal the sums of the ledger's entries, the top earners read from a period's totals
//! equal those the entries give, the open points equal what the customers' own accounts hold under
//! every expiry policy (cutoffs falling inside a quarter hour), and a rebuild from the ledger
//! changes nothing.

use std::collections::BTreeMap;

use crate::common::{spawn_app_at, TestApp, T0};
use reqwest::Method;
use serde_json::{json, Value};
use tally_server::{
    customers::CustomerId,
    jobs,
    ledger::{
        totals::{period_read, slot_of},
        EntryKind, ExpiryPolicy, Timestamp,
    },
    storage::{EntryRecord, HistoryFilter, Storage},
};

const MINUTE: i64 = 60_000;
const DAY: i64 = 1_440 * MINUTE;
/// The random mix writes for the first five; `fay` only ever gets points added by hand, so she
/// has lots but no activity (her lots count from their own earning under inactivity expiry).
const CUSTOMERS: [&str; 6] = ["ana", "bo", "cy", "dee", "eli", "fay"];

/// xorshift: the same sequence on every run.
struct Random(u64);

impl Random {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

async fn send(app: &TestApp, secret: &str, path: &str, body: Value) -> (u16, Value) {
    let (status, answer) = app.api_send(Method::POST, path, secret, &body).await;
    // Refusals (not enough points, nothing left to refund) are part of the mix; errors are not.
    assert!(status < 500, "{path} {body} -> {status} {answer}");
    (status, answer)
}

/// What the customers' accounts hold at `now` under `expiry`: (available lots, pending lots).
async fn held_by_accounts(storage: &dyn Storage, program_id: &str, now: Timestamp, expiry: ExpiryPolicy) -> (i64, i64) {
    let (mut available, mut pending) = (0, 0);
    for id in CUSTOMERS {
        let Some(customer) = storage.customer(program_id, &CustomerId::parse(id).unwrap(), expiry).await.unwrap()
        else {
            continue;
        };
        let mut account = customer.account;
        account.settle(now);
        for lot in &account.lots {
            if lot.available_at <= now {
                available += lot.remaining;
            } else {
                pending += lot.remaining;
            }
        }
    }
    (available, pending)
}

/// Cuts from a day before the first write to past the last, at uneven steps (some off the hour,
/// some longer than a day): every span of the totals is read.
fn cuts(until: Timestamp) -> Vec<Timestamp> {
    let steps = [5 * 60 + 45, 51 * 60 + 15, 30, 26 * 60, 7 * 24 * 60, 15];
    let mut cuts = vec![Timestamp(T0.0 - DAY)];
    for step in steps.iter().cycle() {
        let last = cuts[cuts.len() - 1];
        if last > until {
            break;
        }
        cuts.push(Timestamp(last.0 + step * MINUTE));
    }
    cuts
}

/// The flows between the cuts, summed per bucket (the index of its first cut) and kind.
async fn flows(
    storage: &dyn Storage,
    program_id: &str,
    cuts: &[Timestamp],
) -> BTreeMap<(usize, &'static str), (i64, i64)> {
    let mut sums = BTreeMap::new();
    for flow in storage.flows(program_id, cuts).await.unwrap() {
        let bucket = cuts.partition_point(|cut| *cut <= flow.start) - 1;
        let sum: &mut (i64, i64) = sums.entry((bucket, flow.kind.as_str())).or_default();
        *sum = (sum.0 + flow.gained, sum.1 + flow.lost);
    }
    sums
}

/// Ranges the top earners read from a period's totals (a month and a quarter in zones ahead of
/// and behind UTC, an exact month, the year to date), then custom ones.
fn period_ranges(now: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    const HOUR: i64 = 60 * MINUTE;
    let (jan, feb, apr) = (T0.0, T0.0 + 31 * DAY, T0.0 + 90 * DAY);
    let ranges = [
        (Timestamp(jan - 9 * HOUR), Timestamp(feb - 9 * HOUR)),
        (Timestamp(jan + 5 * HOUR), Timestamp(apr + 5 * HOUR)),
        (Timestamp(jan), Timestamp(feb)),
        (Timestamp(jan - 9 * HOUR), Timestamp(slot_of(now).0 + 6 * HOUR)),
    ];
    for (from, to) in &ranges {
        assert!(period_read(*from, *to, now).is_some(), "{from:?}..{to:?} reads a period");
    }
    // And custom ranges far from any period: whole days from the earnings per day, part days
    // from the entries.
    let custom = [
        (Timestamp(jan + 10 * DAY + 5 * HOUR), Timestamp(jan + 50 * DAY + 3 * HOUR)),
        (Timestamp(jan + 3 * DAY - 9 * HOUR), Timestamp(jan + 45 * DAY - 9 * HOUR)),
        (Timestamp(jan - 5 * DAY), Timestamp(now.0 + DAY)),
    ];
    for (from, to) in &custom {
        assert!(period_read(*from, *to, now).is_none(), "{from:?}..{to:?} reads no period");
    }
    ranges.into_iter().chain(custom).collect()
}

/// The top earners of each range, as the storage answers and as the entries have it.
async fn top_earners(
    storage: &dyn Storage,
    program_id: &str,
    entries: &[EntryRecord],
    now: Timestamp,
) -> Vec<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    let mut answers = Vec::new();
    for (from, to) in period_ranges(now) {
        let read = storage.top_earners(program_id, from, to, now, 4).await.unwrap();
        let read: Vec<(String, i64)> = read.into_iter().map(|earner| (earner.customer_id, earner.earned)).collect();
        let mut by_customer: BTreeMap<String, i64> = BTreeMap::new();
        for entry in entries.iter().filter(|e| e.kind == EntryKind::Earn && e.created_at >= from && e.created_at < to) {
            *by_customer.entry(entry.customer_id.clone()).or_default() += entry.points;
        }
        let mut expected: Vec<(String, i64)> = by_customer.into_iter().collect();
        expected.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        expected.truncate(4);
        answers.push((read, expected));
    }
    answers
}

each_db! {
#[tokio::test]
async fn running_totals_follow_the_ledger_through_random_writes_on_both_databases(db: Db) {
    let (app, clock) = spawn_app_at(db).await;
    let (mut program, secret) = app.create_program("Totals").await;
    program.settings.pending_days = 2;
    program.settings.expiry = ExpiryPolicy::AfterEarning { days: 6 };
    program.settings.actions = vec![serde_json::from_value(json!({"action": "review", "points": 40})).unwrap()];
    app.storage.upsert_program(&program).await.unwrap();
    let reward = json!({"name": "$1 off", "reward": {"type": "amount_off", "amount": 100}, "points": 60});
    let (_, reward) = send(&app, &secret, "/api/v1/rewards", reward).await;

    let mut random = Random(0x5eed_1234_abcd);
    let mut now = T0;
    let mut orders: Vec<String> = Vec::new();
    let mut applied = 0;
    for step in 0..120 {
        // From a minute to a day and a half between writes, so lots become available and expire.
        now = Timestamp(now.0 + MINUTE * (1 + random.below(36 * 60) as i64));
        clock.set(now);
        if step == 60 {
            let (status, answer) =
                app.api_send(Method::PUT, "/api/v1/customers/fay", &secret, &json!({"name": "Fay"})).await;
            assert!(status < 300, "{status} {answer}");
            let adjustment = json!({"adjustment_id": "fay", "points": 30, "reason": "welcome"});
            send(&app, &secret, "/api/v1/customers/fay/adjustments", adjustment).await;
        }
        let customer = CUSTOMERS[random.below(5) as usize];
        let (status, _) = match random.below(6) {
            0 | 1 => {
                let order_id = format!("o{step}");
                orders.push(order_id.clone());
                let order = json!({
                    "event_id": order_id, "customer_id": customer, "type": "order", "order_id": order_id,
                    "currency": "USD", "subtotal": 1_000 + random.below(20_000) as i64,
                    "shipping": 0, "tax": 0, "discount": 0, "lines": []
                });
                send(&app, &secret, "/api/v1/events", order).await
            }
            2 => {
                let review = json!({"event_id": format!("r{step}"), "customer_id": customer, "type": "review"});
                send(&app, &secret, "/api/v1/events", review).await
            }
            3 => {
                // Adjustments either way; a negative one larger than the balance is refused.
                let points = random.below(120) as i64 - 50;
                let points = if points == 0 { 7 } else { points };
                let adjustment = json!({"adjustment_id": format!("a{step}"), "points": points, "reason": "mix"});
                send(&app, &secret, &format!("/api/v1/customers/{customer}/adjustments"), adjustment).await
            }
            4 => {
                let redemption = json!({"redemption_id": format!("d{step}"), "reward_id": reward["id"]});
                send(&app, &secret, &format!("/api/v1/customers/{customer}/redemptions"), redemption).await
            }
            _ if !orders.is_empty() => {
                let order_id = &orders[random.below(orders.len() as u64) as usize];
                let refund = json!({"refund_id": format!("f{step}"), "amount": 500 + random.below(3_000) as i64});
                send(&app, &secret, &format!("/api/v1/orders/{order_id}/refunds"), refund).await
            }
            _ => continue,
        };
        applied += u32::from(status < 300);
        // Part of the changes folded into the totals on the way, part left to the readers
        // (SQLite's writes add to the flows and open points directly, not to the earnings).
        if step == 70 {
            let folded = jobs::fold_totals(app.storage.as_ref()).await.unwrap();
            assert!(folded > 0, "{db:?}: {folded} changes were waiting");
        }
    }
    assert!(applied > 80, "{db:?}: most writes apply ({applied})");

    // T1: the flows are the sums of the ledger's own entries.
    let every_entry = HistoryFilter::default();
    let mut entries = Vec::new();
    let mut after = None;
    loop {
        let page = app.storage.program_history(&program.id, &every_entry, after.as_ref(), 100).await.unwrap();
        after = page.last().map(|entry| entry.cursor());
        let full = page.len() == 100;
        entries.extend(page);
        if !full {
            break;
        }
    }
    let cuts = cuts(now);
    let sums = flows(app.storage.as_ref(), &program.id, &cuts).await;
    let mut in_ledger: BTreeMap<(usize, &'static str), (i64, i64)> = BTreeMap::new();
    for entry in &entries {
        let bucket = cuts.partition_point(|cut| *cut <= entry.created_at) - 1;
        let sum = in_ledger.entry((bucket, entry.kind.as_str())).or_default();
        if entry.points > 0 {
            sum.0 += entry.points;
        } else {
            sum.1 += entry.points;
        }
    }
    assert_eq!(sums, in_ledger, "{db:?}: the flows between the cuts");
    for kind in [EntryKind::Earn, EntryKind::Redeem, EntryKind::Adjust, EntryKind::Reverse, EntryKind::Expire] {
        assert!(sums.keys().any(|(_, k)| *k == kind.as_str()), "{db:?}: the mix wrote {kind:?} entries");
    }
    // T3: the top earners from a period's totals and its edges.
    for (read, expected) in top_earners(app.storage.as_ref(), &program.id, &entries, now).await {
        assert_eq!(read, expected, "{db:?}: top earners");
        assert!(!read.is_empty());
    }

    // T2: the open points, at moments whose cutoffs fall inside a quarter hour.
    let policies = [
        ExpiryPolicy::Never,
        ExpiryPolicy::AfterEarning { days: 2 },
        ExpiryPolicy::AfterEarning { days: 6 },
        ExpiryPolicy::AfterInactivity { days: 1 },
        ExpiryPolicy::AfterInactivity { days: 4 },
    ];
    let moments = [now, Timestamp(now.0 + 7 * MINUTE), Timestamp(now.0 + 2 * DAY + 11 * MINUTE)];
    let mut checks: Vec<(Timestamp, ExpiryPolicy)> =
        moments.iter().flat_map(|at| policies.iter().map(move |policy| (*at, *policy))).collect();
    // And with the cutoff just before, at and just after each lot's earning and each
    // customer's last activity: the edges the totals leave to the lots themselves.
    for id in CUSTOMERS {
        let id = CustomerId::parse(id).unwrap();
        let account = app.storage.customer(&program.id, &id, ExpiryPolicy::Never).await.unwrap().unwrap().account;
        let earned = account.lots.iter().map(|lot| (false, lot.earned_at));
        for (by_activity, moment) in earned.chain(account.last_activity_at.map(|at| (true, at))) {
            let days = ((now.0 - moment.0) / DAY + 1) as u32;
            for cutoff in [moment.0 - 1, moment.0, moment.0 + 1] {
                if slot_of(Timestamp(cutoff)) != slot_of(moment) {
                    continue;
                }
                let policy = if by_activity {
                    ExpiryPolicy::AfterInactivity { days }
                } else {
                    ExpiryPolicy::AfterEarning { days }
                };
                checks.push((Timestamp(cutoff + i64::from(days) * DAY), policy));
                if !by_activity && account.last_activity_at.is_none() {
                    checks
                        .push((Timestamp(cutoff + i64::from(days) * DAY), ExpiryPolicy::AfterInactivity { days }));
                }
            }
        }
    }
    for (at, policy) in checks {
        {
            let expected = held_by_accounts(app.storage.as_ref(), &program.id, at, policy).await;
            let outstanding = app.storage.outstanding(&program.id, at, policy).await.unwrap();
            assert_eq!(outstanding, expected, "{db:?}: open points at {at:?} under {policy:?}");
        }
    }
    assert!(held_by_accounts(app.storage.as_ref(), &program.id, now, policies[0]).await.1 > 0, "{db:?}: pending");

    // Folding what is left, or rebuilding from the ledger, finds the same totals.
    jobs::fold_totals(app.storage.as_ref()).await.unwrap();
    assert_eq!(jobs::fold_totals(app.storage.as_ref()).await.unwrap(), 0, "{db:?}: nothing left to fold");
    assert_eq!(flows(app.storage.as_ref(), &program.id, &cuts).await, sums, "{db:?}");
    for (read, expected) in top_earners(app.storage.as_ref(), &program.id, &entries, now).await {
        assert_eq!(read, expected, "{db:?}: top earners after the fold");
    }
    let outstanding: Vec<_> = {
        let mut all = Vec::new();
        for policy in policies {
            all.push(app.storage.outstanding(&program.id, now, policy).await.unwrap());
        }
        all
    };
    app.storage.rebuild_totals(&program.id).await.unwrap();
    assert_eq!(flows(app.storage.as_ref(), &program.id, &cuts).await, sums, "{db:?}");
    for (read, expected) in top_earners(app.storage.as_ref(), &program.id, &entries, now).await {
        assert_eq!(read, expected, "{db:?}: top earners after a rebuild");
    }
    for (policy, before) in policies.into_iter().zip(outstanding) {
        assert_eq!(app.storage.outstanding(&program.id, now, policy).await.unwrap(), before, "{db:?}");
    }
    app.stop().await;
}
}
