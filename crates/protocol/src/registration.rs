//! The rules a client registration must follow before it is stored, one function each, and
//! [`validate`], which checks a whole record: `client create` and `client update` both build a
//! [`Client`] and pass it here, so the two can never disagree.
//!
//! Sources: RFC 8252 (native apps: §7.1 private-use schemes, §7.3 loopback, §8.3 no
//! `localhost`), OpenID Connect Registration 1.0 §2 (`application_type`, `jwks` vs `jwks_uri`),
//! RFC 9700 §2.6 and §4.15.1, and the redirect-URI lessons of SECURITY.md (rows 1-7, 17).

use crate::authorize::response_type;
use crate::client::{strip_loopback_port, ApplicationType, AuthMethod, Client, ClientType};
use crate::scope::Scope;

/// Grant types a client may register.
pub const GRANT_TYPES: [&str; 5] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "implicit",
    crate::ciba::GRANT_TYPE,
];

/// The longest client id accepted; generated ones have 22 characters.
pub const MAX_CLIENT_ID_LEN: usize = 128;

/// The shortest imported client secret: 32 characters. Server-generated secrets carry 256 bits;
/// a shorter imported one would be the weakest credential on the server, and secrets are stored
/// as a fast SHA-256 hash that only high entropy makes safe.
pub const MIN_IMPORTED_SECRET_LEN: usize = 32;

/// The longest imported client secret.
pub const MAX_IMPORTED_SECRET_LEN: usize = 512;

/// JWK members that only a private or symmetric key has (RFC 7517 §4, RFC 7518 §6.2.2, §6.3.2,
/// §6.4.1); a registered key set must carry none of them.
const PRIVATE_JWK_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Checks a whole registration; the reason is one line for the command line.
pub fn validate(client: &Client) -> Result<(), String> {
    validate_client_id(&client.client_id)?;
    if client.name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    if let Some(g) = client
        .grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(format!("unsupported grant type {g}"));
    }
    // Response types are those the authorization endpoint answers, each with the grant types
    // it implies (OpenID Connect Registration 1.0 §2).
    response_type::check_registration(&client.response_types, &client.grant_types)?;
    check_auth_method(client)?;
    if client.is_public() && client.allows_grant("client_credentials") {
        return Err("a public client cannot use client_credentials".into());
    }
    if (client.allows_grant("authorization_code") || client.allows_grant("implicit"))
        && client.redirect_uris.is_empty()
    {
        return Err(
            "the authorization_code and implicit grants need at least one --redirect-uri".into(),
        );
    }
    for uri in client
        .redirect_uris
        .iter()
        .chain(&client.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri, client.application_type)?;
    }
    for scope in &client.scopes {
        let parsed = Scope::parse(scope).map_err(|_| format!("{scope} is not a valid scope"))?;
        if parsed.iter().count() != 1 {
            return Err(format!("{scope} is not a single scope"));
        }
    }
    for (flag, uri) in [
        ("--backchannel-logout-uri", &client.backchannel_logout_uri),
        ("--frontchannel-logout-uri", &client.frontchannel_logout_uri),
        ("--jwks-uri", &client.jwks_uri),
    ] {
        if let Some(uri) = uri {
            validate_https_or_loopback(flag, uri)?;
        }
    }
    // OpenID Connect Registration 1.0 §2: "The jwks_uri and jwks parameters MUST NOT both be
    // present in the same request or response."
    if client.jwks_uri.is_some() && client.jwks.is_some() {
        return Err("--jwks-uri and --jwks-file cannot both be registered".into());
    }
    if let Some(jwks) = &client.jwks {
        validate_public_jwks(jwks)?;
    }
    for origin in &client.allowed_origins {
        validate_origin(origin)?;
    }
    check_ciba(client)?;
    for (flag, ttl) in [
        ("--access-token-ttl", client.access_token_ttl),
        ("--refresh-token-ttl", client.refresh_token_ttl),
        (
            "--refresh-token-absolute-ttl",
            client.refresh_token_absolute_ttl,
        ),
    ] {
        if ttl == Some(0) {
            return Err(format!("{flag} must be at least 1 second"));
        }
    }
    Ok(())
}

