//! A large program for the scale benchmark and `tally demo --customers N --entries M`: customers
//! with a year of settled history. Every entry comes from the ledger core ([`Account`]), so the
//! seeded data keeps the ledger's invariants; only the writing is done in bulk.

use crate::{
    customers::CustomerProfile,
    ledger::{Account, EntryKind, ExpiryPolicy, Timestamp},
    points::{PointsError, PointsService},
    programs::{ApiKeyRecord, Program},
    storage::{ImportedCustomer, ImportedEntry},
    tiers::{TierBasis, TierLadder},
};

pub const SCALE_PROGRAM_ID: &str = "prg_scale";
/// Customers written per transaction.
const BATCH: usize = 500;
const DAY_MS: i64 = 86_400_000;
/// Where the points come from, weighted roughly like a shop's.
const SOURCES: [&str; 10] = [
    "purchase", "purchase", "purchase", "purchase", "purchase", "purchase", "review", "review", "referral", "birthday",
];

/// A small deterministic generator: the same sizes seed the same data.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }
}

/// One customer's year: earnings from several sources and some redemptions, in time order.
fn customer_history(index: u64, entries: u64, now: Timestamp, ladder: &TierLadder) -> ImportedCustomer {
    let mut random = Random(index.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let joined = Timestamp(now.0 - 365 * DAY_MS + random.below(30 * DAY_MS as u64) as i64);
    let mut account = Account::new(ExpiryPolicy::Never);
    let mut history = Vec::with_capacity(entries as usize);
    let step = (now.0 - joined.0) / (entries as i64 + 1);
    let mut at = joined;
    for _ in 0..entries {
        at = Timestamp(at.0 + step / 2 + random.below(step.max(1) as u64) as i64);
        let at = at.min(now);
        let available = account.available(at);
        let (source, produced) = if available >= 500 && random.below(8) == 0 {
            ("reward", account.redeem(at, 100 + random.below(available.min(1_000) as u64 - 99) as i64))
        } else {
            let source = SOURCES[random.below(SOURCES.len() as u64) as usize];
            (source, account.earn(at, 5 + random.below(300) as i64, None, at))
        };
        let produced = produced.expect("the generator only redeems what is available");
        history.extend(produced.into_iter().map(|entry| ImportedEntry {
            entry,
            source: source.to_owned(),
            created_at: at,
        }));
    }
    // The tier its earnings reach, as the ledger would have set it (points earned in the
    // ladder's window; the generator's histories have no orders to spend on).
    let window_start = ladder.window_start(now);
    let earned: i64 = history
        .iter()
        .filter(|imported| imported.entry.kind == EntryKind::Earn && imported.created_at >= window_start)
        .map(|imported| imported.entry.points)
        .sum();
    let tier_id = match ladder.basis {
        TierBasis::PointsEarned => ladder.status(earned).tier.map(|tier| tier.id),
        TierBasis::AmountSpent => None,
    };
    ImportedCustomer {
        customer_id: format!("c{index:07}"),
        profile: CustomerProfile {
            email: Some(format!("shopper{index}@scale.example")),
            name: Some(format!("Shopper {index}")),
            ..CustomerProfile::default()
        },
        created_at: joined,
        tier_id,
        entries: history,
        account,
    }
}

/// Creates `prg_scale` with `customers` customers and about `entries` entries between them,
/// unless it exists already (then nothing is written). Returns the program.
pub async fn seed_scale_program(
    points: &PointsService,
    template: &Program,
    customers: u64,
    entries: u64,
    now: Timestamp,
) -> Result<Program, PointsError> {
    let storage = points.storage();
    if let Some(program) = storage.program_by_id(SCALE_PROGRAM_ID).await? {
        return Ok(program);
    }
    let program = Program {
        id: SCALE_PROGRAM_ID.into(),
        name: "Scale Store".into(),
        publishable_key: "pk_scale".into(),
        allowed_origins: Vec::new(),
        ..template.clone()
    };
    let (_, key) = ApiKeyRecord::generate();
    storage.create_program(&program, &key, now).await?;
    let customers = customers.max(1);
    let mut batch = Vec::with_capacity(BATCH);
    for index in 0..customers {
        // Entries spread evenly, the remainder to the first customers.
        let count = entries / customers + u64::from(index < entries % customers);
        batch.push(customer_history(index, count, now, &program.settings.tiers));
        if batch.len() == BATCH {
            points.import_histories(&program, &batch).await?;
            batch.clear();
        }
    }
    if !batch.is_empty() {
        points.import_histories(&program, &batch).await?;
    }
    points.finish_import(&program).await?;
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_histories_keep_the_ledgers_balances() {
        let now = Timestamp(1_767_225_600_000);
        let ladder: TierLadder =
            serde_json::from_value(serde_json::json!({"tiers": [{"id": "gold", "name": "Gold", "threshold": 3000}]})).unwrap();
        for index in 0..50 {
            let customer = customer_history(index, 40, now, &ladder);
            assert_eq!(customer.entries.len(), 40);
            let last = customer.entries.last().unwrap();
            // I1: the last balance is what the open lots hold.
            let in_lots: i64 = customer.account.lots.iter().map(|lot| lot.remaining).sum();
            assert_eq!(last.entry.balance_after, in_lots);
            assert!(customer.entries.windows(2).all(|pair| pair[0].created_at <= pair[1].created_at));
            assert_eq!(customer.account.last_seq, 40);
            // The tier its earnings reach.
            let earned: i64 = customer.entries.iter().filter(|e| e.entry.kind == EntryKind::Earn).map(|e| e.entry.points).sum();
            assert_eq!(customer.tier_id.is_some(), earned >= 3000, "{earned}");
        }
    }
}
