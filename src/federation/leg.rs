//! The upstream leg of a federated sign-in, as the relying party (OpenID Connect Core 1.0
//! §3.1, RFC 7636, RFC 9700 §2.1): the authorization request with a fresh `state`, `nonce`
//! and PKCE S256 challenge, and the redemption of the code the upstream sends back, with
//! client_secret_basic and the PKCE verifier, ending in a validated ID token and, when the
//! upstream has a userinfo endpoint, its answer for the same `sub`.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, SubjectIdentifier, TokenResponse, UserInfoClaims,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::accounts::UpstreamClaims;
use super::discovery::Discovery;
use super::http::Outbound;
use super::id_token::{self, OtherClaims, Verified};
use crate::store::Upstream;
use crate::tokens::opaque;

/// What a sign-in keeps between sending the user to the upstream and the callback: to be
/// stored with the user's interaction (bound to the browser) and used once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    /// The upstream's name.
    pub upstream: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// Why the upstream leg failed; the text is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum LegError {
    #[error("the upstream's metadata: {0}")]
    Discovery(#[from] super::discovery::DiscoveryError),
    #[error("the upstream's configuration: {0}")]
    Configuration(String),
    #[error("the token request failed: {0}")]
    Token(String),
    #[error("the userinfo request failed or answered for another user: {0}")]
    UserInfo(String),
    #[error("the token response has no ID token")]
    NoIdToken,
    #[error(transparent)]
    IdToken(#[from] id_token::IdTokenError),
}

/// Ferriam as the relying party of one upstream: where its metadata comes from, how requests
/// go out, and the redirect URI registered there.
#[derive(Clone, Copy)]
pub struct Party<'a> {
    pub discovery: &'a Discovery,
    pub http: &'a Outbound,
    pub upstream: &'a Upstream,
    pub redirect_uri: &'a str,
}

/// The URL to send the browser to at the upstream, and the leg to keep. `openid` is always
/// asked for, with the upstream's registered scopes; `extra` adds parameters such as
/// `login_hint` or `prompt` (OpenID Connect Core §3.1.2.1).
pub async fn authorization_url(
    party: Party<'_>,
    now: i64,
    extra: &[(&str, String)],
) -> Result<(String, Leg), LegError> {
    let Party {
        discovery,
        http,
        upstream,
        redirect_uri,
    } = party;
    let metadata = discovery.get(http, upstream, now).await?;
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(upstream.client_id.clone()),
        None,
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| LegError::Configuration(e.to_string()))?,
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (state, nonce) = (opaque::random_token(), opaque::random_token());
    let (state_for_url, nonce_for_url) = (state.clone(), nonce.clone());
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(state_for_url),
            move || Nonce::new(nonce_for_url),
        )
        .set_pkce_challenge(challenge);
    for scope in &upstream.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    for (name, value) in extra {
        request = request.add_extra_param(*name, value.clone());
    }
    let (url, _, _) = request.url();
    Ok((
        url.to_string(),
        Leg {
            upstream: upstream.name.clone(),
            state,
            nonce,
            pkce_verifier: verifier.secret().clone(),
        },
    ))
}

/// Redeems the upstream's `code` for this leg with client_secret_basic and returns the
/// validated ID token's claims.
pub async fn redeem(
    party: Party<'_>,
    client_secret: &str,
    leg: &Leg,
    code: &str,
    now: i64,
) -> Result<Verified, LegError> {
    let Party {
        discovery,
        http,
        upstream,
        redirect_uri,
    } = party;
    let metadata = discovery.get(http, upstream, now).await?;
    // client_secret_basic is the crate's default authentication type.
    let client = CoreClient::from_provider_metadata(
        (*metadata).clone(),
        ClientId::new(upstream.client_id.clone()),
        Some(ClientSecret::new(client_secret.to_owned())),
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| LegError::Configuration(e.to_string()))?,
    );
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| LegError::Configuration(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(leg.pkce_verifier.clone()))
        .request_async(http)
        .await
        .map_err(|e| LegError::Token(e.to_string()))?;
    let token = response.id_token().ok_or(LegError::NoIdToken)?;
    let mut verified = id_token::verify(
        discovery,
        http,
        upstream,
        &token.to_string(),
        &leg.nonce,
        now,
    )
    .await?;
    if metadata.userinfo_endpoint().is_some() {
        // OpenID Connect Core §5.3.2: the userinfo `sub` must be the ID token's, or the
        // answer is not about this user; the crate refuses one that differs.
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
            .user_info(
                openidconnect::OAuth2TokenResponse::access_token(&response).clone(),
                Some(SubjectIdentifier::new(verified.claims.subject.clone())),
            )
            .map_err(|e| LegError::Configuration(e.to_string()))?
            .request_async(http)
            .await
            .map_err(|e| LegError::UserInfo(e.to_string()))?;
        // Claims the ID token left out are taken from the userinfo answer; the ID token's,
        // signed, win where both have one.
        if let Ok(Value::Object(extra)) = serde_json::to_value(&info) {
            for (name, value) in extra {
                verified.raw.entry(name).or_insert(value);
            }
        }
        verified.claims =
            UpstreamClaims::mapped(&verified.claims.subject, &verified.raw, &upstream.claims);
    }
    Ok(verified)
}
