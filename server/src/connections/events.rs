//! What happened in a program, as other systems learn it: one event per fact, with a stable id,
//! decided in the transaction of the write that caused it (the transactional outbox) and
//! relayed from there to each channel that wants it (webhook endpoints; emails later).
//!
//! The functions here are pure: storage calls them inside the write's transaction with what the
//! write did, and stores what they return.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    ledger::{EntryKind, ExpiryBatch, Timestamp},
    rewards::Coupon,
    secrets,
    storage::{EntryRecord, LedgerWrite, TierChange, WriteResult},
    tiers::TierRisk,
};

/// Every kind of event, by the name receivers see (`points.earned`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "points.earned")]
    PointsEarned,
    #[serde(rename = "points.redeemed")]
    PointsRedeemed,
    #[serde(rename = "points.adjusted")]
    PointsAdjusted,
    #[serde(rename = "points.expired")]
    PointsExpired,
    /// Earned points taken back (refund, cancellation), pending points voided, or redeemed
    /// points restored (a cancelled coupon).
    #[serde(rename = "points.reversed")]
    PointsReversed,
    /// A redemption issued a coupon.
    #[serde(rename = "reward.redeemed")]
    RewardRedeemed,
    #[serde(rename = "coupon.used")]
    CouponUsed,
    #[serde(rename = "tier.changed")]
    TierChanged,
    /// A rolling window is about to take the customer's tier (within the program's
    /// `notifications.tier_at_risk_days`, 30 unless it says otherwise): once per episode,
    /// again only after the customer was safe in between.
    #[serde(rename = "tier.at_risk")]
    TierAtRisk,
    /// Points that expire within the program's warning window (30 days unless its
    /// `notifications.expiry_warning_days` says otherwise): once per batch of points that
    /// expire together, and once more with `last_chance` when the program has a last-chance
    /// reminder.
    #[serde(rename = "points.expiring_soon")]
    PointsExpiringSoon,
    /// Sent by Tally to test an endpoint; never caused by a write.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    pub const ALL: [Self; 12] = [
        Self::CustomerCreated,
        Self::PointsEarned,
        Self::PointsRedeemed,
        Self::PointsAdjusted,
        Self::PointsExpired,
        Self::PointsReversed,
        Self::RewardRedeemed,
        Self::CouponUsed,
        Self::TierChanged,
        Self::TierAtRisk,
        Self::PointsExpiringSoon,
        Self::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CustomerCreated => "customer.created",
            Self::PointsEarned => "points.earned",
            Self::PointsRedeemed => "points.redeemed",
            Self::PointsAdjusted => "points.adjusted",
            Self::PointsExpired => "points.expired",
            Self::PointsReversed => "points.reversed",
            Self::RewardRedeemed => "reward.redeemed",
            Self::CouponUsed => "coupon.used",
            Self::TierChanged => "tier.changed",
            Self::TierAtRisk => "tier.at_risk",
            Self::PointsExpiringSoon => "points.expiring_soon",
            Self::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    fn of_entry(kind: EntryKind) -> Self {
        match kind {
            EntryKind::Earn => Self::PointsEarned,
            EntryKind::Redeem => Self::PointsRedeemed,
            EntryKind::Adjust => Self::PointsAdjusted,
            EntryKind::Expire => Self::PointsExpired,
            EntryKind::Reverse | EntryKind::Void => Self::PointsReversed,
        }
    }
}

/// One event as the outbox keeps it and receivers get it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEvent {
    /// `evt_...`: the same on every delivery attempt (Standard Webhooks' `webhook-id`), so
    /// receivers can drop a duplicate.
    pub event_id: String,
    pub program_id: String,
    /// Deliveries of one customer's events go in order.
    pub customer_id: Option<String>,
    pub event_type: EventType,
    pub created_at: Timestamp,
    pub data: serde_json::Value,
}

impl OutboxEvent {
    pub fn new(
        program_id: &str,
        customer_id: Option<&str>,
        event_type: EventType,
        created_at: Timestamp,
        data: serde_json::Value,
    ) -> Self {
        Self {
            event_id: secrets::random_token("evt_", 16),
            program_id: program_id.to_owned(),
            customer_id: customer_id.map(str::to_owned),
            event_type,
            created_at,
            data,
        }
    }

    /// The body receivers get, in the shape Standard Webhooks recommends.
    pub fn payload(&self) -> String {
        json!({
            "id": self.event_id,
            "type": self.event_type.as_str(),
            "timestamp": self.created_at,
            "program_id": self.program_id,
            "data": self.data,
        })
        .to_string()
    }
}

