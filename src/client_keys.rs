//! Clients' public keys for `private_key_jwt`: registered inline (`jwks`, used as they are) or
//! fetched from the client's `jwks_uri` through the SSRF guard and cached in memory per client
//! for a few minutes. An assertion naming a `kid` the cache does not know triggers one fetch
//! (the client may have rotated its keys), but never more often than a floor, so assertions
//! with made-up `kid`s cannot make Ferriam hammer a URL.
//!
//! The cache is per node and only in front of an idempotent fetch: nothing correctness-
//! relevant lives only here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferriam_protocol::client::Client;

use crate::outbound::{fetch_json, FetchError, Policy};
use crate::tokens::jwk::{key_set, knows_kid, ClientKey};

struct Entry {
    uri: String,
    keys: Arc<Vec<ClientKey>>,
    fetched: Instant,
}

/// Why a client's keys could not be had. For the log only.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("the client registered neither jwks nor jwks_uri")]
    NoKeys,
    #[error("fetching the client's jwks_uri failed: {0}")]
    Fetch(#[from] FetchError),
    #[error("the client's jwks_uri was fetched moments ago and failed; not fetched again yet")]
    RecentFailure,
}

/// The keys fetched from clients' `jwks_uri`s, by client_id.
pub struct ClientKeys {
    policy: Policy,
    ttl: Duration,
    min_refetch: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    /// One fetch at a time per client: requests arriving during a fetch wait for its result
    /// instead of fetching too (a cold cache under load would otherwise fetch once per request).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl ClientKeys {
    /// A cache for a server whose issuer decides the SSRF [`Policy`].
    pub fn new(policy: Policy, ttl: Duration, min_refetch: Duration) -> Self {
        Self {
            policy,
            ttl,
            min_refetch,
            entries: Mutex::new(HashMap::new()),
            fetching: Mutex::new(HashMap::new()),
        }
    }

    /// The client's keys, able to verify an assertion naming `kid` if the client has such a
    /// key now.
    pub async fn keys(
        &self,
        client: &Client,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<ClientKey>>, KeysError> {
        if let Some(jwks) = &client.jwks {
            return Ok(Arc::new(key_set(jwks)));
        }
        let uri = client.jwks_uri.as_deref().ok_or(KeysError::NoKeys)?;
        if let Some(cached) = self.cached(&client.client_id, uri, kid) {
            return cached;
        }
        let asked = Instant::now();
        let gate = self
            .fetching
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(client.client_id.clone())
            .or_default()
            .clone();
        let _turn = gate.lock().await;
        // Another request may have fetched while this one waited.
        if let Some(found) = self.fetched_since(&client.client_id, uri, asked) {
            return found;
        }
        let fetched = fetch_json(uri, &self.policy).await;
        let keys = Arc::new(match &fetched {
            Ok(jwks) => key_set(jwks),
            Err(_) => Vec::new(),
        });
        // A failure is remembered too (as no keys), so the floor holds for it as well.
        self.lock().insert(
            client.client_id.clone(),
            Entry {
                uri: uri.to_owned(),
                keys: keys.clone(),
                fetched: Instant::now(),
            },
        );
        fetched?;
        Ok(keys)
    }

    /// The cached keys when they can be used: fresh, and either holding `kid` or fetched too
    /// recently to fetch again.
    fn cached(
        &self,
        client_id: &str,
        uri: &str,
        kid: Option<&str>,
    ) -> Option<Result<Arc<Vec<ClientKey>>, KeysError>> {
        let entries = self.lock();
        let entry = entries.get(client_id).filter(|e| e.uri == uri)?;
        let age = entry.fetched.elapsed();
        if age < self.min_refetch {
            if entry.keys.is_empty() {
                return Some(Err(KeysError::RecentFailure));
            }
            return Some(Ok(entry.keys.clone()));
        }
        let has_kid = kid.is_none_or(|kid| knows_kid(&entry.keys, kid));
        (age < self.ttl && has_kid && !entry.keys.is_empty()).then(|| Ok(entry.keys.clone()))
    }

    /// What a fetch made by another request since `asked` found, if there was one.
    fn fetched_since(
        &self,
        client_id: &str,
        uri: &str,
        asked: Instant,
    ) -> Option<Result<Arc<Vec<ClientKey>>, KeysError>> {
        let entries = self.lock();
        let entry = entries
            .get(client_id)
            .filter(|e| e.uri == uri && e.fetched >= asked)?;
        Some(if entry.keys.is_empty() {
            Err(KeysError::RecentFailure)
        } else {
            Ok(entry.keys.clone())
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A poisoned lock only means a panic elsewhere; the map itself is still consistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
