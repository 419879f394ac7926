//! Programs: the stores hosted on this server. Every other record belongs to exactly one.

use serde::{Deserialize, Serialize};

use crate::{
    ledger::Timestamp,
    ledger::{ClawbackPolicy, ExpiryPolicy},
    message::{message, FieldError, Message},
    rules::{ActionRule, Campaign, CampaignTarget, PurchaseRule},
    secrets,
    tiers::TierLadder,
};

/// A program as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    pub id: String,
    pub name: String,
    pub currency: String,
    pub points_name: String,
    /// Identifies the program in the browser (`data-program="pk_..."`); not a secret.
    pub publishable_key: String,
    /// Storefront origins allowed to call the widget API (`https://shop.example`).
    pub allowed_origins: Vec<String>,
    /// Signs customer JWTs (HS256), shared with the merchant's backend.
    pub widget_secret: String,
    pub settings: ProgramSettings,
}

/// How the program's points behave. Stored as JSON; absent fields take their defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProgramSettings {
    /// Days purchase points stay pending (0: available at once).
    pub pending_days: u32,
    pub expiry: ExpiryPolicy,
    pub clawback: ClawbackPolicy,
    pub purchase: PurchaseRule,
    pub actions: Vec<ActionRule>,
    pub tiers: TierLadder,
    pub campaigns: Vec<Campaign>,
    /// How the storefront widget looks and where its guest links go.
    pub widget: WidgetSettings,
    /// IANA name (`Asia/Seoul`) for the dashboard's days; UTC when absent.
    pub time_zone: Option<String>,
    /// What points are worth, for the liability the dashboard shows.
    pub redemption_value: RedemptionValue,
    /// Merchant API requests allowed per secret key a minute (per server replica): 1 to
    /// 100000; the server's `--api-requests-per-minute` (600 unless set) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_requests_per_minute: Option<u32>,
    /// Emails to customers and the expiry warning window.
    pub notifications: crate::notifications::NotificationSettings,
    /// Referral links: their parameter, how long a storefront keeps a code, the fraud window.
    pub referrals: crate::referrals::ReferralSettings,
}

/// `amount` minor units of the program's currency per `points` points.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedemptionValue {
    pub points: i64,
    pub amount: i64,
}

impl Default for RedemptionValue {
    /// 100 points are worth 1.00 of the currency.
    fn default() -> Self {
        Self { points: 100, amount: 100 }
    }
}

impl RedemptionValue {
    /// What `points` are worth in minor units, rounded down.
    pub fn worth(self, points: i64) -> i64 {
        (i128::from(points) * i128::from(self.amount) / i128::from(self.points.max(1))) as i64
    }
}

/// The widget's branding and the storefront's join and sign-in pages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WidgetSettings {
    /// `#rrggbb`; the widget's default indigo when absent.
    pub primary_color: Option<String>,
    pub launcher_position: LauncherPosition,
    /// The launcher's text; the localized "Rewards" when absent.
    pub launcher_label: Option<String>,
    /// Where a visitor creates an account (shown in the guest view).
    pub join_url: Option<String>,
    pub sign_in_url: Option<String>,
    /// The longest a customer token may live, in minutes from its `iat` (or from when it is
    /// used, without one): 1 to 10080 (a week); a day when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_max_lifetime_minutes: Option<u32>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LauncherPosition {
    #[default]
    BottomRight,
    BottomLeft,
}

impl LauncherPosition {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BottomRight => "bottom-right",
            Self::BottomLeft => "bottom-left",
        }
    }
}

/// A week: a leaked customer token is good for at most this long.
const MAX_TOKEN_LIFETIME_MINUTES: u32 = 10_080;

impl WidgetSettings {
    /// How long a customer token may live, in seconds.
    pub fn token_max_lifetime_seconds(&self) -> i64 {
        self.token_max_lifetime_minutes
            .map_or(crate::customer_token::DEFAULT_MAX_LIFETIME_SECONDS, |minutes| i64::from(minutes) * 60)
    }

    fn validate(&self) -> Result<(), FieldError> {
        if let Some(color) = &self.primary_color {
            if parse_hex_color(color).is_none() {
                return Err(FieldError::new("primary_color", message!("a colour like #4f46e5")));
            }
        }
        if let Some(label) = &self.launcher_label {
            if label.trim().is_empty() || label.chars().count() > 40 {
                return Err(FieldError::new("launcher_label", message!("1 to 40 characters")));
            }
        }
        if self.token_max_lifetime_minutes.is_some_and(|minutes| !(1..=MAX_TOKEN_LIFETIME_MINUTES).contains(&minutes)) {
            return Err(FieldError::new("token_max_lifetime_minutes", message!("1 to 10080 minutes (a week)")));
        }
        for (field, url) in [("join_url", &self.join_url), ("sign_in_url", &self.sign_in_url)] {
            if url.as_deref().is_some_and(|url| !is_page_url(url)) {
                return Err(FieldError::new(field, message!("an http(s) address like https://shop.example/account")));
            }
        }
        Ok(())
    }

