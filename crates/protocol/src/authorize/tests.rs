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
    let (code, response) = redirected_code(validate(&with(&[("response_type", "bogus")], &[]), &c));
    assert_eq!(code, ErrorCode::UnsupportedResponseType);
    assert!(response
        .location()
        .starts_with("https://app.example/cb?error=unsupported_response_type"));
    assert!(response.location().contains("state=xyz"));
    // `token` alone is not served, and its error goes where a token would have gone.
    let (code, response) = redirected_code(validate(&with(&[("response_type", "token")], &[]), &c));
    assert_eq!(code, ErrorCode::UnsupportedResponseType);
    assert!(response
        .location()
        .starts_with("https://app.example/cb#error=unsupported_response_type"));
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

/// A client registered for every response type, with the grants they need.
fn everything(client_type: ClientType) -> Client {
    let mut c = client(client_type);
    c.grant_types.push("implicit".into());
    c.response_types = response_type::SUPPORTED
        .iter()
        .map(|s| s.to_string())
        .collect();
    c
}

#[test]
fn each_response_type_and_its_default_mode() {
    let c = everything(ClientType::Confidential);
    for (value, mode) in [
        ("code", ResponseMode::Query),
        ("none", ResponseMode::Query),
        ("id_token", ResponseMode::Fragment),
        ("id_token token", ResponseMode::Fragment),
        ("token id_token", ResponseMode::Fragment),
        ("code id_token", ResponseMode::Fragment),
        ("code token", ResponseMode::Fragment),
        ("token code id_token", ResponseMode::Fragment),
    ] {
        let req = validate(&with(&[("response_type", value), ("nonce", "n")], &[]), &c)
            .unwrap_or_else(|e| panic!("{value}: {e:?}"));
        assert_eq!(req.response_mode, mode, "{value}");
        assert_eq!(req.response_type, ResponseType::parse(value).unwrap());
        let form_post = validate(
            &with(
                &[
                    ("response_type", value),
                    ("nonce", "n"),
                    ("response_mode", "form_post"),
                ],
                &[],
            ),
            &c,
        )
        .unwrap();
        assert_eq!(form_post.response_mode, ResponseMode::FormPost, "{value}");
    }
}

#[test]
fn query_is_refused_when_tokens_are_returned() {
    let c = everything(ClientType::Confidential);
    for value in ["id_token", "id_token token", "code id_token", "code token"] {
        let (code, response) = redirected_code(validate(
            &with(
                &[
                    ("response_type", value),
                    ("nonce", "n"),
                    ("response_mode", "query"),
                ],
                &[],
            ),
            &c,
        ));
        assert_eq!(code, ErrorCode::InvalidRequest, "{value}");
        assert_eq!(response.mode, ResponseMode::Fragment, "{value}");
    }
    // For code, query is the default and may be asked for.
    assert!(validate(&with(&[("response_mode", "query")], &[]), &c).is_ok());
}

#[test]
fn an_unregistered_response_type_is_unauthorized_client_in_the_fragment() {
    let c = client(ClientType::Confidential);
    let (code, response) = redirected_code(validate(
        &with(&[("response_type", "code id_token"), ("nonce", "n")], &[]),
        &c,
    ));
    assert_eq!(code, ErrorCode::UnauthorizedClient);
    assert!(response
        .location()
        .starts_with("https://app.example/cb#error=unauthorized_client"));
    // Registered for the response type but not for the implicit grant it needs.
    let mut no_grant = everything(ClientType::Confidential);
    no_grant.grant_types.retain(|g| g != "implicit");
    let (code, _) = redirected_code(validate(
        &with(&[("response_type", "id_token"), ("nonce", "n")], &[]),
        &no_grant,
    ));
    assert_eq!(code, ErrorCode::UnauthorizedClient);
    // A registration matches whatever the order of its words.
    let mut reordered = client(ClientType::Confidential);
    reordered.grant_types.push("implicit".into());
    reordered.response_types = vec!["token id_token".into()];
    assert!(validate(
        &with(&[("response_type", "id_token token"), ("nonce", "n")], &[]),
        &reordered
    )
    .is_ok());
}

