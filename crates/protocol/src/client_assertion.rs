//! JWT client assertions (RFC 7523 §2.2 and §3, OpenID Connect Core §9): reading the compact
//! JWS a client sends as `client_assertion`, refusing the headers that would let it choose
//! its own key, and checking its claims. Verifying the signature needs the client's key and
//! happens in the server; everything here is pure.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

use crate::client::AuthMethod;
use crate::OAuthError;

/// The only `client_assertion_type` Ferriam accepts (RFC 7523 §2.2).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How far in the future `iat` and `nbf` may lie, for clocks that are slightly off.
pub const CLOCK_SKEW: i64 = 30;

/// The JWS algorithms a client assertion may be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssertionAlg {
    HS256,
    HS384,
    HS512,
    RS256,
    PS256,
    ES256,
    EdDSA,
}

impl AssertionAlg {
    /// Every algorithm, HMAC first.
    pub const ALL: [AssertionAlg; 7] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::PS256,
        Self::ES256,
        Self::EdDSA,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The algorithm a JWS header names, if Ferriam accepts it (`none` is not one).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// HMAC algorithms are keyed with the client's secret; the others with its public keys.
    pub fn is_hmac(self) -> bool {
        matches!(self, Self::HS256 | Self::HS384 | Self::HS512)
    }

    /// Whether an assertion signed with this algorithm can authenticate a client registered
    /// with `method`: HMAC only for `client_secret_jwt`, signatures only for `private_key_jwt`,
    /// so a public key can never be used as an HMAC secret (RFC 8725 §2.1, §3.1).
    pub fn fits(self, method: AuthMethod) -> bool {
        match method {
            AuthMethod::ClientSecretJwt => self.is_hmac(),
            AuthMethod::PrivateKeyJwt => !self.is_hmac(),
            _ => false,
        }
    }
}

/// `aud`: one value or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            Self::One(a) => a == wanted,
            Self::Many(all) => all.iter().any(|a| a == wanted),
        }
    }
}

/// The claims of a client assertion that Ferriam checks (RFC 7523 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct AssertionClaims {
    pub iss: Option<String>,
    pub sub: Option<String>,
    pub aud: Option<Audience>,
    pub exp: Option<i64>,
    pub nbf: Option<i64>,
    pub iat: Option<i64>,
    pub jti: Option<String>,
}

/// The JOSE header members that matter here. Any header that names a key or a place to fetch
/// one (`jwk`, `jku`, `x5u`, `x5c`) is refused: the key comes from the registration only and
/// `kid` only selects among the registered keys (RFC 8725 §3.10, SECURITY.md R37).
#[derive(Deserialize)]
struct Header {
    alg: Option<String>,
    kid: Option<String>,
    crit: Option<serde_json::Value>,
    jwk: Option<serde_json::Value>,
    jku: Option<serde_json::Value>,
    x5u: Option<serde_json::Value>,
    x5c: Option<serde_json::Value>,
}

/// A client assertion as read, before its signature is verified.
#[derive(Debug, Clone)]
pub struct ClientAssertion {
    pub alg: AssertionAlg,
    pub kid: Option<String>,
    pub claims: AssertionClaims,
    signing_input: String,
    signature: Vec<u8>,
}

fn refused(description: &str) -> OAuthError {
    // RFC 7521 §4.2.1: an assertion that is not valid for any reason is `invalid_client`.
    OAuthError::invalid_client(description.to_owned())
}

impl ClientAssertion {
    /// Reads a compact JWS. Refuses `alg: none` and unknown algorithms, `crit` (no extension
    /// is understood, RFC 7515 §4.1.11) and key-carrying headers.
    pub fn parse(token: &str) -> Result<Self, OAuthError> {
        let malformed = || refused("the client assertion is not a well-formed JWT");
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        let header: Header = decode_json(h).ok_or_else(malformed)?;
        let claims: AssertionClaims = decode_json(p).ok_or_else(malformed)?;
        let signature = URL_SAFE_NO_PAD.decode(s).map_err(|_| malformed())?;
        if header.crit.is_some() {
            return Err(refused("the client assertion uses crit"));
        }
        if header.jwk.is_some() || header.jku.is_some() || header.x5u.is_some() {
            return Err(refused("the client assertion names its own key"));
        }
        if header.x5c.is_some() {
            return Err(refused("the client assertion names its own key"));
        }
        let alg = header
            .alg
            .as_deref()
            .and_then(AssertionAlg::parse)
            .ok_or_else(|| refused("the client assertion's alg is not accepted"))?;
        if signature.is_empty() {
            return Err(malformed());
        }
        Ok(Self {
            alg,
            kid: header.kid,
            claims,
            signing_input: token[..h.len() + 1 + p.len()].to_owned(),
            signature,
        })
    }

