//! The machine's limits, measured in the same run with the server's own code: signatures per
//! second with Ferriam's `SigningKey` (aws-lc-rs) for RSA-2048, P-256 and Ed25519, and
//! argon2id verifications per second with Ferriam's `PasswordHasher` at the configured
//! parameters, each on as many threads as the machine has cores.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use ferriam::password::PasswordHasher;
use ferriam::tokens::keys::SigningKey;
use ferriam_protocol::client::SigningAlg;

/// Which limit a workload is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    Rs256,
    Es256,
    EdDsa,
    Argon2,
}

impl LimitKind {
    pub fn label(self) -> &'static str {
        match self {
            LimitKind::Rs256 => "RS256 signatures",
            LimitKind::Es256 => "ES256 signatures",
            LimitKind::EdDsa => "EdDSA signatures",
            LimitKind::Argon2 => "argon2id hashes",
        }
    }
}

/// Operations per second the hardware allows.
#[derive(Clone, Debug, Default)]
pub struct Limits {
    pub threads: usize,
    pub rs256: f64,
    pub es256: f64,
    pub eddsa: f64,
    pub argon2: f64,
    /// `m=…KiB t=… p=…`
    pub argon2_params: String,
}

impl Limits {
    pub fn get(&self, kind: LimitKind) -> f64 {
        match kind {
            LimitKind::Rs256 => self.rs256,
            LimitKind::Es256 => self.es256,
            LimitKind::EdDsa => self.eddsa,
            LimitKind::Argon2 => self.argon2,
        }
    }

    /// The average of two measurements (start and end of the run), to even out drift.
    pub fn average(&self, other: &Limits) -> Limits {
        let avg = |a: f64, b: f64| (a + b) / 2.0;
        Limits {
            threads: self.threads,
            rs256: avg(self.rs256, other.rs256),
            es256: avg(self.es256, other.es256),
            eddsa: avg(self.eddsa, other.eddsa),
            argon2: avg(self.argon2, other.argon2),
            argon2_params: self.argon2_params.clone(),
        }
    }
}

pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Measures every limit for `duration` each.
pub async fn measure(duration: Duration) -> Result<Limits> {
    let threads = cores();
    let rs256 = signatures_per_second(SigningAlg::RS256, threads, duration).await?;
    let es256 = signatures_per_second(SigningAlg::ES256, threads, duration).await?;
    let eddsa = signatures_per_second(SigningAlg::EdDSA, threads, duration).await?;
    let (argon2, argon2_params) = hashes_per_second(threads, duration).await?;
    Ok(Limits {
        threads,
        rs256,
        es256,
        eddsa,
        argon2,
        argon2_params,
    })
}

/// Measures one limit for `duration`, right before and right after the workload compared with
/// it, so that the fraction holds even while other work on the machine comes and goes.
/// Returns operations per wall-clock second and per CPU-second of the measuring threads; the
/// latter does not move when other processes take CPU from the machine.
pub async fn measure_one(kind: LimitKind, duration: Duration) -> Result<Rate> {
    let threads = cores();
    match kind {
        LimitKind::Rs256 => signatures(SigningAlg::RS256, threads, duration).await,
        LimitKind::Es256 => signatures(SigningAlg::ES256, threads, duration).await,
        LimitKind::EdDsa => signatures(SigningAlg::EdDSA, threads, duration).await,
        LimitKind::Argon2 => Ok(hashes(threads, duration).await?.0),
    }
}

/// A measured rate.
#[derive(Clone, Copy, Debug)]
pub struct Rate {
    pub per_second: f64,
    pub per_cpu_second: f64,
}

impl Rate {
    /// The average of two measurements of the same limit.
    pub fn mean(&self, other: &Rate) -> Rate {
        Rate {
            per_second: (self.per_second + other.per_second) / 2.0,
            per_cpu_second: (self.per_cpu_second + other.per_cpu_second) / 2.0,
        }
    }
}

/// CPU seconds this process has used so far.
fn own_cpu() -> f64 {
    crate::procfs::ProcTree::new(std::process::id()).cpu_seconds()
}

fn rate(count: u64, wall: Duration, cpu: f64) -> Rate {
    Rate {
        per_second: count as f64 / wall.as_secs_f64(),
        per_cpu_second: if cpu > 0.0 { count as f64 / cpu } else { 0.0 },
    }
}

async fn signatures_per_second(alg: SigningAlg, threads: usize, duration: Duration) -> Result<f64> {
    Ok(signatures(alg, threads, duration).await?.per_second)
}

async fn hashes_per_second(threads: usize, duration: Duration) -> Result<(f64, String)> {
    let (r, params) = hashes(threads, duration).await?;
    Ok((r.per_second, params))
}

/// A JWS signing input of the size of an access token's header and claims.
fn signing_input() -> Vec<u8> {
    let mut input = b"eyJhbGciOiJSUzI1NiIsImtpZCI6IjAxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3OCIsInR5cCI6ImF0K2p3dCJ9.".to_vec();
    input.extend(std::iter::repeat_n(b'x', 300));
    input
}

async fn signatures(alg: SigningAlg, threads: usize, duration: Duration) -> Result<Rate> {
    let (key, _) = SigningKey::generate(alg).map_err(|e| anyhow!("{alg:?} key: {e}"))?;
    let key = Arc::new(key);
    tokio::task::spawn_blocking(move || {
        let message = signing_input();
        let count = AtomicU64::new(0);
        let cpu_start = own_cpu();
        let start = Instant::now();
        let deadline = start + duration;
        let failed = AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    // Bounded by time; the count cap only guards against a broken clock.
                    for _ in 0..100_000_000u64 {
                        if Instant::now() >= deadline {
                            break;
                        }
                        if key.sign(&message).is_err() {
                            failed.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        if failed.load(Ordering::Relaxed) > 0 {
            return Err(anyhow!("{alg:?} signing failed"));
        }
        let wall = start.elapsed();
        Ok(rate(
            count.load(Ordering::Relaxed),
            wall,
            own_cpu() - cpu_start,
        ))
    })
    .await?
}

/// argon2id verifications per second through the server's `PasswordHasher` (a sign-in
/// verifies one hash), at the parameters `ferriam serve` would load.
async fn hashes(threads: usize, duration: Duration) -> Result<(Rate, String)> {
    let config = ferriam::config::Config::load(None)?;
    let params = format!(
        "m={} KiB, t={}, p={}",
        config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism
    );
    let hasher = PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
    )?;
    let hash = hasher.hash(crate::http::PASSWORD.to_owned()).await?;
    // A hash takes tens of milliseconds: measure for at least a second.
    let cpu_start = own_cpu();
    let start = Instant::now();
    let deadline = start + duration.max(Duration::from_secs(1));
    let mut tasks = Vec::new();
    for _ in 0..threads {
        let (hasher, hash) = (hasher.clone(), hash.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline && n < 1_000_000 {
                if !hasher
                    .verify(crate::http::PASSWORD.to_owned(), Some(hash.clone()))
                    .await
                {
                    return Err(anyhow!("argon2id verification failed"));
                }
                n += 1;
            }
            Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    let wall = start.elapsed();
    Ok((rate(total, wall, own_cpu() - cpu_start), params))
}
