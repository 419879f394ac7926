//! Emails to customers: planned in the outbox relay's transaction, leased and recorded by the
//! email worker, listed as the delivery log.

use async_trait::async_trait;

use super::{json_from_db, on_pool, Dialect, Pool, SqlStorage};
use crate::{
    ledger::Timestamp,
    notifications::MessageKind,
    storage::{DueEmail, EmailOutcome, EmailRecord, EmailStatus, EmailStore, StorageError},
};

pub(super) const PROGRAM_SETTINGS: &str = "SELECT settings FROM programs WHERE id = $1";
pub(super) const CUSTOMER_TIER: &str = "SELECT tier_id FROM customers WHERE program_id = $1 AND customer_id = $2";
/// A message once per customer and fact.
pub(super) const PLAN_ONCE: &str = "INSERT INTO email_messages
         (message_id, program_id, customer_id, kind, dedupe_key, data, points, status, attempts, send_after_ms,
          created_at_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9)
     ON CONFLICT (program_id, customer_id, kind, dedupe_key) DO NOTHING";
/// Points join the customer's pending message of a kind that is not being sent.
pub(super) const GATHER: &str = "UPDATE email_messages SET points = points + $1
     WHERE program_id = $2 AND customer_id = $3 AND kind = $4 AND status = 'pending' AND lease_until_ms IS NULL";
pub(super) const LAST_OF_KIND: &str = "SELECT MAX(send_after_ms) FROM email_messages
     WHERE program_id = $1 AND customer_id = $2 AND kind = $3";

const CLAIM_SQLITE: &str = "UPDATE email_messages SET lease_until_ms = $1
     WHERE id IN (SELECT id FROM email_messages
         WHERE status = 'pending' AND send_after_ms <= $2 AND (lease_until_ms IS NULL OR lease_until_ms < $2)
         ORDER BY send_after_ms, id LIMIT $3)
     RETURNING id, message_id, program_id, customer_id, kind, data, points, attempts, send_after_ms";
