//! `/revoke` (RFC 7009): a refresh token takes its grant with it, an access token goes alone,
//! hints only order the search, foreign tokens and bad credentials change nothing, invalid
//! tokens answer 200, and a storage failure answers 503.
//!
//! The requests are raw: the `openidconnect` crate's `revoke_token` refuses any endpoint that
//! is not https (RFC 7009 §2 makes clients check that), and the test server speaks plain HTTP
//! on loopback. Its introspection support is used in `introspection.rs`.

use openidconnect::core::{CoreClient, CoreProviderMetadata};
use openidconnect::{
    ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, IntrospectionUrl,
    IssuerUrl,
};
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

/// A relying party of the `openidconnect` crate with the introspection endpoint set (the
/// crate's discovery document type does not read it).
pub type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The HTTP client the relying party uses.
pub fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// The relying party for a registered client, from the server's discovery document.
pub async fn rp(server: &TestServer, client: &TestClient) -> Rp {
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(server.issuer.clone()).expect("issuer"),
        &rp_http(),
    )
    .await
    .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_introspection_url(IntrospectionUrl::new(server.url("/introspect")).expect("url"))
}

/// A resource server: a client that only authenticates (to introspect tokens).
pub async fn resource_server(server: &TestServer) -> TestClient {
    server
        .create_client(|c| {
            c.name = "API".into();
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
            c.response_types = vec![];
        })
        .await
}

/// Whether introspection by `rs` calls the token active; asserts an inactive answer has
/// exactly one member.
pub async fn is_active(server: &TestServer, rs: &TestClient, token: &str) -> bool {
    let reply = server.call("/introspect", rs, &[("token", token)]).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "introspection: {}",
        reply.body
    );
    match reply.body["active"].as_bool() {
        Some(true) => true,
        Some(false) => {
            assert_eq!(reply.body, serde_json::json!({"active": false}));
            false
        }
        None => panic!("no active member: {}", reply.body),
    }
}

/// A token response for "ada" with a refresh token.
async fn offline_tokens(server: &TestServer, client: &TestClient) -> (String, String) {
    let tokens = server
        .tokens(&Browser::new(), client, "ada", "openid offline_access")
        .await;
    (tokens.str("access_token"), tokens.str("refresh_token"))
}

/// Asserts a successful revocation answer: 200, `no-store`.
#[track_caller]
fn assert_revoked_ok(what: &str, reply: &Reply) {
    assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
    assert_eq!(reply.header("cache-control"), "no-store", "{what}");
}

async fn refresh_token_revokes_its_grant(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let (access, refresh) = offline_tokens(server, &app).await;
    // A second access token of the same grant, from a refresh.
    let refreshed = server.refresh(&app, &refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let (access2, refresh2) = (
        refreshed.str("access_token"),
        refreshed.str("refresh_token"),
    );
    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);
    assert!(is_active(server, &rs, &access2).await);

    let form = [
        ("token", refresh2.as_str()),
        ("token_type_hint", "refresh_token"),
    ];
    assert_revoked_ok("refresh", &server.call("/revoke", &app, &form).await);

    server
        .refresh(&app, &refresh2)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    for token in [&access, &access2] {
        let reply = server.userinfo(token).await;
        assert_eq!(
            (reply.status, reply.error()),
            (StatusCode::UNAUTHORIZED, "invalid_token"),
            "{}",
            reply.body
        );
        assert!(!is_active(server, &rs, token).await);
    }
    assert!(!is_active(server, &app, &refresh2).await);
}
on_both_databases!(
    refresh_token_revocation_ends_the_grant,
    refresh_token_revokes_its_grant
);

