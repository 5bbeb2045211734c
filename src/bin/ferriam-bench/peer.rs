//! The peer: node-oidc-provider (npm `oidc-provider`, version 9), installed with npm under
//! target/bench/peer on first use and run with one node:cluster worker per core, configured
//! with JWT access tokens for a default resource indicator signed RS256 or ES256.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::procfs::ProcTree;
use crate::seed::ClientCreds;

/// The provider script, written next to the installed package.
const PROVIDER_JS: &str = include_str!("provider.mjs");

/// Installs `oidc-provider@9` into `dir` unless it is already there.
pub async fn install(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("provider.mjs"), PROVIDER_JS)?;
    if dir
        .join("node_modules/oidc-provider/package.json")
        .is_file()
    {
        return Ok(());
    }
    let package = dir.join("package.json");
    if !package.is_file() {
        std::fs::write(
            &package,
            r#"{"name":"ferriam-bench-peer","private":true,"type":"module"}"#,
        )?;
    }
    eprintln!(
        "==> installing oidc-provider@9 with npm into {}",
        dir.display()
    );
    let mut child = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "oidc-provider@9"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run npm (node.js 20 or newer and npm are needed for --peer)")?;
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .map_err(|_| anyhow!("npm install did not finish within 10 minutes"))??;
    if !status.success() {
        bail!("npm install oidc-provider@9 failed ({status})");
    }
    Ok(())
}

/// A running node-oidc-provider.
pub struct Peer {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    pub pid: u32,
    pub issuer: String,
    pub workers: usize,
    pub version: String,
    /// One client per access-token algorithm (RS256, ES256), sharing a secret.
    pub clients: Vec<(String, ClientCreds)>,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Peer {
    pub async fn start(dir: &Path, workers: usize, log: &Path) -> Result<Self> {
        let port = free_port()?;
        let secret = ferriam::tokens::opaque::random_token();
        let log_file = std::fs::File::create(log)?;
        let mut child = Command::new("node")
            .arg("provider.mjs")
            .current_dir(dir)
            .env("PEER_PORT", port.to_string())
            .env("PEER_WORKERS", workers.to_string())
            .env("PEER_CLIENT_SECRET", &secret)
            .env("PEER_COOKIE_KEY", ferriam::tokens::opaque::random_token())
            .env("NODE_ENV", "production")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .kill_on_drop(true)
            .spawn()
            .context("cannot run node")?;
        let pid = child.id().ok_or_else(|| anyhow!("node exited at once"))?;
        let mut stdout = BufReader::new(
            child
                .stdout
                .take()
                .ok_or_else(|| anyhow!("no stdout pipe"))?,
        );
        let mut line = String::new();
        match tokio::time::timeout(Duration::from_secs(60), stdout.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => bail!(
                "node-oidc-provider did not start within 60 s; see {}",
                log.display()
            ),
        }
        let version = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v["version"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "9".into());
        let clients = ["RS256", "ES256"]
            .iter()
            .map(|alg| {
                (
                    alg.to_string(),
                    ClientCreds {
                        id: format!("bench-cc-{alg}"),
                        secret: secret.clone(),
                    },
                )
            })
            .collect();
        let peer = Self {
            child,
            _stdout: stdout,
            pid,
            issuer: format!("http://127.0.0.1:{port}"),
            workers,
            version,
            clients,
        };
        peer.check().await?;
        Ok(peer)
    }

    /// One client_credentials grant per algorithm, checking that the token is a JWT of that
    /// algorithm (so the comparison is like for like).
    async fn check(&self) -> Result<()> {
        let http = crate::http::client()?;
        for (alg, client) in &self.clients {
            let tokens = crate::http::token_request(
                &http,
                &self.token_url(),
                &crate::http::basic(&client.id, &client.secret),
                &[("grant_type", "client_credentials"), ("scope", "api:read")],
            )
            .await
            .with_context(|| format!("node-oidc-provider client_credentials {alg}"))?;
            let header = tokens.access_token.split('.').next().unwrap_or("");
            let header =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                    .unwrap_or_default();
            let expected = format!("\"alg\":\"{alg}\"");
            if !String::from_utf8_lossy(&header).contains(&expected) {
                bail!("node-oidc-provider's access token is not a {alg} JWT");
            }
        }
        Ok(())
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn tree(&self) -> ProcTree {
        ProcTree::new(self.pid)
    }

    /// SIGTERM to the primary (it stops its workers), killed after 10 s.
    pub async fn stop(mut self) -> Result<()> {
        let started = Instant::now();
        crate::server::terminate(self.pid);
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            for pid in self.tree().pids() {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            let _ = self.child.kill().await;
            bail!(
                "node-oidc-provider did not stop within {:?}; killed",
                started.elapsed()
            );
        }
        Ok(())
    }
}

/// Where the peer lives: target/bench/peer.
pub fn peer_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("peer")
}
