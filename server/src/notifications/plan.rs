//! Which messages an event brings a customer: pure, from the event and the program as they
//! stand when the outbox relays it. Storage keeps each planned message once per
//! `dedupe_key` (a reward unlocked once, a batch warned once), and gathers a points-earned
//! digest until it is due.

use serde_json::{json, Value};

use super::{MessageKind, NotificationSettings};
use crate::{
    connections::events::EventType,
    ledger::Timestamp,
    rewards::{Reward, RewardKind},
    tiers::TierLadder,
};

/// What the program is, as planning needs it.
pub struct Program<'a> {
    pub settings: &'a NotificationSettings,
    pub tiers: &'a TierLadder,
    pub rewards: &'a [Reward],
}

/// One event of one customer, as the outbox holds it.
pub struct Event<'a> {
    pub event_id: &'a str,
    pub event_type: EventType,
    /// The event's `data`.
    pub data: &'a Value,
    pub created_at: Timestamp,
    /// The customer's tier now (rewards may require one).
    pub tier: Option<&'a str>,
}

/// A message to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Planned {
    /// Sent once per `dedupe_key`, from `send_after`.
    Once { kind: MessageKind, dedupe_key: String, data: Value, points: i64 },
    /// Points gathered into the customer's pending message of `kind` that is not being sent
    /// (a points-earned digest; the batches one expiry warning tells of), or a new one, kept
    /// once per `dedupe_key`, due `period_ms` after the last of its kind (at most one a period).
    Gathered { kind: MessageKind, dedupe_key: String, data: Value, points: i64, period_ms: i64 },
}

/// The messages `event` brings under `program`'s settings (none without a sender).
pub fn plan(program: &Program<'_>, event: &Event<'_>) -> Vec<Planned> {
    let settings = program.settings;
    let sends = |kind| settings.sends(kind);
    let data = event.data;
    let points = data["points"].as_i64().unwrap_or(0);
    let mut planned = Vec::new();
    match event.event_type {
        // An import brings members who joined elsewhere long ago: no welcome for them.
        EventType::CustomerCreated if sends(MessageKind::Welcome) && data["source"] != "import" => {
            planned.push(Planned::Once {
                kind: MessageKind::Welcome,
                dedupe_key: "welcome".into(),
                data: json!({}),
                points: 0,
            })
        }
        EventType::PointsEarned if data["entry"]["source"] == "birthday" => {
            if sends(MessageKind::Birthday) {
                // A birthday earns once a year: the year keeps it once.
                let year = event.created_at.to_string().chars().take(4).collect::<String>();
                planned.push(Planned::Once {
                    kind: MessageKind::Birthday,
                    dedupe_key: format!("birthday:{year}"),
                    data: json!({}),
                    points,
                });
            }
        }
        EventType::PointsEarned if sends(MessageKind::PointsEarned) && points > 0 => {
            planned.push(Planned::Gathered {
                kind: MessageKind::PointsEarned,
                dedupe_key: event.event_id.to_owned(),
                data: json!({}),
                points,
                period_ms: i64::from(settings.earned_batch_hours) * 3_600_000,
            });
        }
        EventType::PointsExpiringSoon => {
            let last_chance = data["last_chance"].as_bool().unwrap_or(false);
            let kind = if last_chance { MessageKind::LastChance } else { MessageKind::PointsExpiring };
            let expires_at = data["expires_at"].as_str().unwrap_or_default();
            // The batches one settle announces make one message, dated by the first.
            if sends(kind) && !expires_at.is_empty() {
                planned.push(Planned::Gathered {
                    kind,
                    dedupe_key: format!("{}:{expires_at}", kind.as_str()),
                    data: json!({ "expires_at": expires_at }),
                    points,
                    period_ms: 0,
                });
            }
        }
        EventType::TierChanged if sends(MessageKind::TierUp) => {
            let rank = |tier: &Value| tier.as_str().and_then(|id| program.tiers.tiers.iter().position(|t| t.id == id));
            if let (Some(to), from) = (rank(&data["to_tier"]), rank(&data["from_tier"])) {
                if from.is_none_or(|from| to > from) {
                    planned.push(Planned::Once {
                        kind: MessageKind::TierUp,
                        dedupe_key: format!("tier:{}", event.event_id),
                        data: json!({ "tier_id": data["to_tier"] }),
                        points: 0,
                    });
                }
            }
        }
        // The event comes once per episode: so does its message.
        EventType::TierAtRisk if sends(MessageKind::TierAtRisk) => planned.push(Planned::Once {
            kind: MessageKind::TierAtRisk,
            dedupe_key: format!("tier_at_risk:{}", event.event_id),
            data: json!({
                "tier_id": data["tier"],
                "drops_at": data["drops_at"],
                "needed": data["needed"],
                "basis": data["basis"],
            }),
            points: 0,
        }),
        _ => {}
    }
    if sends(MessageKind::RewardUnlocked) {
        planned.extend(reward_unlocked(program, event));
    }
    planned
}

