//! Throttling of failed client authentication: after the limit of failures in a window, per
//! client_id and per source address, every request is answered 429 with `Retry-After`, the
//! right secret included, until the window has passed; an unknown client_id is answered
//! exactly like a known one; parallel failures cannot get past the limit.

use std::time::Duration;

use ferriam::config::Config;
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

async fn service(server: &TestServer) -> TestClient {
    server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
        })
        .await
}

async fn attempt(server: &TestServer, id: &str, secret: &str) -> Reply {
    Reply::read(
        http()
            .post(server.url("/token"))
            .header("authorization", basic(id, secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request"),
    )
    .await
}

/// A 429 with a JSON error body and a Retry-After of at most `window` seconds.
#[track_caller]
fn assert_throttled(reply: &Reply, window: u64) {
    assert_eq!(
        reply.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        reply.body
    );
    assert_eq!(reply.error(), "invalid_client", "{}", reply.body);
    let retry: u64 = reply
        .header("retry-after")
        .parse()
        .expect("Retry-After seconds");
    assert!((1..=window).contains(&retry), "Retry-After {retry}");
    assert_eq!(reply.header("cache-control"), "no-store");
    assert!(reply.body.get("access_token").is_none());
}

const WINDOW: u64 = 2;
const LIMIT: u32 = 3;

fn per_client(c: &mut Config) {
    c.client_auth_window = WINDOW;
    c.client_auth_max_failures = LIMIT;
    c.client_auth_max_failures_per_ip = 1000;
}

/// N failures, then 429 for wrong and right secrets alike, then the right secret works again
/// once the window has passed; an unknown client_id meets the same answers.
async fn per_client_id(server: &TestServer) {
    let client = service(server).await;
    let secret = client.secret.clone().expect("secret");
    let ok = attempt(server, &client.id, &secret).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);

    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for _ in 0..LIMIT {
        known.push(attempt(server, &client.id, "wrong").await);
        unknown.push(attempt(server, "no-such-client", "wrong").await);
    }
    for reply in known.iter().chain(&unknown) {
        reply.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    assert_eq!(known[0].body, unknown[0].body, "the same refusal");

    let blocked_wrong = attempt(server, &client.id, "wrong").await;
    assert_throttled(&blocked_wrong, WINDOW);
    let blocked_right = attempt(server, &client.id, &secret).await;
    assert_throttled(&blocked_right, WINDOW);
    let blocked_unknown = attempt(server, "no-such-client", "wrong").await;
    assert_throttled(&blocked_unknown, WINDOW);
    assert_eq!(
        blocked_right.body, blocked_unknown.body,
        "no existence oracle"
    );

    // Another client is not affected by this client's count.
    let other = service(server).await;
    let fine = attempt(server, &other.id, other.secret.as_deref().expect("secret")).await;
    assert_eq!(fine.status, StatusCode::OK, "{}", fine.body);

    tokio::time::sleep(Duration::from_millis(WINDOW * 1000 + 1100)).await;
    let again = attempt(server, &client.id, &secret).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "after the window: {}",
        again.body
    );
}

const IP_LIMIT: u32 = 4;

fn per_address(c: &mut Config) {
    c.client_auth_window = 60;
    c.client_auth_max_failures = 1000;
    c.client_auth_max_failures_per_ip = IP_LIMIT;
}

/// Failures for many client_ids from one address add up; a success does not reset them.
async fn per_source_address(server: &TestServer) {
    let client = service(server).await;
    let secret = client.secret.clone().expect("secret");
    for i in 0..IP_LIMIT - 1 {
        let reply = attempt(server, &format!("guess-{i}"), "wrong").await;
        reply.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let ok = attempt(server, &client.id, &secret).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let last = attempt(server, "guess-last", "wrong").await;
    last.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert_throttled(&attempt(server, &client.id, &secret).await, 60);
    assert_throttled(&attempt(server, "guess-more", "wrong").await, 60);
}

const PARALLEL_LIMIT: u32 = 5;

fn parallel_config(c: &mut Config) {
    c.client_auth_window = 60;
    c.client_auth_max_failures = PARALLEL_LIMIT;
    c.client_auth_max_failures_per_ip = 1000;
}

/// Thirty failures at once: exactly the limit are answered 401, the rest 429.
async fn parallel_failures(server: &TestServer) {
    let client = service(server).await;
    let secret = client.secret.clone().expect("secret");
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let (url, id) = (server.url("/token"), client.id.clone());
            tokio::spawn(async move {
                http()
                    .post(url)
                    .header("authorization", basic(&id, "wrong"))
                    .form(&[("grant_type", "client_credentials")])
                    .send()
                    .await
                    .expect("token request")
                    .status()
            })
        })
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(refused, PARALLEL_LIMIT, "401s");
    assert_eq!(throttled, 30 - PARALLEL_LIMIT, "429s");
    assert_throttled(&attempt(server, &client.id, &secret).await, 60);
}

fn switched_off(c: &mut Config) {
    c.client_auth_max_failures = 0;
    c.client_auth_max_failures_per_ip = 0;
}

/// Limits of 0 turn the counters off: every failure is a plain 401.
async fn no_throttling(server: &TestServer) {
    let client = service(server).await;
    for _ in 0..15 {
        let reply = attempt(server, &client.id, "wrong").await;
        reply.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let ok = attempt(
        server,
        &client.id,
        client.secret.as_deref().expect("secret"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

on_both_databases!(throttling_can_be_switched_off, config: switched_off, no_throttling);
on_both_databases!(throttled_per_client_id, config: per_client, per_client_id);
on_both_databases!(throttled_per_source_address, config: per_address, per_source_address);
on_both_databases!(parallel_failures_stay_within_the_limit, config: parallel_config, parallel_failures);
