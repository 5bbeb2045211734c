//! Upstream metadata (OpenID Connect Discovery 1.0) with the upstream's key set, fetched
//! through [`Outbound`] and cached per upstream for [`MAX_AGE`] seconds. `refetch` replaces
//! an entry before its time, for when an ID token names a key the cached set lacks (the
//! upstream rotated its keys).
//!
//! The `openidconnect` crate checks that the document's `issuer` is exactly the registered
//! issuer (Discovery §4.3): a document answering for another issuer is refused.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{AdditionalProviderMetadata, IssuerUrl, ProviderMetadata};
use serde::{Deserialize, Serialize};

use super::http::Outbound;
use crate::store::Upstream;

/// How long a fetched document and key set are used before they are fetched again.
pub const MAX_AGE: i64 = 300;
/// After a failed fetch, how long [`Discovery::get`] answers that failure again without
/// fetching: an unreachable upstream then costs one outbound attempt (of up to
/// `http::TIMEOUT`) per interval, not one per sign-in that tries it.
pub const RETRY_AFTER: i64 = 10;

/// Why an upstream's metadata could not be had.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the registered issuer is not a URL: {0}")]
    BadIssuer(String),
    #[error("discovery failed: {0}")]
    Failed(String),
}

/// The metadata beyond OpenID Connect Discovery that the relying party reads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Extra {
    /// RFC 9207 §3: the upstream puts `iss` in its authorization responses, so a response
    /// without it, or with another issuer's, is refused (mix-up defence).
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for Extra {}

/// An upstream's discovery document.
pub type Metadata = ProviderMetadata<
    Extra,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

struct Entry {
    issuer: String,
    fetched_at: i64,
    metadata: Arc<Metadata>,
}

/// The last failed fetch for an upstream.
struct Failure {
    issuer: String,
    failed_at: i64,
    reason: String,
}

/// Every upstream's metadata this node has fetched, by upstream name.
#[derive(Default)]
pub struct Discovery {
    entries: RwLock<HashMap<String, Entry>>,
    failures: RwLock<HashMap<String, Failure>>,
}

impl Discovery {
    /// The upstream's metadata and keys: cached while younger than [`MAX_AGE`] and fetched
    /// for the same issuer, fetched otherwise, unless a fetch failed less than
    /// [`RETRY_AFTER`] seconds ago.
    pub async fn get(
        &self,
        http: &Outbound,
        upstream: &Upstream,
        now: i64,
    ) -> Result<Arc<Metadata>, DiscoveryError> {
        if let Some(entry) = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&upstream.name)
            .filter(|e| e.issuer == upstream.issuer && now - e.fetched_at < MAX_AGE)
        {
            return Ok(entry.metadata.clone());
        }
        if let Some(failure) = self
            .failures
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&upstream.name)
            .filter(|f| f.issuer == upstream.issuer && now - f.failed_at < RETRY_AFTER)
        {
            return Err(DiscoveryError::Failed(format!(
                "{} (at {}; not retried for {RETRY_AFTER} s)",
                failure.reason, failure.failed_at
            )));
        }
        self.refetch(http, upstream, now).await
    }

    /// Fetches the upstream's metadata and keys now, replacing what was cached.
    pub async fn refetch(
        &self,
        http: &Outbound,
        upstream: &Upstream,
        now: i64,
    ) -> Result<Arc<Metadata>, DiscoveryError> {
        let issuer = IssuerUrl::new(upstream.issuer.clone())
            .map_err(|e| DiscoveryError::BadIssuer(e.to_string()))?;
        let metadata = match Metadata::discover_async(issuer, http).await {
            Ok(metadata) => Arc::new(metadata),
            Err(e) => {
                let reason = describe(&e);
                self.failures
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(
                        upstream.name.clone(),
                        Failure {
                            issuer: upstream.issuer.clone(),
                            failed_at: now,
                            reason: reason.clone(),
                        },
                    );
                return Err(DiscoveryError::Failed(reason));
            }
        };
        self.failures
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&upstream.name);
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                upstream.name.clone(),
                Entry {
                    issuer: upstream.issuer.clone(),
                    fetched_at: now,
                    metadata: metadata.clone(),
                },
            );
        Ok(metadata)
    }
}

/// An error with its causes, for the log.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
