//! HTTP pieces shared by the workloads: the load client, Basic authentication, PKCE, and a
//! small browser with a cookie jar of its own (so many simulated browsers share one
//! connection pool) that walks Ferriam's sign-in pages from /authorize to the code, entering
//! an emailed one-time code when asked.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde::Deserialize;

use crate::smtp::Mailbox;

/// The redirect URI registered for the benchmark's web client (never contacted).
pub const REDIRECT_URI: &str = "https://app.example/cb";
/// Every seeded user's password.
pub const PASSWORD: &str = "correct horse battery staple";
/// The scopes the seeded users consented to for the web client.
pub const CONSENTED_SCOPE: &str = "openid profile email offline_access";

/// An HTTP client for loopback load: no redirects followed, no proxy, a 10 s timeout.
pub fn client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .context("cannot build the HTTP client")
}

/// The `Authorization: Basic` value of RFC 6749 §2.3.1 (ids and secrets here are URL-safe).
pub fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// A PKCE verifier and its S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let verifier = ferriam::tokens::opaque::random_token();
        let challenge = ferriam_protocol::pkce::s256(&verifier);
        Self {
            verifier,
            challenge,
        }
    }
}

/// An OpenID Connect authorization request URL for the web client.
pub fn authorize_url(issuer: &str, client_id: &str, scope: &str, pkce: &Pkce) -> Result<String> {
    let mut url = url::Url::parse(&format!("{issuer}/authorize"))?;
    let state = ferriam::tokens::opaque::random_token();
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT_URI)
        .append_pair("scope", scope)
        .append_pair("state", &state[..16])
        .append_pair("nonce", &state[16..32])
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256");
    Ok(url.into())
}

/// A browser's cookies (only name=value matters on loopback).
#[derive(Default)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    fn take_from(&mut self, response: &Response) {
        for value in response.headers().get_all(SET_COOKIE) {
            let Some((name, value)) = value
                .to_str()
                .ok()
                .and_then(|v| v.split(';').next())
                .and_then(|pair| pair.trim().split_once('='))
            else {
                continue;
            };
            self.0.retain(|(n, _)| n != name);
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }

    fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// One simulated browser: a cookie jar used with a shared HTTP client.
#[derive(Default)]
pub struct Browser {
    pub jar: Jar,
}

impl Browser {
    async fn get(&mut self, http: &reqwest::Client, url: &str) -> Result<Response> {
        let mut req = http.get(url);
        if let Some(cookies) = self.jar.header() {
            req = req.header(COOKIE, cookies);
        }
        let response = req.send().await?;
        self.jar.take_from(&response);
        Ok(response)
    }

    async fn post(
        &mut self,
        http: &reqwest::Client,
        url: &str,
        fields: &[(&str, &str)],
    ) -> Result<Response> {
        let mut req = http.post(url).form(fields);
        if let Some(cookies) = self.jar.header() {
            req = req.header(COOKIE, cookies);
        }
        let response = req.send().await?;
        self.jar.take_from(&response);
        Ok(response)
    }

    /// From an authorization URL to the code: signs in with the password and consents when
    /// the server asks. Returns the `code` of the redirect to the client.
    pub async fn sign_in(
        &mut self,
        http: &reqwest::Client,
        issuer: &str,
        authorize_url: &str,
        username: &str,
    ) -> Result<String> {
        self.sign_in_with_code(http, issuer, authorize_url, username, None)
            .await
    }

