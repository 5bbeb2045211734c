//! Settings: defaults that work on a laptop < a TOML file (`--config`) < `FERRIAM_*`
//! environment variables < command-line flags. Unknown keys are refused.

use std::net::SocketAddr;
use std::path::PathBuf;

use ferriam_protocol::mfa::cidr::Cidr;
use ferriam_protocol::mfa::policy::Rules;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Environment variables with the `FERRIAM_` prefix that are not settings.
const NON_SETTING_VARS: [&str; 3] = ["TEST_POSTGRES", "MASTER_KEY", "LOG"];

/// Every setting of the server, with its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Public issuer URL; defaults to `http://` + the bound address.
    pub issuer: Option<String>,
    /// `sqlite://path`, a file path, or `postgres://...`.
    pub database_url: String,
    /// A folder whose templates replace the built-in pages of the same name.
    pub templates_dir: Option<PathBuf>,
    /// `text` or `json`.
    pub log_format: String,
    pub access_token_ttl: u64,
    pub id_token_ttl: u64,
    /// Sliding lifetime of a refresh token.
    pub refresh_token_ttl: u64,
    /// Absolute lifetime of a refresh-token family.
    pub refresh_token_absolute_ttl: u64,
    /// Window in which a retried refresh gets the same new token instead of revoking the family.
    pub refresh_grace_period: u64,
    pub code_ttl: u64,
    pub session_ttl: u64,
    /// How long a user has to finish signing in and consenting.
    pub interaction_ttl: u64,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// Consecutive failed sign-ins that lock an account (NIST SP 800-63B §5.2.2: at most 100).
    pub max_failed_logins: u32,
    /// How long a locked account stays locked at first; each further failure after a lock
    /// ends locks it again for twice as long (up to `lockout_max_seconds`) until a success.
    pub lockout_seconds: u64,
    /// The longest a doubled account lock lasts.
    pub lockout_max_seconds: u64,
    /// Proxies whose `X-Forwarded-For` is believed (CIDR blocks or addresses): behind one, the
    /// client address is the right-most entry that is not itself a trusted proxy.
    pub trusted_proxies: Vec<Cidr>,
    /// The window, in seconds, in which the sign-in limits below count (`signin::limits`).
    pub signin_limit_window: u64,
    /// Failed passwords, wrong codes and codes sent from one client address in a window
    /// before that address is blocked (429); 0 turns this limit off.
    pub signin_max_failures_per_ip: u32,
    /// Wrong codes for one account, across its sign-ins, in a window before its codes are
    /// refused like wrong ones; 0 turns this limit off.
    pub otp_max_failures_per_account: u32,
    /// Codes sent to one email address or phone number in a window before sends to it are
    /// refused (against SMS pumping); 0 turns this limit off.
    pub otp_max_sends_per_destination: u32,
    /// How long a sign-in limit's first block lasts; each further block of the same key within
    /// `signin_block_memory` lasts twice as long as the one before, up to `signin_block_max_seconds`.
    pub signin_block_seconds: u64,
    /// The longest a doubled sign-in block lasts.
    pub signin_block_max_seconds: u64,
    /// How long after a block ends a further block of the same key still doubles it.
    pub signin_block_memory: u64,
    /// Seconds between runs of the expired-row purge.
    pub purge_interval: u64,
    /// Seconds an audit event is kept before the purge deletes it.
    pub audit_retention: u64,
    /// Sign-in policy: `[[mfa.rules]]`, which second factors a sign-in needs.
    pub mfa: MfaConfig,
    /// Seconds a one-time code sent by email or SMS is valid.
    pub otp_ttl: u64,
    /// Attempts at one code (or at TOTP codes in one sign-in) before it is void.
    pub otp_max_attempts: u32,
    /// Codes sent per factor in one sign-in (the first and the resends).
    pub otp_max_sends: u32,
    /// Where one-time codes go by email; absent: into the server log (development only).
    pub email: Option<EmailConfig>,
    /// The HTTP gateway one-time codes go through by SMS; absent: into the server log.
    pub sms: Option<SmsConfig>,
    /// Seconds a CIBA request lives when the client asks no `requested_expiry`.
    pub ciba_expiry: u64,
    /// The longest `requested_expiry` granted (longer requests are capped).
    pub ciba_max_expiry: u64,
    /// Seconds between polls a CIBA client starts with (poll and ping modes).
    pub ciba_interval: u64,
    /// How far ahead a client assertion's `exp` may lie (RFC 7523 §3): a long-lived
    /// assertion is a credential that can be replayed elsewhere until it expires.
    pub client_assertion_max_lifetime: u64,
    /// How long a client's keys fetched from its `jwks_uri` are used before being fetched again.
    pub client_jwks_cache_ttl: u64,
    /// The least time between two fetches of one client's `jwks_uri` (an unknown `kid`
    /// triggers a fetch, but not more often than this).
    pub client_jwks_min_refetch: u64,
    /// The window, in seconds, in which failed client authentications are counted.
    pub client_auth_window: u64,
    /// Failed client authentications for one client_id in a window before it is answered 429;
    /// 0 turns this counter off.
    pub client_auth_max_failures: u32,
    /// Failed client authentications from one address in a window before it is answered 429;
    /// 0 turns this counter off (needed behind a proxy, where every request has its address).
    pub client_auth_max_failures_per_ip: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            issuer: None,
            database_url: "sqlite://data/ferriam.db".into(),
            templates_dir: None,
            log_format: "text".into(),
            access_token_ttl: 600,
            id_token_ttl: 600,
            refresh_token_ttl: 30 * 24 * 3600,
            refresh_token_absolute_ttl: 90 * 24 * 3600,
            refresh_grace_period: 10,
            code_ttl: 60,
            session_ttl: 24 * 3600,
            interaction_ttl: 600,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_failed_logins: 10,
            lockout_seconds: 300,
            lockout_max_seconds: 3600,
            trusted_proxies: Vec::new(),
            signin_limit_window: 900,
            signin_max_failures_per_ip: 50,
            otp_max_failures_per_account: 10,
            otp_max_sends_per_destination: 5,
            signin_block_seconds: 60,
            signin_block_max_seconds: 3600,
            signin_block_memory: 24 * 3600,
            purge_interval: 60,
            audit_retention: 90 * 24 * 3600,
            mfa: MfaConfig::default(),
            otp_ttl: 300,
            otp_max_attempts: 5,
            otp_max_sends: 3,
            email: None,
            sms: None,
            ciba_expiry: 300,
            ciba_max_expiry: 600,
            ciba_interval: 5,
            client_assertion_max_lifetime: 300,
            client_jwks_cache_ttl: 300,
            client_jwks_min_refetch: 10,
            client_auth_window: 60,
            client_auth_max_failures: 10,
            client_auth_max_failures_per_ip: 50,
        }
    }
}

