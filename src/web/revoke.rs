//! `/revoke` (RFC 7009): a client revokes one of its own tokens. A refresh token takes its
//! whole grant with it (§2.1: "the authorization server SHOULD also invalidate all access
//! tokens based on the same authorization grant"), so the grant's access tokens stop working
//! too; an access token is revoked by itself, by its `jti`, until it would have expired.
//!
//! Unknown, malformed and expired tokens answer 200 (§2.2: "invalid tokens do not cause an
//! error response"). A storage failure answers 503 (§2.2.1), never a 200 for a token that
//! still works.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use ferriam_protocol::client::Client;
use ferriam_protocol::revocation::{check_owner, PresentedToken};

use super::client_auth::authenticate;
use super::extract::Form;
use super::presented::{find, Found};
use crate::app::AppState;
use crate::error::{no_store, AppError, TokenError};
use crate::tokens::opaque;

pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, TokenError> {
    let params = params?;
    let result = async {
        let client = authenticate(&state, &headers, &params, "/revoke").await?;
        let presented = PresentedToken::parse(&params)?;
        revoke_presented(&state, &client.client, &presented).await
    }
    .await;
    result.map_err(AppError::unavailable_on_store_failure)?;
    Ok(no_store(StatusCode::OK.into_response()))
}

async fn revoke_presented(
    state: &AppState,
    client: &Client,
    presented: &PresentedToken,
) -> Result<(), AppError> {
    let now = state.now();
    match find(state, presented).await? {
        None => Ok(()),
        Some(Found::Access(claims)) => {
            check_owner(&claims.client_id, &client.client_id)?;
            let jti_hash = opaque::hash(&claims.jti);
            Ok(state
                .store
                .revoke_access_token(&jti_hash, claims.exp)
                .await?)
        }
        Some(Found::Refresh { record, .. }) => {
            // A token that is already revoked or expired is invalid: nothing to do (§2.2).
            if record.revoked || now >= record.expires_at {
                return Ok(());
            }
            check_owner(&record.client_id, &client.client_id)?;
            // The grant stays on the revocation list while any of its access tokens may live.
            let access_ttl = client
                .access_token_ttl
                .unwrap_or(state.config.access_token_ttl) as i64;
            let until = record.family_expires_at.max(now + access_ttl);
            Ok(state.store.revoke_grant(&record.grant_id, until).await?)
        }
    }
}
