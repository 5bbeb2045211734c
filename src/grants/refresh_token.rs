//! grant_type=refresh_token (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).
//!
//! Each use returns a new refresh token and retires the old one. Presenting a retired token
//! again revokes the whole family, except within the grace window: a retry of the same refresh
//! (a lost response, two tabs) gets the same new token again. The successor is derived as
//! HMAC(server key, old token), so it can be recomputed although only hashes are stored.

use ferriam_protocol::client::Client;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::refresh_token::RefreshRequest;
use ferriam_protocol::token::TokenResponse;
use ferriam_protocol::OAuthError;

use super::{mint, IdTokenFacts, Mint};
use crate::app::AppState;
use crate::error::AppError;
use crate::store::RefreshRecord;
use crate::tokens::opaque;

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    let req = RefreshRequest::parse(params)?;
    let now = state.now();
    let old_hash = opaque::hash(&req.refresh_token);
    let invalid = || OAuthError::invalid_grant("the refresh token is invalid, expired or revoked");
    let (record, user) = state.store.refresh(&old_hash).await?.ok_or_else(invalid)?;
    if record.client_id != client.client_id || record.revoked || now >= record.expires_at {
        return Err(invalid().into());
    }
    let granted = Scope::parse(&record.scope)?;
    let scope = req.effective_scope(&granted)?;
    // The user must still exist and be enabled.
    let user = user.ok_or_else(invalid)?;
    let successor = opaque::derive(&state.refresh_key, &req.refresh_token);
    let successor_hash = opaque::hash(&successor);
    let ttl = client
        .refresh_token_ttl
        .unwrap_or(state.config.refresh_token_ttl) as i64;
    let next = RefreshRecord {
        expires_at: (now + ttl).min(record.family_expires_at),
        issued_at: now,
        rotated_at: None,
        revoked: false,
        ..record.clone()
    };
    let rotated_now = record.rotated_at.is_none()
        && state
            .store
            .rotate_refresh(&old_hash, &successor_hash, &next)
            .await?;
    if !rotated_now {
        // Already rotated, by an earlier request or a concurrent one that just won.
        let (current, _) = state.store.refresh(&old_hash).await?.ok_or_else(invalid)?;
        let rotated_at = current.rotated_at.unwrap_or(now);
        let successor_alive = state
            .store
            .refresh(&successor_hash)
            .await?
            .is_some_and(|(s, _)| s.rotated_at.is_none() && !s.revoked);
        let within_grace = now - rotated_at <= state.config.refresh_grace_period as i64;
        if current.revoked || !within_grace || !successor_alive {
            state
                .store
                .revoke_grant(&record.grant_id, record.family_expires_at)
                .await?;
            return Err(
                OAuthError::invalid_grant("the refresh token has already been used")
                    .with_detail(format!(
                        "refresh token reuse, grant {} revoked",
                        record.grant_id
                    ))
                    .into(),
            );
        }
    }
    let id_token = scope.contains("openid").then(|| IdTokenFacts {
        user: user.claims(),
        auth_time: record.auth_time,
        amr: record.amr.clone(),
        sid: record.sid.clone(),
        // OpenID Connect Core §12.2: a refreshed ID token carries no nonce.
        nonce: None,
    });
    mint(
        state,
        Mint {
            client,
            sub: user.sub.clone(),
            scope,
            grant_id: Some(record.grant_id.clone()),
            auth_time: Some(record.auth_time),
            id_token,
            refresh_token: Some(successor),
        },
    )
    .await
}
