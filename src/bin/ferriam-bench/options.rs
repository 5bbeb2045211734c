//! The command line of `ferriam-bench`.

use std::time::Duration;

use clap::Parser;

use crate::baseline::Signing;

/// Measures Ferriam's throughput, latency, CPU and memory against the machine's limits
/// (signatures/s, argon2id hashes/s) and, with `--peer`, against node-oidc-provider.
#[derive(Parser, Debug, Clone)]
#[command(name = "ferriam-bench", version)]
pub struct Options {
    /// Seconds each workload runs at each concurrency.
    #[arg(long, default_value_t = 15)]
    pub duration: u64,
    /// Concurrent connections (comma-separated list).
    #[arg(long, value_delimiter = ',', default_values_t = [16, 64])]
    pub concurrency: Vec<usize>,
    /// Also run every workload on PostgreSQL (FERRIAM_TEST_POSTGRES, default
    /// postgres://postgres@127.0.0.1:5432/test), in a fresh schema dropped afterwards.
    #[arg(long)]
    pub postgres: bool,
    /// Also run the client_credentials and userinfo workloads against node-oidc-provider
    /// (installed with npm under target/bench/peer on first use; userinfo needs Redis on
    /// 127.0.0.1:6379, or FERRIAM_BENCH_REDIS=host:port, for the peer's tokens).
    #[arg(long)]
    pub peer: bool,
    /// Smoke mode for CI: a few seconds per workload at one concurrency; exits non-zero if any
    /// workload had an error.
    #[arg(long)]
    pub quick: bool,
    /// Load generator for single-endpoint workloads (including code exchange and refresh):
    /// `wrk` (installed with apt-get if missing), `rust` (the built-in driver), or `auto` (wrk
    /// on full runs when it can be had, the Rust driver under --quick). The multi-step sign-in
    /// always uses the Rust driver.
    #[arg(long, default_value = "auto", value_parser = ["auto", "wrk", "rust"])]
    pub load_tool: String,
    /// Run only the workloads whose name contains one of these words (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where the report goes (default: target/bench next to the build).
    #[arg(long)]
    pub out_dir: Option<std::path::PathBuf>,
    /// Internal: serve the bare reference endpoint (see `baseline`) instead of benchmarking.
    #[arg(long, hide = true, value_enum)]
    pub serve_baseline: Option<Signing>,
}

impl Options {
    /// How long each workload runs.
    pub fn workload_duration(&self) -> Duration {
        if self.quick {
            Duration::from_secs(2)
        } else {
            Duration::from_secs(self.duration.max(1))
        }
    }

    /// The concurrencies to run at.
    pub fn concurrencies(&self) -> Vec<usize> {
        if self.quick {
            vec![self.concurrency.first().copied().unwrap_or(16).clamp(1, 16)]
        } else {
            let mut c: Vec<usize> = self.concurrency.iter().map(|&c| c.clamp(1, 1024)).collect();
            c.dedup();
            c
        }
    }

    /// How long each limit (signatures/s, hashes/s) is measured.
    pub fn limit_duration(&self) -> Duration {
        if self.quick {
            Duration::from_millis(700)
        } else {
            Duration::from_secs(2)
        }
    }

    /// How long the server is warmed up before the first workload.
    pub fn warmup(&self) -> Duration {
        if self.quick {
            Duration::from_secs(1)
        } else {
            Duration::from_secs(3)
        }
    }

    /// Whether a workload is selected by `--only`.
    pub fn selected(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|w| name.contains(w.as_str()))
    }
}
