//! The workloads. Each is a [`Workload`]: a name, the machine limit it is compared with, and
//! `prepare`, which makes one [`Step`] per concurrent task (with whatever that task needs:
//! codes made beforehand through the real sign-in, a refresh-token chain, a cookie jar).
//! Adding a workload is one entry in [`ferriam_workloads`], usually with an existing type
//! ([`Get`] for a plain endpoint, [`ClientCredentials`] for a token grant).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;

use crate::driver::{Outcome, Step};
use crate::http::{self, read_ok, Browser, Pkce, Tokens};
use crate::limits::LimitKind;
use crate::report;
use crate::revocation::{Introspect, Revoke, INTROSPECTION_WORKLOAD};
use crate::seed::{CodeFactory, Seed};
use crate::smtp::{Mailbox, Sink};
use crate::wrk::{WrkBody, WrkRequest};

/// How a workload will be run.
#[derive(Clone, Copy)]
pub struct Plan {
    pub concurrency: usize,
    pub duration: Duration,
    /// The operations per second the workload's limit allows (0 when it has none): how many
    /// codes to prepare.
    pub limit_rate: f64,
}

#[async_trait]
pub trait Workload: Send + Sync {
    fn name(&self) -> &str;
    /// The limit this workload is a fraction of, and how many of the limit's operations one
    /// of its own costs (two signatures for an access token plus an ID token).
    fn limit(&self) -> Option<(LimitKind, f64)>;
    /// One step per concurrent task.
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>>;
    /// The request of a single-endpoint workload, for `wrk` (fixed, or fed with prepared codes
    /// or a refresh-token chain); `None` for multi-step flows.
    async fn wrk_request(&self, _plan: &Plan) -> Result<Option<WrkRequest>> {
        Ok(None)
    }
    /// The workload this one is judged against in the same run (a goal compares their rates):
    /// when both are selected they run back to back at each concurrency, so the machine's
    /// drift within a run weighs on both alike.
    fn compared_with(&self) -> Option<&str> {
        None
    }
}

/// Every Ferriam workload, in the order they run.
pub fn ferriam_workloads(
    issuer: &str,
    seed: &Seed,
    codes: &Arc<CodeFactory>,
    sink: &Arc<Sink>,
) -> Vec<Box<dyn Workload>> {
    let token_url = format!("{issuer}/token");
    let cc = |name: &str, alg: &str, limit| -> Box<dyn Workload> {
        let client = seed.cc_client(alg);
        Box::new(ClientCredentials {
            name: name.to_owned(),
            token_url: token_url.clone(),
            authorization: http::basic(&client.id, &client.secret),
            limit: Some((limit, 1.0)),
        })
    };
    let web_auth = http::basic(&seed.web.id, &seed.web.secret);
    vec![
        cc("client_credentials RS256", "RS256", LimitKind::Rs256),
        cc("client_credentials ES256", "ES256", LimitKind::Es256),
        cc("client_credentials EdDSA", "EdDSA", LimitKind::EdDsa),
        Box::new(CodeExchange {
            codes: codes.clone(),
            token_url: token_url.clone(),
            authorization: web_auth.clone(),
        }),
        Box::new(Refresh {
            codes: codes.clone(),
            token_url: token_url.clone(),
            authorization: web_auth,
        }),
        Box::new(Userinfo::ferriam(issuer, codes)),
        Box::new(Introspect {
            name: INTROSPECTION_WORKLOAD.into(),
            url: format!("{issuer}/introspect"),
            authorization: http::basic(&seed.rs.id, &seed.rs.secret),
            tokens: AccessTokens::CodeFlow(codes.clone()),
        }),
        Box::new(Revoke {
            revoke_url: format!("{issuer}/revoke"),
            token_url: token_url.clone(),
            authorization: {
                let client = seed.cc_client("EdDSA");
                http::basic(&client.id, &client.secret)
            },
        }),
        Box::new(Get {
            name: "jwks".into(),
            url: format!("{issuer}/jwks"),
        }),
        Box::new(Get {
            name: "discovery".into(),
            url: format!("{issuer}/.well-known/openid-configuration"),
        }),
        Box::new(SignIn {
            issuer: issuer.to_owned(),
            client_id: seed.web.id.clone(),
            users: seed.users.clone(),
        }),
        Box::new(EmailSignIn {
            issuer: issuer.to_owned(),
            client_id: seed.email_web.id.clone(),
            users: seed.email_users.clone(),
            sink: sink.clone(),
            consented: tokio::sync::Mutex::new(0),
        }),
    ]
}

