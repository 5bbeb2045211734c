//! A second, independent Ferriam as the upstream identity provider: `ferriam serve` in its own
//! process with its own SQLite file, on the IPv6 loopback [::1] while the downstream server is
//! on 127.0.0.1, so that their cookies stay apart in one cookie jar, as two hosts' would
//! (cookies ignore ports). Users and clients are made with its command line; the process is
//! killed when the value is dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::harness::*;

pub struct UpstreamFerriam {
    pub issuer: String,
    pub database_url: String,
    child: Child,
    _dir: tempfile::TempDir,
}

/// Ferriam's client at the upstream.
pub struct Registration {
    pub client_id: String,
    pub client_secret: String,
}

impl UpstreamFerriam {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database_url = format!("sqlite://{}/upstream.db", dir.path().display());
        let url = database_url.clone();
        let (child, issuer) = tokio::task::spawn_blocking(move || {
            let mut child = Command::new(env!("CARGO_BIN_EXE_ferriam"))
                .args(["serve", "--listen", "[::1]:0", "--database-url", &url])
                .env_remove("FERRIAM_MASTER_KEY")
                .env("FERRIAM_LOG", "warn")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("ferriam serve runs");
            // `serve` prints {"listen", "issuer"} once it listens.
            let mut line = String::new();
            let stdout = child.stdout.take().expect("stdout");
            BufReader::new(stdout)
                .read_line(&mut line)
                .expect("serve's first line");
            let started: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            let issuer = started["issuer"].as_str().expect("issuer").to_owned();
            (child, issuer)
        })
        .await
        .expect("join");
        Self {
            issuer,
            database_url,
            child,
            _dir: dir,
        }
    }

    async fn cli(&self, args: &[&str], stdin: Option<&str>) -> serde_json::Value {
        let run = run_ferriam_on(&self.database_url, args, stdin, &[]).await;
        assert_eq!(run.code, 0, "ferriam {args:?}: {}", run.stderr);
        run.json()
    }

    /// A user with [`PASSWORD`] and a verified address, returning the upstream's `sub`.
    pub async fn create_user(&self, username: &str, email: &str) -> String {
        let user = self
            .cli(
                &[
                    "user",
                    "create",
                    "--username",
                    username,
                    "--email",
                    email,
                    "--email-verified",
                    "--given-name",
                    "Ann",
                    "--family-name",
                    "Example",
                    "--password-stdin",
                ],
                Some(PASSWORD),
            )
            .await;
        user["sub"].as_str().expect("sub").to_owned()
    }

    /// Registers the downstream Ferriam as a confidential client redirecting to `redirect_uri`.
    pub async fn register(&self, redirect_uri: &str) -> Registration {
        let client = self
            .cli(
                &[
                    "client",
                    "create",
                    "--name",
                    "Ferriam downstream",
                    "--type",
                    "confidential",
                    "--redirect-uri",
                    redirect_uri,
                ],
                None,
            )
            .await;
        Registration {
            client_id: client["client_id"].as_str().expect("client_id").to_owned(),
            client_secret: client["client_secret"]
                .as_str()
                .expect("client_secret")
                .to_owned(),
        }
    }
}

impl Drop for UpstreamFerriam {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers an upstream at `server` with `ferriam idp add` and waits until the server lists
/// it (registrations reach a running server within a second).
pub async fn add_upstream(
    server: &TestServer,
    name: &str,
    issuer: &str,
    registration: &Registration,
    extra: &[&str],
) {
    let mut args = vec![
        "idp",
        "add",
        "--name",
        name,
        "--display-name",
        name,
        "--issuer",
        issuer,
        "--client-id",
        &registration.client_id,
        "--client-secret-stdin",
    ];
    args.extend_from_slice(extra);
    let run = run_ferriam(server, &args, Some(&registration.client_secret)).await;
    assert_eq!(run.code, 0, "idp add: {}", run.stderr);
    let client = server.create_client(|_| {}).await;
    for _ in 0..100 {
        let browser = Browser::new();
        let response = browser
            .get(&authorize_url(&server.issuer, &client.id, &[]))
            .await;
        let page = browser.follow(&server.issuer, response).await;
        if page
            .text()
            .await
            .unwrap_or_default()
            .contains(&format!("Continue with {name}"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the server never listed upstream {name}");
}

/// The redirect URI to register at an upstream for `server`'s upstream `name`.
pub fn callback_uri(server: &TestServer, name: &str) -> String {
    server.url(&format!("/federation/{name}/callback"))
}
