//! Console users, their sessions and what each role may do. Pure: `storage` keeps these
//! records, `http::console` serves the pages that use them.

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::{
    ledger::Timestamp,
    message::{message, Message},
    secrets,
};

/// How long a console session lasts after sign-in.
pub const SESSION_DAYS: i64 = 7;

/// What a console user may do. Owners also manage users and read the audit log; viewers only read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Owner,
    Admin,
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Owner, Self::Admin, Self::Viewer].into_iter().find(|role| role.as_str() == text)
    }

    pub fn can_write(self) -> bool {
        !matches!(self, Self::Viewer)
    }

    /// Owners see every program; others only those granted to them.
    pub fn sees_all_programs(self) -> bool {
        matches!(self, Self::Owner)
    }
}

/// A console user as stored (without the password hash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleUser {
    pub id: String,
    pub email: Email,
    pub role: Role,
    pub created_at: Timestamp,
}

/// A sign-in address: trimmed, lower-cased, `local@domain`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, Message> {
        let email = text.trim().to_lowercase();
        let valid = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty() && !domain.is_empty() && !domain.contains('@') && !domain.starts_with('.')
            });
        if valid {
            Ok(Self(email))
        } else {
            Err(message!("an email address like ana@shop.example"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password chosen by a user: long enough to resist guessing, short enough to hash quickly.
pub struct NewPassword(String);

impl NewPassword {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(text: &str) -> Result<Self, Message> {
        match text.chars().count() {
            count if count < Self::MIN_CHARS => Err(message!("at least 10 characters")),
            count if count > 256 => Err(message!("at most 256 characters")),
            _ => Ok(Self(text.to_owned())),
        }
    }

    /// Argon2id with the crate's defaults (19 MiB, 2 passes), as a PHC string with its own salt.
    pub fn hash(&self) -> String {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the operating system's random source is available");
        let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
        Argon2::default().hash_password(self.0.as_bytes(), &salt).expect("argon2 accepts these parameters").to_string()
    }
}

/// Checks a password against a stored PHC hash. With no stored hash (unknown email), a dummy
/// hash is checked instead, so that the answer takes as long and reveals nothing.
pub fn verify_password(password: &str, stored: Option<&str>) -> bool {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| NewPassword("not a real password".into()).hash());
    let Ok(hash) = PasswordHash::new(stored.unwrap_or(dummy)) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &hash).is_ok() && stored.is_some()
}

/// A signed-in browser. The cookie holds the token; only its hash is stored. The CSRF token
/// is sent back with every console write and compared in constant time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub token_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Session {
    /// A new session and the token for its cookie (shown to the browser only).
    pub fn start(user_id: &str, now: Timestamp) -> (String, Self) {
        let token = secrets::random_token("ses_", 32);
        let session = Self {
            token_hash: secrets::hash_secret(&token),
            user_id: user_id.to_owned(),
            csrf_token: secrets::random_token("csrf_", 24),
            created_at: now,
            expires_at: Timestamp(now.0 + SESSION_DAYS * 86_400_000),
        };
        (token, session)
    }

    pub fn csrf_matches(&self, given: &str) -> bool {
        self.csrf_token.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// One console write, for the owners' audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Timestamp,
    pub user_id: String,
    pub user_email: String,
    /// `None` for server-wide actions (users, grants).
    pub program_id: Option<String>,
    /// What was done, e.g. `customer.adjust`, `reward.create`.
    pub action: String,
    /// What it was done to, e.g. the customer or reward id.
    pub target: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    /// The idempotency key of a write that may be retried: audited once however often it is.
    pub request_key: Option<String>,
}

/// A one-time first-run set-up code, as shown (`3f9a-07c2-b8e1`) and as stored (its hash).
pub struct SetupCode {
    pub shown: String,
    pub hash: String,
}

impl SetupCode {
    /// 48 random bits: the set-up page allows 20 tries a minute per address.
    pub fn generate() -> Self {
        let hex = secrets::random_token("", 6);
        let shown = format!("{}-{}-{}", &hex[..4], &hex[4..8], &hex[8..]);
        Self { hash: Self::hash_of(&shown), shown }
    }

    /// The hash of a code as typed: dashes, spaces and case do not matter.
    pub fn hash_of(typed: &str) -> String {
        let normal: String =
            typed.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        secrets::hash_secret(&normal)
    }
}

/// A fresh set-up code, kept (hashed) in `storage`; `None` once the console has an owner.
pub async fn new_setup_code(
    storage: &dyn crate::storage::Storage,
    now: Timestamp,
) -> Result<Option<String>, crate::storage::StorageError> {
    if storage.console_is_set_up().await? {
        return Ok(None);
    }
    let code = SetupCode::generate();
    storage.add_setup_code(&code.hash, now).await?;
    Ok(Some(code.shown))
}

/// The known-device cookie of an account: an HMAC of its email under the server's device key,
/// set at sign-in. Attempts that carry it are not counted against the account's allowance for
/// new devices, so strangers cannot lock a user out of the browser they use.
pub fn device_token(key: &[u8; 32], email: &Email) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(b"tally known device v1\0");
    mac.update(email.as_str().as_bytes());
    secrets::hex(&mac.finalize().into_bytes())
}

