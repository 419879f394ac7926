//! One customer's points as lots, and the operations that move them.

use super::{ClawbackPolicy, EntryKind, ExpiryPolicy, LedgerError, NewEntry, Points, Timestamp};

/// Points earned together (one entry), and how many of them are left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lot {
    /// The seq of the entry that opened the lot.
    pub seq: u64,
    pub order_id: Option<String>,
    pub earned_at: Timestamp,
    pub available_at: Timestamp,
    pub remaining: Points,
}

/// What an order earned and what has been taken back from it so far (I4), with the amounts
/// of money those points follow (minor units).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderTotals {
    /// Whether the order was reported before (whatever it earned).
    pub recorded: bool,
    pub earned: Points,
    pub taken_back: Points,
    /// The amount the order earned on.
    pub amount: i64,
    /// The money refunded so far.
    pub refunded: i64,
}

impl OrderTotals {
    fn still_reversible(&self) -> Points {
        (self.earned - self.taken_back).max(0)
    }
}

/// What a customer holds at a moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    pub available: Points,
    pub pending: Points,
    /// Available points whose lots expire within the asked number of days.
    pub expiring_soon: Points,
}

/// Points that expire together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpiryBatch {
    pub expires_at: Timestamp,
    pub points: Points,
}

/// A customer's ledger state: everything an operation needs, nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    /// The seq of the newest entry (0 when there is none).
    pub last_seq: u64,
    /// Lots with points left, oldest first: by `available_at`, then `seq`.
    pub lots: Vec<Lot>,
    /// Points clawed back beyond the balance (only under [`ClawbackPolicy::AllowNegative`]);
    /// later available lots pay it back.
    pub debt: Points,
    /// The last earning or redemption, for [`ExpiryPolicy::AfterInactivity`].
    pub last_activity_at: Option<Timestamp>,
    pub expiry: ExpiryPolicy,
}

impl Account {
    pub fn new(expiry: ExpiryPolicy) -> Self {
        Self { last_seq: 0, lots: Vec::new(), debt: 0, last_activity_at: None, expiry }
    }

    /// Points the customer can spend at `now`. Call on a settled account (see [`Self::settle`]).
    pub fn available(&self, now: Timestamp) -> Points {
        self.lots.iter().filter(|lot| lot.available_at <= now).map(|lot| lot.remaining).sum::<Points>() - self.debt
    }

    /// Points in open lots, available or pending, less any debt: what the customer holds
    /// whenever the lots become available (the customer list sorts by it).
    pub fn held(&self) -> Points {
        self.lots.iter().map(|lot| lot.remaining).sum::<Points>() - self.debt
    }

    /// Points earned but not yet available at `now`.
    pub fn pending(&self, now: Timestamp) -> Points {
        self.lots.iter().filter(|lot| lot.available_at > now).map(|lot| lot.remaining).sum()
    }

    /// When `lot` expires under the account's policy.
    pub fn expires_at(&self, lot: &Lot) -> Option<Timestamp> {
        match self.expiry {
            ExpiryPolicy::Never => None,
            ExpiryPolicy::AfterEarning { days } => Some(lot.earned_at.plus_days(days)),
            ExpiryPolicy::AfterInactivity { days } => {
                Some(self.last_activity_at.unwrap_or(lot.earned_at).plus_days(days))
            }
        }
    }

    /// Available points that expire within `days` of `now`.
    pub fn expiring_within(&self, now: Timestamp, days: u32) -> Points {
        let horizon = now.plus_days(days);
        self.lots
            .iter()
            .filter(|lot| self.expires_at(lot).is_some_and(|at| at <= horizon))
            .map(|lot| lot.remaining)
            .sum()
    }

    /// The points that expire within `days` of `now` (and not before or at `now`: those are
    /// expired), one batch per moment of expiry, soonest first. Under
    /// [`ExpiryPolicy::AfterInactivity`] every lot shares one moment: one batch, which moves
    /// (a new batch) whenever the customer is active again.
    pub fn expiry_batches(&self, now: Timestamp, days: u32) -> Vec<ExpiryBatch> {
        let horizon = now.plus_days(days);
        let mut batches: Vec<ExpiryBatch> = Vec::new();
        for lot in self.lots.iter().filter(|lot| lot.remaining > 0) {
            let Some(expires_at) = self.expires_at(lot).filter(|at| *at > now && *at <= horizon) else { continue };
            match batches.iter_mut().find(|batch| batch.expires_at == expires_at) {
                Some(batch) => batch.points = batch.points.saturating_add(lot.remaining),
                None => batches.push(ExpiryBatch { expires_at, points: lot.remaining }),
            }
        }
        batches.sort_by_key(|batch| batch.expires_at);
        batches
    }

    /// The balances as of `now`, as if settled: pending points that matured count as available
    /// and expired lots do not, even before any entry says so.
    pub fn balances_at(&self, now: Timestamp, expiring_within_days: u32) -> Balances {
        let mut settled = self.clone();
        settled.settle(now);
        Balances {
            available: settled.available(now),
            pending: settled.pending(now),
            expiring_soon: settled.expiring_within(now, expiring_within_days),
        }
    }

