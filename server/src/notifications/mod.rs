//! Emails to shoppers: what is sent, when, in which language, and how.
//!
//! - [`plan`] decides from the events a write committed (the transactional outbox) which
//!   messages a customer gets. It is pure; the outbox relay calls it in the transaction that
//!   marks those events relayed, so each event is planned once, a write that rolled back plans
//!   nothing and a crash after the commit loses nothing.
//! - [`templates`] renders a message from the program's texts or Tally's defaults, in five
//!   languages (minijinja; the HTML part escapes everything the merchant or the data brings).
//! - [`worker::EmailWorker`] sends due messages through [`mailer::Mailer`] (SMTP) with retries,
//!   leasing each so that replicas send it once, and records what came of it.
//! - [`unsubscribe`] signs and checks the one-click links (RFC 8058).
//!
//! Transactional messages (about the customer's own points: earned, a reward unlocked, points
//! about to expire, a new tier) go to every member who has not unsubscribed. Marketing messages
//! (welcome, birthday) also need the customer's marketing consent. Nothing is sent until the
//! program has a sender address.

pub mod mailer;
pub mod plan;
pub mod templates;
pub mod unsubscribe;
pub mod worker;

use serde::{Deserialize, Serialize};
use tally_app::lang::Lang;

use crate::message::{message, FieldError};

/// Every message a customer can get.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Welcome,
    PointsEarned,
    RewardUnlocked,
    PointsExpiring,
    /// The optional second warning, a few days before the batch expires.
    LastChance,
    TierUp,
    /// Optional: the rolling window is about to take the customer's tier.
    TierAtRisk,
    Birthday,
}

/// Whether a message needs the customer's marketing consent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageClass {
    /// About the customer's own points: sent unless they unsubscribed.
    Transactional,
    /// Sent only with marketing consent, and unless they unsubscribed.
    Marketing,
}

impl MessageKind {
    pub const ALL: [Self; 8] = [
        Self::Welcome,
        Self::PointsEarned,
        Self::RewardUnlocked,
        Self::PointsExpiring,
        Self::LastChance,
        Self::TierUp,
        Self::TierAtRisk,
        Self::Birthday,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::PointsEarned => "points_earned",
            Self::RewardUnlocked => "reward_unlocked",
            Self::PointsExpiring => "points_expiring",
            Self::LastChance => "last_chance",
            Self::TierUp => "tier_up",
            Self::TierAtRisk => "tier_at_risk",
            Self::Birthday => "birthday",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    pub fn class(self) -> MessageClass {
        match self {
            Self::Welcome | Self::Birthday => MessageClass::Marketing,
            _ => MessageClass::Transactional,
        }
    }
}

/// A message's subject and body as the merchant wrote them for one language; `{{ points }}`
/// and the other values of [`templates::VALUES`] fill in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageText {
    pub kind: MessageKind,
    /// `en`, `ko`, `ja`, `zh-CN` or `id`.
    pub language: String,
    pub subject: String,
    /// Plain text; blank lines separate paragraphs.
    pub body: String,
}

/// A tier at risk is announced this many days ahead unless the program says otherwise.
pub const TIER_AT_RISK_DAYS: u32 = 30;

/// A program's emails. Every message but the tier at risk is on by default, and none is sent until
/// `sender_address` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotificationSettings {
    /// The From name; the program's name when absent.
    pub sender_name: Option<String>,
    /// The From address (`loyalty@shop.example`); no email is sent without one.
    pub sender_address: Option<String>,
    pub reply_to: Option<String>,
    /// Every message links here with the widget open (`?tally=open`).
    pub storefront_url: Option<String>,
    /// For customers whose profile has no language: `en` when absent.
    pub default_language: Option<String>,
    pub welcome: bool,
    pub points_earned: bool,
    /// At most one points-earned email per customer in this many hours, summing what came in
    /// (0: one per earn). 0 to 168.
    pub earned_batch_hours: u32,
    pub reward_unlocked: bool,
    pub points_expiring: bool,
    /// Points are announced (emails and `points.expiring_soon` events) this many days before
    /// they expire: 1 to 365.
    pub expiry_warning_days: u32,
    /// A last-chance reminder this many days before (fewer than `expiry_warning_days`); none
    /// when absent.
    pub last_chance_days: Option<u32>,
    pub tier_up: bool,
    /// Off unless switched on: a warning before a rolling window takes the customer's tier.
    pub tier_at_risk: bool,
    /// A tier at risk is announced (emails and `tier.at_risk` events) this many days before the
    /// window would take it: 1 to 365.
    pub tier_at_risk_days: u32,
    pub birthday: bool,
    /// The merchant's texts; Tally's defaults for the others.
    pub texts: Vec<MessageText>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            sender_name: None,
            sender_address: None,
            reply_to: None,
            storefront_url: None,
            default_language: None,
            welcome: true,
            points_earned: true,
            earned_batch_hours: 24,
            reward_unlocked: true,
            points_expiring: true,
            expiry_warning_days: crate::points::EXPIRING_SOON_DAYS,
            last_chance_days: None,
            tier_up: true,
            tier_at_risk: false,
            tier_at_risk_days: TIER_AT_RISK_DAYS,
            birthday: true,
            texts: Vec::new(),
        }
    }
}

impl NotificationSettings {
    /// Whether `kind` is sent: the program has a sender and the message is on.
    pub fn sends(&self, kind: MessageKind) -> bool {
        self.sender_address.is_some() && self.switched_on(kind)
    }

    /// Whether `kind` is on, sender or not; the last chance follows the expiry warnings and
    /// its days.
    pub fn switched_on(&self, kind: MessageKind) -> bool {
        match kind {
            MessageKind::LastChance => self.points_expiring && self.last_chance_days.is_some(),
            other => self.switch(other).is_some_and(|on| *on),
        }
    }

