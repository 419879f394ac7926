//! Ledger writes: one transaction per write, the customer locked for its duration.

use async_trait::async_trait;
use std::collections::HashMap;

use super::customers::{qualifying_sql, LotRow, OPEN_LOTS};
use super::reports::{ADD_OPEN_POINTS, ADD_SLOT_FLOWS, APPEND_EARNINGS};
use super::rewards::{CANCEL_COUPON, COUNT_LIVE_COUPONS, INSERT_COUPON, RELEASE_USED_COUPON, TAKE_STOCK};
use super::{json_from_db, Dialect, Pool, SqlStorage};
use super::{on_pool, seq_from_db, seq_to_db};
use crate::{
    ledger::{
        totals::{open_points_changes, slot_of, slot_totals, span_starts},
        Account, EntryKind, OrderTotals, Timestamp,
    },
    storage::{Effect, EntryRecord, LedgerStore, LedgerWrite, Refusal, StorageError, WriteOutcome, WriteResult},
};

/// SQLite takes the write lock at BEGIN (a deferred transaction could fail to upgrade its read
/// lock under contention); PostgreSQL locks the customer's row instead.
const BEGIN_SQLITE: &str = "BEGIN IMMEDIATE";
const BEGIN_POSTGRES: &str = "BEGIN";

/// A customer first seen in a write has no email or name yet: an empty search text.
const ENSURE_CUSTOMER: &str =
    "INSERT INTO customers (program_id, customer_id, created_at_ms, updated_at_ms, search_text)
     VALUES ($1, $2, $3, $3, '\n') ON CONFLICT (program_id, customer_id) DO NOTHING";
const LOCK_CUSTOMER_SQLITE: &str =
    "SELECT last_seq, debt, last_activity_at_ms, tier_id FROM customers WHERE program_id = $1 AND customer_id = $2";
const LOCK_CUSTOMER_POSTGRES: &str = "SELECT last_seq, debt, last_activity_at_ms, tier_id FROM customers
     WHERE program_id = $1 AND customer_id = $2 FOR UPDATE";
const FIND_CLIENT_ID: &str =
    "SELECT request_hash, response FROM idempotency_keys WHERE program_id = $1 AND kind = $2 AND client_id = $3";
const COUNT_SINCE: &str = "SELECT COUNT(*) FROM ledger_entries
     WHERE program_id = $1 AND customer_id = $2 AND source = $3 AND kind = 'earn' AND created_at_ms >= $4";
const ORDER_TOTALS: &str =
    "SELECT earned, taken_back, amount, refunded FROM orders WHERE program_id = $1 AND order_id = $2";
