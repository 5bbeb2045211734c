//! Clients' public keys: JWKs (RFC 7517, RFC 7518 §6) parsed into keys aws-lc-rs can verify
//! with, and JWS signature verification (RFC 7515) for client assertions, including the HMAC
//! of `client_secret_jwt`.
//!
//! A key verifies only the algorithms its type allows, and only the `alg` it names if it names
//! one (RFC 8725 §3.1); a key meant for encryption (`use: enc`) verifies nothing.

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferriam_protocol::client_assertion::AssertionAlg;
use serde_json::Value;

/// The most keys one JWK Set may hold; the rest are ignored.
pub const MAX_KEYS: usize = 20;

#[derive(Debug, Clone)]
enum PublicKey {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed point: 0x04 || X || Y.
    P256(Vec<u8>),
    Ed25519(Vec<u8>),
}

/// One of a client's public keys.
#[derive(Debug, Clone)]
pub struct ClientKey {
    pub kid: Option<String>,
    /// The one algorithm the key is for, when the JWK says.
    alg: Option<String>,
    key: PublicKey,
}

/// Why a JWK was not usable. For the log only.
#[derive(Debug, thiserror::Error)]
#[error("unusable JWK: {0}")]
pub struct JwkError(pub &'static str);

fn member<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

fn bytes(jwk: &Value, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let text = member(jwk, name).ok_or(JwkError(name))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|_| JwkError(name))
}

impl ClientKey {
    /// Parses one JWK. Private members are never needed and a JWK carrying `d` is refused,
    /// so a misconfigured client learns that it published its private key.
    pub fn from_jwk(jwk: &Value) -> Result<Self, JwkError> {
        if jwk.get("d").is_some() {
            return Err(JwkError("a private key was published"));
        }
        if member(jwk, "use").is_some_and(|u| u != "sig") {
            return Err(JwkError("not a signing key"));
        }
        let key = match (member(jwk, "kty"), member(jwk, "crv")) {
            (Some("RSA"), _) => PublicKey::Rsa {
                n: bytes(jwk, "n")?,
                e: bytes(jwk, "e")?,
            },
            (Some("EC"), Some("P-256")) => {
                let (x, y) = (bytes(jwk, "x")?, bytes(jwk, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwkError("P-256 coordinates must be 32 bytes"));
                }
                let mut point = vec![4u8];
                point.extend(x);
                point.extend(y);
                PublicKey::P256(point)
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x = bytes(jwk, "x")?;
                if x.len() != 32 {
                    return Err(JwkError("an Ed25519 key is 32 bytes"));
                }
                PublicKey::Ed25519(x)
            }
            _ => return Err(JwkError("unsupported key type")),
        };
        Ok(Self {
            kid: member(jwk, "kid").map(str::to_owned),
            alg: member(jwk, "alg").map(str::to_owned),
            key,
        })
    }

