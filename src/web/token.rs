//! `/token` (RFC 6749 §3.2): authenticates the client, then hands over to its grant.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::client::AuthMethod;
use ferriam_protocol::client_auth::{check_method, read_credentials};
use ferriam_protocol::params::Params;
use ferriam_protocol::token::GrantType;
use ferriam_protocol::OAuthError;

use super::extract::{authorization, Form};
use crate::app::AppState;
use crate::error::{no_store, TokenError};
use crate::grants;
use crate::store::StoredClient;
use crate::tokens::opaque;

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, TokenError> {
    let params = params?;
    let client = authenticate(&state, &headers, &params).await?;
    let grant = GrantType::parse(&params)?;
    grant.check_allowed(&client.client)?;
    let response = match grant {
        GrantType::AuthorizationCode => {
            grants::authorization_code::grant(&state, &client.client, &params).await?
        }
        GrantType::RefreshToken => {
            grants::refresh_token::grant(&state, &client.client, &params).await?
        }
        GrantType::ClientCredentials => {
            grants::client_credentials::grant(&state, &client.client, &params).await?
        }
    };
    Ok(no_store(Json(response).into_response()))
}

/// RFC 6749 §2.3: the registered method only, the secret compared in constant time.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Arc<StoredClient>, TokenError> {
    let presented = read_credentials(authorization(headers), params)?;
    let failed = || OAuthError::invalid_client("client authentication failed");
    let stored = state
        .client(&presented.client_id)
        .await?
        .ok_or_else(failed)?;
    check_method(stored.client.token_endpoint_auth_method, presented.method)?;
    if presented.method != AuthMethod::None {
        let ok = match (&presented.secret, &stored.secret_hash) {
            (Some(secret), Some(hash)) => opaque::matches_hash(secret, hash),
            _ => false,
        };
        if !ok {
            return Err(failed()
                .with_detail(format!("bad secret for {}", presented.client_id))
                .into());
        }
    }
    Ok(stored)
}
