//! Finding the token a client presents to `/revoke` or `/introspect`: a JWT access token is
//! verified against Ferriam's own keys (really verified: WSO2-2020-0752 only decoded it), a
//! refresh token is looked up by its hash. The client's hint orders the search (RFC 7009 §2.1).

use ferriam_protocol::introspection::access_token_usable;
use ferriam_protocol::jwt_claims::AccessTokenClaims;
use ferriam_protocol::revocation::{PresentedToken, TokenKind};

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{RefreshRecord, User};
use crate::tokens::jwt::{self, ACCESS_TOKEN_TYP};
use crate::tokens::opaque;

/// A token Ferriam issued.
pub enum Found {
    /// A genuine access token, issued by and for this issuer and not expired. Whether it was
    /// revoked is for the caller to ask the store.
    Access(Box<AccessTokenClaims>),
    /// A stored refresh token, whatever its state (revoked, rotated, expired), with its user
    /// if that user still exists and is enabled.
    Refresh {
        record: Box<RefreshRecord>,
        user: Option<Box<User>>,
    },
}

/// The token `presented` names, or `None` when it is unknown, malformed, forged or expired.
pub async fn find(state: &AppState, presented: &PresentedToken) -> Result<Option<Found>, AppError> {
    for kind in presented.search_order() {
        let found = match kind {
            TokenKind::AccessToken => access_token(state, &presented.token).map(Found::Access),
            TokenKind::RefreshToken => state
                .store
                .refresh(&opaque::hash(&presented.token))
                .await?
                .map(|(record, user)| Found::Refresh {
                    record: Box::new(record),
                    user: user.map(Box::new),
                }),
        };
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The claims of a usable access token signed by one of Ferriam's keys.
fn access_token(state: &AppState, token: &str) -> Option<Box<AccessTokenClaims>> {
    let claims: AccessTokenClaims =
        jwt::verify(&state.keys.current(), token, ACCESS_TOKEN_TYP).ok()?;
    access_token_usable(&claims, &state.issuer, state.now()).then(|| Box::new(claims))
}
