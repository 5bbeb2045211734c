//! Compact JWS (RFC 7515) signing and verification with Ferriam's own keys.
//!
//! Verification follows RFC 8725: the algorithm comes from the key named by `kid`, never from
//! the token, so `alg: none` and RS256-to-HS256 confusion cannot pass; `typ` must be the
//! expected one (RFC 9068 §4: `at+jwt` for access tokens); `crit` is refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{KeyError, KeySet, SigningKey};

/// `typ` of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// `typ` of ID tokens.
pub const ID_TOKEN_TYP: &str = "JWT";

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    crit: Option<serde_json::Value>,
}

/// Signs `claims` as a compact JWS. CPU-bound: call it off the async runtime for RSA.
pub fn sign<T: Serialize>(key: &SigningKey, typ: &str, claims: &T) -> Result<String, KeyError> {
    let header = Header {
        alg: key.alg.as_str().to_owned(),
        typ: Some(typ.to_owned()),
        kid: Some(key.kid.clone()),
        crit: None,
    };
    let header = serde_json::to_vec(&header).map_err(|_| KeyError::Crypto)?;
    let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Crypto)?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let sig = key.sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(token)
}

/// Why a presented JWT was refused. The reason is for the log only.
#[derive(Debug, thiserror::Error)]
#[error("invalid JWT: {0}")]
pub struct JwtError(pub &'static str);

/// Verifies a compact JWS signed by one of `keys` and returns its claims.
pub fn verify<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    expected_typ: &str,
) -> Result<T, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError("not a compact JWS"));
    };
    let header: Header = decode_json(h)?;
    if header.crit.is_some() {
        return Err(JwtError("crit is not supported"));
    }
    if header.typ.as_deref() != Some(expected_typ) {
        return Err(JwtError("unexpected typ"));
    }
    let kid = header.kid.ok_or(JwtError("no kid"))?;
    let key = keys.verifying(&kid).ok_or(JwtError("unknown kid"))?;
    if header.alg != key.alg.as_str() {
        return Err(JwtError("alg does not match the key"));
    }
    let sig = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError("bad signature encoding"))?;
    let signing_input = &token[..h.len() + 1 + p.len()];
    if !key.verify(signing_input.as_bytes(), &sig) {
        return Err(JwtError("bad signature"));
    }
    decode_json(p)
}

fn decode_json<T: DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError("bad base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError("bad JSON"))
}
