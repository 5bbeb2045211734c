//! CORS for browser apps (`--allowed-origin`): preflights and actual requests on `/token`,
//! `/revoke` and `/userinfo` from a registered origin get the headers, any other origin gets
//! none, and `/authorize` and the sign-in pages never have them (RFC 9700 §2.6).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::harness::*;
use crate::on_both_databases;

const SPA: &str = "https://spa.example";

/// A preflight as a browser sends it before a cross-origin `fetch` with an Authorization
/// header.
async fn preflight(server: &TestServer, path: &str, origin: &str, method: &str) -> Reply {
    Reply::read(
        http()
            .request(Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await
            .expect("preflight"),
    )
    .await
}

/// Polls until a preflight from `origin` is allowed (the server reloads registrations every
/// second); returns how long it took.
async fn until_allowed(server: &TestServer, origin: &str) -> Duration {
    let start = Instant::now();
    loop {
        if preflight(server, "/token", origin, "POST").await.status == StatusCode::NO_CONTENT {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{origin} not allowed within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Asserts that a response carries no CORS grant.
#[track_caller]
fn assert_no_cors(reply_headers: &reqwest::header::HeaderMap, what: &str) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
    ] {
        assert!(
            reply_headers.get(name).is_none(),
            "{what}: {name} present: {:?}",
            reply_headers.get(name)
        );
    }
}

on_both_databases!(registered_origins_only, registered_origins_only_on);

async fn registered_origins_only_on(server: &TestServer) {
    let spa = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
            c.response_types = vec![];
            c.allowed_origins = vec![SPA.into()];
        })
        .await;
    until_allowed(server, SPA).await;

    for (path, method) in [
        ("/token", "POST"),
        ("/userinfo", "GET"),
        ("/userinfo", "POST"),
        ("/revoke", "POST"),
    ] {
        let reply = preflight(server, path, SPA, method).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(reply.header("access-control-allow-origin"), SPA, "{path}");
        assert!(
            reply
                .header("access-control-allow-methods")
                .contains(method),
            "{path}: {}",
            reply.header("access-control-allow-methods")
        );
        let allowed_headers = reply.header("access-control-allow-headers");
        assert!(
            allowed_headers.contains("authorization") && allowed_headers.contains("content-type"),
            "{path}: {allowed_headers}"
        );
        assert!(
            reply
                .header("access-control-max-age")
                .parse::<u32>()
                .is_ok_and(|s| s > 0),
            "{path}: max-age {}",
            reply.header("access-control-max-age")
        );
        assert!(reply.header("vary").contains("origin"), "{path}");
        assert!(
            reply
                .headers
                .get("access-control-allow-credentials")
                .is_none(),
            "no cookies cross-origin"
        );
    }

    // The actual request: a token for the SPA's origin, readable by it.
    let token = Reply::read(
        http()
            .post(server.url("/token"))
            .header("origin", SPA)
            .header(
                "authorization",
                basic(&spa.id, spa.secret.as_deref().unwrap()),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token"),
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.body);
    assert_eq!(token.header("access-control-allow-origin"), SPA);
    assert!(token.header("vary").contains("origin"));
    // An error from /userinfo is readable too, with its challenge.
    let info = Reply::read(
        http()
            .get(server.url("/userinfo"))
            .header("origin", SPA)
            .send()
            .await
            .expect("userinfo"),
    )
    .await;
    assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    assert_eq!(info.header("access-control-allow-origin"), SPA);
    assert!(info
        .header("access-control-expose-headers")
        .contains("www-authenticate"));

    // Any other origin, including one differing only in case or port: no CORS at all.
    for other in [
        "https://evil.example",
        "https://SPA.example",
        "https://spa.example:8443",
        "http://spa.example",
        "null",
    ] {
        let reply = preflight(server, "/token", other, "POST").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{other}");
        assert_no_cors(&reply.headers, other);
        let actual = http()
            .post(server.url("/token"))
            .header("origin", other)
            .header(
                "authorization",
                basic(&spa.id, spa.secret.as_deref().unwrap()),
            )
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token");
        assert_eq!(actual.status(), StatusCode::OK, "the request itself works");
        assert_no_cors(actual.headers(), other);
        assert!(actual
            .headers()
            .get("vary")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("origin")));
    }

    // A revocation from the SPA's origin is readable by it; /introspect (resource servers
    // only) has no CORS at all.
    let revoked = http()
        .post(server.url("/revoke"))
        .header("origin", SPA)
        .header(
            "authorization",
            basic(&spa.id, spa.secret.as_deref().unwrap()),
        )
        .form(&[("token", "not-a-token")])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoked.status(), StatusCode::OK);
    assert_eq!(
        revoked
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some(SPA)
    );
    let introspect = preflight(server, "/introspect", SPA, "POST").await;
    assert_no_cors(&introspect.headers, "/introspect");

    // Never on /authorize or the sign-in pages, even for the registered origin.
    let authorize = authorize_url(&server.issuer, &spa.id, &[("scope", "openid")]);
    for (method, url) in [
        (Method::GET, authorize.clone()),
        (Method::OPTIONS, authorize),
        (Method::GET, server.url("/signin/login")),
        (Method::OPTIONS, server.url("/signin/login")),
    ] {
        let response = http()
            .request(method.clone(), &url)
            .header("origin", SPA)
            .header("access-control-request-method", "GET")
            .send()
            .await
            .expect("request");
        assert_no_cors(response.headers(), &format!("{method} {url}"));
    }
}
