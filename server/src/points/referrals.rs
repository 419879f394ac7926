//! Referrals: each customer's code, a referral reported by the merchant or claimed from a link
//! (checked, and held for review when a check finds something), the merchant's decision, and
//! the awards on the referred customer's first order.

use std::net::IpAddr;

use serde::Serialize;

use super::{customer_id, PointsError, PointsService};
use crate::{
    console_users::AuditEntry,
    customers::CustomerId,
    ledger::{Operation, Timestamp, MAX_POINTS_PER_WRITE},
    message::message,
    programs::Program,
    referrals::{self, ClaimFacts, ReferralStatus},
    secrets,
    storage::{CapCheck, ClientId, FollowUp, LedgerWrite, NewReferral, Referral, ReferralOutcome},
};

/// Who referred a new customer, as the merchant reports it; both earn on the customer's first
/// order.
#[derive(Clone, Debug, Serialize)]
pub struct ReferralEvent {
    pub customer_id: String,
    pub referrer_id: String,
}

/// A referral code brought by a shopper: from the widget (the link's code kept by the
/// storefront) or from an order a store connection reports.
#[derive(Clone, Debug)]
pub struct ReferralClaim {
    pub referred: CustomerId,
    /// The referred customer's email as the claim's source knows it (token, order).
    pub email: Option<String>,
    pub code: String,
    /// `widget`, `shopify` or `woocommerce`.
    pub channel: &'static str,
    /// The shopper's network address and browser, fingerprinted before they are stored.
    pub address: Option<IpAddr>,
    pub device: Option<String>,
}

/// Up to this many tries for a code no other customer of the program has.
const CODE_TRIES: usize = 8;

impl PointsService {
    /// Remembers who referred the customer (the merchant's word: approved); `true` when it
    /// was recorded before.
    pub async fn record_referral(
        &self,
        program: &Program,
        event: &ReferralEvent,
    ) -> Result<(Referral, bool), PointsError> {
        let referred = customer_id("customer_id", &event.customer_id)?;
        require_referral_rule(program, "type")?;
        let referrer = customer_id("referrer_id", &event.referrer_id)?;
        if referrer == referred {
            return Err(PointsError::invalid("referrer_id", message!("a customer cannot refer themselves")));
        }
        if self.storage.customer(&program.id, &referrer, program.settings.expiry).await?.is_none() {
            return Err(PointsError::invalid(
                "referrer_id",
                message!("no customer {0} in this program", format!("{:?}", event.referrer_id)),
            ));
        }
        if self.storage.order_count(&program.id, &referred).await? > 0 {
            return Err(PointsError::AlreadyOrdered);
        }
        let new = NewReferral {
            referrer,
            status: ReferralStatus::Approved,
            hold_reasons: Vec::new(),
            channel: "api",
            code: None,
            address_hash: None,
            device_hash: None,
        };
        self.save_referral(program, &referred, &new).await
    }

    async fn save_referral(
        &self,
        program: &Program,
        referred: &CustomerId,
        new: &NewReferral,
    ) -> Result<(Referral, bool), PointsError> {
        match self.storage.record_referral(&program.id, referred, new, self.now()).await? {
            ReferralOutcome::Recorded(referral) => Ok((referral, false)),
            ReferralOutcome::AlreadyRecorded(referral) => Ok((referral, true)),
            ReferralOutcome::Conflict(referral) => Err(PointsError::AlreadyReferred { referrer: referral.referrer_id }),
        }
    }

    /// The customer's referral code, given on first ask (and theirs for good).
    pub async fn referral_code(&self, program: &Program, customer: &CustomerId) -> Result<String, PointsError> {
        if let Some(code) = self.storage.referral_code(&program.id, customer).await? {
            return Ok(code);
        }
        for _ in 0..CODE_TRIES {
            let code = referrals::new_code();
            if let Some(code) = self.storage.save_referral_code(&program.id, customer, &code, self.now()).await? {
                return Ok(code);
            }
        }
        Err(PointsError::Storage(crate::storage::StorageError::Corrupt(
            "no free referral code after several tries".into(),
        )))
    }

