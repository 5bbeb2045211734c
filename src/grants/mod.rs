//! The token endpoint's grants, one file each, and the minting they share: access tokens
//! (RFC 9068) and ID tokens (OpenID Connect Core §2); RSA signatures go to the signing workers.

pub mod authorization_code;
pub mod client_credentials;
pub mod refresh_token;

use ferriam_protocol::claims::UserClaims;
use ferriam_protocol::client::{Client, SigningAlg};
use ferriam_protocol::jwt_claims::{half_hash, AccessTokenClaims, IdTokenClaims};
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::TokenResponse;

use crate::app::AppState;
use crate::error::AppError;
use crate::tokens::jwt::{self, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use crate::tokens::keys::KeyError;
use crate::tokens::opaque;

/// What an ID token says about the sign-in behind it.
pub struct IdTokenFacts {
    pub user: UserClaims,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub sid: String,
    pub nonce: Option<String>,
}

/// What to mint for one token response.
pub struct Mint<'a> {
    pub client: &'a Client,
    /// The user, or the client itself for client_credentials.
    pub sub: String,
    pub scope: Scope,
    pub grant_id: Option<String>,
    pub auth_time: Option<i64>,
    pub id_token: Option<IdTokenFacts>,
    pub refresh_token: Option<String>,
}

/// Signs the access token (and the ID token, if asked) and builds the token response.
pub async fn mint(state: &AppState, m: Mint<'_>) -> Result<TokenResponse, AppError> {
    let now = state.now();
    let access_ttl = m
        .client
        .access_token_ttl
        .unwrap_or(state.config.access_token_ttl);
    let at_key = state
        .keys
        .signing_key(m.client.access_token_alg, now)
        .await?;
    let id_key = match m.id_token {
        // The client's `id_token_signed_response_alg` (OpenID Connect Registration 1.0 §2),
        // RS256 when it registered none.
        Some(_) => {
            let alg = m.client.id_token_alg.unwrap_or(SigningAlg::RS256);
            Some(state.keys.signing_key(alg, now).await?)
        }
        None => None,
    };
    // An RSA signature takes a few hundred microseconds: it goes to the signing workers, off
    // the runtime. ES256 and EdDSA take about 12 and 6 µs, less than handing the job to another
    // thread and back costs, and well inside the time a task may run between two awaits, so
    // they are made here.
    let cheap_to_sign =
        id_key.is_none() && matches!(at_key.alg, SigningAlg::ES256 | SigningAlg::EdDSA);
    let access_claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: m.sub.clone(),
        // RFC 9068 §3: without a resource parameter the default resource indicator is used;
        // Ferriam's default resource is itself (userinfo and APIs that trust this issuer).
        aud: state.issuer.to_string(),
        exp: now + access_ttl as i64,
        iat: now,
        jti: opaque::random_token(),
        client_id: m.client.client_id.clone(),
        scope: m.scope.to_string(),
        auth_time: m.auth_time,
        grant_id: m.grant_id.clone(),
    };
    let id_claims = m.id_token.map(|facts| IdTokenClaims {
        iss: state.issuer.to_string(),
        sub: m.sub.clone(),
        aud: m.client.client_id.clone(),
        azp: m.client.client_id.clone(),
        exp: now + state.config.id_token_ttl as i64,
        iat: now,
        auth_time: facts.auth_time,
        nonce: facts.nonce,
        at_hash: None,
        c_hash: None,
        amr: facts.amr,
        sid: facts.sid,
        user_claims: {
            let mut c = facts.user.for_scope(&m.scope);
            c.remove("sub");
            c
        },
    });
    let sign = move || -> Result<_, KeyError> {
        let access_token = jwt::sign(&at_key, ACCESS_TOKEN_TYP, &access_claims)?;
        let id_token = match (id_key, id_claims) {
            (Some(key), Some(mut claims)) => {
                claims.at_hash = Some(half_hash(key.alg, &access_token));
                Some(jwt::sign(&key, ID_TOKEN_TYP, &claims)?)
            }
            _ => None,
        };
        Ok((access_token, id_token))
    };
    let (access_token, id_token) = if cheap_to_sign {
        sign()?
    } else {
        state
            .signer
            .run(move |_| sign())
            .await
            .map_err(|_| KeyError::Crypto)??
    };
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        refresh_token: m.refresh_token,
        id_token,
        scope: m.scope.to_string(),
    })
}
