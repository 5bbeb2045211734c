//! Registered clients and the rules that depend only on their registration: which redirect
//! URIs are allowed (exact string match, RFC 9700 §4.1.3), which grants and response types
//! they may use, and how they authenticate.

use serde::{Deserialize, Serialize};

use crate::scope::{Scope, STANDARD_SCOPES};
use crate::OAuthError;

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientType {
    Confidential,
    Public,
}

/// Token-endpoint authentication methods (RFC 7591 §2 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// A JWT signed with HMAC under the client's secret (OpenID Connect Core §9).
    ClientSecretJwt,
    /// A JWT signed with the client's private key (RFC 7523, OpenID Connect Core §9).
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 5] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::ClientSecretJwt,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// RFC 8252 / OpenID Connect Registration `application_type`: native apps may use loopback
/// redirect URIs on any port and private-use URI schemes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    #[default]
    Web,
    Native,
}

/// JWS algorithms Ferriam signs with (RFC 7518 §3.1 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SigningAlg {
    RS256,
    /// RSASSA-PSS with SHA-256 and MGF1 with SHA-256 (RFC 7518 §3.5), on its own RSA key.
    PS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 4] = [Self::RS256, Self::PS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A registered client, as stored. Secrets are not part of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub client_type: ClientType,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// Scopes the client may ask for beyond the standard OpenID Connect ones.
    #[serde(default)]
    pub scopes: Vec<String>,
    pub token_endpoint_auth_method: AuthMethod,
    #[serde(default)]
    pub allow_plain_pkce: bool,
    pub access_token_alg: SigningAlg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_ttl: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_ttl: Option<u64>,
    /// Absolute lifetime of this client's refresh-token families; the server's default if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_absolute_ttl: Option<u64>,
    #[serde(default)]
    pub application_type: ApplicationType,
    /// `id_token_signed_response_alg`; RS256 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_alg: Option<SigningAlg>,
    /// Where the client's public keys for `private_key_jwt` are fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The client's public keys for `private_key_jwt`, registered inline (a JWK Set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    /// Back-Channel Logout 1.0 `backchannel_logout_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Front-Channel Logout 1.0 `frontchannel_logout_uri`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// Exact origins allowed to call `/token`, `/userinfo` and `/revoke` from a browser (CORS).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_origins: Vec<String>,
    /// CIBA §4 `backchannel_token_delivery_mode`: how this CIBA client gets its result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_token_delivery_mode: Option<crate::ciba::DeliveryMode>,
    /// CIBA §4 `backchannel_client_notification_endpoint`, for ping and push.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// CIBA §4 `backchannel_user_code_parameter`: this client's requests carry a user code.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backchannel_user_code_parameter: bool,
}

