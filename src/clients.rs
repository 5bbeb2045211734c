//! Client registrations cached in memory, so a token request needs no database round trip to
//! authenticate its client.
//!
//! Registrations are configuration, not per-request state: every node drops its cache within
//! a second of any change (creation, deletion, new secret), made by any node or by the CLI,
//! by polling the store's client-set version, the same way keys are picked up. Codes, tokens,
//! sessions and counters are never cached.
//!
//! The cache also holds the set of CORS origins every client registered, rebuilt from the
//! store whenever the version moves, so `web::cors` answers preflights without a round trip.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::{Store, StoreResult, StoredClient};

/// The registrations this node has looked up since the last change.
#[derive(Default)]
pub struct ClientCache {
    clients: RwLock<HashMap<String, Arc<StoredClient>>>,
    /// Every client's `allowed_origins`, as of `version`.
    origins: RwLock<Arc<HashSet<String>>>,
    version: AtomicI64,
}

impl ClientCache {
    /// The client with this id, from the cache or the store. Unknown ids are not cached.
    pub async fn get(
        &self,
        store: &dyn Store,
        client_id: &str,
    ) -> StoreResult<Option<Arc<StoredClient>>> {
        if let Some(found) = self.read().get(client_id) {
            return Ok(Some(found.clone()));
        }
        let version = self.version.load(Ordering::Acquire);
        let Some(stored) = store.client(client_id).await? else {
            return Ok(None);
        };
        let stored = Arc::new(stored);
        // A registration read while a change was being noticed is not kept.
        if self.version.load(Ordering::Acquire) == version {
            self.write().insert(client_id.to_owned(), stored.clone());
        }
        Ok(Some(stored))
    }

    /// Drops every cached registration and reloads the origin set if the store's version
    /// moved; called every second. The version is read first: a change made while the
    /// clients are listed moves it again, so the next call reloads once more.
    pub async fn refresh_if_changed(&self, store: &dyn Store) -> StoreResult<()> {
        let version = store.client_set_version().await?;
        if self.version.load(Ordering::Acquire) == version {
            return Ok(());
        }
        let clients = match store.list_clients().await {
            Ok(clients) => clients,
            Err(e) => {
                // Stale registrations go now; the version stays, so the next call retries.
                self.write().clear();
                return Err(e);
            }
        };
        let origins: HashSet<String> = clients
            .into_iter()
            .flat_map(|c| c.allowed_origins)
            .collect();
        if self.version.swap(version, Ordering::AcqRel) != version {
            self.write().clear();
        }
        *self.origins.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(origins);
        Ok(())
    }

    /// Whether some client registered `origin` (compared byte for byte, as browsers send it).
    pub fn origin_allowed(&self, origin: &str) -> bool {
        self.origins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(origin)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<StoredClient>>> {
        // A poisoned lock only means a panic elsewhere; the map itself is still consistent.
        self.clients.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<StoredClient>>> {
        self.clients.write().unwrap_or_else(|e| e.into_inner())
    }
}
