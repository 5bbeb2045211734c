//! `/introspect` (RFC 7662): a resource server, registered as a client, asks whether a token
//! is active and what it carries. The caller must really authenticate (§2.1); a public client,
//! which only names itself, is refused with 401 `invalid_client`.
//!
//! An access token is active while its signature, type, issuer and expiry hold, neither it nor
//! its grant is revoked and its user still exists and is enabled (one store call), and its
//! client is still registered. A refresh token is active only to the client it was issued to.
//! Everything else is exactly `{"active": false}`.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::client::{AuthMethod, Client};
use ferriam_protocol::introspection::{
    refresh_token_active, ActiveToken, Introspection, RefreshFacts,
};
use ferriam_protocol::jwt_claims::AccessTokenClaims;
use ferriam_protocol::revocation::PresentedToken;
use ferriam_protocol::OAuthError;

use super::client_auth::authenticate;
use super::extract::Form;
use super::presented::{find, Found};
use crate::app::AppState;
use crate::error::{no_store, AppError, TokenError};
use crate::store::{RefreshRecord, User};
use crate::tokens::opaque;

pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, TokenError> {
    let params = params?;
    let result = async {
        let client = authenticate(&state, &headers, &params, "/introspect").await?;
        if client.client.token_endpoint_auth_method == AuthMethod::None {
            return Err(
                OAuthError::invalid_client("introspection requires client authentication")
                    .with_detail(format!("public client {}", client.client.client_id))
                    .into(),
            );
        }
        let presented = PresentedToken::parse(&params)?;
        introspection(&state, &client.client, &presented).await
    }
    .await;
    let answer = result.map_err(AppError::unavailable_on_store_failure)?;
    Ok(no_store(Json(answer.to_json()).into_response()))
}

async fn introspection(
    state: &AppState,
    caller: &Client,
    presented: &PresentedToken,
) -> Result<Introspection, AppError> {
    Ok(match find(state, presented).await? {
        None => Introspection::Inactive,
        Some(Found::Access(claims)) => access_token(state, &claims).await?,
        Some(Found::Refresh { record, user }) => {
            refresh_token(state, caller, &record, user.as_deref())
        }
    })
}

async fn access_token(
    state: &AppState,
    claims: &AccessTokenClaims,
) -> Result<Introspection, AppError> {
    // A deleted client's tokens end with it.
    if state.client(&claims.client_id).await?.is_none() {
        return Ok(Introspection::Inactive);
    }
    let jti_hash = opaque::hash(&claims.jti);
    // client_credentials tokens speak for the client itself: no grant, `sub` = client_id
    // (users' subjects are UUIDs, RFC 9700 §4.15.1).
    let for_client = claims.grant_id.is_none() && claims.sub == claims.client_id;
    let username = if for_client {
        if state.store.access_token_revoked(&jti_hash).await? {
            return Ok(Introspection::Inactive);
        }
        None
    } else {
        match state
            .store
            .token_subject(&claims.sub, claims.grant_id.as_deref(), Some(&jti_hash))
            .await?
        {
            Some(user) => Some(user.username),
            None => return Ok(Introspection::Inactive),
        }
    };
    Ok(Introspection::Active(Box::new(ActiveToken::access(
        claims, username,
    ))))
}

fn refresh_token(
    state: &AppState,
    caller: &Client,
    record: &RefreshRecord,
    user: Option<&User>,
) -> Introspection {
    let facts = RefreshFacts {
        client_id: record.client_id.clone(),
        sub: record.sub.clone(),
        scope: record.scope.clone(),
        issued_at: record.issued_at,
        expires_at: record.expires_at,
        revoked: record.revoked,
        rotated: record.rotated_at.is_some(),
    };
    match user {
        Some(user) if refresh_token_active(&facts, &caller.client_id, state.now()) => {
            Introspection::Active(Box::new(ActiveToken::refresh(
                &facts,
                &state.issuer,
                user.username.clone(),
            )))
        }
        _ => Introspection::Inactive,
    }
}
