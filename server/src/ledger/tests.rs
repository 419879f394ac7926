//! The ledger's rules, each with hand-computed numbers, and random operation sequences checked
//! against the invariants I1, I2, I4 and I5 after every step (I3 is storage's, tested there).

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

const DAY: i64 = 86_400_000;

fn at(day: i64) -> Timestamp {
    Timestamp(day * DAY)
}

fn points_of(entries: &[NewEntry]) -> Vec<(EntryKind, Points)> {
    entries.iter().map(|entry| (entry.kind, entry.points)).collect()
}

#[test]
fn earned_points_are_available_at_once_or_after_the_pending_period() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.earn(at(0), 100, Some("o1".into()), at(0)).unwrap();
    account.earn(at(0), 40, Some("o2".into()), at(14)).unwrap();
    assert_eq!((account.available(at(0)), account.pending(at(0))), (100, 40));
    // Correct on read before any job runs: the pending lot counts from its day on.
    assert_eq!((account.available(at(14)), account.pending(at(14))), (140, 0));
}

#[test]
fn redemption_takes_oldest_lots_first_and_never_overspends() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.earn(at(0), 30, None, at(0)).unwrap(); // seq 1
    account.earn(at(1), 50, None, at(1)).unwrap(); // seq 2
    let entries = account.redeem(at(2), 60).unwrap();
    assert_eq!(entries.last().unwrap().consumed, vec![(1, 30), (2, 30)]);
    assert_eq!(entries.last().unwrap().balance_after, 20);
    assert_eq!(account.redeem(at(2), 21), Err(LedgerError::InsufficientPoints { available: 20, requested: 21 }));
    assert_eq!(account.available(at(2)), 20, "a refused redemption changes nothing");
}

#[test]
fn pending_points_cannot_be_redeemed() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.earn(at(0), 100, None, at(7)).unwrap();
    assert!(matches!(account.redeem(at(1), 1), Err(LedgerError::InsufficientPoints { available: 0, .. })));
}

#[test]
fn a_refund_reduces_pending_points_of_the_order_first() {
    let mut account = Account::new(ExpiryPolicy::Never);
    let mut order = OrderTotals { earned: 100, ..OrderTotals::default() };
    account.earn(at(0), 50, None, at(0)).unwrap();
    account.earn(at(0), 100, Some("o1".into()), at(14)).unwrap();
    let entries = account.take_back(at(1), "o1", &mut order, 30, ClawbackPolicy::CapAtZero).unwrap();
    assert_eq!(points_of(&entries), vec![(EntryKind::Reverse, -30)]);
    assert_eq!(entries[0].available_at, at(14), "the reversal is pending as long as its lot");
    assert_eq!((account.available(at(1)), account.pending(at(1))), (50, 70));
    assert_eq!(order.taken_back, 30);
}

#[test]
fn reversals_never_exceed_what_the_order_earned() {
    let mut account = Account::new(ExpiryPolicy::Never);
    let mut order = OrderTotals { earned: 80, ..OrderTotals::default() };
    account.earn(at(0), 80, Some("o1".into()), at(0)).unwrap();
    account.earn(at(0), 500, None, at(0)).unwrap();
    account.take_back(at(1), "o1", &mut order, 60, ClawbackPolicy::CapAtZero).unwrap();
    let entries = account.take_back(at(2), "o1", &mut order, 60, ClawbackPolicy::CapAtZero).unwrap();
    assert_eq!(points_of(&entries), vec![(EntryKind::Reverse, -20)]);
    assert!(account.take_back(at(3), "o1", &mut order, 10, ClawbackPolicy::CapAtZero).unwrap().is_empty());
    assert_eq!(account.available(at(3)), 500);
}

#[test]
fn a_clawback_of_spent_points_stops_at_zero_by_default_and_records_the_shortfall() {
    let mut account = Account::new(ExpiryPolicy::Never);
    let mut order = OrderTotals { earned: 100, ..OrderTotals::default() };
    account.earn(at(0), 100, Some("o1".into()), at(0)).unwrap();
    account.redeem(at(1), 70).unwrap();
    let entries = account.take_back(at(2), "o1", &mut order, 100, ClawbackPolicy::CapAtZero).unwrap();
    let reverse = entries.last().unwrap();
    assert_eq!((reverse.points, reverse.shortfall, reverse.balance_after), (-30, 70, 0));
}

