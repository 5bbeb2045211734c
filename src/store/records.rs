//! The records the store keeps, as the rest of the server sees them.

use ferriam_protocol::authorize::AuthorizationRequest;
use ferriam_protocol::claims::UserClaims;
use ferriam_protocol::client::Client;
use ferriam_protocol::mfa::Factor;
use ferriam_protocol::token::authorization_code::CodeBinding;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub sub: String,
    pub username: String,
    pub password_hash: Option<String>,
    pub disabled: bool,
    pub profile: Profile,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The user's profile, stored as one JSON document so new attributes need no migration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
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
    /// Free-form attributes for policies (department, region, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl User {
    /// The claims this user can release.
    pub fn claims(&self) -> UserClaims {
        let p = &self.profile;
        UserClaims {
            sub: self.sub.clone(),
            preferred_username: self.username.clone(),
            email: p.email.clone(),
            email_verified: p.email_verified,
            given_name: p.given_name.clone(),
            family_name: p.family_name.clone(),
            phone_number: p.phone_number.clone(),
            phone_number_verified: p.phone_number_verified,
            birthdate: p.birthdate.clone(),
            updated_at: self.updated_at,
        }
    }
}

/// A client with the hash of its secret (confidential clients only).
#[derive(Debug, Clone)]
pub struct StoredClient {
    pub client: Client,
    pub secret_hash: Option<String>,
    /// The secret itself, sealed (`tokens::sealing::seal_secret`), for `client_secret_jwt`
    /// clients only: an HMAC needs the key, not its hash.
    pub sealed_secret: Option<String>,
}

/// Failures counted for one throttling key in its current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub failures: i64,
    /// When the window ends and the count starts again.
    pub window_ends: i64,
}

/// A signing key as stored.
#[derive(Debug, Clone)]
pub struct KeyRecord {
    pub kid: String,
    pub alg: String,
    /// Base64 of the PKCS#8 DER private key.
    pub private_pkcs8: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// A single sign-on session, found by the hash of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The public session id put in ID tokens' `sid` claim.
    pub sid: String,
    pub sub: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub expires_at: i64,
    /// The upstream identity provider the user signed in through; `None` for the local form.
    pub idp: Option<String>,
    /// The second factors proved in this session.
    pub factors: Vec<Factor>,
}

/// An authorization request waiting for the user to sign in or consent, bound to one browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interaction {
    pub request: AuthorizationRequest,
    /// SHA-256 of the browser cookie that started the request.
    pub browser_hash: String,
    /// SHA-256 of the CSRF token the pages embed.
    pub csrf_hash: String,
    /// Set once the user has signed in during this interaction (or had a usable session).
    #[serde(default)]
    pub sub: Option<String>,
    #[serde(default)]
    pub auth_time: i64,
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub sid: String,
    pub expires_at: i64,
    /// Set on the copy stored under the hash of the `state` sent to an upstream, while the
    /// user signs in there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<UpstreamWait>,
    /// Set once the first factor is proved and the policy asks for more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingFactors>,
    /// A sign-in to one of the server's own pages (the account page, a CIBA approval) rather
    /// than to a client: it ends there, on this path, with a session and never with an
    /// authorization response. Set by the server only, never from a request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
}

/// A sign-in between its first factor (password or upstream) and the second factors its
/// policy rule asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFactors {
    pub sub: String,
    /// What the first factor gave: `["pwd"]`, or `["fed", ...the upstream's amr]`.
    pub first_amr: Vec<String>,
    pub idp: Option<String>,
    /// The rule that asked, for the audit trail.
    pub rule: Option<String>,
    /// Factors still to prove, in order; the first is the one asked now.
    pub remaining: Vec<Factor>,
    /// Factors to choose one from (an `any_of` rule) before `remaining` is set.
    #[serde(default)]
    pub choices: Vec<Factor>,
    pub proved: Vec<Factor>,
}

/// What the callback of an upstream sign-in needs: where the user came from and the leg's
/// single-use secrets. The interaction id itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamWait {
    /// The hash of the id of the interaction the user left for the upstream.
    pub from: String,
    pub leg: crate::federation::leg::Leg,
}

/// An issued authorization code: what it is bound to and what it grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeRecord {
    pub grant_id: String,
    pub binding: CodeBinding,
    pub sub: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub sid: String,
    /// The `acr` of the sign-in, when the request asked for `acr_values` and the sign-in met a
    /// rule naming one; the tokens of the code and of its refresh tokens carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

/// The outcome of redeeming a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now consumed.
    Fresh {
        code: Box<CodeRecord>,
        /// The code's user, if it still exists and is enabled.
        user: Option<Box<User>>,
    },
    /// The code had been used already: its grant must be revoked (RFC 6749 §4.1.2).
    Replayed {
        grant_id: String,
    },
    Unknown,
}

/// A refresh token of a grant's rotation family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshRecord {
    pub grant_id: String,
    pub client_id: String,
    pub sub: String,
    pub scope: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub sid: String,
    /// The original sign-in's `acr` (from the code): a refreshed ID token keeps it (OpenID
    /// Connect Core §12.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Sliding expiry of this token.
    pub expires_at: i64,
    /// Absolute expiry of the whole family.
    pub family_expires_at: i64,
    /// When this token was issued.
    #[serde(skip)]
    pub issued_at: i64,
    /// When its successor was issued, if it has been rotated.
    #[serde(skip)]
    pub rotated_at: Option<i64>,
    #[serde(skip)]
    pub revoked: bool,
}

/// The JSON text a record column holds.
pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, super::StoreError> {
    serde_json::to_string(value).map_err(|e| super::StoreError::Corrupt(e.to_string()))
}

/// A record from its JSON column.
pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<T, super::StoreError> {
    serde_json::from_str(text).map_err(|e| super::StoreError::Corrupt(e.to_string()))
}
