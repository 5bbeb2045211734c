//! node-oidc-provider (npm `oidc-provider` 9), a certified OpenID provider written by others, as
//! the upstream: a first sign-in through its own development pages provisions an account from
//! its userinfo answer (its ID token carries only `sub`), it sends RFC 9207 `iss`, and an
//! identifier-first second sign-in finds the same account. The package is installed with npm
//! on first use; without node and npm the test is skipped, except in CI.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use reqwest::StatusCode;

use super::upstream_process::{add_upstream, callback_uri, Registration};
use crate::harness::*;

const SCRIPT: &str = include_str!("oidc_provider.mjs");

/// Installs oidc-provider 9 once per test run; `None` when node or npm cannot (outside CI).
async fn installed() -> Option<PathBuf> {
    static INSTALLED: tokio::sync::OnceCell<Option<PathBuf>> = tokio::sync::OnceCell::const_new();
    INSTALLED
        .get_or_init(|| async {
            tokio::task::spawn_blocking(install)
                .await
                .expect("join")
                .map_err(|e| {
                    assert!(
                        std::env::var("CI").is_err(),
                        "CI must run node-oidc-provider: {e}"
                    );
                    eprintln!("skipping the node-oidc-provider test: {e}");
                })
                .ok()
        })
        .await
        .clone()
}

fn install() -> Result<PathBuf, String> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider-upstream");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("provider.mjs"), SCRIPT).map_err(|e| e.to_string())?;
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return Ok(dir);
    }
    std::fs::write(
        dir.join("package.json"),
        r#"{"name":"ferriam-test-upstream","private":true,"type":"module"}"#,
    )
    .map_err(|e| e.to_string())?;
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "oidc-provider@9"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run npm: {e}"))?;
    if !status.success() {
        return Err(format!("npm install oidc-provider@9 failed ({status})"));
    }
    Ok(dir)
}

/// A running node-oidc-provider, killed when dropped.
struct NodeProvider {
    issuer: String,
    child: Child,
}

impl NodeProvider {
    async fn start(dir: PathBuf, registration: &Registration, redirect_uri: &str) -> Self {
        let args = [
            "provider.mjs".to_owned(),
            registration.client_id.clone(),
            registration.client_secret.clone(),
            redirect_uri.to_owned(),
        ];
        tokio::task::spawn_blocking(move || {
            let mut child = Command::new("node")
                .args(&args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("node runs");
            let mut line = String::new();
            let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
            stdout
                .read_line(&mut line)
                .expect("the provider's first line");
            // The package prints notices later; a closed pipe would end the process.
            std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
            let started: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            Self {
                issuer: started["issuer"].as_str().expect("issuer").to_owned(),
                child,
            }
        })
        .await
        .expect("join")
    }
}

impl Drop for NodeProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plays the browser through the provider's development pages (any login, then "Continue"
/// on its consent page) until it redirects to Ferriam's callback; returns that URL.
async fn through_the_provider(
    browser: &Browser,
    provider: &NodeProvider,
    to_provider: reqwest::Response,
    login: &str,
    callback: &str,
) -> String {
    let absolute = |location: &str| match location.strip_prefix('/') {
        Some(path) => format!("{}/{path}", provider.issuer),
        None => location.to_owned(),
    };
    let mut response = to_provider;
    for _ in 0..20 {
        if response.status().is_redirection() {
            let next = absolute(&location(&response));
            if next.starts_with(callback) {
                return next;
            }
            response = browser.get(&next).await;
            continue;
        }
        assert_eq!(response.status(), StatusCode::OK, "at the provider");
        let html = response.text().await.expect("page");
        let action = html
            .split("action=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_else(|| panic!("a form: {html}"));
        let mut fields = form_fields(&html);
        if html.contains("name=\"login\"") {
            fields.push(("login".into(), login.into()));
            fields.push(("password".into(), "any password".into()));
        }
        response = browser
            .http
            .post(absolute(&html_unescape(action)))
            .form(&fields)
            .send()
            .await
            .expect("form posted");
    }
    panic!("the provider never redirected to the callback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_through_node_oidc_provider() {
    let Some(dir) = installed().await else { return };
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let registration = Registration {
        client_id: "ferriam".into(),
        client_secret: "a-secret-shared-with-node-oidc-provider".into(),
    };
    let callback = callback_uri(&server, "partner");
    let provider = NodeProvider::start(dir, &registration, &callback).await;
    add_upstream(
        &server,
        "partner",
        &provider.issuer,
        &registration,
        &[
            "--scope",
            "profile",
            "--scope",
            "email",
            "--domain",
            "partner.example",
        ],
    )
    .await;
    let client = server.create_client(|_| {}).await;
    let challenge = challenge();
    let code_url = |extra: &[(&str, &str)]| {
        let mut params = vec![
            ("scope", "openid email"),
            ("state", "st-1"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        params.extend_from_slice(extra);
        authorize_url(&server.issuer, &client.id, &params)
    };

    let browser = Browser::new();
    let to_provider = browser.get(&code_url(&[("idp_hint", "partner")])).await;
    let back = through_the_provider(&browser, &provider, to_provider, "pat", &callback).await;
    let back_params: Vec<(String, String)> = url::Url::parse(&back)
        .expect("url")
        .query_pairs()
        .into_owned()
        .collect();
    assert!(
        back_params
            .iter()
            .any(|(k, v)| k == "iss" && *v == provider.issuer),
        "node-oidc-provider sends RFC 9207 iss: {back}"
    );
    let consent = browser.get(&back).await;
    assert_eq!(consent.status(), StatusCode::SEE_OTHER);
    let page = browser.follow(&server.issuer, consent).await;
    let done = browser.submit_consent(&server.issuer, page, true).await;
    let code = redirect(&done).get("code").expect("a code").to_owned();
    let tokens = server.exchange(&client, &code, Some(VERIFIER)).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let claims = jwt_part(&tokens.str("id_token"), 1);
    assert_eq!(claims["amr"], serde_json::json!(["fed"]));
    assert_eq!(claims["email"], "pat@partner.example", "from its userinfo");

    let shown = run_ferriam(&server, &["user", "show", "pat"], None).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    let shown = shown.json();
    assert_eq!(shown["sub"], claims["sub"]);
    assert_eq!(shown["email_verified"], true);
    assert_eq!(shown["family_name"], "Partner");
    assert_eq!(shown["links"][0]["issuer"], provider.issuer.as_str());
    assert_eq!(shown["links"][0]["sub"], "pat");

    // Identifier-first, in a new browser: the same account.
    let browser = Browser::new();
    let to_provider = browser
        .get(&code_url(&[("login_hint", "pat@partner.example")]))
        .await;
    let back = through_the_provider(&browser, &provider, to_provider, "pat", &callback).await;
    let done = browser.get(&back).await;
    let code = redirect(&done).get("code").expect("a code").to_owned();
    let tokens = server.exchange(&client, &code, Some(VERIFIER)).await;
    assert_eq!(jwt_part(&tokens.str("id_token"), 1)["sub"], claims["sub"]);
    server.stop().await;
}