    /// The client the assertion claims to come from: its `iss` (which must equal `sub`).
    pub fn issuer(&self) -> Option<&str> {
        self.claims.iss.as_deref()
    }

    /// The bytes the signature covers (RFC 7515 §5.2).
    pub fn signing_input(&self) -> &[u8] {
        self.signing_input.as_bytes()
    }

    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The header's `alg` must belong to the method the client registered.
    pub fn check_method(&self, registered: AuthMethod) -> Result<(), OAuthError> {
        if self.alg.fits(registered) {
            Ok(())
        } else {
            Err(
                refused("the client assertion's alg does not fit the client's registration")
                    .with_detail(format!(
                        "{} assertion for a {} client",
                        self.alg.as_str(),
                        registered.as_str()
                    )),
            )
        }
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// What an assertion's claims are checked against.
pub struct AssertionRules<'a> {
    pub client_id: &'a str,
    /// The values `aud` may hold: the issuer and the URL of the endpoint being called.
    pub audiences: &'a [String],
    pub now: i64,
    /// How far ahead `exp` may lie: a long-lived assertion is a replayable credential.
    pub max_lifetime: i64,
}

/// An assertion whose claims passed: its `jti`, to be accepted once, until `exp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedClaims {
    pub jti: String,
    pub exp: i64,
}

