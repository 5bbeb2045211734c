//! grant_type=authorization_code (RFC 6749 §4.1.3): redeem the code once, check what it was
//! bound to, mint tokens, and start a refresh-token family when one is due.

use ferriam_protocol::client::Client;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::authorization_code::{check, CodeRequest};
use ferriam_protocol::token::TokenResponse;
use ferriam_protocol::OAuthError;

use super::{mint, IdTokenFacts, Mint};
use crate::app::AppState;
use crate::error::AppError;
use crate::store::{CodeRedemption, RefreshRecord};
use crate::tokens::opaque;

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    let req = CodeRequest::parse(params)?;
    let now = state.now();
    let (code, user) = match state
        .store
        .redeem_code(&opaque::hash(&req.code), now)
        .await?
    {
        CodeRedemption::Fresh { code, user } => (code, user),
        CodeRedemption::Replayed { grant_id } => {
            // RFC 6749 §4.1.2: a code used twice revokes every token issued from it.
            let until = now + family_lifetime(state, client);
            state.store.revoke_grant(&grant_id, until).await?;
            return Err(
                OAuthError::invalid_grant("the authorization code has already been used")
                    .with_detail(format!("code replay, grant {grant_id} revoked"))
                    .into(),
            );
        }
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant("unknown authorization code").into())
        }
    };
    check(&code.binding, &req, &client.client_id, now)?;
    let Some(user) = user else {
        return Err(OAuthError::invalid_grant("the user is no longer active").into());
    };
    let scope = Scope::parse(&code.scope)?;
    let openid = scope.contains("openid");
    // OpenID Connect Core §11: OpenID clients get a refresh token only with offline_access.
    let refresh_token =
        if client.allows_grant("refresh_token") && (!openid || scope.contains("offline_access")) {
            let token = opaque::random_token();
            let family_expires_at = now + family_lifetime(state, client);
            let ttl = client
                .refresh_token_ttl
                .unwrap_or(state.config.refresh_token_ttl) as i64;
            let record = RefreshRecord {
                grant_id: code.grant_id.clone(),
                client_id: client.client_id.clone(),
                sub: user.sub.clone(),
                scope: code.scope.clone(),
                auth_time: code.auth_time,
                amr: code.amr.clone(),
                sid: code.sid.clone(),
                acr: code.acr.clone(),
                expires_at: (now + ttl).min(family_expires_at),
                family_expires_at,
                issued_at: now,
                rotated_at: None,
                revoked: false,
            };
            state
                .store
                .save_refresh(&opaque::hash(&token), &record)
                .await?;
            Some(token)
        } else {
            None
        };
    let id_token = openid.then(|| IdTokenFacts {
        user: user.claims(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        sid: code.sid.clone(),
        nonce: code.nonce.clone(),
        acr: code.acr.clone(),
    });
    mint(
        state,
        Mint {
            client,
            sub: user.sub.clone(),
            scope,
            grant_id: Some(code.grant_id.clone()),
            auth_time: Some(code.auth_time),
            acr: code.acr.clone(),
            id_token,
            refresh_token,
        },
    )
    .await
}

/// The absolute lifetime of a refresh-token family started now: the client's own
/// `--refresh-token-absolute-ttl`, else the server's setting.
fn family_lifetime(state: &AppState, client: &Client) -> i64 {
    client
        .refresh_token_absolute_ttl
        .unwrap_or(state.config.refresh_token_absolute_ttl) as i64
}
