//! grant_type=client_credentials (RFC 6749 §4.4): no user, no database write.

use ferriam_protocol::client::Client;
use ferriam_protocol::params::Params;
use ferriam_protocol::token::client_credentials::granted_scope;
use ferriam_protocol::token::TokenResponse;

use super::{mint, Mint};
use crate::app::AppState;
use crate::error::AppError;

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    let scope = granted_scope(params, client)?;
    mint(
        state,
        Mint {
            client,
            sub: client.client_id.clone(),
            scope,
            grant_id: None,
            auth_time: None,
            acr: None,
            id_token: None,
            refresh_token: None,
        },
    )
    .await
}
