//! Extractors that turn raw HTTP input into [`Params`], so that every malformed request
//! (duplicates, bad encoding, wrong content type, oversized body) becomes `invalid_request`
//! instead of a framework rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use ferriam_protocol::params::Params;
use ferriam_protocol::OAuthError;

/// The largest request body accepted anywhere.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The parameters of a form body, or why it could not be read.
pub struct Form(pub Result<Params, OAuthError>);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return Ok(Self(Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ))));
        }
        Ok(Self(match Bytes::from_request(req, state).await {
            Ok(body) => Params::parse(&body),
            Err(_) => Err(OAuthError::invalid_request(
                "the request body is too large or unreadable",
            )),
        }))
    }
}

/// The parameters of the query string.
pub struct Query(pub Result<Params, OAuthError>);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(Params::parse(
            parts.uri.query().unwrap_or("").as_bytes(),
        )))
    }
}

/// The value of the `Authorization` header, if it is text.
pub fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// The value of one cookie.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}
