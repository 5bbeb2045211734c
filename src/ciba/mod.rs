//! Client-Initiated Backchannel Authentication (CIBA Core 1.0) on the server: the
//! backchannel request ([`backchannel`]) that finds the user and stores the request, and the
//! per-node memory of polls ([`polls`]) and the ping and push deliveries ([`delivery`]); the grant is `grants::ciba`. The rules
//! themselves are the protocol crate's `ciba` module; the stored requests are `store::ciba`.

pub mod approval;
pub mod backchannel;
pub mod delivery;
pub mod polls;
