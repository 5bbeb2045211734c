//! `ferriam user totp | factors | reset-factor`: second factors, for operators. A user's
//! email and SMS factors follow their verified address and phone; TOTP is enrolled here (and
//! by the user on the account page) with a secret sealed like signing keys.

use ferriam::signin::enrol::{issuer_label, totp_binding};
use ferriam::store::{Store, User};
use ferriam::tokens::{opaque, sealing};
use ferriam_protocol::mfa::{totp, Factor};
use serde_json::{json, Value};

use super::{now, print_json, CliResult};

/// Enrols a new TOTP secret (replacing any) and prints it with its `otpauth://` URI.
pub async fn enrol_totp(store: &dyn Store, user: &User, issuer: &str) -> CliResult {
    let secret = opaque::random_bytes::<{ totp::SECRET_LEN }>();
    let master = sealing::master_key_from_env()?;
    let sealed = sealing::seal(&secret, &totp_binding(&user.sub), master.as_ref());
    store.set_totp(&user.sub, &sealed, now()).await?;
    let label = issuer_label(issuer);
    print_json(&json!({
        "secret": totp::base32_encode(&secret),
        "otpauth_uri": totp::otpauth_uri(&label, &user.username, &secret),
    }))
}

/// Prints the factors the user can prove: email and sms when verified, totp when enrolled.
pub async fn list(store: &dyn Store, user: &User) -> CliResult {
    let p = &user.profile;
    let mut factors: Vec<Value> = Vec::new();
    if let (Some(address), true) = (&p.email, p.email_verified) {
        factors.push(json!({"kind": Factor::Email.as_str(), "address": address}));
    }
    if let (Some(phone), true) = (&p.phone_number, p.phone_number_verified) {
        factors.push(json!({"kind": Factor::Sms.as_str(), "phone": phone}));
    }
    if let Some(t) = store.totp(&user.sub).await? {
        factors.push(json!({"kind": Factor::Totp.as_str(), "created_at": t.created_at}));
    }
    print_json(&factors)
}

/// Removes an enrolled factor (TOTP: the user must enrol again).
pub async fn reset(store: &dyn Store, user: &User, kind: &str) -> CliResult {
    match kind.parse::<Factor>()? {
        Factor::Totp => {
            if !store.delete_factor(&user.sub, kind).await? {
                return Err(format!("{} has no totp factor", user.username).into());
            }
            eprintln!("the totp factor of {} is removed", user.username);
            Ok(())
        }
        Factor::Email | Factor::Sms => Err(format!(
            "{kind} follows the user's verified {}: there is nothing enrolled to reset",
            if kind == "email" { "address" } else { "phone" }
        )
        .into()),
    }
}
