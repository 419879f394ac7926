//! A program's running totals: what each write adds to the sums the dashboard reads, so a
//! report over a year reads a few thousand rows instead of every entry. Storage records each
//! write's changes in the write's transaction, like the lots: a projection of the ledger that
//! cannot drift from it (and folds the changes into the totals later, see `jobs`).
//!
//! The finest grain is a quarter of an hour, which every time zone offset in use divides, so
//! a day (week, month) in any program's time zone is a whole number of slots. The flows are
//! also kept per hour and per UTC day: a range reads days in its middle, hours and quarter
//! hours only at its edges (`cover`).
//!
//! # Invariants
//! - **T1** for a program, span (quarter hour, hour, UTC day), span start, kind and source,
//!   `gained` and `lost` are the sums of the positive and of the negative points of the
//!   entries created in that span.
//! - **T2** for a program and slot, the open points *by earning* are the remaining points of
//!   the lots earned in that slot; *by activity*, of the lots whose customer was last active in
//!   that slot (a customer never active: the lot's own earning time, as the expiry rule has it).
//! - **T3** for a program, customer and UTC month, quarter or year, `earned` is the sum of the
//!   points of the customer's earn entries created in it.
//! - **T4** the same per UTC day, each row stamped with the number of the fold that last
//!   changed it; folds are numbered in commit order.

use std::collections::{BTreeMap, HashMap};

use super::{Account, EntryKind, Lot, Points, Timestamp};

/// The totals' grain: fifteen minutes.
pub const SLOT_MS: i64 = 15 * 60 * 1000;

/// The start of the slot holding `at`.
pub fn slot_of(at: Timestamp) -> Timestamp {
    span_start(at, SLOT_MS)
}

/// The start of the `span` (counted from the epoch) holding `at`.
pub fn span_start(at: Timestamp, span: i64) -> Timestamp {
    Timestamp(at.0.div_euclid(span) * span)
}

/// The earliest start of a `span` at or after `at`.
pub fn span_start_at_or_after(at: Timestamp, span: i64) -> Timestamp {
    let start = span_start(at, span);
    if start == at {
        start
    } else {
        Timestamp(start.0 + span)
    }
}

pub const HOUR_MS: i64 = 60 * 60 * 1000;
pub const DAY_MS: i64 = 24 * HOUR_MS;
/// The spans the flows are kept in (T1), shortest first; each divides the next.
pub const SPANS: [i64; 3] = [SLOT_MS, HOUR_MS, DAY_MS];

/// The start of the span holding a slot, for each span: the totals a write in it adds to.
pub fn span_starts(slot: Timestamp) -> [(i64, Timestamp); 3] {
    SPANS.map(|span| (span, span_start(slot, span)))
}

/// Totals of one span whose starts are in `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanRange {
    pub span: i64,
    pub from: i64,
    pub to: i64,
}

/// The totals to read for the flows between consecutive `cuts` (sorted; each rounded down to
/// its slot, the last up): every total read lies between two cuts, and the longest spans that
/// fit are used. Adjacent ranges of one span are merged (a total still lies within its cuts).
pub fn cover(cuts: &[Timestamp]) -> Vec<SpanRange> {
    fn split(from: i64, to: i64, spans: &[i64], ranges: &mut Vec<SpanRange>) {
        let Some((&span, shorter)) = spans.split_last() else { return };
        if from >= to {
            return;
        }
        if shorter.is_empty() {
            ranges.push(SpanRange { span, from, to });
            return;
        }
        let (first, last) = (span_start_at_or_after(Timestamp(from), span).0, span_start(Timestamp(to), span).0);
        if first < last {
            split(from, first, shorter, ranges);
            ranges.push(SpanRange { span, from: first, to: last });
            split(last, to, shorter, ranges);
        } else {
            split(from, to, shorter, ranges);
        }
    }
    let Some((last, inner)) = cuts.split_last() else { return Vec::new() };
    let mut bounds: Vec<i64> = inner.iter().map(|cut| slot_of(*cut).0).collect();
    bounds.push(slot_at_or_after(*last).0);
    let mut ranges = Vec::new();
    for pair in bounds.windows(2) {
        split(pair[0], pair[1], &SPANS, &mut ranges);
    }
    ranges.sort_by_key(|range| (range.span, range.from));
    let mut merged: Vec<SpanRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(previous) if previous.span == range.span && previous.to == range.from => previous.to = range.to,
            _ => merged.push(range),
        }
    }
    merged
}

