//! grant_type=refresh_token: rotation, reuse detection that revokes the whole family, the
//! grace window for retries, concurrent refreshes, scope narrowing, client binding, disabled
//! users and expiry.

use ferriam::clock::Clock;
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

const SCOPE: &str = "openid email offline_access";

/// User "ada", a default client, and a first token response with a refresh token.
async fn start_family(server: &TestServer) -> (TestClient, Reply) {
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let tokens = server.tokens(&Browser::new(), &client, "ada", SCOPE).await;
    assert!(
        tokens.body.get("refresh_token").is_some(),
        "{}",
        tokens.body
    );
    (client, tokens)
}

/// The tokens of a scope string, sorted (their order carries no meaning).
fn scope_set(scope: &str) -> Vec<&str> {
    let mut tokens: Vec<&str> = scope.split(' ').collect();
    tokens.sort_unstable();
    tokens
}

/// Refreshes and asserts success.
async fn refresh_ok(server: &TestServer, client: &TestClient, token: &str) -> Reply {
    let reply = server.refresh(client, token).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "refresh failed: {}",
        reply.body
    );
    assert_eq!(reply.header("cache-control"), "no-store");
    reply
}

/// Asserts that /userinfo refuses a token with `invalid_token`.
async fn assert_userinfo_refused(server: &TestServer, access_token: &str) {
    let info = server.userinfo(access_token).await;
    assert_eq!(
        (info.status, info.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "{}",
        info.body
    );
}

async fn rotation_and_reuse(server: &TestServer) {
    let (client, first) = start_family(server).await;
    let r0 = first.str("refresh_token");
    let id0 = jwt_part(&first.str("id_token"), 1);

    let second = refresh_ok(server, &client, &r0).await;
    let r1 = second.str("refresh_token");
    assert_ne!(r1, r0, "the refresh token rotates");
    let a1 = second.str("access_token");
    assert_eq!(server.userinfo(&a1).await.status, StatusCode::OK);
    // OpenID Connect Core §12.2: the refreshed ID token is about the same sign-in, no nonce.
    let id1 = jwt_part(&second.str("id_token"), 1);
    assert_eq!(id1["sub"], id0["sub"]);
    assert_eq!(id1["auth_time"], id0["auth_time"]);
    assert!(id1.get("nonce").is_none());

    // RFC 9700 §4.14.2: the retired token presented after the grace window is reuse.
    server.clock.advance(11);
    server
        .refresh(&client, &r0)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // The whole family is revoked: the newest refresh token and its access token too.
    server
        .refresh(&client, &r1)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_userinfo_refused(server, &a1).await;
    assert_userinfo_refused(server, &first.str("access_token")).await;
}

on_both_databases!(
    reuse_after_the_grace_window_revokes_the_family,
    rotation_and_reuse
);

async fn grace_window(server: &TestServer) {
    let (client, first) = start_family(server).await;
    let r0 = first.str("refresh_token");
    let r1 = refresh_ok(server, &client, &r0).await.str("refresh_token");
    // A retry within the window (a lost response) gets the same successor again.
    server.clock.advance(5);
    let retry = refresh_ok(server, &client, &r0).await;
    assert_eq!(retry.str("refresh_token"), r1);
    assert_eq!(
        server.userinfo(&retry.str("access_token")).await.status,
        StatusCode::OK
    );
    // And the family is intact: the successor rotates normally.
    let r2 = refresh_ok(server, &client, &r1).await.str("refresh_token");
    assert_ne!(r2, r1);
    assert_ne!(r2, r0);
}

on_both_databases!(
    a_retry_within_the_grace_window_gets_the_same_token,
    grace_window
);

async fn concurrent(server: &TestServer) {
    let (client, first) = start_family(server).await;
    let mut token = first.str("refresh_token");
    // Three generations, each refreshed by five requests at once (two tabs, retries).
    for generation in 0..3 {
        let (a, b, c, d, e) = tokio::join!(
            server.refresh(&client, &token),
            server.refresh(&client, &token),
            server.refresh(&client, &token),
            server.refresh(&client, &token),
            server.refresh(&client, &token),
        );
        let replies = [a, b, c, d, e];
        for reply in &replies {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "generation {generation}: {}",
                reply.body
            );
        }
        let next = replies[0].str("refresh_token");
        assert!(
            replies.iter().all(|r| r.str("refresh_token") == next),
            "generation {generation}: different successors"
        );
        assert_ne!(next, token);
        token = next;
    }
    // The family survived: the last successor still works.
    refresh_ok(server, &client, &token).await;
}

on_both_databases!(concurrent_refreshes_all_get_the_same_successor, concurrent);

