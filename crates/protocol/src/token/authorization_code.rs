//! The authorization code grant at the token endpoint (RFC 6749 §4.1.3, RFC 7636 §4.5-§4.6).

use serde::{Deserialize, Serialize};

use crate::params::Params;
use crate::pkce::{self, Challenge};
use crate::OAuthError;

/// The token request's fields for this grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

impl CodeRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            code: params.require("code")?.to_owned(),
            redirect_uri: params.get("redirect_uri").map(str::to_owned),
            code_verifier: params.get("code_verifier").map(str::to_owned),
        })
    }
}

/// What an authorization code was bound to when it was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeBinding {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_explicit: bool,
    pub challenge: Option<Challenge>,
    pub expires_at: i64,
}

/// Checks a redeemed code against the request (the store has already consumed it atomically).
///
/// RFC 6749 §4.1.3: the code must have been issued to this client and, if `redirect_uri` was
/// in the authorization request, the same value must be sent again. Every failure is
/// `invalid_grant` (§5.2), so the client learns nothing about which check failed.
pub fn check(
    binding: &CodeBinding,
    req: &CodeRequest,
    client_id: &str,
    now: i64,
) -> Result<(), OAuthError> {
    if binding.client_id != client_id {
        return Err(
            OAuthError::invalid_grant("the code was not issued to this client").with_detail(
                format!("code of {} presented by {client_id}", binding.client_id),
            ),
        );
    }
    if now >= binding.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    match (&req.redirect_uri, binding.redirect_uri_explicit) {
        (None, true) => return Err(OAuthError::invalid_grant("redirect_uri is required")),
        (Some(sent), _) if *sent != binding.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ))
        }
        _ => {}
    }
    pkce::verify(binding.challenge.as_ref(), req.code_verifier.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pkce::{s256, ChallengeMethod};

    const VERIFIER: &str = "0123456789012345678901234567890123456789abc";

    fn binding() -> CodeBinding {
        CodeBinding {
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_explicit: true,
            challenge: Some(Challenge {
                challenge: s256(VERIFIER),
                method: ChallengeMethod::S256,
            }),
            expires_at: 100,
        }
    }

    fn request(redirect_uri: Option<&str>, verifier: Option<&str>) -> CodeRequest {
        CodeRequest {
            code: "c".into(),
            redirect_uri: redirect_uri.map(str::to_owned),
            code_verifier: verifier.map(str::to_owned),
        }
    }

    #[test]
    fn good_request() {
        assert!(check(
            &binding(),
            &request(Some("https://app.example/cb"), Some(VERIFIER)),
            "app",
            50
        )
        .is_ok());
    }

    #[test]
    fn every_mismatch_is_invalid_grant() {
        let b = binding();
        let cases = [
            (
                request(Some("https://app.example/cb"), Some(VERIFIER)),
                "other",
                50,
            ),
            (
                request(Some("https://app.example/cb"), Some(VERIFIER)),
                "app",
                100,
            ),
            (request(None, Some(VERIFIER)), "app", 50),
            (
                request(Some("https://app.example/cb2"), Some(VERIFIER)),
                "app",
                50,
            ),
            (request(Some("https://app.example/cb"), None), "app", 50),
            (
                request(
                    Some("https://app.example/cb"),
                    Some(&format!("{VERIFIER}d")),
                ),
                "app",
                50,
            ),
        ];
        for (req, client, now) in cases {
            let err = check(&b, &req, client, now).unwrap_err();
            assert_eq!(
                err.code,
                crate::ErrorCode::InvalidGrant,
                "{req:?} {client} {now}"
            );
        }
    }

    #[test]
    fn implicit_redirect_uri_may_be_omitted() {
        let mut b = binding();
        b.redirect_uri_explicit = false;
        assert!(check(&b, &request(None, Some(VERIFIER)), "app", 50).is_ok());
    }
}
