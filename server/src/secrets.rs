//! Random identifiers and secrets, and how secrets are kept at rest: API keys hashed (they are
//! only ever compared), secrets that must be read back (widget, store and webhook secrets)
//! sealed with XChaCha20-Poly1305 under the operator's key ([`SecretKeys`]).

use std::path::{Path, PathBuf};

use base64::{engine::general_purpose, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    XChaCha20Poly1305, XNonce,
};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `prefix` followed by `bytes` random bytes in lowercase hex, from the OS's CSPRNG.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source is available");
    format!("{prefix}{}", hex(&buffer))
}

/// 32 random bytes from the OS's CSPRNG: a key.
pub fn random_bytes() -> [u8; 32] {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("the operating system's random source is available");
    key
}

/// The SHA-256 of a secret, in hex: what is stored for API keys. Keys carry 256 random bits, so
/// a fast hash is as safe as a slow one and lets a key be found by its hash in one lookup.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// HMAC-SHA256 of `text` under `key`, in hex: a hash that only a holder of the key can match.
pub fn keyed_hash(key: &[u8; 32], text: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(text.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The SHA-256 of a request body, to tell a replay from a different request (I3).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex, two digits per byte. Every API request hashes its key: written out by hand
/// (a `format!` per byte cost about 25,000 instructions per hash, measured with callgrind).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

/// Marks a sealed value: `sealed:v1:<key id>:<base64url of nonce and ciphertext>`.
const SEALED: &str = "sealed:v1:";

/// One 256-bit key and its id (the first 8 hex digits of its SHA-256: which key sealed a value,
/// without saying anything about the key).
#[derive(Clone)]
struct Key {
    bytes: [u8; 32],
    id: String,
}

/// Shows the key's id, never the key.
impl std::fmt::Debug for Key {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "Key({})", self.id)
    }
}

impl Key {
    fn new(bytes: [u8; 32]) -> Self {
        Self { id: hex(&Sha256::digest(bytes))[..8].to_owned(), bytes }
    }

    /// 64 hex digits, or base64 (standard or URL-safe, padded or not) of 32 bytes.
    fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..32).map(|at| u8::from_str_radix(&text[2 * at..2 * at + 2], 16).expect("hex")).collect()
        } else {
            let unpadded = text.trim_end_matches('=');
            general_purpose::STANDARD_NO_PAD
                .decode(unpadded)
                .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(unpadded))
                .map_err(|_| {
                    "a secret key is 64 hex digits or base64 of 32 bytes (`openssl rand -hex 32`)".to_owned()
                })?
        };
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "a secret key is 32 bytes: 64 hex digits (`openssl rand -hex 32`)".to_owned())?;
        Ok(Self::new(bytes))
    }
}

/// Why a sealed value cannot be opened.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "sealed with the key {0}, which this server does not have (TALLY_SECRET_KEY / TALLY_PREVIOUS_SECRET_KEYS)"
    )]
    UnknownKey(String),
    #[error("a sealed value does not open: damaged, or moved from another row")]
    Damaged,
}

/// The key secrets are sealed with, and earlier keys still opening what they sealed (rotation:
/// the new key becomes `TALLY_SECRET_KEY`, the old one goes to `TALLY_PREVIOUS_SECRET_KEYS`; the
/// server re-seals everything under the new key at start, and the old one can then go).
#[derive(Clone)]
pub struct SecretKeys {
    current: Key,
    previous: Vec<Key>,
}

impl SecretKeys {
    pub fn new(current: [u8; 32]) -> Self {
        Self { current: Key::new(current), previous: Vec::new() }
    }

    /// From the environment's `TALLY_SECRET_KEY` (and `TALLY_PREVIOUS_SECRET_KEYS`, comma
    /// separated), else from the key file next to a SQLite database (`tally.db.key`), created
    /// with mode 0600 on first start. PostgreSQL servers need the variable: every replica must
    /// seal with the same key.
    pub fn for_database(database_url: &str) -> Result<Self, String> {
        let previous = std::env::var("TALLY_PREVIOUS_SECRET_KEYS").unwrap_or_default();
        let previous: Vec<Key> = previous
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(Key::parse)
            .collect::<Result<_, _>>()
            .map_err(|error| format!("TALLY_PREVIOUS_SECRET_KEYS: {error}"))?;
        let current = match std::env::var("TALLY_SECRET_KEY") {
            Ok(text) if !text.trim().is_empty() => {
                Key::parse(&text).map_err(|error| format!("TALLY_SECRET_KEY: {error}"))?
            }
            _ => match sqlite_file(database_url) {
                Some(database) => Key::new(key_file(&key_file_path(&database))?),
                None => {
                    return Err("set TALLY_SECRET_KEY (64 hex digits, e.g. from `openssl rand -hex 32`; the same on \
                                every replica): it seals the secrets kept in PostgreSQL"
                        .into())
                }
            },
        };
        Ok(Self { current, previous })
    }

