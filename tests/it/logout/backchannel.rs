//! Back-channel logout to a listener on loopback: a verified logout token, a 500 retried.

use super::*;
use crate::on_both_databases;

async fn backchannel_logout_is_delivered_and_retried(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![500]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let quiet = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let tokens = server.tokens(&browser, &app, "ada", "openid").await;
    server
        .code(&browser, &quiet.id, "ada", &[("scope", "openid")])
        .await;
    let id_token = tokens.str("id_token");
    let sid = jwt_part(&id_token, 1)["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let sessions = server
        .store
        .user_sessions(&sub, server.clock.now())
        .await
        .unwrap();
    let mut expected = vec![app.id.clone(), quiet.id.clone()];
    expected.sort();
    assert_eq!(sessions[0].clients, expected);

    let response = browser
        .get(&end_session_url(server, &id_token, None, None).await)
        .await;
    assert_eq!(response.status(), StatusCode::OK, "the signed-out page");
    // The first answer is a 500: the delivery is retried after a second or two.
    let first = receiver.next_token(5).await;
    let first_jti = verify_logout_token(server, &first, &app.id, &sub, &sid).await;
    let second = receiver.next_token(10).await;
    let second_jti = verify_logout_token(server, &second, &app.id, &sub, &sid).await;
    assert_ne!(first_jti, second_jti, "each attempt is a fresh token");
    receiver.nothing_more(3).await;
}

on_both_databases!(backchannel, backchannel_logout_is_delivered_and_retried);
