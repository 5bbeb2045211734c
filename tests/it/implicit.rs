//! The implicit and hybrid flows (OpenID Connect Core §3.2, §3.3) and `response_type=none`:
//! each response type through the real sign-in pages, the fragment parsed here, ID tokens
//! verified with the `openidconnect` crate against /jwks (nonce, `at_hash`, `c_hash`),
//! form_post delivery, the hybrid code at /token, PKCE for public clients, and registration
//! through `ferriam client create`. Their bad inputs are in `implicit_errors`.

use openidconnect::core::{CoreClient, CoreIdToken, CoreIdTokenClaims, CoreProviderMetadata};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthorizationCode, AuthorizationCodeHash, ClientId, ClientSecret,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce,
};
use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

/// The client `CoreClient::from_provider_metadata` builds.
type Rp = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

pub const STATE: &str = "st-imp";
pub const NONCE: &str = "n-0S6_WzA2Mj";

/// Every response type /authorize accepts besides `code`.
const RESPONSE_TYPES: [&str; 6] = [
    "id_token",
    "id_token token",
    "code id_token",
    "code token",
    "code id_token token",
    "none",
];

/// A confidential client registered for every response type (and the implicit grant).
pub async fn implicit_client(server: &TestServer) -> TestClient {
    server
        .create_client(|c| {
            c.grant_types.push("implicit".into());
            c.response_types = std::iter::once("code")
                .chain(RESPONSE_TYPES)
                .map(str::to_owned)
                .collect();
        })
        .await
}

/// The relying party's view of the provider, for ID token verification against /jwks.
async fn relying_party(server: &TestServer, client: &TestClient) -> Rp {
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &http)
            .await
            .expect("discovery");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
}

/// Parameters of an authorization request for `response_type`.
pub fn request<'a>(client: &'a TestClient, response_type: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", client.id.as_str()),
        ("response_type", response_type),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email"),
        ("state", STATE),
        ("nonce", NONCE),
    ]
}

/// Verifies an ID token as a relying party would: signature against /jwks, iss, aud, exp and
/// the nonce of the request.
fn verify_id_token(rp: &Rp, raw: &str) -> (CoreIdToken, CoreIdTokenClaims) {
    let token: CoreIdToken = raw.parse().expect("an ID token");
    let claims = token
        .claims(&rp.id_token_verifier(), &Nonce::new(NONCE.into()))
        .expect("the ID token verifies")
        .clone();
    (token, claims)
}

/// Asserts a redirect error in the fragment, with `state` and `iss`, and no credentials.
#[track_caller]
pub fn assert_fragment_error(server: &TestServer, response: &reqwest::Response, error: &str) {
    let back = redirect(response);
    assert!(
        back.location.starts_with(&format!("{REDIRECT_URI}#")),
        "expected the fragment: {}",
        back.location
    );
    assert_eq!(back.get("error"), Some(error), "{}", back.location);
    assert_eq!(back.get("state"), Some(STATE), "{}", back.location);
    assert_eq!(back.get("iss"), Some(server.issuer.as_str()));
    for credential in ["code", "access_token", "id_token", "refresh_token"] {
        assert_eq!(back.get(credential), None, "{credential} in an error");
    }
    assert_description_charset(back.get("error_description").unwrap_or(""));
}

/// RFC 6749 §5.2: `error_description` uses %x20-21 / %x23-5B / %x5D-7E only.
#[track_caller]
pub fn assert_description_charset(description: &str) {
    assert!(
        description
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
        "error_description {description:?} leaves the RFC 6749 §5.2 set"
    );
}

