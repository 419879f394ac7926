//! Ledger writes: one transaction per write, the customer locked for its duration.
//!
//! A write runs as named steps ([`ledger_steps!`], written once and compiled for each driver):
//! lock the customer, check the client id (I3), the cap and the effects that can refuse, load
//! the account and the order, apply the operation (the ledger core decides), append the entries
//! and the lots, save the order, add to the running totals, recompute the tier, append the
//! events it causes (the outbox), the follow-ups (each in a savepoint), the stored result and the
//! audit entry, and commit.

use async_trait::async_trait;
use std::collections::HashMap;

use super::console_users::insert_audit;
use super::customers::{leaving_sql, qualifying_sql, LotRow, OPEN_LOTS};
use super::outbox::insert_events;
use super::referrals::MARK_REFERRAL_REWARDED;
use super::reports::{ADD_OPEN_POINTS, ADD_SLOT_FLOWS, APPEND_EARNINGS};
use super::rewards::{CANCEL_COUPON, COUNT_LIVE_COUPONS, INSERT_COUPON, RELEASE_USED_COUPON, TAKE_STOCK};
use super::{json_from_db, on_pool, seq_from_db, seq_to_db, Dialect, Pool, SqlStorage};
use crate::{
    connections::events,
    ledger::{
        totals::{open_points_changes, slot_of, slot_totals, span_starts},
        Account, EntryKind, Lot, NewEntry, OrderTotals, Timestamp,
    },
    storage::{
        Effect, EntryRecord, FollowUp, LedgerStore, LedgerWrite, Refusal, StorageError, TierChange, WriteOutcome,
        WriteResult,
    },
    tiers::TierWindow,
};

/// The customer's tier after a write and what it rests on.
struct TierState {
    qualifying: i64,
    tier: Option<String>,
    change: Option<TierChange>,
}

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
    "SELECT customer_id, earned, taken_back, amount, refunded FROM orders WHERE program_id = $1 AND order_id = $2";
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
/// A batch's warning, once: a second insert of the same moment does nothing.
const RECORD_EXPIRY_WARNING: &str =
    "INSERT INTO expiry_warnings (program_id, customer_id, expires_at_ms, points, warned_at_ms, last_chance_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (program_id, customer_id, expires_at_ms) DO NOTHING";
/// A warned batch's last-chance reminder, once.
const RECORD_LAST_CHANCE: &str = "UPDATE expiry_warnings SET last_chance_at_ms = $1
     WHERE program_id = $2 AND customer_id = $3 AND expires_at_ms = $4 AND last_chance_at_ms IS NULL";
/// A tier at risk, warned once per episode: a second insert for the same tier does nothing,
/// another tier at risk (after a drop) starts a new episode.
const RECORD_TIER_RISK: &str =
    "INSERT INTO tier_risk_warnings (program_id, customer_id, tier_id, drops_at_ms, warned_at_ms)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (program_id, customer_id) DO UPDATE SET tier_id = excluded.tier_id,
         drops_at_ms = excluded.drops_at_ms, warned_at_ms = excluded.warned_at_ms
     WHERE tier_risk_warnings.tier_id <> excluded.tier_id";
/// The customer is safe again: the episode ends, and the next risk warns again.
const CLEAR_TIER_RISK: &str = "DELETE FROM tier_risk_warnings WHERE program_id = $1 AND customer_id = $2";
const CUSTOMER_NAMES: &str = "SELECT email, name FROM customers WHERE program_id = $1 AND customer_id = $2";
/// An imported row's profile: the fields it has, and its tier standing from now.
const IMPORT_PROFILE: &str = "UPDATE customers SET email = $3, name = $4, birthday = COALESCE($5, birthday),
         marketing_consent = COALESCE($6, marketing_consent), search_text = $7,
         imported_qualifying = COALESCE($8, imported_qualifying),
         imported_qualifying_at_ms = CASE WHEN $8 IS NULL THEN imported_qualifying_at_ms ELSE $9 END,
         updated_at_ms = $9
     WHERE program_id = $1 AND customer_id = $2";
