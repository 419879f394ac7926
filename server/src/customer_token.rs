//! Customer tokens: JWTs the merchant's backend signs with the program's widget secret to tell
//! the widget who the shopper is. Only HS256 is accepted (the algorithm is pinned, never read
//! from the token's choice), `exp` is required and at most the program's maximum lifetime away
//! (from `iat`, or from now without one), and clocks may differ by 60 seconds. The time claims
//! are compared with saturating arithmetic: any `i64` a signed token carries is safe.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::{customers::CustomerId, ledger::Timestamp};

/// How far the merchant's clock and ours may disagree.
pub const CLOCK_SKEW_SECONDS: i64 = 60;

/// The longest a customer token may live unless the program says otherwise: a day.
pub const DEFAULT_MAX_LIFETIME_SECONDS: i64 = 86_400;

/// Who the token says the shopper is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CustomerClaims {
    pub customer_id: CustomerId,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Why a token is not accepted. The widget then shows the guest view; the reason goes to the
/// browser console so that a merchant can fix their signing code.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the customer token is not a JWT (three base64url parts)")]
    Malformed,
    #[error("the customer token must be signed with HS256, not {0:?}")]
    Algorithm(String),
    #[error("the customer token's signature does not match this program's widget secret")]
    Signature,
    #[error("the customer token has expired")]
    Expired,
    #[error("the customer token has no exp claim; tokens must expire")]
    NoExpiry,
    #[error("the customer token is not valid yet (nbf or iat in the future)")]
    NotYetValid,
    #[error("the customer token lives longer than this program allows ({0} s from iat, or from now without iat)")]
    TooLong(i64),
    #[error("the customer token's sub is not a valid customer id")]
    Subject,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: Option<i64>,
    nbf: Option<i64>,
    iat: Option<i64>,
    email: Option<String>,
    name: Option<String>,
}

/// Checks `token` against the program's widget `secret` at time `now`; it may live at most
/// `max_lifetime_seconds`.
pub fn verify(
    token: &str,
    secret: &str,
    now: Timestamp,
    max_lifetime_seconds: i64,
) -> Result<CustomerClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let signing_input = &token[..header.len() + 1 + payload.len()];
    let header: Header = decode_json(header)?;
    if header.alg != "HS256" {
        return Err(TokenError::Algorithm(header.alg));
    }
    let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| TokenError::Malformed)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    // Constant-time comparison.
    mac.verify_slice(&signature).map_err(|_| TokenError::Signature)?;

    let claims: Claims = decode_json(payload)?;
    check_times(&claims, now.0.div_euclid(1_000), max_lifetime_seconds)?;
    let customer_id = CustomerId::parse(&claims.sub).map_err(|_| TokenError::Subject)?;
    Ok(CustomerClaims { customer_id, email: claims.email, name: claims.name })
}