async fn reuse_racing_rotation(server: &TestServer) {
    server.create_user("ada").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    // Several rounds, to give the two requests a chance to interleave in every order.
    for round in 0..20 {
        let first = server.tokens(&browser, &client, "ada", SCOPE).await;
        let r0 = first.str("refresh_token");
        let r1 = refresh_ok(server, &client, &r0).await.str("refresh_token");
        server.clock.advance(11);
        // The stolen r0 replayed while the legitimate holder rotates r1.
        let (reuse, rotation) =
            tokio::join!(server.refresh(&client, &r0), server.refresh(&client, &r1));
        reuse.assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
        // Whatever the order, the family ends up revoked: a successor minted by the racing
        // rotation must not outlive the revocation.
        if rotation.status == StatusCode::OK {
            let r2 = rotation.str("refresh_token");
            let after = server.refresh(&client, &r2).await;
            assert_eq!(
                (after.status, after.error()),
                (StatusCode::BAD_REQUEST, "invalid_grant"),
                "round {round}: a successor survived the family's revocation"
            );
        } else {
            rotation.assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
}

on_both_databases!(
    reuse_racing_a_rotation_still_revokes_the_family,
    reuse_racing_rotation
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scope_can_be_narrowed_but_not_widened() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (client, first) = start_family(&server).await;
    let r0 = first.str("refresh_token");
    // RFC 6749 §6: asking for more than was granted is invalid_scope...
    for wider in [
        "openid email phone offline_access",
        "openid profile",
        "api:read",
    ] {
        server
            .token(
                &client,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &r0),
                    ("scope", wider),
                ],
            )
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "invalid_scope");
    }
    // ...and changes nothing: the token was not consumed.
    let narrow = server
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r0),
                ("scope", "openid"),
            ],
        )
        .await;
    assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.body);
    assert_eq!(narrow.str("scope"), "openid");
    let info = server.userinfo(&narrow.str("access_token")).await;
    assert_eq!(info.status, StatusCode::OK);
    assert!(info.body.get("email").is_none(), "{}", info.body);
    // The grant itself is unchanged: the next refresh without scope gets all of it back.
    let full = refresh_ok(&server, &client, &narrow.str("refresh_token")).await;
    assert_eq!(scope_set(&full.str("scope")), scope_set(SCOPE));
    let info = server.userinfo(&full.str("access_token")).await;
    assert_eq!(info.body["email"], "ada@example.com");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_is_bound_to_its_client() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (client, first) = start_family(&server).await;
    let other = server.create_client(|_| {}).await;
    let r0 = first.str("refresh_token");
    server
        .refresh(&other, &r0)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // Nothing changed for the owner.
    refresh_ok(&server, &client, &r0).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_user_cannot_refresh() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (client, first) = start_family(&server).await;
    let sub = jwt_part(&first.str("access_token"), 1)["sub"]
        .as_str()
        .expect("sub")
        .to_owned();
    assert!(server
        .store
        .set_user_disabled(&sub, true, server.clock.now())
        .await
        .expect("disabled"));
    server
        .refresh(&client, &first.str("refresh_token"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_userinfo_refused(&server, &first.str("access_token")).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_expires() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let client = server
        .create_client(|c| c.refresh_token_ttl = Some(100))
        .await;
    let first = server.tokens(&Browser::new(), &client, "ada", SCOPE).await;
    // The lifetime slides with each rotation.
    server.clock.advance(60);
    let second = refresh_ok(&server, &client, &first.str("refresh_token")).await;
    server.clock.advance(60);
    let third = refresh_ok(&server, &client, &second.str("refresh_token")).await;
    server.clock.advance(101);
    server
        .refresh(&client, &third.str("refresh_token"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_family_ends_at_its_absolute_lifetime() {
    let server = TestServer::start_with(Db::Sqlite, |c| {
        c.refresh_token_ttl = 200;
        c.refresh_token_absolute_ttl = 300;
    })
    .await
    .expect("server");
    let (client, first) = start_family(&server).await;
    server.clock.advance(150);
    let second = refresh_ok(&server, &client, &first.str("refresh_token")).await;
    server.clock.advance(140);
    let third = refresh_ok(&server, &client, &second.str("refresh_token")).await;
    // 301 s after the sign-in: within the sliding lifetime, past the absolute one.
    server.clock.advance(11);
    server
        .refresh(&client, &third.str("refresh_token"))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_refresh_requests() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let (client, _) = start_family(&server).await;
    server
        .token(&client, &[("grant_type", "refresh_token")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    server
        .refresh(&client, "no-such-token")
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    server.stop().await;
}
