//! The reference the RS256 goals are read against: a bare axum endpoint that only signs (no
//! client authentication, no storage, no checks), measured in the same run as Ferriam, with the
//! same load and the same limits.
//!
//! It runs in a process of its own (this binary again, with the hidden `--serve-baseline`),
//! in two forms: signing on the async runtime, the "bare axum endpoint that only signs" of the
//! benchmark issue; and signing on Ferriam's own signing threads, the hand-off the server must
//! make because RSA may not run on the runtime. Ferriam's rate against the first is its whole
//! overhead; against the second, its overhead beyond the hand-off. It answers in two shapes:
//! an access token alone (`/token`, the shape of client_credentials) and an access token with
//! an ID token, signed one after the other in one job (`/token-and-id-token`, the shape of the
//! code exchange and the refresh with `openid`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use clap::ValueEnum;
use ferriam::tokens::jwt::{self, ACCESS_TOKEN_TYP, ID_TOKEN_TYP};
use ferriam::tokens::keys::{KeyError, SigningKey};
use ferriam::tokens::opaque;
use ferriam::workers::{names, Workers};
use ferriam_protocol::client::SigningAlg;
use ferriam_protocol::jwt_claims::{half_hash, AccessTokenClaims, IdTokenClaims};
use ferriam_protocol::token::TokenResponse;
use tokio::process::Command;

use crate::procfs::ProcTree;
use crate::server::Announcing;

/// Where the bare endpoint makes its RSA signature.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Signing {
    /// On the runtime thread that answers the request.
    Inline,
    /// On Ferriam's signing threads (`ferriam::workers`), as Ferriam does.
    Workers,
}

impl Signing {
    /// Both forms, in the order they run and are reported.
    pub const BOTH: [Signing; 2] = [Signing::Inline, Signing::Workers];

    /// The row's server name in the report.
    pub fn label(self) -> &'static str {
        match self {
            Signing::Inline => "bare, signs on runtime",
            Signing::Workers => "bare, signs on workers",
        }
    }

    /// How it signs, for a sentence.
    pub fn describe(self) -> &'static str {
        match self {
            Signing::Inline => "signing on the runtime",
            Signing::Workers => "signing on worker threads",
        }
    }
}

/// A signing key and, for [`Signing::Workers`], the threads that use it.
#[derive(Clone)]
struct Signer {
    key: Arc<SigningKey>,
    workers: Option<Workers<()>>,
}

/// Serves `POST /token` on an ephemeral loopback port until killed; prints the address first.
pub async fn serve(signing: Signing) -> Result<()> {
    let (key, _) = SigningKey::generate(SigningAlg::RS256)?;
    let workers = match signing {
        Signing::Inline => None,
        Signing::Workers => Some(Workers::start(names::SIGNING)?),
    };
    let signer = Signer {
        key: Arc::new(key),
        workers,
    };
    let app = Router::new()
        .route("/token", post(access_token))
        .route(TOKEN_AND_ID_TOKEN, post(access_and_id_token))
        .with_state(signer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// The path of the answer with an access token and an ID token.
const TOKEN_AND_ID_TOKEN: &str = "/token-and-id-token";

/// Signs an access token shaped like Ferriam's client_credentials token and answers with it.
async fn access_token(State(signer): State<Signer>) -> Result<Json<TokenResponse>, StatusCode> {
    answer(signer, false).await
}

/// Signs an access token and an ID token shaped like those of Ferriam's code exchange, the ID
/// token carrying the access token's at_hash, and answers with both.
async fn access_and_id_token(
    State(signer): State<Signer>,
) -> Result<Json<TokenResponse>, StatusCode> {
    answer(signer, true).await
}

/// Signs an access token (and an ID token after it, in the same job, as Ferriam's `mint`
/// does) where `signer` says, and answers with them.
async fn answer(signer: Signer, with_id_token: bool) -> Result<Json<TokenResponse>, StatusCode> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .as_secs() as i64;
    let claims = AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "bench".into(),
        aud: ISSUER.into(),
        exp: now + 300,
        iat: now,
        jti: opaque::random_token(),
        client_id: "bench".into(),
        scope: "api:read".into(),
        auth_time: None,
        grant_id: None,
    };
    let id_claims = with_id_token.then(|| id_token_claims(now));
    let key = signer.key;
    let sign = move || {
        let access_token = jwt::sign(&key, ACCESS_TOKEN_TYP, &claims)?;
        let id_token = match id_claims {
            Some(mut id_claims) => {
                id_claims.at_hash = Some(half_hash(key.alg, &access_token));
                Some(jwt::sign(&key, ID_TOKEN_TYP, &id_claims)?)
            }
            None => None,
        };
        Ok::<_, KeyError>((access_token, id_token))
    };
    let signed = match signer.workers {
        None => sign(),
        Some(workers) => workers
            .run(move |_| sign())
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
    };
    let (access_token, id_token) = signed.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: 300,
        refresh_token: None,
        id_token,
        scope: "api:read".into(),
    }))
}

/// The issuer the bare endpoint's tokens name.
const ISSUER: &str = "http://127.0.0.1";

/// An ID token's claims like those the benchmark's seeded users get in a code exchange (scope
/// `openid profile email`), less the at_hash, which the signer adds.
fn id_token_claims(now: i64) -> IdTokenClaims {
    let mut user_claims = serde_json::Map::new();
    user_claims.insert("preferred_username".into(), "bench00".into());
    user_claims.insert("given_name".into(), "Ada".into());
    user_claims.insert("family_name".into(), "Lovelace".into());
    user_claims.insert("email".into(), "bench00@example.com".into());
    user_claims.insert("email_verified".into(), true.into());
    IdTokenClaims {
        iss: ISSUER.into(),
        sub: opaque::random_token(),
        aud: "bench".into(),
        azp: "bench".into(),
        exp: now + 300,
        iat: now,
        auth_time: now,
        nonce: None,
        at_hash: None,
        c_hash: None,
        amr: vec!["pwd".into()],
        sid: opaque::random_token(),
        user_claims,
    }
}

/// A running bare endpoint, killed when dropped.
pub struct Bare {
    process: Announcing,
    /// Answers with an access token.
    pub token_url: String,
    /// Answers with an access token and an ID token.
    pub token_and_id_token_url: String,
}

impl Bare {
    /// Starts this binary as a bare endpoint signing as `signing` says.
    pub async fn start(signing: Signing) -> Result<Self> {
        let me = std::env::current_exe().context("cannot locate ferriam-bench itself")?;
        let mode = signing
            .to_possible_value()
            .context("every signing mode has a name")?;
        let mut command = Command::new(me);
        command.args(["--serve-baseline", mode.get_name()]);
        let started = Announcing::spawn(&mut command, Duration::from_secs(30))
            .await
            .context("cannot start the bare endpoint")?;
        let Some(address) = &started.first_line else {
            bail!("the bare endpoint did not print its address");
        };
        let base = format!("http://{}", address.trim());
        Ok(Self {
            token_url: format!("{base}/token"),
            token_and_id_token_url: format!("{base}{TOKEN_AND_ID_TOKEN}"),
            process: started,
        })
    }

    pub fn tree(&self) -> ProcTree {
        self.process.tree()
    }
}
