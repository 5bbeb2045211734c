//! Starts a real server on 127.0.0.1:0 with a fresh SQLite file or PostgreSQL schema, creates
//! users and clients in its store, and plays a browser (cookie jar, no automatic redirects)
//! through the sign-in pages.

#![allow(dead_code)]

use std::sync::Arc;

use ferriam::clock::SystemClock;
use ferriam::config::Config;
use ferriam::password::PasswordHasher;
use ferriam::store::{Profile, Store, User};
use ferriam::testing::PgSchema;
use ferriam::tokens::opaque;
use ferriam::{RunningServer, Server};
use ferriam_protocol::client::{AuthMethod, Client, ClientType, SigningAlg};
use reqwest::header::LOCATION;
use reqwest::StatusCode;

pub const REDIRECT_URI: &str = "https://app.example/cb";
pub const PASSWORD: &str = "correct horse battery staple";

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

pub struct TestServer {
    pub issuer: String,
    /// The server's database, for running the `ferriam` binary against it and for tests that
    /// break it on purpose.
    pub database_url: String,
    /// Where the server listens (its issuer may name another host).
    pub addr: std::net::SocketAddr,
    pub clock: Arc<SystemClock>,
    pub store: Arc<dyn Store>,
    server: Option<RunningServer>,
    pg: Option<PgSchema>,
    _dir: tempfile::TempDir,
}

