//! Opaque secrets: 256-bit random values (codes, refresh tokens, session and interaction
//! handles, client secrets), stored as SHA-256 hashes: high entropy needs no slow hash.

use aws_lc_rs::{digest, hmac, rand};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS CSPRNG failing is unrecoverable: no secret may be issued without it.
    rand::fill(&mut bytes).unwrap_or_else(|_| panic!("the system random number generator failed"));
    bytes
}

/// A fresh 256-bit random value, base64url-encoded (43 characters).
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A new client id: 22 letters and digits (about 131 bits). Only letters and digits, so an id
/// never starts with `-` (a command line would read it as a flag) and needs no encoding in
/// HTTP Basic credentials.
pub fn random_client_id() -> String {
    let mut id = String::with_capacity(22);
    while id.len() < 22 {
        id.extend(
            random_token()
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(22 - id.len()),
        );
    }
    id
}

/// A random (version 4) UUID, used as users' `sub`: unique, stable and not reassignable.
pub fn random_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The value stored in place of a secret: base64url(SHA-256(secret)).
pub fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// Deterministic derivation of one secret from another under a server key, HMAC-SHA256: the
/// refresh grace window recomputes a rotated token's successor from the old token alone.
pub fn derive(key: &[u8], input: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    URL_SAFE_NO_PAD.encode(hmac::sign(&key, input.as_bytes()))
}

/// Constant-time check of a presented secret against a stored hash.
pub fn matches_hash(secret: &str, stored_hash: &str) -> bool {
    hash(secret).as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_ids_are_letters_and_digits() {
        for _ in 0..2000 {
            let id = random_client_id();
            assert_eq!(id.len(), 22);
            assert!(id.chars().all(|c| c.is_ascii_alphanumeric()), "{id}");
        }
        assert_ne!(random_client_id(), random_client_id());
    }

    #[test]
    fn tokens_are_unique_and_hash_matches() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(matches_hash(&a, &hash(&a)));
        assert!(!matches_hash(&a, &hash("other")));
        assert_eq!(derive(b"k", "x"), derive(b"k", "x"));
        assert_ne!(derive(b"k", "x"), derive(b"j", "x"));
    }
}
