//! The token endpoint's grants, one file each, and the minting they share: access tokens
//! (RFC 9068) and ID tokens (OpenID Connect Core §2); RSA signatures go to the signing workers.

pub mod authorization_code;
pub mod ciba;
pub mod client_credentials;
pub mod refresh_token;

use ferriam_protocol::claims::UserClaims;
use ferriam_protocol::client::{Client, SigningAlg};
use ferriam_protocol::jwt_claims::{half_hash, AccessTokenClaims, IdTokenClaims, WithAcr};
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::TokenResponse;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::RefreshRecord;
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
    /// The `acr` the sign-in satisfied, if the request asked for one.
    pub acr: Option<String>,
    /// Claims one flow adds (CIBA push mode's `auth_req_id` and `rt_hash`, CIBA §10.3.1).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// What to mint for one token response.
pub struct Mint<'a> {
    pub client: &'a Client,
    /// The user, or the client itself for client_credentials.
    pub sub: String,
    pub scope: Scope,
    pub grant_id: Option<String>,
    pub auth_time: Option<i64>,
    /// The `acr` of the sign-in behind the token (RFC 9068 §2.2.1), if any.
    pub acr: Option<String>,
    pub id_token: Option<IdTokenFacts>,
    pub refresh_token: Option<String>,
}

/// The absolute lifetime of a refresh-token family started now: the client's own
/// `--refresh-token-absolute-ttl`, else the server's setting.
pub fn family_lifetime(state: &AppState, client: &Client) -> i64 {
    client
        .refresh_token_absolute_ttl
        .unwrap_or(state.config.refresh_token_absolute_ttl) as i64
}

/// The facts a new refresh-token family carries from the sign-in that granted it.
pub struct FamilyStart<'a> {
    pub grant_id: &'a str,
    pub sub: &'a str,
    pub scope: &'a Scope,
    pub auth_time: i64,
    pub amr: &'a [String],
    pub sid: &'a str,
    pub acr: Option<&'a str>,
}

/// Starts a refresh-token family when one is due and returns its first token: the client has
/// the refresh_token grant and, for OpenID requests, `offline_access` was granted (OpenID
/// Connect Core §11).
pub async fn start_refresh_family(
    state: &AppState,
    client: &Client,
    start: FamilyStart<'_>,
) -> Result<Option<String>, AppError> {
    let scope = start.scope;
    if !client.allows_grant("refresh_token")
        || (scope.contains("openid") && !scope.contains("offline_access"))
    {
        return Ok(None);
    }
    let now = state.now();
    let token = opaque::random_token();
    let family_expires_at = now + family_lifetime(state, client);
    let ttl = client
        .refresh_token_ttl
        .unwrap_or(state.config.refresh_token_ttl) as i64;
    let record = RefreshRecord {
        grant_id: start.grant_id.to_owned(),
        client_id: client.client_id.clone(),
        sub: start.sub.to_owned(),
        scope: scope.to_string(),
        auth_time: start.auth_time,
        amr: start.amr.to_vec(),
        sid: start.sid.to_owned(),
        acr: start.acr.map(str::to_owned),
        expires_at: (now + ttl).min(family_expires_at),
        family_expires_at,
        issued_at: now,
        rotated_at: None,
        revoked: false,
    };
    state
        .store
        .save_refresh(&opaque::hash(&token), &record)
        .await?;
    Ok(Some(token))
}

/// Signs the access token (and the ID token, if asked) and builds the token response.
pub async fn mint(state: &AppState, m: Mint<'_>) -> Result<TokenResponse, AppError> {
    let now = state.now();
    let access_ttl = access_ttl(state, m.client);
    let at_key = state
        .keys
        .signing_key(m.client.access_token_alg, now)
        .await?;
    let id_key = match m.id_token {
        Some(_) => Some(state.keys.signing_key(id_token_alg(m.client), now).await?),
        None => None,
    };
    // An RSA signature takes a few hundred microseconds: it goes to the signing workers, off
    // the runtime. ES256 and EdDSA take about 12 and 6 µs, less than handing the job to another
    // thread and back costs, and well inside the time a task may run between two awaits, so
    // they are made here.
    let cheap_to_sign =
        id_key.is_none() && matches!(at_key.alg, SigningAlg::ES256 | SigningAlg::EdDSA);
    let access_claims = access_claims(state, &m, now, access_ttl);
    let id_claims = m
        .id_token
        .map(|facts| id_claims(state, m.client, &m.sub, &m.scope, facts, now, true));
    let sign = move || -> Result<_, KeyError> {
        let access_token = jwt::sign(&at_key, ACCESS_TOKEN_TYP, &access_claims)?;
        let id_token = match (id_key, id_claims) {
            (Some(key), Some(mut claims)) => {
                claims.claims.at_hash = Some(half_hash(key.alg, &access_token));
                Some(jwt::sign(&key, ID_TOKEN_TYP, &claims)?)
            }
            _ => None,
        };
        Ok((access_token, id_token))
    };
    let (access_token, id_token) = sign_off_runtime(state, cheap_to_sign, sign).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: access_ttl,
        refresh_token: m.refresh_token,
        id_token,
        scope: m.scope.to_string(),
    })
}

/// What the authorization endpoint mints in the implicit and hybrid flows (OpenID Connect
/// Core §3.2.2.5, §3.3.2.5): an access token, an ID token, or both; never a refresh token.
pub struct FrontChannel<'a> {
    /// What the tokens say, as for the token endpoint; its `id_token` is set when the response
    /// type returns one, and its `refresh_token` is never read (RFC 6749 §4.2.2).
    pub mint: Mint<'a>,
    /// Whether the response type returns an access token.
    pub access_token: bool,
    /// The code returned beside the ID token, for its `c_hash`.
    pub code: Option<&'a str>,
}