    /// [`Browser::sign_in`], entering the one-time code that reaches `mailbox` when the server
    /// asks for one after the password (`/signin/code`).
    pub async fn sign_in_with_code(
        &mut self,
        http: &reqwest::Client,
        issuer: &str,
        authorize_url: &str,
        username: &str,
        mut mailbox: Option<&mut Mailbox>,
    ) -> Result<String> {
        let mut response = self.get(http, authorize_url).await?;
        // Bounded: login, the code, then consent, then the redirect to the client.
        for _ in 0..5 {
            expect_status(&response, StatusCode::SEE_OTHER, "a redirect")?;
            let location = location(&response)?;
            let code;
            let (form, answer): (&str, &[(&str, &str)]) = if location.starts_with("/signin/login") {
                (
                    "/signin/login",
                    &[("username", username), ("password", PASSWORD)],
                )
            } else if location.starts_with("/signin/code") {
                let Some(mailbox) = mailbox.as_deref_mut() else {
                    bail!("the server asked for a one-time code");
                };
                code = mailbox.code().await?;
                ("/signin/code", &[("code", code.as_str())])
            } else if location.starts_with("/signin/consent") {
                ("/signin/consent", &[("decision", "allow")])
            } else {
                return code_from(&location);
            };
            response = self
                .submit(
                    http,
                    &format!("{issuer}{location}"),
                    &format!("{issuer}{form}"),
                    answer,
                )
                .await?;
        }
        bail!("the sign-in did not reach the client")
    }

    /// Loads the page at `page`, then posts its interaction and CSRF fields with `answer` to
    /// `action`.
    async fn submit(
        &mut self,
        http: &reqwest::Client,
        page: &str,
        action: &str,
        answer: &[(&str, &str)],
    ) -> Result<Response> {
        let html = page_text(self.get(http, page).await?).await?;
        let (interaction, csrf) = (
            hidden_field(&html, "interaction")?,
            hidden_field(&html, "csrf")?,
        );
        let mut fields = vec![
            ("interaction", interaction.as_str()),
            ("csrf", csrf.as_str()),
        ];
        fields.extend_from_slice(answer);
        self.post(http, action, &fields).await
    }
}

fn expect_status(response: &Response, status: StatusCode, what: &str) -> Result<()> {
    if response.status() != status {
        bail!(
            "expected {what}, got {} for {}",
            response.status(),
            response.url().path()
        );
    }
    Ok(())
}

async fn page_text(response: Response) -> Result<String> {
    expect_status(&response, StatusCode::OK, "a page")?;
    Ok(response.text().await?)
}

/// The `Location` of a redirect.
pub fn location(response: &Response) -> Result<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("a {} response without Location", response.status()))
}

/// The `code` of a redirect to the client, or the error it carries.
pub fn code_from(location: &str) -> Result<String> {
    let url = url::Url::parse(location).with_context(|| format!("bad redirect {location}"))?;
    let mut code = None;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "error" => bail!("the server answered error={v}"),
            _ => {}
        }
    }
    code.ok_or_else(|| anyhow!("no code in the redirect to the client"))
}

/// The value of a hidden form field.
fn hidden_field(html: &str, name: &str) -> Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .ok_or_else(|| anyhow!("no {name} field in the page"))?
        + marker.len();
    let end = html[start..]
        .find('"')
        .ok_or_else(|| anyhow!("unterminated {name} field"))?;
    Ok(html[start..start + end].to_owned())
}

/// The members of a token response the benchmark uses.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub id_token: Option<String>,
}

/// POSTs a form to a token endpoint with Basic authentication and reads the token response.
pub async fn token_request(
    http: &reqwest::Client,
    token_url: &str,
    authorization: &str,
    form: &[(&str, &str)],
) -> Result<Tokens> {
    let response = http
        .post(token_url)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .form(form)
        .send()
        .await?;
    let body = read_ok(response, b"").await.context("token endpoint")?;
    serde_json::from_slice(body.as_ref()).context("token response is not the expected JSON")
}

/// Checks a response's status and reads its body to the end (so the connection is reused).
pub async fn read_ok(response: Response, must_contain: &[u8]) -> Result<impl AsRef<[u8]>> {
    let status = response.status();
    let body = response.bytes().await?;
    if status != StatusCode::OK {
        bail!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(160)])
        );
    }
    if !must_contain.is_empty() && !contains(&body, must_contain) {
        bail!("the answer lacks {}", String::from_utf8_lossy(must_contain));
    }
    Ok(body)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
