//! The user's claims released per scope (OpenID Connect Core §5.1 and §5.4).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::scope::Scope;

/// What Ferriam knows about a user that may be released as claims.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    pub sub: String,
    pub preferred_username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(default)]
    pub phone_number_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<String>,
    /// Seconds since the epoch of the last profile change.
    pub updated_at: i64,
}

impl UserClaims {
    /// The full name, built from the given and family names when both or either are known.
    pub fn name(&self) -> Option<String> {
        match (&self.given_name, &self.family_name) {
            (Some(g), Some(f)) => Some(format!("{g} {f}")),
            (Some(n), None) | (None, Some(n)) => Some(n.clone()),
            (None, None) => None,
        }
    }

    /// The claims the granted scopes release, `sub` always included. Claims without a value
    /// are left out (OpenID Connect Core §5.3.2).
    pub fn for_scope(&self, scope: &Scope) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("sub".into(), self.sub.clone().into());
        let mut put = |name: &str, value: Option<Value>| {
            if let Some(v) = value {
                out.insert(name.into(), v);
            }
        };
        if scope.contains("profile") {
            put("name", self.name().map(Value::from));
            put("given_name", self.given_name.clone().map(Value::from));
            put("family_name", self.family_name.clone().map(Value::from));
            put(
                "preferred_username",
                Some(self.preferred_username.clone().into()),
            );
            put("birthdate", self.birthdate.clone().map(Value::from));
            put("updated_at", Some(self.updated_at.into()));
        }
        if scope.contains("email") {
            if let Some(email) = &self.email {
                put("email", Some(email.clone().into()));
                put("email_verified", Some(self.email_verified.into()));
            }
        }
        if scope.contains("phone") {
            if let Some(phone) = &self.phone_number {
                put("phone_number", Some(phone.clone().into()));
                put(
                    "phone_number_verified",
                    Some(self.phone_number_verified.into()),
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_only_granted_claims() {
        let user = UserClaims {
            sub: "u1".into(),
            preferred_username: "ada".into(),
            email: Some("ada@example.com".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            updated_at: 7,
            ..Default::default()
        };
        let c = user.for_scope(&Scope::parse("openid email").unwrap());
        assert_eq!(c.get("email").unwrap(), "ada@example.com");
        assert!(c.get("name").is_none());
        let c = user.for_scope(&Scope::parse("openid profile").unwrap());
        assert_eq!(c.get("name").unwrap(), "Ada Lovelace");
        assert!(c.get("email").is_none());
        assert!(c.get("phone_number").is_none());
    }
}
