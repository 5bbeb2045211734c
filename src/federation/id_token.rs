//! Validation of an upstream's ID token (OpenID Connect Core 1.0 §3.1.3.7), with the
//! `openidconnect` crate: the signature against the upstream's published keys (fetched again
//! once when the token names a key the cached set lacks, so a key rotation is picked up),
//! `iss` exactly the registered issuer, Ferriam's client id in `aud` (and in `azp` when there
//! are several audiences, no untrusted audience), `exp` in the future, `iat` not in the
//! future, and the `nonce` this sign-in sent. Only asymmetric algorithms are accepted:
//! `none` and the HMAC algorithms (keyed with the client secret, which the upstream shares)
//! are refused.

use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IssuerUrl, Nonce,
    SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::accounts::UpstreamClaims;
use super::discovery::Discovery;
use super::http::Outbound;
use crate::store::Upstream;

/// How far in the future an `iat` may lie (clock skew between the upstream and Ferriam).
pub const IAT_LEEWAY: i64 = 60;

/// The signature algorithms an upstream's ID token may use.
const ALLOWED: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Why an upstream's ID token was refused; the text is for the log only.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is not a JWT: {0}")]
    Malformed(String),
    #[error("the ID token was refused: {0}")]
    Refused(String),
    #[error("the ID token's iat lies in the future")]
    IssuedInFuture,
    #[error("the upstream's keys could not be fetched: {0}")]
    Keys(String),
}

/// The claims beyond the standard ones (`groups`, or whatever an upstream's claim mapping
/// names), kept so that every claim of a token or userinfo answer can be read.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}

impl AdditionalClaims for OtherClaims {}

/// An upstream's ID token, with all its claims.
type UpstreamIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// What a valid ID token says about the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The account fields, read under the upstream's claim mapping.
    pub claims: UpstreamClaims,
    /// The upstream's `amr`, if it sent one.
    pub amr: Vec<String>,
    /// Every claim of the token (and, after [`super::leg::redeem`], of the userinfo answer).
    pub raw: Map<String, Value>,
}

/// Validates `id_token`, issued by `upstream` for the sign-in that sent `nonce`.
pub async fn verify(
    discovery: &Discovery,
    http: &Outbound,
    upstream: &Upstream,
    id_token: &str,
    nonce: &str,
    now: i64,
) -> Result<Verified, IdTokenError> {
    let token: UpstreamIdToken = id_token
        .parse()
        .map_err(|e: serde_json::Error| IdTokenError::Malformed(e.to_string()))?;
    let metadata = discovery
        .get(http, upstream, now)
        .await
        .map_err(|e| IdTokenError::Keys(e.to_string()))?;
    match check(&token, upstream, metadata.jwks().clone(), nonce, now) {
        Err(IdTokenError::Refused(reason)) if reason == NO_MATCHING_KEY => {
            // A key the cached set lacks: the upstream may have rotated; fetch once more.
            let metadata = discovery
                .refetch(http, upstream, now)
                .await
                .map_err(|e| IdTokenError::Keys(e.to_string()))?;
            check(&token, upstream, metadata.jwks().clone(), nonce, now)
        }
        other => other,
    }
}

const NO_MATCHING_KEY: &str = "no matching key";

fn check(
    token: &UpstreamIdToken,
    upstream: &Upstream,
    jwks: openidconnect::core::CoreJsonWebKeySet,
    nonce: &str,
    now: i64,
) -> Result<Verified, IdTokenError> {
    let issuer =
        IssuerUrl::new(upstream.issuer.clone()).map_err(|e| IdTokenError::Keys(e.to_string()))?;
    // A public-client verifier holds no client secret, so no HMAC key exists to verify with;
    // the algorithm list refuses HMAC and none before any key is looked at.
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(upstream.client_id.clone()),
        issuer,
        jwks,
    )
    .set_allowed_algs(ALLOWED);
    let claims = token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| match e {
            ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            ) => IdTokenError::Refused(NO_MATCHING_KEY.into()),
            e => IdTokenError::Refused(describe(&e)),
        })?;
    if claims.issue_time().timestamp() > now + IAT_LEEWAY {
        return Err(IdTokenError::IssuedInFuture);
    }
    let raw = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(IdTokenError::Malformed(
                "the claims are not an object".into(),
            ))
        }
    };
    Ok(Verified {
        claims: UpstreamClaims::mapped(claims.subject().as_str(), &raw, &upstream.claims),
        amr: claims
            .auth_method_refs()
            .map(|list| list.iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
        raw,
    })
}

/// An error with its causes, for the log.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