#[test]
fn a_clawback_may_go_negative_when_allowed_and_later_earnings_pay_it_back() {
    let mut account = Account::new(ExpiryPolicy::Never);
    let mut order = OrderTotals { earned: 100, ..OrderTotals::default() };
    account.earn(at(0), 100, Some("o1".into()), at(0)).unwrap();
    account.redeem(at(1), 70).unwrap();
    let entries = account.take_back(at(2), "o1", &mut order, 100, ClawbackPolicy::AllowNegative).unwrap();
    assert_eq!(entries.last().unwrap().balance_after, -70);
    account.earn(at(3), 50, None, at(3)).unwrap();
    assert_eq!(account.available(at(3)), -20);
    assert!(account.redeem(at(3), 1).is_err());
    account.earn(at(4), 50, None, at(4)).unwrap();
    assert_eq!(account.available(at(4)), 30);
}

#[test]
fn cancelling_an_order_voids_pending_points_and_reverses_available_ones() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.earn(at(0), 100, Some("o1".into()), at(14)).unwrap();
    let mut order = OrderTotals { earned: 100, ..OrderTotals::default() };
    let entries = account.cancel_order(at(1), "o1", &mut order, ClawbackPolicy::CapAtZero).unwrap();
    assert_eq!(points_of(&entries), vec![(EntryKind::Void, -100)]);
    assert_eq!((account.available(at(20)), account.pending(at(20))), (0, 0));

    account.earn(at(2), 60, Some("o2".into()), at(2)).unwrap();
    let mut order = OrderTotals { earned: 60, ..OrderTotals::default() };
    let entries = account.cancel_order(at(3), "o2", &mut order, ClawbackPolicy::CapAtZero).unwrap();
    assert_eq!(points_of(&entries), vec![(EntryKind::Reverse, -60)]);
}

#[test]
fn lots_expire_n_days_after_earning_oldest_first() {
    let mut account = Account::new(ExpiryPolicy::AfterEarning { days: 30 });
    account.earn(at(0), 10, None, at(0)).unwrap(); // seq 1
    account.earn(at(10), 20, None, at(10)).unwrap(); // seq 2
    assert_eq!(account.expiring_within(at(5), 30), 10);
    let entries = account.settle(at(45));
    assert_eq!(points_of(&entries), vec![(EntryKind::Expire, -10), (EntryKind::Expire, -20)]);
    assert_eq!(entries[0].consumed, vec![(1, 10)]);
    assert_eq!(account.available(at(45)), 0);
}

#[test]
fn lots_expire_after_n_days_without_activity() {
    let mut account = Account::new(ExpiryPolicy::AfterInactivity { days: 90 });
    account.earn(at(0), 10, None, at(0)).unwrap();
    account.earn(at(60), 20, None, at(60)).unwrap(); // activity: the clock restarts
    assert!(account.settle(at(120)).is_empty());
    assert_eq!(points_of(&account.settle(at(150))), vec![(EntryKind::Expire, -10), (EntryKind::Expire, -20)]);
}

#[test]
fn points_expire_in_batches_one_per_moment_within_the_warning_window() {
    let mut account = Account::new(ExpiryPolicy::AfterEarning { days: 30 });
    account.earn(at(0), 10, None, at(0)).unwrap();
    account.earn(at(0), 5, None, at(0)).unwrap(); // the same moment: the same batch
    account.earn(at(10), 20, None, at(10)).unwrap();
    let batch = |day, points| ExpiryBatch { expires_at: at(day), points };
    assert_eq!(account.expiry_batches(at(0), 7), vec![], "nothing within a week");
    assert_eq!(account.expiry_batches(at(25), 7), vec![batch(30, 15)]);
    assert_eq!(account.expiry_batches(at(25), 30), vec![batch(30, 15), batch(40, 20)]);
    assert_eq!(account.expiry_batches(at(30), 30), vec![batch(40, 20)], "expired points are no batch");

    let mut idle = Account::new(ExpiryPolicy::AfterInactivity { days: 90 });
    idle.earn(at(0), 10, None, at(0)).unwrap();
    idle.earn(at(60), 20, None, at(60)).unwrap();
    assert_eq!(idle.expiry_batches(at(130), 30), vec![batch(150, 30)], "one batch at the inactivity deadline");
}

