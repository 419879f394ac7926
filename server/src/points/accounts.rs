//! A customer's account as every surface shows it, manual adjustments and upkeep.

use serde::Serialize;

use super::{client_id, customer_id, PointsError, PointsService, Written};
use crate::{
    console_users::AuditEntry,
    customers::{Adjustment, CustomerId},
    ledger::{Balances, Operation, Points},
    programs::Program,
    storage::{CustomerRecord, Effect, LedgerWrite, StorageError, WriteOutcome},
    tiers::TierStatus,
};

/// "Expiring soon" looks this far ahead unless the program says otherwise
/// (`notifications.expiry_warning_days`).
pub const EXPIRING_SOON_DAYS: u32 = 30;

/// A customer's balances, tier and progress as of now.
#[derive(Clone, Debug)]
pub struct AccountView {
    pub record: CustomerRecord,
    pub balances: Balances,
    /// How far ahead `balances.expiring_soon` looks: the program's warning window.
    pub expiring_within_days: u32,
    /// Present when the program has tiers: the tier as last recomputed (by a write or the
    /// upkeep), and the current window's progress toward the next.
    pub tiers: Option<TierStatus>,
}

/// A manual adjustment as asked for: the points, the reason and the caller's id for it.
#[derive(Clone, Debug, Serialize)]
pub struct AdjustmentRequest {
    pub adjustment_id: String,
    pub customer_id: String,
    pub points: Points,
    pub reason: String,
}

impl PointsService {
    /// The customer's account, `None` when the program has no such customer.
    pub async fn account(&self, program: &Program, customer: &CustomerId) -> Result<Option<AccountView>, StorageError> {
        let Some(record) = self.storage.customer(&program.id, customer, program.settings.expiry).await? else {
            return Ok(None);
        };
        let now = self.now();
        let ladder = &program.settings.tiers;
        let tiers = if ladder.tiers.is_empty() {
            None
        } else {
            let qualifying =
                self.storage.tier_qualifying(&program.id, customer, ladder.basis, ladder.window_start(now)).await?;
            let tier = record.tier_id.as_deref().and_then(|id| ladder.tier(id)).cloned();
            let next_tier = match &tier {
                Some(current) => ladder.tiers.iter().find(|candidate| candidate.threshold > current.threshold).cloned(),
                None => ladder.tiers.first().cloned(),
            };
            let to_next_tier = next_tier.as_ref().map(|next| next.threshold.saturating_sub(qualifying).max(0));
            Some(TierStatus { qualifying, tier, next_tier, to_next_tier })
        };
        let expiring_within_days = program.settings.notifications.expiry_warning_days;
        let balances = record.account.balances_at(now, expiring_within_days);
        Ok(Some(AccountView { record, balances, expiring_within_days, tiers }))
    }

    /// The account of a customer who must exist.
    pub async fn existing_account(&self, program: &Program, customer: &CustomerId) -> Result<AccountView, PointsError> {
        self.account(program, customer).await?.ok_or_else(|| PointsError::NoCustomer(customer.as_str().to_owned()))
    }

    /// Adds or takes points by hand, with a reason. The console passes its audit entry,
    /// committed with the adjustment (and, like it, once however often the form is sent).
    pub async fn adjust(
        &self,
        program: &Program,
        request: &AdjustmentRequest,
        audit: Option<AuditEntry>,
    ) -> Result<Written, PointsError> {
        let customer = customer_id("customer_id", &request.customer_id)?;
        let adjustment = Adjustment::parse(request.points, &request.reason)?;
        let client = client_id("adjustment", "adjustment_id", &request.adjustment_id, request)?;
        self.existing_account(program, &customer).await?;
        let operation = Operation::Adjust { points: adjustment.points };
        let mut write = LedgerWrite::new(program, customer, Some(client), operation, "admin", self.now());
        write.reference = Some(adjustment.reason);
        write.audit = audit;
        self.write(write, "adjustment_id").await
    }

    /// Writes what time has done to the customer's points (expiry entries, tier demotions) and
    /// what it is about to do (expiry and tier warnings);
    /// returns how many entries that took. Idempotent by nature.
    pub async fn settle(&self, program: &Program, customer: CustomerId) -> Result<usize, StorageError> {
        let mut write = LedgerWrite::new(program, customer, None, Operation::Settle, "expiry", self.now());
        let notifications = &program.settings.notifications;
        write.effect = Effect::Upkeep {
            expiry_within_days: notifications.expiry_warning_days,
            last_chance_days: notifications.last_chance_days,
            tier_at_risk_days: notifications.tier_at_risk_days,
        };
        Ok(match self.storage.write_ledger(&write).await? {
            WriteOutcome::Applied(result) => result.entries.len(),
            _ => 0,
        })
    }
}