/// A CIBA client (CIBA §4) registers its delivery mode, and for ping and push its
/// notification endpoint; it must authenticate (CIBA §7.1: "The Client MUST authenticate to the
/// Backchannel Authentication Endpoint"), so it is confidential. The CIBA settings without the
/// grant are refused rather than kept unused.
fn check_ciba(client: &Client) -> Result<(), String> {
    let mode = client.backchannel_token_delivery_mode;
    let endpoint = client.backchannel_client_notification_endpoint.as_deref();
    if !client.allows_grant(crate::ciba::GRANT_TYPE) {
        if mode.is_some() || endpoint.is_some() || client.backchannel_user_code_parameter {
            return Err(format!(
                "the --ciba-* settings need --grant-type {}",
                crate::ciba::GRANT_TYPE
            ));
        }
        return Ok(());
    }
    if client.is_public() {
        return Err("a public client cannot use CIBA: its requests must be authenticated".into());
    }
    let Some(mode) = mode else {
        return Err("the CIBA grant needs --ciba-mode poll, ping or push".into());
    };
    match (mode.notifies(), endpoint) {
        (true, None) => Err(format!(
            "--ciba-mode {mode} needs --ciba-notification-endpoint"
        )),
        (false, Some(_)) => Err("--ciba-notification-endpoint is for ping and push only".into()),
        (true, Some(uri)) => validate_https_or_loopback("--ciba-notification-endpoint", uri),
        (false, None) => Ok(()),
    }
}

/// CIBA's notification endpoint over plain http only while the issuer itself is plain http on
/// loopback (a development setup); a server on https notifies over https.
pub fn check_ciba_endpoint_for_issuer(client: &Client, issuer: &str) -> Result<(), String> {
    let Some(uri) = client.backchannel_client_notification_endpoint.as_deref() else {
        return Ok(());
    };
    let plain = |u: &str| u.starts_with("http://");
    if plain(uri) && !(plain(issuer) && strip_loopback_port(issuer).is_some()) {
        return Err(format!(
            "{uri}: the notification endpoint must be https unless the issuer is http on loopback"
        ));
    }
    Ok(())
}

/// Public clients authenticate with `none`; confidential ones with a secret or a key, and
/// `private_key_jwt` needs the keys to check against.
fn check_auth_method(client: &Client) -> Result<(), String> {
    match (client.client_type, client.token_endpoint_auth_method) {
        (ClientType::Public, AuthMethod::None) => Ok(()),
        (ClientType::Public, _) => Err("a public client authenticates with none".into()),
        (ClientType::Confidential, AuthMethod::None) => {
            Err("a confidential client needs a secret- or key-based method".into())
        }
        (ClientType::Confidential, AuthMethod::PrivateKeyJwt)
            if client.jwks_uri.is_none() && client.jwks.is_none() =>
        {
            Err("private_key_jwt needs --jwks-uri or --jwks-file".into())
        }
        (ClientType::Confidential, _) => Ok(()),
    }
}

/// A client id is printable ASCII without spaces (RFC 6749 Appendix A.1 allows VSCHAR; the
/// space is left out because ids travel unencoded in many clients' Basic headers), of bounded
/// length. That it is unused and is no user's `sub` (RFC 9700 §4.15.1) needs the store.
pub fn validate_client_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_CLIENT_ID_LEN {
        return Err(format!(
            "a client id has 1 to {MAX_CLIENT_ID_LEN} characters"
        ));
    }
    if !id.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err("a client id is printable ASCII without spaces".into());
    }
    Ok(())
}

/// An imported client secret: VSCHAR (RFC 6749 Appendix A.2), at least
/// [`MIN_IMPORTED_SECRET_LEN`] characters.
pub fn validate_imported_secret(secret: &str) -> Result<(), String> {
    if secret.len() < MIN_IMPORTED_SECRET_LEN || secret.len() > MAX_IMPORTED_SECRET_LEN {
        return Err(format!(
            "an imported client secret has {MIN_IMPORTED_SECRET_LEN} to {MAX_IMPORTED_SECRET_LEN} characters"
        ));
    }
    if !secret.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err("an imported client secret is printable ASCII".into());
    }
    Ok(())
}

/// Checks a redirect URI (or post-logout redirect URI) at registration: absolute, no
/// fragment, no user information, no script-bearing scheme. Web clients use https, or plain
/// http on a loopback IP literal (matched exactly). Native apps may also use a private-use
/// scheme named after a reverse domain, `com.example.app:/cb` (RFC 8252 §7.1), and https
/// URIs they claim (§7.2). (RFC 9700 §2.6, RFC 6749 §3.1.2, Keycloak CVE-2023-6134,
/// CVE-2026-9086 and CVE-2026-7504.)
pub fn validate_redirect_uri(uri: &str, application_type: ApplicationType) -> Result<(), String> {
    let parsed = check_absolute(uri)?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if strip_loopback_port(uri).is_some() => Ok(()),
        "http" => Err(format!(
            "{uri}: plain http is allowed only on a loopback IP literal (127.0.0.1 or [::1]; \
             RFC 8252 §8.3 advises against localhost)"
        )),
        scheme if application_type == ApplicationType::Native => {
            check_private_use_scheme(uri, scheme)
        }
        scheme => Err(format!(
            "{uri}: the {scheme} scheme is allowed only for --application-type native"
        )),
    }
}

