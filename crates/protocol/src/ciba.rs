//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0): the rules of
//! the backchannel authentication request (§7.1), its answer's lifetime (§7.3), the token
//! delivery modes (§5) and the poll decision at the token endpoint (§7.3, §11).
//!
//! Pure functions: the server looks the user up from the hint, stores the request, reaches
//! the user and records the decision; it asks this module whether a request is well formed
//! and what a poll must be answered.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::logout::HintClaims;
use crate::params::Params;
use crate::scope::Scope;
use crate::{ErrorCode, OAuthError};

/// The grant type a CIBA client redeems its `auth_req_id` with (CIBA §10.1).
pub const GRANT_TYPE: &str = "urn:openid:params:grant-type:ciba";

/// The ID token claim naming the request in push mode (CIBA §10.3.1).
pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";

/// The ID token claim hashing the refresh token in push mode (CIBA §10.3.1).
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";

/// How long a poll must wait after a `slow_down` longer than before (CIBA §11: "the interval
/// MUST be increased by at least 5 seconds for this and all subsequent requests").
pub const SLOW_DOWN_STEP: i64 = 5;

/// The longest interval the server holds a client to. CIBA §11 tells the client to add 5 s
/// with every `slow_down`; the server's record of it stops growing here, so a client that
/// never slows down costs no further write once it is reached.
pub const MAX_INTERVAL: i64 = 60;

/// The longest `binding_message` accepted. CIBA §7.1 asks only that it be "relatively short"
/// so both devices can show it; 64 characters fit a phone notification.
pub const MAX_BINDING_MESSAGE: usize = 64;

/// The shortest and longest CIBA user code a user may set on the account page.
pub const USER_CODE_LEN: std::ops::RangeInclusive<usize> = 4..=64;

/// Whether `code` can be a user code: [`USER_CODE_LEN`] characters, none of them control
/// characters or spaces at either end (it is typed on another device).
pub fn valid_user_code(code: &str) -> bool {
    USER_CODE_LEN.contains(&code.chars().count())
        && code.trim() == code
        && code.chars().all(|c| !c.is_control())
}

/// The longest `client_notification_token` (CIBA §7.1: "MUST NOT exceed 1024 characters").
pub const MAX_NOTIFICATION_TOKEN: usize = 1024;

/// How a client receives the result (CIBA §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryMode {
    /// The client polls the token endpoint.
    Poll,
    /// The server calls the client's notification endpoint, then the client fetches.
    Ping,
    /// The server posts the tokens to the client's notification endpoint.
    Push,
}

impl DeliveryMode {
    /// Every mode, as discovery lists them (`backchannel_token_delivery_modes_supported`).
    pub const ALL: [DeliveryMode; 3] = [Self::Poll, Self::Ping, Self::Push];

    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Poll => "poll",
            Self::Ping => "ping",
            Self::Push => "push",
        }
    }

    /// Whether the server calls the client's notification endpoint in this mode.
    pub fn notifies(self) -> bool {
        self != Self::Poll
    }

    /// Whether the client may redeem at the token endpoint (CIBA §10.3: push clients never do).
    pub fn polls_token_endpoint(self) -> bool {
        self != Self::Push
    }
}

impl fmt::Display for DeliveryMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeliveryMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| format!("unknown CIBA delivery mode {s:?} (poll, ping or push)"))
    }
}

/// What a CIBA client registered, as the request's rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CibaClient {
    pub mode: DeliveryMode,
    /// `backchannel_user_code_parameter` (CIBA §4): requests must carry the user's code.
    pub user_code_required: bool,
}

/// Who the request is for: exactly one hint (CIBA §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// A username, an email address or an E.164 phone number.
    LoginHint(String),
    /// An ID token this server issued to the user (expired ones still name the user).
    IdTokenHint(String),
    /// A token naming the user, in a format agreed out of band.
    LoginHintToken(String),
}

