//! The command-line contract of DESIGN.md: global `--database-url` and `--config`, JSON on
//! stdout for machines, one-line reasons on stderr, exit 0 done / 1 refused / 2 usage.

mod audit;
mod client;
mod factors;
mod idp;
mod key;
mod policy;
mod serve;
mod user;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use ferriam::config::Config;
use ferriam::store::{self, Store};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "ferriam",
    version,
    about = "An OAuth 2.0 / OpenID Connect authorization server"
)]
pub struct Cli {
    /// Database: sqlite://path (default sqlite://data/ferriam.db) or postgres://...
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// A TOML settings file.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(user::UserCommand),
    /// Manage client applications.
    #[command(subcommand)]
    Client(client::ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Manage upstream identity providers.
    #[command(subcommand)]
    Idp(idp::IdpCommand),
    /// List the audit trail, newest first.
    Audit(audit::AuditArgs),
    /// Explain the sign-in policy.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
}

/// A command that could not be done; printed as one line on stderr, exit status 1.
pub type CliResult = Result<(), Box<dyn std::error::Error>>;

pub async fn run(cli: Cli) -> CliResult {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(url) = cli.database_url {
        config.database_url = url;
    }
    match cli.command {
        Command::Serve(args) => serve::run(config, args).await,
        Command::User(cmd) => user::run(&open(&config).await?, cmd, &config).await,
        Command::Client(cmd) => {
            let issuer = config.issuer_for(config.listen);
            client::run(&open(&config).await?, cmd, &issuer).await
        }
        Command::Key(cmd) => key::run(&open(&config).await?, cmd).await,
        Command::Idp(cmd) => idp::run(&open(&config).await?, cmd, &config).await,
        Command::Audit(args) => audit::run(&open(&config).await?, args).await,
        Command::Policy(cmd) => policy::run(&open(&config).await?, cmd, &config).await,
    }
}

async fn open(config: &Config) -> Result<Arc<dyn Store>, store::StoreError> {
    store::open(&config.database_url).await
}

/// Prints one JSON value on stdout.
fn print_json<T: Serialize>(value: &T) -> CliResult {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Seconds since the epoch.
fn now() -> i64 {
    use ferriam::clock::Clock;
    ferriam::clock::SystemClock::default().now()
}

/// Reads one line from standard input, without its line ending (a password or a client secret).
fn read_password_stdin() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("the line read from standard input is empty".into());
    }
    Ok(password)
}