/// The tokens of a front-channel response.
pub struct FrontChannelTokens {
    /// The access token and its lifetime in seconds.
    pub access_token: Option<(String, u64)>,
    /// The signed ID token.
    pub id_token: Option<String>,
}

/// Signs the tokens of an implicit or hybrid authorization response. The ID token carries
/// `at_hash` and `c_hash` for what travels with it (OpenID Connect Core §3.2.2.10,
/// §3.3.2.11), and the user's claims only when no access token is issued at all, that is for
/// `response_type=id_token` (Core §5.4: otherwise they come from userinfo).
pub async fn mint_front_channel(
    state: &AppState,
    f: FrontChannel<'_>,
) -> Result<FrontChannelTokens, AppError> {
    let now = state.now();
    let FrontChannel {
        mint: mut m,
        access_token,
        code,
    } = f;
    let access_ttl = access_ttl(state, m.client);
    let at = if access_token {
        let key = state
            .keys
            .signing_key(m.client.access_token_alg, now)
            .await?;
        Some((key, access_claims(state, &m, now, access_ttl)))
    } else {
        None
    };
    let id = match m.id_token.take() {
        Some(facts) => {
            let user_claims = !access_token && code.is_none();
            Some((
                state.keys.signing_key(id_token_alg(m.client), now).await?,
                id_claims(state, m.client, &m.sub, &m.scope, facts, now, user_claims),
            ))
        }
        None => None,
    };
    let cheap_to_sign = id.is_none()
        && at
            .as_ref()
            .is_some_and(|(key, _)| matches!(key.alg, SigningAlg::ES256 | SigningAlg::EdDSA));
    let code = code.map(str::to_owned);
    let sign = move || -> Result<_, KeyError> {
        let access_token = match at {
            Some((key, claims)) => Some(jwt::sign(&key, ACCESS_TOKEN_TYP, &claims)?),
            None => None,
        };
        let id_token = match id {
            Some((key, mut claims)) => {
                claims.claims.at_hash = access_token.as_deref().map(|t| half_hash(key.alg, t));
                claims.claims.c_hash = code.as_deref().map(|c| half_hash(key.alg, c));
                Some(jwt::sign(&key, ID_TOKEN_TYP, &claims)?)
            }
            None => None,
        };
        Ok((access_token, id_token))
    };
    let (access_token, id_token) = sign_off_runtime(state, cheap_to_sign, sign).await?;
    Ok(FrontChannelTokens {
        access_token: access_token.map(|t| (t, access_ttl)),
        id_token,
    })
}

/// The client's access-token lifetime, or the server's.
fn access_ttl(state: &AppState, client: &Client) -> u64 {
    client
        .access_token_ttl
        .unwrap_or(state.config.access_token_ttl)
}

/// The client's `id_token_signed_response_alg`, RS256 by default.
/// The algorithm a client's ID tokens are signed with.
pub fn id_token_alg(client: &Client) -> SigningAlg {
    client.id_token_alg.unwrap_or(SigningAlg::RS256)
}

fn access_claims(state: &AppState, m: &Mint<'_>, now: i64, ttl: u64) -> WithAcr<AccessTokenClaims> {
    let claims = AccessTokenClaims {
        iss: state.issuer.to_string(),
        sub: m.sub.clone(),
        // RFC 9068 §3: without a resource parameter the default resource indicator is used;
        // Ferriam's default resource is itself (userinfo and APIs that trust this issuer).
        aud: state.issuer.to_string(),
        exp: now + ttl as i64,
        iat: now,
        jti: opaque::random_token(),
        client_id: m.client.client_id.clone(),
        scope: m.scope.to_string(),
        auth_time: m.auth_time,
        grant_id: m.grant_id.clone(),
    };
    WithAcr {
        claims,
        acr: m.acr.clone(),
    }
}

/// The claims of an ID token; `user_claims` says whether the scopes' user claims go in.
fn id_claims(
    state: &AppState,
    client: &Client,
    sub: &str,
    scope: &Scope,
    facts: IdTokenFacts,
    now: i64,
    user_claims: bool,
) -> WithAcr<IdTokenClaims> {
    let claims = IdTokenClaims {
        iss: state.issuer.to_string(),
        sub: sub.to_owned(),
        aud: client.client_id.clone(),
        azp: client.client_id.clone(),
        exp: now + state.config.id_token_ttl as i64,
        iat: now,
        auth_time: facts.auth_time,
        nonce: facts.nonce,
        at_hash: None,
        c_hash: None,
        amr: facts.amr,
        sid: facts.sid,
        user_claims: {
            let mut c = match user_claims {
                true => facts.user.for_scope(scope),
                false => Default::default(),
            };
            c.remove("sub");
            c.extend(facts.extra);
            c
        },
    };
    WithAcr {
        claims,
        acr: facts.acr,
    }
}

/// Runs a signing job on the signing workers, or here when it holds no RSA signature.
async fn sign_off_runtime<T: Send + 'static>(
    state: &AppState,
    cheap_to_sign: bool,
    sign: impl FnOnce() -> Result<T, KeyError> + Send + 'static,
) -> Result<T, AppError> {
    if cheap_to_sign {
        return Ok(sign()?);
    }
    Ok(state
        .signer
        .run(move |_| sign())
        .await
        .map_err(|_| KeyError::Crypto)??)
}