/// Whether `token` is `email`'s known-device token, compared in constant time.
pub fn is_known_device(key: &[u8; 32], email: &Email, token: Option<&str>) -> bool {
    token.is_some_and(|token| bool::from(device_token(key, email).as_bytes().ct_eq(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_codes_match_however_they_are_typed_and_are_not_stored_as_shown() {
        let code = SetupCode::generate();
        assert_eq!(code.shown.len(), 14);
        assert_eq!(SetupCode::hash_of(&code.shown.to_uppercase().replace('-', " ")), code.hash);
        assert_ne!(code.hash, code.shown);
        assert_ne!(SetupCode::generate().hash, code.hash);
    }

    #[test]
    fn device_tokens_belong_to_one_account_and_one_key() {
        let (key, other_key) = ([7u8; 32], [8u8; 32]);
        let ana = Email::parse("ana@shop.example").unwrap();
        let bo = Email::parse("bo@shop.example").unwrap();
        let token = device_token(&key, &ana);
        assert!(is_known_device(&key, &ana, Some(&token)));
        assert!(!is_known_device(&key, &bo, Some(&token)));
        assert!(!is_known_device(&other_key, &ana, Some(&token)));
        assert!(!is_known_device(&key, &ana, None));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(Email::parse("  Ana@Shop.Example ").unwrap().as_str(), "ana@shop.example");
        for bad in ["", "ana", "@shop.example", "ana@", "a na@shop.example", "ana@@shop.example", "ana@.x"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        assert!(NewPassword::parse("short").is_err());
        let hash = NewPassword::parse("correct horse battery").unwrap().hash();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("correct horse battery!", Some(&hash)));
        assert!(!verify_password("not a real password", None), "the dummy hash never signs anyone in");
        let again = NewPassword::parse("correct horse battery").unwrap().hash();
        assert_ne!(hash, again, "each hash has its own salt");
    }

    #[test]
    fn sessions_store_only_the_token_hash_and_check_csrf() {
        let (token, session) = Session::start("usr_1", Timestamp(1_000));
        assert_eq!(session.token_hash, secrets::hash_secret(&token));
        assert_eq!(session.expires_at.0 - session.created_at.0, SESSION_DAYS * 86_400_000);
        assert!(session.csrf_matches(&session.csrf_token.clone()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches("csrf_0000"));
    }

    #[test]
    fn viewers_read_only_and_owners_see_everything() {
        assert!(!Role::Viewer.can_write() && Role::Admin.can_write() && Role::Owner.can_write());
        assert!(Role::Owner.sees_all_programs() && !Role::Admin.sees_all_programs());
        assert_eq!(Role::parse("viewer"), Some(Role::Viewer));
        assert_eq!(Role::parse("root"), None);
    }
}
