//! `wrk` for the workloads that hammer one endpoint with one fixed request (client
//! credentials, userinfo, JWKS, discovery): a C load generator uses far less of the shared
//! CPU than the Rust driver, so more of the machine is left to the server. Installed with
//! `apt-get install -y wrk` when missing (full runs only); without it the Rust driver runs.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;

use crate::driver::Sample;

/// One fixed HTTP request.
#[derive(Clone, Debug)]
pub struct WrkRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

/// Whether `wrk` can be used, installing it with apt-get if `install` and it is missing.
pub async fn available(install: bool) -> bool {
    if found().await {
        return true;
    }
    if !install {
        return false;
    }
    eprintln!("==> installing wrk with apt-get");
    let installed = Command::new("apt-get")
        .args(["install", "-y", "-q", "wrk"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .status();
    match tokio::time::timeout(Duration::from_secs(300), installed).await {
        Ok(Ok(s)) if s.success() => found().await,
        _ => false,
    }
}

async fn found() -> bool {
    Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok()
}

/// Lua string literal.
fn lua(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Runs wrk with one thread and `concurrency` connections for `duration`.
pub async fn run(
    request: &WrkRequest,
    concurrency: usize,
    duration: Duration,
    scratch: &Path,
) -> Result<Sample> {
    let mut script = format!("wrk.method = {}\n", lua(request.method));
    for (name, value) in &request.headers {
        script.push_str(&format!("wrk.headers[{}] = {}\n", lua(name), lua(value)));
    }
    if let Some(body) = &request.body {
        script.push_str(&format!("wrk.body = {}\n", lua(body)));
    }
    let script_path = scratch.join("wrk-request.lua");
    std::fs::write(&script_path, script)?;
    let secs = duration.as_secs().max(1);
    let child = Command::new("wrk")
        .args(["-t", "1", "-c", &concurrency.max(1).to_string()])
        .args([
            "-d",
            &format!("{secs}s"),
            "--timeout",
            "10s",
            "--latency",
            "-s",
        ])
        .arg(&script_path)
        .arg(&request.url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot run wrk")?;
    let out = tokio::time::timeout(duration + Duration::from_secs(30), child.wait_with_output())
        .await
        .map_err(|_| anyhow!("wrk did not finish"))??;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "wrk failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse(&text).with_context(|| format!("cannot read wrk's output:\n{text}"))
}

/// A wrk duration such as `812.00us`, `1.23ms` or `1.01s`, in milliseconds.
fn millis(s: &str) -> Option<f64> {
    let (number, factor) = if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * factor)
}

fn parse(text: &str) -> Result<Sample> {
    let mut percentiles = [None; 3];
    let mut requests = None;
    let mut seconds = None;
    let mut errors = 0u64;
    let mut messages = Vec::new();
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => percentiles[0] = millis(v),
            ["90%", v] => percentiles[1] = millis(v),
            ["99%", v] => percentiles[2] = millis(v),
            [n, "requests", "in", t, ..] => {
                requests = n.parse::<u64>().ok();
                seconds = millis(t.trim_end_matches(',')).map(|ms| ms / 1000.0);
            }
            ["Non-2xx", "or", "3xx", "responses:", n] => {
                let n: u64 = n.parse().unwrap_or(1);
                errors += n;
                messages.push(format!("{n} responses were not 2xx or 3xx"));
            }
            ["Socket", "errors:", ..] => {
                let n: u64 = words
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                    .sum();
                errors += n;
                if n > 0 {
                    messages.push(line.to_owned());
                }
            }
            _ => {}
        }
    }
    let requests = requests.ok_or_else(|| anyhow!("no request count"))?;
    let seconds = seconds.ok_or_else(|| anyhow!("no duration"))?;
    let [Some(p50), Some(p90), Some(p99)] = percentiles else {
        bail!("no latency distribution");
    };
    Ok(Sample {
        ops: requests.saturating_sub(errors),
        errors,
        elapsed: Duration::from_secs_f64(seconds),
        latencies_us: Vec::new(),
        fixed_percentiles_ms: Some([p50, p90, p99]),
        error_messages: messages,
        exhausted: false,
        tool: "wrk",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_output() {
        let text = "Running 2s test @ http://127.0.0.1:1/jwks
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   312.51us  100.00us   5.00ms   90.00%
  Latency Distribution
     50%  300.00us
     75%  350.00us
     90%  400.00us
     99%    1.20ms
  100000 requests in 2.00s, 50.00MB read
  Non-2xx or 3xx responses: 3
Requests/sec:  50000.00
Transfer/sec:     25.00MB
";
        let s = parse(text).unwrap();
        assert_eq!(s.ops, 99_997);
        assert_eq!(s.errors, 3);
        assert!((s.rate() - 49_998.5).abs() < 1.0);
        assert_eq!(s.percentile_ms(99.0), 1.2);
        assert_eq!(s.percentile_ms(50.0), 0.3);
    }
}
