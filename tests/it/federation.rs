//! Upstream identity providers (issue 18). So far: their registration with `ferriam idp`
//! and the fetching of their metadata and keys.

mod cli;
mod discovery;
