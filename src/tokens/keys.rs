//! Signing keys: generation (RSA-2048 for RS256 and for PS256, P-256, Ed25519), storage as PKCS#8, the in-memory key
//! set used on the hot path (keys parsed once), JWKS publication and rotation pickup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ferriam_protocol::client::SigningAlg;
use serde_json::{json, Value};

use crate::store::{KeyRecord, Store, StoreError};

/// Why a key could not be made, loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation or signing failed")]
    Crypto,
    #[error("stored key {0} is unreadable")]
    BadKey(String),
    #[error("unknown algorithm {0}")]
    UnknownAlg(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Seal(#[from] super::sealing::SealError),
}

enum Pair {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A parsed private key, ready to sign.
pub struct SigningKey {
    pub kid: String,
    pub alg: SigningAlg,
    pair: Pair,
}

/// A public key with the one algorithm it may verify (RFC 8725 §3.1: no algorithm switching).
#[derive(Clone)]
pub struct VerifyingKey {
    pub alg: SigningAlg,
    public: Vec<u8>,
}

impl VerifyingKey {
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        let algorithm: &dyn signature::VerificationAlgorithm = match self.alg {
            SigningAlg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            SigningAlg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            SigningAlg::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
            SigningAlg::EdDSA => &signature::ED25519,
        };
        UnparsedPublicKey::new(algorithm, &self.public)
            .verify(message, sig)
            .is_ok()
    }
}

impl SigningKey {
    /// Makes a new key and returns it with its PKCS#8 encoding for storage.
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = match alg {
            // PS256 gets its own RSA key: one key, one algorithm (RFC 8725 §3.1).
            SigningAlg::RS256 | SigningAlg::PS256 => {
                aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048)
                    .and_then(|k| k.as_der())
                    .map(|d| d.as_ref().to_vec())
            }
            SigningAlg::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map(|d| d.as_ref().to_vec())
            }
            SigningAlg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng).map(|d| d.as_ref().to_vec()),
        }
        .map_err(|_| KeyError::Crypto)?;
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyError> {
        let bad = |_| KeyError::BadKey(alg.as_str().to_owned());
        let pair = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                Pair::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(pkcs8).map_err(bad)?)
            }
            SigningAlg::ES256 => Pair::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(bad)?,
            ),
            SigningAlg::EdDSA => Pair::Ed(Ed25519KeyPair::from_pkcs8(pkcs8).map_err(bad)?),
        };
        let mut key = Self {
            kid: String::new(),
            alg,
            pair,
        };
        key.kid = thumbprint(&key.public_jwk_members());
        Ok(key)
    }

    /// Loads a stored key, decrypting it with `FERRIAM_MASTER_KEY` if it was sealed.
    pub fn from_record(record: &KeyRecord) -> Result<Self, KeyError> {
        let alg = SigningAlg::parse(&record.alg)
            .ok_or_else(|| KeyError::UnknownAlg(record.alg.clone()))?;
        let master = super::sealing::master_key_from_env()?;
        let der = super::sealing::open(&record.private_pkcs8, &record.kid, master.as_ref())?
            .ok_or_else(|| KeyError::BadKey(record.kid.clone()))?;
        let mut key = Self::from_pkcs8(alg, &der)?;
        key.kid = record.kid.clone();
        Ok(key)
    }

    /// Signs `message` (the JWS signing input).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        match &self.pair {
            Pair::Rsa(k) => {
                // RFC 7518 §3.5: PS256 is RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a
                // 32-byte salt, which is what aws-lc-rs's RSA_PSS_SHA256 produces.
                let padding: &dyn signature::RsaEncoding = match self.alg {
                    SigningAlg::PS256 => &signature::RSA_PSS_SHA256,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(padding, &rng, message, &mut sig)
                    .map_err(|_| KeyError::Crypto)?;
                Ok(sig)
            }
            Pair::Ec(k) => k
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Crypto),
            Pair::Ed(k) => Ok(k.sign(message).as_ref().to_vec()),
        }
    }

    pub fn verifying_key(&self) -> VerifyingKey {
        let public = match &self.pair {
            Pair::Rsa(k) => k.public_key().as_ref().to_vec(),
            Pair::Ec(k) => k.public_key().as_ref().to_vec(),
            Pair::Ed(k) => k.public_key().as_ref().to_vec(),
        };
        VerifyingKey {
            alg: self.alg,
            public,
        }
    }

    /// The required JWK members in the lexicographic order RFC 7638 §3.2 hashes them in.
    fn public_jwk_members(&self) -> Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        match &self.pair {
            Pair::Rsa(k) => {
                let p = k.public_key();
                json!({
                    "e": b64(p.exponent().big_endian_without_leading_zero()),
                    "kty": "RSA",
                    "n": b64(p.modulus().big_endian_without_leading_zero()),
                })
            }
            Pair::Ec(k) => {
                // Uncompressed point: 0x04 || X || Y.
                let point = k.public_key().as_ref();
                json!({"crv": "P-256", "kty": "EC", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
            }
            Pair::Ed(k) => {
                json!({"crv": "Ed25519", "kty": "OKP", "x": b64(k.public_key().as_ref())})
            }
        }
    }

    /// The public JWK with `kid`, `alg` and `use`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = self.public_jwk_members();
        jwk["kid"] = self.kid.clone().into();
        jwk["alg"] = self.alg.as_str().into();
        jwk["use"] = "sig".into();
        jwk
    }
}

