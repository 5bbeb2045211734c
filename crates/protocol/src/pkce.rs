//! Proof Key for Code Exchange (RFC 7636): challenge validation at the authorization endpoint
//! and verifier checking at the token endpoint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::client::Client;
use crate::OAuthError;

/// `code_challenge_method` values (RFC 7636 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeMethod {
    #[serde(rename = "plain")]
    Plain,
    S256,
}

/// The challenge recorded with an authorization code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub challenge: String,
    pub method: ChallengeMethod,
}

/// Reads `code_challenge` and `code_challenge_method` from an authorization request.
///
/// RFC 7636 §4.3: the method defaults to `plain`; §4.2: the challenge is 43 to 128 characters
/// of the unreserved set. Public clients must send one (RFC 9700 §2.1.1) and `plain` is
/// accepted only from clients registered for it (RFC 9700 §2.1.1 prefers S256).
pub fn parse_challenge(
    challenge: Option<&str>,
    method: Option<&str>,
    client: &Client,
) -> Result<Option<Challenge>, OAuthError> {
    let Some(challenge) = challenge else {
        if method.is_some() {
            return Err(OAuthError::invalid_request(
                "code_challenge_method without code_challenge",
            ));
        }
        if client.requires_pkce() {
            return Err(OAuthError::invalid_request(
                "PKCE code_challenge is required",
            ));
        }
        return Ok(None);
    };
    let method = match method.unwrap_or("plain") {
        "S256" => ChallengeMethod::S256,
        "plain" if client.allow_plain_pkce => ChallengeMethod::Plain,
        "plain" => {
            return Err(OAuthError::invalid_request(
                "code_challenge_method plain is not allowed for this client; use S256",
            ))
        }
        _ => {
            return Err(OAuthError::invalid_request(
                "unsupported code_challenge_method",
            ))
        }
    };
    if !is_valid_verifier_syntax(challenge) {
        return Err(OAuthError::invalid_request("malformed code_challenge"));
    }
    Ok(Some(Challenge {
        challenge: challenge.to_owned(),
        method,
    }))
}

/// Checks the token request's `code_verifier` against the recorded challenge.
///
/// A verifier without a recorded challenge is a PKCE downgrade attempt (RFC 9700 §4.8.2) and a
/// recorded challenge without a verifier must fail (RFC 7636 §4.6); both are `invalid_grant`.
pub fn verify(recorded: Option<&Challenge>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (recorded, verifier) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent but the authorization request had no code_challenge",
        )),
        (Some(_), None) => Err(OAuthError::invalid_grant("missing code_verifier")),
        (Some(recorded), Some(verifier)) => {
            if !is_valid_verifier_syntax(verifier) {
                return Err(OAuthError::invalid_grant("malformed code_verifier"));
            }
            let computed = match recorded.method {
                ChallengeMethod::S256 => s256(verifier),
                ChallengeMethod::Plain => verifier.to_owned(),
            };
            if bool::from(computed.as_bytes().ct_eq(recorded.challenge.as_bytes())) {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant(
                    "code_verifier does not match the code_challenge",
                ))
            }
        }
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_valid_verifier_syntax(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256(VERIFIER),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn s256_round_trip_and_mismatch() {
        let c = Challenge {
            challenge: s256(VERIFIER),
            method: ChallengeMethod::S256,
        };
        assert!(verify(Some(&c), Some(VERIFIER)).is_ok());
        let other = format!("{VERIFIER}x");
        assert!(verify(Some(&c), Some(&other)).is_err());
        // A plain-style verifier (verifier == challenge) never satisfies an S256 challenge.
        assert!(verify(Some(&c), Some(&c.challenge)).is_err());
    }

    #[test]
    fn downgrade_and_missing_verifier() {
        let c = Challenge {
            challenge: s256(VERIFIER),
            method: ChallengeMethod::S256,
        };
        assert!(verify(Some(&c), None).is_err());
        assert!(verify(None, Some(VERIFIER)).is_err());
        assert!(verify(None, None).is_ok());
    }

    #[test]
    fn verifier_syntax() {
        assert!(!is_valid_verifier_syntax("short"));
        assert!(!is_valid_verifier_syntax(&"a".repeat(129)));
        assert!(!is_valid_verifier_syntax(&format!("{}+", "a".repeat(43))));
        assert!(is_valid_verifier_syntax(&"a".repeat(43)));
    }
}
