//! Client authentication (RFC 6749 §2.3), shared by every endpoint a client calls directly:
//! `/token`, `/revoke`, `/introspect` (and later `/bc-authorize`). Only the method the client
//! registered is accepted; secrets are compared in constant time against their hash; JWT
//! assertions (RFC 7523, OpenID Connect Core §9) are verified with the registered secret or
//! public keys and accepted once. Failures are throttled (`client_throttle`).

use std::sync::Arc;

use axum::http::HeaderMap;
use ferriam_protocol::client::AuthMethod;
use ferriam_protocol::client_assertion::{check_claims, AssertionRules, ClientAssertion};
use ferriam_protocol::client_auth::{check_method, read_credentials, PresentedCredentials, Proof};
use ferriam_protocol::params::Params;
use ferriam_protocol::{ErrorCode, OAuthError};

use super::client_throttle::Throttle;
use super::extract::authorization;
use super::peer;
use crate::app::AppState;
use crate::error::AppError;
use crate::store::StoredClient;
use crate::tokens::{jwk, opaque, sealing};

fn failed() -> OAuthError {
    OAuthError::invalid_client("client authentication failed")
}

/// Authenticates the client calling `endpoint` (its path, such as `/token`: a client
/// assertion's `aud` may name it) and returns its registration.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &str,
) -> Result<Arc<StoredClient>, AppError> {
    let presented = read_credentials(authorization(headers), params)?;
    let throttle = Throttle::new(&presented.client_id, peer::current());
    throttle.check(state).await?;
    match verify(state, &presented, endpoint).await {
        Err(AppError::OAuth(e)) if e.code == ErrorCode::InvalidClient => {
            throttle.count_failure(state).await?;
            Err(e.into())
        }
        other => other,
    }
}

/// Checks the presented credentials against the registration.
async fn verify(
    state: &AppState,
    presented: &PresentedCredentials,
    endpoint: &str,
) -> Result<Arc<StoredClient>, AppError> {
    let client_id = &presented.client_id;
    let stored = state
        .client(client_id)
        .await?
        .ok_or_else(|| failed().with_detail(format!("unknown client {client_id}")))?;
    check_method(stored.client.token_endpoint_auth_method, &presented.proof)?;
    match &presented.proof {
        Proof::None => {}
        Proof::Secret { secret, .. } => {
            let ok = stored
                .secret_hash
                .as_deref()
                .is_some_and(|hash| opaque::matches_hash(secret, hash));
            if !ok {
                return Err(failed()
                    .with_detail(format!("bad secret for {client_id}"))
                    .into());
            }
        }
        Proof::Assertion(assertion) => verify_assertion(state, &stored, assertion, endpoint)
            .await
            .map_err(|e| match e {
                AppError::OAuth(e) if e.detail.is_none() => {
                    let detail = format!("assertion of {client_id}: {}", e.description);
                    AppError::OAuth(e.with_detail(detail))
                }
                e => e,
            })?,
    }
    Ok(stored)
}

/// RFC 7523 §3: the claims, then the signature, then the jti (only a verified assertion may
/// use up its jti).
async fn verify_assertion(
    state: &AppState,
    stored: &StoredClient,
    assertion: &ClientAssertion,
    endpoint: &str,
) -> Result<(), AppError> {
    let client = &stored.client;
    let audiences = [
        state.issuer.to_string(),
        format!("{}{endpoint}", state.issuer),
    ];
    let now = state.now();
    let accepted = check_claims(
        &assertion.claims,
        &AssertionRules {
            client_id: &client.client_id,
            audiences: &audiences,
            now,
            max_lifetime: state.config.client_assertion_max_lifetime as i64,
        },
    )?;
    let signed = match client.token_endpoint_auth_method {
        AuthMethod::ClientSecretJwt => {
            let secret = stored
                .sealed_secret
                .as_deref()
                .map(|s| sealing::open_client_secret(s, &client.client_id))
                .transpose()
                .map_err(|e| {
                    failed().with_detail(format!("sealed secret of {}: {e}", client.client_id))
                })?
                .flatten()
                .ok_or_else(|| {
                    failed().with_detail(format!("{} has no usable secret", client.client_id))
                })?;
            jwk::verify_hmac(
                assertion.alg,
                &secret,
                assertion.signing_input(),
                assertion.signature(),
            )
        }
        _ => verify_signature(state, client, assertion).await?,
    };
    if !signed {
        return Err(
            OAuthError::invalid_client("the client assertion's signature is not valid").into(),
        );
    }
    // The jti is scoped to its client, and kept until the assertion expires (RFC 7523 §3
    // item 7: the server may keep a list of used jtis until they expire).
    let jti_hash = opaque::hash(&format!("{}\n{}", client.client_id, accepted.jti));
    if !state
        .store
        .use_assertion_jti(&jti_hash, accepted.exp, now)
        .await?
    {
        return Err(OAuthError::invalid_client("the client assertion was used before").into());
    }
    Ok(())
}

/// `private_key_jwt`: a signature by one of the client's registered public keys.
async fn verify_signature(
    state: &AppState,
    client: &ferriam_protocol::client::Client,
    assertion: &ClientAssertion,
) -> Result<bool, AppError> {
    let kid = assertion.kid.as_deref();
    let keys = state.client_keys.keys(client, kid).await.map_err(|e| {
        OAuthError::invalid_client("the client's keys could not be obtained")
            .with_detail(format!("keys of {}: {e}", client.client_id))
    })?;
    if jwk::candidates(&keys, assertion.alg, kid).next().is_none() {
        return Err(
            OAuthError::invalid_client("no registered key fits the client assertion").into(),
        );
    }
    let alg = assertion.alg;
    let assertion = assertion.clone();
    let check = move || {
        jwk::candidates(&keys, alg, assertion.kid.as_deref())
            .any(|k| k.verify(alg, assertion.signing_input(), assertion.signature()))
    };
    // An RSA verification with a large key costs enough to keep it off the runtime; ECDSA
    // and Ed25519 cost microseconds.
    if matches!(
        alg,
        ferriam_protocol::client_assertion::AssertionAlg::RS256
            | ferriam_protocol::client_assertion::AssertionAlg::PS256
    ) {
        state
            .signer
            .run(move |_| check())
            .await
            .map_err(|_| AppError::Key(crate::tokens::keys::KeyError::Crypto))
    } else {
        Ok(check())
    }
}