impl Default for Client {
    /// A confidential web client for the authorization code flow, with nothing registered yet.
    fn default() -> Self {
        Self {
            client_id: String::new(),
            name: String::new(),
            client_type: ClientType::Confidential,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            response_types: vec!["code".into()],
            scopes: Vec::new(),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            allow_plain_pkce: false,
            access_token_alg: SigningAlg::RS256,
            access_token_ttl: None,
            refresh_token_ttl: None,
            refresh_token_absolute_ttl: None,
            application_type: ApplicationType::Web,
            id_token_alg: None,
            jwks_uri: None,
            jwks: None,
            backchannel_logout_uri: None,
            frontchannel_logout_uri: None,
            allowed_origins: Vec::new(),
            backchannel_token_delivery_mode: None,
            backchannel_client_notification_endpoint: None,
            backchannel_user_code_parameter: false,
        }
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.client_type == ClientType::Public
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether `response_type` is registered, compared as a set of words (RFC 6749 §3.1.1:
    /// their order does not matter).
    pub fn allows_response_type(&self, response_type: &str) -> bool {
        self.response_types
            .iter()
            .any(|r| crate::authorize::response_type::same_set(r, response_type))
    }

    /// Public clients must use PKCE (RFC 9700 §2.1.1).
    pub fn requires_pkce(&self) -> bool {
        self.is_public()
    }

    /// Every scope of the request must be a standard scope or one registered for the client.
    pub fn check_scope(&self, scope: &Scope) -> Result<(), OAuthError> {
        match scope
            .iter()
            .find(|s| !STANDARD_SCOPES.contains(s) && !self.scopes.iter().any(|c| c == s))
        {
            Some(s) => Err(OAuthError::invalid_scope(
                "a requested scope is not allowed for this client",
            )
            .with_detail(format!("scope {s} is not registered"))),
            None => Ok(()),
        }
    }

    /// Native apps (RFC 8252) get the loopback-port relaxation and private-use URI schemes;
    /// keyed on the registered application type, not on the client type: a confidential web
    /// client on a developer's machine gets exact matching (SECURITY R1, Keycloak CVE-2024-8883).
    pub fn is_native(&self) -> bool {
        self.application_type == ApplicationType::Native
    }

    /// Chooses the redirect URI of an authorization request.
    ///
    /// The requested value must equal a registered one character for character (RFC 9700
    /// §4.1.3); for native clients the port of a loopback IP literal URI may differ (RFC 8252
    /// §7.3). It may be omitted only for a plain OAuth request of a client with exactly one
    /// registered URI: OpenID Connect Core §3.1.2.1 requires it whenever `openid` is asked.
    pub fn resolve_redirect_uri(
        &self,
        requested: Option<&str>,
        openid: bool,
    ) -> Result<String, OAuthError> {
        match requested {
            Some(uri) => self
                .redirect_uris
                .iter()
                .find(|registered| redirect_uri_matches(registered, uri, self.is_native()))
                .map(|_| uri.to_owned())
                .ok_or_else(|| {
                    OAuthError::invalid_request("redirect_uri does not match a registered URI")
                }),
            None if openid => Err(OAuthError::invalid_request(
                "missing parameter redirect_uri",
            )),
            None => match self.redirect_uris.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(OAuthError::invalid_request(
                    "missing parameter redirect_uri",
                )),
            },
        }
    }
}

/// Exact string comparison, with the single RFC 8252 §7.3 exception for native clients: the
/// port of a loopback IP redirect URI may vary.
pub fn redirect_uri_matches(registered: &str, requested: &str, allow_loopback_port: bool) -> bool {
    if registered == requested {
        return true;
    }
    allow_loopback_port
        && match (
            strip_loopback_port(registered),
            strip_loopback_port(requested),
        ) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
}

/// `http://127.0.0.1:1234/cb` -> `http://127.0.0.1/cb`; `None` for anything not a loopback IP
/// literal URI. `localhost` is not one: RFC 8252 §8.3 calls it NOT RECOMMENDED (the name may
/// resolve to something else, or be answered by another interface), so it gets neither the
/// port relaxation nor plain http at registration.
pub(crate) fn strip_loopback_port(uri: &str) -> Option<String> {
    ["http://127.0.0.1", "http://[::1]"]
        .iter()
        .find_map(|prefix| {
            let rest = uri.strip_prefix(prefix)?;
            let after_port = match rest.strip_prefix(':') {
                Some(port_and_path) => {
                    let digits = port_and_path.bytes().take_while(u8::is_ascii_digit).count();
                    if digits == 0 {
                        return None;
                    }
                    &port_and_path[digits..]
                }
                None => rest,
            };
            (after_port.is_empty() || after_port.starts_with('/') || after_port.starts_with('?'))
                .then(|| format!("{prefix}{after_port}"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(client_type: ClientType, uris: &[&str]) -> Client {
        Client {
            client_id: "c".into(),
            name: "c".into(),
            client_type,
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            grant_types: vec!["authorization_code".into()],
            response_types: vec!["code".into()],
            scopes: vec!["api:read".into()],
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            allow_plain_pkce: false,
            access_token_alg: SigningAlg::RS256,
            access_token_ttl: None,
            refresh_token_ttl: None,
            ..Default::default()
        }
    }

    #[test]
    fn exact_match_only() {
        let c = client(ClientType::Confidential, &["https://client.example.com/cb"]);
        assert!(c
            .resolve_redirect_uri(Some("https://client.example.com/cb"), true)
            .is_ok());
        // The node-oidc-provider 48cc79c2 vectors and the fosite / Keycloak lessons.
        for bad in [
            "https://client.example.com:443/cb",
            "https://CLIENT.EXAMPLE.COM/cb",
            "https://client.example.com/cb/",
            "https://client.example.com/x/../cb",
            "https://client.example.com/cb?bar=foo",
            "https://client.example.com/cb#",
            "https://client.example.com%2fcb",
            "https://client.example.com/CB",
            "https://client.example.com/cb@evil.example",
        ] {
            assert!(
                c.resolve_redirect_uri(Some(bad), true).is_err(),
                "{bad} accepted"
            );
        }
    }

    fn native(uris: &[&str]) -> Client {
        Client {
            application_type: ApplicationType::Native,
            ..client(ClientType::Public, uris)
        }
    }

    /// RFC 8252 §7.3 vectors: the port of a loopback IP literal varies for native apps only.
    #[test]
    fn loopback_port_varies_only_for_native_clients() {
        let public = native(&["http://127.0.0.1/cb"]);
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1:51234/cb"), true)
            .is_ok());
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1:51234/other"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("http://127.000.000.001/cb"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1.evil.example/cb"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1:/cb"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1.evil/cb"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("http://127.0.0.1:51234@evil.example/cb"), true)
            .is_err());
        assert!(public
            .resolve_redirect_uri(Some("https://127.0.0.1:51234/cb"), true)
            .is_err());
        let v6 = native(&["http://[::1]/cb"]);
        assert!(v6
            .resolve_redirect_uri(Some("http://[::1]:61023/cb"), true)
            .is_ok());
        assert!(v6
            .resolve_redirect_uri(Some("http://127.0.0.1:61023/cb"), true)
            .is_err());
        // A confidential native app (RFC 8252 §8.4 allows per-instance secrets) is still native.
        let confidential_native = Client {
            application_type: ApplicationType::Native,
            ..client(ClientType::Confidential, &["http://127.0.0.1/cb"])
        };
        assert!(confidential_native
            .resolve_redirect_uri(Some("http://127.0.0.1:51234/cb"), true)
            .is_ok());
        // Web clients, public or confidential: exact match only.
        for web in [ClientType::Confidential, ClientType::Public] {
            let c = client(web, &["http://127.0.0.1/cb"]);
            assert!(c
                .resolve_redirect_uri(Some("http://127.0.0.1:51234/cb"), true)
                .is_err());
            assert!(c
                .resolve_redirect_uri(Some("http://127.0.0.1/cb"), true)
                .is_ok());
        }
    }

    /// `localhost` is not a loopback IP literal (RFC 8252 §8.3): no port relaxation, even for
    /// native apps; an exact match is all it could ever get.
    #[test]
    fn localhost_gets_no_port_relaxation() {
        let c = native(&["http://localhost/cb"]);
        assert!(c
            .resolve_redirect_uri(Some("http://localhost:51234/cb"), true)
            .is_err());
    }

    #[test]
    fn private_use_schemes_match_exactly() {
        let c = native(&["com.example.app:/cb"]);
        assert!(c
            .resolve_redirect_uri(Some("com.example.app:/cb"), true)
            .is_ok());
        assert!(c
            .resolve_redirect_uri(Some("com.example.app:/cb2"), true)
            .is_err());
        assert!(c
            .resolve_redirect_uri(Some("COM.EXAMPLE.APP:/cb"), true)
            .is_err());
    }

    #[test]
    fn omitted_redirect_uri() {
        let one = client(ClientType::Confidential, &["https://a.example/cb"]);
        assert_eq!(
            one.resolve_redirect_uri(None, false).unwrap(),
            "https://a.example/cb"
        );
        assert!(one.resolve_redirect_uri(None, true).is_err());
        let two = client(
            ClientType::Confidential,
            &["https://a.example/cb", "https://a.example/2"],
        );
        assert!(two.resolve_redirect_uri(None, false).is_err());
    }

    #[test]
    fn custom_scopes_must_be_registered() {
        let c = client(ClientType::Confidential, &[]);
        assert!(c
            .check_scope(&Scope::parse("openid email api:read").unwrap())
            .is_ok());
        assert!(c
            .check_scope(&Scope::parse("openid api:write").unwrap())
            .is_err());
    }
}
