//! Building authorization responses for the three response modes (OAuth 2.0 Multiple Response
//! Type Encoding Practices, OAuth 2.0 Form Post Response Mode) with RFC 9207's `iss`.

use serde::{Deserialize, Serialize};
use url::form_urlencoded;

use crate::OAuthError;

/// How the authorization response reaches the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    /// Reads `response_mode`; `None` when absent (the response type's default applies).
    pub fn parse(value: Option<&str>) -> Result<Option<Self>, OAuthError> {
        match value {
            None => Ok(None),
            Some("query") => Ok(Some(Self::Query)),
            Some("fragment") => Ok(Some(Self::Fragment)),
            Some("form_post") => Ok(Some(Self::FormPost)),
            Some(_) => Err(OAuthError::invalid_request("unsupported response_mode")),
        }
    }
}

/// An authorization response (success or error) addressed to a validated redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationResponse {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl AuthorizationResponse {
    /// An error response: `error`, `error_description` and `state` (RFC 6749 §4.1.2.1).
    pub fn error(
        redirect_uri: &str,
        mode: ResponseMode,
        state: Option<&str>,
        error: &OAuthError,
    ) -> Self {
        let mut params = vec![
            ("error".to_owned(), error.code.as_str().to_owned()),
            ("error_description".to_owned(), error.description.clone()),
        ];
        if let Some(state) = state {
            params.push(("state".to_owned(), state.to_owned()));
        }
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params,
        }
    }

    /// A success response carrying `code` and `state`.
    pub fn code(redirect_uri: &str, mode: ResponseMode, state: Option<&str>, code: &str) -> Self {
        Self::success(redirect_uri, mode)
            .with("code", code)
            .with_state(state)
    }

    /// A success response with no parameters yet; [`AuthorizationResponse::with`] adds them.
    pub fn success(redirect_uri: &str, mode: ResponseMode) -> Self {
        Self {
            redirect_uri: redirect_uri.to_owned(),
            mode,
            params: Vec::new(),
        }
    }

    /// Adds one parameter.
    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `state` when the request carried one (RFC 6749 §4.1.2, §4.2.2).
    pub fn with_state(self, state: Option<&str>) -> Self {
        match state {
            Some(state) => self.with("state", state),
            None => self,
        }
    }

    /// Adds `iss` (RFC 9207 §2), which every response carries as a mix-up defence.
    pub fn with_issuer(mut self, issuer: &str) -> Self {
        self.params.push(("iss".to_owned(), issuer.to_owned()));
        self
    }

    /// The `Location` for query and fragment modes. The registered URI is kept byte for byte:
    /// parameters are appended to it, never re-serialised through a URL parser.
    pub fn location(&self) -> String {
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.params.iter())
            .finish();
        match self.mode {
            ResponseMode::Fragment => format!("{}#{encoded}", self.redirect_uri),
            ResponseMode::Query | ResponseMode::FormPost => {
                let sep = if self.redirect_uri.contains('?') {
                    '&'
                } else {
                    '?'
                };
                format!("{}{sep}{encoded}", self.redirect_uri)
            }
        }
    }
}
