//! Customers, keyed by the merchant's own customer id.

use serde::{Deserialize, Serialize};

use crate::{
    ledger::{Operation, Points, Timestamp, MAX_POINTS_PER_WRITE},
    message::{message, Message},
    programs::Program,
    storage::{ClientId, LedgerWrite},
};

/// The merchant's id for a customer: 1 to 128 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CustomerId(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct InvalidCustomerId;

impl InvalidCustomerId {
    pub fn message(&self) -> Message {
        message!("a customer id must be 1 to 128 characters without control characters")
    }
}

impl CustomerId {
    pub fn parse(raw: &str) -> Result<Self, InvalidCustomerId> {
        if is_caller_id(raw) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidCustomerId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` may be an id the caller chose (customer, client and order ids): 1 to 128
/// characters, none of them a control character (NUL included).
pub fn is_caller_id(text: &str) -> bool {
    (1..=128).contains(&text.chars().count()) && !text.chars().any(char::is_control)
}

/// What the merchant tells Tally about a customer. All optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerProfile {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    /// `YYYY-MM-DD` (the year may be any, e.g. 1900 when unknown).
    #[serde(default)]
    pub birthday: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// The language of the customer's emails: `en`, `ko`, `ja`, `zh-CN` or `id` (the
    /// program's default when absent).
    #[serde(default)]
    pub language: Option<String>,
    /// Whether the customer agreed to marketing emails (welcome, birthday), as the store
    /// knows it; unknown (no marketing email) when absent. Messages about their points need
    /// no consent. Unsubscribing through a message's link is kept apart and wins.
    #[serde(default)]
    pub marketing_consent: Option<bool>,
}

impl CustomerProfile {
    /// What a search for part of an email or name looks in: both lower-cased (all of
    /// Unicode: SQLite's `LOWER` folds ASCII only), one per line.
    pub fn search_text(&self) -> String {
        search_text(self.email.as_deref(), self.name.as_deref())
    }
}

/// [`CustomerProfile::search_text`] of an email and a name.
pub fn search_text(email: Option<&str>, name: Option<&str>) -> String {
    format!("{}\n{}", email.unwrap_or_default().to_lowercase(), name.unwrap_or_default().to_lowercase())
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum ProfileError {
    Email,
    Name,
    Birthday,
    Tags,
    Language,
}

impl ProfileError {
    pub fn message(&self) -> Message {
        match self {
            Self::Email => message!("email must be an address like name@example.com, at most 254 characters"),
            Self::Name => message!("name must be at most 200 characters"),
            Self::Birthday => message!("birthday must be a date as YYYY-MM-DD"),
            Self::Tags => message!("tags: at most 50, each 1 to 64 characters"),
            Self::Language => message!("one of en, ko, ja, zh-CN, id"),
        }
    }

    /// The request field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Name => "name",
            Self::Birthday => "birthday",
            Self::Tags => "tags",
            Self::Language => "language",
        }
    }
}

impl CustomerProfile {
    pub fn validate(&self) -> Result<(), ProfileError> {
        if self.email.as_deref().is_some_and(|email| !is_email(email)) {
            return Err(ProfileError::Email);
        }
        if self.language.as_deref().is_some_and(|tag| !crate::notifications::is_language(tag)) {
            return Err(ProfileError::Language);
        }
        if self.name.as_ref().is_some_and(|name| name.chars().count() > 200) {
            return Err(ProfileError::Name);
        }
        if self.birthday.as_deref().is_some_and(|birthday| !is_date(birthday)) {
            return Err(ProfileError::Birthday);
        }
        if self.tags.len() > 50 || self.tags.iter().any(|tag| tag.is_empty() || tag.chars().count() > 64) {
            return Err(ProfileError::Tags);
        }
        Ok(())
    }
}

/// An address like `name@example.com`, at most 254 characters, no spaces.
pub fn is_email(email: &str) -> bool {
    email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `YYYY-MM-DD` naming a real day (leap years included).
pub fn is_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else { return false };
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return false;
    }
    let (Ok(year), Ok(month), Ok(day)) = (year.parse::<u32>(), month.parse::<u32>(), day.parse::<u32>()) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days_in_month).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_ids_are_bounded_and_printable() {
        assert!(CustomerId::parse("cust-42").is_ok());
        assert!(CustomerId::parse(&"x".repeat(128)).is_ok());
        assert_eq!(CustomerId::parse(&"x".repeat(129)), Err(InvalidCustomerId));
        assert_eq!(CustomerId::parse(""), Err(InvalidCustomerId));
        assert_eq!(CustomerId::parse("a\nb"), Err(InvalidCustomerId));
        assert_eq!(Adjustment::parse(i64::MIN, "x"), Err(AdjustmentError::Points), "no overflow at the edge");
    }

    #[test]
    fn profiles_are_validated_field_by_field() {
        let ok = CustomerProfile {
            email: Some("ana@example.com".into()),
            name: Some("Ana".into()),
            birthday: Some("2000-02-29".into()),
            tags: vec!["vip".into()],
            language: Some("zh-CN".into()),
            marketing_consent: Some(true),
        };
        assert_eq!(ok.validate(), Ok(()));
        let bad_language = CustomerProfile { language: Some("zh".into()), ..ok.clone() };
        assert_eq!(bad_language.validate(), Err(ProfileError::Language));
        let bad_email = CustomerProfile { email: Some("ana".into()), ..ok.clone() };
        assert_eq!(bad_email.validate(), Err(ProfileError::Email));
        let bad_day = CustomerProfile { birthday: Some("2001-02-29".into()), ..ok.clone() };
        assert_eq!(bad_day.validate(), Err(ProfileError::Birthday));
        let bad_tags = CustomerProfile { tags: vec![String::new()], ..ok };
        assert_eq!(bad_tags.validate(), Err(ProfileError::Tags));
    }
}

/// A manual adjustment, validated: the same rules whether it comes from the REST API or the
/// console.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Adjustment {
    pub points: Points,
    /// Trimmed; kept as the entry's reference.
    pub reason: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub enum AdjustmentError {
    Points,
    Reason,
}

impl AdjustmentError {
    pub fn message(&self) -> Message {
        match self {
            Self::Points => message!("points must be a whole number other than 0, within ±{0}", MAX_POINTS_PER_WRITE),
            Self::Reason => message!("a reason of 1 to 500 characters is required"),
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            Self::Points => "points",
            Self::Reason => "reason",
        }
    }
}

impl Adjustment {
    pub fn parse(points: Points, reason: &str) -> Result<Self, AdjustmentError> {
        if points == 0 || points.unsigned_abs() > MAX_POINTS_PER_WRITE.unsigned_abs() {
            return Err(AdjustmentError::Points);
        }
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AdjustmentError::Reason);
        }
        Ok(Self { points, reason: reason.to_owned() })
    }

    /// The ledger write that applies it, under the caller's idempotency key.
    pub fn write(&self, program: &Program, customer: CustomerId, client: ClientId, now: Timestamp) -> LedgerWrite {
        let operation = Operation::Adjust { points: self.points };
        let mut write = LedgerWrite::new(program, customer, Some(client), operation, "admin", now);
        write.reference = Some(self.reason.clone());
        write
    }
}
