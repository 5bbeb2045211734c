//! Logout rules: the RP-Initiated Logout 1.0 request and its post-logout redirect, the
//! Back-Channel Logout 1.0 logout token's claims, and the Front-Channel Logout 1.0 frame URL.
//! Signature checks and storage are the server's; everything here is pure.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::form_urlencoded;

use crate::client::Client;
use crate::params::Params;
use crate::OAuthError;

/// The event a logout token carries (Back-Channel Logout 1.0 §2.4).
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The `typ` of logout tokens: Back-Channel Logout 1.0 §2.4 recommends explicit typing so a
/// logout token can never be mistaken for an ID token.
pub const LOGOUT_TOKEN_TYP: &str = "logout+jwt";

/// The parameters of an RP-initiated logout request (RP-Initiated Logout 1.0 §2), as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    /// Accepted and ignored: Ferriam's pages are in English only.
    pub ui_locales: Option<String>,
    /// Accepted and ignored: a browser holds one Ferriam session, so there is nothing to pick.
    pub logout_hint: Option<String>,
}

impl LogoutRequest {
    /// Reads the request from query or form parameters; unknown parameters are ignored.
    pub fn from_params(params: &Params) -> Self {
        let get = |name: &str| params.get(name).map(str::to_owned);
        Self {
            id_token_hint: get("id_token_hint"),
            client_id: get("client_id"),
            post_logout_redirect_uri: get("post_logout_redirect_uri"),
            state: get("state"),
            ui_locales: get("ui_locales"),
            logout_hint: get("logout_hint"),
        }
    }
}

/// What a verified `id_token_hint` says (only the claims logout needs).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HintClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    #[serde(default)]
    pub sid: Option<String>,
}

/// Checks a verified hint against the issuer and the request's `client_id`, and returns the
/// client the request speaks for (the hint's `aud`, else `client_id`), if any.
///
/// RP-Initiated Logout 1.0 §2 and §4: the OP must check that it issued the hint and, when
/// both are given, that `client_id` is the hint's audience. An ID token is usually expired by
/// the time the user signs out, and §4 lets the OP accept it after `exp` when its signature is
/// good, so `exp` is not checked here (SECURITY.md R43).
pub fn requesting_client(
    issuer: &str,
    hint: Option<&HintClaims>,
    client_id: Option<&str>,
) -> Result<Option<String>, OAuthError> {
    match (hint, client_id) {
        (Some(h), _) if h.iss != issuer => Err(OAuthError::invalid_request(
            "the id_token_hint was not issued here",
        )),
        (Some(h), Some(c)) if h.aud != c => Err(OAuthError::invalid_request(
            "client_id does not match the audience of id_token_hint",
        )),
        (Some(h), _) => Ok(Some(h.aud.clone())),
        (None, c) => Ok(c.map(str::to_owned)),
    }
}

/// Where to send the browser after logout: the requested `post_logout_redirect_uri` only when
/// it matches one the client registered character for character (SECURITY.md R1, R43;
/// RP-Initiated Logout 1.0 §3), with `state` appended exactly as given. The registered value
/// is kept byte for byte: the parameter is appended, never re-serialised through a parser.
pub fn post_logout_redirect(
    client: &Client,
    requested: &str,
    state: Option<&str>,
) -> Result<String, OAuthError> {
    if !client
        .post_logout_redirect_uris
        .iter()
        .any(|registered| registered == requested)
    {
        return Err(OAuthError::invalid_request(
            "post_logout_redirect_uri is not registered for this client",
        ));
    }
    Ok(match state {
        Some(state) => append_query(requested, &[("state", state)]),
        None => requested.to_owned(),
    })
}

/// Whether a redirect target may be shown as a link: never a `javascript:`, `data:` or
/// `vbscript:` URI, in any case (SECURITY.md R6, lesson 7), even if one was registered.
pub fn is_safe_link(uri: &str) -> bool {
    let scheme = uri.split(':').next().unwrap_or_default().trim();
    !["javascript", "data", "vbscript"]
        .iter()
        .any(|bad| scheme.eq_ignore_ascii_case(bad))
}

/// The URL of a client's front-channel logout frame, with `iss` and `sid` (Front-Channel
/// Logout 1.0 §2, §4: "the OP renders ... with iss and sid query parameters").
pub fn frontchannel_frame_url(frontchannel_logout_uri: &str, issuer: &str, sid: &str) -> String {
    append_query(frontchannel_logout_uri, &[("iss", issuer), ("sid", sid)])
}

