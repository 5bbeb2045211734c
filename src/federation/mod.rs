//! Upstream identity providers: Ferriam as the relying party of other OpenID providers, so
//! users can sign in with their company account beside the local one.
//!
//! This holds the registrations every node keeps in memory (`registry`), the opening of their
//! sealed client secrets, the guarded HTTP client for upstream requests (`http`), the cached
//! upstream metadata and keys (`discovery`), the accounts of upstream users (`accounts`), the
//! validation of their ID tokens (`id_token`) and the upstream leg of a sign-in (`leg`: the
//! authorization request with state, nonce and PKCE, the code's redemption). The sign-in
//! side (the choice, identifier-first routing, the callback) is `crate::signin::upstream`.

pub mod accounts;
pub mod discovery;
pub mod http;
pub mod id_token;
pub mod leg;
pub mod registry;

use crate::tokens::sealing::{self, SealError};

/// What Ferriam needs as the relying party of its upstreams, shared by every request.
pub struct RelyingParty {
    pub discovery: discovery::Discovery,
    pub http: http::Outbound,
}

/// What an upstream's sealed client secret is bound to (the AEAD's associated data), so a
/// sealed value copied to another upstream's row does not open.
pub fn secret_binding(name: &str) -> String {
    format!("upstream:{name}")
}

/// The stored form of an upstream's client secret: sealed under `FERRIAM_MASTER_KEY` when it
/// is set, as signing keys are.
pub fn seal_secret(name: &str, secret: &str) -> Result<String, SealError> {
    let master = sealing::master_key_from_env()?;
    Ok(sealing::seal(
        secret.as_bytes(),
        &secret_binding(name),
        master.as_ref(),
    ))
}

/// The client secret of the upstream `name` from its stored form; `None` when the stored
/// value is not valid base64 or UTF-8.
pub fn open_secret(name: &str, stored: &str) -> Result<Option<String>, SealError> {
    let master = sealing::master_key_from_env()?;
    let plain = sealing::open(stored, &secret_binding(name), master.as_ref())?;
    Ok(plain.and_then(|bytes| String::from_utf8(bytes).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_bound_to_their_upstream() {
        let master = [3u8; 32];
        let sealed = sealing::seal(b"s3cret", &secret_binding("corp"), Some(&master));
        assert!(!sealed.contains("s3cret"));
        let opened = sealing::open(&sealed, &secret_binding("corp"), Some(&master)).unwrap();
        assert_eq!(opened.as_deref(), Some(&b"s3cret"[..]));
        assert!(sealing::open(&sealed, &secret_binding("acme"), Some(&master)).is_err());
    }
}