#[test]
fn restored_points_come_back_available() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.earn(at(0), 100, None, at(0)).unwrap();
    account.redeem(at(1), 100).unwrap();
    let entries = account.restore(at(2), 100).unwrap();
    assert_eq!(points_of(&entries), vec![(EntryKind::Reverse, 100)]);
    assert_eq!(account.available(at(2)), 100);
}

#[test]
fn adjustments_add_or_take_points_but_never_below_zero() {
    let mut account = Account::new(ExpiryPolicy::Never);
    account.adjust(at(0), 25).unwrap();
    assert!(matches!(account.adjust(at(0), -26), Err(LedgerError::InsufficientPoints { .. })));
    assert_eq!(account.adjust(at(0), 0), Err(LedgerError::Zero));
    account.adjust(at(0), -25).unwrap();
    assert_eq!(account.available(at(0)), 0);
}

// ----- Random sequences against the invariants -----

#[derive(Clone, Debug)]
enum Op {
    Earn { points: Points, order: Option<u8>, pending_days: u8 },
    Redeem(Points),
    Adjust(Points),
    Refund { order: u8, points: Points },
    Cancel(u8),
    Restore(Points),
    Wait(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1..500i64, proptest::option::of(0..4u8), 0..3u8)
            .prop_map(|(points, order, pending)| Op::Earn { points, order, pending_days: pending * 7 }),
        3 => (1..400i64).prop_map(Op::Redeem),
        1 => (-200..200i64).prop_map(Op::Adjust),
        2 => (0..4u8, 1..300i64).prop_map(|(order, points)| Op::Refund { order, points }),
        1 => (0..4u8).prop_map(Op::Cancel),
        1 => (1..200i64).prop_map(Op::Restore),
        3 => (0..40u8).prop_map(Op::Wait),
    ]
}

fn policy() -> impl Strategy<Value = (ExpiryPolicy, ClawbackPolicy)> {
    let expiry = prop_oneof![
        Just(ExpiryPolicy::Never),
        (1..60u32).prop_map(|days| ExpiryPolicy::AfterEarning { days }),
        (1..60u32).prop_map(|days| ExpiryPolicy::AfterInactivity { days }),
    ];
    let clawback = prop_oneof![Just(ClawbackPolicy::CapAtZero), Just(ClawbackPolicy::AllowNegative)];
    (expiry, clawback)
}

/// Everything the ledger ever wrote, and what the orders earned according to those entries.
#[derive(Default)]
struct History {
    entries: Vec<NewEntry>,
    orders: HashMap<String, OrderTotals>,
}

impl History {
    fn record(&mut self, entries: Vec<NewEntry>) {
        self.entries.extend(entries);
    }

    fn check(&self, account: &Account, now: Timestamp, clawback: ClawbackPolicy) {
        let mut settled = account.clone();
        let expiries = settled.settle(now);
        let all: Vec<&NewEntry> = self.entries.iter().chain(expiries.iter()).collect();

        // I1: the available balance is the sum of the entries available now; pending likewise.
        let available: Points = all.iter().filter(|e| e.available_at <= now).map(|e| e.points).sum();
        let pending: Points = all.iter().filter(|e| e.available_at > now).map(|e| e.points).sum();
        assert_eq!(settled.available(now), available, "I1 available");
        assert_eq!(settled.pending(now), pending, "I1 pending");

        // I2: never below zero unless a clawback was allowed to go there.
        if clawback == ClawbackPolicy::CapAtZero {
            assert!(settled.available(now) >= 0, "I2: {}", settled.available(now));
        }

        // I4: per order, reversals and voids never exceed what it earned.
        for (order_id, totals) in &self.orders {
            let earned: Points = all
                .iter()
                .filter(|e| e.kind == EntryKind::Earn && e.order_id.as_deref() == Some(order_id.as_str()))
                .map(|e| e.points)
                .sum();
            // A capped clawback counts what it could not take too: it is not tried again.
            let taken: Points = all
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::Reverse | EntryKind::Void))
                .filter(|e| e.order_id.as_deref() == Some(order_id.as_str()))
                .map(|e| -e.points + e.shortfall)
                .sum();
            assert_eq!(earned, totals.earned, "order {order_id} earned");
            assert_eq!(taken, totals.taken_back, "order {order_id} taken back");
            assert!(taken <= earned, "I4 order {order_id}: {taken} > {earned}");
        }

        // I5: points leave only through entries: every entry ever written adds up to what the
        // lots hold, less the debt.
        let total: Points = all.iter().map(|e| e.points).sum();
        let held: Points = settled.lots.iter().map(|lot| lot.remaining).sum::<Points>() - settled.debt;
        assert_eq!(total, held, "I5 conservation");
        // Entries are numbered without gaps.
        for (index, entry) in all.iter().enumerate() {
            assert_eq!(entry.seq, index as u64 + 1, "seq");
        }
        // Nothing past its expiry is left after settling.
        assert!(settled.lots.iter().all(|lot| settled.expires_at(lot).is_none_or(|at| at > now)));
    }
}

