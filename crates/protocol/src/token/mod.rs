//! Token-endpoint requests (RFC 6749 §3.2, §4.1.3, §4.4.2, §6): which grant a request asks
//! for, the grant-specific checks, and the response body.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use serde::Serialize;

use crate::client::Client;
use crate::params::Params;
use crate::{ErrorCode, OAuthError};

/// Grant types the token endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// CIBA §10.1: redeeming an `auth_req_id`.
    Ciba,
}

impl GrantType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::Ciba => crate::ciba::GRANT_TYPE,
        }
    }

    /// Reads `grant_type`; the resource-owner password grant is deliberately absent (RFC 9700 §2.4),
    /// and so is `implicit`, which is registered for the authorization endpoint but is no
    /// grant of the token endpoint (OpenID Connect Registration §2).
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        match params.require("grant_type")? {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "refresh_token" => Ok(Self::RefreshToken),
            "client_credentials" => Ok(Self::ClientCredentials),
            crate::ciba::GRANT_TYPE => Ok(Self::Ciba),
            other => Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "the grant_type is not supported",
            )
            .with_detail(format!("grant_type {other}"))),
        }
    }

    /// RFC 6749 §5.2: a client not registered for the grant is `unauthorized_client`.
    pub fn check_allowed(self, client: &Client) -> Result<(), OAuthError> {
        if client.allows_grant(self.as_str()) {
            Ok(())
        } else {
            Err(OAuthError::unauthorized_client(format!(
                "this client may not use the {} grant",
                self.as_str()
            )))
        }
    }
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
}