    /// Black or white, whichever reads better on the primary colour (WCAG relative luminance).
    pub fn on_primary_color(&self) -> Option<&'static str> {
        let [red, green, blue] = parse_hex_color(self.primary_color.as_deref()?)?;
        let linear = |channel: u8| {
            let value = f64::from(channel) / 255.0;
            if value <= 0.03928 {
                value / 12.92
            } else {
                ((value + 0.055) / 1.055).powf(2.4)
            }
        };
        let luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue);
        // Contrast with white is (1.05)/(L+0.05), with black (L+0.05)/0.05: equal at L ≈ 0.179.
        Some(if luminance > 0.179 { "#111827" } else { "#ffffff" })
    }
}

/// `#rrggbb` as its three channels.
fn parse_hex_color(color: &str) -> Option<[u8; 3]> {
    let hex = color.strip_prefix('#').filter(|hex| hex.len() == 6 && hex.is_ascii())?;
    let channel = |at: usize| u8::from_str_radix(&hex[at..at + 2], 16).ok();
    Some([channel(0)?, channel(2)?, channel(4)?])
}

/// An absolute http(s) address without spaces or quotes (it ends up in an `href`).
pub(crate) fn is_page_url(url: &str) -> bool {
    let Some(rest) = after_http_scheme(url) else { return false };
    !rest.is_empty()
        && !rest.starts_with('/')
        && url.len() <= 2000
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'))
}

impl ProgramSettings {
    /// Checks every setting; the error names the field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if self.api_requests_per_minute.is_some_and(|rate| !(1..=100_000).contains(&rate)) {
            return Err(FieldError::new("api_requests_per_minute", message!("1 to 100000 requests a minute")));
        }
        if self.pending_days > 365 {
            return Err(FieldError::new("pending_days", message!("at most 365 days")));
        }
        match self.expiry {
            ExpiryPolicy::AfterEarning { days } | ExpiryPolicy::AfterInactivity { days }
                if days == 0 || days > 3650 =>
            {
                return Err(FieldError::new("expiry.days", message!("1 to 3650 days")))
            }
            _ => {}
        }
        let purchase = &self.purchase;
        if purchase.points < 0 || purchase.per_amount <= 0 {
            return Err(FieldError::new(
                "purchase.per_amount",
                message!("points must not be negative and per_amount must be positive"),
            ));
        }
        if purchase.minimum_order < 0 {
            return Err(FieldError::new("purchase.minimum_order", message!("must not be negative")));
        }
        for (index, multiplier) in purchase.product_multipliers.iter().chain(&purchase.category_multipliers).enumerate()
        {
            if multiplier.percent > 10_000 || multiplier.id.is_empty() {
                return Err(FieldError::new(
                    format!("purchase.multipliers[{index}]"),
                    message!("an id and a percent of 0 to 10000"),
                ));
            }
        }
        self.tiers.validate().map_err(|error| error.within("tiers"))?;
        for (index, campaign) in self.campaigns.iter().enumerate() {
            campaign.validate().map_err(|error| error.within(format_args!("campaigns[{index}]")))?;
        }
        self.widget.validate().map_err(|error| error.within("widget"))?;
        self.notifications.validate().map_err(|error| error.within("notifications"))?;
        self.referrals.validate().map_err(|error| error.within("referrals"))?;
        if self.time_zone.as_deref().is_some_and(|name| crate::dashboard::calendar::time_zone(name).is_none()) {
            return Err(FieldError::new(
                "time_zone",
                message!("an IANA time zone name like Asia/Seoul or America/New_York"),
            ));
        }
        if self.redemption_value.points <= 0 || self.redemption_value.amount < 0 {
            return Err(FieldError::new(
                "redemption_value",
                message!("points must be positive and amount not negative"),
            ));
        }
        for (index, rule) in self.actions.iter().enumerate() {
            rule.validate().map_err(|message| FieldError::new(format!("actions[{index}]"), message))?;
            if self.actions[..index].iter().any(|earlier| earlier.action == rule.action) {
                let action = format!("{:?}", rule.action);
                return Err(FieldError::new(
                    format!("actions[{index}].action"),
                    message!("{0} is configured twice", action),
                ));
            }
        }
        Ok(())
    }

    pub fn action_rule(&self, action: &str) -> Option<&ActionRule> {
        self.actions.iter().find(|rule| rule.action == action)
    }

    /// The combined multiplier (percent) of the campaigns running at `at` for `target`.
    pub fn campaign_percent(&self, at: Timestamp, target: CampaignTarget) -> u32 {
        self.campaigns
            .iter()
            .filter(|campaign| campaign.is_running(at) && campaign.applies_to(target))
            .fold(100u64, |total, campaign| {
                (total.saturating_mul(u64::from(campaign.multiplier_percent)) / 100).min(100_000)
            }) as u32
    }
}

