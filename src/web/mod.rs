//! HTTP handlers, one file per endpoint: extract, call the protocol crate and the store, respond.

pub mod account;
pub mod authorize;
pub mod backchannel;
pub mod client_auth;
pub mod client_throttle;
pub mod cors;
pub mod device;
pub mod discovery;
pub mod extract;
pub mod factors;
pub mod federation;
pub mod introspect;
pub mod logout;
pub mod peer;
pub mod presented;
pub mod revoke;
pub mod signin;
pub mod throttle_cache;
pub mod token;
pub mod userinfo;
