//! Upstream identity providers: their registration with `ferriam idp`, the fetching of their
//! metadata and keys, the validation of their ID tokens, the upstream leg of a sign-in, and
//! whole federated sign-ins through a second Ferriam process, node-oidc-provider and a
//! misbehaving upstream.

mod bad_requests;
mod callback;
mod cli;
mod discovery;
mod fake;
mod id_token;
mod leg;
mod node_provider;
mod second_ferriam;
pub mod upstream_process;
