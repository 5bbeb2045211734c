//! Upstream identity providers (`ferriam idp ...`) and the links from local accounts to
//! their accounts: the records and the store trait, shared by both back ends.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::rows::Columns;
use super::StoreResult;

/// An OpenID provider users may sign in through, as registered with `ferriam idp add`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The short name in the callback path, `/federation/NAME/callback`.
    pub name: String,
    /// The label of the sign-in page's button.
    pub display_name: String,
    /// The upstream's issuer identifier, without a trailing slash.
    pub issuer: String,
    /// Ferriam's client id at the upstream.
    pub client_id: String,
    /// Ferriam's client secret at the upstream, in its stored form (`tokens::sealing`):
    /// sealed under `FERRIAM_MASTER_KEY` when that is set.
    pub client_secret: String,
    /// Scopes asked for beyond `openid`, which is always asked for.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Email domains routed to this upstream (identifier-first sign-in).
    #[serde(default)]
    pub domains: Vec<String>,
    /// Which upstream claim fills which account field, where it is not the default one
    /// (`ferriam_protocol::upstream::MAPPED_FIELDS`).
    #[serde(default)]
    pub claims: BTreeMap<String, String>,
    pub created_at: i64,
}

/// A local account linked to an upstream account, by the upstream's (issuer, sub) only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLink {
    /// The upstream's issuer.
    pub issuer: String,
    /// The upstream's `sub` for the user.
    pub subject: String,
    /// The local account's `sub`.
    pub sub: String,
    /// The name the upstream was registered under when the link was made.
    pub upstream: String,
    pub created_at: i64,
}

/// Upstream registrations and account links.
#[async_trait]
pub trait UpstreamStore {
    /// Registers an upstream; `AlreadyExists` when the name is taken.
    async fn create_upstream(&self, upstream: &Upstream) -> StoreResult<()>;
    async fn upstream(&self, name: &str) -> StoreResult<Option<Upstream>>;
    /// Every upstream, by name.
    async fn list_upstreams(&self) -> StoreResult<Vec<Upstream>>;
    /// False when no such upstream exists. Links made through it stay: they name the
    /// upstream's issuer, and an upstream registered again with that issuer finds them.
    async fn delete_upstream(&self, name: &str) -> StoreResult<bool>;
    /// Changes whenever an upstream is created or deleted; servers poll it to know when
    /// their cached registrations are stale.
    async fn upstream_set_version(&self) -> StoreResult<i64>;
    /// Links a local account to an upstream account; `AlreadyExists` when that upstream
    /// account is linked already (two first sign-ins racing: the loser reads the winner's).
    async fn create_link(&self, link: &UpstreamLink) -> StoreResult<()>;
    /// The link of an upstream account, if there is one.
    async fn link(&self, issuer: &str, subject: &str) -> StoreResult<Option<UpstreamLink>>;
    /// Every link of a local account.
    async fn links_of(&self, sub: &str) -> StoreResult<Vec<UpstreamLink>>;
}

/// A link from the columns of a row.
pub(super) fn link_row(row: &impl Columns) -> StoreResult<UpstreamLink> {
    Ok(UpstreamLink {
        issuer: row.column("issuer")?,
        subject: row.column("subject")?,
        sub: row.column("sub")?,
        upstream: row.column("upstream")?,
        created_at: row.column("created_at")?,
    })
}
