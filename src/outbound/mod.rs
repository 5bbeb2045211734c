//! Requests Ferriam makes to URLs that others registered (a client's `jwks_uri`; later
//! upstream identity providers and notification endpoints), through an SSRF guard: such a URL
//! must not reach the server's own network.
//!
//! [`address`] decides which destinations are allowed; [`fetch`] resolves the host once,
//! checks every address, and connects to the checked one with no redirects, no proxy, a
//! timeout and a bounded body. [`post`] is the client and the outcome of the POSTs the
//! delivery queues make to registered endpoints.

pub mod address;
pub mod fetch;
pub mod post;

pub use address::{classify, AddressClass, Policy};
pub use fetch::{fetch_json, FetchError};
