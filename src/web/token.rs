//! `/token` (RFC 6749 §3.2): authenticates the client, then hands over to its grant.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::token::GrantType;

use super::client_auth::authenticate;
use super::extract::Form;
use crate::app::AppState;
use crate::error::{no_store, TokenError};
use crate::grants;

pub async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, TokenError> {
    let params = params?;
    let client = authenticate(&state, &headers, &params, "/token").await?;
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
        GrantType::Ciba => grants::ciba::grant(&state, &client.client, &params).await?,
    };
    Ok(no_store(Json(response).into_response()))
}