    /// Whether this key may verify a signature made with `alg`.
    pub fn fits(&self, alg: AssertionAlg) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return false;
        }
        matches!(
            (&self.key, alg),
            (
                PublicKey::Rsa { .. },
                AssertionAlg::RS256 | AssertionAlg::PS256
            ) | (PublicKey::P256(_), AssertionAlg::ES256)
                | (PublicKey::Ed25519(_), AssertionAlg::EdDSA)
        )
    }

    /// Verifies `signature` over `message` made with `alg`. RSA keys shorter than 2048 bits
    /// are refused by the algorithm itself. CPU-bound for RSA: keep large keys off the runtime.
    pub fn verify(&self, alg: AssertionAlg, message: &[u8], sig: &[u8]) -> bool {
        if !self.fits(alg) {
            return false;
        }
        match (&self.key, alg) {
            (PublicKey::Rsa { n, e }, AssertionAlg::RS256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
                .is_ok(),
            (PublicKey::Rsa { n, e }, AssertionAlg::PS256) => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PSS_2048_8192_SHA256, message, sig)
                .is_ok(),
            (PublicKey::P256(point), AssertionAlg::ES256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .is_ok()
            }
            (PublicKey::Ed25519(x), AssertionAlg::EdDSA) => {
                UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(message, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

/// The usable keys of a JWK Set (`{"keys": [...]}`); unusable ones are skipped (a set may
/// also hold encryption keys), and at most [`MAX_KEYS`] are read.
pub fn key_set(jwks: &Value) -> Vec<ClientKey> {
    jwks.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .take(MAX_KEYS)
                .filter_map(|k| ClientKey::from_jwk(k).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The keys that may have made a signature with `alg`: those with the `kid` the header names
/// (which only selects, RFC 8725 §3.10), or every fitting key when it names none.
pub fn candidates<'a>(
    keys: &'a [ClientKey],
    alg: AssertionAlg,
    kid: Option<&'a str>,
) -> impl Iterator<Item = &'a ClientKey> + 'a {
    keys.iter()
        .filter(move |k| k.fits(alg))
        .filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
}

/// Whether any key holds the `kid` (to tell a rotated key set from a bad signature).
pub fn knows_kid(keys: &[ClientKey], kid: &str) -> bool {
    keys.iter().any(|k| k.kid.as_deref() == Some(kid))
}

/// Verifies an HMAC (`client_secret_jwt`) in constant time.
pub fn verify_hmac(alg: AssertionAlg, secret: &[u8], message: &[u8], tag: &[u8]) -> bool {
    let algorithm = match alg {
        AssertionAlg::HS256 => hmac::HMAC_SHA256,
        AssertionAlg::HS384 => hmac::HMAC_SHA384,
        AssertionAlg::HS512 => hmac::HMAC_SHA512,
        _ => return false,
    };
    hmac::verify(&hmac::Key::new(algorithm, secret), message, tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::keys::SigningKey;
    use ferriam_protocol::client::SigningAlg;
    use serde_json::json;

    #[test]
    fn verifies_with_the_public_jwk_of_each_kind() {
        for (alg, assertion_alg) in [
            (SigningAlg::RS256, AssertionAlg::RS256),
            (SigningAlg::ES256, AssertionAlg::ES256),
            (SigningAlg::EdDSA, AssertionAlg::EdDSA),
        ] {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let jwk = key.public_jwk();
            let parsed = ClientKey::from_jwk(&jwk).unwrap();
            let sig = key.sign(b"message").unwrap();
            assert!(parsed.verify(assertion_alg, b"message", &sig), "{alg:?}");
            assert!(!parsed.verify(assertion_alg, b"other", &sig), "{alg:?}");
            assert!(!parsed.verify(AssertionAlg::HS256, b"message", &sig));
            assert_eq!(parsed.kid.as_deref(), Some(key.kid.as_str()));
        }
    }

    #[test]
    fn a_key_verifies_only_its_algorithms() {
        let (key, _) = SigningKey::generate(SigningAlg::RS256).unwrap();
        let jwk = key.public_jwk();
        let parsed = ClientKey::from_jwk(&jwk).unwrap();
        // The JWK says RS256: not PS256 although the key type allows it.
        assert!(!parsed.fits(AssertionAlg::PS256));
        assert!(!parsed.fits(AssertionAlg::ES256));
        let mut no_alg = jwk.clone();
        no_alg.as_object_mut().unwrap().remove("alg");
        assert!(ClientKey::from_jwk(&no_alg)
            .unwrap()
            .fits(AssertionAlg::PS256));
        let mut private = jwk.clone();
        private["d"] = json!("AAAA");
        assert!(ClientKey::from_jwk(&private).is_err());
        let mut enc = jwk.clone();
        enc["use"] = json!("enc");
        assert!(ClientKey::from_jwk(&enc).is_err());
        assert!(ClientKey::from_jwk(&json!({"kty": "oct", "k": "AAAA"})).is_err());
        let set = key_set(&json!({"keys": [jwk, {"kty": "oct", "k": "AAAA"}, enc]}));
        assert_eq!(set.len(), 1);
        assert!(knows_kid(&set, &key.kid));
        assert_eq!(
            candidates(&set, AssertionAlg::RS256, Some("other")).count(),
            0
        );
        assert_eq!(candidates(&set, AssertionAlg::RS256, None).count(), 1);
    }

    #[test]
    fn ps256_verifies_with_an_rsa_jwk() {
        use aws_lc_rs::rsa::{KeyPair, KeySize};
        use aws_lc_rs::signature::KeyPair as _;
        let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let mut sig = vec![0u8; pair.public_modulus_len()];
        pair.sign(&signature::RSA_PSS_SHA256, &rng, b"message", &mut sig)
            .unwrap();
        let public = pair.public_key();
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let jwk = json!({
            "kty": "RSA", "kid": "ps", "alg": "PS256",
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        });
        let key = ClientKey::from_jwk(&jwk).unwrap();
        assert!(key.verify(AssertionAlg::PS256, b"message", &sig));
        assert!(!key.verify(AssertionAlg::PS256, b"massage", &sig));
        assert!(
            !key.verify(AssertionAlg::RS256, b"message", &sig),
            "the JWK says PS256"
        );
    }

    #[test]
    fn hmac() {
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"secret"), b"m");
        assert!(verify_hmac(
            AssertionAlg::HS256,
            b"secret",
            b"m",
            tag.as_ref()
        ));
        assert!(!verify_hmac(
            AssertionAlg::HS256,
            b"other",
            b"m",
            tag.as_ref()
        ));
        assert!(!verify_hmac(
            AssertionAlg::HS384,
            b"secret",
            b"m",
            tag.as_ref()
        ));
        assert!(!verify_hmac(
            AssertionAlg::RS256,
            b"secret",
            b"m",
            tag.as_ref()
        ));
    }
}
