//! Fetching an upstream's metadata and keys: from a second, real Ferriam as the upstream,
//! cached, and refused for another issuer's document, an unreachable upstream, private and
//! link-local addresses, plain http and loopback under a public issuer's outbound policy, an
//! oversized document and a redirect; a failed fetch is not retried within `RETRY_AFTER`.

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ferriam::federation::discovery::{Discovery, MAX_AGE, RETRY_AFTER};
use ferriam::federation::http::Outbound;
use ferriam::outbound::Policy;
use ferriam::store::Upstream;
use openidconnect::core::CoreJsonWebKey;
use openidconnect::JsonWebKey;

use crate::harness::*;
use crate::on_both_databases;

fn upstream(issuer: &str) -> Upstream {
    Upstream {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: issuer.into(),
        client_id: "ferriam".into(),
        client_secret: String::new(),
        scopes: vec![],
        domains: vec![],
        claims: Default::default(),
        created_at: 1,
    }
}

on_both_databases!(discovers_a_real_upstream, discovers_a_real_upstream_on);

async fn discovers_a_real_upstream_on(server: &TestServer) {
    let http = Outbound::new(Policy::for_issuer("http://127.0.0.1:8080"));
    let discovery = Discovery::default();
    let corp = upstream(&server.issuer);
    let metadata = discovery.get(&http, &corp, 1000).await.expect("discovered");
    assert_eq!(metadata.issuer().as_str(), server.issuer);
    assert_eq!(
        metadata.token_endpoint().map(|u| u.as_str().to_owned()),
        Some(server.url("/token"))
    );
    let kids: Vec<String> = metadata
        .jwks()
        .keys()
        .iter()
        .filter_map(|k: &CoreJsonWebKey| k.key_id().map(|id| id.as_str().to_owned()))
        .collect();
    assert!(!kids.is_empty(), "the key set came with the document");
    let again = discovery
        .get(&http, &corp, 1000 + MAX_AGE - 1)
        .await
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&metadata, &again), "cached");
    let later = discovery.get(&http, &corp, 1000 + MAX_AGE).await.unwrap();
    assert!(!std::sync::Arc::ptr_eq(&metadata, &later), "fetched again");

    let other = upstream(&format!("{}/", server.issuer));
    let refused = discovery.get(&http, &other, 1000).await;
    assert!(
        refused.is_err(),
        "a document for another issuer (trailing slash) is refused"
    );
}

/// Serves `app` on a loopback port and returns its base URL.
async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn refuses_what_it_must_not_fetch() {
    let http = Outbound::new(Policy::for_issuer("http://127.0.0.1:8080"));
    let discovery = Discovery::default();
    for issuer in [
        "http://idp.example",
        "http://10.0.0.1",
        "http://127.0.0.1:1",
    ] {
        assert!(
            discovery.get(&http, &upstream(issuer), 1).await.is_err(),
            "{issuer}"
        );
    }
    let big = serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(|| async {
            (
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"x\": \"{}\"}}", "a".repeat(300 * 1024)),
            )
        }),
    ))
    .await;
    let error = discovery.get(&http, &upstream(&big), 1).await.unwrap_err();
    assert!(error.to_string().contains("larger than"), "{error}");
    let moved = serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(|| async {
            (
                StatusCode::FOUND,
                [(header::LOCATION, "http://127.0.0.1:1/elsewhere")],
            )
                .into_response()
        }),
    ))
    .await;
    let error = discovery
        .get(&http, &upstream(&moved), 1)
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("302") && !text.contains("127.0.0.1:1"),
        "the redirect is not followed: {text}"
    );
}

#[tokio::test]
async fn a_failed_fetch_is_not_retried_at_once() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let broken = serve(Router::new().route(
        "/.well-known/openid-configuration",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { StatusCode::INTERNAL_SERVER_ERROR }
        }),
    ))
    .await;
    let http = Outbound::new(Policy::for_issuer("http://127.0.0.1:8080"));
    let discovery = Discovery::default();
    let corp = upstream(&broken);
    assert!(discovery.get(&http, &corp, 100).await.is_err());
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let again = discovery.get(&http, &corp, 100 + RETRY_AFTER - 1).await;
    assert!(again.unwrap_err().to_string().contains("not retried"));
    assert_eq!(asked.load(Ordering::SeqCst), 1, "answered from the failure");
    assert!(discovery
        .get(&http, &corp, 100 + RETRY_AFTER)
        .await
        .is_err());
    assert_eq!(
        asked.load(Ordering::SeqCst),
        2,
        "tried again after the interval"
    );
}
