//! Tokens: signing keys and the key set, compact JWS signing and verification, clients' public
//! keys (JWKs) for their assertions, and the opaque random values (codes, refresh tokens,
//! handles) that are stored only as hashes.

pub mod jwk;
pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod sealing;
