//! Referral links: each customer's short code, the settings of the links, and the checks a
//! claimed referral passes before it pays (pure: storage and the points service feed it).

use serde::{Deserialize, Serialize};

use crate::message::{message, FieldError};

/// Letters and digits a shopper cannot misread (no 0/O, 1/I/L): a code survives being read
/// aloud or typed from a phone.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub const CODE_LENGTH: usize = 8;

/// A new random code (31^8 ≈ 8.5·10^11: a collision within one program is rare, and the
/// storage's unique key turns it into another try).
pub fn new_code() -> String {
    let bytes = crate::secrets::random_bytes();
    bytes[..CODE_LENGTH].iter().map(|byte| CODE_ALPHABET[usize::from(*byte) % CODE_ALPHABET.len()] as char).collect()
}

/// A code as a shopper may have typed or a link carried it (any case, spaces around), or
/// `None` when it cannot be one of ours.
pub fn parse_code(raw: &str) -> Option<String> {
    let code = raw.trim().to_ascii_uppercase();
    (code.len() == CODE_LENGTH && code.bytes().all(|byte| CODE_ALPHABET.contains(&byte))).then_some(code)
}

/// The mailbox behind an address: what reaches the same person. Lower case; a `+tag` dropped;
/// for Gmail, dots in the local part dropped and `googlemail.com` read as `gmail.com`.
pub fn mailbox(email: &str) -> String {
    let email = email.trim().to_lowercase();
    let Some((local, domain)) = email.rsplit_once('@') else { return email };
    let local = local.split('+').next().unwrap_or(local);
    let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
    if domain == "gmail.com" {
        format!("{}@{domain}", local.replace('.', ""))
    } else {
        format!("{local}@{domain}")
    }
}

/// Where a referral stands: approved ones pay on the referred customer's first order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    Approved,
    /// Waiting for the merchant: a check found something (see the hold reasons).
    Held,
    Rejected,
}

impl ReferralStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Held => "held",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Approved, Self::Held, Self::Rejected].into_iter().find(|status| status.as_str() == text)
    }
}

/// Why a claimed referral waits for the merchant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    /// The referrer and the referred customer read the same mailbox (`+tags`, Gmail dots).
    SameMailbox,
    /// The referred customer had ordered before the referral: not a new customer.
    AlreadyOrdered,
    /// Too many referrals claimed from one network address in the window.
    ManyFromAddress,
    /// Too many referrals claimed from one browser in the window.
    ManyFromDevice,
}

/// What the checks know of a claim.
#[derive(Clone, Debug, Default)]
pub struct ClaimFacts {
    pub referrer_email: Option<String>,
    pub referred_email: Option<String>,
    pub referred_orders: u64,
    /// Earlier claims in the window from the same address and the same device.
    pub claims_from_address: u64,
    pub claims_from_device: u64,
}

/// Every check a claim fails, in a stable order; none: the referral is approved.
pub fn hold_reasons(settings: &ReferralSettings, facts: &ClaimFacts) -> Vec<HoldReason> {
    let mut reasons = Vec::new();
    if let (Some(referrer), Some(referred)) = (&facts.referrer_email, &facts.referred_email) {
        if mailbox(referrer) == mailbox(referred) {
            reasons.push(HoldReason::SameMailbox);
        }
    }
    if facts.referred_orders > 0 {
        reasons.push(HoldReason::AlreadyOrdered);
    }
    if facts.claims_from_address >= u64::from(settings.max_claims) {
        reasons.push(HoldReason::ManyFromAddress);
    }
    if facts.claims_from_device >= u64::from(settings.max_claims) {
        reasons.push(HoldReason::ManyFromDevice);
    }
    reasons
}

/// How a program's referral links work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReferralSettings {
    /// The link's query parameter: `https://shop.example/?ref=CODE`.
    pub parameter: String,
    /// Days the storefront remembers a visitor's referral code before they sign up or order.
    pub keep_days: u32,
    /// Referrals claimed from one network address, or one browser, within `window_hours`
    /// before the next one is held for review.
    pub max_claims: u32,
    pub window_hours: u32,
}

