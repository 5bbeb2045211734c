//! HTTP handlers, one file per endpoint: extract, call the protocol crate and the store, respond.

pub mod authorize;
pub mod client_auth;
pub mod cors;
pub mod discovery;
pub mod extract;
pub mod introspect;
pub mod logout;
pub mod presented;
pub mod revoke;
pub mod signin;
pub mod token;
pub mod userinfo;