const SAVE_CLIENT_ID: &str =
    "INSERT INTO idempotency_keys (program_id, kind, client_id, request_hash, response, created_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6)";

/// PostgreSQL aborts one of two transactions that wait for each other's rows (a referral
/// award locks two customers): that write is run again, a few times at most.
const DEADLOCK_RETRIES: u32 = 3;

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

/// The customer's row as locked for the write.
struct Locked {
    /// The write brought the customer into the program.
    created: bool,
    last_seq: i64,
    debt: i64,
    last_activity: Option<i64>,
    tier: Option<String>,
}

/// The entries a write appends, as stored and answered.
fn entry_records(write: &LedgerWrite, new_entries: Vec<NewEntry>) -> Vec<EntryRecord> {
    let client_id = write.client_id.as_ref().map_or_else(|| "tally".to_owned(), |client| client.id.clone());
    new_entries
        .into_iter()
        .map(|entry| {
            // Settlement entries (expiry) belong to no client write's source.
            let is_expiry = entry.kind == EntryKind::Expire;
            EntryRecord {
                customer_id: write.customer_id.as_str().to_owned(),
                seq: entry.seq,
                kind: entry.kind,
                points: entry.points,
                source: if is_expiry { "expiry".to_owned() } else { write.source.clone() },
                reference: if is_expiry { None } else { write.reference.clone() },
                order_id: entry.order_id,
                available_at: entry.available_at,
                created_at: write.now,
                balance_after: entry.balance_after,
                shortfall: entry.shortfall,
                rule_snapshot: if is_expiry { None } else { write.rule_snapshot.clone() },
                client_id: client_id.clone(),
            }
        })
        .collect()
}

