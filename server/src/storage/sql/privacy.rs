//! Erasure: a customer's rows moved to a pseudonym, personal fields emptied (see
//! [`PrivacyStore`]).

use async_trait::async_trait;

use super::{console_users::commit_audited, on_pool, Dialect, Pool, SqlStorage};
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::Timestamp,
    storage::{privacy::Pruned, Erasure, PrivacyStore, StorageError},
};

/// The customer's row again under the pseudonym, without its personal fields (`$1` program,
/// `$2` id, `$3` pseudonym, `$4` now). Balances, tier and history counters stay.
const COPY_CUSTOMER: &str = "INSERT INTO customers
         (program_id, customer_id, email, name, birthday, tags, created_at_ms, updated_at_ms, last_seq, debt,
          last_activity_at_ms, tier_id, held, search_text)
     SELECT program_id, $3, NULL, NULL, NULL, '[]', created_at_ms, $4, last_seq, debt, last_activity_at_ms, tier_id,
            held, NULL
     FROM customers WHERE program_id = $1 AND customer_id = $2";

/// Every other row stored under the customer's id, moved to the pseudonym (`$1` program,
/// `$2` id, `$3` pseudonym).
const MOVE_ROWS: [&str; 18] = [
    "UPDATE ledger_entries SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE ledger_consumptions SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE lots SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE orders SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE coupons SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE tier_changes SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE expiry_warnings SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE tier_risk_warnings SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    // The log keeps that a message went out, not to whom.
    "UPDATE email_messages SET customer_id = $3, to_address = NULL WHERE program_id = $1 AND customer_id = $2",
    "UPDATE customer_earnings SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE earning_changes SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE customer_day_earnings SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    // Who referred whom stays (the referrer's points came from it); where the claim came from goes.
    "UPDATE referrals SET referred_id = $3, address_hash = NULL, device_hash = NULL
     WHERE program_id = $1 AND referred_id = $2",
    "UPDATE referrals SET referrer_id = $3 WHERE program_id = $1 AND referrer_id = $2",
    // The erased customer's links stop naming anyone.
    "DELETE FROM referral_codes WHERE program_id = $1 AND customer_id IN ($2, $3)",
    "UPDATE outbox_events SET customer_id = $3 WHERE program_id = $1 AND customer_id = $2",
    "UPDATE webhook_deliveries SET customer_id = $3
     WHERE customer_id = $2 AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE program_id = $1)",
    "UPDATE audit_log SET target = $3 WHERE program_id = $1 AND target = $2",
];

/// The customer's events (moved to `$4`, the pseudonym) quote the id (`$2`, as a JSON string):
/// the pseudonym's (`$3`) instead.
const REWRITE_EVENTS: &str =
    "UPDATE outbox_events SET payload = REPLACE(payload, $2, $3) WHERE program_id = $1 AND customer_id = $4";

/// Other stored JSON that quotes the id (`$2`) gets the pseudonym's (`$3`) instead.
const REWRITE_QUOTES: [&str; 3] = [
    "UPDATE idempotency_keys SET response = REPLACE(response, $2, $3)
     WHERE program_id = $1 AND response <> REPLACE(response, $2, $3)",
    "UPDATE audit_log SET before_json = REPLACE(before_json, $2, $3)
     WHERE program_id = $1 AND before_json <> REPLACE(before_json, $2, $3)",
    "UPDATE audit_log SET after_json = REPLACE(after_json, $2, $3)
     WHERE program_id = $1 AND after_json <> REPLACE(after_json, $2, $3)",
];

const DELETE_CUSTOMER: &str = "DELETE FROM customers WHERE program_id = $1 AND customer_id = $2";
const RECORD: &str =
    "INSERT INTO customer_erasures (program_id, subject_hash, pseudonym, erased_at_ms) VALUES ($1, $2, $3, $4)";
const EARLIER: &str = "SELECT pseudonym, erased_at_ms FROM customer_erasures
     WHERE program_id = $1 AND subject_hash = $2 ORDER BY erased_at_ms DESC LIMIT 1";
const NEW_EPOCH: &str = "UPDATE programs SET report_epoch = report_epoch + 1 WHERE id = $1";
const LOCK_SQLITE: &str = "SELECT 1 FROM customers WHERE program_id = $1 AND customer_id = $2";
const LOCK_POSTGRES: &str = "SELECT 1 FROM customers WHERE program_id = $1 AND customer_id = $2 FOR UPDATE";

/// `text` as a JSON string literal, quotes included: how stored JSON quotes an id.
fn json_quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

