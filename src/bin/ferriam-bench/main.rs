//! `ferriam-bench`: Ferriam's throughput, latency, CPU and memory, measured against the
//! machine's limits and (with `--peer`) node-oidc-provider, in one run on 127.0.0.1.
//!
//! `cargo run --release --bin ferriam-bench -- [--duration SECS] [--concurrency 16,64]
//! [--postgres] [--peer] [--quick]`
//!
//! Modules: [`options`] (command line), [`server`] (the `ferriam` binary and databases),
//! [`seed`] (CLI seeding, codes through the real sign-in), [`http`] (browser and token
//! helpers), [`driver`] (the load generator), [`workloads`] (the workload table), [`limits`]
//! (signatures and hashes per second), [`smtp`] (the SMTP sink the email-code sign-in reads
//! its codes from), [`procfs`] (CPU and RSS), [`wrk`] (the C load
//! generator for single-endpoint workloads), [`baseline`] (a bare endpoint that only signs,
//! the reference for RS256), [`peer`] (node-oidc-provider), [`redis`] (the peer's store),
//! [`revocation`] (the introspection and revocation workloads), [`report`] (markdown and
//! summary).

mod baseline;
mod driver;
mod http;
mod limits;
mod options;
mod peer;
mod procfs;
mod redis;
mod report;
mod revocation;
mod seed;
mod server;
mod smtp;
mod workloads;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use crate::limits::{LimitKind, Limits};
use crate::options::Options;
use crate::procfs::{Usage, UsageMeter};
use crate::report::{Comparison, Report, Row, ServerFigures};
use crate::revocation::Introspect;
use crate::server::{Database, Ferriam};
use crate::workloads::{AccessTokens, ClientCredentials, Plan, Userinfo, Workload};

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    if let Some(signing) = options.serve_baseline {
        return match baseline::serve(signing).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ferriam-bench: bare endpoint: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    match run(options).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ferriam-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// target/bench, next to the build directory the binaries are in.
fn default_out_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot find the target directory")?;
    Ok(target.join("bench"))
}

