//! Seeding through the real CLI (users, clients, ES256 and EdDSA keys; for the email-code
//! sign-in, users with an address each and the client whose policy rule asks for the code), and the
//! [`CodeFactory`]: signed-in browsers that make authorization codes through the real
//! /authorize endpoint (session and remembered consent, PKCE) before a workload runs.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::http::{self, Browser, Pkce, Tokens};
use crate::server::cli;

/// How many users are created (sign-ins cycle through them).
const USERS: usize = 16;
/// How many signed-in browsers make codes in parallel.
const CODE_BROWSERS: usize = 8;
/// The longest code preparation allowed; the workload runs with what was made by then.
const CODE_PREP_LIMIT: Duration = Duration::from_secs(90);

/// The client the email-code sign-in signs in to: the settings' `[[mfa.rules]]` names it.
pub const EMAIL_CLIENT_ID: &str = "bench-web-email";
/// Its name, which the code's email quotes ("Your sign-in code for NAME is CODE").
pub const EMAIL_CLIENT_NAME: &str = "bench-web-email";

/// A registered confidential client.
#[derive(Clone, Debug)]
pub struct ClientCreds {
    pub id: String,
    pub secret: String,
}

/// What was seeded.
#[derive(Clone, Debug)]
pub struct Seed {
    pub users: Vec<String>,
    /// client_credentials clients by access-token algorithm.
    pub cc: Vec<(String, ClientCreds)>,
    /// The web application (authorization_code + refresh_token).
    pub web: ClientCreds,
    /// A resource server: a confidential client that introspects tokens.
    pub rs: ClientCreds,
    /// Users of the email-code sign-in, one per concurrent task: (username, address).
    pub email_users: Vec<(String, String)>,
    /// The web application whose sign-ins need an email code ([`EMAIL_CLIENT_ID`]).
    pub email_web: ClientCreds,
}

impl Seed {
    pub fn cc_client(&self, alg: &str) -> ClientCreds {
        self.cc
            .iter()
            .find(|(a, _)| a == alg)
            .map(|(_, c)| c.clone())
            .unwrap_or_else(|| self.cc[0].1.clone())
    }
}

fn creds(v: &Value) -> Result<ClientCreds> {
    Ok(ClientCreds {
        id: v["client_id"]
            .as_str()
            .ok_or_else(|| anyhow!("client create printed no client_id"))?
            .to_owned(),
        secret: v["client_secret"]
            .as_str()
            .ok_or_else(|| anyhow!("client create printed no client_secret"))?
            .to_owned(),
    })
}

/// Creates one user with a verified address and the benchmark's password.
async fn create_user(bin: &Path, db_url: &str, username: &str, email: &str) -> Result<()> {
    cli(
        bin,
        db_url,
        &[
            "user",
            "create",
            "--username",
            username,
            "--email",
            email,
            "--email-verified",
            "--given-name",
            "Ada",
            "--family-name",
            "Lovelace",
            "--password-stdin",
        ],
        Some(http::PASSWORD),
    )
    .await?;
    Ok(())
}

/// Creates users, clients and keys with `ferriam user|client|key ...` on `db_url`, and
/// `email_users` users for the email-code sign-in.
pub async fn seed(bin: &Path, db_url: &str, email_users: usize) -> Result<Seed> {
    let mut users = Vec::new();
    for i in 0..USERS {
        let username = format!("bench{i:02}");
        create_user(bin, db_url, &username, &format!("{username}@example.com")).await?;
        users.push(username);
    }
    let mut mail_users = Vec::new();
    for i in 0..email_users {
        let username = format!("benchmail{i:03}");
        let address = format!("{username}@mail.example");
        create_user(bin, db_url, &username, &address).await?;
        mail_users.push((username, address));
    }
    for alg in ["ES256", "EdDSA"] {
        cli(bin, db_url, &["key", "rotate", "--alg", alg], None).await?;
    }
    let mut cc = Vec::new();
    for alg in ["RS256", "ES256", "EdDSA"] {
        let name = format!("bench-cc-{alg}");
        let out = cli(
            bin,
            db_url,
            &[
                "client",
                "create",
                "--name",
                &name,
                "--type",
                "confidential",
                "--grant-type",
                "client_credentials",
                "--scope",
                "api:read",
                "--access-token-alg",
                alg,
            ],
            None,
        )
        .await?;
        cc.push((alg.to_owned(), creds(&out)?));
    }
    let out = cli(
        bin,
        db_url,
        &[
            "client",
            "create",
            "--name",
            "bench-web",
            "--type",
            "confidential",
            "--redirect-uri",
            http::REDIRECT_URI,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "api:read",
        ],
        None,
    )
    .await?;
    let web = creds(&out)?;
    let out = cli(
        bin,
        db_url,
        &[
            "client",
            "create",
            "--name",
            EMAIL_CLIENT_NAME,
            "--client-id",
            EMAIL_CLIENT_ID,
            "--type",
            "confidential",
            "--redirect-uri",
            http::REDIRECT_URI,
            "--grant-type",
            "authorization_code",
        ],
        None,
    )
    .await?;
    let email_web = creds(&out)?;
    let rs = cli(
        bin,
        db_url,
        &[
            "client",
            "create",
            "--name",
            "bench-api",
            "--type",
            "confidential",
            "--grant-type",
            "client_credentials",
        ],
        None,
    )
    .await?;
    Ok(Seed {
        users,
        cc,
        web,
        rs: creds(&rs)?,
        email_users: mail_users,
        email_web,
    })
}

