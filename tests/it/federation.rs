//! Upstream identity providers (issue 18). So far: their registration with `ferriam idp`
//! the fetching of their metadata and keys, and the validation of their ID tokens.

mod cli;
mod discovery;
mod id_token;