async fn run(options: Options) -> Result<ExitCode> {
    let bin = server::ferriam_binary()?;
    let out_dir = match &options.out_dir {
        Some(d) => d.clone(),
        None => default_out_dir()?,
    };
    std::fs::create_dir_all(&out_dir)
        .with_context(|| format!("cannot create {}", out_dir.display()))?;
    let command = format!(
        "cargo run --release --bin ferriam-bench --{}",
        std::env::args()
            .skip(1)
            .map(|a| format!(" {a}"))
            .collect::<String>()
    );
    let use_wrk = match options.load_tool.as_str() {
        "rust" => false,
        "wrk" => {
            if !wrk::available(true).await {
                anyhow::bail!("--load-tool wrk: wrk is missing and apt-get could not install it");
            }
            true
        }
        _ => !options.quick && wrk::available(true).await,
    };
    let bench = Bench {
        options: &options,
        limit_duration: options.limit_duration(),
        wrk_scratch: use_wrk.then(|| out_dir.clone()),
    };
    eprintln!("==> measuring the limits ({} threads)", limits::cores());
    let limits_start = limits::measure(options.limit_duration()).await?;
    let mut report = Report {
        command,
        machine: report::machine(),
        duration_s: options.workload_duration().as_secs(),
        limits_start: limits_start.clone(),
        limits_end: None,
        rows: Vec::new(),
        servers: Vec::new(),
        peer: None,
        peer_idle_kb: None,
        comparisons: Vec::new(),
        notes: Vec::new(),
    };
    let mut databases = vec![Database::sqlite()?];
    if options.postgres {
        databases.push(Database::postgres().await?);
    }
    let mut failure = None;
    for (i, db) in databases.into_iter().enumerate() {
        if failure.is_none() {
            let with_peer = options.peer && i == 0;
            if let Err(e) = run_database(
                &bench,
                &bin,
                &db,
                &limits_start,
                &out_dir,
                with_peer,
                &mut report,
            )
            .await
            {
                failure = Some(e.context(format!("on {}", db.label)));
            }
        }
        if i == 0 && failure.is_none() {
            if let Err(e) = run_baselines(&bench, &limits_start, &mut report).await {
                failure = Some(e);
            }
        }
        db.remove().await;
    }
    if let Some(e) = failure {
        // Keep what was measured before the failure.
        let _ = std::fs::write(out_dir.join("report.md"), report.markdown());
        return Err(e);
    }
    eprintln!("==> measuring the limits again");
    report.limits_end = Some(limits::measure(options.limit_duration()).await?);
    if !options.peer {
        report
            .notes
            .push("Run with --peer for the node-oidc-provider comparison.".into());
    }
    let path = out_dir.join("report.md");
    std::fs::write(&path, report.markdown())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("{}", report.summary());
    println!("report: {}", path.display());
    let errors = report.total_errors();
    if errors > 0 {
        eprintln!("ferriam-bench: {errors} errors across the workloads (see the report)");
        if options.quick {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What every measured run shares.
struct Bench<'a> {
    options: &'a Options,
    limit_duration: Duration,
    /// Where wrk's request script goes, when wrk is used.
    wrk_scratch: Option<PathBuf>,
}

/// Prepares and drives one workload at one concurrency, measuring the server meanwhile.
async fn measure(
    bench: &Bench<'_>,
    workload: &dyn Workload,
    server_label: &str,
    tree: procfs::ProcTree,
    concurrency: usize,
    limits: &Limits,
) -> Row {
    let duration = bench.options.workload_duration();
    let limit_rate = workload
        .limit()
        .map(|(kind, units)| limits.get(kind) / units)
        .unwrap_or(0.0);
    let plan = Plan {
        concurrency,
        duration,
        limit_rate,
    };
    eprintln!(
        "  {} · {} · concurrency {concurrency}",
        server_label,
        workload.name()
    );
    let mut row = Row {
        server: server_label.to_owned(),
        workload: workload.name().to_owned(),
        concurrency,
        sample: driver::Sample::default(),
        usage: Usage::default(),
        limit: workload.limit(),
        adjacent_limit: None,
        adjacent_cpu_limit: None,
    };
    let fail = |mut row: Row, what: &str, e: anyhow::Error| {
        row.sample.errors = 1;
        row.sample.error_messages = vec![format!("{what} failed: {e:#}")];
        row
    };
    let wrk_request = match &bench.wrk_scratch {
        Some(_) => match workload.wrk_request(&plan).await {
            Ok(r) => r,
            Err(e) => return fail(row, "preparation", e),
        },
        None => None,
    };
    let steps = match wrk_request {
        Some(_) => Vec::new(),
        None => match workload.prepare(&plan).await {
            Ok(steps) => steps,
            Err(e) => return fail(row, "preparation", e),
        },
    };
    let limit_kind = workload.limit().map(|(kind, _)| kind);
    let before = match limit_kind {
        Some(kind) => limits::measure_one(kind, bench.limit_duration).await.ok(),
        None => None,
    };
    let meter = UsageMeter::start(tree);
    let sample = match (&wrk_request, &bench.wrk_scratch) {
        (Some(request), Some(scratch)) => wrk::run(request, concurrency, duration, scratch).await,
        _ => driver::drive(steps, duration).await,
    };
    row.usage = meter.finish().await;
    // The limit is measured on both sides of the run and averaged: on a shared machine the
    // rate the hardware allows drifts by several percent within a minute.
    if let (Some(kind), Some(before)) = (limit_kind, before) {
        let after = limits::measure_one(kind, bench.limit_duration).await.ok();
        let rate = after.map_or(before, |after| before.mean(&after));
        row.adjacent_limit = Some(rate.per_second);
        row.adjacent_cpu_limit = Some(rate.per_cpu_second);
    }
    match sample {
        Ok(sample) => row.sample = sample,
        Err(e) => return fail(row, "load generation", e),
    }
    row
}

async fn run_database(
    bench: &Bench<'_>,
    bin: &Path,
    db: &Database,
    limits: &Limits,
    out_dir: &Path,
    with_peer: bool,
    report: &mut Report,
) -> Result<()> {
    let options = bench.options;
    let label = format!("Ferriam ({})", db.label);
    let log = out_dir.join(format!("ferriam-{}.log", db.label.to_lowercase()));
    let _ = std::fs::remove_file(&log);
    let sink = Arc::new(smtp::Sink::start(seed::EMAIL_CLIENT_NAME).await?);
    let settings_dir = server::TempDir::new("settings")?;
    let settings =
        server::write_settings(&settings_dir.0, &sink.smtp_url(), seed::EMAIL_CLIENT_ID)?;
    eprintln!("==> {label}: start on a new database");
    let first = Ferriam::start(bin, &db.url, &settings, &log).await?;
    let mut figures = ServerFigures {
        label: label.clone(),
        start_new_ms: first.ready_after.as_secs_f64() * 1000.0,
        ..ServerFigures::default()
    };
    first.stop().await?;
    eprintln!("==> {label}: seeding users, clients and keys through the CLI");
    // One user per task of the email-code sign-in, each with an address of its own.
    let email_users = if options.selected(report::EMAIL_SIGNIN_WORKLOAD) {
        options.concurrencies().into_iter().max().unwrap_or(0)
    } else {
        0
    };
    let seed = seed::seed(bin, &db.url, email_users).await?;
    let server = Ferriam::start(bin, &db.url, &settings, &log).await?;
    figures.start_existing_ms = server.ready_after.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_secs(1)).await;
    figures.idle_rss_kb = server.tree().rss_kb();
    eprintln!("==> {label}: first sign-in of every user, warm-up");
    let codes = seed::CodeFactory::new(&server.issuer, &seed).await?;
    let workloads = workloads::ferriam_workloads(&server.issuer, &seed, &codes, &sink);
    warm_up(&workloads, options.warmup()).await;
    let selected: Vec<&dyn Workload> = workloads
        .iter()
        .map(AsRef::as_ref)
        .filter(|w| options.selected(w.name()))
        .collect();
    for group in back_to_back(&selected) {
        for &c in &options.concurrencies() {
            for workload in &group {
                let row = measure(bench, *workload, &label, server.tree(), c, limits).await;
                figures.peak_rss_kb = figures.peak_rss_kb.max(row.usage.peak_rss_kb);
                report.rows.push(row);
            }
        }
    }
    if sink.unrouted() > 0 {
        report.notes.push(format!(
            "On {}, {} emails reached the SMTP sink without a code or without a sign-in waiting at their address.",
            db.label,
            sink.unrouted()
        ));
    }
    if with_peer {
        let ferriam = Paired {
            server: &server,
            seed: &seed,
            codes: &codes,
        };
        if let Err(e) = run_peer(bench, &ferriam, limits, out_dir, report).await {
            report
                .notes
                .push(format!("The peer comparison failed: {e:#}"));
            eprintln!("ferriam-bench: peer comparison failed: {e:#}");
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    figures.idle_after_kb = server.tree().rss_kb();
    figures.stop_ms = server.stop().await?.as_secs_f64() * 1000.0;
    report.servers.push(figures);
    Ok(())
}

/// The selected workloads in the order they run, each with those compared with it
/// ([`Workload::compared_with`]) right after it: a group runs at each concurrency in turn.
fn back_to_back<'a>(selected: &[&'a dyn Workload]) -> Vec<Vec<&'a dyn Workload>> {
    let is_selected = |name: &str| selected.iter().any(|w| w.name() == name);
    selected
        .iter()
        .filter(|w| !w.compared_with().is_some_and(is_selected))
        .map(|&w| {
            let mut group = vec![w];
            group.extend(
                selected
                    .iter()
                    .filter(|o| o.compared_with() == Some(w.name())),
            );
            group
        })
        .collect()
}

