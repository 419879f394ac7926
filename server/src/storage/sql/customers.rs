//! Customers, their ledger state and their entries.

use super::{json_from_db, on_pool, outbox::insert_events, seq_from_db, Dialect, Pool, SqlStorage};
use crate::{
    connections::events,
    customers::{search_text, CustomerId, CustomerProfile},
    ledger::{Account, EntryKind, ExpiryPolicy, Lot, Timestamp},
    storage::{
        CustomerListing, CustomerRecord, CustomerSearch, CustomerSort, CustomerStore, EntryRecord, StorageError,
        TierChange,
    },
    tiers::TierBasis,
};
use async_trait::async_trait;

#[derive(sqlx::FromRow)]
struct CustomerRow {
    email: Option<String>,
    name: Option<String>,
    birthday: Option<String>,
    tags: String,
    language: Option<String>,
    marketing_consent: Option<bool>,
    created_at_ms: i64,
    last_seq: i64,
    debt: i64,
    last_activity_at_ms: Option<i64>,
    tier_id: Option<String>,
}

impl CustomerRow {
    fn profile(&self) -> Result<CustomerProfile, StorageError> {
        Ok(CustomerProfile {
            email: self.email.clone(),
            name: self.name.clone(),
            birthday: self.birthday.clone(),
            tags: json_from_db("customer tags", &self.tags)?,
            language: self.language.clone(),
            marketing_consent: self.marketing_consent,
        })
    }

    fn account(&self, lots: Vec<LotRow>, expiry: ExpiryPolicy) -> Result<Account, StorageError> {
        Ok(Account {
            last_seq: seq_from_db(self.last_seq)?,
            lots: lots.into_iter().map(LotRow::into_lot).collect::<Result<_, _>>()?,
            debt: self.debt,
            last_activity_at: self.last_activity_at_ms.map(Timestamp),
            expiry,
        })
    }
}

/// A customer of a search page.
#[derive(sqlx::FromRow)]
struct ListingRow {
    customer_id: String,
    #[sqlx(flatten)]
    customer: CustomerRow,
}

/// A lot of one of the customers of a search page.
#[derive(sqlx::FromRow)]
struct ListingLotRow {
    customer_id: String,
    #[sqlx(flatten)]
    lot: LotRow,
}

/// The customers a search matches: `$1` program, `$2` the text as typed (an exact id), `$3` a
/// lower-case LIKE pattern (email or name contain it); an empty `$2` matches everyone.
macro_rules! matching_customers {
    () => {
        "program_id = $1 AND ($2 = '' OR customer_id = $2 OR search_text LIKE $3 ESCAPE '\\')"
    };
}

