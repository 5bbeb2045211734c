//! `response_type` (RFC 6749 §3.1.1, OAuth 2.0 Multiple Response Type Encoding Practices §3
//! and §5): which values Ferriam serves, what each returns, its default response mode, and
//! the grant types a client must register to use it (OpenID Connect Registration §2).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ResponseMode;
use crate::{ErrorCode, OAuthError};

/// Every `response_type` Ferriam accepts, as discovery lists them. The OAuth 2.0 implicit
/// `token` alone is left out: it returns an access token in the front channel with nothing
/// to bind it to the request (RFC 9700 §2.1.2).
pub const SUPPORTED: [&str; 7] = [
    "code",
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
    "none",
];

/// A response type as the set of things it returns; all three false is `none`.
///
/// The values are a space-delimited set, so `token id_token` and `id_token token` are the
/// same response type (RFC 6749 §3.1.1: "the order of values does not matter").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseType {
    /// An authorization code, redeemed at the token endpoint.
    pub code: bool,
    /// An ID token straight from the authorization endpoint.
    pub id_token: bool,
    /// An access token straight from the authorization endpoint.
    pub token: bool,
}

impl Default for ResponseType {
    /// `code`, the type of every request stored before the others existed.
    fn default() -> Self {
        Self::CODE
    }
}

impl ResponseType {
    /// The authorization code flow.
    pub const CODE: Self = Self {
        code: true,
        id_token: false,
        token: false,
    };

    /// Reads a `response_type` value. A set Ferriam does not serve, or a value that is not a
    /// set (a word twice), is `unsupported_response_type`.
    pub fn parse(value: &str) -> Result<Self, OAuthError> {
        let unsupported = || {
            OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "the response_type is not supported",
            )
            .with_detail(format!("response_type {value}"))
        };
        let words = words(value).ok_or_else(unsupported)?;
        let parsed = Self {
            code: words.contains("code"),
            id_token: words.contains("id_token"),
            token: words.contains("token"),
        };
        // Multiple Response Type Encoding Practices §5: `none` stands alone.
        let none = words.contains("none");
        let known = usize::from(parsed.code)
            + usize::from(parsed.id_token)
            + usize::from(parsed.token)
            + usize::from(none);
        let served = if none {
            words.len() == 1
        } else {
            known == words.len() && (parsed.code || parsed.id_token)
        };
        if served {
            Ok(parsed)
        } else {
            Err(unsupported())
        }
    }

    /// Whether nothing at all is returned but `state` (Multiple Response Type §5).
    pub fn is_none(self) -> bool {
        !(self.code || self.id_token || self.token)
    }

    /// Whether the authorization endpoint itself returns a token or an ID token.
    pub fn returns_tokens(self) -> bool {
        self.id_token || self.token
    }

    /// The grant types a client needs for this response type (OpenID Connect Registration §2:
    /// a code means `authorization_code`, a token or ID token means `implicit`).
    pub fn grant_types(self) -> impl Iterator<Item = &'static str> {
        [
            self.code.then_some("authorization_code"),
            self.returns_tokens().then_some("implicit"),
        ]
        .into_iter()
        .flatten()
    }
}

impl fmt::Display for ResponseType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = [
            (self.code, "code"),
            (self.id_token, "id_token"),
            (self.token, "token"),
        ]
        .into_iter()
        .filter_map(|(on, w)| on.then_some(w))
        .collect();
        match words.as_slice() {
            [] => f.write_str("none"),
            _ => f.write_str(&words.join(" ")),
        }
    }
}

/// The words of a space-delimited value as a set; `None` when a word repeats.
fn words(value: &str) -> Option<BTreeSet<&str>> {
    let mut set = BTreeSet::new();
    for w in value.split(' ').filter(|w| !w.is_empty()) {
        if !set.insert(w) {
            return None;
        }
    }
    Some(set)
}

/// Whether two response-type values name the same set (a registered value against a
/// requested one).
pub fn same_set(a: &str, b: &str) -> bool {
    matches!((words(a), words(b)), (Some(x), Some(y)) if x == y)
}

