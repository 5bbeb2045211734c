//! The client credentials grant (RFC 6749 §4.4): a confidential client acting for itself.

use crate::client::Client;
use crate::params::Params;
use crate::scope::{Scope, STANDARD_SCOPES};
use crate::OAuthError;

/// The scope granted to a client credentials request.
///
/// Only the client's registered custom scopes make sense here: the OpenID Connect scopes
/// describe a user, and there is none. Without `scope` the client gets all of its registered
/// scopes, the pre-defined default RFC 6749 §3.3 allows.
pub fn granted_scope(params: &Params, client: &Client) -> Result<Scope, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::unauthorized_client(
            "public clients cannot use client_credentials",
        ));
    }
    let requested = match params.get("scope") {
        Some(s) => Scope::parse(s)?,
        None => Scope::parse(&client.scopes.join(" "))?,
    };
    if let Some(s) = requested.iter().find(|s| STANDARD_SCOPES.contains(s)) {
        return Err(OAuthError::invalid_scope(
            "an OpenID Connect scope needs a user; it cannot be granted to a client",
        )
        .with_detail(format!("scope {s} asked by client_credentials")));
    }
    client.check_scope(&requested)?;
    Ok(requested)
}