/// Retention (`$1` the cutoff): each statement one kind of record.
const PRUNE_IDEMPOTENCY: &str = "DELETE FROM idempotency_keys WHERE created_at_ms < $1";
const PRUNE_SESSIONS: &str = "DELETE FROM console_sessions WHERE expires_at_ms < $1";
const PRUNE_INBOX: &str =
    "DELETE FROM inbox_deliveries WHERE status <> 'pending' AND COALESCE(processed_at_ms, received_at_ms) < $1";
const PRUNE_DELIVERIES: &str = "DELETE FROM webhook_deliveries
     WHERE status <> 'pending' AND COALESCE(delivered_at_ms, last_attempt_at_ms, created_at_ms) < $1";
const PRUNE_EVENTS: &str = "DELETE FROM outbox_events WHERE relayed_at_ms < $1
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = outbox_events.event_id)";
const PRUNE_EXPIRY_WARNINGS: &str = "DELETE FROM expiry_warnings WHERE expires_at_ms < $1";
const PRUNE_EMAILS: &str =
    "DELETE FROM email_messages WHERE status <> 'pending' AND COALESCE(sent_at_ms, created_at_ms) < $1";

#[async_trait]
impl PrivacyStore for SqlStorage {
    async fn prune(&self, cutoff: Timestamp, now: Timestamp) -> Result<Pruned, StorageError> {
        let run = |sql: &'static str, at: Timestamp| async move {
            Ok::<u64, StorageError>(on_pool!(self, |pool| sqlx::query(sql)
                .bind(at.0)
                .execute(pool)
                .await?
                .rows_affected()))
        };
        Ok(Pruned {
            idempotency_keys: run(PRUNE_IDEMPOTENCY, cutoff).await?,
            sessions: run(PRUNE_SESSIONS, now).await?,
            store_deliveries: run(PRUNE_INBOX, cutoff).await?,
            webhook_deliveries: run(PRUNE_DELIVERIES, cutoff).await?,
            events: run(PRUNE_EVENTS, cutoff).await?,
            expiry_warnings: run(PRUNE_EXPIRY_WARNINGS, cutoff).await?,
            emails: run(PRUNE_EMAILS, cutoff).await?,
        })
    }

    async fn erase_customer(
        &self,
        program_id: &str,
        customer: &CustomerId,
        pseudonym: &str,
        subject_hash: &str,
        now: Timestamp,
        audit: Option<&AuditEntry>,
    ) -> Result<Option<Erasure>, StorageError> {
        let id = customer.as_str();
        let (quoted_id, quoted_pseudonym) = (json_quoted(id), json_quoted(pseudonym));
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick("BEGIN IMMEDIATE", "BEGIN")).await?;
            let found: Option<i32> = sqlx::query_scalar(dialect.pick(LOCK_SQLITE, LOCK_POSTGRES))
                .bind(program_id)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                let earlier: Option<(String, i64)> =
                    sqlx::query_as(EARLIER).bind(program_id).bind(subject_hash).fetch_optional(&mut *tx).await?;
                tx.rollback().await?;
                return Ok(earlier.map(|(pseudonym, at)| Erasure {
                    pseudonym,
                    erased_at: Timestamp(at),
                    replayed: true,
                }));
            }
            sqlx::query(COPY_CUSTOMER).bind(program_id).bind(id).bind(pseudonym).bind(now.0).execute(&mut *tx).await?;
            for sql in MOVE_ROWS {
                sqlx::query(sql).bind(program_id).bind(id).bind(pseudonym).execute(&mut *tx).await?;
            }
            sqlx::query(REWRITE_EVENTS)
                .bind(program_id)
                .bind(&quoted_id)
                .bind(&quoted_pseudonym)
                .bind(pseudonym)
                .execute(&mut *tx)
                .await?;
            for sql in REWRITE_QUOTES {
                sqlx::query(sql).bind(program_id).bind(&quoted_id).bind(&quoted_pseudonym).execute(&mut *tx).await?;
            }
            sqlx::query(DELETE_CUSTOMER).bind(program_id).bind(id).execute(&mut *tx).await?;
            sqlx::query(RECORD)
                .bind(program_id)
                .bind(subject_hash)
                .bind(pseudonym)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            sqlx::query(NEW_EPOCH).bind(program_id).execute(&mut *tx).await?;
            commit_audited!(tx, audit);
        });
        Ok(Some(Erasure { pseudonym: pseudonym.to_owned(), erased_at: now, replayed: false }))
    }
}
