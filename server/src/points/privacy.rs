//! What a shopper may ask of the data the program holds about them: all of it, as one
//! document, and its erasure.

use super::{customer_id, AccountView, PointsError, PointsService};
use crate::{
    console_users::AuditEntry,
    programs::Program,
    rewards::Coupon,
    secrets,
    storage::{EntryRecord, Erasure, Referral, TierChange},
};

/// Every page of a customer's entries is read in pages this long.
const PAGE: u32 = 500;
/// Coupons are few per customer; this bounds an export.
const COUPONS: u32 = 10_000;

/// Everything Tally holds about one customer of a program.
pub struct CustomerExport {
    pub account: AccountView,
    /// Newest first.
    pub entries: Vec<EntryRecord>,
    pub coupons: Vec<Coupon>,
    pub tier_history: Vec<TierChange>,
    /// Who referred them, and whom they referred.
    pub referred_by: Option<Referral>,
    pub referred: Vec<Referral>,
}

impl PointsService {
    /// All a customer's data; a customer who does not exist is `NoCustomer`.
    pub async fn export_customer(&self, program: &Program, raw_id: &str) -> Result<CustomerExport, PointsError> {
        let id = customer_id("customer_id", raw_id)?;
        let account = self.existing_account(program, &id).await?;
        let storage = self.storage();
        let mut entries = Vec::new();
        loop {
            let before = entries.last().map(|entry: &EntryRecord| entry.seq);
            let page = storage.entries(&program.id, &id, before, PAGE).await?;
            let last_page = page.len() < PAGE as usize;
            entries.extend(page);
            if last_page {
                break;
            }
        }
        Ok(CustomerExport {
            account,
            entries,
            coupons: storage.customer_coupons(&program.id, &id, COUPONS).await?,
            tier_history: storage.tier_changes(&program.id, &id).await?,
            referred_by: storage.referral(&program.id, &id).await?,
            referred: storage.referrals_by(&program.id, &id).await?,
        })
    }

    /// Erases the customer's personal data: their profile's fields emptied and everything
    /// under their id moved to a pseudonym, so the ledger's amounts (and the program's totals,
    /// liability and other customers' referrals) stay right. Asking again answers the same
    /// pseudonym (`replayed`); a later event for the id starts a new, empty customer. `audit`
    /// is built for the pseudonym (the id itself is not kept anywhere).
    pub async fn erase_customer(
        &self,
        program: &Program,
        raw_id: &str,
        audit: impl FnOnce(&str) -> Option<AuditEntry>,
    ) -> Result<Erasure, PointsError> {
        let id = customer_id("customer_id", raw_id)?;
        let pseudonym = secrets::random_token("erased_", 8);
        let storage = self.storage();
        // Keyed, so that the stored hash cannot be matched against guessed ids.
        let key = storage.secret_keys().derive("tally erased customer id v1");
        let subject_hash = secrets::keyed_hash(&key, &format!("{}\0{}", program.id, id.as_str()));
        let entry = audit(&pseudonym);
        let erased =
            storage.erase_customer(&program.id, &id, &pseudonym, &subject_hash, self.now(), entry.as_ref()).await?;
        erased.ok_or_else(|| PointsError::NoCustomer(id.as_str().to_owned()))
    }
}