/// The calendar periods (UTC) whose earnings per customer are kept (T3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EarningPeriod {
    Month,
    Quarter,
    Year,
}

impl EarningPeriod {
    pub const ALL: [Self; 3] = [Self::Month, Self::Quarter, Self::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month => "month",
            Self::Quarter => "quarter",
            Self::Year => "year",
        }
    }

    /// The period of this length holding `at`: its start and the next one's.
    pub fn holding(self, at: Timestamp) -> (Timestamp, Timestamp) {
        at.month_block(match self {
            Self::Month => 1,
            Self::Quarter => 3,
            Self::Year => 12,
        })
    }
}

/// Entries to add (`sign` 1) or take away (-1) from a period's earnings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: Timestamp,
    pub to: Timestamp,
    pub sign: i64,
}

/// Earnings in a range read as a period's totals corrected by the entries at its two edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeriodRead {
    pub period: EarningPeriod,
    pub start: Timestamp,
    pub end: Timestamp,
    pub edges: [Edge; 2],
}

/// How far a range may start or end from a UTC period for the period's totals to serve it:
/// a day, more than any time zone's offset.
const EDGE_MS: i64 = DAY_MS;

/// The period to read the earnings of `[from, to)` from, if one is close: a month, quarter or
/// year in a program's time zone (the edges are then its offset), or one to date (after
/// `to`, only the last day's entries, if any, are taken away). `None` for ranges shorter than
/// four weeks, where the entries themselves are few, or far from any period.
pub fn period_read(from: Timestamp, to: Timestamp, now: Timestamp) -> Option<PeriodRead> {
    if to.0 - from.0 < 28 * DAY_MS {
        return None;
    }
    EarningPeriod::ALL.into_iter().find_map(|period| {
        let (start, end) = period.holding(Timestamp(from.0 + EDGE_MS));
        if (from.0 - start.0).abs() > EDGE_MS {
            return None;
        }
        let head =
            if from < start { Edge { from, to: start, sign: 1 } } else { Edge { from: start, to: from, sign: -1 } };
        let tail = if to >= end {
            (to.0 - end.0 <= EDGE_MS).then_some(Edge { from: end, to, sign: 1 })?
        } else {
            (end.0 - to.0 <= EDGE_MS || to.0 >= now.0 - EDGE_MS).then_some(Edge { from: to, to: end, sign: -1 })?
        };
        Some(PeriodRead { period, start, end, edges: [head, tail] })
    })
}

/// A server's copy of a program's earnings per customer and UTC day (T4) as of fold `seq`:
/// the top earners of any range add up its days here instead of grouping its entries.
#[derive(Debug)]
pub struct DayEarnings {
    /// The last fold applied; `-1` before the first catch-up (rows filled by the migration
    /// carry fold 0).
    pub seq: i64,
    /// The program's erasure count it was built at: an erasure moves a customer's days to a
    /// pseudonym, so a copy of an older epoch is built again.
    pub epoch: i64,
    customers: Vec<String>,
    numbers: HashMap<String, u32>,
    days: BTreeMap<i64, HashMap<u32, Points>>,
}

impl Default for DayEarnings {
    fn default() -> Self {
        Self { seq: -1, epoch: 0, customers: Vec::new(), numbers: HashMap::new(), days: BTreeMap::new() }
    }
}

impl DayEarnings {
    fn number(&mut self, customer: &str) -> u32 {
        if let Some(number) = self.numbers.get(customer) {
            return *number;
        }
        let number = self.customers.len() as u32;
        self.customers.push(customer.to_owned());
        self.numbers.insert(customer.to_owned(), number);
        number
    }