/// The `[mfa]` table.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaConfig {
    /// In order; the first whose `when` holds decides (`ferriam_protocol::mfa::policy`).
    pub rules: Rules,
}

/// The `[email]` table: an SMTP server, in lettre's URL form (`smtp://user:pass@host:port`;
/// `?tls=required` for STARTTLS, `smtps://` for implicit TLS), and the sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_url: String,
    /// `Name <address>` or an address.
    pub from: String,
}

/// The `[sms]` table: an HTTP gateway that sends a text message (Twilio-style APIs included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    pub url: String,
    #[serde(default = "SmsConfig::default_method")]
    pub method: String,
    /// `application/json` or `application/x-www-form-urlencoded`: how `to` and `text` are
    /// escaped into `body`.
    #[serde(default = "SmsConfig::default_content_type")]
    pub content_type: String,
    /// A minijinja template with `to` (E.164) and `text` (which holds the code).
    pub body: String,
    /// Headers sent with every request (an `Authorization` for the gateway, say).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Seconds one request may take.
    #[serde(default = "SmsConfig::default_timeout")]
    pub timeout_seconds: u64,
    /// How many times a 5xx answer, a timeout or a failed connection is retried (a 4xx never).
    #[serde(default = "SmsConfig::default_retries")]
    pub retries: u32,
}

impl SmsConfig {
    fn default_method() -> String {
        "POST".into()
    }
    fn default_content_type() -> String {
        "application/json".into()
    }
    fn default_timeout() -> u64 {
        5
    }
    fn default_retries() -> u32 {
        2
    }
}

/// Why the settings could not be loaded; the text names the file's line where it can.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error(transparent)]
    Layers(#[from] Box<figment::Error>),
}

