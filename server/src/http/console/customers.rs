//! The console's customer pages: the list, a customer's page and manual adjustments (through
//! the same [`Adjustment`] and ledger write as the REST API).

use serde_json::json;
use tally_app::console::{
    customers::CustomerConsole,
    i18n::trf,
    model::{
        Adjusted, AdjustmentForm, ConsoleError, CouponRow, CustomerCard, CustomerDetail, CustomerList, CustomerQuery,
        CustomerRow, FailingEndpoint, ProgramHeader,
    },
};

use super::{invalid, invalid_text, signed_in_user, unavailable, ConsoleService};
use crate::{
    console_users::AuditEntry,
    customers::{Adjustment, CustomerId},
    dashboard,
    ledger::{LedgerError, Timestamp},
    message::message,
    points::{AccountView, AdjustmentRequest, PointsError},
    programs::Program,
    rewards::CouponStatus,
    secrets,
    storage::{CustomerSearch, CustomerSort, Refusal, Storage},
    tiers::TierStatus,
};

/// Customers per page of the list.
pub(super) const CUSTOMER_PAGE: u32 = 25;
/// Ledger entries per page of a customer's page.
const LEDGER_PAGE: u32 = 50;
const COUPONS_SHOWN: u32 = 50;

/// The program as every page's header shows it, with the webhook endpoints that stopped
/// receiving its events (the admin hears of them on whatever page they open).
pub(super) async fn program_header(storage: &dyn Storage, program: &Program) -> Result<ProgramHeader, ConsoleError> {
    let failing = storage.failing_endpoints(&program.id).await.map_err(unavailable)?;
    Ok(ProgramHeader {
        id: program.id.clone(),
        name: program.name.clone(),
        points_name: program.points_name.clone(),
        failing_endpoints: failing
            .into_iter()
            .map(|(url, since)| FailingEndpoint { url, since: since.to_string() })
            .collect(),
    })
}

/// The search the list's query asks for (`page` is 1-based); bad values are 422s.
pub(super) fn customer_search(query: &CustomerQuery, limit: u32) -> Result<CustomerSearch, ConsoleError> {
    let sort = match query.sort.as_deref() {
        None => CustomerSort::default(),
        Some(sort) => CustomerSort::parse(sort)
            .ok_or_else(|| invalid("sort", message!("joined, activity, points, id, name or email")))?,
    };
    let text = query.q.as_deref().map(str::trim).filter(|text| !text.is_empty());
    if text.is_some_and(|text| text.chars().count() > 200) {
        return Err(invalid("q", message!("at most 200 characters")));
    }
    let page = query.page.unwrap_or(1);
    if page == 0 {
        return Err(invalid("page", message!("pages start at 1")));
    }
    Ok(CustomerSearch {
        text: text.map(str::to_owned),
        sort,
        offset: (page - 1).saturating_mul(u64::from(limit)),
        limit,
    })
}

fn tier_name(program: &Program, tier_id: Option<&str>) -> Option<String> {
    tier_id.and_then(|id| program.settings.tiers.tier(id)).map(|tier| tier.name.clone())
}

fn parse_customer_id(raw: &str) -> Result<CustomerId, ConsoleError> {
    CustomerId::parse(raw).map_err(|error| invalid("customer", error.message()))
}

/// A coupon's status as admins need it: an issued coupon past its expiry is `expired`.
fn coupon_status(status: CouponStatus, expires_at: Timestamp, now: Timestamp) -> &'static str {
    match status {
        CouponStatus::Issued if expires_at <= now => "expired",
        other => other.as_str(),
    }
}