/// A secret API key as stored: only its hash and a recognisable prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: String,
    pub key_hash: String,
    pub key_prefix: String,
}

impl ApiKeyRecord {
    /// A new secret key (`sk_...`, shown once) and the record that is stored for it.
    pub fn generate() -> (String, Self) {
        let secret = secrets::random_token("sk_", 32);
        let record = Self {
            id: secrets::random_token("key_", 8),
            key_hash: secrets::hash_secret(&secret),
            key_prefix: secret[..10].to_owned(),
        };
        (secret, record)
    }
}

/// What `tally program create` prints: the secrets appear here and nowhere else.
#[derive(Debug, Serialize)]
pub struct CreatedProgram {
    pub program_id: String,
    pub secret_key: String,
    pub publishable_key: String,
    pub widget_secret: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum ProgramError {
    Name,
    Currency,
    Origin(String),
}

impl ProgramError {
    pub fn message(&self) -> Message {
        match self {
            Self::Name => message!("the program name must be 1 to 200 characters"),
            Self::Currency => message!("the currency must be an ISO 4217 code of three capital letters, like USD"),
            Self::Origin(origin) => message!(
                "an allowed origin must look like https://shop.example (scheme, host, optional port): {0}",
                format!("{origin:?}")
            ),
        }
    }
}

impl Program {
    /// A new program with fresh keys; returns it with its secret API key record and the
    /// secret key itself.
    pub fn create(
        name: &str,
        currency: &str,
        points_name: &str,
        allowed_origins: Vec<String>,
    ) -> Result<(Self, ApiKeyRecord, String), ProgramError> {
        let name = valid_name(name)?;
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ProgramError::Currency);
        }
        let allowed_origins = normalise_origins(allowed_origins);
        if let Some(bad) = allowed_origins.iter().find(|origin| !is_origin(origin)) {
            return Err(ProgramError::Origin(bad.clone()));
        }
        let (secret_key, api_key) = ApiKeyRecord::generate();
        let program = Self {
            id: secrets::random_token("prg_", 8),
            name: name.to_owned(),
            currency: currency.to_owned(),
            points_name: points_name.to_owned(),
            publishable_key: secrets::random_token("pk_", 16),
            allowed_origins,
            widget_secret: secrets::random_token("whsec_", 32),
            settings: ProgramSettings::default(),
        };
        Ok((program, api_key, secret_key))
    }

    /// Replaces what an admin may change (not the currency: past orders are in it). Checks
    /// everything first and changes nothing on error, which names the field.
    pub fn update(
        &mut self,
        name: &str,
        points_name: &str,
        allowed_origins: Vec<String>,
        settings: ProgramSettings,
    ) -> Result<(), FieldError> {
        let name = valid_name(name).map_err(|error| FieldError::new("name", error.message()))?;
        let points_name = points_name.trim();
        if points_name.is_empty() || points_name.chars().count() > 40 {
            return Err(FieldError::new("points_name", message!("1 to 40 characters")));
        }
        let allowed_origins = normalise_origins(allowed_origins);
        if let Some(index) = allowed_origins.iter().position(|origin| !is_origin(origin)) {
            let message = ProgramError::Origin(allowed_origins[index].clone()).message();
            return Err(FieldError::new(format!("allowed_origins[{index}]"), message));
        }
        settings.validate().map_err(|error| error.within("settings"))?;
        self.name = name.to_owned();
        self.points_name = points_name.to_owned();
        self.allowed_origins = allowed_origins;
        self.settings = settings;
        Ok(())
    }

    /// Exact match on scheme, host and port, as browsers send the `Origin` header.
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }
}

/// A program name, trimmed: 1 to 200 characters.
fn valid_name(name: &str) -> Result<&str, ProgramError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ProgramError::Name);
    }
    Ok(name)
}

/// Origins as browsers send them, from what merchants paste: `https://Shop.example/` is
/// `https://shop.example` (no trailing slash, the scheme and host in lower case, no default
/// port), each once, in the order given. Anything else is left for [`is_origin`] to refuse.
fn normalise_origins(origins: Vec<String>) -> Vec<String> {
    let mut normalised: Vec<String> = Vec::with_capacity(origins.len());
    for origin in origins {
        let trimmed = origin.trim();
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        let mut origin = match trimmed.split_once("://") {
            Some((scheme, rest)) if !rest.contains(['/', '?', '#', '@']) => {
                format!("{}://{}", scheme.to_ascii_lowercase(), rest.to_ascii_lowercase())
            }
            _ => trimmed.to_owned(),
        };
        for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
            if origin.starts_with(scheme) && origin.ends_with(port) {
                origin.truncate(origin.len() - port.len());
            }
        }
        if !normalised.contains(&origin) {
            normalised.push(origin);
        }
    }
    normalised
}