    /// A key for another purpose, derived from the current one (HMAC-SHA256 of `purpose`).
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.current.bytes).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Seals `plain` for the place `context` names (table, column and row: a sealed value
    /// copied to another row does not open there).
    pub fn seal(&self, context: &str, plain: &str) -> String {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source is available");
        let cipher = XChaCha20Poly1305::new(&self.current.bytes.into());
        let sealed = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain.as_bytes(), aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 seals any length we store");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{SEALED}{}:{}", self.current.id, general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The plain text of a stored value. Values from before sealing (not marked) are returned
    /// as they are; [`Self::needs_resealing`] finds them.
    pub fn open(&self, context: &str, stored: &str) -> Result<String, SealError> {
        let Some(rest) = stored.strip_prefix(SEALED) else { return Ok(stored.to_owned()) };
        let (id, body) = rest.split_once(':').ok_or(SealError::Damaged)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.id == id)
            .ok_or_else(|| SealError::UnknownKey(id.to_owned()))?;
        let bytes = general_purpose::URL_SAFE_NO_PAD.decode(body).map_err(|_| SealError::Damaged)?;
        if bytes.len() < 24 {
            return Err(SealError::Damaged);
        }
        let (nonce, sealed) = bytes.split_at(24);
        let cipher = XChaCha20Poly1305::new(&key.bytes.into());
        let plain = cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| SealError::Damaged)?;
        String::from_utf8(plain).map_err(|_| SealError::Damaged)
    }

    /// Whether a stored value is plain or sealed by a key other than the current one.
    pub fn needs_resealing(&self, stored: &str) -> bool {
        stored.strip_prefix(SEALED).is_none_or(|rest| rest.split(':').next() != Some(self.current.id.as_str()))
    }
}

/// The file of a `sqlite://FILE` URL (not in-memory databases).
fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:"))?;
    let file = rest.split('?').next().unwrap_or_default();
    (!file.is_empty() && file != ":memory:").then(|| PathBuf::from(file))
}

/// `tally.db` → `tally.db.key`.
pub fn key_file_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The key in `path`, or a new one written there (0600: only this user reads it).
fn key_file(path: &Path) -> Result<[u8; 32], String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Key::parse(&text).map(|key| key.bytes).map_err(|error| format!("{}: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let key = random_bytes();
            write_private(path, &format!("{}\n", hex(&key)))
                .map_err(|error| format!("cannot create the secret key file {}: {error}", path.display()))?;
            tracing::warn!(
                file = %path.display(),
                "created a secret key for sealing secrets at rest; back it up with the database (without it the \
                 widget, store and webhook secrets cannot be read), or set TALLY_SECRET_KEY instead"
            );
            Ok(key)
        }
        Err(error) => Err(format!("cannot read the secret key file {}: {error}", path.display())),
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_in_their_place_only_and_hide_the_secret() {
        let keys = SecretKeys::new([3u8; 32]);
        let sealed = keys.seal("programs.widget_secret:prg_1", "whsec_plain");
        assert!(sealed.starts_with("sealed:v1:") && !sealed.contains("whsec_plain"), "{sealed}");
        assert_ne!(sealed, keys.seal("programs.widget_secret:prg_1", "whsec_plain"), "a fresh nonce each time");
        assert_eq!(keys.open("programs.widget_secret:prg_1", &sealed).unwrap(), "whsec_plain");
        assert_eq!(keys.open("programs.widget_secret:prg_2", &sealed), Err(SealError::Damaged), "moved to another row");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(keys.open("programs.widget_secret:prg_1", &tampered), Err(SealError::Damaged));
        assert_eq!(keys.open("x", "whsec_from_before").unwrap(), "whsec_from_before", "plain rows from before");
        assert!(keys.needs_resealing("whsec_from_before") && !keys.needs_resealing(&sealed));
    }

    #[test]
    fn rotation_opens_with_previous_keys_and_asks_for_resealing() {
        let old = SecretKeys::new([1u8; 32]);
        let sealed = old.seal("c", "secret");
        let hex_old = hex(&[1u8; 32]);
        let rotated = SecretKeys { current: Key::new([2u8; 32]), previous: vec![Key::parse(&hex_old).unwrap()] };
        assert_eq!(rotated.open("c", &sealed).unwrap(), "secret");
        assert!(rotated.needs_resealing(&sealed));
        let without_old = SecretKeys::new([2u8; 32]);
        assert!(matches!(without_old.open("c", &sealed), Err(SealError::UnknownKey(_))));
    }

    #[test]
    fn keys_parse_from_hex_and_base64_and_bad_ones_say_how_to_make_one() {
        let bytes = [9u8; 32];
        let from_hex = Key::parse(&hex(&bytes)).unwrap();
        let from_base64 = Key::parse(&general_purpose::STANDARD.encode(bytes)).unwrap();
        assert_eq!((from_hex.bytes, from_base64.bytes), (bytes, bytes));
        assert!(Key::parse("short").unwrap_err().contains("openssl rand -hex 32"));
        assert!(Key::parse(&hex(&[1u8; 16])).is_err(), "16 bytes is not a key");
    }

    #[test]
    fn a_sqlite_database_gets_a_private_key_file_next_to_it_once() {
        let dir = std::env::temp_dir().join(format!("tally-key-{}", random_token("", 6)));
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("tally.db");
        let path = key_file_path(&database);
        assert_eq!(path, dir.join("tally.db.key"));
        let first = key_file(&path).unwrap();
        assert_eq!(key_file(&path).unwrap(), first, "read back, not replaced");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert_eq!(sqlite_file(&format!("sqlite://{}?mode=rwc", database.display())), Some(database));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://x@y/z"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn tokens_are_prefixed_random_hex() {
        let a = random_token("sk_", 32);
        let b = random_token("sk_", 32);
        assert!(a.starts_with("sk_") && a.len() == 3 + 64);
        assert_ne!(a, b);
        assert!(a[3..].chars().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn hashes_are_stable_sha256() {
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