#[async_trait::async_trait]
impl CustomerConsole for ConsoleService {
    async fn customers(
        &self,
        token: Option<&str>,
        program_id: &str,
        query: CustomerQuery,
    ) -> Result<CustomerList, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let search = customer_search(&query, CUSTOMER_PAGE)?;
        let (listings, total) = self
            .0
            .storage
            .search_customers(&program.id, &search, program.settings.expiry)
            .await
            .map_err(unavailable)?;
        let now = self.0.clock.now();
        let rows = listings
            .into_iter()
            .map(|listing| {
                let balances = listing.account.balances_at(now, program.settings.notifications.expiry_warning_days);
                CustomerRow {
                    tier: tier_name(&program, listing.tier_id.as_deref()),
                    name: listing.profile.name,
                    email: listing.profile.email,
                    joined_at: listing.created_at.to_string(),
                    last_activity_at: listing.account.last_activity_at.map(|at| at.to_string()),
                    available: balances.available,
                    pending: balances.pending,
                    customer_id: listing.customer_id,
                }
            })
            .collect();
        Ok(CustomerList {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            rows,
            total,
            page: query.page.unwrap_or(1),
            page_size: CUSTOMER_PAGE,
        })
    }
    async fn customer(
        &self,
        token: Option<&str>,
        program_id: &str,
        customer_id: &str,
        before: Option<u64>,
    ) -> Result<CustomerDetail, ConsoleError> {
        let (session, user) = self.session(token).await?;
        let program = self.program(&user, program_id).await?;
        let id = parse_customer_id(customer_id)?;
        let storage = self.0.storage.as_ref();
        let AccountView { record, balances, tiers, .. } = self
            .0
            .points
            .account(&program, &id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ConsoleError::NotFound(trf("No customer {0} in this program.", &[&customer_id])))?;
        let now = self.0.clock.now();
        let entries = storage.entries(&program.id, &id, before, LEDGER_PAGE).await.map_err(unavailable)?;
        let coupons = storage.customer_coupons(&program.id, &id, COUPONS_SHOWN).await.map_err(unavailable)?;
        let progress_percent = tiers.as_ref().and_then(TierStatus::percent);
        let customer = CustomerCard {
            customer_id: record.customer_id.clone(),
            name: record.profile.name.clone(),
            email: record.profile.email.clone(),
            birthday: record.profile.birthday.clone(),
            tags: record.profile.tags.clone(),
            joined_at: record.created_at.to_string(),
            available: balances.available,
            pending: balances.pending,
            expiring_soon: balances.expiring_soon,
            lifetime_earned: record.lifetime_earned,
            lifetime_redeemed: record.lifetime_redeemed,
            tier: tiers.as_ref().and_then(|view| view.tier.as_ref()).map(|tier| tier.name.clone()),
            next_tier: tiers.as_ref().and_then(|view| view.next_tier.as_ref()).map(|tier| tier.name.clone()),
            to_next_tier: tiers.as_ref().and_then(|view| view.to_next_tier),
            progress_percent,
        };
        let older = (entries.len() == LEDGER_PAGE as usize).then(|| entries.last().map(|entry| entry.seq)).flatten();
        Ok(CustomerDetail {
            user: signed_in_user(&session, &user),
            program: program_header(self.0.storage.as_ref(), &program).await?,
            customer,
            entries: entries.into_iter().map(|entry| dashboard::entry_row(entry, now)).collect(),
            older,
            coupons: coupons
                .into_iter()
                .map(|coupon| CouponRow {
                    status: coupon_status(coupon.status, coupon.expires_at, now).to_owned(),
                    code: coupon.code,
                    reward_id: coupon.reward_id,
                    points: coupon.points,
                    expires_at: coupon.expires_at.to_string(),
                })
                .collect(),
            emails: self.customer_emails(&program.id, id.as_str()).await?,
            next_adjustment_id: secrets::random_token("console_", 12),
        })
    }
    /// Applies a manual adjustment and audits it (once, also when the form is sent again).
    async fn adjust(
        &self,
        token: Option<&str>,
        program_id: &str,
        customer_id: &str,
        form: AdjustmentForm,
    ) -> Result<Adjusted, ConsoleError> {
        let user = self.writer(token, &form.csrf).await?;
        let program = self.program(&user, program_id).await?;
        let id = parse_customer_id(customer_id)?;
        let points = form
            .points
            .trim()
            .parse::<i64>()
            .map_err(|_| invalid("points", message!("a whole number, e.g. 50 or -20")))?;
        let adjustment =
            Adjustment::parse(points, &form.reason).map_err(|error| invalid(error.field(), error.message()))?;
        if !form.adjustment_id.starts_with("console_") || form.adjustment_id.len() > 64 {
            return Err(invalid("adjustment_id", message!("the id the form came with (reload the page)")));
        }
        let points = &self.0.points;
        let available_before = match points.account(&program, &id).await.map_err(unavailable)? {
            Some(account) => account.balances.available,
            None => return Err(ConsoleError::NotFound(trf("No customer {0} in this program.", &[&customer_id]))),
        };
        let request = AdjustmentRequest {
            adjustment_id: form.adjustment_id.clone(),
            customer_id: customer_id.to_owned(),
            points: adjustment.points,
            reason: adjustment.reason.clone(),
        };
        let before = json!({ "available": available_before });
        let after = json!({ "points": adjustment.points, "reason": adjustment.reason });
        let audit = AuditEntry {
            request_key: Some(format!("adjustment:{}:{}", program.id, form.adjustment_id)),
            ..self.audit_entry(&user, Some(&program), "customer.adjust", customer_id, Some(before), Some(after))
        };
        let written = match points.adjust(&program, &request, Some(audit)).await {
            Ok(written) => written,
            Err(PointsError::IdempotencyConflict { .. }) => {
                return Err(invalid(
                    "adjustment_id",
                    message!("this form was already used for another adjustment: reload"),
                ))
            }
            Err(PointsError::Refused(Refusal::Ledger(LedgerError::InsufficientPoints { available, .. }))) => {
                return Err(invalid_text("points", trf("the customer has only {0} points available", &[&available])))
            }
            Err(PointsError::NoCustomer(_)) => {
                return Err(ConsoleError::NotFound(trf("No customer {0} in this program.", &[&customer_id])))
            }
            Err(PointsError::Storage(error)) => return Err(unavailable(error)),
            Err(other) => return Err(invalid("points", other.message())),
        };
        let (result, replay) = (written.result, written.replayed);
        tracing::info!(user = %user.email.as_str(), program = %program.id, customer = customer_id,
            points = adjustment.points, replay, "console adjustment");
        Ok(Adjusted { points: adjustment.points, balance_after: result.available, replay })
    }

    /// Erases the customer's personal data; audited under the pseudonym (the id is not kept).
    async fn erase(
        &self,
        token: Option<&str>,
        program_id: &str,
        customer_id: &str,
        csrf: &str,
    ) -> Result<String, ConsoleError> {
        let user = self.writer(token, csrf).await?;
        let program = self.program(&user, program_id).await?;
        let audit =
            |pseudonym: &str| Some(self.audit_entry(&user, Some(&program), "customer.erase", pseudonym, None, None));
        match self.0.points.erase_customer(&program, customer_id, audit).await {
            Ok(erased) => {
                tracing::info!(user = %user.email.as_str(), program = %program.id, pseudonym = %erased.pseudonym,
                    "console erasure");
                Ok(erased.pseudonym)
            }
            Err(PointsError::NoCustomer(_)) => {
                Err(ConsoleError::NotFound(trf("No customer {0} in this program.", &[&customer_id])))
            }
            Err(PointsError::Storage(error)) => Err(unavailable(error)),
            Err(other) => Err(invalid("customer", other.message())),
        }
    }
}
