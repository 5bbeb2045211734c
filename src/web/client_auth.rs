//! Client authentication (RFC 6749 §2.3), shared by every endpoint a client calls directly:
//! `/token`, `/revoke`, `/introspect` (and later `/bc-authorize`). Only the method the client
//! registered is accepted; secrets are compared in constant time against their hash.

use std::sync::Arc;

use axum::http::HeaderMap;
use ferriam_protocol::client::AuthMethod;
use ferriam_protocol::client_auth::{check_method, read_credentials};
use ferriam_protocol::params::Params;
use ferriam_protocol::OAuthError;

use super::extract::authorization;
use crate::app::AppState;
use crate::error::AppError;
use crate::store::StoredClient;
use crate::tokens::opaque;

/// Authenticates the client calling `endpoint` (its path, such as `/token`: a client
/// assertion's `aud` may name it) and returns its registration.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<Arc<StoredClient>, AppError> {
    let _ = endpoint;
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
