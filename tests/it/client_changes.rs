//! Client registrations are cached by the server: a new secret or a deleted client must take
//! effect on a running server within its one-second pickup, like key rotation.

use std::time::Duration;

use ferriam::tokens::opaque;
use reqwest::StatusCode;

use crate::harness::*;

async fn client_credentials(server: &TestServer, id: &str, secret: &str) -> StatusCode {
    reqwest::Client::new()
        .post(server.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .status()
}

/// Polls until the token endpoint answers `want`, for at most three seconds.
async fn eventually(server: &TestServer, id: &str, secret: &str, want: StatusCode) {
    for _ in 0..30 {
        if client_credentials(server, id, secret).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the token endpoint never answered {want}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_secrets_and_deleted_clients_stop_working_within_seconds() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let svc = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
            c.response_types = vec![];
        })
        .await;
    let old = svc.secret.clone().expect("secret");
    assert_eq!(
        client_credentials(&server, &svc.id, &old).await,
        StatusCode::OK,
        "cached now"
    );

    let new = opaque::random_token();
    assert!(server
        .store
        .set_client_secret(&svc.id, &opaque::hash(&new), None)
        .await
        .unwrap());
    eventually(&server, &svc.id, &old, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        client_credentials(&server, &svc.id, &new).await,
        StatusCode::OK
    );

    assert!(server.store.delete_client(&svc.id).await.unwrap());
    eventually(&server, &svc.id, &new, StatusCode::UNAUTHORIZED).await;
    server.stop().await;
}