/// RFC 7638 JWK thumbprint, used as the `kid`.
fn thumbprint(members: &Value) -> String {
    let canonical = members.to_string();
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.as_bytes(),
    ))
}

/// The keys in force at one moment: one active signing key per algorithm, and every key
/// whose tokens may still be alive, for verification and for `/jwks`.
pub struct KeySet {
    active: HashMap<SigningAlg, Arc<SigningKey>>,
    verifying: HashMap<String, VerifyingKey>,
    /// The `/jwks` document, serialised once.
    pub jwks: Arc<str>,
    version: i64,
}

impl KeySet {
    fn build(
        records: &[KeyRecord],
        now: i64,
        keep_retired_for: i64,
        version: i64,
    ) -> Result<Self, KeyError> {
        let mut active = HashMap::new();
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        for record in records {
            let retired_long_ago = record
                .retired_at
                .is_some_and(|r| r + keep_retired_for < now);
            if retired_long_ago {
                continue;
            }
            let key = SigningKey::from_record(record)?;
            verifying.insert(key.kid.clone(), key.verifying_key());
            published.push(key.public_jwk());
            if record.retired_at.is_none() {
                // Records come oldest first: the newest live key of an algorithm is its active one.
                active.insert(key.alg, Arc::new(key));
            }
        }
        let jwks = json!({ "keys": published }).to_string().into();
        Ok(Self {
            active,
            verifying,
            jwks,
            version,
        })
    }

    pub fn active(&self, alg: SigningAlg) -> Option<Arc<SigningKey>> {
        self.active.get(&alg).cloned()
    }

    pub fn verifying(&self, kid: &str) -> Option<&VerifyingKey> {
        self.verifying.get(kid)
    }
}

/// Owns the current key set and reloads it when the stored keys change.
pub struct KeyManager {
    store: Arc<dyn Store>,
    current: RwLock<Arc<KeySet>>,
    /// How long a retired key stays published: the longest lifetime of a token it signed.
    keep_retired_for: i64,
}

impl KeyManager {
    /// Loads the stored keys, creating the RS256 key on first start.
    pub async fn load(
        store: Arc<dyn Store>,
        keep_retired_for: i64,
        now: i64,
    ) -> Result<Self, KeyError> {
        let records = store.keys().await?;
        if !records
            .iter()
            .any(|r| r.alg == "RS256" && r.retired_at.is_none())
        {
            create_key(store.as_ref(), SigningAlg::RS256, now).await?;
        }
        let records = store.keys().await?;
        let version = store.key_set_version().await?;
        let set = KeySet::build(&records, now, keep_retired_for, version)?;
        Ok(Self {
            store,
            current: RwLock::new(Arc::new(set)),
            keep_retired_for,
        })
    }

