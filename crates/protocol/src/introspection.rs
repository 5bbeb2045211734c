//! Token introspection (RFC 7662): which tokens are active, and the response that says so.
//!
//! §2.2: for a token that is not active, "the authorization server MUST return an
//! introspection response with the "active" field set to "false"" and "SHOULD NOT include any
//! additional information about an inactive token": an expired, revoked, rotated-away, unknown
//! or foreign token all get exactly `{"active": false}`, so the caller cannot tell them apart.

use serde::Serialize;
use serde_json::{json, Value};

use crate::jwt_claims::AccessTokenClaims;

/// The facts of a stored refresh token that decide whether it is active.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFacts {
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Revoked by itself or with its grant.
    pub revoked: bool,
    /// Replaced by its successor (RFC 9700 §4.14.2): no longer the token of its family.
    pub rotated: bool,
}

/// The members of an active token's response (RFC 7662 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveToken {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub client_id: String,
    /// The user's username, for tokens that speak for a user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    pub token_type: &'static str,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub sub: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    pub iss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl ActiveToken {
    /// An active JWT access token. Ferriam's access tokens carry no `nbf`: they are valid from
    /// their `iat`.
    pub fn access(claims: &AccessTokenClaims, username: Option<String>) -> Self {
        Self {
            scope: claims.scope.clone(),
            client_id: claims.client_id.clone(),
            username,
            token_type: "Bearer",
            exp: claims.exp,
            iat: claims.iat,
            nbf: claims.iat,
            sub: claims.sub.clone(),
            aud: Some(claims.aud.clone()),
            iss: claims.iss.clone(),
            jti: Some(claims.jti.clone()),
        }
    }

    /// An active refresh token. It is opaque, so it has no `jti`, and it is meant for Ferriam
    /// alone, so it names no audience.
    pub fn refresh(facts: &RefreshFacts, issuer: &str, username: String) -> Self {
        Self {
            scope: facts.scope.clone(),
            client_id: facts.client_id.clone(),
            username: Some(username),
            token_type: "refresh_token",
            exp: facts.expires_at,
            iat: facts.issued_at,
            nbf: facts.issued_at,
            sub: facts.sub.clone(),
            aud: None,
            iss: issuer.to_owned(),
            jti: None,
        }
    }
}

/// An introspection answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    Active(Box<ActiveToken>),
    Inactive,
}

impl Introspection {
    /// The response body: `{"active": true, ...}` or exactly `{"active": false}`.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Inactive => json!({"active": false}),
            Self::Active(token) => {
                let mut body = json!({"active": true});
                if let (Some(body), Ok(Value::Object(members))) =
                    (body.as_object_mut(), serde_json::to_value(token.as_ref()))
                {
                    body.extend(members);
                }
                body
            }
        }
    }
}

/// Whether a verified access token's claims are usable at `now`: issued by and for this
/// issuer (RFC 9068 §4) and not expired. Revocation and the user are checked in the store.
pub fn access_token_usable(claims: &AccessTokenClaims, issuer: &str, now: i64) -> bool {
    claims.iss == issuer && claims.aud == issuer && now < claims.exp && claims.iat <= now + 60
}

/// Whether a refresh token is active for `caller`: only the client it was issued to may learn
/// anything about it; it must be the current token of its family, unrevoked and unexpired.
pub fn refresh_token_active(facts: &RefreshFacts, caller: &str, now: i64) -> bool {
    facts.client_id == caller && !facts.revoked && !facts.rotated && now < facts.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://id.example".into(),
            sub: "u1".into(),
            aud: "https://id.example".into(),
            exp: 200,
            iat: 100,
            jti: "j1".into(),
            client_id: "app".into(),
            scope: "openid email".into(),
            auth_time: Some(90),
            grant_id: Some("g1".into()),
        }
    }

    fn facts() -> RefreshFacts {
        RefreshFacts {
            client_id: "app".into(),
            sub: "u1".into(),
            scope: "openid offline_access".into(),
            issued_at: 100,
            expires_at: 500,
            revoked: false,
            rotated: false,
        }
    }

    #[test]
    fn inactive_is_one_member() {
        assert_eq!(Introspection::Inactive.to_json(), json!({"active": false}));
    }

    #[test]
    fn active_access_token_members() {
        let body =
            Introspection::Active(Box::new(ActiveToken::access(&claims(), Some("ada".into()))));
        assert_eq!(
            body.to_json(),
            json!({
                "active": true, "scope": "openid email", "client_id": "app", "username": "ada",
                "token_type": "Bearer", "exp": 200, "iat": 100, "nbf": 100, "sub": "u1",
                "aud": "https://id.example", "iss": "https://id.example", "jti": "j1"
            })
        );
        let machine = ActiveToken::access(&claims(), None);
        assert!(Introspection::Active(Box::new(machine))
            .to_json()
            .get("username")
            .is_none());
    }

    #[test]
    fn active_refresh_token_members() {
        let token = ActiveToken::refresh(&facts(), "https://id.example", "ada".into());
        let body = Introspection::Active(Box::new(token)).to_json();
        assert_eq!(body["token_type"], "refresh_token");
        assert_eq!(
            (body["exp"].as_i64(), body["nbf"].as_i64()),
            (Some(500), Some(100))
        );
        assert!(body.get("jti").is_none() && body.get("aud").is_none());
    }

    #[test]
    fn access_token_usability() {
        let issuer = "https://id.example";
        assert!(access_token_usable(&claims(), issuer, 150));
        assert!(
            !access_token_usable(&claims(), issuer, 200),
            "expired at exp"
        );
        assert!(!access_token_usable(
            &claims(),
            "https://other.example",
            150
        ));
        let foreign_aud = AccessTokenClaims {
            aud: "https://api.example".into(),
            ..claims()
        };
        assert!(!access_token_usable(&foreign_aud, issuer, 150));
        assert!(
            !access_token_usable(&claims(), issuer, 10),
            "issued in the future"
        );
    }

    #[test]
    fn refresh_token_activity() {
        assert!(refresh_token_active(&facts(), "app", 200));
        assert!(
            !refresh_token_active(&facts(), "other", 200),
            "foreign client"
        );
        assert!(!refresh_token_active(&facts(), "app", 500), "expired");
        let revoked = RefreshFacts {
            revoked: true,
            ..facts()
        };
        assert!(!refresh_token_active(&revoked, "app", 200));
        let rotated = RefreshFacts {
            rotated: true,
            ..facts()
        };
        assert!(!refresh_token_active(&rotated, "app", 200));
    }
}
