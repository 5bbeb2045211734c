//! `/introspect` (RFC 7662), driven by the `openidconnect` crate's introspection support and
//! raw requests: the members of an active access or refresh token, caller authentication, and
//! every kind of token that must be exactly `{"active": false}` (malformed, forged, expired,
//! revoked, rotated away, of a replayed code, of a disabled or deleted user, someone else's).

use ferriam::clock::Clock;
use openidconnect::core::CoreTokenType;
use openidconnect::{AccessToken, TokenIntrospectionResponse};
use reqwest::StatusCode;
use serde_json::json;

use crate::harness::*;
use crate::on_both_databases;
use crate::revocation::{is_active, resource_server, rp, rp_http};

async fn active_access_token_members(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let tokens = server
        .tokens(&Browser::new(), &app, "ada", "openid email")
        .await;
    let access = tokens.str("access_token");

    let answer = rp(server, &rs)
        .await
        .introspect(&AccessToken::new(access.clone()))
        .request_async(&rp_http())
        .await
        .expect("introspection");
    assert!(answer.active());
    assert_eq!(answer.sub(), Some(sub.as_str()));
    assert_eq!(answer.username(), Some("ada"));
    assert_eq!(
        answer.client_id().map(|c| c.as_str()),
        Some(app.id.as_str())
    );
    assert_eq!(answer.token_type(), Some(&CoreTokenType::Bearer));
    assert_eq!(answer.iss(), Some(server.issuer.as_str()));
    let mut scopes: Vec<String> = answer
        .scopes()
        .expect("scope")
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["email", "openid"]);

    let claims = jwt_part(&access, 1);
    let reply = server.call("/introspect", &rs, &[("token", &access)]).await;
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(
        reply.body,
        json!({
            "active": true,
            "scope": claims["scope"],
            "client_id": app.id,
            "username": "ada",
            "token_type": "Bearer",
            "exp": claims["exp"],
            "iat": claims["iat"],
            "nbf": claims["iat"],
            "sub": sub,
            "aud": server.issuer,
            "iss": server.issuer,
            "jti": claims["jti"],
        })
    );
    // The client the token was issued to may introspect it as well, with any hint.
    for hint in ["access_token", "refresh_token", "id_token"] {
        let form = [("token", access.as_str()), ("token_type_hint", hint)];
        let reply = server.call("/introspect", &app, &form).await;
        assert_eq!(reply.body["active"], true, "hint {hint}: {}", reply.body);
    }
}
on_both_databases!(active_access_token, active_access_token_members);