    /// About how many bytes of memory this copy holds: each customer id twice (the list and
    /// the index), the index's and the days' entries with the maps' overhead. An estimate, for
    /// the cache's budget; `cargo xtask bench-dashboard` compares it with the process's RSS.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let ids: usize = self.customers.iter().map(String::len).sum();
        let per_customer = 2 * size_of::<String>() + size_of::<u32>() + 8;
        let entries: usize = self.days.values().map(HashMap::len).sum();
        let per_entry = size_of::<u32>() + size_of::<Points>() + 8;
        let per_day = size_of::<i64>() + size_of::<HashMap<u32, Points>>() + 16;
        2 * ids + self.customers.len() * per_customer + entries * per_entry + self.days.len() * per_day
    }

    /// Catches up to fold `seq` with the rows it and the folds before changed (their values
    /// now, not increments).
    pub fn apply(&mut self, seq: i64, rows: Vec<(String, Timestamp, Points)>) {
        for (customer, day, earned) in rows {
            let number = self.number(&customer);
            self.days.entry(day.0).or_default().insert(number, earned);
        }
        self.seq = self.seq.max(seq);
    }

    /// The `limit` customers who earned most on the days in `[from, to)` plus `extra` (what
    /// is not folded yet, and part days), most first, ties by id; nothing earned: left out.
    pub fn top(
        &self,
        from: Timestamp,
        to: Timestamp,
        extra: &[(String, Points)],
        limit: usize,
    ) -> Vec<(String, Points)> {
        let mut earned = vec![0; self.customers.len()];
        for day in self.days.range(from.0..to.0).map(|(_, day)| day) {
            for (number, points) in day {
                earned[*number as usize] += points;
            }
        }
        let mut others: HashMap<&str, Points> = HashMap::new();
        for (customer, points) in extra {
            match self.numbers.get(customer) {
                Some(number) => earned[*number as usize] += points,
                None => *others.entry(customer).or_default() += points,
            }
        }
        let mut ranked: Vec<(&str, Points)> = self
            .customers
            .iter()
            .map(String::as_str)
            .zip(earned)
            .chain(others)
            .filter(|(_, points)| *points > 0)
            .collect();
        let order = |a: &(&str, Points), b: &(&str, Points)| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0));
        if ranked.len() > limit && limit > 0 {
            ranked.select_nth_unstable_by(limit - 1, order);
        }
        ranked.truncate(limit);
        ranked.sort_by(order);
        ranked.into_iter().map(|(customer, points)| (customer.to_owned(), points)).collect()
    }
}