const CLIENT_CREDENTIALS_BODY: &str = "grant_type=client_credentials&scope=api%3Aread";

/// `grant_type=client_credentials` with Basic authentication; also used for the peer.
pub struct ClientCredentials {
    pub name: String,
    pub token_url: String,
    pub authorization: String,
    pub limit: Option<(LimitKind, f64)>,
}

/// A form POST to the token endpoint (or `/introspect`, `/revoke`) with the client's
/// `Authorization` header.
pub async fn post_token(
    http: &reqwest::Client,
    url: &str,
    authorization: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Result<reqwest::Response> {
    http.post(url)
        .header(AUTHORIZATION, authorization)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await
}

struct ClientCredentialsStep {
    url: String,
    authorization: String,
}

#[async_trait]
impl Step for ClientCredentialsStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let response = post_token(
            http,
            &self.url,
            &self.authorization,
            CLIENT_CREDENTIALS_BODY,
        )
        .await?;
        read_ok(response, b"\"access_token\"").await?;
        Ok(Outcome::Done)
    }
}

#[async_trait]
impl Workload for ClientCredentials {
    fn name(&self) -> &str {
        &self.name
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        self.limit
    }
    async fn wrk_request(&self, _plan: &Plan) -> Result<Option<WrkRequest>> {
        let body = WrkBody::Fixed(CLIENT_CREDENTIALS_BODY.into());
        Ok(Some(WrkRequest {
            expect: "",
            ..form_request(&self.token_url, &self.authorization, body, ID_TOKEN_MARK)
        }))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        Ok((0..plan.concurrency)
            .map(|_| {
                Box::new(ClientCredentialsStep {
                    url: self.token_url.clone(),
                    authorization: self.authorization.clone(),
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// `grant_type=authorization_code` with PKCE and `openid`: an access token and an ID token,
/// for codes made beforehand through the real sign-in.
struct CodeExchange {
    codes: Arc<CodeFactory>,
    token_url: String,
    authorization: String,
}

/// One request per form body prepared beforehand (a code to exchange, a token to revoke), each
/// used once: the workload is exhausted when the bodies run out.
pub struct OneBodyEach {
    pub queue: Arc<Mutex<Vec<String>>>,
    pub url: String,
    pub authorization: String,
    /// What a good answer contains (empty: any 200).
    pub mark: &'static [u8],
}

#[async_trait]
impl Step for OneBodyEach {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let next = self
            .queue
            .lock()
            .map_err(|_| anyhow!("body queue poisoned"))?
            .pop();
        let Some(body) = next else {
            return Ok(Outcome::Exhausted);
        };
        let response = post_token(http, &self.url, &self.authorization, body).await?;
        read_ok(response, self.mark).await?;
        Ok(Outcome::Done)
    }
}

/// What an answer with an ID token carries.
const ID_TOKEN_MARK: &str = "\"id_token\"";

impl CodeExchange {
    /// The token requests, oldest code first: enough codes to run at 1.3 times the limit for
    /// the whole duration. Should the server be faster still, the run ends when they run out
    /// and is marked so.
    async fn bodies(&self, plan: &Plan) -> Result<Vec<String>> {
        let wanted = (plan.limit_rate.max(200.0) * 1.3 * plan.duration.as_secs_f64()) as usize
            + plan.concurrency * 4;
        let codes = self
            .codes
            .codes(wanted.min(200_000), "openid profile email")
            .await?;
        Ok(codes
            .into_iter()
            .map(|(code, pkce)| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("grant_type", "authorization_code")
                    .append_pair("code", &code)
                    .append_pair("redirect_uri", http::REDIRECT_URI)
                    .append_pair("code_verifier", &pkce.verifier)
                    .finish()
            })
            .collect())
    }
}

#[async_trait]
impl Workload for CodeExchange {
    fn name(&self) -> &str {
        report::CODE_EXCHANGE_WORKLOAD
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        Some((LimitKind::Rs256, 2.0))
    }
    async fn wrk_request(&self, plan: &Plan) -> Result<Option<WrkRequest>> {
        Ok(Some(form_request(
            &self.token_url,
            &self.authorization,
            WrkBody::EachOnce(self.bodies(plan).await?),
            ID_TOKEN_MARK,
        )))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        let mut bodies = self.bodies(plan).await?;
        // Oldest first: the queue pops from the end.
        bodies.reverse();
        let queue = Arc::new(Mutex::new(bodies));
        Ok((0..plan.concurrency)
            .map(|_| {
                Box::new(OneBodyEach {
                    queue: queue.clone(),
                    url: self.token_url.clone(),
                    authorization: self.authorization.clone(),
                    mark: ID_TOKEN_MARK.as_bytes(),
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// A form POST with the client's `Authorization` header for wrk, each answer checked for
/// `expect` (empty: any 200).
pub fn form_request(
    url: &str,
    authorization: &str,
    body: WrkBody,
    expect: &'static str,
) -> WrkRequest {
    WrkRequest {
        method: "POST",
        url: url.to_owned(),
        headers: vec![
            ("Authorization".into(), authorization.to_owned()),
            (
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
        ],
        body,
        expect,
    }
}

/// `grant_type=refresh_token` with rotation: each task follows its own chain, always
/// presenting the newest token; each refresh mints an access token and an ID token.
struct Refresh {
    codes: Arc<CodeFactory>,
    token_url: String,
    authorization: String,
}

const REFRESH_PREFIX: &str = "grant_type=refresh_token&refresh_token=";

struct RefreshStep {
    token: String,
    url: String,
    authorization: String,
}

#[async_trait]
impl Step for RefreshStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let body = format!("{REFRESH_PREFIX}{}", self.token);
        let response = post_token(http, &self.url, &self.authorization, body).await?;
        let body = read_ok(response, b"").await?;
        let tokens: Tokens = serde_json::from_slice(body.as_ref())?;
        if tokens.id_token.is_none() {
            bail!("no ID token in the refresh response");
        }
        self.token = tokens
            .refresh_token
            .ok_or_else(|| anyhow!("no rotated refresh token"))?;
        Ok(Outcome::Done)
    }
}

impl Refresh {
    /// One refresh token per connection, each the start of its own chain.
    async fn chains(&self, plan: &Plan) -> Result<Vec<String>> {
        self.codes
            .tokens(plan.concurrency, http::CONSENTED_SCOPE)
            .await?
            .into_iter()
            .map(|t| {
                t.refresh_token
                    .ok_or_else(|| anyhow!("no refresh token with offline_access"))
            })
            .collect()
    }
}

#[async_trait]
impl Workload for Refresh {
    fn name(&self) -> &str {
        report::REFRESH_WORKLOAD
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        Some((LimitKind::Rs256, 2.0))
    }
    async fn wrk_request(&self, plan: &Plan) -> Result<Option<WrkRequest>> {
        // One chain more than connections: wrk calls the script's request() once before it
        // connects, to check what it returns, and that token is never sent.
        let plan = Plan {
            concurrency: plan.concurrency + 1,
            ..*plan
        };
        let body = WrkBody::Chain {
            prefix: REFRESH_PREFIX.to_owned(),
            tokens: self.chains(&plan).await?,
        };
        Ok(Some(form_request(
            &self.token_url,
            &self.authorization,
            body,
            ID_TOKEN_MARK,
        )))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        Ok(self
            .chains(plan)
            .await?
            .into_iter()
            .map(|token| {
                Box::new(RefreshStep {
                    token,
                    url: self.token_url.clone(),
                    authorization: self.authorization.clone(),
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// A GET of one URL, optionally with a bearer token, expecting 200.
struct GetStep {
    url: String,
    bearer: Option<String>,
    must_contain: &'static [u8],
}

#[async_trait]
impl Step for GetStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let mut request = http.get(&self.url);
        if let Some(token) = &self.bearer {
            request = request.bearer_auth(token);
        }
        read_ok(request.send().await?, self.must_contain).await?;
        Ok(Outcome::Done)
    }
}

/// A public document (JWKS, discovery).
pub struct Get {
    pub name: String,
    pub url: String,
}

#[async_trait]
impl Workload for Get {
    fn name(&self) -> &str {
        &self.name
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        None
    }
    async fn wrk_request(&self, _plan: &Plan) -> Result<Option<WrkRequest>> {
        Ok(Some(WrkRequest {
            method: "GET",
            url: self.url.clone(),
            headers: vec![],
            body: WrkBody::None,
            expect: "",
        }))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        Ok((0..plan.concurrency)
            .map(|_| {
                Box::new(GetStep {
                    url: self.url.clone(),
                    bearer: None,
                    must_contain: b"",
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// The scope of the userinfo access tokens.
const USERINFO_SCOPE: &str = "openid profile email";

/// A userinfo GET with a bearer access token per task, expecting the account's claims: at
/// Ferriam with JWTs from the code flow, or at the peer with the tokens it minted in its own
/// format.
pub struct Userinfo {
    pub name: String,
    pub url: String,
    pub tokens: AccessTokens,
}

/// Where a userinfo workload's access tokens come from.
pub enum AccessTokens {
    /// Ferriam's code flow, run before each measured run.
    CodeFlow(Arc<CodeFactory>),
    /// Tokens made beforehand (the peer's), shared round-robin when there are more tasks.
    Given(Vec<String>),
}

impl AccessTokens {
    /// `n` access tokens, one per task.
    pub async fn take(&self, n: usize) -> Result<Vec<String>> {
        match self {
            Self::CodeFlow(codes) => Ok(codes
                .tokens(n, USERINFO_SCOPE)
                .await?
                .into_iter()
                .map(|t| t.access_token)
                .collect()),
            Self::Given(tokens) if tokens.is_empty() => bail!("no access token was given"),
            Self::Given(tokens) => Ok(tokens.iter().cycle().take(n).cloned().collect()),
        }
    }
}

impl Userinfo {
    /// Ferriam's `/userinfo` with JWT access tokens from the code flow.
    pub fn ferriam(issuer: &str, codes: &Arc<CodeFactory>) -> Self {
        Self {
            name: "userinfo (JWT access token)".into(),
            url: format!("{issuer}/userinfo"),
            tokens: AccessTokens::CodeFlow(codes.clone()),
        }
    }
}

#[async_trait]
impl Workload for Userinfo {
    fn name(&self) -> &str {
        &self.name
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        None
    }
    async fn wrk_request(&self, _plan: &Plan) -> Result<Option<WrkRequest>> {
        let token = self
            .tokens
            .take(1)
            .await?
            .pop()
            .ok_or_else(|| anyhow!("no access token"))?;
        Ok(Some(WrkRequest {
            method: "GET",
            url: self.url.clone(),
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
            body: WrkBody::None,
            expect: "",
        }))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        let tokens = self.tokens.take(plan.concurrency).await?;
        Ok(tokens
            .into_iter()
            .map(|token| {
                Box::new(GetStep {
                    url: self.url.clone(),
                    bearer: Some(token),
                    must_contain: b"\"sub\"",
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// The whole browser sign-in with a password, from /authorize to the code, in a new browser
/// each time (no session): authorize, login page, login POST (one argon2id verification).
struct SignIn {
    issuer: String,
    client_id: String,
    users: Vec<String>,
}

struct SignInStep {
    issuer: String,
    client_id: String,
    users: Vec<String>,
    next_user: usize,
}

#[async_trait]
impl Step for SignInStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let user = &self.users[self.next_user % self.users.len()];
        self.next_user += 1;
        let pkce = Pkce::new();
        let url = http::authorize_url(&self.issuer, &self.client_id, SIGNIN_SCOPE, &pkce)?;
        Browser::default()
            .sign_in(http, &self.issuer, &url, user)
            .await?;
        Ok(Outcome::Done)
    }
}

#[async_trait]
impl Workload for SignIn {
    fn name(&self) -> &str {
        report::PASSWORD_SIGNIN_WORKLOAD
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        Some((LimitKind::Argon2, 1.0))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        if self.users.is_empty() {
            bail!("no users were seeded");
        }
        Ok((0..plan.concurrency)
            .map(|i| {
                Box::new(SignInStep {
                    issuer: self.issuer.clone(),
                    client_id: self.client_id.clone(),
                    users: self.users.clone(),
                    next_user: i,
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// The same browser sign-in to a client whose policy rule asks for an email code after the
/// password: authorize, login page, login POST (one argon2id verification; Ferriam sends the
/// code over SMTP to the sink before it answers), code page, code POST. Each task signs in as
/// its own user, so each code reaches the one sign-in waiting at that address.
struct EmailSignIn {
    issuer: String,
    client_id: String,
    /// (username, address), one per task.
    users: Vec<(String, String)>,
    sink: Arc<Sink>,
    /// How many of `users` (from the first) have signed in once and consented.
    consented: tokio::sync::Mutex<usize>,
}

/// The scope of the measured sign-ins (consented to once beforehand, like the password ones).
const SIGNIN_SCOPE: &str = "openid profile email";

struct EmailSignInStep {
    issuer: String,
    client_id: String,
    user: String,
    mailbox: Mailbox,
}

impl EmailSignInStep {
    /// One whole sign-in, from /authorize to the code of the redirect.
    async fn sign_in(&mut self, http: &reqwest::Client) -> Result<String> {
        self.mailbox.clear();
        let pkce = Pkce::new();
        let url = http::authorize_url(&self.issuer, &self.client_id, SIGNIN_SCOPE, &pkce)?;
        Browser::default()
            .sign_in_with_code(
                http,
                &self.issuer,
                &url,
                &self.user,
                Some(&mut self.mailbox),
            )
            .await
    }
}

#[async_trait]
impl Step for EmailSignInStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        self.sign_in(http).await?;
        Ok(Outcome::Done)
    }
}

impl EmailSignIn {
    /// The tasks' steps, each with its user's new mailbox.
    fn steps(&self, n: usize) -> Result<Vec<EmailSignInStep>> {
        self.users[..n]
            .iter()
            .map(|(user, address)| {
                Ok(EmailSignInStep {
                    issuer: self.issuer.clone(),
                    client_id: self.client_id.clone(),
                    user: user.clone(),
                    mailbox: self.sink.mailbox(address)?,
                })
            })
            .collect()
    }
}

#[async_trait]
impl Workload for EmailSignIn {
    fn name(&self) -> &str {
        report::EMAIL_SIGNIN_WORKLOAD
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        Some((LimitKind::Argon2, 1.0))
    }
    fn compared_with(&self) -> Option<&str> {
        Some(report::PASSWORD_SIGNIN_WORKLOAD)
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        if self.users.len() < plan.concurrency {
            bail!(
                "{} email users were seeded for concurrency {}",
                self.users.len(),
                plan.concurrency
            );
        }
        let mut steps = self.steps(plan.concurrency)?;
        // The first sign-in of each user consents, so the measured ones go straight to the
        // code, as the password sign-ins do.
        let mut consented = self.consented.lock().await;
        if *consented < steps.len() {
            let http = http::client()?;
            for step in &mut steps[*consented..] {
                step.sign_in(&http)
                    .await
                    .with_context(|| format!("first sign-in of {}", step.user))?;
            }
            *consented = steps.len();
        }
        Ok(steps
            .into_iter()
            .map(|step| Box::new(step) as Box<dyn Step>)
            .collect())
    }
}