/// The bare endpoints of [`baseline`], under the load of each Ferriam workload they are the
/// reference for: client_credentials RS256 (one signature per answer), and code exchange or
/// refresh with `openid` (two).
async fn run_baselines(bench: &Bench<'_>, limits: &Limits, report: &mut Report) -> Result<()> {
    let selected = |name: &str| bench.options.selected(name);
    let one_signature = selected(report::RS256_WORKLOAD);
    let two_signatures = report::TWO_SIGNATURE_REFERENCES.iter().any(|w| selected(w));
    if !one_signature && !two_signatures {
        return Ok(());
    }
    for signing in baseline::Signing::BOTH {
        eprintln!("==> bare endpoint, {}", signing.describe());
        let bare = baseline::Bare::start(signing).await?;
        let shapes = [
            (one_signature, report::RS256_WORKLOAD, &bare.token_url, 1.0),
            (
                two_signatures,
                report::TWO_SIGNATURES_WORKLOAD,
                &bare.token_and_id_token_url,
                2.0,
            ),
        ];
        for (_, name, url, signatures) in shapes.into_iter().filter(|shape| shape.0) {
            let workload = ClientCredentials {
                name: name.to_owned(),
                token_url: url.clone(),
                authorization: http::basic("bench", "bench"),
                limit: Some((LimitKind::Rs256, signatures)),
            };
            for &c in &bench.options.concurrencies() {
                let row = measure(bench, &workload, signing.label(), bare.tree(), c, limits).await;
                report.rows.push(row);
            }
        }
    }
    Ok(())
}