async fn every_response_type(server: &TestServer) {
    let ada = server.create_user("ada").await;
    let client = implicit_client(server).await;
    let rp = relying_party(server, &client).await;
    let browser = Browser::new();
    // `token id_token` is the same set as `id_token token`: order does not matter.
    for response_type in RESPONSE_TYPES.iter().copied().chain(["token id_token"]) {
        let words: Vec<&str> = response_type.split(' ').collect();
        // offline_access is granted, yet no refresh token leaves the authorization endpoint.
        let mut pairs = request(&client, response_type);
        pairs.retain(|(k, _)| *k != "scope");
        pairs.push(("scope", "openid email offline_access"));
        let url = url_with(&server.issuer, "/authorize", &pairs);
        let back = browser.sign_in(&server.issuer, &url, "ada").await;
        let what = format!("{response_type}: {}", back.location);
        // Multiple Response Type Encoding Practices §2.1 (fragment) and §5 (none: the query).
        let separator = if response_type == "none" { '?' } else { '#' };
        assert!(
            back.location
                .starts_with(&format!("{REDIRECT_URI}{separator}")),
            "{what}"
        );
        assert_eq!(back.get("state"), Some(STATE), "{what}");
        assert_eq!(back.get("iss"), Some(server.issuer.as_str()), "{what}");
        assert_eq!(back.get("refresh_token"), None, "{what}");
        assert_eq!(back.get("error"), None, "{what}");
        assert_eq!(
            back.get("code").is_some(),
            words.contains(&"code"),
            "{what}"
        );
        assert_eq!(
            back.get("access_token").is_some(),
            words.contains(&"token"),
            "{what}"
        );
        assert_eq!(
            back.get("id_token").is_some(),
            words.contains(&"id_token"),
            "{what}"
        );
        if response_type == "none" {
            assert_eq!(
                back.params.len(),
                2,
                "none returns state and iss only: {what}"
            );
        }
        if let Some(access_token) = back.get("access_token") {
            assert_eq!(back.get("token_type"), Some("Bearer"), "{what}");
            let expires_in: u64 = back
                .get("expires_in")
                .and_then(|e| e.parse().ok())
                .expect("expires_in");
            assert!(expires_in > 0);
            // An RFC 9068 JWT access token that userinfo accepts.
            assert_eq!(jwt_part(access_token, 0)["typ"], "at+jwt");
            let info = server.userinfo(access_token).await;
            assert_eq!(info.status, StatusCode::OK, "{what}: {}", info.body);
            assert_eq!(info.str("sub"), ada);
        }
        if let Some(raw) = back.get("id_token") {
            let (token, claims) = verify_id_token(&rp, raw);
            assert_eq!(claims.subject().as_str(), ada, "{what}");
            let alg = token.signing_alg().expect("alg");
            let verifier = rp.id_token_verifier();
            let key = token.signing_key(&verifier).expect("signing key");
            match back.get("access_token") {
                Some(at) => {
                    let expected =
                        AccessTokenHash::from_token(&AccessToken::new(at.into()), alg, key)
                            .unwrap();
                    assert_eq!(claims.access_token_hash(), Some(&expected), "{what}");
                }
                None => assert_eq!(claims.access_token_hash(), None, "{what}"),
            }
            match back.get("code") {
                Some(code) => {
                    let expected = AuthorizationCodeHash::from_code(
                        &AuthorizationCode::new(code.into()),
                        alg,
                        key,
                    )
                    .unwrap();
                    assert_eq!(claims.code_hash(), Some(&expected), "{what}");
                }
                None => assert_eq!(claims.code_hash(), None, "{what}"),
            }
            // OpenID Connect Core §5.4: user claims in the ID token only when no access token
            // is issued at all; otherwise they come from userinfo.
            let email = claims.email().map(|e| e.as_str().to_owned());
            if response_type == "id_token" {
                assert_eq!(email.as_deref(), Some("ada@example.com"), "{what}");
            } else {
                assert_eq!(email, None, "{what}");
            }
        }
        if let Some(code) = back.get("code") {
            // The hybrid code is redeemed as any code; its ID token speaks for the same user.
            let reply = server.exchange(&client, code, None).await;
            assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.body);
            assert!(
                reply.body.get("refresh_token").is_some(),
                "{what}: the token endpoint may"
            );
            let (_, claims) = verify_id_token(&rp, &reply.str("id_token"));
            assert_eq!(claims.subject().as_str(), ada, "{what}");
            assert_eq!(claims.nonce().map(|n| n.secret().as_str()), Some(NONCE));
        }
    }
}

on_both_databases!(each_response_type_end_to_end, every_response_type);

async fn form_post(server: &TestServer) {
    server.create_user("ada").await;
    let client = implicit_client(server).await;
    let rp = relying_party(server, &client).await;
    let browser = Browser::new();
    // Sign in and consent once; the form_post request then answers at once.
    let first = url_with(&server.issuer, "/authorize", &request(&client, "id_token"));
    browser.sign_in(&server.issuer, &first, "ada").await;
    let mut pairs = request(&client, "code id_token token");
    pairs.push(("response_mode", "form_post"));
    let page = Page::read(
        browser
            .get(&url_with(&server.issuer, "/authorize", &pairs))
            .await,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header("location"), "", "form_post is no redirect");
    assert_eq!(page.header("cache-control"), "no-store");
    let fields = form_fields(&page.body);
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(get("state"), Some(STATE));
    assert_eq!(get("iss"), Some(server.issuer.as_str()));
    assert_eq!(get("token_type"), Some("Bearer"));
    assert_eq!(get("refresh_token"), None);
    let (token, claims) = verify_id_token(&rp, get("id_token").expect("id_token field"));
    let verifier = rp.id_token_verifier();
    let key = token.signing_key(&verifier).unwrap();
    let alg = token.signing_alg().unwrap();
    let at = AccessToken::new(get("access_token").expect("access_token field").into());
    assert_eq!(
        claims.access_token_hash(),
        Some(&AccessTokenHash::from_token(&at, alg, key).unwrap())
    );
    let code = AuthorizationCode::new(get("code").expect("code field").into());
    assert_eq!(
        claims.code_hash(),
        Some(&AuthorizationCodeHash::from_code(&code, alg, key).unwrap())
    );
    // Errors of such a request are posted too.
    let mut pairs = request(&client, "id_token token");
    pairs.retain(|(k, _)| *k != "nonce");
    pairs.push(("response_mode", "form_post"));
    let page = Page::read(
        browser
            .get(&url_with(&server.issuer, "/authorize", &pairs))
            .await,
    )
    .await;
    assert_eq!(page.status, StatusCode::OK);
    let fields = form_fields(&page.body);
    assert!(
        fields.contains(&("error".into(), "invalid_request".into())),
        "{fields:?}"
    );
    assert!(!fields
        .iter()
        .any(|(k, _)| k == "access_token" || k == "id_token"));
}

