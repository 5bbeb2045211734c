//! Ferriam's integration tests: one binary, one module per spec feature. Each test starts the
//! real server on an ephemeral loopback port with a fresh database and drives it over HTTP
//! with third-party clients (`openidconnect`, `reqwest`).

mod harness;

mod abuse;
mod account;
mod acr;
mod audit;
mod authorize_errors;
mod browser;
mod ciba;
mod ciba_delivery;
mod client_assertions;
mod client_changes;
mod client_cli;
mod client_jwks;
mod client_throttling;
mod code_flow;
mod cors;
mod discovery;
mod email;
mod factors;
mod federation;
mod implicit;
mod implicit_errors;
mod introspection;
mod lockout;
mod logout;
mod policy;
mod refresh;
mod registrations;
mod revocation;
mod signin_pages;
mod sms_gateway;
mod token_errors;
mod transport;
mod user_factors;
mod userinfo;