    /// A shopper's referral code, checked: recorded as approved, or held for the merchant
    /// with every reason a check found; `true` when this customer's referral was recorded
    /// before (by the same referrer: the first record stands).
    pub async fn claim_referral(&self, program: &Program, claim: &ReferralClaim) -> Result<(Referral, bool), PointsError> {
        require_referral_rule(program, "code")?;
        let code = referrals::parse_code(&claim.code).ok_or_else(|| {
            PointsError::invalid("code", message!("{0} is not a referral code", format!("{:?}", claim.code)))
        })?;
        let referrer = self.storage.referrer_by_code(&program.id, &code).await?.ok_or_else(|| {
            PointsError::invalid("code", message!("no customer has the referral code {0}", format!("{code:?}")))
        })?;
        let referrer = customer_id("code", &referrer)?;
        if referrer == claim.referred {
            return Err(PointsError::invalid("code", message!("this is the customer's own referral code")));
        }
        if let Some(device) = &claim.device {
            if device.is_empty() || device.len() > 100 || device.chars().any(char::is_control) {
                return Err(PointsError::invalid("device", message!("device must be 1 to 100 characters")));
            }
        }
        if let Some(existing) = self.storage.referral(&program.id, &claim.referred).await? {
            return if existing.referrer_id == referrer.as_str() {
                Ok((existing, true))
            } else {
                Err(PointsError::AlreadyReferred { referrer: existing.referrer_id })
            };
        }
        let settings = &program.settings.referrals;
        let key = self.storage.secret_keys().derive("tally referral claim fingerprint v1");
        let fingerprint = |kind: &str, value: &str| secrets::keyed_hash(&key, &format!("{}\0{kind}\0{value}", program.id));
        let address_hash = claim.address.map(|address| fingerprint("address", &network(address)));
        let device_hash = claim.device.as_deref().map(|device| fingerprint("device", device));
        let since = Timestamp(self.now().0.saturating_sub(settings.window_ms()));
        let (claims_from_address, claims_from_device) = self
            .storage
            .claims_since(&program.id, address_hash.as_deref(), device_hash.as_deref(), since)
            .await?;
        let expiry = program.settings.expiry;
        let email_of = |record: Option<crate::storage::CustomerRecord>| record.and_then(|record| record.profile.email);
        let referred_email = match &claim.email {
            Some(email) => Some(email.clone()),
            None => email_of(self.storage.customer(&program.id, &claim.referred, expiry).await?),
        };
        let facts = ClaimFacts {
            referrer_email: email_of(self.storage.customer(&program.id, &referrer, expiry).await?),
            referred_email,
            referred_orders: self.storage.order_count(&program.id, &claim.referred).await?,
            claims_from_address,
            claims_from_device,
        };
        let hold_reasons = referrals::hold_reasons(settings, &facts);
        let new = NewReferral {
            referrer,
            status: if hold_reasons.is_empty() { ReferralStatus::Approved } else { ReferralStatus::Held },
            hold_reasons,
            channel: claim.channel,
            code: Some(code),
            address_hash,
            device_hash,
        };
        self.save_referral(program, &claim.referred, &new).await
    }

