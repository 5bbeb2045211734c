//! Ferriam: an OAuth 2.0 / OpenID Connect authorization server.
//!
//! # Layout
//! - [`config`]: layered settings. [`clock`]: time, injectable for tests.
//! - [`store`]: the storage traits and the SQLite and PostgreSQL back ends.
//! - [`tokens`]: signing keys, JWS, opaque secrets.
//! - [`password`]: argon2id on a bounded pool. [`pages`]: server-rendered HTML.
//! - [`signin`]: the sign-in state machine; [`grants`]: the token endpoint's grants.
//! - [`logout`]: ending sessions and back-channel logout delivery.
//! - [`web`]: one thin handler per endpoint; [`app`]: state and router; [`error`]: errors to HTTP.
//! - [`transport`]: the HTTP/1.1 listener (lingering close, request-smuggling refusal).
//! - [`outbound`]: requests to URLs others registered, behind an SSRF guard; [`client_keys`]:
//!   clients' public keys for `private_key_jwt`, fetched from their `jwks_uri` and cached.
//!
//! The protocol rules themselves live in the `ferriam-protocol` crate, which does no I/O.

pub mod app;
pub mod audit;
pub mod ciba;
pub mod client_keys;
pub mod clients;
pub mod clock;
pub mod config;
pub mod error;
pub mod federation;
pub mod grants;
pub mod logout;
pub mod mfa;
pub mod notify;
pub mod outbound;
pub mod pages;
pub mod password;
pub mod signin;
pub mod store;
pub mod testing;
pub mod tokens;
pub mod transport;
pub mod web;
pub mod workers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::clock::Clock;
use crate::config::Config;
use crate::pages::Pages;
use crate::password::PasswordHasher;
use crate::store::Store;
use crate::tokens::keys::KeyManager;

/// A server that is accepting requests.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub issuer: String,
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting, finishes requests in flight, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for task in &self.background {
            task.abort();
        }
        let _ = (&mut self.handle).await;
    }

    /// Waits until the server ends (after a shutdown signal).
    pub async fn wait(mut self) {
        let _ = (&mut self.handle).await;
        for task in &self.background {
            task.abort();
        }
    }
}

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Key(#[from] tokens::keys::KeyError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
    #[error("cannot start the worker threads")]
    Workers,
    #[error(transparent)]
    Notify(#[from] notify::NotifyError),
}

/// The server entry point, for the binary and for tests.
pub struct Server;

impl Server {
    /// Opens the database, loads keys, binds and serves until `shutdown` resolves or
    /// [`RunningServer::stop`] is called.
    pub async fn start(
        config: Config,
        clock: Arc<dyn Clock>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<RunningServer, StartError> {
        let store = store::open(&config.database_url).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen(config.listen, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Listen(config.listen, e))?;
        let issuer = config.issuer_for(addr);
        let now = clock.now();
        let longest_token = config.access_token_ttl.max(config.id_token_ttl) as i64;
        let keys = Arc::new(KeyManager::load(store.clone(), longest_token, now).await?);
        let refresh_key = STANDARD
            .decode(
                store
                    .setting_or_insert(
                        "refresh_key",
                        &STANDARD.encode(tokens::opaque::random_bytes::<32>()),
                    )
                    .await?,
            )
            .map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
        let passwords = PasswordHasher::new(
            config.argon2_memory_kib,
            config.argon2_iterations,
            config.argon2_parallelism,
        )?;
        // Checked at start: an [email] or [sms] table that cannot work stops the server here.
        let notifier = Arc::new(notify::Notifier::new(&config)?);
        let state = AppState {
            issuer: issuer.clone().into(),
            store: store.clone(),
            keys: keys.clone(),
            pages: Arc::new(Pages::new(config.templates_dir.clone())),
            passwords,
            refresh_key: refresh_key.into(),
            clock: clock.clone(),
            clients: Arc::new(clients::ClientCache::default()),
            upstreams: Arc::new(federation::registry::UpstreamRegistry::default()),
            notifier,
            federation: Arc::new(federation::RelyingParty {
                discovery: Default::default(),
                http: federation::http::Outbound::new(outbound::Policy::for_issuer(&issuer)),
            }),
            client_keys: Arc::new(client_keys::ClientKeys::new(
                outbound::Policy::for_issuer(&issuer),
                Duration::from_secs(config.client_jwks_cache_ttl),
                Duration::from_secs(config.client_jwks_min_refetch),
            )),
            throttle_cache: Arc::default(),
            ciba_polls: Arc::default(),
            signer: workers::Workers::start(workers::names::SIGNING)
                .map_err(|_| StartError::Workers)?,
            config: Arc::new(config),
        };
        let background = vec![
            spawn_config_watch(state.clone()),
            spawn_purge(state.clone()),
            logout::backchannel::spawn(state.clone()),
            ciba::delivery::spawn(state.clone()),
        ];
        let (tx, rx) = oneshot::channel::<()>();
        let router = app::app(state);
        let handle = tokio::spawn(async move {
            let stop = async move {
                tokio::select! {
                    _ = rx => {}
                    _ = shutdown => {}
                }
            };
            transport::serve(listener, router, stop).await;
        });
        Ok(RunningServer {
            addr,
            issuer,
            store,
            shutdown: Some(tx),
            handle,
            background,
        })
    }
}

/// Picks up keys and client registrations changed by the CLI or another node within a second.
fn spawn_config_watch(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            if let Err(e) = state.keys.refresh_if_changed(state.now()).await {
                tracing::warn!(error = %e, "key reload failed");
            }
            if let Err(e) = state.clients.refresh_if_changed(state.store.as_ref()).await {
                tracing::warn!(error = %e, "client registration reload failed");
            }
            if let Err(e) = state
                .upstreams
                .refresh_if_changed(state.store.as_ref())
                .await
            {
                tracing::warn!(error = %e, "upstream registration reload failed");
            }
        }
    })
}

/// Keeps storage bounded: deletes expired rows in small batches, with no outside job.
fn spawn_purge(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick =
            tokio::time::interval(Duration::from_secs(state.config.purge_interval.max(1)));
        loop {
            tick.tick().await;
            loop {
                match state.store.purge_expired(state.now(), 500).await {
                    Ok(n) if n > 0 => {
                        tracing::debug!(rows = n, "purged expired rows");
                        tokio::task::yield_now().await;
                    }
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "purge failed");
                        break;
                    }
                }
            }
            let before = state.now() - state.config.audit_retention as i64;
            loop {
                match state.store.purge_audit(before, 500).await {
                    Ok(500) => tokio::task::yield_now().await,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "audit purge failed");
                        break;
                    }
                }
            }
        }
    })
}