async fn access_token_goes_alone(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let (access, refresh) = offline_tokens(server, &app).await;

    let form = [
        ("token", access.as_str()),
        ("token_type_hint", "access_token"),
    ];
    assert_revoked_ok("access", &server.call("/revoke", &app, &form).await);

    let reply = server.userinfo(&access).await;
    assert_eq!(
        (reply.status, reply.error()),
        (StatusCode::UNAUTHORIZED, "invalid_token"),
        "{}",
        reply.body
    );
    assert!(!is_active(server, &rs, &access).await);
    // Revoking it again is fine and changes nothing.
    let again = server.call("/revoke", &app, &[("token", &access)]).await;
    assert_revoked_ok("again", &again);
    // The refresh token, and the access tokens it mints, still work.
    assert!(is_active(server, &app, &refresh).await);
    let refreshed = server.refresh(&app, &refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let fresh = refreshed.str("access_token");
    assert_eq!(server.userinfo(&fresh).await.status, StatusCode::OK);
    assert!(is_active(server, &rs, &fresh).await);
}
on_both_databases!(access_token_revocation_is_alone, access_token_goes_alone);

async fn hints_only_order_the_search(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    for hint in [
        None,
        Some("access_token"),
        Some("refresh_token"),
        Some("id_token"),
    ] {
        let (access, refresh) = offline_tokens(server, &app).await;
        let mut form = vec![("token", access.as_str())];
        form.extend(hint.map(|h| ("token_type_hint", h)));
        assert_revoked_ok("access", &server.call("/revoke", &app, &form).await);
        assert!(!is_active(server, &rs, &access).await, "hint {hint:?}");
        assert!(is_active(server, &app, &refresh).await, "hint {hint:?}");

        let mut form = vec![("token", refresh.as_str())];
        form.extend(hint.map(|h| ("token_type_hint", h)));
        assert_revoked_ok("refresh", &server.call("/revoke", &app, &form).await);
        assert!(!is_active(server, &app, &refresh).await, "hint {hint:?}");
        server
            .refresh(&app, &refresh)
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
}
on_both_databases!(hints_with_and_without, hints_only_order_the_search);

async fn foreign_tokens_and_bad_credentials_change_nothing(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let other = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let (access, refresh) = offline_tokens(server, &app).await;

    // RFC 7009 §2.1: the token was not issued to the caller, so the request is refused.
    for (token, hint) in [(&access, "access_token"), (&refresh, "refresh_token")] {
        for form in [
            vec![("token", token.as_str())],
            vec![("token", token.as_str()), ("token_type_hint", hint)],
        ] {
            server
                .call("/revoke", &other, &form)
                .await
                .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
        }
    }
    let wrong_secret = TestClient {
        id: app.id.clone(),
        secret: Some("wrong".into()),
    };
    for token in [&access, &refresh] {
        server
            .call("/revoke", &wrong_secret, &[("token", token)])
            .await
            .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // No credentials at all.
    let reply = Reply::read(
        http()
            .post(server.url("/revoke"))
            .form(&[("token", refresh.as_str())])
            .send()
            .await
            .expect("request"),
    )
    .await;
    reply.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // A confidential client that presents only its id is not authenticated.
    let id_only = TestClient {
        id: app.id.clone(),
        secret: None,
    };
    server
        .call("/revoke", &id_only, &[("token", &refresh)])
        .await
        .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");

    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);
    assert!(is_active(server, &rs, &access).await);
    assert!(is_active(server, &app, &refresh).await);
    let refreshed = server.refresh(&app, &refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
}
on_both_databases!(
    foreign_or_unauthenticated_revocations_change_nothing,
    foreign_tokens_and_bad_credentials_change_nothing
);

async fn invalid_tokens_answer_200(server: &TestServer) {
    server.create_user("ada").await;
    let app = server
        .create_client(|c| c.access_token_ttl = Some(60))
        .await;
    let (access, refresh) = offline_tokens(server, &app).await;
    let mut tampered = access.clone();
    tampered.push('A');
    let unknown = ferriam::tokens::opaque::random_token();
    for token in [
        unknown.as_str(),
        "garbage",
        "a.b.c",
        "..",
        "eyJhbGciOiJub25lIn0.e30.",
        tampered.as_str(),
    ] {
        for hint in [None, Some("access_token"), Some("refresh_token")] {
            let mut form = vec![("token", token)];
            form.extend(hint.map(|h| ("token_type_hint", h)));
            assert_revoked_ok(token, &server.call("/revoke", &app, &form).await);
        }
    }
    // An expired access token is invalid: 200, and the refresh token is untouched.
    server.clock.advance(61);
    assert_revoked_ok(
        "expired",
        &server.call("/revoke", &app, &[("token", &access)]).await,
    );
    let refreshed = server.refresh(&app, &refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
}
on_both_databases!(unknown_malformed_expired_tokens, invalid_tokens_answer_200);

async fn bad_requests(server: &TestServer) {
    let app = server.create_client(|_| {}).await;
    for form in [
        vec![],
        vec![("token_type_hint", "access_token")],
        vec![("token", "")],
    ] {
        server
            .call("/revoke", &app, &form)
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let secret = app.secret.clone().expect("secret");
    let auth = basic(&app.id, &secret);
    for (what, request) in [
        (
            "duplicate token",
            http().post(server.url("/revoke")).body("token=a&token=b"),
        ),
        ("JSON body", http().post(server.url("/revoke")).body("{}")),
    ] {
        let content_type = if what == "JSON body" {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let reply = Reply::read(
            request
                .header("authorization", &auth)
                .header("content-type", content_type)
                .send()
                .await
                .expect("request"),
        )
        .await;
        reply.assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let get = http().get(server.url("/revoke")).send().await.expect("GET");
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
}
on_both_databases!(missing_or_malformed_requests, bad_requests);

async fn public_and_machine_clients(server: &TestServer) {
    server.create_user("ada").await;
    let public = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
        })
        .await;
    let rs = resource_server(server).await;
    let (access, refresh) = offline_tokens(server, &public).await;
    // A public client names itself with client_id (RFC 7009 §2.1, RFC 6749 §2.3).
    assert_revoked_ok(
        "public",
        &server
            .call("/revoke", &public, &[("token", &refresh)])
            .await,
    );
    assert!(!is_active(server, &rs, &access).await);

    // client_credentials tokens have no grant: they are revoked by their jti.
    let machine = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
        })
        .await;
    let token = server
        .token(&machine, &[("grant_type", "client_credentials")])
        .await
        .str("access_token");
    assert!(is_active(server, &rs, &token).await);
    server
        .call("/revoke", &rs, &[("token", &token)])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(is_active(server, &rs, &token).await, "a foreign client");
    assert_revoked_ok(
        "client_credentials",
        &server.call("/revoke", &machine, &[("token", &token)]).await,
    );
    assert!(!is_active(server, &rs, &token).await);
}
on_both_databases!(
    public_and_client_credentials_tokens,
    public_and_machine_clients
);

/// Renames a table away (`away`) or back, so that statements on it fail for a while.
async fn rename_table(server: &TestServer, table: &str, away: bool) {
    use sqlx::Connection;
    let (from, to) = if away {
        (table.to_owned(), format!("{table}_away"))
    } else {
        (format!("{table}_away"), table.to_owned())
    };
    let statement = format!("ALTER TABLE {from} RENAME TO {to}");
    if server.database_url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(&server.database_url)
            .await
            .expect("connect");
        sqlx::query(&statement)
            .execute(&mut c)
            .await
            .expect("rename");
    } else {
        let mut c = sqlx::SqliteConnection::connect(&server.database_url)
            .await
            .expect("connect");
        sqlx::query(&statement)
            .execute(&mut c)
            .await
            .expect("rename");
    }
}

async fn storage_failure_is_503(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let (access, refresh) = offline_tokens(server, &app).await;
    // RFC 7009 §2.2.1 and fosite CVE-2020-15223: a revocation the store could not record is
    // 503, never 200.
    for (table, token) in [
        ("revoked_access_tokens", &access),
        ("revoked_grants", &refresh),
    ] {
        rename_table(server, table, true).await;
        let reply = server.call("/revoke", &app, &[("token", token)]).await;
        rename_table(server, table, false).await;
        reply.assert_token_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    }
    assert_eq!(server.userinfo(&access).await.status, StatusCode::OK);
    assert!(is_active(server, &rs, &access).await);
    assert!(is_active(server, &app, &refresh).await);
}
on_both_databases!(storage_failure, storage_failure_is_503);