/// A registered test client.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestServer {
    /// Starts a server; `None` only for PostgreSQL outside CI when it is unreachable.
    pub async fn start(db: Db) -> Option<Self> {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: Db, configure: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary directory");
        let pg = match db {
            Db::Sqlite => None,
            Db::Postgres => Some(PgSchema::create().await?),
        };
        let mut config = Config {
            listen: "127.0.0.1:0".parse().expect("address"),
            database_url: match &pg {
                Some(schema) => schema.url.clone(),
                None => format!("sqlite://{}/ferriam.db", dir.path().display()),
            },
            ..Config::default()
        };
        configure(&mut config);
        let database_url = config.database_url.clone();
        let clock = Arc::new(SystemClock::default());
        let server = Server::start(config, clock.clone(), std::future::pending())
            .await
            .expect("server starts");
        Some(Self {
            issuer: server.issuer.clone(),
            database_url,
            addr: server.addr,
            store: server.store.clone(),
            clock,
            server: Some(server),
            pg,
            _dir: dir,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// Creates a user with [`PASSWORD`] and returns its `sub`.
    pub async fn create_user(&self, username: &str) -> String {
        let hasher = PasswordHasher::new(19456, 2, 1).expect("hasher");
        let sub = opaque::random_uuid();
        let user = User {
            sub: sub.clone(),
            username: username.to_owned(),
            password_hash: Some(hasher.hash(PASSWORD.to_owned()).await.expect("hash")),
            disabled: false,
            profile: Profile {
                email: Some(format!("{username}@example.com")),
                email_verified: true,
                given_name: Some("Ada".into()),
                family_name: Some("Lovelace".into()),
                phone_number: Some("+15550100".into()),
                ..Default::default()
            },
            created_at: 1,
            updated_at: 1,
        };
        self.store.create_user(&user).await.expect("user stored");
        sub
    }

    /// Registers a client; `edit` adjusts the defaults (confidential, code + refresh).
    pub async fn create_client(&self, edit: impl FnOnce(&mut Client)) -> TestClient {
        let mut client = Client {
            client_id: opaque::random_client_id(),
            name: "Test App".into(),
            client_type: ClientType::Confidential,
            redirect_uris: vec![REDIRECT_URI.into()],
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            scopes: vec!["api:read".into()],
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            allow_plain_pkce: false,
            access_token_alg: SigningAlg::RS256,
            access_token_ttl: None,
            refresh_token_ttl: None,
            ..Default::default()
        };
        edit(&mut client);
        let secret = (client.client_type == ClientType::Confidential).then(opaque::random_token);
        let sealed = secret.as_deref().and_then(|s| {
            ferriam::tokens::sealing::seal_client_secret(&client, s).expect("sealed secret")
        });
        self.store
            .create_client(
                &client,
                secret.as_deref().map(opaque::hash).as_deref(),
                sealed.as_deref(),
                1,
            )
            .await
            .expect("client stored");
        TestClient {
            id: client.client_id,
            secret,
        }
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        if let Some(pg) = self.pg.take() {
            pg.drop().await;
        }
    }
}

/// Runs a test body against SQLite and then PostgreSQL; attributes written before the name
/// (such as `#[ignore = "..."]`) apply to both tests.
/// `on_both_databases!(name, config: |c: &mut Config| ..., body)` starts both servers with
/// the settings the closure makes.
#[macro_export]
macro_rules! on_both_databases {
    ($(#[$attr:meta])* $name:ident, config: $configure:expr, $body:expr) => {
        mod $name {
            use super::*;

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(server) = TestServer::start_with(Db::Sqlite, $configure).await {
                    $body(&server).await;
                    server.stop().await;
                }
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(server) = TestServer::start_with(Db::Postgres, $configure).await {
                    $body(&server).await;
                    server.stop().await;
                }
            }
        }
    };
    ($(#[$attr:meta])* $name:ident, $body:expr) => {
        mod $name {
            use super::*;

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                if let Some(server) = TestServer::start(Db::Sqlite).await {
                    $body(&server).await;
                    server.stop().await;
                }
            }

            $(#[$attr])*
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(server) = TestServer::start(Db::Postgres).await {
                    $body(&server).await;
                    server.stop().await;
                }
            }
        }
    };
}

/// A browser: keeps cookies, never follows redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a sign-in ended.
#[derive(Debug)]
pub struct Redirect {
    pub location: String,
    pub params: Vec<(String, String)>,
}

impl Redirect {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Browser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http client");
        Self { http }
    }

    /// Opens a URL and returns the response without following redirects.
    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.expect("request sent")
    }

    /// Follows a redirect inside the server (relative `Location`) or returns the final one.
    pub async fn follow(&self, issuer: &str, response: reqwest::Response) -> reqwest::Response {
        let location = location(&response);
        self.get(&absolute(issuer, &location)).await
    }

    /// Signs in on the login page the response points to and returns the next response.
    pub async fn submit_login(
        &self,
        issuer: &str,
        login_page: reqwest::Response,
        username: &str,
        password: &str,
    ) -> reqwest::Response {
        assert_eq!(
            login_page.status(),
            StatusCode::OK,
            "expected the login page"
        );
        let html = login_page.text().await.expect("page body");
        let fields = [
            ("interaction", hidden_field(&html, "interaction")),
            ("csrf", hidden_field(&html, "csrf")),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        self.http
            .post(format!("{issuer}/signin/login"))
            .form(&fields)
            .send()
            .await
            .expect("login posted")
    }

    /// Answers the consent page.
    pub async fn submit_consent(
        &self,
        issuer: &str,
        consent_page: reqwest::Response,
        allow: bool,
    ) -> reqwest::Response {
        assert_eq!(
            consent_page.status(),
            StatusCode::OK,
            "expected the consent page"
        );
        let html = consent_page.text().await.expect("page body");
        let fields = [
            ("interaction", hidden_field(&html, "interaction")),
            ("csrf", hidden_field(&html, "csrf")),
            ("decision", if allow { "allow" } else { "deny" }.to_owned()),
        ];
        self.http
            .post(format!("{issuer}/signin/consent"))
            .form(&fields)
            .send()
            .await
            .expect("consent posted")
    }

    /// The whole interactive sign-in: authorize URL -> login -> consent (if asked) -> redirect.
    pub async fn sign_in(&self, issuer: &str, authorize_url: &str, username: &str) -> Redirect {
        let response = self.get(authorize_url).await;
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "authorize answered {}",
            response.status()
        );
        let mut response = response;
        if location(&response).starts_with("/signin/login") {
            let page = self.follow(issuer, response).await;
            response = self.submit_login(issuer, page, username, PASSWORD).await;
            assert_eq!(
                response.status(),
                StatusCode::SEE_OTHER,
                "login answered {}",
                response.status()
            );
        }
        if location(&response).starts_with("/signin/consent") {
            let page = self.follow(issuer, response).await;
            response = self.submit_consent(issuer, page, true).await;
        }
        redirect(&response)
    }
}

/// The `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("no Location in a {} response", response.status()))
        .to_owned()
}

/// A redirect to the client, with its query or fragment parameters.
pub fn redirect(response: &reqwest::Response) -> Redirect {
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "expected a redirect to the client"
    );
    let location = location(response);
    let url = url::Url::parse(&location).expect("absolute redirect");
    let mut params: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    if let Some(fragment) = url.fragment() {
        params.extend(url::form_urlencoded::parse(fragment.as_bytes()).into_owned());
    }
    Redirect { location, params }
}

fn absolute(issuer: &str, location: &str) -> String {
    if location.starts_with('/') {
        format!("{issuer}{location}")
    } else {
        location.to_owned()
    }
}

