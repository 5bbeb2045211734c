//! `ferriam client ...`: the flags are parsed here; the rules a registration must follow live in
//! `ferriam_protocol::registration`, shared by `create` and `update`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferriam::store::Store;
use ferriam::tokens::{opaque, sealing};
use ferriam_protocol::ciba::DeliveryMode;
use ferriam_protocol::client::{ApplicationType, AuthMethod, Client, ClientType, SigningAlg};
use ferriam_protocol::registration;
use serde_json::{json, Value};

use super::{now, print_json, read_password_stdin, CliResult};

#[derive(Clone, Copy, ValueEnum)]
pub enum TypeArg {
    Confidential,
    Public,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum AppTypeArg {
    Web,
    Native,
}

/// The arguments of `client create`.
#[derive(Args)]
pub struct CreateArgs {
    #[arg(long)]
    name: String,
    #[arg(long = "type", value_enum)]
    client_type: TypeArg,
    /// Choose the client id (e.g. a client imported from another server).
    #[arg(long)]
    client_id: Option<String>,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// The arguments of `client update`: only the given fields change.
#[derive(Args)]
pub struct UpdateArgs {
    client_id: String,
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// The registration settings `create` and `update` share; each flag given sets its field (a
/// repeatable flag replaces the whole list).
#[derive(Args)]
pub struct SettingsArgs {
    /// web (default) or native (RFC 8252: loopback redirect URIs on any port, private-use
    /// URI schemes).
    #[arg(long, value_enum)]
    application_type: Option<AppTypeArg>,
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// authorization_code, refresh_token, client_credentials, implicit,
    /// urn:openid:params:grant-type:ciba (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    #[arg(long = "response-type")]
    response_types: Vec<String>,
    /// A custom scope the client may ask for (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    #[arg(long, value_parser = AuthMethod::ALL.map(AuthMethod::as_str))]
    token_endpoint_auth_method: Option<String>,
    /// Allow code_challenge_method=plain (RFC 9700 §2.1.1 prefers S256); `false` to withdraw.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    allow_plain_pkce: Option<bool>,
    #[arg(long, value_parser = SigningAlg::ALL.map(SigningAlg::as_str))]
    access_token_alg: Option<String>,
    /// id_token_signed_response_alg (default RS256).
    #[arg(long, value_parser = SigningAlg::ALL.map(SigningAlg::as_str))]
    id_token_alg: Option<String>,
    #[arg(long)]
    access_token_ttl: Option<u64>,
    #[arg(long)]
    refresh_token_ttl: Option<u64>,
    /// Absolute lifetime of a refresh-token family, from the sign-in (default: the server's).
    #[arg(long)]
    refresh_token_absolute_ttl: Option<u64>,
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
    #[arg(long)]
    frontchannel_logout_uri: Option<String>,
    /// Where the client's public keys are published (private_key_jwt).
    #[arg(long, conflicts_with = "jwks_file")]
    jwks_uri: Option<String>,
    /// A JWK Set file with the client's public keys, stored inline (private_key_jwt).
    #[arg(long)]
    jwks_file: Option<PathBuf>,
    /// An origin allowed to call /token, /userinfo and /revoke from a browser (repeatable).
    #[arg(long = "allowed-origin")]
    allowed_origins: Vec<String>,
    /// Read the client secret from standard input (one line) instead of generating one.
    #[arg(long)]
    client_secret_stdin: bool,
    /// CIBA token delivery: poll, ping or push (with the CIBA grant type).
    #[arg(long, value_parser = DeliveryMode::ALL.map(DeliveryMode::as_str))]
    ciba_mode: Option<String>,
    /// Where ping and push notifications go (https; http only while the issuer is loopback http).
    #[arg(long)]
    ciba_notification_endpoint: Option<String>,
    /// The client's CIBA requests must carry the user's user_code; `false` to withdraw.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    ciba_user_code: Option<bool>,
}

#[derive(Subcommand)]
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
pub enum ClientCommand {
    /// Register a client; a generated secret is printed once.
    Create(CreateArgs),
    /// Change the given fields of a client; running servers pick it up within a second.
    Update(UpdateArgs),
    /// List clients.
    List,
    /// Show one client.
    Show { client_id: String },
    /// Delete a client with its consents and refresh tokens.
    Delete { client_id: String },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret { client_id: String },
}

fn client_json(client: &Client) -> Value {
    serde_json::to_value(client).unwrap_or(Value::Null)
}

/// Sets the fields whose flags were given. Returns whether a secret is to be read from stdin.
fn apply(settings: SettingsArgs, client: &mut Client) -> Result<bool, String> {
    let SettingsArgs {
        application_type,
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        response_types,
        scopes,
        token_endpoint_auth_method,
        allow_plain_pkce,
        access_token_alg,
        id_token_alg,
        access_token_ttl,
        refresh_token_ttl,
        refresh_token_absolute_ttl,
        backchannel_logout_uri,
        frontchannel_logout_uri,
        jwks_uri,
        jwks_file,
        allowed_origins,
        client_secret_stdin,
        ciba_mode,
        ciba_notification_endpoint,
        ciba_user_code,
    } = settings;
    fn replace(field: &mut Vec<String>, given: Vec<String>) {
        if !given.is_empty() {
            *field = given;
        }
    }
    if let Some(t) = application_type {
        client.application_type = match t {
            AppTypeArg::Web => ApplicationType::Web,
            AppTypeArg::Native => ApplicationType::Native,
        };
    }
    let grants_given = !grant_types.is_empty();
    let response_types_given = !response_types.is_empty();
    replace(&mut client.redirect_uris, redirect_uris);
    replace(
        &mut client.post_logout_redirect_uris,
        post_logout_redirect_uris,
    );
    replace(&mut client.grant_types, grant_types);
    replace(&mut client.response_types, response_types);
    replace(&mut client.scopes, scopes);
    replace(&mut client.allowed_origins, allowed_origins);
    // New grants without new response types: the code response type goes with the code grant.
    if grants_given && !response_types_given {
        client.response_types = match client.allows_grant("authorization_code") {
            true => vec!["code".into()],
            false => vec![],
        };
    }
    if let Some(m) = token_endpoint_auth_method.as_deref() {
        client.token_endpoint_auth_method =
            AuthMethod::parse(m).ok_or_else(|| format!("unknown method {m}"))?;
    }
    if let Some(allow) = allow_plain_pkce {
        client.allow_plain_pkce = allow;
    }
    let alg = |a: &str| SigningAlg::parse(a).ok_or_else(|| format!("unknown algorithm {a}"));
    if let Some(a) = access_token_alg.as_deref() {
        client.access_token_alg = alg(a)?;
    }
    if let Some(a) = id_token_alg.as_deref() {
        client.id_token_alg = Some(alg(a)?);
    }
    for (field, given) in [
        (&mut client.access_token_ttl, access_token_ttl),
        (&mut client.refresh_token_ttl, refresh_token_ttl),
        (
            &mut client.refresh_token_absolute_ttl,
            refresh_token_absolute_ttl,
        ),
    ] {
        if given.is_some() {
            *field = given;
        }
    }
    for (field, given) in [
        (&mut client.backchannel_logout_uri, backchannel_logout_uri),
        (&mut client.frontchannel_logout_uri, frontchannel_logout_uri),
    ] {
        if given.is_some() {
            *field = given;
        }
    }
    if let Some(mode) = ciba_mode.as_deref() {
        client.backchannel_token_delivery_mode = Some(mode.parse()?);
    }
    if ciba_notification_endpoint.is_some() {
        client.backchannel_client_notification_endpoint = ciba_notification_endpoint;
    }
    if let Some(required) = ciba_user_code {
        client.backchannel_user_code_parameter = required;
    }
    // A new key source replaces the other one (OpenID Connect Registration 1.0 §2: never both).
    if let Some(uri) = jwks_uri {
        client.jwks_uri = Some(uri);
        client.jwks = None;
    }
    if let Some(path) = jwks_file {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let set: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        client.jwks = Some(set);
        client.jwks_uri = None;
    }
    Ok(client_secret_stdin)
}

/// Reads and checks an imported secret; public clients have none.
fn imported_secret(client: &Client) -> Result<String, Box<dyn std::error::Error>> {
    if client.is_public() {
        return Err("a public client has no secret: --client-secret-stdin is refused".into());
    }
    let secret = read_password_stdin()?;
    registration::validate_imported_secret(&secret)?;
    Ok(secret)
}

/// A chosen client id must be free and must not be a user's `sub`: a client_credentials
/// token's subject is the client id, and it must never be taken for a user's (RFC 9700
/// §4.15.1, SECURITY R30).
async fn check_chosen_id(store: &dyn Store, client_id: &str) -> CliResult {
    if store.client(client_id).await?.is_some() {
        return Err(format!("client {client_id} already exists").into());
    }
    if store.user_by_sub(client_id).await?.is_some() {
        return Err(format!("client id {client_id} is a user's subject identifier").into());
    }
    Ok(())
}

/// `client create`: defaults by client type, then the given settings, then the shared rules.
async fn create(store: &dyn Store, args: CreateArgs, issuer: &str) -> CliResult {
    let CreateArgs {
        name,
        client_type,
        client_id,
        settings,
    } = args;
    let client_type = match client_type {
        TypeArg::Confidential => ClientType::Confidential,
        TypeArg::Public => ClientType::Public,
    };
    let mut client = Client {
        client_id: client_id.clone().unwrap_or_else(opaque::random_client_id),
        name,
        client_type,
        token_endpoint_auth_method: match client_type {
            ClientType::Confidential => AuthMethod::ClientSecretBasic,
            ClientType::Public => AuthMethod::None,
        },
        ..Client::default()
    };
    let secret_from_stdin = apply(settings, &mut client)?;
    registration::validate(&client)?;
    registration::check_ciba_endpoint_for_issuer(&client, issuer)?;
    if client_id.is_some() {
        check_chosen_id(store, &client.client_id).await?;
    }
    let imported = match secret_from_stdin {
        true => Some(imported_secret(&client)?),
        false => None,
    };
    let generated = (!client.is_public() && imported.is_none()).then(opaque::random_token);
    let secret = imported.as_deref().or(generated.as_deref());
    // A client_secret_jwt client's secret is also kept sealed: HMAC needs the secret itself.
    let sealed = match secret {
        Some(secret) => sealing::seal_client_secret(&client, secret)?,
        None => None,
    };
    store
        .create_client(
            &client,
            secret.map(opaque::hash).as_deref(),
            sealed.as_deref(),
            now(),
        )
        .await?;
    // An imported secret is never printed back: its owner has it already.
    let mut out = json!({"client_id": client.client_id});
    if let Some(secret) = generated {
        out["client_secret"] = secret.into();
    }
    print_json(&out)
}

/// `client update`: the stored registration with the given fields changed, checked by the
/// same rules as `create`; the version bump makes every node reload it within a second.
async fn update(store: &dyn Store, args: UpdateArgs, issuer: &str) -> CliResult {
    let UpdateArgs {
        client_id,
        name,
        settings,
    } = args;
    let Some(stored) = store.client(&client_id).await? else {
        return Err(format!("no client {client_id}").into());
    };
    let mut client = stored.client;
    if let Some(name) = name {
        client.name = name;
    }
    let secret_from_stdin = apply(settings, &mut client)?;
    registration::validate(&client)?;
    registration::check_ciba_endpoint_for_issuer(&client, issuer)?;
    // Only a hash of the old secret is kept: client_secret_jwt needs the secret itself.
    if client.token_endpoint_auth_method == AuthMethod::ClientSecretJwt
        && stored.sealed_secret.is_none()
        && !secret_from_stdin
    {
        return Err(
            "switching to client_secret_jwt needs a new secret: add --client-secret-stdin".into(),
        );
    }
    let imported = match secret_from_stdin {
        true => Some(imported_secret(&client)?),
        false => None,
    };
    if !store.update_client(&client).await? {
        return Err(format!("no client {client_id}").into());
    }
    if let Some(secret) = imported {
        let sealed = sealing::seal_client_secret(&client, &secret)?;
        if !store
            .set_client_secret(&client_id, &opaque::hash(&secret), sealed.as_deref())
            .await?
        {
            return Err(format!("no confidential client {client_id}").into());
        }
    }
    print_json(&client_json(&client))
}

pub async fn run(store: &std::sync::Arc<dyn Store>, cmd: ClientCommand, issuer: &str) -> CliResult {
    let store = store.as_ref();
    match cmd {
        ClientCommand::Create(args) => create(store, args, issuer).await,
        ClientCommand::Update(args) => update(store, args, issuer).await,
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
