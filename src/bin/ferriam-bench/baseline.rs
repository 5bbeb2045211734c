//! The reference the RS256 goal is read against: a bare axum endpoint that only signs an
//! access token (no client authentication, no storage, no checks), measured in the same run
//! as Ferriam, with the same load and the same limits.
//!
//! It runs in a process of its own (this binary again, with the hidden `--serve-baseline`),
//! in two forms: signing on the async runtime, the "bare axum endpoint that only signs" of the
//! benchmark issue; and signing on Ferriam's own signing threads, the hand-off the server must
//! make because RSA may not run on the runtime. Ferriam's rate against the first is its whole
//! overhead; against the second, its overhead beyond the hand-off.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use clap::ValueEnum;
use ferriam::tokens::jwt::{self, ACCESS_TOKEN_TYP};
use ferriam::tokens::keys::SigningKey;
use ferriam::tokens::opaque;
use ferriam::workers::{names, Workers};
use ferriam_protocol::client::SigningAlg;
use ferriam_protocol::jwt_claims::AccessTokenClaims;
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
    let app = Router::new().route("/token", post(move || token(signer.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

/// Signs an access token shaped like Ferriam's client_credentials token and answers with it.
async fn token(signer: Signer) -> Result<Json<TokenResponse>, StatusCode> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?
        .as_secs() as i64;
    let claims = AccessTokenClaims {
        iss: "http://127.0.0.1".into(),
        sub: "bench".into(),
        aud: "http://127.0.0.1".into(),
        exp: now + 300,
        iat: now,
        jti: opaque::random_token(),
        client_id: "bench".into(),
        scope: "api:read".into(),
        auth_time: None,
        grant_id: None,
    };
    let key = signer.key;
    let sign = move || jwt::sign(&key, ACCESS_TOKEN_TYP, &claims);
    let signed = match signer.workers {
        None => sign(),
        Some(workers) => workers
            .run(move |_| sign())
            .await
            .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?,
    };
    let access_token = signed.map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: 300,
        refresh_token: None,
        id_token: None,
        scope: "api:read".into(),
    }))
}

/// A running bare endpoint, killed when dropped.
pub struct Bare {
    process: Announcing,
    pub token_url: String,
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
        Ok(Self {
            token_url: format!("http://{}/token", address.trim()),
            process: started,
        })
    }

    pub fn tree(&self) -> ProcTree {
        self.process.tree()
    }
}