/// RFC 8252 §7.1: "apps MUST use a URI scheme based on a domain name under their control,
/// expressed in reverse order" (so the scheme has a dot), and such a URI has "only a single
/// slash" after the scheme, since there is no naming authority.
fn check_private_use_scheme(uri: &str, scheme: &str) -> Result<(), String> {
    if ["javascript", "data", "vbscript", "file", "blob", "about"].contains(&scheme) {
        return Err(format!("{uri}: the {scheme} scheme is not allowed"));
    }
    if !scheme.contains('.') {
        return Err(format!(
            "{uri}: a private-use scheme is a reverse domain name such as com.example.app"
        ));
    }
    let rest = &uri[scheme.len() + 1..];
    if !rest.starts_with('/') || rest.starts_with("//") {
        return Err(format!(
            "{uri}: a private-use scheme URI has a single slash after the scheme ({scheme}:/path)"
        ));
    }
    Ok(())
}

/// A URL the server itself calls or sends browsers to (logout URIs, `jwks_uri`): absolute,
/// no fragment or user information, https or plain http on a loopback IP literal.
pub fn validate_https_or_loopback(flag: &str, uri: &str) -> Result<(), String> {
    let parsed = check_absolute(uri).map_err(|e| format!("{flag}: {e}"))?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if strip_loopback_port(uri).is_some() => Ok(()),
        _ => Err(format!(
            "{flag} {uri}: must be https, or http on 127.0.0.1 or [::1]"
        )),
    }
}

/// The checks every registered URI shares. The scheme is compared in lower case: the
/// Keycloak CVE-2026-9086 lesson (`JavaScript:`).
fn check_absolute(uri: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(uri).map_err(|e| format!("{uri} is not an absolute URI: {e}"))?;
    let scheme = parsed.scheme();
    if ["javascript", "data", "vbscript", "file"].contains(&scheme) {
        return Err(format!("{uri}: the {scheme} scheme is not allowed"));
    }
    if uri.contains('#') {
        return Err(format!(
            "{uri}: a registered URI must not contain a fragment"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{uri}: a registered URI must not contain user information"
        ));
    }
    Ok(parsed)
}

/// A CORS origin as browsers send it in `Origin` (RFC 6454 §6.1): `scheme://host[:port]`
/// exactly, in its serialised form (lower-case host, no default port, no path or trailing
/// slash), https, or http on a loopback host. `localhost` is accepted here, unlike for
/// redirect URIs: an origin is never a place the server sends anyone, and a page on
/// `http://localhost:3000` can only be served by the user's own machine.
pub fn validate_origin(origin: &str) -> Result<(), String> {
    let parsed = url::Url::parse(origin).map_err(|_| format!("{origin} is not an origin"))?;
    let serialised = parsed.origin().ascii_serialization();
    if serialised != origin {
        return Err(format!(
            "{origin} is not an origin as browsers send it (scheme://host[:port], e.g. {serialised})"
        ));
    }
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "{origin}: an allowed origin is https, or http on a loopback host"
        )),
    }
}

/// A JWK Set holding public keys only (RFC 7517 §5): an object with a `keys` array of JWKs,
/// each with a `kty`, none with a private or symmetric member.
pub fn validate_public_jwks(jwks: &serde_json::Value) -> Result<(), String> {
    let keys = jwks
        .get("keys")
        .and_then(|k| k.as_array())
        .ok_or("a JWK Set is an object with a \"keys\" array")?;
    if keys.is_empty() {
        return Err("the JWK Set has no keys".into());
    }
    for (i, key) in keys.iter().enumerate() {
        if key.get("kty").and_then(|k| k.as_str()).is_none() {
            return Err(format!("key {i} of the JWK Set has no kty"));
        }
        if let Some(member) = PRIVATE_JWK_MEMBERS.iter().find(|m| key.get(**m).is_some()) {
            return Err(format!(
                "key {i} of the JWK Set has the private member {member}: register public keys only"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