    /// The switch of `kind` (the last chance has none: its days turn it on).
    fn switch(&self, kind: MessageKind) -> Option<&bool> {
        Some(match kind {
            MessageKind::Welcome => &self.welcome,
            MessageKind::PointsEarned => &self.points_earned,
            MessageKind::RewardUnlocked => &self.reward_unlocked,
            MessageKind::PointsExpiring => &self.points_expiring,
            MessageKind::TierUp => &self.tier_up,
            MessageKind::TierAtRisk => &self.tier_at_risk,
            MessageKind::Birthday => &self.birthday,
            MessageKind::LastChance => return None,
        })
    }

    /// Turns `kind` on or off (the last chance: see [`Self::switched_on`]).
    pub fn set_switch(&mut self, kind: MessageKind, on: bool) {
        let switch = match kind {
            MessageKind::Welcome => &mut self.welcome,
            MessageKind::PointsEarned => &mut self.points_earned,
            MessageKind::RewardUnlocked => &mut self.reward_unlocked,
            MessageKind::PointsExpiring => &mut self.points_expiring,
            MessageKind::TierUp => &mut self.tier_up,
            MessageKind::TierAtRisk => &mut self.tier_at_risk,
            MessageKind::Birthday => &mut self.birthday,
            MessageKind::LastChance => return,
        };
        *switch = on;
    }

    pub fn default_lang(&self) -> Lang {
        self.default_language.as_deref().and_then(Lang::from_tag).unwrap_or_default()
    }

    /// The language of a customer whose profile says `language`: theirs, else the program's.
    pub fn lang_for(&self, language: Option<&str>) -> Lang {
        language.and_then(Lang::from_tag).unwrap_or(self.default_lang())
    }

    /// The storefront with the widget open (`?tally=open`), where every message links.
    pub fn store_link(&self) -> Option<String> {
        let url = self.storefront_url.as_deref()?;
        Some(format!("{url}{}tally=open", if url.contains('?') { '&' } else { '?' }))
    }

    /// The merchant's text of `kind` in `lang`, if they wrote one.
    pub fn text(&self, kind: MessageKind, lang: Lang) -> Option<&MessageText> {
        self.texts.iter().find(|text| text.kind == kind && Lang::from_tag(&text.language) == Some(lang))
    }

    pub fn validate(&self) -> Result<(), FieldError> {
        let header_safe = |text: &str| !text.chars().any(char::is_control);
        if self
            .sender_name
            .as_deref()
            .is_some_and(|name| name.trim().is_empty() || name.chars().count() > 100 || !header_safe(name))
        {
            return Err(FieldError::new("sender_name", message!("1 to 100 characters on one line")));
        }
        for (field, address) in [("sender_address", &self.sender_address), ("reply_to", &self.reply_to)] {
            if address.as_deref().is_some_and(|address| !crate::customers::is_email(address)) {
                return Err(FieldError::new(
                    field,
                    message!("email must be an address like name@example.com, at most 254 characters"),
                ));
            }
        }
        if self.storefront_url.as_deref().is_some_and(|url| !crate::programs::is_page_url(url)) {
            return Err(FieldError::new(
                "storefront_url",
                message!("an http(s) address like https://shop.example/account"),
            ));
        }
        if self.default_language.as_deref().is_some_and(|tag| !is_language(tag)) {
            return Err(FieldError::new("default_language", message!("one of en, ko, ja, zh-CN, id")));
        }
        if self.earned_batch_hours > 168 {
            return Err(FieldError::new("earned_batch_hours", message!("0 to 168 hours")));
        }
        if !(1..=365).contains(&self.expiry_warning_days) {
            return Err(FieldError::new("expiry_warning_days", message!("1 to 365 days")));
        }
        if !(1..=365).contains(&self.tier_at_risk_days) {
            return Err(FieldError::new("tier_at_risk_days", message!("1 to 365 days")));
        }
        if self.last_chance_days.is_some_and(|days| days == 0 || days >= self.expiry_warning_days) {
            return Err(FieldError::new(
                "last_chance_days",
                message!("at least 1 day and fewer than expiry_warning_days"),
            ));
        }
        for (index, text) in self.texts.iter().enumerate() {
            let field = |name: &str| format!("texts[{index}].{name}");
            if !is_language(&text.language) {
                return Err(FieldError::new(field("language"), message!("one of en, ko, ja, zh-CN, id")));
            }
            let lang = Lang::from_tag(&text.language);
            if self.texts[..index]
                .iter()
                .any(|other| other.kind == text.kind && Lang::from_tag(&other.language) == lang)
            {
                return Err(FieldError::new(field("language"), message!("one text per message and language")));
            }
            if text.subject.trim().is_empty() || text.subject.chars().count() > 200 || !header_safe(&text.subject) {
                return Err(FieldError::new(field("subject"), message!("1 to 200 characters on one line")));
            }
            if text.body.trim().is_empty() || text.body.chars().count() > 5_000 {
                return Err(FieldError::new(field("body"), message!("1 to 5000 characters")));
            }
            for (name, source) in [("subject", &text.subject), ("body", &text.body)] {
                if let Err(error) = templates::check(source) {
                    return Err(FieldError::new(field(name), message!("the template does not render: {0}", error)));
                }
            }
        }
        Ok(())
    }
}

/// One of the five tags Tally speaks, exactly as written (`en`, `ko`, `ja`, `zh-CN`, `id`).
pub fn is_language(tag: &str) -> bool {
    Lang::ALL.iter().any(|lang| lang.tag() == tag)
}
