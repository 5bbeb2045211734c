//! Runs the release `ferriam` binary the way an operator would: `ferriam serve` on a fresh
//! database, seeded through `ferriam user create` / `client create` / `key rotate`, with a
//! settings file of its own (codes by email to the benchmark's SMTP sink, and the rule that asks
//! for one), and stopped with SIGTERM. The child is killed if the benchmark ends early.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

use crate::procfs::ProcTree;

/// The `ferriam` binary built next to this one by the same `cargo build --release --bins`.
pub fn ferriam_binary() -> Result<PathBuf> {
    let me = std::env::current_exe().context("cannot locate ferriam-bench itself")?;
    let dir = me
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", me.display()))?;
    let bin = dir.join(format!("ferriam{}", std::env::consts::EXE_SUFFIX));
    if !bin.is_file() {
        bail!(
            "{} not found: build both binaries with `cargo build --release --bins` first \
             (`cargo run --release --bin ferriam-bench` builds only the benchmark)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A scratch directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "ferriam-bench-{label}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Self(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A database for one series of workloads: a SQLite file in a scratch directory, or a
/// PostgreSQL schema of its own.
pub struct Database {
    pub label: &'static str,
    pub url: String,
    _dir: Option<TempDir>,
    pg: Option<ferriam::testing::PgSchema>,
}

impl Database {
    pub fn sqlite() -> Result<Self> {
        let dir = TempDir::new("sqlite")?;
        let url = format!("sqlite://{}/ferriam.db", dir.0.display());
        Ok(Self {
            label: "SQLite",
            url,
            _dir: Some(dir),
            pg: None,
        })
    }

    pub async fn postgres() -> Result<Self> {
        let schema = ferriam::testing::PgSchema::create().await.ok_or_else(|| {
            anyhow!(
                "PostgreSQL at {} is unreachable (set FERRIAM_TEST_POSTGRES)",
                ferriam::testing::postgres_base_url()
            )
        })?;
        Ok(Self {
            label: "PostgreSQL",
            url: schema.url.clone(),
            _dir: None,
            pg: Some(schema),
        })
    }

    /// Drops the PostgreSQL schema (the SQLite directory goes with `Drop`).
    pub async fn remove(mut self) {
        if let Some(pg) = self.pg.take() {
            pg.drop().await;
        }
    }
}

/// Runs one `ferriam` CLI command against `db_url` and returns its JSON output.
pub async fn cli(bin: &Path, db_url: &str, args: &[&str], stdin: Option<&str>) -> Result<Value> {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .arg("--database-url")
        .arg(db_url)
        .env("FERRIAM_LOG", "warn")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(format!("{input}\n").as_bytes()).await?;
        drop(pipe);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .map_err(|_| anyhow!("ferriam {} did not finish within 60 s", args.join(" ")))??;
    if !out.status.success() {
        bail!(
            "ferriam {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    if out.stdout.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("ferriam {} printed no JSON", args.join(" ")))
}

/// A child process that announces itself on the first line of its standard output (its
/// address, or that it is ready); killed if dropped.
pub struct Announcing {
    pub child: Child,
    /// Kept open: the child may write more, and a closed pipe would end it.
    _stdout: BufReader<ChildStdout>,
    pub pid: u32,
    /// The first line, or `None` if none came within the wait.
    pub first_line: Option<String>,
}

impl Announcing {
    /// Spawns `command` with stdin closed and stdout piped, and waits up to `wait` for the
    /// first line it prints.
    pub async fn spawn(command: &mut Command, wait: Duration) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or_else(|| anyhow!("exited at once"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let read = tokio::time::timeout(wait, stdout.read_line(&mut line)).await;
        let first_line = matches!(read, Ok(Ok(n)) if n > 0).then_some(line);
        Ok(Self {
            child,
            _stdout: stdout,
            pid,
            first_line,
        })
    }

    /// The process and the processes it started.
    pub fn tree(&self) -> ProcTree {
        ProcTree::new(self.pid)
    }

    /// Sends SIGTERM and waits up to `within` for the process to exit; if it has not, kills
    /// it and every process it started, and answers `None`.
    pub async fn terminate(&mut self, within: Duration) -> Result<Option<ExitStatus>> {
        terminate(self.pid);
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => Ok(Some(status?)),
            Err(_) => {
                for pid in self.tree().pids() {
                    let _ = std::process::Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
                let _ = self.child.kill().await;
                Ok(None)
            }
        }
    }
}

/// The sign-in limits per client address and per destination, raised far above what a run
/// reaches but still counted (0 would turn them off and skip their work): every simulated
/// user signs in from 127.0.0.1, and each address of the email-code sign-in gets a code
/// every second or so. Environment variables, since a name the server does not know is only
/// warned about, where the settings file would be refused.
const RAISED_LIMITS: [(&str, &str); 2] = [
    ("FERRIAM_SIGNIN_MAX_FAILURES_PER_IP", "1000000000"),
    ("FERRIAM_OTP_MAX_SENDS_PER_DESTINATION", "1000000000"),
];

/// A running `ferriam serve`.
pub struct Ferriam {
    process: Announcing,
    pub issuer: String,
    /// From spawn to the first answered request.
    pub ready_after: Duration,
}

impl Ferriam {
    /// Spawns `ferriam serve` with the settings file `config` and waits until it answers a
    /// request. Its log goes to `log`.
    pub async fn start(bin: &Path, db_url: &str, config: &Path, log: &Path) -> Result<Self> {
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let spawned = Instant::now();
        let mut command = Command::new(bin);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url", db_url])
            .arg("--config")
            .arg(config)
            .envs(RAISED_LIMITS)
            .env("FERRIAM_LOG", "warn")
            .stderr(Stdio::from(log_file));
        let started = Announcing::spawn(&mut command, Duration::from_secs(60))
            .await
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let issuer = match &started.first_line {
            Some(line) => serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v["issuer"].as_str().map(str::to_owned))
                .ok_or_else(|| anyhow!("ferriam serve printed {line:?}, not its JSON line"))?,
            None => bail!(
                "ferriam serve did not report ready within 60 s; see {}",
                log.display()
            ),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let url = format!("{issuer}/.well-known/openid-configuration");
        let mut answered = false;
        for _ in 0..2000 {
            if matches!(http.get(&url).send().await, Ok(r) if r.status().is_success()) {
                answered = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if !answered {
            bail!("ferriam serve printed its address but does not answer {url}");
        }
        Ok(Self {
            ready_after: spawned.elapsed(),
            process: started,
            issuer,
        })
    }

    pub fn tree(&self) -> ProcTree {
        self.process.tree()
    }

    /// Stops with SIGTERM (the server finishes requests in flight), or kills after 15 s.
    pub async fn stop(mut self) -> Result<Duration> {
        let started = Instant::now();
        match self.process.terminate(Duration::from_secs(15)).await? {
            Some(status) if status.success() => Ok(started.elapsed()),
            Some(status) => bail!("ferriam serve exited with {status} after SIGTERM"),
            None => bail!("ferriam serve did not stop within 15 s of SIGTERM; killed"),
        }
    }
}

/// Writes the settings file the server runs with into `dir`: codes by email through the SMTP
/// sink at `smtp_url`, and one `[[mfa.rules]]` rule asking for an email code when signing in
/// to `email_client` (every other client keeps the password alone).
pub fn write_settings(dir: &Path, smtp_url: &str, email_client: &str) -> Result<PathBuf> {
    let path = dir.join("ferriam.toml");
    let text = format!(
        "[email]\nsmtp_url = {smtp_url:?}\nfrom = \"Ferriam bench <no-reply@bench.example>\"\n\n\
         [[mfa.rules]]\nname = \"bench-email-code\"\nwhen = {{ client = {email_client:?} }}\nrequire = [\"email\"]\n"
    );
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Sends SIGTERM to `pid`.
fn terminate(pid: u32) {
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stderr(Stdio::null())
        .status();
    if sent.is_err() {
        let _ = std::process::Command::new("sh")
            .args(["-c", &format!("kill -TERM {pid}")])
            .status();
    }
}
