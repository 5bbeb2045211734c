//! Unit tests of the registration rules.

use serde_json::json;

use super::*;
use crate::client::SigningAlg;

const WEB: ApplicationType = ApplicationType::Web;
const NATIVE: ApplicationType = ApplicationType::Native;

fn web_client() -> Client {
    Client {
        client_id: "app".into(),
        name: "App".into(),
        redirect_uris: vec!["https://app.example/cb".into()],
        ..Client::default()
    }
}

#[test]
fn redirect_uris_for_both_application_types() {
    for ok in [
        "https://a.example/cb",
        "http://127.0.0.1:8000/cb",
        "http://127.0.0.1/cb",
        "http://[::1]/cb",
    ] {
        assert!(validate_redirect_uri(ok, WEB).is_ok(), "{ok} refused (web)");
        assert!(
            validate_redirect_uri(ok, NATIVE).is_ok(),
            "{ok} refused (native)"
        );
    }
    for bad in [
        "JavaScript:alert(1)",
        "javascript:alert(1)",
        "data:text/html,x",
        "https://a.example/cb#",
        "https://a.example/cb#x",
        "http://a.example/cb",
        "http://localhost/cb",
        "http://localhost:8000/cb",
        "http://127.0.0.1.evil/cb",
        "http://127.000.000.001/cb",
        "https://u@a.example/cb",
        "http://127.0.0.1:8000@evil.example/cb",
        "/relative",
        "",
    ] {
        assert!(
            validate_redirect_uri(bad, WEB).is_err(),
            "{bad} accepted (web)"
        );
        assert!(
            validate_redirect_uri(bad, NATIVE).is_err(),
            "{bad} accepted (native)"
        );
    }
}

