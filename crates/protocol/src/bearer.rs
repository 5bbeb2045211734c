//! Bearer-token extraction for protected resources (RFC 6750 §2).
//!
//! Ferriam accepts the `Authorization: Bearer` header and, for POST requests, the
//! `access_token` form parameter (§2.2). A request using more than one method is
//! `invalid_request` (§2); a request with none gets a challenge without an error code (§3.1).

use crate::params::Params;
use crate::OAuthError;

/// Why no token could be taken from a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BearerError {
    /// No credentials at all: answer 401 with a bare `WWW-Authenticate: Bearer` challenge.
    Missing,
    /// Malformed or ambiguous credentials.
    Invalid(OAuthError),
}

/// Takes the access token from the `Authorization` header value and the form parameters.
pub fn extract<'a>(
    authorization: Option<&'a str>,
    form: Option<&'a Params>,
) -> Result<&'a str, BearerError> {
    let from_header = match authorization {
        None => None,
        Some(value) => {
            let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(BearerError::Missing);
            }
            let token = token.trim_start_matches(' ');
            if !is_b64token(token) {
                return Err(BearerError::Invalid(OAuthError::invalid_request(
                    "malformed bearer token",
                )));
            }
            Some(token)
        }
    };
    let from_form = form.and_then(|p| p.get("access_token"));
    match (from_header, from_form) {
        (Some(_), Some(_)) => Err(BearerError::Invalid(OAuthError::invalid_request(
            "the access token was sent by more than one method",
        ))),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(BearerError::Missing),
    }
}

/// RFC 6750 §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_form() {
        assert_eq!(extract(Some("Bearer abc.def"), None), Ok("abc.def"));
        assert_eq!(extract(Some("bearer abc"), None), Ok("abc"));
        assert_eq!(extract(None, None), Err(BearerError::Missing));
        assert_eq!(extract(Some("Basic Zm9v"), None), Err(BearerError::Missing));
        assert!(matches!(
            extract(Some("Bearer a b"), None),
            Err(BearerError::Invalid(_))
        ));
        let form = Params::from_pairs([("access_token", "xyz")]);
        assert_eq!(extract(None, Some(&form)), Ok("xyz"));
        assert!(matches!(
            extract(Some("Bearer abc"), Some(&form)),
            Err(BearerError::Invalid(_))
        ));
    }
}
