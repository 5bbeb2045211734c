//! The introspection and revocation workloads.
//!
//! [`Introspect`]: a resource server, registered as a confidential client, introspects an
//! access token with `client_secret_basic`: at Ferriam a JWT from the code flow (signature,
//! then one store call for the user, the grant and the token's own revocation); at the peer
//! the opaque access tokens it minted in Redis (its JWT access tokens are not stored, so it
//! cannot introspect them). Every answer must say `"active":true`.
//!
//! [`Revoke`]: each request revokes a fresh access token (one INSERT into the revocation
//! list), minted beforehand with client_credentials by the client that revokes it, EdDSA so
//! that minting is quick. Tokens are made for a rate well above what revocation reaches;
//! should they run out the row is marked so, as for the code exchange.

use std::sync::{Arc, Mutex};

use anyhow::{anyhow, bail, Context, Result};
use async_trait::async_trait;

use crate::driver::{Outcome, Step};
use crate::http::{self, read_ok};
use crate::limits::LimitKind;
use crate::workloads::{form_request, post_token, AccessTokens, OneBodyEach, Plan, Workload};
use crate::wrk::{WrkBody, WrkRequest};

/// The name of Ferriam's introspection workload.
pub const INTROSPECTION_WORKLOAD: &str = "introspection (JWT access token)";
/// The name of the revocation workload.
pub const REVOCATION_WORKLOAD: &str = "revocation (fresh access token)";
/// What every good introspection answer carries.
const ACTIVE_MARK: &str = "\"active\":true";
/// The most tokens minted for one revocation run (they are held in memory and in wrk's
/// script), and the rate they are minted for.
const MAX_FRESH_TOKENS: usize = 200_000;
const REVOCATION_RATE_FED: f64 = 25_000.0;
/// Concurrent client_credentials requests while minting.
const MINTING_TASKS: usize = 16;

/// POSTs `token=…` to an introspection endpoint as a resource server.
pub struct Introspect {
    pub name: String,
    pub url: String,
    /// The resource server's `Authorization: Basic` value.
    pub authorization: String,
    pub tokens: AccessTokens,
}

fn form_body(token: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", token)
        .finish()
}

struct IntrospectStep {
    url: String,
    authorization: String,
    body: String,
}

#[async_trait]
impl Step for IntrospectStep {
    async fn run(&mut self, http: &reqwest::Client) -> Result<Outcome> {
        let response = post_token(http, &self.url, &self.authorization, self.body.clone()).await?;
        read_ok(response, ACTIVE_MARK.as_bytes()).await?;
        Ok(Outcome::Done)
    }
}

impl Introspect {
    /// The request bodies, one per task, each checked once to be active: wrk checks only the
    /// status of a fixed request, so an inactive token must be caught before the run.
    async fn bodies(&self, n: usize) -> Result<Vec<String>> {
        let http = http::client()?;
        let tokens = self.tokens.take(n).await?;
        let mut bodies = Vec::with_capacity(tokens.len());
        for token in tokens {
            let body = form_body(&token);
            let response = post_token(&http, &self.url, &self.authorization, body.clone()).await?;
            read_ok(response, ACTIVE_MARK.as_bytes())
                .await
                .with_context(|| format!("{}: the prepared token is not active", self.name))?;
            bodies.push(body);
        }
        Ok(bodies)
    }
}

#[async_trait]
impl Workload for Introspect {
    fn name(&self) -> &str {
        &self.name
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        None
    }
    async fn wrk_request(&self, _plan: &Plan) -> Result<Option<WrkRequest>> {
        let body = self
            .bodies(1)
            .await?
            .pop()
            .ok_or_else(|| anyhow!("no access token to introspect"))?;
        Ok(Some(form_request(
            &self.url,
            &self.authorization,
            WrkBody::Fixed(body),
            "",
        )))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        Ok(self
            .bodies(plan.concurrency)
            .await?
            .into_iter()
            .map(|body| {
                Box::new(IntrospectStep {
                    url: self.url.clone(),
                    authorization: self.authorization.clone(),
                    body,
                }) as Box<dyn Step>
            })
            .collect())
    }
}

/// Revokes a fresh access token per request at Ferriam's `/revoke`.
pub struct Revoke {
    pub revoke_url: String,
    pub token_url: String,
    /// The client that mints the tokens and revokes them (its own: RFC 7009 §2.1).
    pub authorization: String,
}

impl Revoke {
    /// Enough fresh access tokens for [`REVOCATION_RATE_FED`] over the whole run, as
    /// revocation request bodies.
    async fn bodies(&self, plan: &Plan) -> Result<Vec<String>> {
        let wanted = ((REVOCATION_RATE_FED * plan.duration.as_secs_f64()) as usize
            + plan.concurrency * 4)
            .min(MAX_FRESH_TOKENS);
        let tokens = mint(&self.token_url, &self.authorization, wanted).await?;
        Ok(tokens
            .iter()
            .map(|t| {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", t)
                    .append_pair("token_type_hint", "access_token")
                    .finish()
            })
            .collect())
    }
}

/// `n` client_credentials access tokens, minted by [`MINTING_TASKS`] concurrent requests.
async fn mint(token_url: &str, authorization: &str, n: usize) -> Result<Vec<String>> {
    let http = http::client()?;
    let per = n.div_ceil(MINTING_TASKS);
    let mut tasks = Vec::new();
    for i in 0..MINTING_TASKS {
        let count = per.min(n.saturating_sub(i * per));
        let (http, url, auth) = (http.clone(), token_url.to_owned(), authorization.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::with_capacity(count);
            for _ in 0..count {
                let form = [("grant_type", "client_credentials")];
                out.push(
                    http::token_request(&http, &url, &auth, &form)
                        .await?
                        .access_token,
                );
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await??);
    }
    if all.len() < n {
        bail!("only {} of {n} access tokens could be minted", all.len());
    }
    Ok(all)
}

#[async_trait]
impl Workload for Revoke {
    fn name(&self) -> &str {
        REVOCATION_WORKLOAD
    }
    fn limit(&self) -> Option<(LimitKind, f64)> {
        None
    }
    async fn wrk_request(&self, plan: &Plan) -> Result<Option<WrkRequest>> {
        Ok(Some(form_request(
            &self.revoke_url,
            &self.authorization,
            WrkBody::EachOnce(self.bodies(plan).await?),
            "",
        )))
    }
    async fn prepare(&self, plan: &Plan) -> Result<Vec<Box<dyn Step>>> {
        let queue = Arc::new(Mutex::new(self.bodies(plan).await?));
        Ok((0..plan.concurrency)
            .map(|_| {
                Box::new(OneBodyEach {
                    queue: queue.clone(),
                    url: self.revoke_url.clone(),
                    authorization: self.authorization.clone(),
                    mark: b"",
                }) as Box<dyn Step>
            })
            .collect())
    }
}
