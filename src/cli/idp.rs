//! `ferriam idp ...`: upstream identity providers users may sign in through.

use clap::Subcommand;
use ferriam::config::Config;
use ferriam::federation;
use ferriam::store::{Store, Upstream};
use ferriam_protocol::upstream as rules;
use serde_json::{json, Value};

use super::{now, print_json, read_password_stdin, CliResult};

#[derive(Subcommand)]
pub enum IdpCommand {
    /// Register an upstream OpenID provider; Ferriam's client secret there is read from
    /// standard input.
    Add {
        /// The short name in the callback path (a-z, 0-9, - and _).
        #[arg(long)]
        name: String,
        /// The sign-in page's button reads "Continue with DISPLAY_NAME".
        #[arg(long)]
        display_name: String,
        /// The upstream's issuer: https, or http on 127.0.0.1 or [::1].
        #[arg(long)]
        issuer: String,
        /// Ferriam's client id at the upstream.
        #[arg(long)]
        client_id: String,
        #[arg(long, required = true)]
        client_secret_stdin: bool,
        /// A scope to ask for beyond openid (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// An email domain whose users sign in through this upstream (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Which upstream claim fills an account field on provisioning, as FIELD=CLAIM
        /// (repeatable; fields: username, email, given_name, family_name, phone, groups).
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// List upstreams.
    List,
    /// Show one upstream.
    Show { name: String },
    /// Delete an upstream; accounts linked through it stay, with their links.
    Delete { name: String },
}

/// The JSON form of an upstream: everything but its secret.
fn idp_json(upstream: &Upstream, issuer: &str) -> Value {
    json!({
        "name": upstream.name,
        "display_name": upstream.display_name,
        "issuer": upstream.issuer,
        "client_id": upstream.client_id,
        "scopes": upstream.scopes,
        "domains": upstream.domains,
        "claims": upstream.claims,
        "redirect_uri": redirect_uri(issuer, &upstream.name),
        "created_at": upstream.created_at,
    })
}

fn redirect_uri(issuer: &str, name: &str) -> String {
    format!("{issuer}{}", rules::callback_path(name))
}

pub async fn run(store: &std::sync::Arc<dyn Store>, cmd: IdpCommand, config: &Config) -> CliResult {
    let store = store.as_ref();
    // Ferriam's own issuer, as `serve` computes it from the same settings.
    let issuer = config.issuer_for(config.listen);
    match cmd {
        IdpCommand::Add {
            name,
            display_name,
            issuer: upstream_issuer,
            client_id,
            scopes,
            domains,
            claims,
            ..
        } => {
            rules::validate_name(&name)?;
            if display_name.trim().is_empty() || display_name.len() > 100 {
                return Err("--display-name must be 1 to 100 characters".into());
            }
            let upstream_issuer = rules::normalise_issuer(&upstream_issuer)?;
            if client_id.is_empty() {
                return Err("--client-id must not be empty".into());
            }
            if let Some(bad) = scopes
                .iter()
                .find(|s| s.is_empty() || s.contains(' ') || *s == "openid")
            {
                return Err(format!("--scope {bad:?}: one scope name, other than openid").into());
            }
            let domains = domains
                .iter()
                .map(|d| rules::normalise_domain(d))
                .collect::<Result<Vec<_>, _>>()?;
            for other in store.list_upstreams().await? {
                if let Some(d) = domains.iter().find(|d| other.domains.contains(d)) {
                    return Err(format!("--domain {d} already routes to {}", other.name).into());
                }
            }
            let claims = claims
                .iter()
                .map(|c| rules::parse_claim_mapping(c))
                .collect::<Result<_, _>>()?;
            let secret = read_password_stdin()?;
            let upstream = Upstream {
                client_secret: federation::seal_secret(&name, &secret)?,
                name,
                display_name,
                issuer: upstream_issuer,
                client_id,
                scopes,
                domains,
                claims,
                created_at: now(),
            };
            store.create_upstream(&upstream).await?;
            print_json(&json!({
                "name": upstream.name,
                "redirect_uri": redirect_uri(&issuer, &upstream.name),
            }))
        }
        IdpCommand::List => {
            let all: Vec<Value> = store
                .list_upstreams()
                .await?
                .iter()
                .map(|u| idp_json(u, &issuer))
                .collect();
            print_json(&all)
        }
        IdpCommand::Show { name } => match store.upstream(&name).await? {
            Some(upstream) => print_json(&idp_json(&upstream, &issuer)),
            None => Err(format!("no upstream named {name}").into()),
        },
        IdpCommand::Delete { name } => {
            if !store.delete_upstream(&name).await? {
                return Err(format!("no upstream named {name}").into());
            }
            eprintln!("upstream {name} deleted");
            Ok(())
        }
    }
}
