//! CIBA ping and push modes (CIBA §10.2, §10.3) with a real HTTP listener on loopback as the
//! client's notification endpoint. Ping: once the user decides, the endpoint gets
//! `{"auth_req_id"}` with the client's bearer token, and the client fetches the result at
//! `/token`; a 503 is retried; a denial is pinged too; with two nodes sharing PostgreSQL, the
//! request is created on one, approved and fetched on the other, and pinged exactly once. Push:
//! the token response itself arrives, its ID token naming the auth_req_id with `at_hash` and
//! `rt_hash`; after a 503 the retried push carries new tokens and the first ones are dead; a
//! denial is pushed as an error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use ferriam_protocol::ciba::DeliveryMode;
use reqwest::StatusCode;

use crate::ciba::{answer, ask, open_approval, poll, GRANT};
use crate::harness::*;
use crate::on_both_databases;

/// What the notification endpoint received: the Authorization header and the JSON body.
type Pings = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// A notification endpoint on loopback answering `statuses` in turn (then 204).
async fn endpoint(statuses: Vec<u16>) -> (String, Pings) {
    let pings: Pings = Arc::default();
    let answers = Arc::new(Mutex::new(statuses));
    let seen = pings.clone();
    let router = axum::Router::new().route(
        "/ciba",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let (seen, answers) = (seen.clone(), answers.clone());
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let json = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
                seen.lock().unwrap().push((auth, json));
                let mut answers = answers.lock().unwrap();
                let status = if answers.is_empty() {
                    204
                } else {
                    answers.remove(0)
                };
                AxumStatus::from_u16(status).unwrap_or(AxumStatus::NO_CONTENT)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/ciba", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, pings)
}

/// A client notified at `url` in `mode`, with the refresh grant.
async fn notified_client(server: &TestServer, url: &str, mode: DeliveryMode) -> TestClient {
    let url = url.to_owned();
    server
        .create_client(move |c| {
            c.name = "Kiosk".into();
            c.grant_types = vec![GRANT.into(), "refresh_token".into()];
            c.response_types = vec![];
            c.redirect_uris = vec![];
            c.backchannel_token_delivery_mode = Some(mode);
            c.backchannel_client_notification_endpoint = Some(url);
        })
        .await
}

/// A ping client notified at `url`.
async fn ping_client(server: &TestServer, url: &str) -> TestClient {
    notified_client(server, url, DeliveryMode::Ping).await
}

/// Waits until `pings` holds `n` pings (and a little longer, to see no more come).
async fn pings_after(pings: &Pings, n: usize) -> Vec<(String, serde_json::Value)> {
    for _ in 0..200 {
        if pings.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    pings.lock().unwrap().clone()
}

/// Creates a request for ada and decides it (`approve` or `deny`, after `push:` for a push
/// client) in a browser at `decide_on`.
async fn request_and_decide(
    server: &TestServer,
    decide_on: &TestServer,
    client: &TestClient,
    decision: &str,
) -> String {
    let asked = ask(
        server,
        client,
        &[
            ("scope", "openid offline_access"),
            ("login_hint", "ada"),
            ("client_notification_token", "nt-123"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let push = decision.starts_with("push:");
    let decision = decision.trim_start_matches("push:");
    assert_eq!(
        asked.body.get("interval").is_some(),
        !push,
        "an interval for poll and ping, none for push: {}",
        asked.body
    );
    let sub = server
        .store
        .user_by_username("ada")
        .await
        .unwrap()
        .unwrap()
        .sub;
    let pending = server.store.pending_ciba_requests(&sub, 0).await.unwrap();
    let link = format!("/device/requests/{}", pending[0].request_id);
    let browser = Browser::new();
    let page = open_approval(decide_on, &browser, &link, "ada").await;
    let done = answer(decide_on, &browser, &link, &page, decision).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    asked.str("auth_req_id")
}

on_both_databases!(
    the_client_is_pinged_then_fetches,
    the_client_is_pinged_then_fetches_on
);

async fn the_client_is_pinged_then_fetches_on(server: &TestServer) {
    server.create_user("ada").await;
    let (url, pings) = endpoint(vec![503]).await;
    let client = ping_client(server, &url).await;
    let auth_req_id = request_and_decide(server, server, &client, "approve").await;
    let seen = pings_after(&pings, 2).await;
    assert_eq!(seen.len(), 2, "a 503, then the retry: {seen:?}");
    for (auth, body) in &seen {
        assert_eq!(auth, "Bearer nt-123");
        assert_eq!(body, &serde_json::json!({ "auth_req_id": auth_req_id }));
    }
    let tokens = poll(server, &client, &auth_req_id).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert!(!tokens.str("id_token").is_empty());
    poll(server, &client, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_is_pinged_too() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let (url, pings) = endpoint(vec![]).await;
    let client = ping_client(&server, &url).await;
    let auth_req_id = request_and_decide(&server, &server, &client, "deny").await;
    assert_eq!(pings_after(&pings, 1).await.len(), 1);
    poll(&server, &client, &auth_req_id)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "access_denied");
    server.stop().await;
}

/// Two nodes behind one issuer on one PostgreSQL: created on the first, approved and fetched
/// on the second, pinged once by whichever node claimed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_ping_once() {
    let Some(server) = TestServer::start(Db::Postgres).await else {
        return;
    };
    let config = ferriam::config::Config {
        listen: "127.0.0.1:0".parse().expect("address"),
        database_url: server.database_url.clone(),
        issuer: Some(server.issuer.clone()),
        ..Default::default()
    };
    let clock = Arc::new(ferriam::clock::SystemClock::default());
    let node = ferriam::Server::start(config, clock, std::future::pending())
        .await
        .expect("the second node starts");
    let second = format!("http://{}", node.addr);
    server.create_user("ada").await;
    let (url, pings) = endpoint(vec![]).await;
    let client = ping_client(&server, &url).await;
    let asked = ask(
        &server,
        &client,
        &[
            ("scope", "openid"),
            ("login_hint", "ada"),
            ("client_notification_token", "nt-9"),
        ],
    )
    .await;
    assert_eq!(asked.status, StatusCode::OK, "{}", asked.body);
    let sub = server
        .store
        .user_by_username("ada")
        .await
        .unwrap()
        .unwrap()
        .sub;
    let pending = server.store.pending_ciba_requests(&sub, 0).await.unwrap();
    let link = format!("/device/requests/{}", pending[0].request_id);
    // The browser talks to the second node only.
    let browser = Browser::new();
    let start = browser.get(&format!("{second}{link}")).await;
    let login = browser.follow(&second, start).await;
    let back = browser.submit_login(&second, login, "ada", PASSWORD).await;
    assert_eq!(location(&back), link);
    let page = Page::read(browser.get(&format!("{second}{link}")).await).await;
    let done = Page::read(
        browser
            .http
            .post(format!("{second}{link}"))
            .form(&[
                ("csrf", hidden_field(&page.body, "csrf").as_str()),
                ("decision", "approve"),
            ])
            .send()
            .await
            .expect("posted"),
    )
    .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    let seen = pings_after(&pings, 1).await;
    assert_eq!(seen.len(), 1, "one ping from two nodes: {seen:?}");
    let tokens = Reply::read(
        http()
            .post(format!("{second}/token"))
            .header(
                "authorization",
                basic(&client.id, client.secret.as_deref().unwrap()),
            )
            .form(&[
                ("grant_type", GRANT),
                ("auth_req_id", &asked.str("auth_req_id")),
            ])
            .send()
            .await
            .expect("token request"),
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    node.stop().await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_delivers_the_tokens_once_valid() {
    for db in [Db::Sqlite, Db::Postgres] {
        let Some(server) = TestServer::start(db).await else {
            continue;
        };
        let sub = server.create_user("ada").await;
        let (url, pings) = endpoint(vec![503]).await;
        let client = notified_client(&server, &url, DeliveryMode::Push).await;
        let auth_req_id = request_and_decide(&server, &server, &client, "push:approve").await;
        let seen = pings_after(&pings, 2).await;
        assert_eq!(seen.len(), 2, "a 503, then the retry: {seen:?}");
        for (auth, body) in &seen {
            assert_eq!(auth, "Bearer nt-123");
            assert_eq!(body["auth_req_id"], auth_req_id);
            assert_eq!(body["token_type"], "Bearer");
        }
        let (first, last) = (&seen[0].1, &seen[1].1);
        assert_ne!(first["access_token"], last["access_token"]);
        let claims = jwt_part(last["id_token"].as_str().expect("an ID token"), 1);
        assert_eq!(claims["sub"], sub);
        assert_eq!(
            claims["urn:openid:params:jwt:claim:auth_req_id"],
            auth_req_id
        );
        assert!(claims["at_hash"].is_string());
        assert!(
            claims["urn:openid:params:jwt:claim:rt_hash"].is_string(),
            "{claims}"
        );
        // Only the delivered tokens hold: the first attempt's grant is revoked.
        let dead = server
            .userinfo(first["access_token"].as_str().unwrap())
            .await;
        assert_eq!(dead.status, StatusCode::UNAUTHORIZED, "{}", dead.body);
        let live = server
            .userinfo(last["access_token"].as_str().unwrap())
            .await;
        assert_eq!(live.status, StatusCode::OK, "{}", live.body);
        let refused = server
            .refresh(&client, first["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        let refreshed = server
            .refresh(&client, last["refresh_token"].as_str().unwrap())
            .await;
        assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
        // A push client never polls.
        poll(&server, &client, &auth_req_id)
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "unauthorized_client");
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_is_pushed_as_an_error() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let (url, pings) = endpoint(vec![]).await;
    let client = notified_client(&server, &url, DeliveryMode::Push).await;
    let auth_req_id = request_and_decide(&server, &server, &client, "push:deny").await;
    let seen = pings_after(&pings, 1).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].1["auth_req_id"], auth_req_id);
    assert_eq!(seen[0].1["error"], "access_denied");
    assert!(seen[0].1.get("access_token").is_none());
    server.stop().await;
}