/// Browsers with a session at Ferriam that turn authorization requests into codes.
pub struct CodeFactory {
    issuer: String,
    web: ClientCreds,
    http: reqwest::Client,
    browsers: Vec<Mutex<(Browser, String)>>,
}

impl CodeFactory {
    /// Signs every user in once through the pages, consenting to [`http::CONSENTED_SCOPE`]
    /// (remembered, so later sign-ins go straight to the code), and keeps a few sessions.
    pub async fn new(issuer: &str, seed: &Seed) -> Result<Arc<Self>> {
        let http = http::client()?;
        let mut browsers = Vec::new();
        for user in &seed.users {
            let mut browser = Browser::default();
            let url =
                http::authorize_url(issuer, &seed.web.id, http::CONSENTED_SCOPE, &Pkce::new())?;
            browser
                .sign_in(&http, issuer, &url, user)
                .await
                .with_context(|| format!("first sign-in of {user}"))?;
            if browsers.len() < CODE_BROWSERS {
                browsers.push(Mutex::new((browser, user.clone())));
            }
        }
        Ok(Arc::new(Self {
            issuer: issuer.to_owned(),
            web: seed.web.clone(),
            http,
            browsers,
        }))
    }

    /// Makes up to `n` codes for `scope` (fewer if preparation hits its time limit).
    pub async fn codes(self: &Arc<Self>, n: usize, scope: &str) -> Result<Vec<(String, Pkce)>> {
        let deadline = Instant::now() + CODE_PREP_LIMIT;
        let per = n.div_ceil(self.browsers.len().max(1));
        let mut tasks = Vec::new();
        for i in 0..self.browsers.len() {
            let (me, scope) = (self.clone(), scope.to_owned());
            let count = per.min(n.saturating_sub(i * per));
            tasks.push(tokio::spawn(async move {
                let mut guard = me.browsers[i].lock().await;
                let (browser, user) = &mut *guard;
                let mut out = Vec::with_capacity(count);
                for _ in 0..count {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let pkce = Pkce::new();
                    let url = http::authorize_url(&me.issuer, &me.web.id, &scope, &pkce)?;
                    let code = browser.sign_in(&me.http, &me.issuer, &url, user).await?;
                    out.push((code, pkce));
                }
                Ok::<_, anyhow::Error>(out)
            }));
        }
        let mut all = Vec::with_capacity(n);
        for t in tasks {
            all.extend(t.await??);
        }
        if all.is_empty() && n > 0 {
            bail!("no authorization code could be prepared");
        }
        Ok(all)
    }

    /// `n` token responses from the code flow.
    pub async fn tokens(self: &Arc<Self>, n: usize, scope: &str) -> Result<Vec<Tokens>> {
        let codes = self.codes(n, scope).await?;
        let token_url = format!("{}/token", self.issuer);
        let auth = http::basic(&self.web.id, &self.web.secret);
        let mut out = Vec::with_capacity(n);
        for (code, pkce) in codes {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", http::REDIRECT_URI),
                ("code_verifier", pkce.verifier.as_str()),
            ];
            out.push(http::token_request(&self.http, &token_url, &auth, &form).await?);
        }
        if out.len() < n {
            bail!("only {} of {n} token sets could be prepared", out.len());
        }
        Ok(out)
    }
}
