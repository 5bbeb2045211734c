//! Unit tests of the authorization request checks.

use super::*;
use crate::client::{AuthMethod, ClientType, SigningAlg};
use crate::pkce::s256;

fn client(client_type: ClientType) -> Client {
    Client {
        client_id: "app".into(),
        name: "App".into(),
        client_type,
        redirect_uris: vec!["https://app.example/cb".into()],
        post_logout_redirect_uris: vec![],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        scopes: vec![],
        token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
        allow_plain_pkce: false,
        access_token_alg: SigningAlg::RS256,
        access_token_ttl: None,
        refresh_token_ttl: None,
        ..Default::default()
    }
}

fn base<'a>() -> Vec<(&'a str, &'a str)> {
    vec![
        ("client_id", "app"),
        ("response_type", "code"),
        ("redirect_uri", "https://app.example/cb"),
        ("scope", "openid email"),
        ("state", "xyz"),
    ]
}

fn with(extra: &[(&'static str, &'static str)], without: &[&str]) -> Params {
    let mut pairs: Vec<_> = base()
        .into_iter()
        .filter(|(k, _)| !without.contains(k))
        .collect();
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        pairs.push((k, v));
    }
    Params::from_pairs(pairs)
}

fn redirected_code(
    result: Result<AuthorizationRequest, AuthorizeError>,
) -> (ErrorCode, AuthorizationResponse) {
    match result {
        Err(AuthorizeError::Redirect { error, response }) => (error.code, response),
        other => panic!("expected a redirected error, got {other:?}"),
    }
}

#[test]
fn accepts_a_good_request() {
    let req = validate(&with(&[], &[]), &client(ClientType::Confidential)).unwrap();
    assert_eq!(req.scope, "email openid");
    assert_eq!(req.state.as_deref(), Some("xyz"));
    assert!(req.is_openid());
}

#[test]
fn bad_redirect_uri_is_never_redirected() {
    let r = validate(
        &with(&[("redirect_uri", "https://evil.example/cb")], &[]),
        &client(ClientType::Confidential),
    );
    assert!(matches!(r, Err(AuthorizeError::Page(_))));
    let r = validate(
        &with(&[], &["redirect_uri"]),
        &client(ClientType::Confidential),
    );
    assert!(
        matches!(r, Err(AuthorizeError::Page(_))),
        "openid requests must name redirect_uri"
    );
}

#[test]
fn response_type_errors() {
    let c = client(ClientType::Confidential);
    let (code, response) = redirected_code(validate(&with(&[("response_type", "token")], &[]), &c));
    assert_eq!(code, ErrorCode::UnsupportedResponseType);
    assert!(response
        .location()
        .starts_with("https://app.example/cb?error=unsupported_response_type"));
    assert!(response.location().contains("state=xyz"));
    let (code, _) = redirected_code(validate(&with(&[], &["response_type"]), &c));
    assert_eq!(code, ErrorCode::InvalidRequest);
}

#[test]
fn scope_errors() {
    let c = client(ClientType::Confidential);
    let (code, _) = redirected_code(validate(&with(&[("scope", "openid admin")], &[]), &c));
    assert_eq!(code, ErrorCode::InvalidScope);
}

#[test]
fn pkce_rules() {
    let public = client(ClientType::Public);
    let (code, _) = redirected_code(validate(&with(&[], &[]), &public));
    assert_eq!(code, ErrorCode::InvalidRequest, "public clients need PKCE");
    let challenge: &'static str = Box::leak(s256(&"v".repeat(43)).into_boxed_str());
    let ok = with(
        &[
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ],
        &[],
    );
    assert!(validate(&ok, &public).is_ok());
    let plain = with(
        &[
            ("code_challenge", challenge),
            ("code_challenge_method", "plain"),
        ],
        &[],
    );
    let (code, _) = redirected_code(validate(&plain, &public));
    assert_eq!(code, ErrorCode::InvalidRequest, "plain needs an opt-in");
    let mut allowed = client(ClientType::Public);
    allowed.allow_plain_pkce = true;
    assert!(validate(&plain, &allowed).is_ok());
}

#[test]
fn prompt_and_max_age() {
    let c = client(ClientType::Confidential);
    let (code, _) = redirected_code(validate(&with(&[("prompt", "none login")], &[]), &c));
    assert_eq!(code, ErrorCode::InvalidRequest);
    let (code, _) = redirected_code(validate(&with(&[("max_age", "-1")], &[]), &c));
    assert_eq!(code, ErrorCode::InvalidRequest);
    let req = validate(
        &with(&[("prompt", "login consent"), ("max_age", "0")], &[]),
        &c,
    )
    .unwrap();
    assert!(req.prompt.login && req.prompt.consent);
    assert_eq!(req.max_age, Some(0));
}

#[test]
fn response_modes() {
    let c = client(ClientType::Confidential);
    let req = validate(&with(&[("response_mode", "fragment")], &[]), &c).unwrap();
    let location = AuthorizationResponse::code(
        &req.redirect_uri,
        req.response_mode,
        req.state.as_deref(),
        "abc",
    )
    .with_issuer("https://id.example")
    .location();
    assert_eq!(
        location,
        "https://app.example/cb#code=abc&state=xyz&iss=https%3A%2F%2Fid.example"
    );
    let (code, response) = redirected_code(validate(&with(&[("response_mode", "jwt")], &[]), &c));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert_eq!(response.mode, ResponseMode::Query);
}

#[test]
fn query_is_appended_to_an_existing_query() {
    let r = AuthorizationResponse::code("https://a.example/cb?x=1", ResponseMode::Query, None, "c");
    assert_eq!(r.location(), "https://a.example/cb?x=1&code=c");
}