/// The default response mode of a `response_type` value, even one Ferriam does not serve, so
/// that its error goes where the client listens (Multiple Response Type Encoding Practices
/// §2.1, RFC 6749 §4.2.2.1): the fragment whenever a token or an ID token would be returned,
/// the query otherwise (`code`, `none`, unknown values).
pub fn default_mode(value: Option<&str>) -> ResponseMode {
    let returns_tokens = value
        .unwrap_or("")
        .split(' ')
        .any(|w| w == "token" || w == "id_token");
    if returns_tokens {
        ResponseMode::Fragment
    } else {
        ResponseMode::Query
    }
}

/// Checks that a registration's response types and grant types fit together (OpenID Connect
/// Registration §2): each response type is one Ferriam serves and its grant types are
/// registered too.
pub fn check_registration(response_types: &[String], grant_types: &[String]) -> Result<(), String> {
    for value in response_types {
        let rt =
            ResponseType::parse(value).map_err(|_| format!("unsupported response type {value}"))?;
        if let Some(grant) = rt
            .grant_types()
            .find(|g| !grant_types.iter().any(|r| r == g))
        {
            return Err(format!(
                "response type {value} needs the {grant} grant type (--grant-type {grant})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_value_parses_and_prints_back() {
        for value in SUPPORTED {
            let rt = ResponseType::parse(value).unwrap();
            assert_eq!(rt.to_string(), value);
        }
        assert_eq!(ResponseType::parse("code").unwrap(), ResponseType::CODE);
        assert!(ResponseType::parse("none").unwrap().is_none());
    }

    #[test]
    fn order_does_not_matter() {
        let a = ResponseType::parse("token id_token").unwrap();
        assert_eq!(a, ResponseType::parse("id_token token").unwrap());
        assert_eq!(
            ResponseType::parse("token id_token code")
                .unwrap()
                .to_string(),
            "code id_token token"
        );
        assert!(same_set("id_token code", "code id_token"));
        assert!(!same_set("code", "code id_token"));
    }

    #[test]
    fn unserved_values_are_unsupported() {
        for value in [
            "token",
            "bogus",
            "code bogus",
            "code code",
            "none code",
            "none none",
            "",
            "CODE",
            "id_token id_token",
        ] {
            let e = ResponseType::parse(value).unwrap_err();
            assert_eq!(e.code, ErrorCode::UnsupportedResponseType, "{value}");
            // The value is request input: only the log sees it.
            assert_eq!(e.description, "the response_type is not supported");
        }
    }

    #[test]
    fn default_modes() {
        assert_eq!(default_mode(Some("code")), ResponseMode::Query);
        assert_eq!(default_mode(Some("none")), ResponseMode::Query);
        assert_eq!(default_mode(None), ResponseMode::Query);
        assert_eq!(default_mode(Some("bogus")), ResponseMode::Query);
        for value in [
            "id_token",
            "token id_token",
            "code id_token",
            "code token",
            "token",
        ] {
            assert_eq!(default_mode(Some(value)), ResponseMode::Fragment, "{value}");
        }
    }

    #[test]
    fn registration_needs_the_matching_grants() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(check_registration(&s(&["code"]), &s(&["authorization_code"])).is_ok());
        assert!(check_registration(&s(&["id_token token"]), &s(&["implicit"])).is_ok());
        assert!(check_registration(&s(&["none"]), &[]).is_ok());
        assert!(check_registration(
            &s(&["code id_token"]),
            &s(&["authorization_code", "implicit"])
        )
        .is_ok());
        let e =
            check_registration(&s(&["code id_token"]), &s(&["authorization_code"])).unwrap_err();
        assert!(e.contains("implicit"), "{e}");
        assert!(check_registration(&s(&["id_token"]), &s(&["authorization_code"])).is_err());
        assert!(check_registration(&s(&["code token"]), &s(&["implicit"])).is_err());
        assert!(check_registration(&s(&["token"]), &s(&["implicit"])).is_err());
    }
}
