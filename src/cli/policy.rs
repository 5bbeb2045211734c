//! `ferriam policy explain`: which sign-in rule would apply, and why, without signing anyone in.

use clap::Subcommand;
use ferriam::config::Config;
use ferriam::mfa::{self, Context};
use ferriam::store::Store;

use super::{now, print_json, CliResult};

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Print the rule that decides a sign-in: {"rule", "require", "any_of", "why"}.
    Explain {
        /// The user (a username).
        #[arg(long)]
        user: String,
        /// The client of the sign-in.
        #[arg(long)]
        client: Option<String>,
        /// The address the sign-in comes from.
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// The upstream the user comes through, or `local` for the password form (default).
        #[arg(long, default_value = "local")]
        idp: String,
        /// The request's acr_values, space-separated.
        #[arg(long)]
        acr_values: Option<String>,
    },
}

pub async fn run(
    store: &std::sync::Arc<dyn Store>,
    cmd: PolicyCommand,
    config: &Config,
) -> CliResult {
    match cmd {
        PolicyCommand::Explain {
            user,
            client,
            ip,
            idp,
            acr_values,
        } => {
            let found = store
                .user_by_username(&user)
                .await?
                .ok_or_else(|| format!("no user named {user}"))?;
            let registered: Vec<String> = store
                .list_upstreams()
                .await?
                .into_iter()
                .map(|u| u.name)
                .collect();
            let acr_values: Vec<String> = acr_values
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let context = Context {
                idp: (idp != ferriam_protocol::mfa::policy::LOCAL_IDP).then_some(idp.as_str()),
                client_id: client.as_deref(),
                ip,
                acr_values: &acr_values,
                now: now(),
            };
            let decision = mfa::decide(&config.mfa.rules, &registered, &found, &context);
            print_json(&decision)
        }
    }
}
