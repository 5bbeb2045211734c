//! `/userinfo` (OpenID Connect Core §5.3): the claims of an access token's scopes, behind a
//! bearer token (RFC 6750) whose signature, type, issuer, audience, expiry and grant are checked.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::bearer::{self, BearerError as Extraction};
use ferriam_protocol::jwt_claims::AccessTokenClaims;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::Scope;
use ferriam_protocol::{ErrorCode, OAuthError};

use super::extract::{authorization, Form};
use crate::app::AppState;
use crate::error::BearerError;
use crate::tokens::jwt::{self, ACCESS_TOKEN_TYP};
use crate::tokens::opaque;

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, BearerError> {
    respond(&state, &headers, None).await
}

pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Result<Response, BearerError> {
    // A POST without a form body may still carry the token in the header; a form body that
    // is malformed (duplicate access_token, bad encoding) is invalid_request.
    let has_body = headers.contains_key(axum::http::header::CONTENT_TYPE);
    let params = match form {
        Ok(p) => Some(p),
        Err(e) if has_body => return Err(e.into()),
        Err(_) => None,
    };
    respond(&state, &headers, params.as_ref()).await
}

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&Params>,
) -> Result<Response, BearerError> {
    let token = match bearer::extract(authorization(headers), form) {
        Ok(t) => t,
        Err(Extraction::Missing) => return Err(BearerError::Missing),
        Err(Extraction::Invalid(e)) => return Err(e.into()),
    };
    let invalid = |why: &str| {
        OAuthError::new(ErrorCode::InvalidToken, "the access token is invalid")
            .with_detail(why.to_owned())
    };
    let claims: AccessTokenClaims = jwt::verify(&state.keys.current(), token, ACCESS_TOKEN_TYP)
        .map_err(|e| invalid(&e.to_string()))?;
    if claims.iss != *state.issuer || claims.aud != *state.issuer {
        return Err(invalid("wrong issuer or audience").into());
    }
    if claims.exp <= state.now() {
        return Err(
            OAuthError::new(ErrorCode::InvalidToken, "the access token has expired").into(),
        );
    }
    let scope = Scope::parse(&claims.scope)?;
    if !scope.contains("openid") {
        return Err(
            OAuthError::new(ErrorCode::InsufficientScope, "the openid scope is required").into(),
        );
    }
    // One store call: the user, the grant and the token's own revocation (RFC 7009).
    let jti_hash = opaque::hash(&claims.jti);
    let Some(user) = state
        .store
        .token_subject(&claims.sub, claims.grant_id.as_deref(), Some(&jti_hash))
        .await?
    else {
        return Err(invalid("user gone or disabled, or grant or token revoked").into());
    };
    Ok(Json(user.claims().for_scope(&scope)).into_response())
}