fn entry_data(customer_id: &str, entry: &EntryRecord, result: &WriteResult) -> serde_json::Value {
    json!({
        "customer_id": customer_id,
        "points": entry.points,
        "entry": {
            "seq": entry.seq,
            "kind": entry.kind.as_str(),
            "source": entry.source,
            "reference": entry.reference,
            "order_id": entry.order_id,
            "available_at": entry.available_at,
            "balance_after": entry.balance_after,
        },
        "available": result.available,
        "pending": result.pending,
    })
}

/// The events of one applied ledger write: the customer's first appearance, one per entry, the
/// coupon a redemption issued and a tier change.
pub fn of_ledger_write(
    write: &LedgerWrite,
    result: &WriteResult,
    customer_created: bool,
    tier_change: Option<&TierChange>,
) -> Vec<OutboxEvent> {
    let (program, customer) = (write.program_id.as_str(), write.customer_id.as_str());
    let event = |event_type, data| OutboxEvent::new(program, Some(customer), event_type, write.now, data);
    let mut events = Vec::with_capacity(result.entries.len() + 1);
    if customer_created {
        let mut data = json!({ "customer_id": customer });
        // Customers brought by an import are told apart (no welcome email for each of them).
        if write.source == "import" {
            data["source"] = json!("import");
        }
        events.push(event(EventType::CustomerCreated, data));
    }
    for entry in &result.entries {
        events.push(event(EventType::of_entry(entry.kind), entry_data(customer, entry, result)));
    }
    if let Some(coupon) = &result.coupon {
        events.push(event(
            EventType::RewardRedeemed,
            json!({ "customer_id": customer, "coupon": coupon, "available": result.available }),
        ));
    }
    if let Some(change) = tier_change {
        events.push(event(
            EventType::TierChanged,
            json!({
                "customer_id": customer,
                "from_tier": change.from_tier,
                "to_tier": change.to_tier,
                "qualifying": change.qualifying,
            }),
        ));
    }
    events
}

/// Points of one batch that expire soon, announced by the upkeep's settle; `last_chance` for
/// the program's optional second reminder.
pub fn expiring_soon(write: &LedgerWrite, batch: &ExpiryBatch, result: &WriteResult, last_chance: bool) -> OutboxEvent {
    let customer = write.customer_id.as_str();
    let data = json!({
        "customer_id": customer,
        "points": batch.points,
        "expires_at": batch.expires_at,
        "last_chance": last_chance,
        "available": result.available,
        "pending": result.pending,
    });
    OutboxEvent::new(&write.program_id, Some(customer), EventType::PointsExpiringSoon, write.now, data)
}

/// A tier the rolling window is about to take, announced by the upkeep's settle: what the
/// customer must add before `drops_at` (points or minor units, by `basis`) to keep it.
pub fn tier_at_risk(write: &LedgerWrite, risk: &TierRisk, qualifying: i64, result: &WriteResult) -> OutboxEvent {
    let customer = write.customer_id.as_str();
    let data = json!({
        "customer_id": customer,
        "tier": risk.tier.id,
        "drops_at": risk.drops_at,
        "basis": write.tiers.basis,
        "qualifying": qualifying,
        "needed": risk.needed,
        "falls_to": risk.falls_to.as_ref().map(|tier| &tier.id),
        "available": result.available,
    });
    OutboxEvent::new(&write.program_id, Some(customer), EventType::TierAtRisk, write.now, data)
}

/// A coupon used by an order at the store's checkout.
pub fn coupon_used(program_id: &str, coupon: &Coupon, now: Timestamp) -> OutboxEvent {
    let data = json!({ "customer_id": coupon.customer_id, "coupon": coupon });
    OutboxEvent::new(program_id, Some(&coupon.customer_id), EventType::CouponUsed, now, data)
}

/// A customer whose profile arrived before any points did.
pub fn customer_created(program_id: &str, customer_id: &str, now: Timestamp) -> OutboxEvent {
    OutboxEvent::new(
        program_id,
        Some(customer_id),
        EventType::CustomerCreated,
        now,
        json!({ "customer_id": customer_id }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_one_name_both_ways() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        assert_eq!(EventType::parse("points.stolen"), None);
    }

    #[test]
    fn the_payload_carries_the_id_type_and_data() {
        let event = OutboxEvent::new("prg_1", Some("ana"), EventType::PointsEarned, Timestamp(0), json!({"points": 5}));
        let payload: serde_json::Value = serde_json::from_str(&event.payload()).unwrap();
        assert!(event.event_id.starts_with("evt_") && event.event_id.len() == 36);
        assert_eq!(payload["id"], event.event_id.as_str());
        assert_eq!(payload["type"], "points.earned");
        assert_eq!(payload["timestamp"], "1970-01-01T00:00:00.000Z");
        assert_eq!(payload["data"]["points"], 5);
    }
}
