//! Shared state and the router: every route of the server is listed here.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::clients::ClientCache;
use crate::clock::Clock;
use crate::config::Config;
use crate::pages::{Pages, STYLESHEET};
use crate::password::PasswordHasher;
use crate::store::Store;
use crate::tokens::keys::KeyManager;
use crate::web;
use crate::workers::Workers;

/// Everything a handler needs, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub issuer: Arc<str>,
    pub store: Arc<dyn Store>,
    pub keys: Arc<KeyManager>,
    pub pages: Arc<Pages>,
    pub passwords: PasswordHasher,
    /// HMAC key from which a rotated refresh token's successor is derived.
    pub refresh_key: Arc<[u8]>,
    pub clock: Arc<dyn Clock>,
    /// Client registrations, refreshed within a second of any change.
    pub clients: Arc<ClientCache>,
    /// Upstream identity providers, refreshed within a second of any change.
    pub upstreams: Arc<crate::federation::registry::UpstreamRegistry>,
    /// Where one-time codes are sent (email, SMS, or the log).
    pub notifier: Arc<crate::notify::Notifier>,
    /// Upstream metadata and the guarded HTTP client for signing in through upstreams.
    pub federation: Arc<crate::federation::RelyingParty>,
    /// Clients' public keys fetched from their `jwks_uri`, for `private_key_jwt`.
    pub client_keys: Arc<crate::client_keys::ClientKeys>,
    /// What this node last read of the client-authentication throttling counters.
    pub throttle_cache: Arc<web::throttle_cache::ThrottleCache>,
    /// Where tokens are signed, off the async runtime.
    pub signer: Workers<()>,
    /// When this node last saw each CIBA request polled.
    pub ciba_polls: Arc<crate::ciba::polls::PollClock>,
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// The name a client is shown by on pages and in messages: its registered name, or its
    /// client_id when it is not registered (a sign-in to the server's own pages).
    pub async fn client_name(&self, client_id: &str) -> crate::store::StoreResult<String> {
        Ok(self
            .client(client_id)
            .await?
            .map(|c| c.client.name.clone())
            .unwrap_or_else(|| client_id.to_owned()))
    }

    /// A client registration, normally from the cache.
    pub async fn client(
        &self,
        client_id: &str,
    ) -> crate::store::StoreResult<Option<Arc<crate::store::StoredClient>>> {
        self.clients.get(self.store.as_ref(), client_id).await
    }

    /// Whether cookies must carry `Secure`: when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// The router with every endpoint.
pub fn app(state: AppState) -> Router {
    let proxies = web::peer::TrustedProxies::new(&state.config.trusted_proxies);
    Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(web::discovery::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(web::discovery::metadata),
        )
        .route("/jwks", get(web::discovery::jwks))
        .route(
            "/authorize",
            get(web::authorize::get).post(web::authorize::post),
        )
        .route(
            "/signin/login",
            get(web::signin::login_page).post(web::signin::login_submit),
        )
        .route(
            "/signin/consent",
            get(web::signin::consent_page).post(web::signin::consent_submit),
        )
        .route(
            "/signin/factor",
            get(web::factors::factor_page).post(web::factors::factor_submit),
        )
        .route(
            "/signin/code",
            get(web::factors::code_page).post(web::factors::code_submit),
        )
        .route(
            "/signin/code/resend",
            axum::routing::post(web::factors::resend),
        )
        .route(
            "/signin/enrol",
            get(web::factors::enrol_page).post(web::factors::enrol_submit),
        )
        .route(
            web::backchannel::PATH,
            axum::routing::post(web::backchannel::authorize),
        )
        .route(
            "/device/requests/{id}",
            get(web::device::request_page).post(web::device::request_decision),
        )
        .route(
            "/device/requests/{id}/confirm",
            axum::routing::post(web::device::request_confirm),
        )
        .route("/account", get(web::account::page))
        .route(
            "/account/confirm",
            axum::routing::post(web::account::confirm),
        )
        .route(
            "/account/totp",
            axum::routing::post(web::account::totp_start),
        )
        .route(
            "/account/totp/confirm",
            axum::routing::post(web::account::totp_confirm),
        )
        .route(
            "/account/totp/remove",
            axum::routing::post(web::account::totp_remove),
        )
        .route(
            "/account/user-code",
            axum::routing::post(web::account::user_code),
        )
        .route(
            "/federation/start",
            axum::routing::post(web::federation::start),
        )
        .route(
            "/federation/{name}/callback",
            get(web::federation::callback),
        )
        // CORS for browser apps on these only (web::cors; RFC 9700 §2.6).
        .route(
            "/token",
            web::cors::allow(&state, axum::routing::post(web::token::token)),
        )
        .route(
            "/userinfo",
            web::cors::allow(&state, get(web::userinfo::get).post(web::userinfo::post)),
        )
        .route(
            "/revoke",
            web::cors::allow(&state, axum::routing::post(web::revoke::revoke)),
        )
        .route(
            "/introspect",
            axum::routing::post(web::introspect::introspect),
        )
        .route("/logout", get(web::logout::get).post(web::logout::post))
        .route("/logout/confirm", axum::routing::post(web::logout::confirm))
        .route("/static/ferriam.css", get(stylesheet))
        .layer(DefaultBodyLimit::max(web::extract::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            proxies,
            web::peer::remember,
        ))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        STYLESHEET,
    )
}