/// `exp`, `nbf` and `iat` against `now` (seconds), allowing for clock skew.
fn check_times(claims: &Claims, now: i64, max_lifetime: i64) -> Result<(), TokenError> {
    let exp = claims.exp.ok_or(TokenError::NoExpiry)?;
    if exp.saturating_add(CLOCK_SKEW_SECONDS) <= now {
        return Err(TokenError::Expired);
    }
    let in_future = |at: i64| at.saturating_sub(CLOCK_SKEW_SECONDS) > now;
    if claims.nbf.is_some_and(in_future) || claims.iat.is_some_and(in_future) {
        return Err(TokenError::NotYetValid);
    }
    // Issued at `iat`, or (without one) as if now: a token must not be good for longer.
    let issued = claims.iat.unwrap_or(now);
    if exp.saturating_sub(issued) > max_lifetime.saturating_add(CLOCK_SKEW_SECONDS) {
        return Err(TokenError::TooLong(max_lifetime));
    }
    Ok(())
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// Signs claims as the merchant's backend would: for tests and the demo storefront.
pub fn sign(claims: &serde_json::Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "whsec_test";
    const NOW: Timestamp = Timestamp(1_767_225_600_000); // 2026-01-01T00:00:00Z
    const NOW_S: i64 = 1_767_225_600;
    const DAY: i64 = DEFAULT_MAX_LIFETIME_SECONDS;

    #[test]
    fn tokens_living_longer_than_the_maximum_are_refused() {
        let token = sign(&json!({"sub": "ana", "iat": NOW_S, "exp": NOW_S + DAY}), SECRET);
        assert!(verify(&token, SECRET, NOW, DAY).is_ok(), "exactly the maximum");
        let token = sign(&json!({"sub": "ana", "iat": NOW_S, "exp": NOW_S + DAY + 61}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::TooLong(DAY)));
        let token = sign(&json!({"sub": "ana", "exp": NOW_S + 2 * DAY}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::TooLong(DAY)), "without iat: from now");
        let token = sign(&json!({"sub": "ana", "iat": NOW_S - 3_600, "exp": NOW_S + DAY}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::TooLong(DAY)), "from iat, not from now");
        assert!(verify(&token, SECRET, NOW, 2 * DAY).is_ok(), "the program's own maximum");
        let token = sign(&json!({"sub": "ana", "iat": NOW_S + 3_600, "exp": NOW_S + 7_200}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::NotYetValid), "issued in the future");
    }

    #[test]
    fn extreme_time_claims_cannot_overflow() {
        for (exp, nbf, iat) in [(i64::MAX, i64::MIN, i64::MIN), (i64::MAX, i64::MAX, i64::MAX), (i64::MIN, 0, 0)] {
            let token = sign(&json!({"sub": "ana", "exp": exp, "nbf": nbf, "iat": iat}), SECRET);
            assert!(verify(&token, SECRET, NOW, DAY).is_err(), "{exp} {nbf} {iat}");
        }
        let token = sign(&json!({"sub": "ana", "exp": i64::MAX}), SECRET);
        assert_eq!(
            verify(&token, SECRET, NOW, i64::MAX),
            Ok(CustomerClaims { customer_id: CustomerId::parse("ana").unwrap(), email: None, name: None }),
            "a program allowing anything still compares safely"
        );
    }

    #[test]
    fn a_well_signed_unexpired_token_names_the_customer() {
        let token = sign(&json!({"sub": "ana", "exp": NOW_S + 600, "email": "ana@example.com"}), SECRET);
        let claims = verify(&token, SECRET, NOW, DAY).unwrap();
        assert_eq!(claims.customer_id.as_str(), "ana");
        assert_eq!(claims.email.as_deref(), Some("ana@example.com"));
    }

    #[test]
    fn forged_expired_and_unexpiring_tokens_are_refused() {
        let token = sign(&json!({"sub": "ana", "exp": NOW_S + 600}), "another secret");
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::Signature));
        let token = sign(&json!({"sub": "ana", "exp": NOW_S - 61}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::Expired));
        let token = sign(&json!({"sub": "ana", "exp": NOW_S - 59}), SECRET);
        assert!(verify(&token, SECRET, NOW, DAY).is_ok(), "within the allowed clock skew");
        let token = sign(&json!({"sub": "ana"}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::NoExpiry));
        let token = sign(&json!({"sub": "", "exp": NOW_S + 600}), SECRET);
        assert_eq!(verify(&token, SECRET, NOW, DAY), Err(TokenError::Subject));
    }

    #[test]
    fn alg_none_and_tampered_payloads_are_refused() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(json!({"sub": "ana", "exp": NOW_S + 600}).to_string());
        assert_eq!(
            verify(&format!("{header}.{payload}."), SECRET, NOW, DAY),
            Err(TokenError::Algorithm("none".into()))
        );

        let genuine = sign(&json!({"sub": "ana", "exp": NOW_S + 600}), SECRET);
        let parts: Vec<&str> = genuine.split('.').collect();
        let forged_payload = URL_SAFE_NO_PAD.encode(json!({"sub": "bo", "exp": NOW_S + 600}).to_string());
        let tampered = format!("{}.{forged_payload}.{}", parts[0], parts[2]);
        assert_eq!(verify(&tampered, SECRET, NOW, DAY), Err(TokenError::Signature));
        assert_eq!(verify("not a token", SECRET, NOW, DAY), Err(TokenError::Malformed));
        assert_eq!(verify("a.b.c.d", SECRET, NOW, DAY), Err(TokenError::Malformed));
    }
}