/// The value of a hidden form field in a page.
pub fn hidden_field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no field {name} in page"))
        + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// An authorization URL for a client with the given extra parameters.
pub fn authorize_url(issuer: &str, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{issuer}/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", REDIRECT_URI);
    for (k, v) in extra {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

// ---------------------------------------------------------------------------------------------
// Helpers for the error-path modules: raw HTTP, token requests, JWT inspection, pages.

/// A PKCE verifier of valid syntax (RFC 7636 §4.1), used with [`challenge`].
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The S256 challenge of [`VERIFIER`].
pub fn challenge() -> String {
    ferriam_protocol::pkce::s256(VERIFIER)
}

/// A back-channel HTTP client: no cookies, no redirects followed.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// The `Authorization: Basic` value of RFC 6749 §2.3.1 (ids and secrets here need no escaping).
pub fn basic(id: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

/// A response read to the end: status, headers and the body as JSON (`Null` if not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    /// Reads a whole response.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Self {
            status,
            headers,
            body,
        }
    }

    /// The `error` member of a JSON error body ("" when there is none).
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    /// A string member of the body, which must be present.
    pub fn str(&self, name: &str) -> String {
        self.body[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {} {}", self.status, self.body))
            .to_owned()
    }

    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts a token-endpoint error: the status, the exact `error` code and `no-store`.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, error: &str) {
        assert_eq!(
            (self.status, self.error()),
            (status, error),
            "unexpected answer: {}",
            self.body
        );
        assert!(
            self.body.get("access_token").is_none() && self.body.get("refresh_token").is_none(),
            "an error response carried tokens: {}",
            self.body
        );
    }
}

impl Reply {
    /// Asserts a token-endpoint error ([`Reply::assert_error`]) that is also `no-store`
    /// (RFC 6749 §5.1) and, for `invalid_client`, carries a `WWW-Authenticate` challenge.
    #[track_caller]
    pub fn assert_token_error(&self, status: StatusCode, error: &str) {
        self.assert_error(status, error);
        assert_eq!(self.header("cache-control"), "no-store", "{error}");
        if status == StatusCode::UNAUTHORIZED {
            assert!(
                self.header("www-authenticate").starts_with("Basic"),
                "401 without a Basic challenge: {:?}",
                self.header("www-authenticate")
            );
        }
    }
}

impl TestServer {
    /// POSTs a form to the token endpoint, authenticating `client` the way it registered:
    /// Basic when it has a secret, `client_id` in the body when public.
    pub async fn token(&self, client: &TestClient, form: &[(&str, &str)]) -> Reply {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut request = http().post(self.url("/token"));
        match &client.secret {
            Some(secret) => request = request.header("authorization", basic(&client.id, secret)),
            None => fields.push(("client_id", &client.id)),
        }
        Reply::read(request.form(&fields).send().await.expect("token request")).await
    }

    /// POSTs a form to `path` (`/revoke`, `/introspect`), authenticating `client` as
    /// [`TestServer::token`] does.
    pub async fn call(&self, path: &str, client: &TestClient, form: &[(&str, &str)]) -> Reply {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut request = http().post(self.url(path));
        match &client.secret {
            Some(secret) => request = request.header("authorization", basic(&client.id, secret)),
            None => fields.push(("client_id", &client.id)),
        }
        Reply::read(request.form(&fields).send().await.expect("request sent")).await
    }

    /// Redeems a code at the token endpoint with the harness redirect URI and, if given, a
    /// verifier.
    pub async fn exchange(&self, client: &TestClient, code: &str, verifier: Option<&str>) -> Reply {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.token(client, &form).await
    }

