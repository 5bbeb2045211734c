//! Upstream identity providers (issue 18). So far: their registration with `ferriam idp`
//! the fetching of their metadata and keys, the validation of their ID tokens, and the
//! upstream leg of a sign-in (authorization request and code redemption).

mod cli;
mod discovery;
mod id_token;
mod leg;
