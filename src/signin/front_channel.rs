//! The tokens the authorization endpoint returns itself in the implicit and hybrid flows
//! (OpenID Connect Core §3.2.2.5, §3.3.2.5): an access token, an ID token, or both, minted by
//! the same machinery as the token endpoint's, and never a refresh token (RFC 6749 §4.2.2).

use ferriam_protocol::authorize::{AuthorizationRequest, AuthorizationResponse};
use ferriam_protocol::scope::Scope;
use ferriam_protocol::{ErrorCode, OAuthError};

use crate::app::AppState;
use crate::error::AppError;
use crate::grants::{mint_front_channel, FrontChannel, IdTokenFacts, Mint};

/// The sign-in an authorization response speaks for.
pub struct SignIn<'a> {
    /// The user.
    pub sub: &'a str,
    /// When the user authenticated (seconds since the epoch).
    pub auth_time: i64,
    /// How the user authenticated (RFC 8176 values).
    pub amr: &'a [String],
    /// The single sign-on session.
    pub sid: &'a str,
}

/// Adds the access token (`access_token`, `token_type`, `expires_in`) and the ID token the
/// request's response type asks for. The access token carries `grant_id`, the grant of the
/// code returned beside it (if any), so revoking that grant, or replaying the code, revokes
/// it too. Both carry the `acr` the sign-in satisfied, if the request asked for one.
pub async fn add_tokens(
    state: &AppState,
    request: &AuthorizationRequest,
    signed_in: &SignIn<'_>,
    grant_id: &str,
    code: Option<&str>,
    mut response: AuthorizationResponse,
) -> Result<AuthorizationResponse, AppError> {
    let rt = request.response_type;
    let client = state
        .client(&request.client_id)
        .await?
        .ok_or_else(|| OAuthError::unauthorized_client("the client is no longer registered"))?;
    let id_token = if rt.id_token {
        let user = state
            .store
            .active_subject(signed_in.sub, None)
            .await?
            .ok_or_else(|| {
                OAuthError::new(ErrorCode::AccessDenied, "the user is no longer active")
            })?;
        Some(IdTokenFacts {
            user: user.claims(),
            auth_time: signed_in.auth_time,
            amr: signed_in.amr.to_vec(),
            sid: signed_in.sid.to_owned(),
            nonce: request.nonce.clone(),
            acr: request.satisfied_acr.clone(),
            extra: Default::default(),
        })
    } else {
        None
    };
    let tokens = mint_front_channel(
        state,
        FrontChannel {
            mint: Mint {
                client: &client.client,
                sub: signed_in.sub.to_owned(),
                scope: Scope::parse(&request.scope)?,
                grant_id: Some(grant_id.to_owned()),
                auth_time: Some(signed_in.auth_time),
                acr: request.satisfied_acr.clone(),
                id_token,
                refresh_token: None,
            },
            access_token: rt.token,
            code,
        },
    )
    .await?;
    if let Some((access_token, expires_in)) = tokens.access_token {
        response = response
            .with("access_token", &access_token)
            .with("token_type", "Bearer")
            .with("expires_in", &expires_in.to_string());
    }
    if let Some(id_token) = tokens.id_token {
        response = response.with("id_token", &id_token);
    }
    // RFC 6749 §4.2.2 asks for `scope` only when it differs from the request; consent is all
    // or nothing here, so the granted scope is always the requested one and is not repeated.
    Ok(response)
}
