//! Random identifiers and secrets, and how secrets are kept at rest.

use sha2::{Digest, Sha256};

/// `prefix` followed by `bytes` random bytes in lowercase hex, from the OS's CSPRNG.
pub fn random_token(prefix: &str, bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    getrandom::fill(&mut buffer).expect("the operating system's random source is available");
    format!("{prefix}{}", hex(&buffer))
}

/// The SHA-256 of a secret, in hex: what is stored for API keys. Keys carry 256 random bits, so
/// a fast hash is as safe as a slow one and lets a key be found by its hash in one lookup.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// The SHA-256 of a request body, to tell a replay from a different request (I3).
pub fn fingerprint(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex, two digits per byte. Every API request hashes its key: written out by hand
/// (a `format!` per byte cost about 25,000 instructions per hash, measured with callgrind).
fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

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
