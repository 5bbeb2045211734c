//! The sign-in pages in a real browser: headless Chromium, driven through chromedriver's
//! W3C WebDriver API, signs a user in at a phone-sized window, consents, and lands on the
//! client's loopback redirect URI with a code that the token endpoint accepts.
//! Another signs in through an upstream (a second Ferriam process) from the choice page, one
//! with an emailed code (a real SMTP conversation on loopback), and one signs out and sees the
//! front-channel logout frame load. Screenshots go to target/screenshots/.
//!
//! Needs `chromium` and `chromedriver` (Debian packages `chromium`, `chromium-driver`); without
//! them the test is skipped with a message, except under `CI=true`, where it fails.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::*;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session; both end when dropped.
struct WebDriver {
    base: String,
    session: String,
    http: reqwest::Client,
    _process: Reaped,
}

/// A child process that is killed and reaped when dropped, on every path.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl WebDriver {
    async fn start() -> Option<Self> {
        let (Some(driver), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("chromium and chromedriver are required under CI=true");
            }
            eprintln!("chromium or chromedriver not installed; skipping the browser test");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let process = Reaped(
            Command::new(driver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver starts"),
        );
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "chromedriver did not answer");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--window-size=390,844"
            ]}
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("chromedriver answers")
            .json()
            .await
            .expect("a JSON answer");
        let session = created["value"]["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_owned();
        Some(Self {
            base,
            session,
            http,
            _process: process,
        })
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply: Value = request
            .send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver JSON");
        assert!(
            reply["value"].get("error").is_none(),
            "webdriver error: {reply}"
        );
        reply["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn current_url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn wait_for_url(&self, prefix: &str) -> String {
        for _ in 0..100 {
            let url = self.current_url().await;
            if url.starts_with(prefix) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "the browser never reached {prefix}; it is at {}",
            self.current_url().await
        );
    }

    /// Saves a screenshot under target/ for a person to look at.
    async fn screenshot(&self, name: &str) {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(data) = png
            .as_str()
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png")), data);
        }
    }
}

fn find(program: &str) -> Option<String> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| format!("{dir}/{program}"))
        .find(|path| std::path::Path::new(path).is_file())
}

/// An authorization request for the code flow with `state=browser-state`.
fn browser_authorize_url(
    server: &TestServer,
    client_id: &str,
    redirect_uri: &str,
    scope: &str,
) -> String {
    let mut url = url::Url::parse(&server.url("/authorize")).expect("url");
    url.query_pairs_mut()
        .append_pair("client_id", client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "browser-state");
    url.to_string()
}