    /// Brings the account up to `now`: available lots pay back debt (no entry: no points move
    /// between customer and program), then lots past their expiry leave through `expire`
    /// entries, oldest first (I5). Every operation settles first; reads settle a copy.
    pub fn settle(&mut self, now: Timestamp) -> Vec<NewEntry> {
        self.pay_debt(now);
        let mut entries = Vec::new();
        let expired: Vec<usize> = (0..self.lots.len())
            .filter(|&index| self.expires_at(&self.lots[index]).is_some_and(|at| at <= now))
            .collect();
        for index in expired {
            let lot = &mut self.lots[index];
            let points = std::mem::take(&mut lot.remaining);
            let (seq, available_at) = (lot.seq, lot.available_at.max(now));
            let consumed = vec![(seq, points)];
            entries.push(self.append(now, EntryKind::Expire, -points, available_at, None, consumed, 0));
        }
        self.drop_empty_lots();
        entries
    }

    /// Points earned by a purchase or an action. `available_at` later than `now` makes them
    /// pending until then.
    pub fn earn(
        &mut self,
        now: Timestamp,
        points: Points,
        order_id: Option<String>,
        available_at: Timestamp,
    ) -> Result<Vec<NewEntry>, LedgerError> {
        ensure_positive(points)?;
        let mut entries = self.settle(now);
        self.last_activity_at = Some(now);
        entries.push(self.open_lot(now, EntryKind::Earn, points, order_id, available_at.max(now)));
        Ok(entries)
    }

    /// Points spent on a reward: the oldest available lots go first (I5), never below zero (I2).
    pub fn redeem(&mut self, now: Timestamp, points: Points) -> Result<Vec<NewEntry>, LedgerError> {
        ensure_positive(points)?;
        self.all_or_nothing(|account| account.redeem_settled(now, points))
    }

    fn redeem_settled(&mut self, now: Timestamp, points: Points) -> Result<Vec<NewEntry>, LedgerError> {
        let mut entries = self.settle(now);
        self.ensure_available(now, points)?;
        self.last_activity_at = Some(now);
        let consumed = self.take_fifo(now, points, |_| true);
        entries.push(self.append(now, EntryKind::Redeem, -points, now, None, consumed, 0));
        self.drop_empty_lots();
        Ok(entries)
    }

    /// A manual correction by an admin: adds a lot, or takes available points oldest first
    /// without going below zero (I2).
    pub fn adjust(&mut self, now: Timestamp, points: Points) -> Result<Vec<NewEntry>, LedgerError> {
        if points == 0 {
            return Err(LedgerError::Zero);
        }
        self.all_or_nothing(|account| account.adjust_settled(now, points))
    }

    fn adjust_settled(&mut self, now: Timestamp, points: Points) -> Result<Vec<NewEntry>, LedgerError> {
        let mut entries = self.settle(now);
        if points > 0 {
            entries.push(self.open_lot(now, EntryKind::Adjust, points, None, now));
        } else {
            self.ensure_available(now, -points)?;
            let consumed = self.take_fifo(now, -points, |_| true);
            entries.push(self.append(now, EntryKind::Adjust, points, now, None, consumed, 0));
            self.drop_empty_lots();
        }
        Ok(entries)
    }

    /// Redeemed points coming back (a coupon cancelled unused, or the order that used it
    /// cancelled): a new lot, available at once.
    pub fn restore(&mut self, now: Timestamp, points: Points) -> Result<Vec<NewEntry>, LedgerError> {
        ensure_positive(points)?;
        let mut entries = self.settle(now);
        entries.push(self.open_lot(now, EntryKind::Reverse, points, None, now));
        Ok(entries)
    }

    /// A refund takes back up to `points` of what `order_id` earned, never more than it earned
    /// (I4): the order's pending points first, then its available points, then other available
    /// points oldest first. What is still missing is debt or shortfall, as `policy` says (I2).
    pub fn take_back(
        &mut self,
        now: Timestamp,
        order_id: &str,
        order: &mut OrderTotals,
        points: Points,
        policy: ClawbackPolicy,
    ) -> Result<Vec<NewEntry>, LedgerError> {
        ensure_positive(points)?;
        let mut entries = self.settle(now);
        let wanted = points.min(order.still_reversible());
        if wanted == 0 {
            return Ok(entries);
        }
        order.taken_back += wanted;
        let mut missing = wanted;
        // The order's pending lots: each reversal is pending exactly as long as its lot (I1).
        for index in self.order_lot_indexes(order_id, |lot| lot.available_at > now) {
            let lot = &mut self.lots[index];
            let take = missing.min(lot.remaining);
            if take == 0 {
                continue;
            }
            lot.remaining -= take;
            missing -= take;
            let (seq, available_at) = (lot.seq, lot.available_at);
            let order_id = Some(order_id.to_owned());
            entries.push(self.append(now, EntryKind::Reverse, -take, available_at, order_id, vec![(seq, take)], 0));
        }
        if missing > 0 {
            let mut consumed = self.take_fifo(now, missing, |lot| lot.order_id.as_deref() == Some(order_id));
            let from_order: Points = consumed.iter().map(|(_, points)| points).sum();
            consumed.extend(self.take_fifo(now, missing - from_order, |_| true));
            let taken: Points = consumed.iter().map(|(_, points)| points).sum();
            let rest = missing - taken;
            let (points, shortfall) = match policy {
                ClawbackPolicy::AllowNegative => {
                    self.debt += rest;
                    (missing, 0)
                }
                ClawbackPolicy::CapAtZero => (taken, rest),
            };
            let order_id = Some(order_id.to_owned());
            entries.push(self.append(now, EntryKind::Reverse, -points, now, order_id, consumed, shortfall));
        }
        self.drop_empty_lots();
        Ok(entries)
    }

