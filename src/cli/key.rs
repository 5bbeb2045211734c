//! `ferriam key ...`: a running server picks up changes within a second.

use clap::Subcommand;
use ferriam::store::Store;
use ferriam::tokens::keys::create_key;
use ferriam_protocol::client::SigningAlg;
use serde_json::{json, Value};

use super::{now, print_json, CliResult};

#[derive(Subcommand)]
pub enum KeyCommand {
    /// List signing keys (public information only).
    List,
    /// Create a new active key for an algorithm, retiring the previous one.
    Rotate {
        #[arg(long, default_value = "RS256", value_parser = ["RS256", "PS256", "ES256", "EdDSA"])]
        alg: String,
    },
    /// Retire a key that is no longer active; it stays published until its tokens expire.
    Retire { kid: String },
}

pub async fn run(store: &std::sync::Arc<dyn Store>, cmd: KeyCommand) -> CliResult {
    match cmd {
        KeyCommand::List => {
            let keys: Vec<Value> = store
                .keys()
                .await?
                .iter()
                .map(|k| {
                    let mut v = json!({"kid": k.kid, "alg": k.alg, "created_at": k.created_at, "active": k.retired_at.is_none()});
                    if let Some(r) = k.retired_at {
                        v["retired_at"] = r.into();
                    }
                    v
                })
                .collect();
            print_json(&keys)
        }
        KeyCommand::Rotate { alg } => {
            let alg = SigningAlg::parse(&alg).ok_or("unknown algorithm")?;
            let record = create_key(store.as_ref(), alg, now()).await?;
            print_json(&json!({"kid": record.kid, "alg": record.alg}))
        }
        KeyCommand::Retire { kid } => {
            let keys = store.keys().await?;
            let key = keys
                .iter()
                .find(|k| k.kid == kid)
                .ok_or_else(|| format!("no key {kid}"))?;
            if key.retired_at.is_some() {
                return Err(format!("key {kid} is already retired").into());
            }
            let newer_active = keys
                .iter()
                .any(|k| k.alg == key.alg && k.kid != kid && k.retired_at.is_none());
            if !newer_active {
                return Err(format!(
                    "{kid} is the active {} key; run key rotate --alg {} first",
                    key.alg, key.alg
                )
                .into());
            }
            store.retire_key(&kid, now()).await?;
            eprintln!("key {kid} retired");
            Ok(())
        }
    }
}
