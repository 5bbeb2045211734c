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
use crate::store::{RefreshRecord, Successor, User};
use crate::tokens::opaque;

/// The one answer for a token that cannot be used, whatever the reason (RFC 6749 §5.2).
fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// What a refresh request must satisfy against the token it presents.
#[derive(Clone)]
struct Rules {
    client_id: String,
    request: RefreshRequest,
    now: i64,
    /// The lifetime of the successor token, in seconds.
    ttl: i64,
}

impl Rules {
    /// The scope of the new access token, the record of the successor token and the token's
    /// user, or why the presented token cannot be used: it belongs to another client, is
    /// revoked or expired, the scope asked for exceeds the grant (RFC 6749 §6), or the user is
    /// gone or disabled (`None`: the store returns only enabled users).
    fn check<'u>(
        &self,
        record: &RefreshRecord,
        user: Option<&'u User>,
    ) -> Result<(Scope, RefreshRecord, &'u User), OAuthError> {
        if record.client_id != self.client_id || record.revoked || self.now >= record.expires_at {
            return Err(invalid());
        }
        let scope = self
            .request
            .effective_scope(&Scope::parse(&record.scope)?)?;
        let user = user.ok_or_else(invalid)?;
        let next = RefreshRecord {
            expires_at: (self.now + self.ttl).min(record.family_expires_at),
            issued_at: self.now,
            rotated_at: None,
            revoked: false,
            ..record.clone()
        };
        Ok((scope, next, user))
    }
}

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    let rules = Rules {
        client_id: client.client_id.clone(),
        request: RefreshRequest::parse(params)?,
        now: state.now(),
        ttl: client
            .refresh_token_ttl
            .unwrap_or(state.config.refresh_token_ttl) as i64,
    };
    let now = rules.now;
    let old_hash = opaque::hash(&rules.request.refresh_token);
    let successor = opaque::derive(&state.refresh_key, &rules.request.refresh_token);
    let successor_hash = opaque::hash(&successor);
    // The rules run where the token is read, so that a valid token is read and rotated in one
    // trip to the database; they run again here to say why a token was refused.
    let decide: Successor = {
        let rules = rules.clone();
        Box::new(move |record, user| rules.check(record, user).ok().map(|(_, next, _)| next))
    };
    let rotation = state
        .store
        .refresh_and_rotate(&old_hash, &successor_hash, decide)
        .await?
        .ok_or_else(invalid)?;
    let record = &rotation.record;
    let (scope, _, user) = rules.check(record, rotation.user.as_ref())?;
    if !rotation.rotated {
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
        // OpenID Connect Core §12.2: a refreshed ID token carries no nonce, and the
        // original authentication's facts (auth_time, amr, acr).
        nonce: None,
        acr: record.acr.clone(),
        extra: Default::default(),
    });
    mint(
        state,
        Mint {
            client,
            sub: user.sub.clone(),
            scope,
            grant_id: Some(record.grant_id.clone()),
            auth_time: Some(record.auth_time),
            acr: record.acr.clone(),
            id_token,
            refresh_token: Some(successor),
        },
    )
    .await
}
