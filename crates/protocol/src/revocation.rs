//! Token revocation requests (RFC 7009 §2.1), and the `token` + `token_type_hint` pair that
//! introspection (RFC 7662 §2.1) reads the same way.
//!
//! The hint only orders the search: "If the server is unable to locate the token using the
//! given hint, it MUST extend its search across all of its supported token types" (RFC 7009
//! §2.1), so a wrong hint, or one Ferriam does not know, never makes a request fail.

use crate::params::Params;
use crate::OAuthError;

/// The kinds of token Ferriam issues and can look up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A JWT access token (RFC 9068), signed by Ferriam.
    AccessToken,
    /// An opaque refresh token, stored as its hash.
    RefreshToken,
}

impl TokenKind {
    /// The `token_type_hint` value of this kind (RFC 7009 §2.1, RFC 7662 §2.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AccessToken => "access_token",
            Self::RefreshToken => "refresh_token",
        }
    }

    fn from_hint(hint: &str) -> Option<Self> {
        [Self::AccessToken, Self::RefreshToken]
            .into_iter()
            .find(|k| k.as_str() == hint)
    }
}

/// A token presented to `/revoke` or `/introspect`, with the client's hint about its kind.
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedToken {
    pub token: String,
    /// `None` when the request gave no hint or one Ferriam does not know.
    pub hint: Option<TokenKind>,
}

impl std::fmt::Debug for PresentedToken {
    /// The token itself is a secret and never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedToken")
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

impl PresentedToken {
    /// Reads `token` (required: `invalid_request` without it) and `token_type_hint`.
    pub fn parse(params: &Params) -> Result<Self, OAuthError> {
        Ok(Self {
            token: params.require("token")?.to_owned(),
            hint: params.get("token_type_hint").and_then(TokenKind::from_hint),
        })
    }

    /// The kinds to look for, in order: the hinted kind first, then the other. Without a hint,
    /// a token that cannot be a JWT (no `.`) is looked up as a refresh token first.
    pub fn search_order(&self) -> [TokenKind; 2] {
        let first = self.hint.unwrap_or(if self.token.contains('.') {
            TokenKind::AccessToken
        } else {
            TokenKind::RefreshToken
        });
        match first {
            TokenKind::AccessToken => [TokenKind::AccessToken, TokenKind::RefreshToken],
            TokenKind::RefreshToken => [TokenKind::RefreshToken, TokenKind::AccessToken],
        }
    }
}

/// RFC 7009 §2.1: "the authorization server ... verifies whether the token was issued to the
/// client making the revocation request. If this validation fails, the request is refused and
/// the client is informed of the error". The error is RFC 6749 §5.2's `invalid_grant`, whose
/// definition covers a token "issued to another client"; nothing is revoked. Tokens are
/// 256-bit random or signed, so the answer lets no one probe for valid tokens: only a holder of
/// the token learns that it is someone else's.
pub fn check_owner(token_client_id: &str, caller_client_id: &str) -> Result<(), OAuthError> {
    if token_client_id == caller_client_id {
        Ok(())
    } else {
        Err(
            OAuthError::invalid_grant("the token was not issued to this client").with_detail(
                format!("{caller_client_id} tried to revoke a token of {token_client_id}"),
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    fn presented(pairs: &[(&str, &str)]) -> Result<PresentedToken, OAuthError> {
        PresentedToken::parse(&Params::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn token_is_required() {
        let err = presented(&[("token_type_hint", "access_token")]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest);
        assert!(presented(&[]).is_err());
    }

    #[test]
    fn hint_orders_the_search_and_unknown_hints_are_ignored() {
        use TokenKind::*;
        let order = |pairs: &[(&str, &str)]| presented(pairs).unwrap().search_order();
        assert_eq!(
            order(&[("token", "a.b.c"), ("token_type_hint", "refresh_token")]),
            [RefreshToken, AccessToken]
        );
        assert_eq!(
            order(&[("token", "opaque"), ("token_type_hint", "access_token")]),
            [AccessToken, RefreshToken]
        );
        assert_eq!(order(&[("token", "a.b.c")]), [AccessToken, RefreshToken]);
        assert_eq!(order(&[("token", "opaque")]), [RefreshToken, AccessToken]);
        let unknown = presented(&[("token", "opaque"), ("token_type_hint", "id_token")]).unwrap();
        assert_eq!(unknown.hint, None);
        assert_eq!(unknown.search_order(), [RefreshToken, AccessToken]);
    }

    #[test]
    fn debug_hides_the_token() {
        let p = presented(&[("token", "s3cret")]).unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
    }

    #[test]
    fn only_the_owner_may_revoke() {
        assert!(check_owner("app", "app").is_ok());
        let err = check_owner("app", "other").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidGrant);
        assert_eq!(err.code.http_status(), 400);
    }
}