impl Config {
    /// Layers the defaults, the optional file and the environment. The file is also read on
    /// its own first, so that a mistake in it (an unknown key, a bad value, a rule that cannot
    /// hold) is reported with its line.
    pub fn load(file: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            check_file(file)?;
            figment = figment.merge(Toml::file_exact(file));
        }
        let config: Config = figment
            // The filter sees the key as written (`ISSUER`); settings are named in lower case.
            .merge(
                Env::prefixed("FERRIAM_").filter(|k| is_setting(&k.as_str().to_ascii_lowercase())),
            )
            .extract()
            .map_err(Box::new)?;
        Rules::validate(&config.mfa.rules).map_err(|reason| ConfigError::File {
            path: "settings".into(),
            reason,
        })?;
        Ok(config)
    }

    /// `FERRIAM_*` environment variables that are not settings (probably misspelt), to warn about.
    pub fn unknown_env_vars() -> Vec<String> {
        std::env::vars()
            .map(|(name, _)| name)
            .filter(|name| {
                name.strip_prefix("FERRIAM_").is_some_and(|key| {
                    !NON_SETTING_VARS.contains(&key) && !is_setting(&key.to_ascii_lowercase())
                })
            })
            .collect()
    }

    /// The issuer for a server bound at `bound`.
    pub fn issuer_for(&self, bound: SocketAddr) -> String {
        match &self.issuer {
            Some(issuer) => issuer.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }
}

/// Parses the settings file alone, for errors with their line: TOML's own (which name line
/// and column), and the rules' checks, pointed at the rule's `[[mfa.rules]]` header.
fn check_file(file: &std::path::Path) -> Result<(), ConfigError> {
    let path = file.display().to_string();
    let fail = |reason: String| ConfigError::File {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(file).map_err(|e| fail(e.to_string()))?;
    let parsed: Config = toml::from_str(&text).map_err(|e| fail(e.to_string()))?;
    Rules::validate(&parsed.mfa.rules).map_err(|reason| {
        let index = reason
            .strip_prefix("mfa rule ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|which| {
                let name = which.trim_matches('"');
                parsed
                    .mfa
                    .rules
                    .iter()
                    .rposition(|r| r.name == name)
                    .or_else(|| which.parse::<usize>().ok().map(|n| n.saturating_sub(1)))
            });
        match index.and_then(|i| rule_header_line(&text, i)) {
            Some(line) => fail(format!("line {line}: {reason}")),
            None => fail(reason),
        }
    })
}

/// The 1-based line of the `index`-th `[[mfa.rules]]` header of a settings file.
fn rule_header_line(text: &str, index: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.trim().replace(' ', "") == "[[mfa.rules]]")
        .nth(index)
        .map(|(n, _)| n + 1)
}

fn is_setting(key: &str) -> bool {
    serde_json::to_value(Config::default())
        .ok()
        .and_then(|v| v.as_object().map(|o| o.contains_key(key)))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferriam.toml");
        std::fs::write(&path, "code_ttl = 30\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.code_ttl, 30);
        assert_eq!(config.access_token_ttl, 600);
        std::fs::write(&path, "no_such_setting = 1\n").unwrap();
        assert!(Config::load(Some(&path)).is_err());
    }

    #[test]
    fn trusted_proxies_are_checked_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferriam.toml");
        std::fs::write(&path, "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        assert!(Config::default().trusted_proxies.is_empty());
        std::fs::write(&path, "code_ttl = 30\ntrusted_proxies = [\"10.0.0.1/8\"]\n").unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("line 2") && error.contains("10.0.0.1/8"),
            "{error}"
        );
    }

    #[test]
    fn mfa_rules_load_and_mistakes_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ferriam.toml");
        let rules = "code_ttl = 30\n\n[[mfa.rules]]\nname = \"corporate\"\nwhen = { idp = \"corp\" }\nrequire = [\"sms\"]\n";
        std::fs::write(&path, rules).unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.mfa.rules.len(), 1);
        assert_eq!(config.mfa.rules[0].name, "corporate");

        let unknown_key = format!("{rules}colour = \"blue\"\n");
        std::fs::write(&path, unknown_key).unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("line 7") && error.contains("colour"),
            "{error}"
        );

        let unknown_factor = rules.replace("\"sms\"", "\"pigeon\"");
        std::fs::write(&path, unknown_factor).unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("line 6") && error.contains("pigeon"),
            "{error}"
        );

        let both = format!("{rules}\n[[mfa.rules]]\nname = \"corporate\"\nany_of = [\"email\"]\n");
        std::fs::write(&path, both).unwrap();
        let error = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(
            error.contains("line 8"),
            "the second rule's header: {error}"
        );
    }
}
