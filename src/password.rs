//! Password hashing with argon2id on dedicated worker threads, one per core.
//!
//! Each worker keeps its own argon2 memory (about 19 MiB at the default parameters) and reuses
//! it for every hash, so the server's memory stays at cores × 19 MiB however many sign-ins
//! arrive: freshly allocating 19 MiB per hash on a general blocking pool left that memory
//! parked in the allocator's per-thread arenas (835 MB peak RSS under load) and paid page
//! faults on every hash. Hashes are PHC strings (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).

use std::sync::Arc;

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;
use tokio::sync::OnceCell;

use crate::workers::{names, Workers};

/// Hashes and verifies passwords off the async runtime.
#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    /// Each worker's state is its reusable argon2 memory.
    workers: Workers<Vec<Block>>,
    /// A hash of a random password, verified when the user does not exist so that sign-in
    /// takes as long for unknown users as for known ones (no user enumeration by timing).
    /// Made on first need, so that starting the server costs no hash.
    dummy_hash: Arc<OnceCell<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("hashing failed")]
    Failed,
}

impl PasswordHasher {
    /// Starts one hashing thread per core; they end when the last clone is dropped.
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, HashError> {
        let params = Params::new(memory_kib, iterations, parallelism, None)
            .map_err(|e| HashError::Params(e.to_string()))?;
        Ok(Self {
            params,
            workers: Workers::start(names::HASHING).map_err(|_| HashError::Failed)?,
            dummy_hash: Arc::new(OnceCell::new()),
        })
    }

    /// Hashes a new password with the configured parameters.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        let params = self.params.clone();
        self.run(move |memory| hash_with(&params, password.as_bytes(), memory))
            .await?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no user.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let has_user = stored.is_some();
        let stored = match stored {
            Some(hash) => hash,
            None => match self
                .dummy_hash
                .get_or_try_init(|| self.hash(crate::tokens::opaque::random_token()))
                .await
            {
                Ok(hash) => hash.clone(),
                Err(_) => return false,
            },
        };
        let ok = self
            .run(move |memory| verify_with(&stored, password.as_bytes(), memory))
            .await
            .unwrap_or(false);
        ok && has_user
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, HashError> {
        self.workers.run(f).await.map_err(|_| HashError::Failed)
    }
}

fn hash_with(
    params: &Params,
    password: &[u8],
    memory: &mut Vec<Block>,
) -> Result<String, HashError> {
    let salt = crate::tokens::opaque::random_bytes::<16>();
    let mut out = [0u8; 32];
    memory.resize(params.block_count(), Block::default());
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, &mut memory[..])
        .map_err(|_| HashError::Failed)?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Recomputes the hash with the stored parameters and compares in constant time.
fn verify_with(stored: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = parsed
        .version
        .and_then(|v| Version::try_from(v).ok())
        .unwrap_or(Version::V0x13);
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    memory.resize(params.block_count(), Block::default());
    let computed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password,
        salt,
        &mut out,
        &mut memory[..],
    );
    computed.is_ok() && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn hash_and_verify() {
        let hasher = PasswordHasher::new(1024, 1, 1).unwrap();
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert!(
            hasher
                .verify("correct horse".into(), Some(hash.clone()))
                .await
        );
        assert!(!hasher.verify("wrong".into(), Some(hash.clone())).await);
        assert!(!hasher.verify("anything".into(), None).await);
        assert!(
            !hasher
                .verify("correct horse".into(), Some("not a hash".into()))
                .await
        );
        // The PHC string is standard: the argon2 crate's own verifier accepts it.
        let parsed = PasswordHash::new(&hash).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
    }

    #[tokio::test]
    async fn verifies_hashes_made_elsewhere_with_other_parameters() {
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = Params::new(2048, 2, 1, None).unwrap();
        let foreign = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        let hasher = PasswordHasher::new(1024, 1, 1).unwrap();
        assert!(hasher.verify("pw".into(), Some(foreign.clone())).await);
        assert!(!hasher.verify("px".into(), Some(foreign)).await);
    }
}