const CLAIM_POSTGRES: &str = "UPDATE email_messages SET lease_until_ms = $1
     WHERE id IN (SELECT id FROM email_messages
         WHERE status = 'pending' AND send_after_ms <= $2 AND (lease_until_ms IS NULL OR lease_until_ms < $2)
         ORDER BY send_after_ms, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, message_id, program_id, customer_id, kind, data, points, attempts, send_after_ms";
const RECORD: &str = "UPDATE email_messages SET status = $1, attempts = attempts + $2,
         send_after_ms = COALESCE($3, send_after_ms), lease_until_ms = NULL, sent_at_ms = $4,
         to_address = COALESCE($5, to_address), language = COALESCE($6, language),
         subject = COALESCE($7, subject), last_error = $8
     WHERE id = $9";
const LOG: &str = "SELECT id, message_id, customer_id, kind, status, attempts, created_at_ms, send_after_ms,
         sent_at_ms, to_address, language, subject, last_error, points
     FROM email_messages
     WHERE program_id = $1 AND ($2 IS NULL OR customer_id = $2) AND id < $3
     ORDER BY id DESC LIMIT $4";
const UNSUBSCRIBE: &str = "UPDATE customers SET unsubscribed_at_ms = COALESCE(unsubscribed_at_ms, $1)
     WHERE program_id = $2 AND customer_id = $3";
const UNSUBSCRIBED_AT: &str = "SELECT unsubscribed_at_ms FROM customers WHERE program_id = $1 AND customer_id = $2";

/// Plans the messages of one relayed event (`$payload`, as stored) through `$conn` (the
/// relay's transaction): `$programs` caches each program's planning inputs for the pass
/// (`None`: it sends no email).
macro_rules! plan_emails {
    ($conn:expr, $programs:expr, $now:expr, $event_id:expr, $program_id:expr, $customer_id:expr,
     $event_type:expr, $created_at:expr, $payload:expr) => {{
        let (program_id, customer_id): (&String, &String) = ($program_id, $customer_id);
        if !$programs.contains_key(program_id) {
            let settings: Option<String> = sqlx::query_scalar(super::emails::PROGRAM_SETTINGS)
                .bind(program_id)
                .fetch_optional(&mut *$conn)
                .await?;
            let settings: Option<crate::programs::ProgramSettings> =
                settings.map(|text| super::json_from_db("program settings", &text)).transpose()?;
            let planning = match settings {
                Some(settings) if settings.notifications.sender_address.is_some() => {
                    let rows: Vec<super::rewards::RewardRow> =
                        sqlx::query_as(super::rewards::REWARDS_OF).bind(program_id).fetch_all(&mut *$conn).await?;
                    let rewards =
                        rows.into_iter().map(super::rewards::RewardRow::into_reward).collect::<Result<Vec<_>, _>>()?;
                    Some((settings, rewards))
                }
                _ => None,
            };
            $programs.insert(program_id.clone(), planning);
        }
        if let Some((settings, rewards)) = &$programs[program_id] {
            let event: serde_json::Value = super::json_from_db("outbox event", $payload)?;
            let tier: Option<String> = if rewards.is_empty() {
                None
            } else {
                sqlx::query_scalar(super::emails::CUSTOMER_TIER)
                    .bind(program_id)
                    .bind(customer_id)
                    .fetch_optional(&mut *$conn)
                    .await?
                    .flatten()
            };
            let program = crate::notifications::plan::Program {
                settings: &settings.notifications,
                tiers: &settings.tiers,
                rewards,
            };
            let facts = crate::notifications::plan::Event {
                event_id: $event_id,
                event_type: $event_type,
                data: &event["data"],
                created_at: Timestamp($created_at),
                tier: tier.as_deref(),
            };
            for planned in crate::notifications::plan::plan(&program, &facts) {
                use crate::notifications::plan::Planned;
                let (kind, dedupe_key, data, points, gathered_every) = match planned {
                    Planned::Once { kind, dedupe_key, data, points } => (kind, dedupe_key, data, points, None),
                    Planned::Gathered { kind, dedupe_key, data, points, period_ms } => {
                        (kind, dedupe_key, data, points, Some(period_ms))
                    }
                };
                let mut due = $now.0;
                if let Some(period_ms) = gathered_every {
                    let added = sqlx::query(super::emails::GATHER)
                        .bind(points)
                        .bind(program_id)
                        .bind(customer_id)
                        .bind(kind.as_str())
                        .execute(&mut *$conn)
                        .await?
                        .rows_affected();
                    if added > 0 {
                        continue;
                    }
                    let last: Option<i64> = sqlx::query_scalar(super::emails::LAST_OF_KIND)
                        .bind(program_id)
                        .bind(customer_id)
                        .bind(kind.as_str())
                        .fetch_one(&mut *$conn)
                        .await?;
                    // At most one a period: the next is due a period after the last.
                    due = last.map_or(due, |last| due.max(last.saturating_add(period_ms)));
                }
                sqlx::query(super::emails::PLAN_ONCE)
                    .bind(crate::secrets::random_token("msg_", 16))
                    .bind(program_id)
                    .bind(customer_id)
                    .bind(kind.as_str())
                    .bind(dedupe_key)
                    .bind(data.to_string())
                    .bind(points)
                    .bind(due)
                    .bind($now.0)
                    .execute(&mut *$conn)
                    .await?;
            }
        }
    }};
}
pub(super) use plan_emails;

type ClaimedRow = (i64, String, String, String, String, String, i64, i64, i64);
type LogRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

/// The `Message-ID` header of a stored message id: the same on every attempt.
fn message_id_header(message_id: &str) -> String {
    format!("<{message_id}@tally>")
}

fn kind_from_db(kind: &str) -> Result<MessageKind, StorageError> {
    MessageKind::parse(kind).ok_or_else(|| StorageError::Corrupt(format!("email kind {kind:?}")))
}

#[async_trait]
impl EmailStore for SqlStorage {
    async fn claim_emails(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueEmail>, StorageError> {
        let rows: Vec<ClaimedRow> = {
            let _one_writer = self.sqlite_turn().await;
            on_pool!(self, |pool, dialect| sqlx::query_as(dialect.pick(CLAIM_SQLITE, CLAIM_POSTGRES))
                .bind(lease_until.0)
                .bind(now.0)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?)
        };
        let mut due: Vec<DueEmail> = rows
            .into_iter()
            .map(|(id, message_id, program_id, customer_id, kind, data, points, attempts, due_at)| {
                Ok(DueEmail {
                    id,
                    message_id: message_id_header(&message_id),
                    program_id,
                    customer_id,
                    kind: kind_from_db(&kind)?,
                    data: json_from_db("email data", &data)?,
                    points,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    due_at: Timestamp(due_at),
                })
            })
            .collect::<Result<_, StorageError>>()?;
        due.sort_by_key(|email| email.id);
        Ok(due)
    }

    async fn record_emails(&self, outcomes: &[(i64, EmailOutcome)]) -> Result<(), StorageError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (id, outcome) in outcomes {
                let tried = i64::from(outcome.status != EmailStatus::Suppressed);
                sqlx::query(RECORD)
                    .bind(outcome.status.as_str())
                    .bind(tried)
                    .bind(outcome.retry_at.map(|at| at.0))
                    .bind((outcome.status == EmailStatus::Sent).then_some(outcome.at.0))
                    .bind(&outcome.to_address)
                    .bind(&outcome.language)
                    .bind(&outcome.subject)
                    .bind(&outcome.error)
                    .bind(*id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    async fn emails(
        &self,
        program_id: &str,
        customer_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<EmailRecord>, StorageError> {
        let rows: Vec<LogRow> = on_pool!(self, |pool| sqlx::query_as(LOG)
            .bind(program_id)
            .bind(customer_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter()
            .map(|row| {
                let (
                    id,
                    message_id,
                    customer_id,
                    kind,
                    status,
                    attempts,
                    created,
                    due,
                    sent,
                    to,
                    language,
                    subject,
                    error,
                    points,
                ) = row;
                Ok(EmailRecord {
                    id,
                    message_id: message_id_header(&message_id),
                    customer_id,
                    kind: kind_from_db(&kind)?,
                    status: EmailStatus::parse(&status)
                        .ok_or_else(|| StorageError::Corrupt(format!("email status {status:?}")))?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    created_at: Timestamp(created),
                    send_after: Timestamp(due),
                    sent_at: sent.map(Timestamp),
                    to_address: to,
                    language,
                    subject,
                    last_error: error,
                    points,
                })
            })
            .collect()
    }

    async fn unsubscribe(&self, program_id: &str, customer_id: &str, now: Timestamp) -> Result<bool, StorageError> {
        let _one_writer = self.sqlite_turn().await;
        let changed = on_pool!(self, |pool| sqlx::query(UNSUBSCRIBE)
            .bind(now.0)
            .bind(program_id)
            .bind(customer_id)
            .execute(pool)
            .await?
            .rows_affected());
        Ok(changed == 1)
    }

    async fn email_counts(&self, program_id: &str) -> Result<Vec<(EmailStatus, u64)>, StorageError> {
        const COUNTS: &str = "SELECT status, COUNT(*) FROM email_messages WHERE program_id = $1 GROUP BY status";
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool| sqlx::query_as(COUNTS).bind(program_id).fetch_all(pool).await?);
        rows.into_iter()
            .map(|(status, count)| {
                let status = EmailStatus::parse(&status)
                    .ok_or_else(|| StorageError::Corrupt(format!("email status {status:?}")))?;
                Ok((status, u64::try_from(count).unwrap_or(0)))
            })
            .collect()
    }

    async fn unsubscribed_at(&self, program_id: &str, customer_id: &str) -> Result<Option<Timestamp>, StorageError> {
        let at: Option<Option<i64>> = on_pool!(self, |pool| sqlx::query_scalar(UNSUBSCRIBED_AT)
            .bind(program_id)
            .bind(customer_id)
            .fetch_optional(pool)
            .await?);
        Ok(at.flatten().map(Timestamp))
    }
}