/// Warms the server up on the cheap workloads (connections, allocator, caches); errors here
/// show up again in the measured runs.
async fn warm_up(workloads: &[Box<dyn Workload>], duration: Duration) {
    let plan = Plan {
        concurrency: 8,
        duration,
        limit_rate: 0.0,
    };
    for w in workloads
        .iter()
        .filter(|w| w.name().starts_with("client_credentials") || w.name() == "discovery")
    {
        if let Ok(steps) = w.prepare(&plan).await {
            let _ = driver::drive(steps, duration / 2).await;
        }
    }
}

/// What the peer pairs need of the Ferriam under measurement.
struct Paired<'a> {
    server: &'a Ferriam,
    seed: &'a seed::Seed,
    codes: &'a Arc<seed::CodeFactory>,
}

/// The name of the userinfo pair in the comparison table.
const USERINFO_PAIR: &str = "userinfo (Ferriam: JWT; peer: opaque, in Redis)";

/// client_credentials RS256 and ES256, then userinfo and introspection (each side with its own
/// access-token format), against node-oidc-provider, each right after the same workload against Ferriam.
async fn run_peer(
    bench: &Bench<'_>,
    ferriam: &Paired<'_>,
    limits: &Limits,
    out_dir: &Path,
    report: &mut Report,
) -> Result<()> {
    let options = bench.options;
    let dir = peer::peer_dir(out_dir);
    peer::install(&dir).await?;
    let workers = limits::cores();
    let userinfo_tokens =
        if options.selected(USERINFO_PAIR) || options.selected(report::INTROSPECTION_PAIR) {
            options.concurrencies().into_iter().max().unwrap_or(1)
        } else {
            0
        };
    eprintln!("==> node-oidc-provider with {workers} workers");
    let peer = peer::Peer::start(&dir, workers, &out_dir.join("peer.log"), userinfo_tokens).await?;
    let peer_label = format!("node-oidc-provider {}", peer.version);
    let store = if peer.userinfo.is_ok() {
        ", opaque userinfo access tokens and their grants in Redis, accounts answered from memory"
    } else {
        ""
    };
    report.peer = Some(format!(
        "{peer_label} (node {}, {} cluster workers, JWT access tokens for a resource indicator{store})",
        node_version().await,
        peer.workers
    ));
    tokio::time::sleep(Duration::from_secs(1)).await;
    report.peer_idle_kb = Some(peer.tree().rss_kb());
    let pairs = Pairs {
        bench,
        ferriam: ferriam.server,
        peer: &peer,
        peer_label: &peer_label,
        limits,
    };
    let result = async {
        for (alg, kind) in [("RS256", LimitKind::Rs256), ("ES256", LimitKind::Es256)] {
            let name = format!("client_credentials {alg}");
            if options.selected(&name) {
                let (ours, theirs) = client_credentials_pair(ferriam, &peer, &name, alg, kind)?;
                pairs.run(&name, &ours, &theirs, report).await;
            }
        }
        if options.selected(USERINFO_PAIR) {
            match &peer.userinfo {
                Ok(userinfo) => {
                    let ours = Userinfo::ferriam(&ferriam.server.issuer, ferriam.codes);
                    let theirs = Userinfo {
                        name: "userinfo (opaque access token, Redis)".into(),
                        url: userinfo.url.clone(),
                        tokens: AccessTokens::Given(userinfo.tokens.clone()),
                    };
                    pairs.run(USERINFO_PAIR, &ours, &theirs, report).await;
                    report.notes.push(
                        "The peer's userinfo figures leave out redis-server's own CPU and memory (a separate process); each of the peer's userinfo requests reads the access token and its grant from Redis.".into(),
                    );
                }
                Err(why) => report
                    .notes
                    .push(format!("The peer's userinfo workload was not run: {why}.")),
            }
        }
        if options.selected(report::INTROSPECTION_PAIR) {
            match &peer.introspection {
                Ok(introspection) => {
                    let resource_server = peer.clients.first().map(|(_, c)| c.clone());
                    let resource_server = resource_server.context("peer client missing")?;
                    let seed = ferriam.seed;
                    let ours = Introspect {
                        name: revocation::INTROSPECTION_WORKLOAD.into(),
                        url: format!("{}/introspect", ferriam.server.issuer),
                        authorization: http::basic(&seed.rs.id, &seed.rs.secret),
                        tokens: AccessTokens::CodeFlow(ferriam.codes.clone()),
                    };
                    let theirs = Introspect {
                        name: "introspection (opaque access token, Redis)".into(),
                        url: introspection.url.clone(),
                        authorization: http::basic(&resource_server.id, &resource_server.secret),
                        tokens: AccessTokens::Given(introspection.tokens.clone()),
                    };
                    pairs.run(report::INTROSPECTION_PAIR, &ours, &theirs, report).await;
                    report.notes.push(
                        "In the introspection pair each side introspects its own access tokens: Ferriam's JWTs (signature, then one store call for the user, the grant and the token's revocation), the peer's opaque tokens read from Redis (node-oidc-provider does not store its JWT access tokens, so it cannot introspect them); redis-server's CPU and memory are left out as for userinfo.".into(),
                    );
                }
                Err(why) => report
                    .notes
                    .push(format!("The peer's introspection workload was not run: {why}.")),
            }
        }
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let stopped = peer.stop().await;
    result?;
    stopped
}

/// The client_credentials workload of one algorithm at Ferriam and at the peer.
fn client_credentials_pair(
    ferriam: &Paired<'_>,
    peer: &peer::Peer,
    name: &str,
    alg: &str,
    kind: LimitKind,
) -> Result<(ClientCredentials, ClientCredentials)> {
    let ferriam_client = ferriam.seed.cc_client(alg);
    let ours = ClientCredentials {
        name: name.to_owned(),
        token_url: format!("{}/token", ferriam.server.issuer),
        authorization: http::basic(&ferriam_client.id, &ferriam_client.secret),
        limit: Some((kind, 1.0)),
    };
    let peer_client = peer
        .clients
        .iter()
        .find(|(a, _)| a == alg)
        .map(|(_, c)| c.clone())
        .context("peer client missing")?;
    let theirs = ClientCredentials {
        name: name.to_owned(),
        token_url: peer.token_url(),
        authorization: http::basic(&peer_client.id, &peer_client.secret),
        limit: Some((kind, 1.0)),
    };
    Ok((ours, theirs))
}

/// Runs one workload at Ferriam and then at the peer, back to back at each concurrency.
struct Pairs<'a> {
    bench: &'a Bench<'a>,
    ferriam: &'a Ferriam,
    peer: &'a peer::Peer,
    peer_label: &'a str,
    limits: &'a Limits,
}

