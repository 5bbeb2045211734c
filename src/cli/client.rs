//! `ferriam client ...`.

use clap::{Args, Subcommand, ValueEnum};
use ferriam::store::Store;
use ferriam::tokens::{opaque, sealing};
use ferriam_protocol::client::{
    validate_redirect_uri_registration, AuthMethod, Client, ClientType, SigningAlg,
};
use ferriam_protocol::scope::Scope;
use serde_json::{json, Value};

use super::{now, print_json, CliResult};

#[derive(Clone, Copy, ValueEnum)]
pub enum TypeArg {
    Confidential,
    Public,
}

/// The arguments of `client create`.
#[derive(Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long = "type", value_enum)]
    client_type: TypeArg,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// A custom scope the client may ask for (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    #[arg(long, value_parser = ["client_secret_basic", "client_secret_post", "none"])]
    token_endpoint_auth_method: Option<String>,
    /// Allow code_challenge_method=plain (RFC 9700 §2.1.1 prefers S256).
    #[arg(long)]
    allow_plain_pkce: bool,
    #[arg(long, value_parser = ["RS256", "ES256", "EdDSA"])]
    access_token_alg: Option<String>,
    #[arg(long)]
    access_token_ttl: Option<u64>,
    #[arg(long)]
    refresh_token_ttl: Option<u64>,
}

#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ClientCommand {
    /// Register a client; a confidential client's secret is printed once.
    Create(CreateArgs),
    /// List clients.
    List,
    /// Show one client.
    Show { client_id: String },
    /// Delete a client with its consents and refresh tokens.
    Delete { client_id: String },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret { client_id: String },
}

const GRANTS: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

fn client_json(client: &Client) -> Value {
    serde_json::to_value(client).unwrap_or(Value::Null)
}

/// Builds and checks a client registration from the command's arguments.
fn build(args: CreateArgs) -> Result<Client, String> {
    let CreateArgs {
        name,
        client_type,
        redirect_uris,
        post_logout_redirect_uris,
        mut grant_types,
        mut response_types,
        scopes,
        token_endpoint_auth_method: auth_method,
        allow_plain_pkce,
        access_token_alg,
        access_token_ttl,
        refresh_token_ttl,
    } = args;
    let client_type = match client_type {
        TypeArg::Confidential => ClientType::Confidential,
        TypeArg::Public => ClientType::Public,
    };
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    if grant_types.is_empty() {
        grant_types = vec!["authorization_code".into(), "refresh_token".into()];
    }
    if let Some(g) = grant_types.iter().find(|g| !GRANTS.contains(&g.as_str())) {
        return Err(format!("unsupported grant type {g}"));
    }
    if response_types.is_empty() && grant_types.iter().any(|g| g == "authorization_code") {
        response_types = vec!["code".into()];
    }
    if let Some(r) = response_types.iter().find(|r| *r != "code") {
        return Err(format!("unsupported response type {r}"));
    }
    let method = match (client_type, auth_method.as_deref()) {
        (ClientType::Public, None | Some("none")) => AuthMethod::None,
        (ClientType::Public, Some(_)) => {
            return Err("a public client authenticates with none".into())
        }
        (ClientType::Confidential, None | Some("client_secret_basic")) => {
            AuthMethod::ClientSecretBasic
        }
        (ClientType::Confidential, Some("client_secret_post")) => AuthMethod::ClientSecretPost,
        (ClientType::Confidential, Some(_)) => {
            return Err("a confidential client needs a secret-based method".into())
        }
    };
    if client_type == ClientType::Public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err("a public client cannot use client_credentials".into());
    }
    if grant_types.iter().any(|g| g == "authorization_code") && redirect_uris.is_empty() {
        return Err("the authorization_code grant needs at least one --redirect-uri".into());
    }
    for uri in redirect_uris.iter().chain(&post_logout_redirect_uris) {
        validate_redirect_uri_registration(uri)?;
    }
    for scope in &scopes {
        let parsed = Scope::parse(scope).map_err(|_| format!("{scope} is not a valid scope"))?;
        if parsed.iter().count() != 1 {
            return Err(format!("{scope} is not a single scope"));
        }
    }
    Ok(Client {
        client_id: opaque::random_token()[..22].to_owned(),
        name,
        client_type,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        response_types,
        scopes,
        token_endpoint_auth_method: method,
        allow_plain_pkce,
        access_token_alg: access_token_alg
            .as_deref()
            .and_then(SigningAlg::parse)
            .unwrap_or(SigningAlg::RS256),
        access_token_ttl,
        refresh_token_ttl,
        ..Client::default()
    })
}

pub async fn run(store: &std::sync::Arc<dyn Store>, cmd: ClientCommand) -> CliResult {
    let store = store.as_ref();
    match cmd {
        ClientCommand::Create(args) => {
            let client = build(args)?;
            let secret = (!client.is_public()).then(opaque::random_token);
            let secret_hash = secret.as_deref().map(opaque::hash);
            let sealed = match &secret {
                Some(secret) => sealing::seal_client_secret(&client, secret)?,
                None => None,
            };
            store
                .create_client(&client, secret_hash.as_deref(), sealed.as_deref(), now())
                .await?;
            let mut out = json!({"client_id": client.client_id});
            if let Some(secret) = secret {
                out["client_secret"] = secret.into();
            }
            print_json(&out)
        }
        ClientCommand::List => {
            let clients: Vec<Value> = store
                .list_clients()
                .await?
                .iter()
                .map(client_json)
                .collect();
            print_json(&clients)
        }
        ClientCommand::Show { client_id } => match store.client(&client_id).await? {
            Some(c) => print_json(&client_json(&c.client)),
            None => Err(format!("no client {client_id}").into()),
        },
        ClientCommand::Delete { client_id } => {
            if !store.delete_client(&client_id).await? {
                return Err(format!("no client {client_id}").into());
            }
            eprintln!("client {client_id} deleted");
            Ok(())
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = opaque::random_token();
            let sealed = match store.client(&client_id).await? {
                Some(stored) => sealing::seal_client_secret(&stored.client, &secret)?,
                None => None,
            };
            if !store
                .set_client_secret(&client_id, &opaque::hash(&secret), sealed.as_deref())
                .await?
            {
                return Err(format!("no confidential client {client_id}").into());
            }
            print_json(&json!({"client_id": client_id, "client_secret": secret}))
        }
    }
}