/// Appends form-encoded parameters to a URI's query, keeping the URI itself untouched.
fn append_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter())
        .finish();
    let sep = if uri.contains('?') { '&' } else { '?' };
    format!("{uri}{sep}{encoded}")
}

/// Claims of a logout token (Back-Channel Logout 1.0 §2.4): `events` names the logout event,
/// and there is never a `nonce` ("A nonce Claim MUST NOT be present").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogoutTokenClaims {
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub events: Value,
    pub sub: String,
    pub sid: String,
}

impl LogoutTokenClaims {
    /// A logout token for `client_id` ending session `sid` of `sub`, valid for `ttl` seconds.
    pub fn new(
        issuer: &str,
        client_id: &str,
        sub: &str,
        sid: &str,
        jti: String,
        now: i64,
        ttl: i64,
    ) -> Self {
        Self {
            iss: issuer.to_owned(),
            aud: client_id.to_owned(),
            iat: now,
            exp: now + ttl,
            jti,
            events: json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
            sub: sub.to_owned(),
            sid: sid.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(iss: &str, aud: &str) -> HintClaims {
        HintClaims {
            iss: iss.into(),
            sub: "u".into(),
            aud: aud.into(),
            sid: Some("s".into()),
        }
    }

    fn client(uris: &[&str]) -> Client {
        Client {
            client_id: "c".into(),
            post_logout_redirect_uris: uris.iter().map(|u| (*u).to_owned()).collect(),
            ..Client::default()
        }
    }

    #[test]
    fn the_hint_names_the_client_and_must_agree_with_client_id() {
        let issuer = "https://op.example";
        let h = hint(issuer, "c1");
        assert_eq!(
            requesting_client(issuer, Some(&h), None).unwrap(),
            Some("c1".into())
        );
        assert_eq!(
            requesting_client(issuer, Some(&h), Some("c1")).unwrap(),
            Some("c1".into())
        );
        assert!(requesting_client(issuer, Some(&h), Some("c2")).is_err());
        assert!(requesting_client(issuer, Some(&hint("https://evil", "c1")), None).is_err());
        assert_eq!(
            requesting_client(issuer, None, Some("c3")).unwrap(),
            Some("c3".into())
        );
        assert_eq!(requesting_client(issuer, None, None).unwrap(), None);
    }

    #[test]
    fn post_logout_redirect_matches_exactly_and_appends_state() {
        let c = client(&["https://app.example/bye", "https://app.example/q?x=1"]);
        assert_eq!(
            post_logout_redirect(&c, "https://app.example/bye", Some("a b&c")).unwrap(),
            "https://app.example/bye?state=a+b%26c"
        );
        assert_eq!(
            post_logout_redirect(&c, "https://app.example/q?x=1", Some("s")).unwrap(),
            "https://app.example/q?x=1&state=s"
        );
        assert_eq!(
            post_logout_redirect(&c, "https://app.example/bye", None).unwrap(),
            "https://app.example/bye"
        );
        // The vectors of SECURITY.md lesson 17: no normalisation of any kind.
        for near in [
            "https://APP.EXAMPLE/bye",
            "https://app.example:443/bye",
            "https://app.example/bye/",
            "https://app.example/x/../bye",
            "https://app.example/bye?x=1",
            "https://app.example/bye#",
            "https://evil.example/bye",
        ] {
            assert!(post_logout_redirect(&c, near, None).is_err(), "{near}");
        }
    }

    #[test]
    fn script_schemes_are_never_links() {
        assert!(is_safe_link("https://app.example/bye"));
        assert!(is_safe_link("com.example.app:/bye"));
        assert!(!is_safe_link("JavaScript:alert(1)"));
        assert!(!is_safe_link(" data:text/html,x"));
        assert!(!is_safe_link("vbscript:x"));
    }

    #[test]
    fn frame_url_carries_iss_and_sid() {
        assert_eq!(
            frontchannel_frame_url("https://rp.example/fc", "https://op.example", "s1"),
            "https://rp.example/fc?iss=https%3A%2F%2Fop.example&sid=s1"
        );
        assert_eq!(
            frontchannel_frame_url("https://rp.example/fc?a=b", "i", "s"),
            "https://rp.example/fc?a=b&iss=i&sid=s"
        );
    }

    #[test]
    fn logout_token_claims_have_the_event_and_no_nonce() {
        let c = LogoutTokenClaims::new("i", "c", "u", "s", "j".into(), 100, 120);
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
        assert_eq!(v["exp"], 220);
        assert_eq!(v["aud"], "c");
        assert!(v.get("nonce").is_none());
    }
}
