//! The authorization endpoint's request validation (RFC 6749 §4.1.1, OpenID Connect Core
//! §3.1.2.1-§3.1.2.2), in the order the specs require.
//!
//! The client and its redirect URI are checked first: until both are known to be good, an error
//! must be shown to the user and never redirected (RFC 6749 §4.1.2.1). Every later error goes
//! back to the client at the validated redirect URI, with `state` and `iss`, in the response
//! mode the client listens on: the fragment for a response type that returns tokens.

mod response;
pub mod response_type;

pub use response::{AuthorizationResponse, ResponseMode};
pub use response_type::ResponseType;

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
    /// What the response returns (code, ID token, access token); `code` for requests stored
    /// before the other response types existed.
    #[serde(default)]
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: Option<Challenge>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `idp_hint`: the name of the upstream identity provider to sign in through, skipping
    /// the choice on the sign-in page (a Keycloak-style extension; not part of the specs).
    #[serde(default)]
    pub idp_hint: Option<String>,
    /// `acr_values` (OpenID Connect Core §3.1.2.1): the authentication context classes the
    /// client would like, in order of preference; voluntary, so a value no rule names is no
    /// error. The sign-in policy's `acr_values` conditions read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// Not a parameter: the `acr_values` entry named by the policy decision that this
    /// request's sign-in (or the session it reuses) satisfied, set by the server before the
    /// response is issued, for the tokens' `acr` (Core §2). Kept on the request because the
    /// request is what travels from the sign-in pages to the response. `None` from
    /// [`validate`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied_acr: Option<String>,
}

/// The client_id of a sign-in to the server's own account page. It holds a space, so no
/// client can ever be registered under it (`registration`: printable ASCII without spaces),
/// and the sign-in pages show it where they show a client's name.
pub const ACCOUNT_PAGE: &str = "your account";

impl AuthorizationRequest {
    /// The request a sign-in to the account page stands on: it goes to no client (the server
    /// checks the interaction's account mark, never this request's redirect URI).
    pub fn account_page() -> Self {
        Self {
            client_id: ACCOUNT_PAGE.to_owned(),
            redirect_uri: String::new(),
            redirect_uri_explicit: false,
            response_type: ResponseType::default(),
            response_mode: ResponseMode::Query,
            scope: "openid".to_owned(),
            state: None,
            nonce: None,
            challenge: None,
            prompt: Prompt::default(),
            max_age: None,
            login_hint: None,
            idp_hint: None,
            acr_values: Vec::new(),
            satisfied_acr: None,
        }
    }

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

/// The `client_id` of a request, checked before the client is looked up: missing or sent
/// twice, the request has no client to answer, so the error is shown on a page.
pub fn client_id(params: &Params) -> Result<&str, OAuthError> {
    if params.is_duplicated("client_id") {
        return Err(OAuthError::invalid_request(
            "client_id is included more than once",
        ));
    }
    params.require("client_id")
}

/// The redirect URI of a request for `client`, checked before anything else. A duplicated
/// `redirect_uri` cannot be trusted either (RFC 6749 §4.1.2.1).
pub fn check_redirect_uri(params: &Params, client: &Client) -> Result<String, OAuthError> {
    if params.is_duplicated("redirect_uri") {
        return Err(OAuthError::invalid_request(
            "redirect_uri is included more than once",
        ));
    }
    let openid = params
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|t| t == "openid"));
    client.resolve_redirect_uri(params.get("redirect_uri"), openid)
}

