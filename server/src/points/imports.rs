//! Settled histories written in bulk: the scale program (`tally demo --customers N`), and the
//! base for imports of balances kept elsewhere. The ledger core computes each history; the
//! service checks it against the ledger's numbering and lots before storage writes a batch in
//! one transaction, and rebuilds the running totals once at the end.

use std::collections::{HashMap, HashSet};

use super::{customer_id, PointsError, PointsService};
use crate::{message::message, programs::Program, storage::ImportedCustomer};

/// Why an imported history would break the ledger, if it would: ids valid and each customer
/// once, entries numbered from 1 in time order (I3's seq), never zero, consuming only earlier
/// lots, and the account's open lots opened by its own positive entries, never holding more
/// than they were opened with (I1).
fn check_history(program: &Program, customer: &ImportedCustomer, field: &str) -> Result<(), PointsError> {
    customer_id(&format!("{field}.customer_id"), &customer.customer_id)?;
    if let Some(tier) = &customer.tier_id {
        if !program.settings.tiers.tiers.iter().any(|known| known.id == *tier) {
            return Err(PointsError::invalid(
                format!("{field}.tier_id"),
                message!("this program has no tier {0}", format!("{tier:?}")),
            ));
        }
    }
    let mut opened: HashMap<u64, i64> = HashMap::new();
    let mut previous = None;
    for (index, imported) in customer.entries.iter().enumerate() {
        let entry = &imported.entry;
        let field = format!("{field}.entries[{index}]");
        if entry.seq != index as u64 + 1 || previous.is_some_and(|at| imported.created_at < at) {
            return Err(PointsError::invalid(
                field,
                message!("entries are numbered from 1 without gaps, oldest first"),
            ));
        }
        if entry.points == 0 {
            return Err(PointsError::invalid(format!("{field}.points"), message!("points must not be zero")));
        }
        if entry.consumed.iter().any(|(lot, points)| *lot >= entry.seq || *points <= 0) {
            return Err(PointsError::invalid(
                format!("{field}.consumed"),
                message!("entries take points from earlier lots"),
            ));
        }
        if entry.points > 0 {
            opened.insert(entry.seq, entry.points);
        }
        previous = Some(imported.created_at);
    }
    let account = &customer.account;
    let lots_fit = account
        .lots
        .iter()
        .all(|lot| lot.remaining > 0 && opened.get(&lot.seq).is_some_and(|points| lot.remaining <= *points));
    if account.last_seq != customer.entries.len() as u64 || !lots_fit {
        return Err(PointsError::invalid(
            format!("{field}.account"),
            message!("the open lots must come from the customer's own entries"),
        ));
    }
    Ok(())
}

impl PointsService {
    /// Writes one batch of new customers with their settled histories, checked first (nothing
    /// is written when one of them fails, and the error names it). The customers must not
    /// exist yet; [`Self::finish_import`] follows the last batch.
    pub async fn import_histories(&self, program: &Program, customers: &[ImportedCustomer]) -> Result<(), PointsError> {
        let mut seen = HashSet::with_capacity(customers.len());
        for (index, customer) in customers.iter().enumerate() {
            let field = format!("customers[{index}]");
            check_history(program, customer, &field)?;
            if !seen.insert(customer.customer_id.as_str()) {
                return Err(PointsError::invalid(
                    format!("{field}.customer_id"),
                    message!("each customer comes once in an import"),
                ));
            }
        }
        Ok(self.storage.import_history(&program.id, customers).await?)
    }

    /// After the last batch: the program's running totals from its ledger (imports leave them
    /// alone) and fresh planner statistics. Writes to the program must not run meanwhile.
    pub async fn finish_import(&self, program: &Program) -> Result<(), PointsError> {
        self.storage.rebuild_totals(&program.id).await?;
        Ok(self.storage.refresh_statistics().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        customers::CustomerProfile,
        ledger::{Account, ExpiryPolicy, Timestamp},
        storage::ImportedEntry,
    };

    fn history() -> ImportedCustomer {
        let mut account = Account::new(ExpiryPolicy::Never);
        let mut entries = Vec::new();
        for (at, earn, redeem) in [(1_000, 300, 0), (2_000, 0, 120), (3_000, 50, 0)] {
            let at = Timestamp(at);
            let produced =
                if earn > 0 { account.earn(at, earn, None, at) } else { account.redeem(at, redeem) }.unwrap();
            entries.extend(produced.into_iter().map(|entry| ImportedEntry {
                entry,
                source: "purchase".into(),
                created_at: at,
            }));
        }
        ImportedCustomer {
            customer_id: "ana".into(),
            profile: CustomerProfile::default(),
            created_at: Timestamp(1_000),
            tier_id: None,
            entries,
            account,
        }
    }

    fn refusal(customer: &ImportedCustomer) -> Option<String> {
        let (program, _, _) = Program::create("Shop", "USD", "points", Vec::new()).unwrap();
        check_history(&program, customer, "customers[0]").err().map(|error| match error {
            PointsError::Invalid { field, message } => format!("{field}: {message}"),
            other => other.to_string(),
        })
    }

    #[test]
    fn a_history_from_the_ledger_core_passes_and_each_tampering_is_named() {
        assert_eq!(refusal(&history()), None);
        let tampered = |change: fn(&mut ImportedCustomer)| {
            let mut customer = history();
            change(&mut customer);
            refusal(&customer).unwrap_or_default()
        };
        assert_eq!(
            tampered(|customer| customer.entries[1].entry.seq = 3),
            "customers[0].entries[1]: entries are numbered from 1 without gaps, oldest first"
        );
        assert_eq!(
            tampered(|customer| customer.entries[2].created_at = Timestamp(10)),
            "customers[0].entries[2]: entries are numbered from 1 without gaps, oldest first"
        );
        assert_eq!(
            tampered(|customer| customer.entries[1].entry.consumed = vec![(2, 120)]),
            "customers[0].entries[1].consumed: entries take points from earlier lots"
        );
        assert_eq!(
            tampered(|customer| customer.account.lots[0].remaining += 1_000),
            "customers[0].account: the open lots must come from the customer's own entries"
        );
        assert_eq!(
            tampered(|customer| customer.account.last_seq = 7),
            "customers[0].account: the open lots must come from the customer's own entries"
        );
        assert_eq!(
            tampered(|customer| customer.tier_id = Some("platinum".into())),
            "customers[0].tier_id: this program has no tier \"platinum\""
        );
        assert!(tampered(|customer| customer.customer_id = "a\0b".into()).starts_with("customers[0].customer_id: "));
    }
}