const INSERT_ENTRY: &str = "INSERT INTO ledger_entries
         (program_id, customer_id, seq, kind, points, source, reference, order_id, available_at_ms,
          created_at_ms, balance_after, shortfall, rule_snapshot, client_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";
const INSERT_CONSUMPTION: &str =
    "INSERT INTO ledger_consumptions (program_id, customer_id, entry_seq, lot_seq, points) VALUES ($1, $2, $3, $4, $5)";
const INSERT_LOT: &str =
    "INSERT INTO lots (program_id, customer_id, seq, order_id, earned_at_ms, available_at_ms, remaining)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";
const UPDATE_LOT: &str = "UPDATE lots SET remaining = $1 WHERE program_id = $2 AND customer_id = $3 AND seq = $4";
const SAVE_ORDER: &str = "INSERT INTO orders
         (program_id, order_id, customer_id, earned, taken_back, amount, refunded, created_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (program_id, order_id) DO UPDATE SET earned = excluded.earned, taken_back = excluded.taken_back,
         amount = excluded.amount, refunded = excluded.refunded";
const SET_TIER: &str = "UPDATE customers SET tier_id = $1 WHERE program_id = $2 AND customer_id = $3";
const RECORD_TIER_CHANGE: &str = "INSERT INTO tier_changes
         (program_id, customer_id, changed_at_ms, from_tier, to_tier, qualifying)
     VALUES ($1, $2, $3, $4, $5, $6)";
const SAVE_CLIENT_ID: &str =
    "INSERT INTO idempotency_keys (program_id, kind, client_id, request_hash, response, created_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// What a write found under its client id, decided before anything is applied.
fn replay_or_conflict(
    stored: Option<(String, String)>,
    request_hash: &str,
) -> Result<Option<WriteOutcome>, StorageError> {
    match stored {
        None => Ok(None),
        Some((hash, response)) if hash == request_hash => {
            Ok(Some(WriteOutcome::Replayed(json_from_db("stored response", &response)?)))
        }
        Some(_) => Ok(Some(WriteOutcome::Conflict)),
    }
}

#[async_trait]
impl LedgerStore for SqlStorage {
    async fn write_ledger(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        match self.try_apply_write(write).await {
            // Another customer's write committed the same client id first (PostgreSQL only:
            // SQLite runs writes one at a time): answer as a replay or a conflict.
            Err(StorageError::Query(sqlx::Error::Database(error))) if error.is_unique_violation() => {
                let Some(client) = &write.client_id else {
                    return Err(StorageError::Query(sqlx::Error::Database(error)));
                };
                let stored: Option<(String, String)> = on_pool!(self, |pool| sqlx::query_as(FIND_CLIENT_ID)
                    .bind(&write.program_id)
                    .bind(client.kind)
                    .bind(&client.id)
                    .fetch_optional(pool)
                    .await?);
                replay_or_conflict(stored, &client.request_hash)?
                    .ok_or_else(|| StorageError::Corrupt("unique violation without a stored client id".into()))
            }
            other => other,
        }
    }
}

impl SqlStorage {
    async fn try_apply_write(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
        let program = write.program_id.as_str();
        let customer = write.customer_id.as_str();
        let client = write.client_id.as_ref();
        let now = write.now;
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick(BEGIN_SQLITE, BEGIN_POSTGRES)).await?;
            sqlx::query(ENSURE_CUSTOMER).bind(program).bind(customer).bind(now.0).execute(&mut *tx).await?;
            let (last_seq, debt, last_activity, tier_before): (i64, i64, Option<i64>, Option<String>) =
                sqlx::query_as(dialect.pick(LOCK_CUSTOMER_SQLITE, LOCK_CUSTOMER_POSTGRES))
                    .bind(program)
                    .bind(customer)
                    .fetch_one(&mut *tx)
                    .await?;

            // I3: the client id is checked under the customer's lock, so a concurrent replay
            // of the same write waits here and then finds it.
            if let Some(client) = client {
                let stored: Option<(String, String)> = sqlx::query_as(FIND_CLIENT_ID)
                    .bind(program)
                    .bind(client.kind)
                    .bind(&client.id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if let Some(outcome) = replay_or_conflict(stored, &client.request_hash)? {
                    tx.rollback().await?;
                    return Ok(outcome);
                }
            }

            if let Some(cap) = write.cap {
                let earned: i64 = sqlx::query_scalar(COUNT_SINCE)
                    .bind(program)
                    .bind(customer)
                    .bind(&write.source)
                    .bind(cap.since.0)
                    .fetch_one(&mut *tx)
                    .await?;
                if earned >= i64::from(cap.max) {
                    tx.rollback().await?;
                    return Ok(WriteOutcome::Refused(Refusal::CapReached));
                }
            }

            // Effects that can refuse the write go first, under the same lock.
            let refusal = match &write.effect {
                Effect::None => None,
                Effect::IssueCoupon { coupon, per_customer_limit, uses_stock } => {
                    let mut refusal = None;
                    if let Some(limit) = per_customer_limit {
                        let live: i64 = sqlx::query_scalar(COUNT_LIVE_COUPONS)
                            .bind(program)
                            .bind(customer)
                            .bind(&coupon.reward_id)
                            .fetch_one(&mut *tx)
                            .await?;
                        if live >= i64::from(*limit) {
                            refusal = Some(Refusal::RewardLimitReached);
                        }
                    }
                    if refusal.is_none() && *uses_stock {
                        let taken =
                            sqlx::query(TAKE_STOCK).bind(program).bind(&coupon.reward_id).execute(&mut *tx).await?;
                        if taken.rows_affected() == 0 {
                            refusal = Some(Refusal::OutOfStock);
                        }
                    }
                    refusal
                }
                Effect::CancelCoupon { code } | Effect::ReleaseUsedCoupon { code } => {
                    let sql = match &write.effect {
                        Effect::CancelCoupon { .. } => CANCEL_COUPON,
                        _ => RELEASE_USED_COUPON,
                    };
                    let cancelled = sqlx::query(sql).bind(program).bind(code).execute(&mut *tx).await?;
                    (cancelled.rows_affected() == 0).then_some(Refusal::CouponNotIssued)
                }
            };
            if let Some(refusal) = refusal {
                tx.rollback().await?;
                return Ok(WriteOutcome::Refused(refusal));
            }

            let lots: Vec<LotRow> = sqlx::query_as(OPEN_LOTS).bind(program).bind(customer).fetch_all(&mut *tx).await?;
            let mut account = Account {
                last_seq: seq_from_db(last_seq)?,
                lots: lots.into_iter().map(LotRow::into_lot).collect::<Result<_, _>>()?,
                debt,
                last_activity_at: last_activity.map(Timestamp),
                expiry: write.expiry,
            };
            let (lots_before, activity_before) = (account.lots.clone(), account.last_activity_at);
            let before: HashMap<u64, i64> = lots_before.iter().map(|lot| (lot.seq, lot.remaining)).collect();
            let order_id = write.operation.order_id();
            let mut order = match order_id {
                Some(order_id) => {
                    let totals: Option<(i64, i64, i64, i64)> =
                        sqlx::query_as(ORDER_TOTALS).bind(program).bind(order_id).fetch_optional(&mut *tx).await?;
                    totals
                        .map(|(earned, taken_back, amount, refunded)| OrderTotals {
                            earned,
                            taken_back,
                            amount,
                            refunded,
                        })
                        .unwrap_or_default()
                }
                None => OrderTotals::default(),
            };

            let new_entries = match write.operation.apply(&mut account, &mut order, now, write.clawback) {
                Ok(entries) => entries,
                Err(refusal) => {
                    tx.rollback().await?;
                    return Ok(WriteOutcome::Refused(refusal.into()));
                }
            };

            let snapshot = write.rule_snapshot.as_ref().map(|value| value.to_string());
            let mut records = Vec::with_capacity(new_entries.len());
            for entry in new_entries {
                // Settlement entries (expiry) belong to no client write's source.
                let is_expiry = entry.kind == EntryKind::Expire;
                let source = if is_expiry { "expiry".to_owned() } else { write.source.clone() };
                let reference = if is_expiry { None } else { write.reference.clone() };
                let record = EntryRecord {
                    seq: entry.seq,
                    kind: entry.kind,
                    points: entry.points,
                    source,
                    reference,
                    order_id: entry.order_id.clone(),
                    available_at: entry.available_at,
                    created_at: now,
                    balance_after: entry.balance_after,
                    shortfall: entry.shortfall,
                    rule_snapshot: if is_expiry { None } else { write.rule_snapshot.clone() },
                    client_id: client.map_or_else(|| "tally".to_owned(), |client| client.id.clone()),
                };
                sqlx::query(INSERT_ENTRY)
                    .bind(program)
                    .bind(customer)
                    .bind(seq_to_db(record.seq))
                    .bind(record.kind.as_str())
                    .bind(record.points)
                    .bind(&record.source)
                    .bind(&record.reference)
                    .bind(&record.order_id)
                    .bind(record.available_at.0)
                    .bind(now.0)
                    .bind(record.balance_after)
                    .bind(record.shortfall)
                    .bind(if is_expiry { None } else { snapshot.clone() })
                    .bind(&record.client_id)
                    .execute(&mut *tx)
                    .await?;
                for (lot_seq, points) in &entry.consumed {
                    sqlx::query(INSERT_CONSUMPTION)
                        .bind(program)
                        .bind(customer)
                        .bind(seq_to_db(entry.seq))
                        .bind(seq_to_db(*lot_seq))
                        .bind(points)
                        .execute(&mut *tx)
                        .await?;
                }
                records.push(record);
            }

            // The lots projection: new lots inserted, changed ones updated, emptied ones zeroed.
            let after: HashMap<u64, i64> = account.lots.iter().map(|lot| (lot.seq, lot.remaining)).collect();
            for lot in &account.lots {
                match before.get(&lot.seq) {
                    None => {
                        sqlx::query(INSERT_LOT)
                            .bind(program)
                            .bind(customer)
                            .bind(seq_to_db(lot.seq))
                            .bind(&lot.order_id)
                            .bind(lot.earned_at.0)
                            .bind(lot.available_at.0)
                            .bind(lot.remaining)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Some(&remaining) if remaining != lot.remaining => {
                        sqlx::query(UPDATE_LOT)
                            .bind(lot.remaining)
                            .bind(program)
                            .bind(customer)
                            .bind(seq_to_db(lot.seq))
                            .execute(&mut *tx)
                            .await?;
                    }
                    Some(_) => {}
                }
            }
            for seq in before.keys().filter(|seq| !after.contains_key(seq)) {
                sqlx::query(UPDATE_LOT)
                    .bind(0_i64)
                    .bind(program)
                    .bind(customer)
                    .bind(seq_to_db(*seq))
                    .execute(&mut *tx)
                    .await?;
            }

            if let Some(order_id) = order_id {
                sqlx::query(SAVE_ORDER)
                    .bind(program)
                    .bind(order_id)
                    .bind(customer)
                    .bind(order.earned)
                    .bind(order.taken_back)
                    .bind(order.amount)
                    .bind(order.refunded)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
            }
            // What this write changes in the running totals (T1 to T3). SQLite runs one write at
            // a time: it adds to the flows and open points directly. PostgreSQL writers append
            // their changes instead, sharing no row to wait for (migration 0011), in the
            // statement that saves the customer (a round trip of its own cost a tenth of a
            // write). Earnings are appended on both (upserting three rows per customer, at
            // random pages, cost SQLite's writes a third). The fold adds them up later.
            let entries = records.iter().map(|record| (record.kind, record.source.as_str(), record.points));
            let (totals, changes) =
                (slot_totals(entries), open_points_changes(&lots_before, activity_before, &account));
            let slot = slot_of(now).0;
            let earned: i64 =
                records.iter().filter(|record| record.kind == EntryKind::Earn).map(|record| record.points).sum();
            let mut save = sqlx::QueryBuilder::new("");
            if matches!(dialect, Dialect::Sqlite) {
                let [quarter, hour, day] = span_starts(Timestamp(slot));
                for total in &totals {
                    sqlx::query(ADD_SLOT_FLOWS)
                        .bind(program)
                        .bind(quarter.0)
                        .bind(quarter.1 .0)
                        .bind(hour.0)
                        .bind(hour.1 .0)
                        .bind(day.0)
                        .bind(day.1 .0)
                        .bind(total.kind.as_str())
                        .bind(&total.source)
                        .bind(total.gained)
                        .bind(total.lost)
                        .execute(&mut *tx)
                        .await?;
                }
                if earned != 0 {
                    sqlx::query(APPEND_EARNINGS)
                        .bind(program)
                        .bind(customer)
                        .bind(now.0)
                        .bind(earned)
                        .execute(&mut *tx)
                        .await?;
                }
                for change in &changes {
                    sqlx::query(ADD_OPEN_POINTS)
                        .bind(program)
                        .bind(change.basis.as_str())
                        .bind(change.slot.0)
                        .bind(change.points)
                        .execute(&mut *tx)
                        .await?;
                }
            } else if !totals.is_empty() || !changes.is_empty() {
                save.push("WITH ");
                if earned != 0 {
                    save.push(
                        "earnings AS (INSERT INTO earning_changes (program_id, customer_id, created_at_ms, earned) ",
                    );
                    save.push("VALUES (").push_bind(program).push(", ").push_bind(customer);
                    save.push(", ").push_bind(now.0).push(", ").push_bind(earned).push(")), ");
                }
                if !totals.is_empty() {
                    save.push("slot_changes AS (INSERT INTO ledger_slot_changes (program_id, slot_ms, kind, source, gained, lost) ");
                    save.push_values(&totals, |mut row, total| {
                        row.push_bind(program)
                            .push_bind(slot)
                            .push_bind(total.kind.as_str())
                            .push_bind(&total.source)
                            .push_bind(total.gained)
                            .push_bind(total.lost);
                    });
                    save.push(if changes.is_empty() { ") " } else { "), " });
                }
                if !changes.is_empty() {
                    save.push("open_changes AS (INSERT INTO open_point_changes (program_id, basis, slot_ms, points) ");
                    save.push_values(&changes, |mut row, change| {
                        row.push_bind(program)
                            .push_bind(change.basis.as_str())
                            .push_bind(change.slot.0)
                            .push_bind(change.points);
                    });
                    save.push(") ");
                }
            }
            save.push("UPDATE customers SET last_seq = ").push_bind(seq_to_db(account.last_seq));
            save.push(", debt = ").push_bind(account.debt);
            save.push(", last_activity_at_ms = ").push_bind(account.last_activity_at.map(|at| at.0));
            save.push(", held = ").push_bind(account.held());
            save.push(" WHERE program_id = ").push_bind(program).push(" AND customer_id = ").push_bind(customer);
            save.build().execute(&mut *tx).await?;

            let coupon = match &write.effect {
                Effect::IssueCoupon { coupon, .. } => {
                    sqlx::query(INSERT_COUPON)
                        .bind(program)
                        .bind(&coupon.code)
                        .bind(customer)
                        .bind(&coupon.reward_id)
                        .bind(coupon.points)
                        .bind(serde_json::to_string(&coupon.value).expect("coupon values serialise"))
                        .bind(coupon.status.as_str())
                        .bind(coupon.expires_at.0)
                        .bind(coupon.created_at.0)
                        .bind(&coupon.order_id)
                        .execute(&mut *tx)
                        .await?;
                    Some(coupon.clone())
                }
                Effect::None | Effect::CancelCoupon { .. } | Effect::ReleaseUsedCoupon { .. } => None,
            };
            let result = WriteResult {
                customer_id: customer.to_owned(),
                entries: records,
                available: account.available(now),
                pending: account.pending(now),
                coupon,
            };
            if !write.tiers.tiers.is_empty() {
                let since = write.tiers.window_start(now).0;
                let qualifying: i64 = sqlx::query_scalar(qualifying_sql(write.tiers.basis))
                    .bind(program)
                    .bind(customer)
                    .bind(since)
                    .fetch_one(&mut *tx)
                    .await?;
                let tier_after = write.tiers.status(qualifying).tier.map(|tier| tier.id);
                if tier_after != tier_before {
                    sqlx::query(SET_TIER).bind(&tier_after).bind(program).bind(customer).execute(&mut *tx).await?;
                    sqlx::query(RECORD_TIER_CHANGE)
                        .bind(program)
                        .bind(customer)
                        .bind(now.0)
                        .bind(&tier_before)
                        .bind(&tier_after)
                        .bind(qualifying)
                        .execute(&mut *tx)
                        .await?;
                }
            }

            if let Some(client) = client {
                let response = serde_json::to_string(&result).expect("results serialise");
                sqlx::query(SAVE_CLIENT_ID)
                    .bind(program)
                    .bind(client.kind)
                    .bind(&client.id)
                    .bind(&client.request_hash)
                    .bind(response)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(WriteOutcome::Applied(result))
        })
    }
}