#[test]
fn an_id_token_needs_openid_and_a_nonce() {
    let c = everything(ClientType::Confidential);
    for value in [
        "id_token",
        "id_token token",
        "code id_token",
        "code id_token token",
    ] {
        let (code, response) =
            redirected_code(validate(&with(&[("response_type", value)], &[]), &c));
        assert_eq!(code, ErrorCode::InvalidRequest, "{value} without nonce");
        assert_eq!(response.mode, ResponseMode::Fragment);
        let (code, _) = redirected_code(validate(
            &with(
                &[("response_type", value), ("nonce", "n"), ("scope", "email")],
                &[],
            ),
            &c,
        ));
        assert_eq!(code, ErrorCode::InvalidRequest, "{value} without openid");
    }
    // No ID token from the authorization endpoint: no nonce needed.
    assert!(validate(&with(&[("response_type", "code token")], &[]), &c).is_ok());
    assert!(validate(&with(&[("response_type", "none")], &[]), &c).is_ok());
}

#[test]
fn pkce_only_guards_a_code() {
    let public = everything(ClientType::Public);
    let req = validate(
        &with(&[("response_type", "id_token token"), ("nonce", "n")], &[]),
        &public,
    )
    .unwrap();
    assert_eq!(req.challenge, None);
    let (code, _) = redirected_code(validate(
        &with(&[("response_type", "code id_token"), ("nonce", "n")], &[]),
        &public,
    ));
    assert_eq!(
        code,
        ErrorCode::InvalidRequest,
        "a hybrid code still needs PKCE"
    );
}

#[test]
fn duplicates_after_the_redirect_uri_are_redirected() {
    let c = client(ClientType::Confidential);
    let query = |q: &str| Params::parse_keeping_duplicates(q.as_bytes()).unwrap();
    let base = "client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&state=xyz";
    let (code, response) = redirected_code(validate(&query(&format!("{base}&scope=openid")), &c));
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(response.location().contains("state=xyz"));
    // A repeated state has no value to echo.
    let (_, response) = redirected_code(validate(&query(&format!("{base}&state=xyz")), &c));
    assert!(
        !response.location().contains("state="),
        "{}",
        response.location()
    );
    for name in [
        "client_id=app",
        "redirect_uri=https%3A%2F%2Fapp.example%2Fcb",
    ] {
        assert!(
            matches!(
                validate(&query(&format!("{base}&{name}")), &c),
                Err(AuthorizeError::Page(_))
            ),
            "{name}"
        );
    }
}

#[test]
fn error_descriptions_do_not_echo_input() {
    let c = client(ClientType::Confidential);
    for (name, value) in [
        ("prompt", "bogus\"<x>"),
        ("response_type", "bogus\"<x>"),
        ("scope", "openid bogus<x>"),
    ] {
        let r = validate(&with(&[(name, value)], &[]), &c);
        let Err(AuthorizeError::Redirect { error, .. }) = r else {
            panic!("{name}: {r:?}")
        };
        assert!(
            !error.description.contains("bogus"),
            "{}",
            error.description
        );
    }
}

#[test]
fn acr_values_keep_their_order_and_an_empty_value_is_absent() {
    let c = client(ClientType::Confidential);
    let req = validate(&with(&[("acr_values", "urn:b  urn:a urn:b")], &[]), &c).unwrap();
    assert_eq!(req.acr_values, ["urn:b", "urn:a"]);
    assert_eq!(req.satisfied_acr, None, "never from the request");
    for empty in ["", " "] {
        let req = validate(&with(&[("acr_values", empty)], &[]), &c).unwrap();
        assert!(req.acr_values.is_empty(), "{empty:?}");
    }
    let req = validate(&with(&[], &[]), &c).unwrap();
    assert!(req.acr_values.is_empty());
    let stored = serde_json::to_value(&req).unwrap();
    assert!(stored.get("acr_values").is_none() && stored.get("satisfied_acr").is_none());
}