/// Validates an authorization request of a known client.
///
/// `params` may record duplicated parameters ([`Params::parse_keeping_duplicates`]): once
/// the client and redirect URI are known, a duplicate is an `invalid_request` sent back to
/// the client (without `state` when `state` itself was repeated, since it has no value).
pub fn validate(params: &Params, client: &Client) -> Result<AuthorizationRequest, AuthorizeError> {
    client_id(params).map_err(AuthorizeError::Page)?;
    let redirect_uri = check_redirect_uri(params, client).map_err(AuthorizeError::Page)?;
    let state = params.get("state").map(str::to_owned);
    let default_mode = response_type::default_mode(params.get("response_type"));
    let requested_mode = ResponseMode::parse(params.get("response_mode"));
    let error_mode = match requested_mode {
        Ok(Some(mode)) if mode_allowed(mode, default_mode) => mode,
        _ => default_mode,
    };
    let fail = |error: OAuthError| AuthorizeError::Redirect {
        response: AuthorizationResponse::error(&redirect_uri, error_mode, state.as_deref(), &error),
        error,
    };
    if let Some(name) = params.duplicates().iter().next() {
        return Err(fail(
            OAuthError::invalid_request("a parameter is included more than once")
                .with_detail(format!("duplicated parameter {name}")),
        ));
    }
    let requested_mode = requested_mode.map_err(fail)?;
    let response_type = check_response_type(params, client).map_err(fail)?;
    let response_mode = requested_mode.unwrap_or(default_mode);
    if !mode_allowed(response_mode, default_mode) {
        return Err(fail(OAuthError::invalid_request(
            "response_mode query is not allowed for a response type that returns tokens",
        )));
    }
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
    let nonce = params.get("nonce").map(str::to_owned);
    check_id_token_request(response_type, &scope, nonce.as_deref()).map_err(fail)?;
    // RFC 7636 binds a code to its token request; a response without a code has nothing for
    // PKCE to protect, so its parameters are not read (a public implicit client needs none).
    let challenge = if response_type.code {
        pkce::parse_challenge(
            params.get("code_challenge"),
            params.get("code_challenge_method"),
            client,
        )
        .map_err(fail)?
    } else {
        None
    };
    let prompt = parse_prompt(params.get("prompt")).map_err(fail)?;
    let max_age = parse_max_age(params.get("max_age")).map_err(fail)?;
    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri_explicit: params.get("redirect_uri").is_some(),
        redirect_uri,
        response_type,
        response_mode,
        scope: scope.to_string(),
        state,
        nonce,
        challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_owned),
        idp_hint: params.get("idp_hint").map(str::to_owned),
        acr_values: parse_acr_values(params.get("acr_values")),
        satisfied_acr: None,
    })
}

/// Multiple Response Type Encoding Practices §2.1 and RFC 9700 §2.1.2: tokens never travel in
/// the query, so `response_mode=query` is refused for a response type whose default is the
/// fragment.
fn mode_allowed(mode: ResponseMode, default: ResponseMode) -> bool {
    !(mode == ResponseMode::Query && default == ResponseMode::Fragment)
}

/// RFC 6749 §4.1.1 and §4.1.2.1: `response_type` is required; a value Ferriam does not serve
/// is `unsupported_response_type`; one the client did not register (compared as sets), or
/// whose grant types it lacks (OpenID Connect Registration §2), is `unauthorized_client`.
fn check_response_type(params: &Params, client: &Client) -> Result<ResponseType, OAuthError> {
    let value = params.require("response_type")?;
    let response_type = ResponseType::parse(value)?;
    if !client.allows_response_type(value)
        || response_type.grant_types().any(|g| !client.allows_grant(g))
    {
        return Err(
            OAuthError::unauthorized_client("this client may not use this response_type")
                .with_detail(format!("response_type {response_type}")),
        );
    }
    Ok(response_type)
}

/// An ID token from the authorization endpoint needs the `openid` scope (it is an OpenID
/// Connect response) and a `nonce` (OpenID Connect Core §3.2.2.1 and §3.3.2.11: REQUIRED in
/// the implicit and hybrid flows, the only replay defence of a front-channel ID token).
fn check_id_token_request(
    response_type: ResponseType,
    scope: &Scope,
    nonce: Option<&str>,
) -> Result<(), OAuthError> {
    if !response_type.id_token {
        return Ok(());
    }
    if !scope.contains("openid") {
        return Err(OAuthError::invalid_request(
            "a response_type with id_token needs the openid scope",
        ));
    }
    if nonce.is_none() {
        return Err(OAuthError::invalid_request(
            "nonce is required when the response_type includes id_token",
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
                return Err(OAuthError::invalid_request("unsupported prompt value")
                    .with_detail(format!("prompt value {other}")))
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

/// OpenID Connect Core §3.1.2.1: `acr_values` is a space-separated list in order of
/// preference; an empty value asks for nothing. A repeated value keeps its first place.
fn parse_acr_values(value: Option<&str>) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for v in value.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        if !values.iter().any(|seen| seen == v) {
            values.push(v.to_owned());
        }
    }
    values
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