/// The claim rules of RFC 7523 §3 and OpenID Connect Core §9.
pub fn check_claims(
    claims: &AssertionClaims,
    rules: &AssertionRules<'_>,
) -> Result<AcceptedClaims, OAuthError> {
    // §3 items 1 and 2: iss and sub are both the client_id (OIDC Core §9).
    if claims.iss.as_deref() != Some(rules.client_id)
        || claims.sub.as_deref() != Some(rules.client_id)
    {
        return Err(refused(
            "the client assertion's iss and sub must be the client_id",
        ));
    }
    // §3 item 3: aud identifies the authorization server (its issuer or the endpoint's URL).
    let aud_ok = claims
        .aud
        .as_ref()
        .is_some_and(|aud| rules.audiences.iter().any(|a| aud.contains(a)));
    if !aud_ok {
        return Err(refused("the client assertion's aud is not this server"));
    }
    // §3 item 4: exp is required and must be in the future.
    let exp = claims
        .exp
        .ok_or_else(|| refused("the client assertion has no exp"))?;
    if exp <= rules.now {
        return Err(refused("the client assertion has expired"));
    }
    if exp > rules.now + rules.max_lifetime {
        return Err(refused("the client assertion's exp lies too far ahead"));
    }
    // §3 items 5 and 6: not before nbf, and iat not in the future.
    if claims.nbf.is_some_and(|nbf| nbf > rules.now + CLOCK_SKEW) {
        return Err(refused("the client assertion is not valid yet"));
    }
    if claims.iat.is_some_and(|iat| iat > rules.now + CLOCK_SKEW) {
        return Err(refused("the client assertion was issued in the future"));
    }
    // §3 item 7 makes jti optional; OIDC Core §9 requires it, and accepting it once is what
    // stops a captured assertion from being replayed (SECURITY.md lesson 13).
    let jti = claims
        .jti
        .clone()
        .filter(|j| !j.is_empty())
        .ok_or_else(|| refused("the client assertion has no jti"))?;
    Ok(AcceptedClaims { jti, exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    fn token(header: serde_json::Value, claims: serde_json::Value) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string()),
            URL_SAFE_NO_PAD.encode(b"sig")
        )
    }

    fn good_claims() -> serde_json::Value {
        json!({"iss": "c1", "sub": "c1", "aud": "https://id.example/token", "exp": 1100,
               "iat": 1000, "jti": "j1"})
    }

    fn rules(audiences: &[String]) -> AssertionRules<'_> {
        AssertionRules {
            client_id: "c1",
            audiences,
            now: 1000,
            max_lifetime: 300,
        }
    }

    fn check(claims: serde_json::Value) -> Result<AcceptedClaims, OAuthError> {
        let a = ClientAssertion::parse(&token(json!({"alg": "RS256"}), claims))?;
        let auds = vec![
            "https://id.example".into(),
            "https://id.example/token".into(),
        ];
        check_claims(&a.claims, &rules(&auds))
    }

    #[test]
    fn headers_that_choose_a_key_are_refused() {
        let claims = good_claims();
        for header in [
            json!({"alg": "none"}),
            json!({}),
            json!({"alg": "RS512"}),
            json!({"alg": "RS256", "crit": ["b64"]}),
            json!({"alg": "RS256", "jwk": {"kty": "oct"}}),
            json!({"alg": "RS256", "jku": "https://evil.example/jwks"}),
            json!({"alg": "RS256", "x5u": "https://evil.example/cert"}),
            json!({"alg": "RS256", "x5c": ["MIIB"]}),
        ] {
            let err = ClientAssertion::parse(&token(header.clone(), claims.clone())).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient, "{header}");
        }
        let ok = ClientAssertion::parse(&token(json!({"alg": "ES256", "kid": "k"}), claims));
        let ok = ok.unwrap();
        assert_eq!(ok.alg, AssertionAlg::ES256);
        assert_eq!(ok.kid.as_deref(), Some("k"));
        assert_eq!(ok.issuer(), Some("c1"));
        assert!(ClientAssertion::parse("a.b").is_err());
        assert!(ClientAssertion::parse("a.b.c.d").is_err());
    }

    #[test]
    fn alg_must_fit_the_registered_method() {
        let a = ClientAssertion::parse(&token(json!({"alg": "HS256"}), good_claims())).unwrap();
        assert!(a.check_method(AuthMethod::ClientSecretJwt).is_ok());
        assert!(a.check_method(AuthMethod::PrivateKeyJwt).is_err());
        assert!(a.check_method(AuthMethod::ClientSecretBasic).is_err());
        let a = ClientAssertion::parse(&token(json!({"alg": "PS256"}), good_claims())).unwrap();
        assert!(a.check_method(AuthMethod::PrivateKeyJwt).is_ok());
        assert!(a.check_method(AuthMethod::ClientSecretJwt).is_err());
    }

    #[test]
    fn claims_follow_rfc_7523() {
        let accepted = check(good_claims()).unwrap();
        assert_eq!(accepted.jti, "j1");
        assert_eq!(accepted.exp, 1100);
        let with = |k: &str, v: serde_json::Value| {
            let mut c = good_claims();
            c[k] = v;
            c
        };
        let without = |k: &str| {
            let mut c = good_claims();
            c.as_object_mut().unwrap().remove(k);
            c
        };
        assert!(check(with("aud", json!("https://id.example"))).is_ok());
        assert!(check(with("aud", json!(["x", "https://id.example/token"]))).is_ok());
        for bad in [
            with("iss", json!("c2")),
            with("sub", json!("c2")),
            without("sub"),
            with("aud", json!("https://other.example/token")),
            with("aud", json!(["x", "y"])),
            without("aud"),
            without("exp"),
            with("exp", json!(1000)),
            with("exp", json!(1301)),
            with("nbf", json!(1031)),
            with("iat", json!(1031)),
            without("jti"),
            with("jti", json!("")),
        ] {
            let err = check(bad.clone()).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidClient, "{bad}");
        }
        assert!(check(with("exp", json!(1300))).is_ok());
        assert!(check(with("nbf", json!(1030))).is_ok());
        // A non-integer exp is a malformed assertion, not a panic.
        assert!(check(with("exp", json!("soon"))).is_err());
    }
}
