//! `ferriam serve`.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use ferriam::clock::SystemClock;
use ferriam::config::Config;
use ferriam::Server;

use super::CliResult;

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Public issuer URL (default http:// + the bound address).
    #[arg(long)]
    issuer: Option<String>,
    /// text or json.
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
}

pub async fn run(mut config: Config, args: ServeArgs) -> CliResult {
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(issuer) = args.issuer {
        config.issuer = Some(issuer);
    }
    if let Some(format) = args.log_format {
        config.log_format = format;
    }
    init_logging(&config.log_format);
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, "ignoring an environment variable that is not a setting");
    }
    let server = Server::start(config, Arc::new(SystemClock::default()), shutdown_signal()).await?;
    println!(
        "{}",
        serde_json::json!({"listen": server.addr.to_string(), "issuer": server.issuer})
    );
    tracing::info!(listen = %server.addr, issuer = %server.issuer, "ferriam is serving");
    server.wait().await;
    tracing::info!("ferriam stopped");
    Ok(())
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERRIAM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Resolves on Ctrl-C or SIGTERM; the server then finishes requests in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
