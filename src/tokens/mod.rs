//! Tokens: signing keys and the key set, compact JWS signing and verification, and the opaque
//! random values (codes, refresh tokens, handles) that are stored only as hashes.

pub mod jwt;
pub mod keys;
pub mod opaque;
pub mod sealing;
