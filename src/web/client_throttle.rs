//! Throttling of failed client authentication (SECURITY.md R32; RFC 6749 §2.3.1 asks to
//! protect password-like credentials from brute force): failures are counted in the Store per
//! client_id and, separately, per source address, in a fixed window that starts with the first
//! failure. While either count is at its limit the request is answered 429 with `Retry-After`
//! (RFC 6585 §4) before its credentials are looked at, so the right secret is refused too and
//! a guess learns nothing.
//!
//! A client_id that is not registered is counted exactly like one that is, so the answers
//! never tell whether a client exists. A success resets neither count: a guesser cannot clear
//! its address's count with its own client's secret.
//!
//! Each failure is counted by one atomic statement that returns its number, so of many
//! parallel failures only the first `limit` are answered 401; the rest get 429.

use std::net::SocketAddr;

use super::throttle_cache::Verdict;
use crate::app::AppState;
use crate::error::AppError;
use crate::tokens::opaque;

/// The two counters one authentication attempt touches.
pub struct Throttle {
    client_key: String,
    /// `None` when the peer address is unknown (the server was not started with it).
    ip_key: Option<String>,
}

impl Throttle {
    /// The counters of `client_id` (registered or not) and of the peer's address.
    pub fn new(client_id: &str, peer: Option<SocketAddr>) -> Self {
        Self {
            client_key: opaque::hash(&format!("client:{client_id}")),
            ip_key: peer.map(|p| opaque::hash(&super::peer::host_key(p.ip()))),
        }
    }

    /// The limit of a counter; `None` when its setting is 0, which turns that counter off
    /// (behind a proxy that hides the clients' addresses, the per-address one must be).
    fn limit_of(&self, state: &AppState, key: &str) -> Option<i64> {
        let limit = if key == self.client_key {
            state.config.client_auth_max_failures
        } else {
            state.config.client_auth_max_failures_per_ip
        };
        (limit > 0).then(|| i64::from(limit))
    }

    /// The counters that are on (a limit of 0 turns one off).
    fn active_keys<'a>(&'a self, state: &AppState) -> Vec<&'a str> {
        std::iter::once(self.client_key.as_str())
            .chain(self.ip_key.as_deref())
            .filter(|k| self.limit_of(state, k).is_some())
            .collect()
    }

    /// Refuses the attempt with [`AppError::Throttled`] while either count is at its limit.
    /// Reads the Store unless this node's cache already knows (`throttle_cache`).
    pub async fn check(&self, state: &AppState) -> Result<(), AppError> {
        let now = state.now();
        let keys = self.active_keys(state);
        let cache = &state.throttle_cache;
        let mut unknown = false;
        let mut blocked_until = None;
        for key in &keys {
            match cache.get(key, now) {
                Verdict::BlockedUntil(until) => blocked_until = blocked_until.max(Some(until)),
                Verdict::Unknown => unknown = true,
                Verdict::Clear => {}
            }
        }
        if let (None, true, Some(first), Some(second)) =
            (blocked_until, unknown, keys.first(), keys.last())
        {
            let generation = cache.generation();
            // With one key, it stands in for both (one read either way).
            let (first, second) = (*first, *second);
            let counts = state.store.auth_failures(first, second, now).await?;
            for key in &keys {
                let until = counts
                    .iter()
                    .filter(|(k, count)| {
                        k == key
                            && self
                                .limit_of(state, k)
                                .is_some_and(|limit| count.failures >= limit)
                    })
                    .map(|(_, count)| count.window_ends)
                    .max();
                cache.put(generation, key, until);
                blocked_until = blocked_until.max(until);
            }
        }
        match blocked_until {
            Some(until) => Err(AppError::Throttled {
                retry_after: (until - now).max(1),
            }),
            None => Ok(()),
        }
    }

    /// Counts a failure on both counters. Returns [`AppError::Throttled`] when this failure
    /// went beyond a limit (parallel failures that started before the limit was reached).
    pub async fn count_failure(&self, state: &AppState) -> Result<(), AppError> {
        let now = state.now();
        let window_ends = now + state.config.client_auth_window.max(1) as i64;
        let mut over_until = None;
        state.throttle_cache.failed(&self.active_keys(state));
        for key in std::iter::once(&self.client_key).chain(self.ip_key.as_ref()) {
            let Some(limit) = self.limit_of(state, key) else {
                continue;
            };
            let count = state
                .store
                .count_auth_failure(key, window_ends, now)
                .await?;
            if count.failures > limit {
                over_until = over_until.max(Some(count.window_ends));
            }
        }
        match over_until {
            Some(until) => Err(AppError::Throttled {
                retry_after: (until - now).max(1),
            }),
            None => Ok(()),
        }
    }
}
