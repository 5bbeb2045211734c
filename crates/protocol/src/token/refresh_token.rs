//! The refresh token grant (RFC 6749 §6): a refresh may narrow the granted scope, never widen it.

use crate::params::Params;
use crate::scope::Scope;
use crate::OAuthError;

/// The token request's fields for this grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshRequest {
    pub refresh_token: String,
    pub scope: Option<Scope>,
}

impl RefreshRequest {
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            refresh_token: params.require("refresh_token")?.to_owned(),
            scope: params.get("scope").map(Scope::parse).transpose()?,
        })
    }

    /// The scope of the new access token: the requested one if it is within the grant, the
    /// whole grant otherwise (RFC 6749 §6: "MUST NOT include any scope not originally granted").
    pub fn effective_scope(&self, granted: &Scope) -> Result<Scope, OAuthError> {
        match &self.scope {
            None => Ok(granted.clone()),
            Some(asked) if asked.is_subset(granted) => Ok(asked.clone()),
            Some(_) => Err(OAuthError::invalid_scope(
                "the requested scope exceeds the granted scope",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrows_but_never_widens() {
        let granted = Scope::parse("openid email offline_access").unwrap();
        let narrow = RefreshRequest {
            refresh_token: "r".into(),
            scope: Some(Scope::parse("openid").unwrap()),
        };
        assert_eq!(
            narrow.effective_scope(&granted).unwrap().to_string(),
            "openid"
        );
        let wide = RefreshRequest {
            refresh_token: "r".into(),
            scope: Some(Scope::parse("openid phone").unwrap()),
        };
        assert_eq!(
            wide.effective_scope(&granted).unwrap_err().code,
            crate::ErrorCode::InvalidScope
        );
        let none = RefreshRequest {
            refresh_token: "r".into(),
            scope: None,
        };
        assert_eq!(none.effective_scope(&granted).unwrap(), granted);
    }
}
