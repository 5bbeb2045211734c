//! `ferriam user ...`.

use std::collections::BTreeMap;

use clap::Subcommand;
use ferriam::config::Config;
use ferriam::password::PasswordHasher;
use ferriam::store::Store;
use ferriam::store::{Profile, User};
use serde_json::{json, Value};

use super::{now, print_json, read_password_stdin, CliResult};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Mark the email address as verified.
        #[arg(long)]
        email_verified: bool,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        /// E.164, e.g. +15550100.
        #[arg(long)]
        phone: Option<String>,
        /// Mark the phone number as verified (SMS codes go only to a verified phone).
        #[arg(long)]
        phone_verified: bool,
        /// YYYY-MM-DD
        #[arg(long)]
        birthdate: Option<String>,
        /// A free-form attribute, key=value (repeatable).
        #[arg(long = "attr", value_parser = parse_attr)]
        attrs: Vec<(String, String)>,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Show one user.
    Show { username: String },
    /// Disable a user: sessions end and refresh tokens are revoked.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Delete a user with their sessions, consents and tokens.
    Delete { username: String },
    /// Set a new password, read from standard input.
    SetPassword {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
    /// List the user's live sessions with the clients that took part in each.
    Sessions { username: String },
    /// End the user's sessions (or one) as /logout does; a running server sends the
    /// back-channel logout notifications queued in the database.
    Logout {
        username: String,
        /// A session id from `user sessions`; it may begin with `-` (ids are base64url).
        #[arg(long, allow_hyphen_values = true)]
        sid: Option<String>,
    },
    /// Enrol a new TOTP secret for the user (replacing any): {"secret", "otpauth_uri"}.
    Totp { username: String },
    /// List the second factors the user can prove: [{"kind": "email"|"sms"|"totp", ...}].
    Factors { username: String },
    /// Remove an enrolled factor (totp).
    ResetFactor { username: String, kind: String },
}

fn parse_attr(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s}: expected key=value"))
}

/// The JSON form of a user; fields without a value are left out.
fn user_json(user: &User) -> Value {
    let mut v = json!({
        "sub": user.sub,
        "username": user.username,
        "disabled": user.disabled,
        "created_at": user.created_at,
    });
    if let (Value::Object(map), Ok(Value::Object(profile))) =
        (&mut v, serde_json::to_value(&user.profile))
    {
        map.extend(profile);
    }
    v
}

fn hasher(config: &Config) -> Result<PasswordHasher, Box<dyn std::error::Error>> {
    Ok(PasswordHasher::new(
        config.argon2_memory_kib,
        config.argon2_iterations,
        config.argon2_parallelism,
    )?)
}

async fn find(store: &dyn Store, username: &str) -> Result<User, Box<dyn std::error::Error>> {
    store
        .user_by_username(username)
        .await?
        .ok_or_else(|| format!("no user named {username}").into())
}

pub async fn run(
    store: &std::sync::Arc<dyn Store>,
    cmd: UserCommand,
    config: &Config,
) -> CliResult {
    let store = store.as_ref();
    match cmd {
        UserCommand::Create {
            username,
            email,
            email_verified,
            given_name,
            family_name,
            phone,
            phone_verified,
            birthdate,
            attrs,
            ..
        } => {
            if username.trim().is_empty() || username.len() > 255 {
                return Err("the username must be 1 to 255 characters".into());
            }
            if !email.contains('@') {
                return Err(format!("{email} is not an email address").into());
            }
            if let Some(b) = &birthdate {
                let ok = b.len() == 10
                    && b.chars().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 {
                            c == '-'
                        } else {
                            c.is_ascii_digit()
                        }
                    });
                if !ok {
                    return Err("--birthdate must be YYYY-MM-DD".into());
                }
            }
            let password = read_password_stdin()?;
            let hash = hasher(config)?.hash(password).await?;
            let now = now();
            let user = User {
                sub: ferriam::tokens::opaque::random_uuid(),
                username,
                password_hash: Some(hash),
                disabled: false,
                profile: Profile {
                    email: Some(email),
                    email_verified,
                    given_name,
                    family_name,
                    phone_number_verified: phone_verified && phone.is_some(),
                    phone_number: phone,
                    birthdate,
                    attributes: attrs.into_iter().collect::<BTreeMap<_, _>>(),
                },
                created_at: now,
                updated_at: now,
            };
            store.create_user(&user).await?;
            print_json(&json!({"sub": user.sub, "username": user.username}))
        }
        UserCommand::List => {
            let users: Vec<Value> = store.list_users().await?.iter().map(user_json).collect();
            print_json(&users)
        }
        UserCommand::Show { username } => {
            let user = find(store, &username).await?;
            let mut shown = user_json(&user);
            // The upstream accounts this account signs in through (`ferriam idp`).
            let links: Vec<Value> = store
                .links_of(&user.sub)
                .await?
                .iter()
                .map(|l| json!({"idp": l.upstream, "issuer": l.issuer, "sub": l.subject}))
                .collect();
            if let (Value::Object(map), false) = (&mut shown, links.is_empty()) {
                map.insert("links".into(), Value::Array(links));
            }
            print_json(&shown)
        }
        UserCommand::Disable { username } => {
            let user = find(store, &username).await?;
            store.set_user_disabled(&user.sub, true, now()).await?;
            eprintln!("user {username} disabled");
            Ok(())
        }
        UserCommand::Enable { username } => {
            let user = find(store, &username).await?;
            store.set_user_disabled(&user.sub, false, now()).await?;
            eprintln!("user {username} enabled");
            Ok(())
        }
        UserCommand::Delete { username } => {
            let user = find(store, &username).await?;
            store.delete_user(&user.sub).await?;
            eprintln!("user {username} deleted");
            Ok(())
        }
        UserCommand::SetPassword { username, .. } => {
            let user = find(store, &username).await?;
            let password = read_password_stdin()?;
            let hash = hasher(config)?.hash(password).await?;
            store.set_password_hash(&user.sub, &hash, now()).await?;
            eprintln!("password of {username} changed");
            Ok(())
        }
        UserCommand::Sessions { username } => {
            let user = find(store, &username).await?;
            let sessions = store.user_sessions(&user.sub, now()).await?;
            print_json(&ferriam::logout::sessions_json(&sessions))
        }
        UserCommand::Logout { username, sid } => {
            let user = find(store, &username).await?;
            let ended =
                ferriam::logout::end_user_sessions(store, config, &user.sub, sid.as_deref(), now())
                    .await?
                    .ok_or_else(|| {
                        format!("{username} has no live session {}", sid.unwrap_or_default())
                    })?;
            eprintln!("{} session(s) of {username} ended", ended.len());
            Ok(())
        }
        UserCommand::Totp { username } => {
            let user = find(store, &username).await?;
            super::factors::enrol_totp(store, &user, &config.issuer_for(config.listen)).await
        }
        UserCommand::Factors { username } => {
            super::factors::list(store, &find(store, &username).await?).await
        }
        UserCommand::ResetFactor { username, kind } => {
            super::factors::reset(store, &find(store, &username).await?, &kind).await
        }
    }
}