/// `scheme://host[:port]` with nothing after it: the form of the `Origin` header.
fn is_origin(origin: &str) -> bool {
    let Some(rest) = after_http_scheme(origin) else { return false };
    !rest.is_empty()
        && !rest.contains(['/', '?', '#', ' ', '@'])
        && rest.split_once(':').is_none_or(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// What follows `http://` or `https://`; `None` for any other scheme.
fn after_http_scheme(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    matches!(scheme, "http" | "https").then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_validates_and_generates_distinct_keys() {
        let (program, key, secret) =
            Program::create("Demo Store", "USD", "points", vec!["https://shop.example".into()]).unwrap();
        assert!(program.id.starts_with("prg_") && program.publishable_key.starts_with("pk_"));
        assert!(secret.starts_with("sk_") && program.widget_secret.starts_with("whsec_"));
        assert_eq!(key.key_hash, secrets::hash_secret(&secret));
        assert!(secret.starts_with(&key.key_prefix));
        assert_eq!(Program::create(" ", "USD", "points", vec![]).unwrap_err(), ProgramError::Name);
        assert_eq!(Program::create("S", "usd", "points", vec![]).unwrap_err(), ProgramError::Currency);
        assert!(matches!(
            Program::create("S", "USD", "points", vec!["https://shop.example/path".into()]),
            Err(ProgramError::Origin(_))
        ));
    }

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert!(is_origin("http://127.0.0.1:3100"));
        assert!(is_origin("https://shop.example"));
        assert!(!is_origin("shop.example"));
        assert!(!is_origin("https://shop.example/"));
        assert!(!is_origin("https://shop.example:99999"));
        let pasted = ["https://Shop.example/", " https://shop.example ", "https://shop.example:443", "http://localhost:3000/"];
        assert_eq!(
            normalise_origins(pasted.map(String::from).to_vec()),
            ["https://shop.example", "http://localhost:3000"],
            "pasted origins become the browser's form, each once"
        );
        assert_eq!(normalise_origins(vec!["https://shop.example/cart".into()]), ["https://shop.example/cart"], "left to be refused");
    }

    #[test]
    fn widget_settings_are_checked_field_by_field() {
        let valid = WidgetSettings {
            primary_color: Some("#0f766e".into()),
            launcher_position: LauncherPosition::BottomLeft,
            launcher_label: Some("Club".into()),
            join_url: Some("https://shop.example/join".into()),
            sign_in_url: Some("http://localhost:3100/login?next=%2F".into()),
            token_max_lifetime_minutes: Some(60),
        };
        assert_eq!(valid.validate(), Ok(()));
        assert_eq!(valid.token_max_lifetime_seconds(), 3_600);
        assert_eq!(WidgetSettings::default().token_max_lifetime_seconds(), 86_400, "a day by default");
        let field_of = |change: fn(&mut WidgetSettings)| {
            let mut settings = valid.clone();
            change(&mut settings);
            settings.validate().unwrap_err().field
        };
        assert_eq!(field_of(|s| s.primary_color = Some("red".into())), "primary_color");
        assert_eq!(field_of(|s| s.token_max_lifetime_minutes = Some(0)), "token_max_lifetime_minutes");
        assert_eq!(field_of(|s| s.token_max_lifetime_minutes = Some(10_081)), "token_max_lifetime_minutes");
        assert_eq!(field_of(|s| s.primary_color = Some("#12345g".into())), "primary_color");
        assert_eq!(field_of(|s| s.launcher_label = Some("  ".into())), "launcher_label");
        assert_eq!(field_of(|s| s.join_url = Some("javascript:alert(1)".into())), "join_url");
        assert_eq!(field_of(|s| s.sign_in_url = Some("https://shop.example/\"x".into())), "sign_in_url");
        let mut settings = ProgramSettings { widget: valid, ..ProgramSettings::default() };
        settings.widget.join_url = Some("/join".into());
        assert_eq!(settings.validate().unwrap_err().field, "widget.join_url");
    }

    #[test]
    fn text_on_the_primary_colour_is_the_more_readable_of_black_and_white() {
        let on =
            |color: &str| WidgetSettings { primary_color: Some(color.into()), ..Default::default() }.on_primary_color();
        assert_eq!(on("#4f46e5"), Some("#ffffff"));
        assert_eq!(on("#000000"), Some("#ffffff"));
        assert_eq!(on("#facc15"), Some("#111827"));
        assert_eq!(on("#ffffff"), Some("#111827"));
        assert_eq!(WidgetSettings::default().on_primary_color(), None);
    }
}
