//! Upstream identity providers (issue 18). So far: their registration with `ferriam idp`.

mod cli;