/// A well-formed backchannel authentication request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelRequest {
    pub scope: Scope,
    pub hint: Hint,
    pub binding_message: Option<String>,
    pub user_code: Option<String>,
    /// Seconds, as the client asked (capped by [`expires_in`]).
    pub requested_expiry: Option<i64>,
    pub acr_values: Vec<String>,
    /// The bearer token for the client's notification endpoint (ping and push).
    pub client_notification_token: Option<String>,
}

/// A CIBA error for the backchannel endpoint or the token endpoint.
fn error(code: ErrorCode, description: &str) -> OAuthError {
    OAuthError::new(code, description)
}

/// Checks a backchannel authentication request (CIBA §7.1) from `client`, before anything
/// about the user is looked up. Which hint names a user, and whether a `user_code` is the
/// user's, the server decides afterwards (`unknown_user_id`, `invalid_user_code`).
pub fn validate(params: &Params, client: CibaClient) -> Result<BackchannelRequest, OAuthError> {
    // CIBA §7.1.1: signed requests are not offered (discovery advertises no signing algs).
    if params.get("request").is_some() {
        return Err(OAuthError::invalid_request(
            "signed authentication requests are not supported",
        ));
    }
    let scope = Scope::parse(params.require("scope")?)?;
    if !scope.contains("openid") {
        // CIBA §7.1: "The CIBA authentication request MUST contain the openid scope value."
        return Err(OAuthError::invalid_scope("the openid scope is required"));
    }
    let hints = [
        params
            .get("login_hint")
            .map(|h| Hint::LoginHint(h.to_owned())),
        params
            .get("id_token_hint")
            .map(|h| Hint::IdTokenHint(h.to_owned())),
        params
            .get("login_hint_token")
            .map(|h| Hint::LoginHintToken(h.to_owned())),
    ];
    let mut given = hints.into_iter().flatten();
    let hint = match (given.next(), given.next()) {
        (Some(hint), None) => hint,
        (None, _) => {
            return Err(OAuthError::invalid_request(
                "one of login_hint, id_token_hint or login_hint_token is required",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "only one of login_hint, id_token_hint and login_hint_token may be sent",
            ))
        }
    };
    let binding_message = params.get("binding_message").map(str::to_owned);
    if let Some(message) = &binding_message {
        if !valid_binding_message(message) {
            return Err(error(
                ErrorCode::InvalidBindingMessage,
                "the binding_message must be at most 64 printable characters",
            ));
        }
    }
    let user_code = params.get("user_code").map(str::to_owned);
    if client.user_code_required && user_code.is_none() {
        return Err(error(
            ErrorCode::MissingUserCode,
            "this client must send the user's user_code",
        ));
    }
    let requested_expiry = match params.get("requested_expiry") {
        None => None,
        Some(raw) => Some(
            raw.parse::<i64>()
                .ok()
                .filter(|s| *s > 0 && raw.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| {
                    OAuthError::invalid_request("requested_expiry must be a positive integer")
                })?,
        ),
    };
    let acr_values = params
        .get("acr_values")
        .map(|v| {
            v.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let client_notification_token = params.get("client_notification_token").map(str::to_owned);
    match &client_notification_token {
        None if client.mode.notifies() => {
            return Err(OAuthError::invalid_request(
                "client_notification_token is required in ping and push modes",
            ))
        }
        Some(token) if !valid_notification_token(token) => {
            return Err(OAuthError::invalid_request(
                "client_notification_token must be a bearer credential of at most 1024 characters",
            ))
        }
        _ => {}
    }
    Ok(BackchannelRequest {
        scope,
        hint,
        binding_message,
        user_code,
        requested_expiry,
        acr_values,
        client_notification_token,
    })
}

/// The user an `id_token_hint` names, once its signature is verified: it must be an ID token
/// of this issuer for this very client (CIBA §7.1: "an ID Token previously issued to the
/// Client"). Its `exp` is not checked: CIBA lets an expired ID token name the user.
pub fn hint_subject<'a>(
    claims: &'a HintClaims,
    issuer: &str,
    client_id: &str,
) -> Result<&'a str, OAuthError> {
    if claims.iss != issuer || claims.aud != client_id {
        return Err(OAuthError::invalid_request(
            "the id_token_hint was not issued here to this client",
        ));
    }
    Ok(&claims.sub)
}

