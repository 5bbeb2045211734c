//! The one error type of the protocol layer: an error code named by a spec, a description that
//! may be shown to the client, and an internal detail that is only logged.

use std::fmt;

/// Error codes defined by RFC 6749, RFC 6750 and OpenID Connect Core, as sent on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    InvalidToken,
    InsufficientScope,
    RequestNotSupported,
    RequestUriNotSupported,
    /// CIBA §11 (and RFC 8628 §3.5): the user has not answered yet.
    AuthorizationPending,
    /// CIBA §11: polled faster than the interval.
    SlowDown,
    /// CIBA §11: the auth_req_id has expired.
    ExpiredToken,
    /// CIBA §13: the login_hint_token has expired.
    ExpiredLoginHintToken,
    /// CIBA §13: the hint names no user the server knows.
    UnknownUserId,
    /// CIBA §13: the client must send a user_code and did not.
    MissingUserCode,
    /// CIBA §13: the user_code is not the user's.
    InvalidUserCode,
    /// CIBA §13: the binding_message cannot be shown.
    InvalidBindingMessage,
    /// CIBA §13: the request failed for a reason the server does not tell.
    TransactionFailed,
}

impl ErrorCode {
    /// The `error` value as the specs spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::ExpiredLoginHintToken => "expired_login_hint_token",
            Self::UnknownUserId => "unknown_user_id",
            Self::MissingUserCode => "missing_user_code",
            Self::InvalidUserCode => "invalid_user_code",
            Self::InvalidBindingMessage => "invalid_binding_message",
            Self::TransactionFailed => "transaction_failed",
        }
    }

    /// The HTTP status a JSON error response with this code carries (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidClient | Self::InvalidToken => 401,
            Self::InsufficientScope => 403,
            Self::ServerError => 500,
            Self::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// A protocol failure: the spec's code, a client-facing description and a log-only detail.
///
/// Build it with [`OAuthError::new`] (or a shorthand), which keeps the description inside the
/// character set RFC 6749 §5.2 allows. Request input belongs in the detail, never the
/// description: echoing it would let a request write into the client's error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Sent as `error_description`; never contains secrets or request input, and only the
    /// characters of RFC 6749 §5.2.
    pub description: String,
    /// Logged by the server only.
    pub detail: Option<String>,
}

impl OAuthError {
    /// The one constructor: every shorthand below goes through it.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description_charset(description.into()),
            detail: None,
        }
    }

    /// Attaches a detail for the server log that the client never sees.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::UnauthorizedClient, description)
    }
}

/// RFC 6749 §5.2: `error_description` "MUST NOT include characters outside the set %x20-21 /
/// %x23-5B / %x5D-7E" (no `"`, no `\`, nothing outside printable ASCII). Any other character
/// becomes a space.
fn description_charset(description: String) -> String {
    let allowed = |c: char| matches!(c, '\x20'..='\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
    if description.chars().all(allowed) {
        return description;
    }
    description
        .chars()
        .map(|c| if allowed(c) { c } else { ' ' })
        .collect()
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_keeps_to_the_rfc_6749_charset() {
        let e = OAuthError::invalid_request("bad \"value\" \\ é\n\t\u{7f} ok!#[]~");
        assert_eq!(e.description, format!("bad  value{}ok!#[]~", " ".repeat(9)));
        assert!(e.description.bytes().all(|b| b == 0x20
            || b == 0x21
            || (0x23..=0x5b).contains(&b)
            || (0x5d..=0x7e).contains(&b)));
        let plain = OAuthError::invalid_grant("the code has expired");
        assert_eq!(plain.description, "the code has expired");
    }
}