    /// Uses a refresh token.
    pub async fn refresh(&self, client: &TestClient, refresh_token: &str) -> Reply {
        self.token(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// GET /userinfo with a bearer token.
    pub async fn userinfo(&self, access_token: &str) -> Reply {
        Reply::read(
            http()
                .get(self.url("/userinfo"))
                .bearer_auth(access_token)
                .send()
                .await
                .expect("userinfo request"),
        )
        .await
    }

    /// Signs `username` in through `browser` (or reuses its session and consent) and returns
    /// the authorization code for `client_id`; `extra` adds parameters (scope, PKCE, ...).
    pub async fn code(
        &self,
        browser: &Browser,
        client_id: &str,
        username: &str,
        extra: &[(&str, &str)],
    ) -> String {
        let url = authorize_url(&self.issuer, client_id, extra);
        let back = browser.sign_in(&self.issuer, &url, username).await;
        assert!(
            back.location.starts_with(REDIRECT_URI),
            "redirected to {}",
            back.location
        );
        back.get("code")
            .unwrap_or_else(|| panic!("no code in {}", back.location))
            .to_owned()
    }

    /// The whole code flow with PKCE S256 for `scope`; returns the token response.
    pub async fn tokens(
        &self,
        browser: &Browser,
        client: &TestClient,
        username: &str,
        scope: &str,
    ) -> Reply {
        let challenge = challenge();
        let code = self
            .code(
                browser,
                &client.id,
                username,
                &[
                    ("scope", scope),
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            )
            .await;
        let reply = self.exchange(client, &code, Some(VERIFIER)).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "code exchange: {}",
            reply.body
        );
        reply
    }
}

/// A URL on the server with exactly the given query parameters (none added).
pub fn url_with(issuer: &str, path: &str, pairs: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&format!("{issuer}{path}")).expect("url");
    for (k, v) in pairs {
        url.query_pairs_mut().append_pair(k, v);
    }
    url.to_string()
}

/// The decoded JSON of part `index` (0 header, 1 payload) of a compact JWS.
pub fn jwt_part(token: &str, index: usize) -> serde_json::Value {
    use base64::Engine;
    let part = token.split('.').nth(index).expect("JWT part");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// base64url without padding, as JWS uses it.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(headers: &reqwest::header::HeaderMap) -> Vec<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// Whether a response sets the single sign-on session cookie.
pub fn sets_session(headers: &reqwest::header::HeaderMap) -> bool {
    set_cookies(headers)
        .iter()
        .any(|c| c.starts_with("ferriam_session="))
}

/// Undoes the HTML escaping minijinja applies to attribute values and text.
pub fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&amp;", "&")
}

/// The hidden fields of a form_post page, unescaped.
pub fn form_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|rest| {
            let name = rest
                .split("name=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("name");
            let value = rest
                .split("value=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .expect("value");
            (html_unescape(name), html_unescape(value))
        })
        .collect()
}

/// An HTML page read to the end.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    /// Reads a whole response.
    pub async fn read(response: reqwest::Response) -> Self {
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.expect("page body");
        Self {
            status,
            headers,
            body,
        }
    }

    /// A header as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Asserts an HTML error page: the status, no `Location` (never a redirect to the
    /// client), no session cookie, and the error code the page names.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, error: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; page: {}",
            self.body
        );
        assert_eq!(
            self.header("location"),
            "",
            "an error page must not redirect"
        );
        assert!(
            self.header("content-type").starts_with("text/html"),
            "content type {}",
            self.header("content-type")
        );
        assert!(
            self.body.contains(&format!("Error: {error}")),
            "page does not name {error}: {}",
            self.body
        );
        assert!(!sets_session(&self.headers), "an error page set a session");
    }
}

/// What one run of the `ferriam` binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Standard output as JSON (the commands' machine output).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    /// Exit status 1, the reason on stderr, nothing on stdout.
    #[track_caller]
    pub fn assert_refused(&self, reason: &str) {
        assert_eq!(self.code, 1, "exit status; stderr: {}", self.stderr);
        assert!(
            self.stderr.contains(reason),
            "stderr does not say {reason:?}: {}",
            self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
    }
}

/// Runs the built `ferriam ARGS --database-url <the server's>` with `stdin` as its input and
/// `env` added to its environment (`FERRIAM_MASTER_KEY` is only there when `env` sets it).
pub async fn run_ferriam_with(
    server: &TestServer,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    run_ferriam_on(&server.database_url, args, stdin, env).await
}

/// [`run_ferriam_with`] on the database at `database_url`.
pub async fn run_ferriam_on(
    database_url: &str,
    args: &[&str],
    stdin: Option<&str>,
    env: &[(&str, &str)],
) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut command = Command::new(env!("CARGO_BIN_EXE_ferriam"));
    command
        .args(args)
        .arg("--database-url")
        .arg(database_url)
        .env_remove("FERRIAM_MASTER_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let stdin = stdin.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut child = command.spawn().expect("ferriam runs");
        let mut pipe = child.stdin.take().expect("stdin");
        if let Some(input) = stdin {
            // The command may refuse before reading: a closed pipe is not a failure here.
            let _ = pipe.write_all(input.as_bytes());
        }
        drop(pipe);
        let out = child.wait_with_output().expect("ferriam finishes");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("join")
}

/// [`run_ferriam_with`] with nothing added to the environment.
pub async fn run_ferriam(server: &TestServer, args: &[&str], stdin: Option<&str>) -> Run {
    run_ferriam_with(server, args, stdin, &[]).await
}