    /// The key set in force (a cheap `Arc` clone).
    pub fn current(&self) -> Arc<KeySet> {
        // A poisoned lock only means a reload panicked; the last good set is still valid.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The active key for `alg`, creating one if this algorithm has none yet.
    pub async fn signing_key(
        &self,
        alg: SigningAlg,
        now: i64,
    ) -> Result<Arc<SigningKey>, KeyError> {
        if let Some(key) = self.current().active(alg) {
            return Ok(key);
        }
        create_key(self.store.as_ref(), alg, now).await?;
        self.reload(now).await?;
        self.current().active(alg).ok_or(KeyError::Crypto)
    }

    /// Reloads the key set if the stored version changed; called every second by the server.
    pub async fn refresh_if_changed(&self, now: i64) -> Result<(), KeyError> {
        let version = self.store.key_set_version().await?;
        if version != self.current().version {
            self.reload(now).await?;
        }
        Ok(())
    }

    async fn reload(&self, now: i64) -> Result<(), KeyError> {
        let version = self.store.key_set_version().await?;
        let records = self.store.keys().await?;
        let set = Arc::new(KeySet::build(
            &records,
            now,
            self.keep_retired_for,
            version,
        )?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = set;
        Ok(())
    }
}

/// Generates and stores a new key for `alg`, retiring the previous active one. Generation runs
/// on the blocking pool (RSA key generation takes tens of milliseconds).
pub async fn create_key(
    store: &dyn Store,
    alg: SigningAlg,
    now: i64,
) -> Result<KeyRecord, KeyError> {
    let (key, pkcs8) = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
        .await
        .map_err(|_| KeyError::Crypto)??;
    let previous: Vec<KeyRecord> = store
        .keys()
        .await?
        .into_iter()
        .filter(|r| r.alg == alg.as_str() && r.retired_at.is_none())
        .collect();
    let record = KeyRecord {
        kid: key.kid.clone(),
        alg: alg.as_str().to_owned(),
        private_pkcs8: super::sealing::seal(
            &pkcs8,
            &key.kid,
            super::sealing::master_key_from_env()?.as_ref(),
        ),
        created_at: now,
        retired_at: None,
    };
    store.add_key(&record).await?;
    for old in previous {
        store.retire_key(&old.kid, now).await?;
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in SigningAlg::ALL {
            let (key, _) = SigningKey::generate(alg).unwrap();
            let sig = key.sign(b"message").unwrap();
            let v = key.verifying_key();
            assert!(v.verify(b"message", &sig), "{alg:?}");
            assert!(!v.verify(b"other", &sig), "{alg:?}");
            let jwk = key.public_jwk();
            assert_eq!(jwk["kid"], key.kid.as_str());
            assert_eq!(jwk["alg"], alg.as_str());
        }
    }

    /// An RS256 and a PS256 signature are not interchangeable: each key verifies only its own
    /// algorithm (RFC 8725 §3.1).
    #[test]
    fn ps256_is_not_rs256() {
        let (ps, _) = SigningKey::generate(SigningAlg::PS256).unwrap();
        let sig = ps.sign(b"message").unwrap();
        assert!(ps.verifying_key().verify(b"message", &sig));
        let as_rs256 = VerifyingKey {
            alg: SigningAlg::RS256,
            ..ps.verifying_key()
        };
        assert!(!as_rs256.verify(b"message", &sig));
        assert_eq!(ps.public_jwk()["kty"], "RSA");
        // PSS signatures are randomised; PKCS#1 v1.5 ones are not.
        assert_ne!(sig, ps.sign(b"message").unwrap());
    }
}