/// The write's steps for one driver: `$conn` is its connection type. Each step takes the
/// transaction's connection; [`apply`] runs them in order and leaves committing to its caller.
macro_rules! ledger_steps {
    ($module:ident, $conn:ty, $db:ty, $lock_sql:expr, $appends_changes:expr) => {
        mod $module {
            use super::*;

            type Conn = $conn;

            async fn ensure_and_lock(conn: &mut Conn, write: &LedgerWrite) -> Result<Locked, StorageError> {
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let ensured = sqlx::query(ENSURE_CUSTOMER).bind(program).bind(customer).bind(write.now.0).execute(&mut *conn).await?;
                let (last_seq, debt, last_activity, tier): (i64, i64, Option<i64>, Option<String>) =
                    sqlx::query_as($lock_sql).bind(program).bind(customer).fetch_one(&mut *conn).await?;
                Ok(Locked { created: ensured.rows_affected() == 1, last_seq, debt, last_activity, tier })
            }

            /// An imported row's profile fields and tier standing, before the tier is worked out.
            async fn import_profile(conn: &mut Conn, write: &LedgerWrite) -> Result<(), StorageError> {
                let Effect::Import { profile, qualifying } = &write.effect else { return Ok(()) };
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let (email, name): (Option<String>, Option<String>) =
                    sqlx::query_as(CUSTOMER_NAMES).bind(program).bind(customer).fetch_one(&mut *conn).await?;
                let email = profile.email.clone().or(email);
                let name = profile.name.clone().or(name);
                sqlx::query(IMPORT_PROFILE)
                    .bind(program)
                    .bind(customer)
                    .bind(&email)
                    .bind(&name)
                    .bind(&profile.birthday)
                    .bind(profile.marketing_consent)
                    .bind(crate::customers::search_text(email.as_deref(), name.as_deref()))
                    .bind(qualifying)
                    .bind(write.now.0)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// I3, under the customer's lock: a concurrent replay of the same write waits for
            /// the lock and then finds it.
            async fn check_client_id(conn: &mut Conn, write: &LedgerWrite) -> Result<Option<WriteOutcome>, StorageError> {
                let Some(client) = &write.client_id else { return Ok(None) };
                let stored: Option<(String, String)> = sqlx::query_as(FIND_CLIENT_ID)
                    .bind(&write.program_id)
                    .bind(client.kind)
                    .bind(&client.id)
                    .fetch_optional(&mut *conn)
                    .await?;
                replay_or_conflict(stored, &client.request_hash)
            }

            async fn check_cap(conn: &mut Conn, write: &LedgerWrite) -> Result<Option<Refusal>, StorageError> {
                let Some(cap) = write.cap else { return Ok(None) };
                let earned: i64 = sqlx::query_scalar(COUNT_SINCE)
                    .bind(&write.program_id)
                    .bind(write.customer_id.as_str())
                    .bind(&write.source)
                    .bind(cap.since.0)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok((earned >= i64::from(cap.max)).then_some(Refusal::CapReached))
            }

            /// Effects that can refuse the write go first, under the same lock.
            async fn check_effect(conn: &mut Conn, write: &LedgerWrite) -> Result<Option<Refusal>, StorageError> {
                let program = write.program_id.as_str();
                match &write.effect {
                    Effect::None | Effect::Upkeep { .. } | Effect::Import { .. } => Ok(None),
                    Effect::IssueCoupon { coupon, per_customer_limit, uses_stock } => {
                        if let Some(limit) = per_customer_limit {
                            let live: i64 = sqlx::query_scalar(COUNT_LIVE_COUPONS)
                                .bind(program)
                                .bind(write.customer_id.as_str())
                                .bind(&coupon.reward_id)
                                .fetch_one(&mut *conn)
                                .await?;
                            if live >= i64::from(*limit) {
                                return Ok(Some(Refusal::RewardLimitReached));
                            }
                        }
                        if *uses_stock {
                            let taken = sqlx::query(TAKE_STOCK)
                                .bind(program)
                                .bind(&coupon.reward_id)
                                .execute(&mut *conn)
                                .await?;
                            if taken.rows_affected() == 0 {
                                return Ok(Some(Refusal::OutOfStock));
                            }
                        }
                        Ok(None)
                    }
                    Effect::CancelCoupon { code } | Effect::ReleaseUsedCoupon { code } => {
                        let sql = if matches!(write.effect, Effect::CancelCoupon { .. }) {
                            CANCEL_COUPON
                        } else {
                            RELEASE_USED_COUPON
                        };
                        let cancelled = sqlx::query(sql).bind(program).bind(code).execute(&mut *conn).await?;
                        Ok((cancelled.rows_affected() == 0).then_some(Refusal::CouponNotIssued))
                    }
                }
            }

            async fn load_account(conn: &mut Conn, write: &LedgerWrite, locked: &Locked) -> Result<Account, StorageError> {
                let lots: Vec<LotRow> = sqlx::query_as(OPEN_LOTS)
                    .bind(&write.program_id)
                    .bind(write.customer_id.as_str())
                    .fetch_all(&mut *conn)
                    .await?;
                Ok(Account {
                    last_seq: seq_from_db(locked.last_seq)?,
                    lots: lots.into_iter().map(LotRow::into_lot).collect::<Result<_, _>>()?,
                    debt: locked.debt,
                    last_activity_at: locked.last_activity.map(Timestamp),
                    expiry: write.expiry,
                })
            }

            /// The totals of the write's order; an order belongs to the customer of its first
            /// event.
            async fn load_order(conn: &mut Conn, write: &LedgerWrite) -> Result<Result<OrderTotals, Refusal>, StorageError> {
                let Some(order_id) = write.operation.order_id() else { return Ok(Ok(OrderTotals::default())) };
                let row: Option<(String, i64, i64, i64, i64)> = sqlx::query_as(ORDER_TOTALS)
                    .bind(&write.program_id)
                    .bind(order_id)
                    .fetch_optional(&mut *conn)
                    .await?;
                Ok(match row {
                    None => Ok(OrderTotals::default()),
                    Some((owner, ..)) if owner != write.customer_id.as_str() => Err(Refusal::OrderOfAnotherCustomer),
                    Some((_, earned, taken_back, amount, refunded)) => {
                        Ok(OrderTotals { recorded: true, earned, taken_back, amount, refunded })
                    }
                })
            }

            async fn append_entries(conn: &mut Conn, write: &LedgerWrite, records: &[EntryRecord], consumed: &[Vec<(u64, i64)>]) -> Result<(), StorageError> {
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let snapshot = write.rule_snapshot.as_ref().map(|value| value.to_string());
                for (record, consumed) in records.iter().zip(consumed) {
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
                        .bind(record.created_at.0)
                        .bind(record.balance_after)
                        .bind(record.shortfall)
                        .bind(record.rule_snapshot.as_ref().and(snapshot.as_ref()))
                        .bind(&record.client_id)
                        .execute(&mut *conn)
                        .await?;
                    for (lot_seq, points) in consumed {
                        sqlx::query(INSERT_CONSUMPTION)
                            .bind(program)
                            .bind(customer)
                            .bind(seq_to_db(record.seq))
                            .bind(seq_to_db(*lot_seq))
                            .bind(points)
                            .execute(&mut *conn)
                            .await?;
                    }
                }
                Ok(())
            }

            /// The lots projection: new lots inserted, changed ones updated, emptied ones zeroed.
            async fn save_lots(conn: &mut Conn, write: &LedgerWrite, before: &[Lot], account: &Account) -> Result<(), StorageError> {
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let before: HashMap<u64, i64> = before.iter().map(|lot| (lot.seq, lot.remaining)).collect();
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
                                .execute(&mut *conn)
                                .await?;
                        }
                        Some(&remaining) if remaining != lot.remaining => {
                            update_lot(conn, program, customer, lot.seq, lot.remaining).await?;
                        }
                        Some(_) => {}
                    }
                }
                for seq in before.keys().filter(|seq| !after.contains_key(seq)) {
                    update_lot(conn, program, customer, *seq, 0).await?;
                }
                Ok(())
            }

            async fn update_lot(conn: &mut Conn, program: &str, customer: &str, seq: u64, remaining: i64) -> Result<(), StorageError> {
                sqlx::query(UPDATE_LOT).bind(remaining).bind(program).bind(customer).bind(seq_to_db(seq)).execute(&mut *conn).await?;
                Ok(())
            }

            async fn save_order(conn: &mut Conn, write: &LedgerWrite, order: &OrderTotals) -> Result<(), StorageError> {
                let Some(order_id) = write.operation.order_id() else { return Ok(()) };
                sqlx::query(SAVE_ORDER)
                    .bind(&write.program_id)
                    .bind(order_id)
                    .bind(write.customer_id.as_str())
                    .bind(order.earned)
                    .bind(order.taken_back)
                    .bind(order.amount)
                    .bind(order.refunded)
                    .bind(write.now.0)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// What this write changes in the running totals (T1 to T3), and the customer's
            /// new state. SQLite runs one write at a time: it adds to the flows and open points
            /// directly. PostgreSQL writers append their changes instead, sharing no row to wait
            /// for (migration 0011), in the statement that saves the customer (a round trip of
            /// its own cost a tenth of a write). Earnings are appended on both (upserting three
            /// rows per customer, at random pages, cost SQLite's writes a third). The fold adds
            /// them up later.
            async fn save_totals_and_customer(
                conn: &mut Conn,
                write: &LedgerWrite,
                records: &[EntryRecord],
                (lots_before, activity_before): (&[Lot], Option<Timestamp>),
                account: &Account,
            ) -> Result<(), StorageError> {
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let entries = records.iter().map(|record| (record.kind, record.source.as_str(), record.points));
                let (totals, changes) = (slot_totals(entries), open_points_changes(lots_before, activity_before, account));
                let slot = slot_of(write.now).0;
                let earned: i64 =
                    records.iter().filter(|record| record.kind == EntryKind::Earn).map(|record| record.points).sum();
                let mut save = sqlx::QueryBuilder::<$db>::new("");
                if !$appends_changes {
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
                            .execute(&mut *conn)
                            .await?;
                    }
                    if earned != 0 {
                        sqlx::query(APPEND_EARNINGS)
                            .bind(program)
                            .bind(customer)
                            .bind(write.now.0)
                            .bind(earned)
                            .execute(&mut *conn)
                            .await?;
                    }
                    for change in &changes {
                        sqlx::query(ADD_OPEN_POINTS)
                            .bind(program)
                            .bind(change.basis.as_str())
                            .bind(change.slot.0)
                            .bind(change.points)
                            .execute(&mut *conn)
                            .await?;
                    }
                } else if !totals.is_empty() || !changes.is_empty() {
                    save.push("WITH ");
                    if earned != 0 {
                        save.push(
                            "earnings AS (INSERT INTO earning_changes (program_id, customer_id, created_at_ms, earned) ",
                        );
                        save.push("VALUES (").push_bind(program).push(", ").push_bind(customer);
                        save.push(", ").push_bind(write.now.0).push(", ").push_bind(earned).push(")), ");
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
                save.build().execute(&mut *conn).await?;
                Ok(())
            }

            async fn issue_coupon(conn: &mut Conn, write: &LedgerWrite) -> Result<(), StorageError> {
                let Effect::IssueCoupon { coupon, .. } = &write.effect else { return Ok(()) };
                sqlx::query(INSERT_COUPON)
                    .bind(&write.program_id)
                    .bind(&coupon.code)
                    .bind(write.customer_id.as_str())
                    .bind(&coupon.reward_id)
                    .bind(coupon.points)
                    .bind(serde_json::to_string(&coupon.value).expect("coupon values serialise"))
                    .bind(coupon.status.as_str())
                    .bind(coupon.expires_at.0)
                    .bind(coupon.created_at.0)
                    .bind(&coupon.order_id)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            /// The tier from the qualifying total after the write; a change is recorded.
            async fn update_tier(conn: &mut Conn, write: &LedgerWrite, tier_before: &Option<String>) -> Result<Option<TierState>, StorageError> {
                if write.tiers.tiers.is_empty() {
                    return Ok(None);
                }
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let qualifying: i64 = sqlx::query_scalar(qualifying_sql(write.tiers.basis))
                    .bind(program)
                    .bind(customer)
                    .bind(write.tiers.window_start(write.now).0)
                    .fetch_one(&mut *conn)
                    .await?;
                let tier_after = write.tiers.status(qualifying).tier.map(|tier| tier.id);
                let mut change = None;
                if tier_after != *tier_before {
                    sqlx::query(SET_TIER).bind(&tier_after).bind(program).bind(customer).execute(&mut *conn).await?;
                    sqlx::query(RECORD_TIER_CHANGE)
                        .bind(program)
                        .bind(customer)
                        .bind(write.now.0)
                        .bind(tier_before)
                        .bind(&tier_after)
                        .bind(qualifying)
                        .execute(&mut *conn)
                        .await?;
                    change = Some(TierChange {
                        changed_at: write.now,
                        from_tier: tier_before.clone(),
                        to_tier: tier_after.clone(),
                        qualifying,
                    });
                }
                Ok(Some(TierState { qualifying, tier: tier_after, change }))
            }

            /// The upkeep's `tier.at_risk` event: the rolling window takes the customer's tier
            /// within the program's warning days and this episode was not announced yet.
            async fn warn_of_tier_risk(conn: &mut Conn, write: &LedgerWrite, state: Option<&TierState>, result: &WriteResult) -> Result<Option<events::OutboxEvent>, StorageError> {
                let Effect::Upkeep { tier_at_risk_days: days, .. } = write.effect else { return Ok(None) };
                let Some(state) = state.filter(|state| state.tier.is_some()) else { return Ok(None) };
                if write.tiers.window != TierWindow::Rolling12Months {
                    return Ok(None);
                }
                let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
                let leaving: Vec<(i64, i64)> = sqlx::query_as(leaving_sql(write.tiers.basis))
                    .bind(program)
                    .bind(customer)
                    .bind(write.tiers.window_start(write.now).0)
                    .bind(write.tiers.window_start(write.now.plus_days(days)).0)
                    .fetch_all(&mut *conn)
                    .await?;
                let leaving: Vec<_> = leaving.into_iter().map(|(at, amount)| (Timestamp(at), amount)).collect();
                let Some(risk) = write.tiers.at_risk(state.tier.as_deref(), state.qualifying, &leaving, write.now, days) else {
                    sqlx::query(CLEAR_TIER_RISK).bind(program).bind(customer).execute(&mut *conn).await?;
                    return Ok(None);
                };
                let recorded = sqlx::query(RECORD_TIER_RISK)
                    .bind(program)
                    .bind(customer)
                    .bind(&risk.tier.id)
                    .bind(risk.drops_at.0)
                    .bind(write.now.0)
                    .execute(&mut *conn)
                    .await?;
                Ok((recorded.rows_affected() == 1).then(|| events::tier_at_risk(write, &risk, state.qualifying, result)))
            }

            /// The `points.expiring_soon` events of batches not announced before.
            async fn warn_of_expiry(conn: &mut Conn, write: &LedgerWrite, account: &Account, result: &WriteResult) -> Result<Vec<events::OutboxEvent>, StorageError> {
                let Effect::Upkeep { expiry_within_days: within_days, last_chance_days, .. } = write.effect else { return Ok(Vec::new()) };
                let mut warnings = Vec::new();
                for batch in account.expiry_batches(write.now, within_days) {
                    // A batch first seen inside the last-chance window gets one warning, the last.
                    let last_chance = last_chance_days.is_some_and(|days| {
                        batch.expires_at.0.saturating_sub(write.now.0) <= i64::from(days) * 86_400_000
                    });
                    let recorded = sqlx::query(RECORD_EXPIRY_WARNING)
                        .bind(&write.program_id)
                        .bind(write.customer_id.as_str())
                        .bind(batch.expires_at.0)
                        .bind(batch.points)
                        .bind(write.now.0)
                        .bind(last_chance.then_some(write.now.0))
                        .execute(&mut *conn)
                        .await?;
                    let announce = if recorded.rows_affected() == 1 {
                        true
                    } else if last_chance {
                        sqlx::query(RECORD_LAST_CHANCE)
                            .bind(write.now.0)
                            .bind(&write.program_id)
                            .bind(write.customer_id.as_str())
                            .bind(batch.expires_at.0)
                            .execute(&mut *conn)
                            .await?
                            .rows_affected()
                            == 1
                    } else {
                        false
                    };
                    if announce {
                        warnings.push(events::expiring_soon(write, &batch, result, last_chance));
                    }
                }
                Ok(warnings)
            }

            /// Applies one write in the open transaction; anything but `Applied` leaves
            /// changes the caller must roll back.
            pub(super) async fn apply(conn: &mut Conn, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
                let locked = ensure_and_lock(conn, write).await?;
                if let Some(outcome) = check_client_id(conn, write).await? {
                    return Ok(outcome);
                }
                if let Some(refusal) = check_cap(conn, write).await? {
                    return Ok(WriteOutcome::Refused(refusal));
                }
                if let Some(refusal) = check_effect(conn, write).await? {
                    return Ok(WriteOutcome::Refused(refusal));
                }
                import_profile(conn, write).await?;
                let mut account = load_account(conn, write, &locked).await?;
                let mut order = match load_order(conn, write).await? {
                    Ok(order) => order,
                    Err(refusal) => return Ok(WriteOutcome::Refused(refusal)),
                };
                let (lots_before, activity_before) = (account.lots.clone(), account.last_activity_at);
                let new_entries = match write.operation.apply(&mut account, &mut order, write.now, write.clawback) {
                    Ok(entries) => entries,
                    Err(refusal) => return Ok(WriteOutcome::Refused(refusal.into())),
                };
                let consumed: Vec<_> = new_entries.iter().map(|entry| entry.consumed.clone()).collect();
                let records = entry_records(write, new_entries);
                append_entries(conn, write, &records, &consumed).await?;
                save_lots(conn, write, &lots_before, &account).await?;
                save_order(conn, write, &order).await?;
                save_totals_and_customer(conn, write, &records, (&lots_before, activity_before), &account).await?;
                issue_coupon(conn, write).await?;
                let tier = update_tier(conn, write, &locked.tier).await?;
                let coupon = match &write.effect {
                    Effect::IssueCoupon { coupon, .. } => Some(coupon.clone()),
                    _ => None,
                };
                let result = WriteResult {
                    customer_id: write.customer_id.as_str().to_owned(),
                    entries: records,
                    available: account.available(write.now),
                    pending: account.pending(write.now),
                    coupon,
                    released_coupons: Vec::new(),
                };
                let tier_change = tier.as_ref().and_then(|tier| tier.change.as_ref());
                let mut events = events::of_ledger_write(write, &result, locked.created, tier_change);
                events.extend(warn_of_expiry(conn, write, &account, &result).await?);
                events.extend(warn_of_tier_risk(conn, write, tier.as_ref(), &result).await?);
                insert_events!($db, &mut *conn, &events);
                Ok(WriteOutcome::Applied(result))
            }

            /// Stores the result under the write's client id (returned again on a replay) and
            /// the audit entry.
            async fn save_result(conn: &mut Conn, write: &LedgerWrite, result: &WriteResult) -> Result<(), StorageError> {
                if let Some(client) = &write.client_id {
                    let response = serde_json::to_string(result).expect("results serialise");
                    sqlx::query(SAVE_CLIENT_ID)
                        .bind(&write.program_id)
                        .bind(client.kind)
                        .bind(&client.id)
                        .bind(&client.request_hash)
                        .bind(response)
                        .bind(write.now.0)
                        .execute(&mut *conn)
                        .await?;
                }
                if let Some(entry) = &write.audit {
                    // The after-state of an audited ledger write includes the balance it left.
                    let mut entry = entry.clone();
                    if let Some(serde_json::Value::Object(fields)) = &mut entry.after {
                        fields.insert("available".into(), result.available.into());
                    }
                    insert_audit!(&mut *conn, &entry);
                }
                Ok(())
            }

            /// Each follow-up in a savepoint of its own: refused or replayed, it is undone alone.
            /// Returns the coupons released on the way.
            pub(super) async fn follow_ups(
                conn: &mut Conn,
                program_id: &str,
                now: Timestamp,
                follow_ups: &[FollowUp],
            ) -> Result<Vec<String>, StorageError> {
                let mut released = Vec::new();
                for follow_up in follow_ups {
                    match follow_up {
                        FollowUp::Write(next) => {
                            let mut savepoint = sqlx::Connection::begin(&mut *conn).await?;
                            match apply(&mut savepoint, next).await? {
                                WriteOutcome::Applied(next_result) => {
                                    save_result(&mut savepoint, next, &next_result).await?;
                                    savepoint.commit().await?;
                                    if let Effect::ReleaseUsedCoupon { code } = &next.effect {
                                        released.push(code.clone());
                                    }
                                }
                                _ => savepoint.rollback().await?,
                            }
                        }
                        FollowUp::MarkReferralRewarded { referred } => {
                            sqlx::query(MARK_REFERRAL_REWARDED)
                                .bind(now.0)
                                .bind(program_id)
                                .bind(referred.as_str())
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                }
                Ok(released)
            }

            /// The whole write: applied with its follow-ups, result and audit, then committed;
            /// anything else rolled back.
            pub(super) async fn write(conn: &mut Conn, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
                let outcome = apply(conn, write).await?;
                let WriteOutcome::Applied(mut result) = outcome else { return Ok(outcome) };
                result.released_coupons = follow_ups(conn, &write.program_id, write.now, &write.follow_ups).await?;
                save_result(conn, write, &result).await?;
                Ok(WriteOutcome::Applied(result))
            }
        }
    };
}

ledger_steps!(sqlite, sqlx::SqliteConnection, sqlx::Sqlite, LOCK_CUSTOMER_SQLITE, false);
ledger_steps!(postgres, sqlx::PgConnection, sqlx::Postgres, LOCK_CUSTOMER_POSTGRES, true);

#[async_trait]
impl LedgerStore for SqlStorage {
    async fn write_ledger(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_write(write).await {
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
                    return match replay_or_conflict(stored, &client.request_hash)? {
                        Some(outcome) => Ok(outcome),
                        None => Err(StorageError::Query(sqlx::Error::Database(error))),
                    };
                }
                Err(StorageError::Query(sqlx::Error::Database(error)))
                    if error.code().as_deref() == Some("40P01") && attempt <= DEADLOCK_RETRIES =>
                {
                    tracing::warn!(attempt, "ledger write deadlocked with another; running it again");
                }
                other => return other,
            }
        }
    }

    async fn write_ledger_batch(&self, writes: &[LedgerWrite]) -> Result<Vec<WriteOutcome>, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        self.try_write_batch(writes).await
    }
}

