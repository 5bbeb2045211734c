//! `wrk` for the workloads that hammer one endpoint (client credentials, code exchange,
//! refresh, userinfo, JWKS, discovery): a C load generator uses far less of the shared CPU
//! than the Rust driver, so more of the machine is left to the server. Requests that change
//! each time (codes, refresh tokens) are fed by a small Lua script, which also checks each
//! answer. Installed with `apt-get install -y wrk` when missing (full runs only); without it
//! the Rust driver runs.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;

use crate::driver::Sample;

/// What every request of a wrk run sends as its body.
#[derive(Clone, Debug)]
pub enum WrkBody {
    None,
    /// The same body every time.
    Fixed(String),
    /// The next of these for each request, each used once (authorization codes, oldest
    /// first). When they run out the run stops early and is marked exhausted: its rate, taken
    /// over the whole duration, is then an underestimate.
    EachOnce(Vec<String>),
    /// `prefix` followed by a token from a pool: a good answer's `refresh_token` goes back
    /// into the pool, so each connection follows its own rotation chain.
    Chain {
        prefix: String,
        tokens: Vec<String>,
    },
}

/// One HTTP request, fixed or fed.
#[derive(Clone, Debug)]
pub struct WrkRequest {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: WrkBody,
    /// What a 200 answer must contain to count as a success. Checked only for fed bodies:
    /// handing each answer to the script costs wrk time a fixed request need not spend.
    pub expect: &'static str,
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

/// The request script: fixed requests are plain settings, fed ones a `request` function that
/// takes the next body and a `response` function that checks the answer (and, for a chain,
/// puts the new token back). `done` prints what the script counted, for [`parse`].
fn script(request: &WrkRequest, feed: &Path) -> String {
    let mut script = format!("wrk.method = {}\n", lua(request.method));
    for (name, value) in &request.headers {
        let _ = writeln!(script, "wrk.headers[{}] = {}", lua(name), lua(value));
    }
    let (prefix, chain) = match &request.body {
        WrkBody::None => return script,
        WrkBody::Fixed(body) => {
            let _ = writeln!(script, "wrk.body = {}", lua(body));
            return script;
        }
        WrkBody::EachOnce(_) => ("", false),
        WrkBody::Chain { prefix, .. } => (prefix.as_str(), true),
    };
    let _ = write!(
        script,
        r#"feed = {{}}
failed = 0
exhausted = 0
local prefix = {prefix}
local expect = {expect}
local chain = {chain}
function init(args)
  for line in io.lines({feed}) do feed[#feed + 1] = line end
end
function request()
  local item = table.remove(feed)
  if item == nil then
    exhausted = 1
    wrk.thread:stop()
    item = ""
  end
  return wrk.format(nil, nil, nil, prefix .. item)
end
function response(status, headers, body)
  if status ~= 200 then
    -- wrk counts statuses above 399 itself.
    if status < 400 then failed = failed + 1 end
    return
  end
  if not body:find(expect, 1, true) then failed = failed + 1 end
  if chain then
    local token = body:match('"refresh_token":"([^"]+)"')
    if token then feed[#feed + 1] = token else failed = failed + 1 end
  end
end
local threads = {{}}
function setup(thread) threads[#threads + 1] = thread end
function done(summary, latency, requests)
  local f, e = 0, 0
  for _, t in ipairs(threads) do
    f = f + t:get("failed")
    e = e + t:get("exhausted")
  end
  io.write(string.format("script-failed %d\nscript-exhausted %d\n", f, e))
end
"#,
        prefix = lua(prefix),
        expect = lua(request.expect),
        feed = lua(&feed.to_string_lossy()),
    );
    script
}

/// The lines the script feeds from, in the order `table.remove` takes them (from the end).
fn feed_lines(body: &WrkBody) -> Option<String> {
    let items: Vec<&String> = match body {
        WrkBody::EachOnce(bodies) => bodies.iter().rev().collect(),
        WrkBody::Chain { tokens, .. } => tokens.iter().collect(),
        WrkBody::None | WrkBody::Fixed(_) => return None,
    };
    Some(items.iter().map(|item| format!("{item}\n")).collect())
}

/// Runs wrk with one thread and `concurrency` connections for `duration`.
pub async fn run(
    request: &WrkRequest,
    concurrency: usize,
    duration: Duration,
    scratch: &Path,
) -> Result<Sample> {
    let feed_path = scratch.join("wrk-feed.txt");
    if let Some(lines) = feed_lines(&request.body) {
        std::fs::write(&feed_path, lines)?;
    }
    let script_path = scratch.join("wrk-request.lua");
    std::fs::write(&script_path, script(request, &feed_path))?;
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
    let mut exhausted = false;
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
            ["script-failed", n] => {
                let n: u64 = n.parse().unwrap_or(1);
                errors += n;
                if n > 0 {
                    messages.push(format!("{n} answers lacked what they should carry"));
                }
            }
            ["script-exhausted", n] => exhausted = *n != "0",
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
        exhausted,
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
        assert!(!s.exhausted);
    }

    #[test]
    fn counts_what_the_script_found_wrong() {
        let text = "  Latency Distribution
     50%  300.00us
     90%  400.00us
     99%    1.20ms
  1000 requests in 2.00s, 50.00MB read
  Non-2xx or 3xx responses: 3
script-failed 2
script-exhausted 1
";
        let s = parse(text).unwrap();
        assert_eq!(s.errors, 5);
        assert_eq!(s.ops, 995);
        assert!(s.exhausted);
        assert_eq!(s.error_messages.len(), 2);
    }

    fn request(body: WrkBody) -> WrkRequest {
        WrkRequest {
            method: "POST",
            url: "http://127.0.0.1:1/token".into(),
            headers: vec![("Authorization".into(), "Basic \"x\"".into())],
            body,
            expect: "\"id_token\"",
        }
    }

    #[test]
    fn a_fixed_request_has_no_response_callback() {
        let lua = script(&request(WrkBody::Fixed("a=b".into())), Path::new("feed"));
        assert!(lua.contains("wrk.body = \"a=b\""));
        assert!(lua.contains("wrk.headers[\"Authorization\"] = \"Basic \\\"x\\\"\""));
        assert!(!lua.contains("function response"));
        assert!(feed_lines(&request(WrkBody::None).body).is_none());
    }

    #[test]
    fn fed_requests_take_the_oldest_first_and_chains_put_tokens_back() {
        let once = request(WrkBody::EachOnce(vec!["first".into(), "second".into()]));
        // table.remove takes from the end, so the first body is written last.
        assert_eq!(feed_lines(&once.body).unwrap(), "second\nfirst\n");
        let lua = script(&once, Path::new("/tmp/feed.txt"));
        assert!(lua.contains("io.lines(\"/tmp/feed.txt\")"));
        assert!(lua.contains("local chain = false"));
        let chain = request(WrkBody::Chain {
            prefix: "grant_type=refresh_token&refresh_token=".into(),
            tokens: vec!["t1".into(), "t2".into()],
        });
        assert_eq!(feed_lines(&chain.body).unwrap(), "t1\nt2\n");
        let lua = script(&chain, Path::new("feed"));
        assert!(lua.contains("local chain = true"));
        assert!(lua.contains("local prefix = \"grant_type=refresh_token&refresh_token=\""));
        assert!(lua.contains("local expect = \"\\\"id_token\\\"\""));
    }
}