async fn refresh_token_only_to_its_client(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let tokens = server
        .tokens(&Browser::new(), &app, "ada", "openid offline_access")
        .await;
    let refresh = tokens.str("refresh_token");
    let reply = server
        .call(
            "/introspect",
            &app,
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    let body = &reply.body;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["client_id"], app.id.as_str());
    assert_eq!(
        (body["sub"].as_str(), body["username"].as_str()),
        (Some(sub.as_str()), Some("ada"))
    );
    let mut scope: Vec<&str> = body["scope"].as_str().unwrap_or("").split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["offline_access", "openid"]);
    assert_eq!(body["iss"], server.issuer.as_str());
    assert_eq!(body["nbf"], body["iat"]);
    assert!(body["exp"].as_i64() > body["iat"].as_i64());
    // To any other client it is not active, with or without a hint.
    assert!(!is_active(server, &rs, &refresh).await);
    let hinted = server
        .call(
            "/introspect",
            &rs,
            &[("token", &refresh), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(hinted.body, json!({"active": false}));
    // Rotated away by a refresh: the old one is inactive, its successor active.
    let refreshed = server.refresh(&app, &refresh).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    assert!(!is_active(server, &app, &refresh).await, "rotated");
    assert!(is_active(server, &app, &refreshed.str("refresh_token")).await);
}
on_both_databases!(
    refresh_token_introspection,
    refresh_token_only_to_its_client
);

async fn caller_must_authenticate(server: &TestServer) {
    server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let access = server
        .tokens(&Browser::new(), &app, "ada", "openid")
        .await
        .str("access_token");
    let no_auth = Reply::read(
        http()
            .post(server.url("/introspect"))
            .form(&[("token", access.as_str())])
            .send()
            .await
            .expect("request"),
    )
    .await;
    no_auth.assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let wrong = TestClient {
        id: app.id.clone(),
        secret: Some("wrong".into()),
    };
    let unknown = TestClient {
        id: "nobody".into(),
        secret: Some("x".into()),
    };
    for caller in [&wrong, &unknown] {
        server
            .call("/introspect", caller, &[("token", &access)])
            .await
            .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // A public client only names itself: that is not authentication (RFC 7662 §2.1).
    let public = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
        })
        .await;
    server
        .call("/introspect", &public, &[("token", &access)])
        .await
        .assert_token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    // An authenticated caller without a token.
    for form in [vec![], vec![("token_type_hint", "access_token")]] {
        server
            .call("/introspect", &app, &form)
            .await
            .assert_token_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
}
on_both_databases!(
    introspection_needs_client_authentication,
    caller_must_authenticate
);

async fn unusable_tokens_are_inactive(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = server
        .create_client(|c| c.access_token_ttl = Some(60))
        .await;
    let rs = resource_server(server).await;
    let access = server
        .tokens(&Browser::new(), &app, "ada", "openid")
        .await
        .str("access_token");
    assert!(is_active(server, &rs, &access).await);

    let parts: Vec<&str> = access.split('.').collect();
    let mut payload = jwt_part(&access, 1);
    payload["scope"] = "openid email phone".into();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64url(payload.to_string().as_bytes()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    let unknown = ferriam::tokens::opaque::random_token();
    for token in [
        "garbage",
        "a.b.c",
        "..",
        unknown.as_str(),
        tampered.as_str(),
        unsigned.as_str(),
    ] {
        assert!(!is_active(server, &rs, token).await, "{token}");
    }
    // An ID token is not an access token (typ JWT, not at+jwt).
    let id_token = server
        .tokens(&Browser::new(), &app, "ada", "openid")
        .await
        .str("id_token");
    assert!(!is_active(server, &rs, &id_token).await, "ID token");

    // A disabled user's tokens are inactive while the account is disabled; a deleted user's
    // for good.
    let now = server.clock.now();
    server
        .store
        .set_user_disabled(&sub, true, now)
        .await
        .unwrap();
    assert!(!is_active(server, &rs, &access).await, "disabled user");
    server
        .store
        .set_user_disabled(&sub, false, now)
        .await
        .unwrap();
    assert!(is_active(server, &rs, &access).await, "enabled again");
    server.clock.advance(61);
    assert!(!is_active(server, &rs, &access).await, "expired");
}
on_both_databases!(
    malformed_forged_expired_disabled,
    unusable_tokens_are_inactive
);

async fn replayed_code_and_deleted_user(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let app = server.create_client(|_| {}).await;
    let rs = resource_server(server).await;
    let challenge = challenge();
    let code = server
        .code(
            &Browser::new(),
            &app.id,
            "ada",
            &[
                ("scope", "openid offline_access"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let first = server.exchange(&app, &code, Some(VERIFIER)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let (access, refresh) = (first.str("access_token"), first.str("refresh_token"));
    assert!(is_active(server, &rs, &access).await);
    assert!(is_active(server, &app, &refresh).await);
    // RFC 6749 §4.1.2: a replayed code revokes what the first exchange issued.
    server
        .exchange(&app, &code, Some(VERIFIER))
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!is_active(server, &rs, &access).await, "replayed code");
    assert!(!is_active(server, &app, &refresh).await, "replayed code");

    let live = server
        .tokens(&Browser::new(), &app, "ada", "openid offline_access")
        .await;
    let (access, refresh) = (live.str("access_token"), live.str("refresh_token"));
    assert!(is_active(server, &rs, &access).await);
    assert!(server.store.delete_user(&sub).await.unwrap());
    assert!(!is_active(server, &rs, &access).await, "deleted user");
    assert!(!is_active(server, &app, &refresh).await, "deleted user");
}
on_both_databases!(replayed_code_deleted_user, replayed_code_and_deleted_user);

async fn client_credentials_tokens(server: &TestServer) {
    let rs = resource_server(server).await;
    let machine = server
        .create_client(|c| {
            c.grant_types = vec!["client_credentials".into()];
            c.redirect_uris = vec![];
        })
        .await;
    let token = server
        .token(
            &machine,
            &[("grant_type", "client_credentials"), ("scope", "api:read")],
        )
        .await
        .str("access_token");
    let reply = server.call("/introspect", &rs, &[("token", &token)]).await;
    let body = &reply.body;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["sub"], machine.id.as_str());
    assert_eq!(body["client_id"], machine.id.as_str());
    assert_eq!(body["scope"], "api:read");
    assert!(body.get("username").is_none(), "no user: {body}");
    let revoked = server.call("/revoke", &machine, &[("token", &token)]).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.body);
    assert!(!is_active(server, &rs, &token).await);

    // A deleted client's tokens end with it.
    let token = server
        .token(&machine, &[("grant_type", "client_credentials")])
        .await
        .str("access_token");
    assert!(is_active(server, &rs, &token).await);
    assert!(server.store.delete_client(&machine.id).await.unwrap());
    let mut inactive = false;
    // The server notices the deletion within a second (its client cache).
    for _ in 0..30 {
        if !is_active(server, &rs, &token).await {
            inactive = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(inactive, "a deleted client's token stayed active");
}
on_both_databases!(client_credentials_introspection, client_credentials_tokens);

async fn discovery_lists_both_endpoints(server: &TestServer) {
    let reply = Reply::read(
        http()
            .get(server.url("/.well-known/openid-configuration"))
            .send()
            .await
            .expect("discovery"),
    )
    .await;
    let doc = &reply.body;
    assert_eq!(doc["revocation_endpoint"], server.url("/revoke").as_str());
    assert_eq!(
        doc["introspection_endpoint"],
        server.url("/introspect").as_str()
    );
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        doc["token_endpoint_auth_methods_supported"]
    );
    let token_methods: Vec<&str> = doc["token_endpoint_auth_methods_supported"]
        .as_array()
        .expect("methods")
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != "none")
        .collect();
    assert!(!token_methods.is_empty());
    assert_eq!(
        doc["introspection_endpoint_auth_methods_supported"],
        json!(token_methods),
        "the token endpoint's methods that authenticate"
    );
}
on_both_databases!(discovery_metadata, discovery_lists_both_endpoints);
