//! Claim sets of the JWTs Ferriam mints: RFC 9068 access tokens and OpenID Connect ID tokens
//! (Core §2), the `acr` either may carry ([`WithAcr`]), and the `at_hash` / `c_hash` values
//! (Core §3.1.3.6, §3.3.2.11).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

use crate::client::SigningAlg;

/// Claims of a JWT access token (RFC 9068 §2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The grant (authorization code and the refresh-token family that follows it) this token
    /// descends from, so that revoking the grant revokes the token too (RFC 6749 §4.1.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// Claims of an ID token (OpenID Connect Core §2), plus the user claims of the granted scopes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c_hash: Option<String>,
    pub amr: Vec<String>,
    pub sid: String,
    #[serde(flatten)]
    pub user_claims: Map<String, Value>,
}

/// A claim set with the `acr` (Authentication Context Class Reference) of the sign-in beside
/// it: OpenID Connect Core §2 for ID tokens, RFC 9068 §2.2.1 for access tokens. Present only
/// when the request asked for `acr_values` and the sign-in met a policy rule naming one; no
/// member at all otherwise. A wrapper rather than a field, so that every claim set literal
/// that has no `acr` stays as it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WithAcr<T> {
    #[serde(flatten)]
    pub claims: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// The left half of the hash of a token, base64url-encoded, with the hash function of the
/// signing algorithm (SHA-256 for RS256, PS256 and ES256, SHA-512 for EdDSA over Ed25519).
pub fn half_hash(alg: SigningAlg, token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::RS256 | SigningAlg::PS256 | SigningAlg::ES256 => {
            Sha256::digest(token.as_bytes()).to_vec()
        }
        SigningAlg::EdDSA => Sha512::digest(token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_example_from_oidc_core_appendix() {
        // OpenID Connect Core, Appendix A.4 access token and its at_hash.
        assert_eq!(
            half_hash(
                SigningAlg::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn user_claims_are_flattened_and_empty_fields_skipped() {
        let mut extra = Map::new();
        extra.insert("email".into(), "a@example.com".into());
        let claims = IdTokenClaims {
            iss: "i".into(),
            sub: "s".into(),
            aud: "c".into(),
            azp: "c".into(),
            exp: 2,
            iat: 1,
            auth_time: 1,
            nonce: None,
            at_hash: None,
            c_hash: None,
            amr: vec!["pwd".into()],
            sid: "sid".into(),
            user_claims: extra,
        };
        let v = serde_json::to_value(&claims).unwrap();
        assert_eq!(v["email"], "a@example.com");
        assert!(v.get("nonce").is_none());

        let none = WithAcr {
            claims: claims.clone(),
            acr: None,
        };
        assert_eq!(serde_json::to_value(&none).unwrap(), v, "no acr member");
        let with = serde_json::to_value(WithAcr {
            claims,
            acr: Some("urn:example:mfa".into()),
        })
        .unwrap();
        assert_eq!(with["acr"], "urn:example:mfa");
        assert_eq!(with["email"], "a@example.com");
        assert_eq!(with["sub"], "s");
    }
}