impl Default for ReferralSettings {
    fn default() -> Self {
        Self { parameter: "ref".into(), keep_days: 30, max_claims: 3, window_hours: 24 }
    }
}

impl ReferralSettings {
    pub fn validate(&self) -> Result<(), FieldError> {
        let parameter_ok = (1..=32).contains(&self.parameter.len())
            && self.parameter.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-'));
        if !parameter_ok {
            return Err(FieldError::new(
                "parameter",
                message!("1 to 32 letters, digits, _ or - (a URL query parameter like ref)"),
            ));
        }
        if !(1..=365).contains(&self.keep_days) {
            return Err(FieldError::new("keep_days", message!("1 to 365 days")));
        }
        if !(1..=1000).contains(&self.max_claims) {
            return Err(FieldError::new("max_claims", message!("1 to 1000 referrals")));
        }
        if !(1..=720).contains(&self.window_hours) {
            return Err(FieldError::new("window_hours", message!("1 to 720 hours")));
        }
        Ok(())
    }

    pub fn window_ms(&self) -> i64 {
        i64::from(self.window_hours) * 3_600_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unambiguous_and_parse_back_in_any_case() {
        let code = new_code();
        assert_eq!(code.len(), CODE_LENGTH);
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']), "{code}");
        assert_eq!(parse_code(&format!(" {} ", code.to_lowercase())), Some(code));
        assert_eq!(parse_code("ABC"), None);
        assert_eq!(parse_code("ABCDEFG0"), None, "0 is not in the alphabet");
        assert_eq!(parse_code("ABCDEFGHJ"), None);
    }

    #[test]
    fn one_mailbox_behind_tags_dots_and_googlemail() {
        assert_eq!(mailbox("Ana.Kim+shop@Gmail.com"), "anakim@gmail.com");
        assert_eq!(mailbox("a.n.a.kim@googlemail.com"), "anakim@gmail.com");
        assert_eq!(mailbox("ana.kim+x@example.com"), "ana.kim@example.com", "dots matter outside Gmail");
        assert_ne!(mailbox("ana@example.com"), mailbox("ana@example.org"));
    }

    #[test]
    fn each_check_holds_for_its_own_reason() {
        let settings = ReferralSettings { max_claims: 2, ..ReferralSettings::default() };
        let clean = ClaimFacts {
            referrer_email: Some("ana@gmail.com".into()),
            referred_email: Some("ben@gmail.com".into()),
            claims_from_address: 1,
            claims_from_device: 1,
            ..ClaimFacts::default()
        };
        assert!(hold_reasons(&settings, &clean).is_empty());
        let same = ClaimFacts { referred_email: Some("a.n.a+2@googlemail.com".into()), ..clean.clone() };
        assert_eq!(hold_reasons(&settings, &same), [HoldReason::SameMailbox]);
        let ordered = ClaimFacts { referred_orders: 1, ..clean.clone() };
        assert_eq!(hold_reasons(&settings, &ordered), [HoldReason::AlreadyOrdered]);
        let address = ClaimFacts { claims_from_address: 2, ..clean.clone() };
        assert_eq!(hold_reasons(&settings, &address), [HoldReason::ManyFromAddress]);
        let device = ClaimFacts { claims_from_device: 2, ..clean.clone() };
        assert_eq!(hold_reasons(&settings, &device), [HoldReason::ManyFromDevice]);
        let unknown_email = ClaimFacts { referred_email: None, ..same };
        assert!(hold_reasons(&settings, &unknown_email).is_empty());
    }

    #[test]
    fn settings_are_checked() {
        assert!(ReferralSettings::default().validate().is_ok());
        let bad = |settings: ReferralSettings| settings.validate().unwrap_err().field;
        assert_eq!(bad(ReferralSettings { parameter: "r f".into(), ..Default::default() }), "parameter");
        assert_eq!(bad(ReferralSettings { keep_days: 0, ..Default::default() }), "keep_days");
        assert_eq!(bad(ReferralSettings { max_claims: 0, ..Default::default() }), "max_claims");
        assert_eq!(bad(ReferralSettings { window_hours: 721, ..Default::default() }), "window_hours");
    }
}