impl SqlStorage {
    async fn try_write_batch(&self, writes: &[LedgerWrite]) -> Result<Vec<WriteOutcome>, StorageError> {
        let mut outcomes = Vec::with_capacity(writes.len());
        macro_rules! each_in_a_savepoint {
            ($tx:expr, $module:ident) => {
                for write in writes {
                    let mut savepoint = sqlx::Connection::begin(&mut *$tx).await?;
                    let outcome = $module::write(&mut savepoint, write).await?;
                    if matches!(outcome, WriteOutcome::Applied(_)) {
                        savepoint.commit().await?;
                    } else {
                        savepoint.rollback().await?;
                    }
                    outcomes.push(outcome);
                }
            };
        }
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin_with(BEGIN_SQLITE).await?;
                each_in_a_savepoint!(tx, sqlite);
                tx.commit().await?;
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin_with(BEGIN_POSTGRES).await?;
                each_in_a_savepoint!(tx, postgres);
                tx.commit().await?;
            }
        }
        Ok(outcomes)
    }

    async fn try_write(&self, write: &LedgerWrite) -> Result<WriteOutcome, StorageError> {
        match &self.pool {
            Pool::Sqlite(pool) => {
                let mut tx = pool.begin_with(BEGIN_SQLITE).await?;
                let outcome = sqlite::write(&mut tx, write).await?;
                finish(tx, outcome).await
            }
            Pool::Postgres(pool) => {
                let mut tx = pool.begin_with(BEGIN_POSTGRES).await?;
                let outcome = postgres::write(&mut tx, write).await?;
                finish(tx, outcome).await
            }
        }
    }
}