on_both_databases!(form_post_delivers_tokens_in_a_form, form_post);

async fn hybrid_replay(server: &TestServer) {
    server.create_user("ada").await;
    let client = implicit_client(server).await;
    let browser = Browser::new();
    let url = url_with(
        &server.issuer,
        "/authorize",
        &request(&client, "code token"),
    );
    let back = browser.sign_in(&server.issuer, &url, "ada").await;
    let access_token = back.get("access_token").expect("access token").to_owned();
    let code = back.get("code").expect("code").to_owned();
    assert_eq!(server.userinfo(&access_token).await.status, StatusCode::OK);
    let first = server.exchange(&client, &code, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // RFC 6749 §4.1.2: replaying the code revokes every token of its grant, including the
    // access token the authorization endpoint issued beside it.
    server
        .exchange(&client, &code, None)
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(
        server.userinfo(&access_token).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server.userinfo(&first.str("access_token")).await.status,
        StatusCode::UNAUTHORIZED
    );
    // The implicit grant type is registered for /authorize only: /token refuses it.
    server
        .token(&client, &[("grant_type", "implicit")])
        .await
        .assert_token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
}

on_both_databases!(
    hybrid_code_replay_revokes_front_channel_tokens,
    hybrid_replay
);

async fn public_clients(server: &TestServer) {
    server.create_user("ada").await;
    let public = server
        .create_client(|c| {
            c.client_type = ferriam_protocol::client::ClientType::Public;
            c.token_endpoint_auth_method = ferriam_protocol::client::AuthMethod::None;
            c.grant_types = vec!["authorization_code".into(), "implicit".into()];
            c.response_types = vec!["id_token token".into(), "code id_token".into()];
        })
        .await;
    let browser = Browser::new();
    // The token-only part needs no PKCE.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &request(&public, "id_token token"),
    );
    let back = browser.sign_in(&server.issuer, &url, "ada").await;
    assert!(back.get("access_token").is_some(), "{}", back.location);
    // A code in a hybrid response follows the PKCE rules of public clients.
    let url = url_with(
        &server.issuer,
        "/authorize",
        &request(&public, "code id_token"),
    );
    assert_fragment_error(server, &browser.get(&url).await, "invalid_request");
    let challenge = challenge();
    let mut pairs = request(&public, "code id_token");
    pairs.extend([
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let back = redirect(
        &browser
            .get(&url_with(&server.issuer, "/authorize", &pairs))
            .await,
    );
    let code = back.get("code").expect("code").to_owned();
    let reply = server.exchange(&public, &code, Some(VERIFIER)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

on_both_databases!(public_clients_and_pkce, public_clients);

/// `ferriam client create --response-type` with the new values, through the real binary.
#[test]
fn client_create_registers_implicit_response_types() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferriam"))
            .args(["--database-url", &db, "client", "create", "--name", "SPA"])
            .args(["--type", "public", "--redirect-uri", REDIRECT_URI])
            .args(args)
            .output()
            .expect("ferriam runs")
    };
    // token or id_token needs the implicit grant type (OpenID Connect Registration §2).
    let refused = run(&["--response-type", "id_token token"]);
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("implicit"));
    let refused = run(&["--grant-type", "implicit", "--response-type", "token"]);
    assert_eq!(refused.status.code(), Some(1), "token alone is not served");
    let refused = run(&[
        "--grant-type",
        "implicit",
        "--response-type",
        "code id_token",
    ]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "a code needs authorization_code"
    );
    let made = run(&[
        "--grant-type",
        "implicit",
        "--grant-type",
        "authorization_code",
        "--response-type",
        "token id_token",
        "--response-type",
        "code id_token token",
        "--response-type",
        "none",
    ]);
    assert_eq!(made.status.code(), Some(0), "{made:?}");
    let out: serde_json::Value = serde_json::from_slice(&made.stdout).expect("JSON");
    let id = out["client_id"].as_str().expect("client_id").to_owned();
    let shown = std::process::Command::new(env!("CARGO_BIN_EXE_ferriam"))
        .args(["--database-url", &db, "client", "show", &id])
        .output()
        .expect("ferriam runs");
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    assert_eq!(
        shown["response_types"],
        serde_json::json!(["token id_token", "code id_token token", "none"])
    );
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["implicit", "authorization_code"])
    );
}