/// A client endpoint on loopback that answers every request, so the browser can land on it.
async fn loopback_client() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let body = "signed in";
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_with_a_real_browser() {
    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let port = loopback_client().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let uri = redirect_uri.clone();
    let app = server
        .create_client(move |c| c.redirect_uris = vec![uri])
        .await;

    let url = browser_authorize_url(&server, &app.id, &redirect_uri, "openid email");
    driver.open(&url).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.screenshot("login").await;
    driver.type_into("#username", "ada").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_url(&server.url("/signin/consent")).await;
    driver.screenshot("consent").await;
    driver.click("button[value=allow]").await;
    let landed = url::Url::parse(&driver.wait_for_url(&redirect_uri).await).unwrap();
    let params: std::collections::HashMap<String, String> =
        landed.query_pairs().into_owned().collect();
    assert_eq!(
        params.get("state").map(String::as_str),
        Some("browser-state")
    );
    assert_eq!(params.get("iss"), Some(&server.issuer));
    let code = params.get("code").expect("a code in the redirect");

    let tokens: Value = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    drop(driver);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_through_an_upstream_in_a_real_browser() {
    use crate::federation::upstream_process::{add_upstream, callback_uri, UpstreamFerriam};

    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let corp = UpstreamFerriam::start().await;
    corp.create_user("ann", "ann@corp.example").await;
    let registration = corp.register(&callback_uri(&server, "corp")).await;
    add_upstream(&server, "corp", &corp.issuer, &registration, &[]).await;
    let port = loopback_client().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let uri = redirect_uri.clone();
    let app = server
        .create_client(move |c| c.redirect_uris = vec![uri])
        .await;

    let url = browser_authorize_url(&server, &app.id, &redirect_uri, "openid");
    driver.open(&url).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.screenshot("choice").await;
    driver.click("button[name=idp][value=corp]").await;
    // The upstream's own pages, on its own origin.
    driver
        .wait_for_url(&format!("{}/signin/login", corp.issuer))
        .await;
    driver.type_into("#username", "ann").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver
        .wait_for_url(&format!("{}/signin/consent", corp.issuer))
        .await;
    driver.click("button[value=allow]").await;
    // Back at Ferriam: consent for the client, then the client.
    driver.wait_for_url(&server.url("/signin/consent")).await;
    driver.screenshot("consent_after_upstream").await;
    driver.click("button[value=allow]").await;
    let landed = url::Url::parse(&driver.wait_for_url(&redirect_uri).await).unwrap();
    let params: std::collections::HashMap<String, String> =
        landed.query_pairs().into_owned().collect();
    assert_eq!(
        params.get("state").map(String::as_str),
        Some("browser-state")
    );
    let tokens: Value = reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(&app.id, app.secret.as_deref())
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", params.get("code").expect("a code")),
            ("redirect_uri", &redirect_uri),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().expect("an ID token");
    assert_eq!(jwt_part(id_token, 1)["amr"], json!(["fed", "pwd"]));
    drop(driver);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_with_an_email_code_in_a_real_browser() {
    use ferriam_protocol::mfa::policy::{Conditions, Rule, Rules};
    use ferriam_protocol::mfa::Factor;

    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let (smtp_port, received) = crate::email::smtp_server().await;
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        c.email = Some(ferriam::config::EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{smtp_port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
        c.mfa.rules = Rules(vec![Rule {
            name: "everyone".into(),
            when: Conditions::default(),
            require: vec![Factor::Email],
            any_of: vec![],
        }]);
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let port = loopback_client().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let uri = redirect_uri.clone();
    let app = server
        .create_client(move |c| c.redirect_uris = vec![uri])
        .await;
    let url = browser_authorize_url(&server, &app.id, &redirect_uri, "openid");
    driver.open(&url).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.type_into("#username", "ada").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_url(&server.url("/signin/code")).await;
    driver.screenshot("code").await;
    let code = crate::email::last_code(&received, "Test App");
    driver.type_into("#code", &code).await;
    driver
        .click("form[action='/signin/code'] button[type=submit]")
        .await;
    driver.wait_for_url(&server.url("/signin/consent")).await;
    driver.screenshot("consent_after_code").await;
    driver.click("button[value=allow]").await;
    let landed = url::Url::parse(&driver.wait_for_url(&redirect_uri).await).unwrap();
    assert!(landed.query_pairs().any(|(k, _)| k == "code"), "{landed}");
    drop(driver);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sets_up_an_authenticator_app_on_the_account_page_in_a_real_browser() {
    use ferriam_protocol::mfa::totp;

    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let (smtp_port, received) = crate::email::smtp_server().await;
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        c.email = Some(ferriam::config::EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{smtp_port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    driver.open(&server.url("/account")).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.type_into("#username", "ada").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_url(&server.url("/account")).await;
    driver.screenshot("account").await;
    driver.click("form[action='/account/confirm'] button").await;
    driver.wait_for_url(&server.url("/signin/code")).await;
    let code = crate::email::last_code(&received, "your account");
    driver.type_into("#code", &code).await;
    driver
        .click("form[action='/signin/code'] button[type=submit]")
        .await;
    driver.wait_for_url(&server.url("/account")).await;
    driver.click("form[action='/account/totp'] button").await;
    driver.wait_for_url(&server.url("/account/totp")).await;
    driver.screenshot("totp_setup").await;
    let key: String = driver
        .text("#key")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let secret = totp::base32_decode(&key).expect("the key on the page is base32");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let code = totp::code_at(&secret, totp::step_at(now).expect("step"));
    driver.type_into("#code", &code).await;
    driver
        .click("form[action='/account/totp/confirm'] button[type=submit]")
        .await;
    driver.wait_for_url(&server.url("/account?done=totp")).await;
    driver.screenshot("account_totp_set_up").await;
    assert_eq!(
        driver.text(".factors li:nth-child(3) .state").await,
        "set up"
    );
    drop(driver);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approves_a_ciba_request_in_a_real_browser() {
    use ferriam_protocol::ciba::DeliveryMode;
    use reqwest::StatusCode;

    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let (smtp_port, received) = crate::email::smtp_server().await;
    let server = TestServer::start_with(Db::Sqlite, move |c| {
        c.email = Some(ferriam::config::EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{smtp_port}"),
            from: "Ferriam <no-reply@example.com>".into(),
        });
    })
    .await
    .expect("server");
    server.create_user("ada").await;
    let kiosk = crate::ciba::ciba_client(&server, DeliveryMode::Poll).await;
    let asked = crate::ciba::ask(
        &server,
        &kiosk,
        &[
            ("scope", "openid email"),
            ("login_hint", "ada"),
            ("binding_message", "Till 4: 12.50"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let text = crate::email::nth_message(&received, 1).await;
    let start = text.find("/device/requests/").expect("the approval link");
    let link: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/-_".contains(*c))
        .collect();
    driver.open(&server.url(&link)).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.type_into("#username", "ada").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_url(&server.url(&link)).await;
    assert_eq!(driver.text("#binding").await, "Till 4: 12.50");
    driver.screenshot("ciba_request").await;
    driver.click("button[value=approve]").await;
    for _ in 0..100 {
        if driver.text("h1").await == "Approved" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(driver.text("h1").await, "Approved");
    driver.screenshot("ciba_approved").await;
    let tokens = crate::ciba::poll(&server, &kiosk, &asked.str("auth_req_id")).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    drop(driver);
    server.stop().await;
}

/// A relying party's front-channel logout endpoint on loopback: sends the request line of each
/// request it gets on the channel and answers with an empty page.
async fn frontchannel_listener() -> (u16, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]);
                if let Some(line) = head.lines().next() {
                    let _ = tx.send(line.to_owned());
                }
                let reply = "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    (port, rx)
}

/// Front-Channel Logout 1.0 in a real browser: after signing in, the user confirms logout and
/// the signed-out page's frame loads the client's front-channel logout URI with `iss` and `sid`
/// (so the page's Content-Security-Policy really lets that frame through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn front_channel_logout_frame_loads_in_a_real_browser() {
    let Some(driver) = WebDriver::start().await else {
        return;
    };
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let port = loopback_client().await;
    let redirect_uri = format!("http://127.0.0.1:{port}/cb");
    let (fc_port, mut frames) = frontchannel_listener().await;
    let uri = redirect_uri.clone();
    let app = server
        .create_client(move |c| {
            c.redirect_uris = vec![uri];
            c.frontchannel_logout_uri = Some(format!("http://127.0.0.1:{fc_port}/fc"));
        })
        .await;
    let url = browser_authorize_url(&server, &app.id, &redirect_uri, "openid");
    driver.open(&url).await;
    driver.wait_for_url(&server.url("/signin/login")).await;
    driver.type_into("#username", "ada").await;
    driver.type_into("#password", PASSWORD).await;
    driver.click("button[type=submit]").await;
    driver.wait_for_url(&server.url("/signin/consent")).await;
    driver.click("button[value=allow]").await;
    driver.wait_for_url(&redirect_uri).await;

    let logout = format!("{}?client_id={}", server.url("/logout"), app.id);
    driver.open(&logout).await;
    driver.wait_for_url(&server.url("/logout")).await;
    driver.screenshot("logout").await;
    driver.click("button[type=submit]").await;
    let line = tokio::time::timeout(Duration::from_secs(10), frames.recv())
        .await
        .expect("the front-channel frame was loaded")
        .expect("listener open");
    driver.screenshot("logged_out").await;
    let target = line
        .strip_prefix("GET ")
        .and_then(|l| l.split(' ').next())
        .unwrap_or_else(|| panic!("not a GET: {line}"));
    let target = url::Url::parse(&format!("http://127.0.0.1{target}")).unwrap();
    assert_eq!(target.path(), "/fc");
    let params: std::collections::HashMap<String, String> =
        target.query_pairs().into_owned().collect();
    assert_eq!(params.get("iss"), Some(&server.issuer));
    assert!(
        params.get("sid").is_some_and(|s| !s.is_empty()),
        "no sid: {line}"
    );
    drop(driver);
    server.stop().await;
}