/// RFC 8252 §7.1: reverse-domain private-use schemes, single slash, native apps only.
#[test]
fn private_use_schemes_for_native_apps_only() {
    for ok in [
        "com.example.app:/cb",
        "com.example.app:/oauth2redirect/provider",
    ] {
        assert!(validate_redirect_uri(ok, NATIVE).is_ok(), "{ok} refused");
        assert!(
            validate_redirect_uri(ok, WEB).is_err(),
            "{ok} accepted for web"
        );
    }
    for bad in [
        "myapp:/cb",
        "com.example.app://cb",
        "com.example.app:cb",
        "com.example.app:/cb#x",
        "vbscript:/x",
        "file:///etc/passwd",
    ] {
        assert!(
            validate_redirect_uri(bad, NATIVE).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn origins() {
    for ok in [
        "https://app.example",
        "https://app.example:8443",
        "http://127.0.0.1:3000",
        "http://[::1]:3000",
        "http://localhost:3000",
    ] {
        assert!(validate_origin(ok).is_ok(), "{ok} refused");
    }
    for bad in [
        "https://app.example/",
        "https://app.example/path",
        "https://app.example:443",
        "https://APP.example",
        "https://app.example?x=1",
        "https://u@app.example",
        "http://app.example",
        "http://127.0.0.1.evil:3000",
        "*",
        "null",
        "app.example",
        "file:///x",
        "",
    ] {
        assert!(validate_origin(bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn client_ids() {
    assert!(validate_client_id("legacy-app_01.example:prod").is_ok());
    assert!(validate_client_id(&"a".repeat(MAX_CLIENT_ID_LEN)).is_ok());
    for bad in ["", "has space", "tab\there", "é", "new\nline"] {
        assert!(validate_client_id(bad).is_err(), "{bad:?} accepted");
    }
    assert!(validate_client_id(&"a".repeat(MAX_CLIENT_ID_LEN + 1)).is_err());
}

#[test]
fn imported_secrets() {
    assert!(validate_imported_secret(&"s".repeat(MIN_IMPORTED_SECRET_LEN)).is_ok());
    assert!(validate_imported_secret(&"s".repeat(MIN_IMPORTED_SECRET_LEN - 1)).is_err());
    assert!(validate_imported_secret(&format!("{}\u{7f}", "s".repeat(40))).is_err());
}

#[test]
fn server_called_urls() {
    assert!(validate_https_or_loopback("--jwks-uri", "https://app.example/jwks").is_ok());
    assert!(validate_https_or_loopback("--jwks-uri", "http://127.0.0.1:9000/jwks").is_ok());
    for bad in [
        "http://app.example/logout",
        "https://app.example/logout#x",
        "https://u:p@app.example/logout",
        "ftp://app.example/x",
        "logout",
    ] {
        assert!(
            validate_https_or_loopback("--backchannel-logout-uri", bad).is_err(),
            "{bad} accepted"
        );
    }
}

#[test]
fn key_sets_must_be_public() {
    let public = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b"}]});
    assert!(validate_public_jwks(&public).is_ok());
    for bad in [
        json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "secret"}]}),
        json!({"keys": [{"kty": "oct", "k": "secret"}]}),
        json!({"keys": [{"kty": "RSA", "n": "a", "e": "AQAB", "p": "x"}]}),
        json!({"keys": [{"n": "a", "e": "AQAB"}]}),
        json!({"keys": []}),
        json!([{"kty": "EC"}]),
    ] {
        assert!(validate_public_jwks(&bad).is_err(), "{bad} accepted");
    }
}

#[test]
fn whole_registrations() {
    assert!(validate(&web_client()).is_ok());
    let native = Client {
        application_type: NATIVE,
        client_type: ClientType::Public,
        token_endpoint_auth_method: AuthMethod::None,
        redirect_uris: vec!["com.example.app:/cb".into(), "http://127.0.0.1/cb".into()],
        id_token_alg: Some(SigningAlg::PS256),
        ..web_client()
    };
    assert!(validate(&native).is_ok());
    let cases: Vec<(&str, Client)> = vec![
        (
            "private-use scheme on a web client",
            Client {
                redirect_uris: vec!["com.example.app:/cb".into()],
                ..web_client()
            },
        ),
        (
            "public client with a secret method",
            Client {
                client_type: ClientType::Public,
                ..web_client()
            },
        ),
        (
            "confidential client with none",
            Client {
                token_endpoint_auth_method: AuthMethod::None,
                ..web_client()
            },
        ),
        (
            "private_key_jwt without keys",
            Client {
                token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
                ..web_client()
            },
        ),
        (
            "jwks and jwks_uri together",
            Client {
                token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
                jwks_uri: Some("https://app.example/jwks".into()),
                jwks: Some(json!({"keys": [{"kty": "EC"}]})),
                ..web_client()
            },
        ),
        (
            "bad origin",
            Client {
                allowed_origins: vec!["https://app.example/".into()],
                ..web_client()
            },
        ),
        (
            "http logout uri",
            Client {
                backchannel_logout_uri: Some("http://app.example/bc".into()),
                ..web_client()
            },
        ),
        (
            "no redirect uri for the code grant",
            Client {
                redirect_uris: vec![],
                ..web_client()
            },
        ),
        (
            "public client_credentials",
            Client {
                client_type: ClientType::Public,
                token_endpoint_auth_method: AuthMethod::None,
                grant_types: vec!["client_credentials".into()],
                ..web_client()
            },
        ),
        (
            "zero absolute lifetime",
            Client {
                refresh_token_absolute_ttl: Some(0),
                ..web_client()
            },
        ),
        (
            "bad client id",
            Client {
                client_id: "a b".into(),
                ..web_client()
            },
        ),
    ];
    for (what, client) in cases {
        assert!(validate(&client).is_err(), "{what} accepted");
    }
    let key_client = Client {
        token_endpoint_auth_method: AuthMethod::PrivateKeyJwt,
        jwks_uri: Some("https://app.example/jwks".into()),
        ..web_client()
    };
    assert!(validate(&key_client).is_ok());
}

fn ciba_client(mode: Option<crate::ciba::DeliveryMode>, endpoint: Option<&str>) -> Client {
    Client {
        client_id: "kiosk".into(),
        name: "Kiosk".into(),
        grant_types: vec![crate::ciba::GRANT_TYPE.into()],
        response_types: vec![],
        backchannel_token_delivery_mode: mode,
        backchannel_client_notification_endpoint: endpoint.map(str::to_owned),
        ..Client::default()
    }
}

#[test]
fn ciba_clients_register_their_mode_and_endpoint() {
    use crate::ciba::DeliveryMode::{Ping, Poll, Push};
    assert_eq!(validate(&ciba_client(Some(Poll), None)), Ok(()));
    assert_eq!(
        validate(&ciba_client(Some(Ping), Some("https://kiosk.example/cb"))),
        Ok(())
    );
    assert_eq!(
        validate(&ciba_client(Some(Push), Some("http://127.0.0.1:9/cb"))),
        Ok(())
    );
    let refused = |c: Client, needle: &str| {
        let e = validate(&c).expect_err("refused");
        assert!(e.contains(needle), "{e}");
    };
    refused(ciba_client(None, None), "--ciba-mode");
    refused(
        ciba_client(Some(Ping), None),
        "needs --ciba-notification-endpoint",
    );
    refused(
        ciba_client(Some(Push), None),
        "needs --ciba-notification-endpoint",
    );
    refused(
        ciba_client(Some(Poll), Some("https://kiosk.example/cb")),
        "ping and push only",
    );
    refused(
        ciba_client(Some(Ping), Some("http://kiosk.example/cb")),
        "http",
    );
    refused(
        ciba_client(Some(Ping), Some("https://kiosk.example/cb#x")),
        "fragment",
    );
    let public = Client {
        client_type: ClientType::Public,
        token_endpoint_auth_method: AuthMethod::None,
        ..ciba_client(Some(Poll), None)
    };
    refused(public, "public client cannot use CIBA");
    let without_grant = Client {
        backchannel_user_code_parameter: true,
        ..web_client()
    };
    refused(
        without_grant,
        "need --grant-type urn:openid:params:grant-type:ciba",
    );
}

#[test]
fn plain_http_notification_only_for_a_loopback_http_issuer() {
    use crate::ciba::DeliveryMode::Ping;
    let plain = ciba_client(Some(Ping), Some("http://127.0.0.1:9/cb"));
    assert_eq!(
        check_ciba_endpoint_for_issuer(&plain, "http://127.0.0.1:8080"),
        Ok(())
    );
    assert!(check_ciba_endpoint_for_issuer(&plain, "https://id.example.com").is_err());
    let tls = ciba_client(Some(Ping), Some("https://kiosk.example/cb"));
    assert_eq!(
        check_ciba_endpoint_for_issuer(&tls, "https://id.example.com"),
        Ok(())
    );
}