/// The earliest slot start at or after `at`.
pub fn slot_at_or_after(at: Timestamp) -> Timestamp {
    span_start_at_or_after(at, SLOT_MS)
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
    fn a_cover_reads_days_in_the_middle_and_shorter_spans_at_the_cuts() {
        const DAY: i64 = DAY_MS;
        let range = |span, from, to| SpanRange { span, from, to };
        // Two days from 09:30: quarter hours to 10:00, hours to midnight, a day, hours to 09:00,
        // quarters to 09:30.
        let from = 10 * DAY + 9 * HOUR + 30 * 60_000;
        let cover_two_days = cover(&[Timestamp(from), Timestamp(from + 2 * DAY)]);
        assert_eq!(
            cover_two_days,
            [
                range(SLOT_MS, from, from + 2 * SLOT_MS),
                range(SLOT_MS, from + 2 * DAY - 2 * SLOT_MS, from + 2 * DAY),
                range(HOUR, 10 * DAY + 10 * HOUR, 11 * DAY),
                range(HOUR, 12 * DAY, 12 * DAY + 9 * HOUR),
                range(DAY, 11 * DAY, 12 * DAY),
            ]
        );
        // Days in a zone nine hours ahead: hours only, merged across the cuts; no total
        // crosses one.
        let cuts: Vec<Timestamp> = (0..4).map(|day| Timestamp(day * DAY + 15 * HOUR)).collect();
        assert_eq!(cover(&cuts), [range(HOUR, 15 * HOUR, 3 * DAY + 15 * HOUR)]);
        // Cuts off the slots are rounded: down for the inner ones, up for the last.
        assert_eq!(
            cover(&[Timestamp(7), Timestamp(SLOT_MS + 5), Timestamp(2 * SLOT_MS + 1)]),
            [range(SLOT_MS, 0, 3 * SLOT_MS)]
        );
        assert_eq!(cover(&[Timestamp(HOUR)]), []);
    }

    #[test]
    fn a_year_to_date_in_a_zone_reads_the_year_and_its_edges() {
        let at = |text: &str| Timestamp::parse_rfc3339(text).unwrap();
        let now = at("2026-11-18T10:00:00Z");
        // Seoul, UTC+9: the local year starts nine hours before UTC's; the rest of the local
        // day after now is taken away (it holds nothing yet).
        let read = period_read(at("2025-12-31T15:00:00Z"), at("2026-11-18T15:00:00Z"), now).unwrap();
        assert_eq!((read.period, read.start), (EarningPeriod::Year, at("2026-01-01T00:00:00Z")));
        assert_eq!(read.edges[0], Edge { from: at("2025-12-31T15:00:00Z"), to: at("2026-01-01T00:00:00Z"), sign: 1 });
        assert_eq!(read.edges[1], Edge { from: at("2026-11-18T15:00:00Z"), to: at("2027-01-01T00:00:00Z"), sign: -1 });
        // New York's last quarter: five hours later than UTC's at both ends.
        let read = period_read(at("2026-07-01T04:00:00Z"), at("2026-10-01T04:00:00Z"), now).unwrap();
        assert_eq!((read.period, read.start), (EarningPeriod::Quarter, at("2026-07-01T00:00:00Z")));
        assert_eq!(read.edges[0], Edge { from: at("2026-07-01T00:00:00Z"), to: at("2026-07-01T04:00:00Z"), sign: -1 });
        assert_eq!(read.edges[1], Edge { from: at("2026-10-01T00:00:00Z"), to: at("2026-10-01T04:00:00Z"), sign: 1 });
        // A month, exactly.
        let read = period_read(at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z"), now).unwrap();
        assert_eq!(read.period, EarningPeriod::Month);
        assert!(read.edges.iter().all(|edge| edge.from == edge.to));
        // Far from any period, or short: read from the entries.
        assert_eq!(period_read(at("2026-03-10T00:00:00Z"), at("2026-06-20T00:00:00Z"), now), None);
        assert_eq!(period_read(at("2026-11-16T00:00:00Z"), at("2026-11-19T00:00:00Z"), now), None);
        // A past range ending days before its period does: not served by it.
        assert_eq!(period_read(at("2026-01-01T00:00:00Z"), at("2026-03-20T00:00:00Z"), now), None);
    }

    #[test]
    fn day_earnings_add_up_the_days_of_a_range_with_what_is_not_folded_yet() {
        const DAY: i64 = DAY_MS;
        let mut earnings = DayEarnings::default();
        earnings.apply(3, vec![("ana".into(), Timestamp(0), 10), ("bo".into(), Timestamp(DAY), 30)]);
        earnings.apply(4, vec![("ana".into(), Timestamp(DAY), 25), ("ana".into(), Timestamp(0), 12)]);
        assert_eq!(earnings.seq, 4);
        let top =
            |from, to, extra: &[(String, Points)], limit| earnings.top(Timestamp(from), Timestamp(to), extra, limit);
        assert_eq!(top(0, 2 * DAY, &[], 10), [("ana".into(), 37), ("bo".into(), 30)]);
        assert_eq!(top(DAY, 2 * DAY, &[], 10), [("bo".into(), 30), ("ana".into(), 25)]);
        // Unfolded or part-day earnings, of a known customer and of a new one; ties by id.
        let extra = [("bo".to_owned(), 7), ("cy".to_owned(), 37)];
        assert_eq!(top(0, 2 * DAY, &extra, 2), [("ana".into(), 37), ("bo".into(), 37)]);
        assert_eq!(top(0, 2 * DAY, &extra, 3)[2], ("cy".into(), 37));
        assert_eq!(top(2 * DAY, 3 * DAY, &[], 10), []);
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