    /// A cancelled order: its pending points are voided, and what it already made available is
    /// taken back like a full refund (I4 bounds both).
    pub fn cancel_order(
        &mut self,
        now: Timestamp,
        order_id: &str,
        order: &mut OrderTotals,
        policy: ClawbackPolicy,
    ) -> Result<Vec<NewEntry>, LedgerError> {
        let mut entries = self.settle(now);
        for index in self.order_lot_indexes(order_id, |lot| lot.available_at > now) {
            let take = self.lots[index].remaining.min(order.still_reversible());
            if take == 0 {
                continue;
            }
            self.lots[index].remaining -= take;
            order.taken_back += take;
            let (seq, available_at) = (self.lots[index].seq, self.lots[index].available_at);
            let order_id = Some(order_id.to_owned());
            entries.push(self.append(now, EntryKind::Void, -take, available_at, order_id, vec![(seq, take)], 0));
        }
        self.drop_empty_lots();
        let rest = order.still_reversible();
        if rest > 0 {
            entries.extend(self.take_back(now, order_id, order, rest, policy)?);
        }
        Ok(entries)
    }

    /// Runs `operation` on a copy and keeps the result only if it succeeds, so a refused
    /// operation leaves the account exactly as it was.
    fn all_or_nothing(
        &mut self,
        operation: impl FnOnce(&mut Self) -> Result<Vec<NewEntry>, LedgerError>,
    ) -> Result<Vec<NewEntry>, LedgerError> {
        let mut next = self.clone();
        let entries = operation(&mut next)?;
        *self = next;
        Ok(entries)
    }

    fn ensure_available(&self, now: Timestamp, points: Points) -> Result<(), LedgerError> {
        let available = self.available(now);
        if available < points {
            return Err(LedgerError::InsufficientPoints { available, requested: points });
        }
        Ok(())
    }

    fn open_lot(
        &mut self,
        now: Timestamp,
        kind: EntryKind,
        points: Points,
        order_id: Option<String>,
        available_at: Timestamp,
    ) -> NewEntry {
        let seq = self.last_seq + 1;
        let lot = Lot { seq, order_id: order_id.clone(), earned_at: now, available_at, remaining: points };
        let position = self.lots.partition_point(|open| (open.available_at, open.seq) <= (available_at, seq));
        self.lots.insert(position, lot);
        self.pay_debt(now);
        self.drop_empty_lots();
        self.append(now, kind, points, available_at, order_id, Vec::new(), 0)
    }

    /// Takes up to `points` from available lots matching `eligible`, oldest first.
    fn take_fifo(&mut self, now: Timestamp, points: Points, eligible: impl Fn(&Lot) -> bool) -> Vec<(u64, Points)> {
        let mut missing = points;
        let mut consumed = Vec::new();
        for lot in self.lots.iter_mut().filter(|lot| lot.available_at <= now && lot.remaining > 0) {
            if missing == 0 {
                break;
            }
            if !eligible(lot) {
                continue;
            }
            let take = missing.min(lot.remaining);
            lot.remaining -= take;
            missing -= take;
            consumed.push((lot.seq, take));
        }
        consumed
    }

    fn pay_debt(&mut self, now: Timestamp) {
        if self.debt > 0 {
            let paid: Points = self.take_fifo(now, self.debt, |_| true).iter().map(|(_, points)| points).sum();
            self.debt -= paid;
        }
    }

    fn order_lot_indexes(&self, order_id: &str, filter: impl Fn(&Lot) -> bool) -> Vec<usize> {
        (0..self.lots.len())
            .filter(|&index| self.lots[index].order_id.as_deref() == Some(order_id) && filter(&self.lots[index]))
            .collect()
    }

    fn drop_empty_lots(&mut self) {
        self.lots.retain(|lot| lot.remaining > 0);
    }

    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        now: Timestamp,
        kind: EntryKind,
        points: Points,
        available_at: Timestamp,
        order_id: Option<String>,
        consumed: Vec<(u64, Points)>,
        shortfall: Points,
    ) -> NewEntry {
        self.last_seq += 1;
        NewEntry {
            seq: self.last_seq,
            kind,
            points,
            available_at,
            order_id,
            consumed,
            shortfall,
            balance_after: self.available(now),
        }
    }
}

fn ensure_positive(points: Points) -> Result<(), LedgerError> {
    if points <= 0 {
        return Err(LedgerError::NotPositive(points));
    }
    Ok(())
}