/// The page query and the query of its customers' open lots, for one order (`$4` limit,
/// `$5` offset). Written out per order: the ORDER BY is never built from input.
macro_rules! customer_page_sql {
    ($order:literal) => {
        (
            concat!(
                "SELECT customer_id, email, name, birthday, tags, language, marketing_consent, created_at_ms, last_seq, debt,
                     last_activity_at_ms, tier_id
                 FROM customers WHERE ",
                matching_customers!(),
                " ORDER BY ",
                $order,
                " LIMIT $4 OFFSET $5"
            ),
            concat!(
                "SELECT customer_id, seq, order_id, earned_at_ms, available_at_ms, remaining FROM lots
                 WHERE program_id = $1 AND remaining > 0 AND customer_id IN (SELECT customer_id FROM customers WHERE ",
                matching_customers!(),
                " ORDER BY ",
                $order,
                " LIMIT $4 OFFSET $5) ORDER BY customer_id, available_at_ms, seq"
            ),
        )
    };
}

fn customer_page_sql(sort: CustomerSort) -> (&'static str, &'static str) {
    match sort {
        CustomerSort::Joined => customer_page_sql!("created_at_ms DESC, customer_id"),
        CustomerSort::Id => customer_page_sql!("customer_id"),
        // Customers without a name or email come last on both databases.
        CustomerSort::Name => customer_page_sql!("(name IS NULL), name, customer_id"),
        CustomerSort::Email => customer_page_sql!("(email IS NULL), email, customer_id"),
        CustomerSort::Activity => {
            customer_page_sql!("(last_activity_at_ms IS NULL), last_activity_at_ms DESC, customer_id")
        }
        CustomerSort::Points => customer_page_sql!("held DESC, customer_id"),
    }
}

impl SqlStorage {
    /// Fills in the search text of the customers saved before it existed (migration 0012), a
    /// page at a time; a no-op once done. A profile saved meanwhile keeps its own.
    pub(super) async fn fill_search_texts(&self) -> Result<(), StorageError> {
        const PAGE: &str = "SELECT program_id, customer_id, email, name FROM customers
             WHERE search_text IS NULL AND (program_id > $1 OR (program_id = $1 AND customer_id > $2))
             ORDER BY program_id, customer_id LIMIT 500";
        const FILL: &str = "UPDATE customers SET search_text = $3
             WHERE program_id = $1 AND customer_id = $2 AND search_text IS NULL";
        let _one_writer = self.sqlite_turn().await;
        let mut after = (String::new(), String::new());
        loop {
            let rows: Vec<(String, String, Option<String>, Option<String>)> =
                on_pool!(self, |pool| sqlx::query_as(PAGE).bind(&after.0).bind(&after.1).fetch_all(pool).await?);
            let Some(last) = rows.last() else { return Ok(()) };
            after = (last.0.clone(), last.1.clone());
            on_pool!(self, |pool| {
                let mut tx = pool.begin().await?;
                for (program, customer, email, name) in &rows {
                    sqlx::query(FILL)
                        .bind(program)
                        .bind(customer)
                        .bind(search_text(email.as_deref(), name.as_deref()))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            });
        }
    }
}

/// `text` as a LIKE pattern matching any value that contains it, wildcards escaped.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[derive(sqlx::FromRow)]
pub(super) struct LotRow {
    seq: i64,
    order_id: Option<String>,
    earned_at_ms: i64,
    available_at_ms: i64,
    remaining: i64,
}

impl LotRow {
    pub(super) fn into_lot(self) -> Result<Lot, StorageError> {
        Ok(Lot {
            seq: seq_from_db(self.seq)?,
            order_id: self.order_id,
            earned_at: Timestamp(self.earned_at_ms),
            available_at: Timestamp(self.available_at_ms),
            remaining: self.remaining,
        })
    }
}

/// Open lots, oldest first, as the ledger core expects them.
pub(super) const OPEN_LOTS: &str = "SELECT seq, order_id, earned_at_ms, available_at_ms, remaining FROM lots
     WHERE program_id = $1 AND customer_id = $2 AND remaining > 0 ORDER BY available_at_ms, seq";

/// An [`EntryRecord`]'s columns of `ledger_entries` (a customer's entries, the program's history).
#[derive(sqlx::FromRow)]
pub(super) struct EntryRow {
    customer_id: String,
    seq: i64,
    kind: String,
    points: i64,
    source: String,
    reference: Option<String>,
    order_id: Option<String>,
    available_at_ms: i64,
    created_at_ms: i64,
    balance_after: i64,
    shortfall: i64,
    rule_snapshot: Option<String>,
    client_id: String,
}

impl EntryRow {
    pub(super) fn into_record(self) -> Result<EntryRecord, StorageError> {
        Ok(EntryRecord {
            customer_id: self.customer_id,
            seq: seq_from_db(self.seq)?,
            kind: EntryKind::parse(&self.kind)
                .ok_or_else(|| StorageError::Corrupt(format!("entry kind {:?}", self.kind)))?,
            points: self.points,
            source: self.source,
            reference: self.reference,
            order_id: self.order_id,
            available_at: Timestamp(self.available_at_ms),
            created_at: Timestamp(self.created_at_ms),
            balance_after: self.balance_after,
            shortfall: self.shortfall,
            rule_snapshot: self.rule_snapshot.as_deref().map(|text| json_from_db("rule snapshot", text)).transpose()?,
            client_id: self.client_id,
        })
    }
}

/// The query of a tier qualifying total: `$1` program, `$2` customer, `$3` window start (ms).
pub(super) fn qualifying_sql(basis: TierBasis) -> &'static str {
    match basis {
        TierBasis::PointsEarned => {
            "SELECT CAST(COALESCE((SELECT SUM(points) FROM ledger_entries
                 WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3
                   AND (kind = 'earn' OR (kind IN ('reverse', 'void') AND order_id IS NOT NULL))), 0)
               + COALESCE((SELECT imported_qualifying FROM customers
                 WHERE program_id = $1 AND customer_id = $2 AND imported_qualifying_at_ms >= $3), 0) AS BIGINT)"
        }
        TierBasis::AmountSpent => {
            "SELECT CAST(COALESCE((SELECT SUM(amount - refunded) FROM orders
                 WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3), 0)
               + COALESCE((SELECT imported_qualifying FROM customers
                 WHERE program_id = $1 AND customer_id = $2 AND imported_qualifying_at_ms >= $3), 0) AS BIGINT)"
        }
    }
}