    /// The merchant's decision on a held referral, audited in its transaction. Approving the
    /// referral of a customer who has ordered pays both awards now (a customer who has not
    /// ordered yet earns them on the first order, as any approved referral).
    pub async fn decide_referral(
        &self,
        program: &Program,
        referred: &str,
        approve: bool,
        audit: AuditEntry,
    ) -> Result<Referral, PointsError> {
        let referred = customer_id("customer_id", referred)?;
        let referral = self
            .storage
            .referral(&program.id, &referred)
            .await?
            .ok_or_else(|| PointsError::NoReferral(referred.as_str().to_owned()))?;
        if referral.status != ReferralStatus::Held {
            return Err(PointsError::ReferralDecided(referral.status));
        }
        let now = self.now();
        let awards = if approve && self.storage.order_count(&program.id, &referred).await? > 0 {
            self.awards_of(program, &referral, now)?
        } else {
            Vec::new()
        };
        let status = if approve { ReferralStatus::Approved } else { ReferralStatus::Rejected };
        if !self.storage.decide_referral(&program.id, &referred, status, now, &audit, &awards).await? {
            let decided = self.storage.referral(&program.id, &referred).await?.map_or(status, |r| r.status);
            return Err(PointsError::ReferralDecided(decided));
        }
        self.wake_outbox();
        self.storage
            .referral(&program.id, &referred)
            .await?
            .ok_or_else(|| PointsError::NoReferral(referred.as_str().to_owned()))
    }

    /// On a referred customer's first order, an approved referral pays: the referrer earns the
    /// referral rule's points (within its cap) and the customer its `referred_points`, in the
    /// order's transaction. Each award has its own client id, so nothing is ever paid twice.
    pub(super) async fn referral_awards(
        &self,
        program: &Program,
        referred: &CustomerId,
        now: Timestamp,
    ) -> Result<Vec<FollowUp>, PointsError> {
        match self.storage.referral(&program.id, referred).await? {
            Some(referral) if referral.status == ReferralStatus::Approved && referral.rewarded_at.is_none() => {
                self.awards_of(program, &referral, now)
            }
            _ => Ok(Vec::new()),
        }
    }

    fn awards_of(&self, program: &Program, referral: &Referral, now: Timestamp) -> Result<Vec<FollowUp>, PointsError> {
        let Some(rule) = program.settings.action_rule("referral") else { return Ok(Vec::new()) };
        let referrer = customer_id("referrer_id", &referral.referrer_id)?;
        let referred = customer_id("customer_id", &referral.referred_id)?;
        let awards = [
            (referrer, rule.points, "referral", "referrer"),
            (referred.clone(), rule.referred_points.unwrap_or(0), "referred", "referred"),
        ];
        let mut follow_ups = Vec::new();
        for (customer, points, source, role) in awards {
            if points <= 0 {
                continue;
            }
            let client =
                ClientId { kind: "referral", id: format!("{role}:{}", referred.as_str()), request_hash: String::new() };
            let operation = Operation::Earn { points: points.min(MAX_POINTS_PER_WRITE), available_at: now };
            let mut write = LedgerWrite::new(program, customer, Some(client), operation, source, now);
            write.reference = Some(referred.as_str().to_owned());
            if role == "referrer" {
                // A referrer over their cap simply earns nothing for this one.
                write.cap = rule.effective_cap().map(|cap| CapCheck { since: now.start_of(cap.per), max: cap.count });
            }
            follow_ups.push(FollowUp::Write(Box::new(write)));
        }
        follow_ups.push(FollowUp::MarkReferralRewarded { referred });
        Ok(follow_ups)
    }
}

fn require_referral_rule(program: &Program, field: &str) -> Result<(), PointsError> {
    match program.settings.action_rule("referral") {
        Some(_) => Ok(()),
        None => Err(PointsError::invalid(field, message!("no earning rule for \"referral\" in this program"))),
    }
}

/// The network a claim came from: an IPv4 address, or the /64 of an IPv6 one (one household
/// or phone holds a whole /64).
fn network(address: IpAddr) -> String {
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::network;

    #[test]
    fn an_ipv6_claim_counts_by_its_64() {
        let a = network("2001:db8:1:2:aaaa::1".parse().unwrap());
        assert_eq!(a, network("2001:db8:1:2:bbbb::9".parse().unwrap()));
        assert_ne!(a, network("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(network("203.0.113.7".parse().unwrap()), "203.0.113.7");
    }
}
