//! Ferriam's protocol rules: OAuth 2.0 and OpenID Connect as pure, synchronous functions.
//!
//! Nothing here performs I/O. The server crate extracts raw parameters from HTTP, calls these
//! functions with the records it loaded from storage and the current time, and turns the
//! results (or an [`OAuthError`]) into HTTP responses. Every function can therefore be tested
//! without a running server.
//!
//! # Layout
//! - [`error`]: one error type carrying the spec's error codes.
//! - [`params`]: raw form/query parsing that rejects (or, for `/authorize`, records)
//!   duplicates and refuses non-UTF-8 input.
//! - [`client`]: registered-client records and the redirect-URI rules.
//! - [`registration`]: what a client registration must satisfy before it is stored.
//! - [`pkce`], [`scope`], [`claims`]: the small building blocks of the flows.
//! - [`authorize`]: validation of an authorization request (every response type, code,
//!   implicit and hybrid) and building of its response.
//! - [`token`]: token-endpoint requests, one module per grant type.
//! - [`client_auth`]: how a client proves who it is at the token endpoint;
//!   [`client_assertion`]: the JWT assertions of RFC 7523 it may prove it with.
//! - [`bearer`]: RFC 6750 bearer-token extraction for protected resources.
//! - [`jwt_claims`]: the claim sets of access tokens (RFC 9068) and ID tokens.
//! - [`revocation`], [`introspection`]: `/revoke` (RFC 7009) and `/introspect` (RFC 7662).
//! - [`discovery`]: the provider metadata document.
//! - [`upstream`]: registering upstream identity providers and routing sign-ins to them.
//! - [`logout`]: RP-initiated, back-channel and front-channel logout rules.
//! - [`ciba`]: Client-Initiated Backchannel Authentication: the request, delivery modes, polls.

pub mod authorize;
pub mod bearer;
pub mod ciba;
mod civil;
pub mod claims;
pub mod client;
pub mod client_assertion;
pub mod client_auth;
pub mod discovery;
pub mod error;
pub mod introspection;
pub mod jwt_claims;
pub mod logout;
pub mod mfa;
pub mod params;
pub mod pkce;
pub mod registration;
pub mod revocation;
pub mod rfc3339;
pub mod scope;
pub mod token;
pub mod upstream;

pub use error::{ErrorCode, OAuthError};