/// A customer's qualifying activity from `$3` until before `$4` (moment, amount), oldest first:
/// what leaves a rolling window between two moments.
pub(super) fn leaving_sql(basis: TierBasis) -> &'static str {
    match basis {
        TierBasis::PointsEarned => {
            "SELECT created_at_ms, points FROM ledger_entries
             WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3 AND created_at_ms < $4
               AND (kind = 'earn' OR (kind IN ('reverse', 'void') AND order_id IS NOT NULL))
             UNION ALL
             SELECT imported_qualifying_at_ms, imported_qualifying FROM customers
             WHERE program_id = $1 AND customer_id = $2 AND imported_qualifying_at_ms >= $3
               AND imported_qualifying_at_ms < $4
             ORDER BY 1"
        }
        TierBasis::AmountSpent => {
            "SELECT created_at_ms, amount - refunded FROM orders
             WHERE program_id = $1 AND customer_id = $2 AND created_at_ms >= $3 AND created_at_ms < $4
             UNION ALL
             SELECT imported_qualifying_at_ms, imported_qualifying FROM customers
             WHERE program_id = $1 AND customer_id = $2 AND imported_qualifying_at_ms >= $3
               AND imported_qualifying_at_ms < $4
             ORDER BY 1"
        }
    }
}

#[async_trait]
impl CustomerStore for SqlStorage {
    async fn order_customer(&self, program_id: &str, order_id: &str) -> Result<Option<String>, StorageError> {
        const SQL: &str = "SELECT customer_id FROM orders WHERE program_id = $1 AND order_id = $2";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL).bind(program_id).bind(order_id).fetch_optional(pool).await?))
    }

    async fn order_count(&self, program_id: &str, customer_id: &CustomerId) -> Result<u64, StorageError> {
        const SQL: &str = "SELECT COUNT(*) FROM orders WHERE program_id = $1 AND customer_id = $2";
        let count: i64 = on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .fetch_one(pool)
            .await?);
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn upsert_customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        profile: &CustomerProfile,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        // A new customer is inserted (and told to the outbox in the same transaction); a known
        // one updated.
        const INSERT: &str = "INSERT INTO customers
                 (program_id, customer_id, email, name, birthday, tags, created_at_ms, updated_at_ms, search_text,
                  language, marketing_consent)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) ON CONFLICT (program_id, customer_id) DO NOTHING";
        // A language or consent left out keeps what was known (a store's order webhook carries
        // neither).
        const UPDATE: &str = "UPDATE customers SET email = $3, name = $4, birthday = $5, tags = $6,
                 updated_at_ms = $7, search_text = $8, language = COALESCE($9, language),
                 marketing_consent = COALESCE($10, marketing_consent)
             WHERE program_id = $1 AND customer_id = $2";
        let tags = serde_json::to_string(&profile.tags).expect("tags serialise");
        let _one_writer = self.sqlite_turn().await;
        on_pool!(self, |pool, dialect| {
            let mut tx = pool.begin_with(dialect.pick("BEGIN IMMEDIATE", "BEGIN")).await?;
            let mut changed = 0;
            for sql in [INSERT, UPDATE] {
                changed = sqlx::query(sql)
                    .bind(program_id)
                    .bind(customer_id.as_str())
                    .bind(&profile.email)
                    .bind(&profile.name)
                    .bind(&profile.birthday)
                    .bind(&tags)
                    .bind(now.0)
                    .bind(profile.search_text())
                    .bind(&profile.language)
                    .bind(profile.marketing_consent)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed == 1 && sql == INSERT {
                    let event = events::customer_created(program_id, customer_id.as_str(), now);
                    insert_events!(_, &mut *tx, std::slice::from_ref(&event));
                    break;
                }
            }
            debug_assert_eq!(changed, 1, "inserted or updated");
            tx.commit().await?;
        });
        Ok(())
    }

    async fn customer(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        expiry: ExpiryPolicy,
    ) -> Result<Option<CustomerRecord>, StorageError> {
        const CUSTOMER: &str =
            "SELECT email, name, birthday, tags, language, marketing_consent, created_at_ms, last_seq, debt,
                 last_activity_at_ms, tier_id
             FROM customers WHERE program_id = $1 AND customer_id = $2";
        const LIFETIME: &str = "SELECT
                 CAST(COALESCE(SUM(CASE WHEN kind = 'earn' THEN points ELSE 0 END), 0) AS BIGINT),
                 CAST(COALESCE(SUM(CASE WHEN kind = 'redeem' THEN -points ELSE 0 END), 0) AS BIGINT)
             FROM ledger_entries WHERE program_id = $1 AND customer_id = $2";
        let id = customer_id.as_str();
        let (row, lots, lifetime): (Option<CustomerRow>, Vec<LotRow>, (i64, i64)) = on_pool!(self, |pool| {
            let row = sqlx::query_as(CUSTOMER).bind(program_id).bind(id).fetch_optional(pool).await?;
            let lots = sqlx::query_as(OPEN_LOTS).bind(program_id).bind(id).fetch_all(pool).await?;
            let lifetime = sqlx::query_as(LIFETIME).bind(program_id).bind(id).fetch_one(pool).await?;
            (row, lots, lifetime)
        });
        let Some(row) = row else { return Ok(None) };
        Ok(Some(CustomerRecord {
            customer_id: id.to_owned(),
            profile: row.profile()?,
            created_at: Timestamp(row.created_at_ms),
            account: row.account(lots, expiry)?,
            lifetime_earned: lifetime.0,
            lifetime_redeemed: lifetime.1,
            tier_id: row.tier_id,
        }))
    }

    async fn entries(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<EntryRecord>, StorageError> {
        const SQL: &str = "SELECT customer_id, seq, kind, points, source, reference, order_id, available_at_ms,
                 created_at_ms, balance_after, shortfall, rule_snapshot, client_id
             FROM ledger_entries WHERE program_id = $1 AND customer_id = $2 AND seq < $3
             ORDER BY seq DESC LIMIT $4";
        // Any seq past what the database stores means "before everything" (no panic).
        let before = before.map_or(i64::MAX, |seq| i64::try_from(seq).unwrap_or(i64::MAX));
        let rows: Vec<EntryRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(before)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?);
        rows.into_iter().map(EntryRow::into_record).collect()
    }

    async fn tier_qualifying(
        &self,
        program_id: &str,
        customer_id: &CustomerId,
        basis: TierBasis,
        since: Timestamp,
    ) -> Result<i64, StorageError> {
        let sql = qualifying_sql(basis);
        Ok(on_pool!(self, |pool| sqlx::query_scalar(sql)
            .bind(program_id)
            .bind(customer_id.as_str())
            .bind(since.0)
            .fetch_one(pool)
            .await?))
    }

    async fn tier_changes(&self, program_id: &str, customer_id: &CustomerId) -> Result<Vec<TierChange>, StorageError> {
        const SQL: &str = "SELECT changed_at_ms, from_tier, to_tier, qualifying FROM tier_changes
             WHERE program_id = $1 AND customer_id = $2 ORDER BY changed_at_ms DESC";
        let rows: Vec<(i64, Option<String>, Option<String>, i64)> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(program_id)
            .bind(customer_id.as_str())
            .fetch_all(pool)
            .await?);
        Ok(rows
            .into_iter()
            .map(|(at, from_tier, to_tier, qualifying)| TierChange {
                changed_at: Timestamp(at),
                from_tier,
                to_tier,
                qualifying,
            })
            .collect())
    }

    async fn search_customers(
        &self,
        program_id: &str,
        search: &CustomerSearch,
        expiry: ExpiryPolicy,
    ) -> Result<(Vec<CustomerListing>, u64), StorageError> {
        const COUNT: &str = concat!("SELECT COUNT(*) FROM customers WHERE ", matching_customers!());
        let (page_sql, lots_sql) = customer_page_sql(search.sort);
        let text = search.text.as_deref().map(str::trim).unwrap_or_default();
        let pattern = if text.is_empty() { String::new() } else { contains_pattern(text) };
        let offset = i64::try_from(search.offset).unwrap_or(i64::MAX);
        let (rows, lots, total): (Vec<ListingRow>, Vec<ListingLotRow>, i64) = on_pool!(self, |pool| {
            // Planned per call, like the program history: the search's open filters would make a
            // cached generic plan read every customer.
            let rows = sqlx::query_as(page_sql)
                .persistent(false)
                .bind(program_id)
                .bind(text)
                .bind(&pattern)
                .bind(i64::from(search.limit))
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let lots = sqlx::query_as(lots_sql)
                .persistent(false)
                .bind(program_id)
                .bind(text)
                .bind(&pattern)
                .bind(i64::from(search.limit))
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total = sqlx::query_scalar(COUNT).bind(program_id).bind(text).bind(&pattern).fetch_one(pool).await?;
            (rows, lots, total)
        });
        let mut lots_by_customer: std::collections::HashMap<String, Vec<LotRow>> = std::collections::HashMap::new();
        for row in lots {
            lots_by_customer.entry(row.customer_id).or_default().push(row.lot);
        }
        let listings = rows
            .into_iter()
            .map(|row| {
                let lots = lots_by_customer.remove(&row.customer_id).unwrap_or_default();
                Ok(CustomerListing {
                    profile: row.customer.profile()?,
                    created_at: Timestamp(row.customer.created_at_ms),
                    account: row.customer.account(lots, expiry)?,
                    tier_id: row.customer.tier_id,
                    customer_id: row.customer_id,
                })
            })
            .collect::<Result<_, StorageError>>()?;
        Ok((listings, u64::try_from(total).unwrap_or(0)))
    }

    async fn customer_ids(
        &self,
        program_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<String>, StorageError> {
        const SQL: &str = "SELECT customer_id FROM customers WHERE program_id = $1 AND customer_id > $2
             ORDER BY customer_id LIMIT $3";
        Ok(on_pool!(self, |pool| sqlx::query_scalar(SQL)
            .bind(program_id)
            .bind(after.unwrap_or(""))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?))
    }
}
