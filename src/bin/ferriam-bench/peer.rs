//! The peer: node-oidc-provider (npm `oidc-provider`, version 9, with `ioredis`), installed
//! with npm under target/bench/peer on first use and run with one node:cluster worker per core,
//! configured with JWT access tokens for a default resource indicator signed RS256 or ES256.
//! When Redis answers, the peer keeps its models there (under a prefix of its own, deleted when
//! it stops) and mints opaque userinfo access tokens at start, so every worker accepts them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use tokio::process::Command;

use crate::procfs::ProcTree;
use crate::redis::Redis;
use crate::seed::ClientCreds;
use crate::server::Announcing;

/// The provider script, written next to the installed package.
const PROVIDER_JS: &str = include_str!("provider.mjs");

/// The npm packages the provider script needs: the peer itself and its Redis client.
const PACKAGES: [(&str, &str); 2] = [("oidc-provider", "9"), ("ioredis", "5")];

/// Installs whichever of [`PACKAGES`] is not yet in `dir`.
pub async fn install(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join("provider.mjs"), PROVIDER_JS)?;
    let missing: Vec<String> = PACKAGES
        .iter()
        .filter(|(name, _)| {
            !dir.join("node_modules")
                .join(name)
                .join("package.json")
                .is_file()
        })
        .map(|(name, version)| format!("{name}@{version}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let package = dir.join("package.json");
    if !package.is_file() {
        std::fs::write(
            &package,
            r#"{"name":"ferriam-bench-peer","private":true,"type":"module"}"#,
        )?;
    }
    let label = missing.join(" ");
    eprintln!("==> installing {label} with npm into {}", dir.display());
    let mut child = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund"])
        .args(&missing)
        .current_dir(dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run npm (node.js 20 or newer and npm are needed for --peer)")?;
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait())
        .await
        .map_err(|_| anyhow!("npm install did not finish within 10 minutes"))??;
    if !status.success() {
        bail!("npm install {label} failed ({status})");
    }
    Ok(())
}

/// What the peer's userinfo workload needs: the peer's userinfo endpoint (from its discovery
/// document) and the opaque access tokens it minted at start, one per task.
#[derive(Clone, Debug)]
pub struct PeerUserinfo {
    pub url: String,
    pub tokens: Vec<String>,
}

/// Where the peer keeps its models: Redis, under a key prefix of this run's own.
struct Store {
    addr: String,
    prefix: String,
}

/// A running node-oidc-provider.
pub struct Peer {
    process: Announcing,
    pub issuer: String,
    pub workers: usize,
    pub version: String,
    /// One client per access-token algorithm (RS256, ES256), sharing a secret.
    pub clients: Vec<(String, ClientCreds)>,
    /// The userinfo endpoint and tokens, or why the peer has none (no Redis, ...).
    pub userinfo: std::result::Result<PeerUserinfo, String>,
    /// The introspection endpoint with the same tokens, or why it cannot be measured.
    pub introspection: std::result::Result<PeerUserinfo, String>,
    /// Set when the peer's models are in Redis (its keys are deleted when it stops).
    store: Option<Store>,
}

/// The line the provider script prints once every worker listens.
#[derive(Deserialize)]
struct ReadyLine {
    #[serde(default)]
    userinfo_tokens: Vec<String>,
    userinfo_error: Option<String>,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Store {
    /// Points the provider script at this store and asks it for `userinfo_tokens` tokens.
    fn configure(&self, command: &mut Command, userinfo_tokens: usize) {
        command
            .env("PEER_REDIS_URL", format!("redis://{}", self.addr))
            .env("PEER_REDIS_PREFIX", &self.prefix)
            .env("PEER_REDIRECT_URI", crate::http::REDIRECT_URI)
            .env("PEER_USERINFO_TOKENS", userinfo_tokens.to_string());
    }
}

/// Reads the line the provider prints once every worker listens (`None`: it printed none).
fn ready_line(line: Option<&str>, log: &Path) -> Result<ReadyLine> {
    let Some(line) = line else {
        bail!(
            "node-oidc-provider did not start within 60 s; see {}",
            log.display()
        )
    };
    serde_json::from_str(line)
        .with_context(|| format!("unexpected first line from the peer: {line}"))
}

/// Redis with a new key prefix when it answers, or why it cannot be used.
async fn open_store() -> std::result::Result<Store, String> {
    let addr = crate::redis::addr();
    match Redis::connect(&addr).await {
        Ok(_) => {
            let random = ferriam::tokens::opaque::random_token();
            Ok(Store {
                prefix: format!("ferriam-bench:{}:", &random[..16]),
                addr,
            })
        }
        Err(e) => Err(format!(
            "Redis is unreachable at {addr} ({e:#}); install and start it (apt-get install redis-server) for the peer's userinfo workload"
        )),
    }
}

impl Peer {
    /// Starts the provider with `workers` workers, asking it for `userinfo_tokens` userinfo
    /// access tokens when Redis answers, and checks its grants before any run.
    pub async fn start(
        dir: &Path,
        workers: usize,
        log: &Path,
        userinfo_tokens: usize,
    ) -> Result<Self> {
        let port = free_port()?;
        let secret = ferriam::tokens::opaque::random_token();
        let store = open_store().await;
        let log_file = std::fs::File::create(log)?;
        let mut command = Command::new("node");
        command
            .arg("provider.mjs")
            .current_dir(dir)
            .env("PEER_PORT", port.to_string())
            .env("PEER_WORKERS", workers.to_string())
            .env("PEER_CLIENT_SECRET", &secret)
            .env("PEER_COOKIE_KEY", ferriam::tokens::opaque::random_token())
            .env("NODE_ENV", "production");
        if let Ok(store) = &store {
            store.configure(&mut command, userinfo_tokens);
        }
        command.stderr(Stdio::from(log_file));
        let started = Announcing::spawn(&mut command, Duration::from_secs(60))
            .await
            .context("cannot run node")?;
        let ready = ready_line(started.first_line.as_deref(), log)?;
        let (minted, store) = match store {
            Ok(store) => (minted_tokens(ready), Some(store)),
            Err(why) => (Err(why), None),
        };
        let mut peer = Self {
            process: started,
            issuer: format!("http://127.0.0.1:{port}"),
            workers,
            version: installed_version(dir),
            clients: clients(&secret),
            userinfo: Err("not checked".into()),
            introspection: Err("not checked".into()),
            store,
        };
        if let Err(e) = peer.check().await {
            let _ = peer.stop().await;
            return Err(e);
        }
        peer.userinfo = match minted {
            Ok(tokens) => peer
                .check_userinfo(tokens)
                .await
                .map_err(|e| format!("{e:#}")),
            Err(why) => Err(why),
        };
        peer.introspection = match &peer.userinfo {
            Ok(userinfo) => peer
                .check_introspection(userinfo.tokens.clone())
                .await
                .map_err(|e| format!("{e:#}")),
            Err(why) => Err(why.clone()),
        };
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

    /// The URL the peer's discovery document gives for `field`.
    async fn endpoint(&self, http: &reqwest::Client, field: &str) -> Result<String> {
        let discovery: serde_json::Value = http
            .get(format!("{}/.well-known/openid-configuration", self.issuer))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        discovery[field]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the peer's discovery document has no {field}"))
    }

    /// Finds the userinfo endpoint in the discovery document and checks that it answers the
    /// first minted token with the account's claims.
    async fn check_userinfo(&self, tokens: Vec<String>) -> Result<PeerUserinfo> {
        let http = crate::http::client()?;
        let url = self.endpoint(&http, "userinfo_endpoint").await?;
        let token = tokens
            .first()
            .ok_or_else(|| anyhow!("the peer minted no userinfo token"))?;
        let response = http.get(&url).bearer_auth(token).send().await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() || !body.contains("\"email\"") {
            bail!("the peer's userinfo endpoint answered {status}: {body}");
        }
        Ok(PeerUserinfo { url, tokens })
    }

    /// Finds the introspection endpoint in the discovery document and checks that the first
    /// RS256 client, as a resource server, gets the first minted token introspected as active.
    async fn check_introspection(&self, tokens: Vec<String>) -> Result<PeerUserinfo> {
        let http = crate::http::client()?;
        let url = self.endpoint(&http, "introspection_endpoint").await?;
        let token = tokens
            .first()
            .ok_or_else(|| anyhow!("the peer minted no access token"))?;
        let (_, client) = self
            .clients
            .first()
            .ok_or_else(|| anyhow!("the peer has no client"))?;
        let response = http
            .post(&url)
            .header(
                reqwest::header::AUTHORIZATION,
                crate::http::basic(&client.id, &client.secret),
            )
            .form(&[("token", token.as_str())])
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        if !status.is_success() || !body.contains("\"active\":true") {
            bail!("the peer's introspection endpoint answered {status}: {body}");
        }
        Ok(PeerUserinfo { url, tokens })
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    pub fn tree(&self) -> ProcTree {
        self.process.tree()
    }

    /// SIGTERM to the primary (it stops its workers), killed after 10 s; then this run's keys
    /// are deleted from Redis.
    pub async fn stop(mut self) -> Result<()> {
        let stopped = self.terminate().await;
        self.forget_store().await;
        stopped
    }

    async fn terminate(&mut self) -> Result<()> {
        let started = Instant::now();
        if self
            .process
            .terminate(Duration::from_secs(10))
            .await?
            .is_none()
        {
            bail!(
                "node-oidc-provider did not stop within {:?}; killed",
                started.elapsed()
            );
        }
        Ok(())
    }

    /// Deletes the keys the peer wrote to Redis (they would expire in hours anyway).
    async fn forget_store(&self) {
        let Some(store) = &self.store else {
            return;
        };
        let deleted = async {
            Redis::connect(&store.addr)
                .await?
                .delete_prefix(&store.prefix)
                .await
        }
        .await;
        match deleted {
            Ok(n) => eprintln!("==> deleted the peer's {n} Redis keys ({}*)", store.prefix),
            Err(e) => eprintln!(
                "ferriam-bench: could not delete the peer's Redis keys {}*: {e:#}",
                store.prefix
            ),
        }
    }
}

/// The userinfo tokens on the ready line, or why there are none.
fn minted_tokens(ready: ReadyLine) -> std::result::Result<Vec<String>, String> {
    match ready.userinfo_error {
        Some(e) => Err(e),
        None if ready.userinfo_tokens.is_empty() => {
            Err("the peer was asked for no userinfo tokens".into())
        }
        None => Ok(ready.userinfo_tokens),
    }
}

/// The installed oidc-provider's version.
fn installed_version(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "9".into())
}

/// The provider script's client_credentials clients, one per algorithm.
fn clients(secret: &str) -> Vec<(String, ClientCreds)> {
    ["RS256", "ES256"]
        .iter()
        .map(|alg| {
            (
                alg.to_string(),
                ClientCreds {
                    id: format!("bench-cc-{alg}"),
                    secret: secret.to_owned(),
                },
            )
        })
        .collect()
}

/// Where the peer lives: target/bench/peer.
pub fn peer_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("peer")
}