/// The most expensive reward whose cost the balance reached with this event (it was below
/// before), if the customer may redeem it now.
fn reward_unlocked(program: &Program<'_>, event: &Event<'_>) -> Option<Planned> {
    if !matches!(event.event_type, EventType::PointsEarned | EventType::PointsAdjusted) {
        return None;
    }
    let data = event.data;
    let (points, after) = (data["points"].as_i64()?, data["available"].as_i64()?);
    // Pending points raise no balance yet.
    let available_now = data["entry"]["available_at"]
        .as_str()
        .and_then(Timestamp::parse_rfc3339)
        .is_none_or(|at| at <= event.created_at);
    // Balances an import brings were reachable before; the shopper hears of rewards as they earn.
    if points <= 0 || !available_now || data["entry"]["source"] == "import" {
        return None;
    }
    let before = after.saturating_sub(points);
    let reward = program
        .rewards
        .iter()
        .filter(|reward| reward.is_available(event.created_at))
        .filter(|reward| {
            reward.definition.min_tier.as_deref().is_none_or(|tier| program.tiers.reaches(event.tier, tier))
        })
        .map(|reward| (cost(reward), reward))
        .filter(|(cost, _)| *cost > 0 && before < *cost && *cost <= after)
        .max_by_key(|(cost, _)| *cost)?;
    let (cost, reward) = reward;
    Some(Planned::Once {
        kind: MessageKind::RewardUnlocked,
        dedupe_key: format!("reward:{}", reward.id),
        data: json!({ "reward_id": reward.id, "reward_name": reward.definition.name, "reward_points": cost }),
        points: after,
    })
}

