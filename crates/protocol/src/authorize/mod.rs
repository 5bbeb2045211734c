//! The authorization endpoint's request validation (RFC 6749 §4.1.1, OpenID Connect Core
//! §3.1.2.1-§3.1.2.2), in the order the specs require.
//!
//! The client and its redirect URI are checked first: until both are known to be good, an error
//! must be shown to the user and never redirected (RFC 6749 §4.1.2.1). Every later error goes
//! back to the client at the validated redirect URI, with `state` and `iss`.

mod response;

pub use response::{AuthorizationResponse, ResponseMode};

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::params::Params;
use crate::pkce::{self, Challenge};
use crate::scope::Scope;
use crate::{ErrorCode, OAuthError};

/// Values of the `prompt` parameter Ferriam acts on (OpenID Connect Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A validated authorization request, kept while the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether `redirect_uri` was sent: the token request must then repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_explicit: bool,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<Challenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

impl AuthorizationRequest {
    /// Whether this is an OpenID Connect request.
    pub fn is_openid(&self) -> bool {
        self.scope.split(' ').any(|s| s == "openid")
    }
}

/// Where a failed request's error goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI could not be trusted: show an error page.
    Page(OAuthError),
    /// Send the error back to the client.
    Redirect {
        error: OAuthError,
        response: AuthorizationResponse,
    },
}

/// The redirect URI of a request for `client`, checked before anything else.
pub fn check_redirect_uri(params: &Params, client: &Client) -> Result<String, OAuthError> {
    let openid = params
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|t| t == "openid"));
    client.resolve_redirect_uri(params.get("redirect_uri"), openid)
}

/// Validates an authorization request of a known client.
pub fn validate(params: &Params, client: &Client) -> Result<AuthorizationRequest, AuthorizeError> {
    let redirect_uri = check_redirect_uri(params, client).map_err(AuthorizeError::Page)?;
    let state = params.get("state").map(str::to_owned);
    let requested_mode = ResponseMode::parse(params.get("response_mode"));
    let response_mode = requested_mode.clone().unwrap_or(ResponseMode::Query);
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        response: AuthorizationResponse::error(
            &redirect_uri,
            response_mode,
            state.as_deref(),
            &error,
        ),
        error,
    };
    let response_mode = requested_mode.map_err(fail)?;
    check_response_type(params, client).map_err(fail)?;
    if params.get("request").is_some() {
        return Err(fail(OAuthError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        )));
    }
    if params.get("request_uri").is_some() {
        return Err(fail(OAuthError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        )));
    }
    let scope = Scope::parse(params.get("scope").unwrap_or("")).map_err(fail)?;
    client.check_scope(&scope).map_err(fail)?;
    let challenge = pkce::parse_challenge(
        params.get("code_challenge"),
        params.get("code_challenge_method"),
        client,
    )
    .map_err(fail)?;
    let prompt = parse_prompt(params.get("prompt")).map_err(fail)?;
    let max_age = parse_max_age(params.get("max_age")).map_err(fail)?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri_explicit: params.get("redirect_uri").is_some(),
        redirect_uri,
        response_mode,
        scope: scope.to_string(),
        state,
        nonce: params.get("nonce").map(str::to_owned),
        challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
    })
}

/// RFC 6749 §4.1.1 and §4.1.2.1: `response_type` is required; Ferriam serves `code`; a client
/// not registered for it is `unauthorized_client`.
fn check_response_type(params: &Params, client: &Client) -> Result<(), OAuthError> {
    let response_type = params.require("response_type")?;
    if response_type != "code" {
        return Err(OAuthError::new(
            ErrorCode::UnsupportedResponseType,
            format!("response_type {response_type} is not supported"),
        ));
    }
    if !client.allows_response_type(response_type) || !client.allows_grant("authorization_code") {
        return Err(OAuthError::unauthorized_client(
            "this client may not use response_type code",
        ));
    }
    Ok(())
}

/// OpenID Connect Core §3.1.2.1: `none` must stand alone; unknown values are refused.
fn parse_prompt(value: Option<&str>) -> Result<Prompt, OAuthError> {
    let mut prompt = Prompt::default();
    let mut count = 0;
    for v in value.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        count += 1;
        match v {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            other => {
                return Err(OAuthError::invalid_request(format!(
                    "unsupported prompt value {other}"
                )))
            }
        }
    }
    if prompt.none && count > 1 {
        return Err(OAuthError::invalid_request(
            "prompt=none cannot be combined with other values",
        ));
    }
    Ok(prompt)
}

fn parse_max_age(value: Option<&str>) -> Result<Option<i64>, OAuthError> {
    value
        .map(|v| {
            v.parse::<u32>()
                .map(i64::from)
                .map_err(|_| OAuthError::invalid_request("max_age must be a non-negative integer"))
        })
        .transpose()
}

#[cfg(test)]
mod tests;