/// A redemption or negative adjustment of `amount`: it succeeds exactly when that much is
/// available (I2), takes the oldest lots (I5), and changes nothing when refused.
fn spend(
    account: &mut Account,
    history: &mut History,
    now: Timestamp,
    amount: Points,
    operation: impl FnOnce(&mut Account) -> Result<Vec<NewEntry>, LedgerError>,
) -> Result<(), TestCaseError> {
    let before = account.clone();
    let mut settled = before.clone();
    settled.settle(now);
    let available = settled.available(now);
    match operation(account) {
        Ok(entries) => {
            prop_assert!(available >= amount, "I2: spent {amount} of {available}");
            assert_fifo(&before, now, entries.last().unwrap());
            history.record(entries);
        }
        Err(LedgerError::InsufficientPoints { .. }) => {
            prop_assert!(available < amount);
            prop_assert_eq!(&*account, &before, "a refused operation changes nothing");
        }
        Err(other) => prop_assert!(false, "unexpected {other}"),
    }
    Ok(())
}

/// I5 for redemptions: the lots taken are the oldest available ones, each emptied before the next.
fn assert_fifo(before: &Account, now: Timestamp, entry: &NewEntry) {
    let mut settled = before.clone();
    settled.settle(now);
    let oldest: Vec<(u64, Points)> =
        settled.lots.iter().filter(|lot| lot.available_at <= now).map(|lot| (lot.seq, lot.remaining)).collect();
    let mut missing = -entry.points;
    let mut expected = Vec::new();
    for (seq, remaining) in oldest {
        if missing == 0 {
            break;
        }
        let take = missing.min(remaining);
        expected.push((seq, take));
        missing -= take;
    }
    assert_eq!(entry.consumed, expected, "I5 FIFO");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_keep_every_invariant(
        (expiry, clawback) in policy(),
        ops in proptest::collection::vec(op(), 1..60),
    ) {
        let mut account = Account::new(expiry);
        let mut history = History::default();
        let mut now = at(0);
        for op in ops {
            match op {
                Op::Earn { points, order, pending_days } => {
                    let order_id = order.map(|n| format!("o{n}"));
                    if let Some(id) = &order_id {
                        history.orders.entry(id.clone()).or_default().earned += points;
                    }
                    let entries = account.earn(now, points, order_id, now.plus_days(pending_days.into())).unwrap();
                    history.record(entries);
                }
                Op::Redeem(points) => spend(&mut account, &mut history, now, points, |a| a.redeem(now, points))?,
                Op::Adjust(0) => prop_assert_eq!(account.adjust(now, 0), Err(LedgerError::Zero)),
                Op::Adjust(points) if points < 0 => {
                    spend(&mut account, &mut history, now, -points, |a| a.adjust(now, points))?
                }
                Op::Adjust(points) => history.record(account.adjust(now, points).unwrap()),
                Op::Refund { order, points } => {
                    let order_id = format!("o{order}");
                    let mut totals = history.orders.get(&order_id).copied().unwrap_or_default();
                    history.record(account.take_back(now, &order_id, &mut totals, points, clawback).unwrap());
                    if totals != OrderTotals::default() {
                        history.orders.insert(order_id, totals);
                    }
                }
                Op::Cancel(order) => {
                    let order_id = format!("o{order}");
                    let mut totals = history.orders.get(&order_id).copied().unwrap_or_default();
                    history.record(account.cancel_order(now, &order_id, &mut totals, clawback).unwrap());
                    if totals != OrderTotals::default() {
                        history.orders.insert(order_id, totals);
                    }
                }
                Op::Restore(points) => history.record(account.restore(now, points).unwrap()),
                Op::Wait(days) => now = now.plus_days(days.into()),
            }
            history.check(&account, now, clawback);
        }
    }
}
