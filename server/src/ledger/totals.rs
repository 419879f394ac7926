//! A program's running totals: what each write adds to the sums the dashboard reads, so a
//! report over a year reads a few thousand rows instead of every entry. Storage records each
//! write's changes in the write's transaction, like the lots: a projection of the ledger that
//! cannot drift from it (and folds the changes into the totals later, see `jobs`).
//!
//! The grain is a quarter of an hour, which every time zone offset in use divides, so a
//! day (week, month) in any program's time zone is a whole number of slots.
//!
//! # Invariants
//! - **T1** for a program, slot, kind and source, `gained` and `lost` are the sums of the
//!   positive and of the negative points of the entries created in that slot.
//! - **T2** for a program and slot, the open points *by earning* are the remaining points of
//!   the lots earned in that slot; *by activity*, of the lots whose customer was last active in
//!   that slot (a customer never active: the lot's own earning time, as the expiry rule has it).

use std::collections::BTreeMap;

use super::{Account, EntryKind, Lot, Points, Timestamp};

/// The totals' grain: fifteen minutes.
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// The start of the slot holding `at`.
pub fn slot_of(at: Timestamp) -> Timestamp {
    Timestamp(at.0.div_euclid(SLOT_MS) * SLOT_MS)
}

/// The earliest slot start at or after `at`.
pub fn slot_at_or_after(at: Timestamp) -> Timestamp {
    let start = slot_of(at);
    if start == at {
        start
    } else {
        Timestamp(start.0 + SLOT_MS)
    }
}

/// What a write's entries add to one (kind, source) total of their slot (T1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotTotal {
    pub kind: EntryKind,
    pub source: String,
    pub gained: Points,
    pub lost: Points,
}

/// The totals that entries written together change, one per (kind, source), sorted.
pub fn slot_totals<'a>(entries: impl IntoIterator<Item = (EntryKind, &'a str, Points)>) -> Vec<SlotTotal> {
    let mut totals: BTreeMap<(&'static str, &'a str), SlotTotal> = BTreeMap::new();
    for (kind, source, points) in entries {
        let total = totals.entry((kind.as_str(), source)).or_insert_with(|| SlotTotal {
            kind,
            source: source.to_owned(),
            gained: 0,
            lost: 0,
        });
        if points > 0 {
            total.gained += points;
        } else {
            total.lost += points;
        }
    }
    totals.into_values().collect()
}

/// Which moment of a lot its open points are filed under (T2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpenPointsBasis {
    /// When the lot was earned: what expiry after earning and no expiry need.
    Earned,
    /// When its customer was last active: what expiry after inactivity needs.
    Activity,
}

impl OpenPointsBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earned => "earned",
            Self::Activity => "activity",
        }
    }
}

/// A change to the open points of one slot under one basis.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenPointsChange {
    pub basis: OpenPointsBasis,
    pub slot: Timestamp,
    pub points: Points,
}

/// How a write moved a customer's open points: `lots_before` and `activity_before` are the
/// account as it was loaded, `after` as the write leaves it. Sorted, without the slots whose
/// total did not change.
pub fn open_points_changes(
    lots_before: &[Lot],
    activity_before: Option<Timestamp>,
    after: &Account,
) -> Vec<OpenPointsChange> {
    let mut changes: BTreeMap<(OpenPointsBasis, Timestamp), Points> = BTreeMap::new();
    let mut file = |lots: &[Lot], activity: Option<Timestamp>, sign: Points| {
        for lot in lots {
            *changes.entry((OpenPointsBasis::Earned, slot_of(lot.earned_at))).or_default() += sign * lot.remaining;
            let active = activity.unwrap_or(lot.earned_at);
            *changes.entry((OpenPointsBasis::Activity, slot_of(active))).or_default() += sign * lot.remaining;
        }
    };
    file(lots_before, activity_before, -1);
    file(&after.lots, after.last_activity_at, 1);
    changes
        .into_iter()
        .filter(|(_, points)| *points != 0)
        .map(|((basis, slot), points)| OpenPointsChange { basis, slot, points })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::ExpiryPolicy;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn slots_are_quarter_hours() {
        assert_eq!(slot_of(Timestamp(HOUR + 1)), Timestamp(HOUR));
        assert_eq!(slot_of(Timestamp(HOUR - 1)), Timestamp(HOUR - SLOT_MS));
        assert_eq!(slot_of(Timestamp(-1)), Timestamp(-SLOT_MS));
        assert_eq!(slot_at_or_after(Timestamp(HOUR)), Timestamp(HOUR));
        assert_eq!(slot_at_or_after(Timestamp(HOUR + 1)), Timestamp(HOUR + SLOT_MS));
    }

    #[test]
    fn slot_totals_split_gains_and_losses_per_kind_and_source() {
        let totals = slot_totals([
            (EntryKind::Expire, "expiry", -30),
            (EntryKind::Earn, "purchase", 100),
            (EntryKind::Adjust, "manual", 5),
            (EntryKind::Adjust, "manual", -8),
            (EntryKind::Expire, "expiry", -2),
        ]);
        let summary: Vec<_> =
            totals.iter().map(|total| (total.kind.as_str(), total.source.as_str(), total.gained, total.lost)).collect();
        assert_eq!(summary, [("adjust", "manual", 5, -8), ("earn", "purchase", 100, 0), ("expire", "expiry", 0, -32)]);
    }

    #[test]
    fn a_redemption_moves_points_out_of_the_lots_it_takes_and_files_the_rest_under_new_activity() {
        let mut account = Account::new(ExpiryPolicy::AfterInactivity { days: 365 });
        account.earn(Timestamp(0), 100, None, Timestamp(0)).unwrap();
        account.earn(Timestamp(HOUR), 50, None, Timestamp(HOUR)).unwrap();
        let (lots_before, activity_before) = (account.lots.clone(), account.last_activity_at);
        account.redeem(Timestamp(2 * HOUR), 120).unwrap();

        let changes = open_points_changes(&lots_before, activity_before, &account);
        let change = |basis, slot| OpenPointsChange { basis, slot: Timestamp(slot), points: 0 };
        let expected = [
            // The oldest lot is used up, the second keeps 30.
            OpenPointsChange { points: -100, ..change(OpenPointsBasis::Earned, 0) },
            OpenPointsChange { points: -20, ..change(OpenPointsBasis::Earned, HOUR) },
            // Both lots were filed under the last activity (the second earning); what is left
            // moves to the redemption's slot.
            OpenPointsChange { points: -150, ..change(OpenPointsBasis::Activity, HOUR) },
            OpenPointsChange { points: 30, ..change(OpenPointsBasis::Activity, 2 * HOUR) },
        ];
        assert_eq!(changes, expected);
    }

    #[test]
    fn a_write_that_moves_nothing_changes_nothing() {
        let mut account = Account::new(ExpiryPolicy::Never);
        account.earn(Timestamp(0), 100, None, Timestamp(0)).unwrap();
        assert_eq!(open_points_changes(&account.lots.clone(), account.last_activity_at, &account), []);
    }
}