/// Commits an applied write; rolls back anything else.
async fn finish<DB: sqlx::Database>(
    tx: sqlx::Transaction<'_, DB>,
    outcome: WriteOutcome,
) -> Result<WriteOutcome, StorageError> {
    if matches!(outcome, WriteOutcome::Applied(_)) {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(outcome)
}

/// Decides a held referral (`WHERE status = 'held'`: a referral decided meanwhile is left alone).
const DECIDE_REFERRAL: &str = "UPDATE referrals SET status = $1, reviewed_at_ms = $2, reviewed_by = $3
     WHERE program_id = $4 AND referred_id = $5 AND status = 'held'";

impl SqlStorage {
    /// A held referral decided: its status, the audit entry and (approved) its awards, in one
    /// transaction; `false` when it was no longer held.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn decide_referral(
        &self,
        program_id: &str,
        referred: &crate::customers::CustomerId,
        status: crate::referrals::ReferralStatus,
        now: Timestamp,
        audit: &crate::console_users::AuditEntry,
        awards: &[FollowUp],
    ) -> Result<bool, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        macro_rules! decide {
            ($pool:expr, $begin:expr, $module:ident) => {{
                let mut tx = $pool.begin_with($begin).await?;
                let decided = sqlx::query(DECIDE_REFERRAL)
                    .bind(status.as_str())
                    .bind(now.0)
                    .bind(&audit.user_email)
                    .bind(program_id)
                    .bind(referred.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    == 1;
                if !decided {
                    tx.rollback().await?;
                    return Ok(false);
                }
                insert_audit!(&mut *tx, audit);
                $module::follow_ups(&mut tx, program_id, now, awards).await?;
                tx.commit().await?;
                Ok(true)
            }};
        }
        match &self.pool {
            Pool::Sqlite(pool) => decide!(pool, BEGIN_SQLITE, sqlite),
            Pool::Postgres(pool) => decide!(pool, BEGIN_POSTGRES, postgres),
        }
    }
}