impl Pairs<'_> {
    /// Warms the peer up on `theirs`, then measures both at each concurrency, adding the rows
    /// and one comparison named `name` per concurrency to the report.
    async fn run(
        &self,
        name: &str,
        ours: &dyn Workload,
        theirs: &dyn Workload,
        report: &mut Report,
    ) {
        let options = self.bench.options;
        // The peer warms up too (V8 compiles its hot paths first).
        let plan = Plan {
            concurrency: 8,
            duration: options.workload_duration(),
            limit_rate: 0.0,
        };
        if let Ok(steps) = theirs.prepare(&plan).await {
            let _ = driver::drive(steps, options.warmup()).await;
        }
        for &c in &options.concurrencies() {
            let a = measure(
                self.bench,
                ours,
                "Ferriam (paired)",
                self.ferriam.tree(),
                c,
                self.limits,
            )
            .await;
            let b = measure(
                self.bench,
                theirs,
                self.peer_label,
                self.peer.tree(),
                c,
                self.limits,
            )
            .await;
            report.comparisons.push(Comparison {
                workload: name.to_owned(),
                concurrency: c,
                ferriam: (
                    a.sample.rate(),
                    a.sample.percentile_ms(99.0),
                    a.usage.peak_rss_kb,
                ),
                peer: (
                    b.sample.rate(),
                    b.sample.percentile_ms(99.0),
                    b.usage.peak_rss_kb,
                ),
            });
            report.rows.push(a);
            report.rows.push(b);
        }
    }
}

async fn node_version() -> String {
    tokio::process::Command::new("node")
        .arg("--version")
        .output()
        .await
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "?".into())
}