/// A binding message both devices can show: not blank, at most [`MAX_BINDING_MESSAGE`]
/// characters, no control characters (CIBA §7.1: "a limited set of plain text characters").
pub fn valid_binding_message(message: &str) -> bool {
    let count = message.chars().count();
    count > 0
        && count <= MAX_BINDING_MESSAGE
        && !message.trim().is_empty()
        && message.chars().all(|c| !c.is_control())
}

/// RFC 6750 §2.1's b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn valid_notification_token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    token.len() <= MAX_NOTIFICATION_TOKEN
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// The `expires_in` of a new request: what the client asked, within the server's bound, or
/// the server's default (CIBA §7.1 `requested_expiry`, §7.3 `expires_in`).
pub fn expires_in(requested: Option<i64>, default: i64, max: i64) -> i64 {
    requested.unwrap_or(default).clamp(1, max.max(1))
}

/// Where a stored request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestState {
    /// The user has not decided.
    Pending,
    Approved,
    Denied,
    /// Tokens were issued; the auth_req_id is spent.
    Redeemed,
}

/// What a poll of the token endpoint knows about its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    pub now: i64,
    pub expires_at: i64,
    pub state: RequestState,
    /// The interval the client must respect now (seconds).
    pub interval: i64,
    /// When this client last polled the request, if it did.
    pub last_poll_at: Option<i64>,
}

/// The answer to a poll (CIBA §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollAnswer {
    /// `authorization_pending`.
    Pending,
    /// `slow_down`: too early; from now on the interval is `interval`.
    SlowDown { interval: i64 },
    /// Approved: issue the tokens, once.
    Issue,
    /// `access_denied`.
    Denied,
    /// `expired_token`.
    Expired,
    /// `invalid_grant`: tokens were issued for it already.
    Redeemed,
}

/// Decides a poll. A decided request answers at once whatever the interval (the client
/// learns the outcome as soon as possible); a pending one polled before its interval has
/// passed gets `slow_down` with a longer interval.
pub fn poll(p: Poll) -> PollAnswer {
    match p.state {
        RequestState::Redeemed => return PollAnswer::Redeemed,
        _ if p.now >= p.expires_at => return PollAnswer::Expired,
        RequestState::Approved => return PollAnswer::Issue,
        RequestState::Denied => return PollAnswer::Denied,
        RequestState::Pending => {}
    }
    match p.last_poll_at {
        Some(last) if p.now - last < p.interval => PollAnswer::SlowDown {
            interval: (p.interval + SLOW_DOWN_STEP)
                .min(MAX_INTERVAL)
                .max(p.interval),
        },
        _ => PollAnswer::Pending,
    }
}

impl PollAnswer {
    /// The token endpoint's error for an answer that issues nothing.
    pub fn error(self) -> Option<OAuthError> {
        Some(match self {
            Self::Issue => return None,
            Self::Pending => error(
                ErrorCode::AuthorizationPending,
                "the user has not answered yet",
            ),
            Self::SlowDown { .. } => error(
                ErrorCode::SlowDown,
                "polled before the interval passed; wait 5 seconds longer from now on",
            ),
            Self::Denied => error(ErrorCode::AccessDenied, "the user denied the request"),
            Self::Expired => error(
                ErrorCode::ExpiredToken,
                "the auth_req_id has expired; start a new request",
            ),
            Self::Redeemed => OAuthError::invalid_grant("the auth_req_id was already redeemed"),
        })
    }
}

/// The HTTP status of an error at the backchannel authentication endpoint (CIBA §13):
/// `invalid_client` 401, `access_denied` 403, every other code 400.
pub fn backchannel_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::InvalidClient => 401,
        ErrorCode::AccessDenied => 403,
        ErrorCode::ServerError => 500,
        ErrorCode::TemporarilyUnavailable => 503,
        _ => 400,
    }
}

#[cfg(test)]
mod tests;
