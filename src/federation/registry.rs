//! The upstream registrations, held in memory by every node and reloaded within a second of
//! any change (by `ferriam idp` or another node), by polling the store's upstream-set
//! version the way client registrations are (`crate::clients`). The sign-in page lists them
//! on every render, so it must not cost a database round trip.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::{Store, StoreResult, Upstream};

/// Every registered upstream, as of the last version seen.
pub struct UpstreamRegistry {
    upstreams: RwLock<Arc<Vec<Upstream>>>,
    /// The store's version the list was read at; -1 before the first read.
    version: AtomicI64,
}

impl Default for UpstreamRegistry {
    fn default() -> Self {
        Self {
            upstreams: RwLock::default(),
            version: AtomicI64::new(-1),
        }
    }
}

impl UpstreamRegistry {
    /// Reloads the list if the store's version moved; called every second. The version is
    /// read first: a change made while the list is read moves it again, so the next call
    /// reloads once more.
    pub async fn refresh_if_changed(&self, store: &dyn Store) -> StoreResult<()> {
        let version = store.upstream_set_version().await?;
        if self.version.load(Ordering::Acquire) == version {
            return Ok(());
        }
        let upstreams = store.list_upstreams().await?;
        *self.upstreams.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(upstreams);
        self.version.store(version, Ordering::Release);
        Ok(())
    }

    /// Every upstream, by name (the order of the sign-in page's buttons).
    pub fn all(&self) -> Arc<Vec<Upstream>> {
        self.upstreams
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The upstream registered under `name`.
    pub fn by_name(&self, name: &str) -> Option<Upstream> {
        self.all().iter().find(|u| u.name == name).cloned()
    }

    /// The upstream a lower-case email `domain` routes to (identifier-first sign-in).
    pub fn by_domain(&self, domain: &str) -> Option<Upstream> {
        self.all()
            .iter()
            .find(|u| u.domains.iter().any(|d| d == domain))
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(name: &str, domain: &str) -> Upstream {
        Upstream {
            name: name.into(),
            display_name: name.into(),
            issuer: format!("https://{name}.example"),
            client_id: "c".into(),
            client_secret: "s".into(),
            scopes: vec![],
            domains: vec![domain.into()],
            claims: Default::default(),
            created_at: 1,
        }
    }

    #[tokio::test]
    async fn follows_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(&format!("sqlite://{}/r.db", dir.path().display()))
            .await
            .unwrap();
        let registry = UpstreamRegistry::default();
        registry.refresh_if_changed(store.as_ref()).await.unwrap();
        assert!(registry.all().is_empty());
        store
            .create_upstream(&upstream("corp", "corp.example"))
            .await
            .unwrap();
        assert!(registry.by_name("corp").is_none(), "not before a refresh");
        registry.refresh_if_changed(store.as_ref()).await.unwrap();
        assert_eq!(
            registry.by_name("corp").map(|u| u.issuer),
            Some("https://corp.example".into())
        );
        assert_eq!(
            registry.by_domain("corp.example").map(|u| u.name),
            Some("corp".into())
        );
        assert!(registry.by_domain("other.example").is_none());
        store.delete_upstream("corp").await.unwrap();
        registry.refresh_if_changed(store.as_ref()).await.unwrap();
        assert!(registry.by_name("corp").is_none());
    }
}