/// The fewest points that redeem `reward`.
fn cost(reward: &Reward) -> i64 {
    match reward.definition.reward {
        RewardKind::PointsToCurrency { min_points, .. } => min_points,
        _ => reward.definition.points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        rewards::RewardDefinition,
        tiers::{Tier, TierLadder},
    };

    fn settings() -> NotificationSettings {
        NotificationSettings { sender_address: Some("loyalty@shop.example".into()), ..Default::default() }
    }

    fn reward(id: &str, points: i64) -> Reward {
        Reward { id: id.into(), definition: RewardDefinition::new(id, RewardKind::FreeShipping, points) }
    }

    fn ladder() -> TierLadder {
        let tier = |id: &str, threshold| Tier {
            id: id.into(),
            name: id.into(),
            threshold,
            multiplier_percent: 100,
            benefits: String::new(),
        };
        TierLadder { tiers: vec![tier("silver", 100), tier("gold", 500)], ..Default::default() }
    }

    fn earned(points: i64, available: i64, source: &str) -> Value {
        json!({"points": points, "available": available,
               "entry": {"source": source, "available_at": "2026-01-01T00:00:00.000Z"}})
    }

    fn run(settings: &NotificationSettings, rewards: &[Reward], event_type: EventType, data: Value) -> Vec<Planned> {
        let tiers = ladder();
        let program = Program { settings, tiers: &tiers, rewards };
        let at = Timestamp::parse_rfc3339("2026-01-01T00:00:00.000Z").unwrap();
        plan(&program, &Event { event_id: "evt_1", event_type, data: &data, created_at: at, tier: None })
    }

    #[test]
    fn nothing_is_planned_without_a_sender() {
        let quiet = NotificationSettings::default();
        assert!(run(&quiet, &[], EventType::CustomerCreated, json!({})).is_empty());
        assert!(run(&quiet, &[reward("r", 10)], EventType::PointsEarned, earned(50, 50, "purchase")).is_empty());
    }

    #[test]
    fn earning_feeds_the_digest_and_crossing_a_cost_unlocks_the_dearest_reward() {
        let rewards = [reward("small", 100), reward("big", 300), reward("huge", 1000)];
        let planned = run(&settings(), &rewards, EventType::PointsEarned, earned(250, 320, "purchase"));
        assert!(
            matches!(&planned[0], Planned::Gathered { kind: MessageKind::PointsEarned, points: 250, period_ms, .. }
            if *period_ms == 24 * 3_600_000),
            "{planned:?}"
        );
        let Planned::Once { kind, dedupe_key, points, .. } = &planned[1] else { panic!("{planned:?}") };
        assert_eq!((kind, dedupe_key.as_str(), *points), (&MessageKind::RewardUnlocked, "reward:big", 320));
        // Already above every cost reached: nothing is unlocked again.
        let planned = run(&settings(), &rewards, EventType::PointsEarned, earned(10, 330, "purchase"));
        assert_eq!(planned.len(), 1);
    }

    #[test]
    fn pending_points_unlock_nothing_and_a_birthday_is_its_own_message() {
        let mut pending = earned(250, 0, "purchase");
        pending["entry"]["available_at"] = json!("2026-02-01T00:00:00.000Z");
        let planned = run(&settings(), &[reward("r", 100)], EventType::PointsEarned, pending);
        assert!(
            matches!(planned.as_slice(), [Planned::Gathered { kind: MessageKind::PointsEarned, .. }]),
            "{planned:?}"
        );
        let planned = run(&settings(), &[], EventType::PointsEarned, earned(200, 200, "birthday"));
        assert!(
            matches!(&planned[..], [Planned::Once { kind: MessageKind::Birthday, dedupe_key, points: 200, .. }]
            if dedupe_key == "birthday:2026"),
            "{planned:?}"
        );
    }

    #[test]
    fn only_a_move_up_the_ladder_is_a_tier_up() {
        let up = run(&settings(), &[], EventType::TierChanged, json!({"from_tier": "silver", "to_tier": "gold"}));
        assert!(matches!(&up[..], [Planned::Once { kind: MessageKind::TierUp, .. }]));
        let first = run(&settings(), &[], EventType::TierChanged, json!({"from_tier": null, "to_tier": "silver"}));
        assert_eq!(first.len(), 1);
        let down = run(&settings(), &[], EventType::TierChanged, json!({"from_tier": "gold", "to_tier": "silver"}));
        assert!(down.is_empty());
    }

    #[test]
    fn expiry_warnings_are_keyed_by_their_batch_and_the_last_chance_is_optional() {
        let data = json!({"points": 40, "expires_at": "2026-03-01T00:00:00.000Z", "last_chance": true});
        assert!(run(&settings(), &[], EventType::PointsExpiringSoon, data.clone()).is_empty());
        let with_reminder = NotificationSettings { last_chance_days: Some(7), ..settings() };
        let planned = run(&with_reminder, &[], EventType::PointsExpiringSoon, data);
        assert!(
            matches!(&planned[..], [Planned::Gathered { kind: MessageKind::LastChance, dedupe_key, points: 40, .. }]
            if dedupe_key == "last_chance:2026-03-01T00:00:00.000Z")
        );
    }

    #[test]
    fn a_tier_at_risk_is_told_only_when_switched_on() {
        let data =
            json!({"tier": "gold", "drops_at": "2026-03-01T00:00:00.000Z", "needed": 120, "basis": "points_earned"});
        assert!(run(&settings(), &[], EventType::TierAtRisk, data.clone()).is_empty(), "off by default");
        let on = NotificationSettings { tier_at_risk: true, ..settings() };
        let planned = run(&on, &[], EventType::TierAtRisk, data);
        let [Planned::Once { kind: MessageKind::TierAtRisk, dedupe_key, data, .. }] = &planned[..] else {
            panic!("{planned:?}")
        };
        assert_eq!(
            (dedupe_key.as_str(), &data["tier_id"], &data["needed"]),
            ("tier_at_risk:evt_1", &json!("gold"), &json!(120))
        );
    }
}
