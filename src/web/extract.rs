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

/// `Form<KEEP_DUPLICATES>` / `Query<KEEP_DUPLICATES>`: a repeated parameter is recorded in
/// [`Params::duplicates`] instead of refused, for the authorization endpoint, which must learn
/// the client and redirect URI before it can answer (RFC 6749 §4.1.2.1).
pub const KEEP_DUPLICATES: bool = true;

fn parse(input: &[u8], keep_duplicates: bool) -> Result<Params, OAuthError> {
    if keep_duplicates {
        Params::parse_keeping_duplicates(input)
    } else {
        Params::parse(input)
    }
}

/// The parameters of a form body, or why it could not be read.
pub struct Form<const DUPLICATES: bool = false>(pub Result<Params, OAuthError>);

impl<S: Send + Sync, const DUPLICATES: bool> FromRequest<S> for Form<DUPLICATES> {
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
            Ok(body) => parse(&body, DUPLICATES),
            Err(_) => Err(OAuthError::invalid_request(
                "the request body is too large or unreadable",
            )),
        }))
    }
}

/// The parameters of the query string.
pub struct Query<const DUPLICATES: bool = false>(pub Result<Params, OAuthError>);

impl<S: Send + Sync, const DUPLICATES: bool> FromRequestParts<S> for Query<DUPLICATES> {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(parse(
            parts.uri.query().unwrap_or("").as_bytes(),
            DUPLICATES,
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
