//! The one place where failures become HTTP: `OAuthError`s become the spec's JSON errors or
//! bearer challenges, storage and key failures become `server_error` and are logged.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ferriam_protocol::{ErrorCode, OAuthError};
use serde_json::json;

use crate::password::HashError;
use crate::store::StoreError;
use crate::tokens::keys::KeyError;

/// Any failure a handler can meet.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Too many failed client authentications (see `web::client_throttle`): answered 429 with
    /// `Retry-After`, whatever the credentials.
    #[error("client authentication is throttled for {retry_after} s")]
    Throttled { retry_after: i64 },
}

impl AppError {
    /// The protocol error to show: internal failures become a bare `server_error`.
    pub fn to_oauth(&self) -> OAuthError {
        match self {
            AppError::OAuth(e) => {
                if let Some(detail) = &e.detail {
                    tracing::info!(error = e.code.as_str(), detail = %detail, "request refused");
                }
                e.clone()
            }
            AppError::Throttled { .. } => throttled_error(),
            other => {
                tracing::error!(error = %other, "internal error");
                OAuthError::new(
                    ErrorCode::ServerError,
                    "the server could not complete the request",
                )
            }
        }
    }

    /// For endpoints whose answer must never be a false success (RFC 7009 §2.2.1; fosite
    /// CVE-2020-15223 answered 200 to a revocation the store had failed): a storage failure
    /// becomes 503 `temporarily_unavailable`, so the client keeps the token and retries.
    pub fn unavailable_on_store_failure(self) -> AppError {
        match self {
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage failed");
                OAuthError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "the server cannot complete the request now; try again later",
                )
                .into()
            }
            other => other,
        }
    }
}

/// The body of a throttled answer. RFC 6585 §4 gives the status (429) and `Retry-After`; the
/// error code stays `invalid_client`, the one RFC 6749 §5.2 defines for failed client
/// authentication, so every OAuth client understands it (`temporarily_unavailable` is an
/// authorization-endpoint code, §4.1.2.1).
fn throttled_error() -> OAuthError {
    OAuthError::invalid_client("too many failed client authentications; retry later")
}

/// A throttled client authentication: 429, `Retry-After` in seconds, and a JSON error body.
/// Every endpoint that authenticates clients answers it this way.
pub fn throttled(retry_after: i64) -> Response {
    let e = throttled_error();
    let mut response = no_store(
        (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"error": e.code.as_str(), "error_description": e.description})),
        )
            .into_response(),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
    response
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1), for token responses.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An error of the token endpoint: JSON per RFC 6749 §5.2, with `WWW-Authenticate` when the
/// client failed to authenticate.
pub struct TokenError(pub AppError);

impl<E: Into<AppError>> From<E> for TokenError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        json_error(self.0, |code| code.http_status())
    }
}

/// A JSON error response (RFC 6749 §5.2 form) with the status `status_of` gives its code,
/// `WWW-Authenticate` on a 401, and the throttled answer for a throttled client.
pub fn json_error(error: AppError, status_of: impl Fn(ErrorCode) -> u16) -> Response {
    if let AppError::Throttled { retry_after } = error {
        return throttled(retry_after);
    }
    let e = error.to_oauth();
    let status = StatusCode::from_u16(status_of(e.code)).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = no_store(
        (
            status,
            Json(json!({"error": e.code.as_str(), "error_description": e.description})),
        )
            .into_response(),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ferriam\""),
        );
    }
    response
}

/// An error of a protected resource (RFC 6750 §3): a `Bearer` challenge with the error code,
/// or with none when the request carried no token.
pub enum BearerError {
    Missing,
    Failed(AppError),
}

impl<E: Into<AppError>> From<E> for BearerError {
    fn from(e: E) -> Self {
        Self::Failed(e.into())
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let e = match self {
            BearerError::Missing => {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer realm=\"ferriam\"")],
                )
                    .into_response()
            }
            BearerError::Failed(e) => e.to_oauth(),
        };
        let status = StatusCode::from_u16(e.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let challenge = format!(
            "Bearer realm=\"ferriam\", error=\"{}\", error_description=\"{}\"",
            e.code.as_str(),
            e.description.replace(['"', '\\'], "'")
        );
        let mut response = (
            status,
            Json(json!({"error": e.code.as_str(), "error_description": e.description})),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
