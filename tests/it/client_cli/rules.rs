//! The registration rules `client create` enforces, as the binary reports them: application
//! types and their redirect URIs, origins, logout URIs, and key-based authentication methods.

use super::client_cmd;
use crate::harness::*;
use crate::on_both_databases;

on_both_databases!(
    registration_rules_on_the_command_line,
    registration_rules_on_the_command_line_on
);

async fn registration_rules_on_the_command_line_on(server: &TestServer) {
    let base = ["create", "--name", "A", "--type", "public"];
    let run = |extra: &'static [&'static str]| {
        let args: Vec<&str> = [&base[..], extra].concat();
        async move { client_cmd(server, &args, None).await }
    };
    run(&["--redirect-uri", "com.example.app:/cb"])
        .await
        .assert_refused("native");
    let native = run(&[
        "--application-type",
        "native",
        "--redirect-uri",
        "com.example.app:/cb",
        "--redirect-uri",
        "http://127.0.0.1/cb",
    ])
    .await;
    assert_eq!(native.code, 0, "{}", native.stderr);
    let id = native.json()["client_id"].as_str().unwrap().to_owned();
    let stored = server
        .store
        .client(&id)
        .await
        .unwrap()
        .expect("stored")
        .client;
    assert_eq!(
        stored.application_type,
        ferriam_protocol::client::ApplicationType::Native
    );
    run(&["--redirect-uri", "http://localhost/cb"])
        .await
        .assert_refused("loopback");
    run(&[
        "--redirect-uri",
        "https://app.example/cb",
        "--allowed-origin",
        "https://spa.example/",
    ])
    .await
    .assert_refused("origin");
    run(&[
        "--redirect-uri",
        "https://app.example/cb",
        "--backchannel-logout-uri",
        "http://app.example/bc",
    ])
    .await
    .assert_refused("--backchannel-logout-uri");
    run(&[
        "--redirect-uri",
        "https://app.example/cb",
        "--token-endpoint-auth-method",
        "private_key_jwt",
    ])
    .await
    .assert_refused("public client");
    assert_eq!(run(&["--bogus"]).await.code, 2, "usage error");

    // Key-based methods for confidential clients, with the keys they need.
    let dir = tempfile::tempdir().expect("dir");
    let private = dir.path().join("private.json");
    std::fs::write(
        &private,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","d":"AA"}]}"#,
    )
    .unwrap();
    let public = dir.path().join("public.json");
    std::fs::write(
        &public,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"k1"}]}"#,
    )
    .unwrap();
    let conf = [
        "create",
        "--name",
        "K",
        "--type",
        "confidential",
        "--redirect-uri",
        "https://app.example/cb",
        "--token-endpoint-auth-method",
        "private_key_jwt",
    ];
    let with = |extra: Vec<&str>| {
        let args: Vec<String> = conf
            .iter()
            .map(|s| s.to_string())
            .chain(extra.into_iter().map(str::to_owned))
            .collect();
        async move {
            client_cmd(
                server,
                &args.iter().map(String::as_str).collect::<Vec<_>>(),
                None,
            )
            .await
        }
    };
    with(vec![])
        .await
        .assert_refused("--jwks-uri or --jwks-file");
    with(vec!["--jwks-file", private.to_str().unwrap()])
        .await
        .assert_refused("private member d");
    let keyed = with(vec!["--jwks-file", public.to_str().unwrap()]).await;
    assert_eq!(keyed.code, 0, "{}", keyed.stderr);
    let id = keyed.json()["client_id"].as_str().unwrap().to_owned();
    let stored = server
        .store
        .client(&id)
        .await
        .unwrap()
        .expect("stored")
        .client;
    assert_eq!(stored.jwks.as_ref().unwrap()["keys"][0]["kid"], "k1");
    assert_eq!(
        stored.token_endpoint_auth_method,
        ferriam_protocol::client::AuthMethod::PrivateKeyJwt
    );
}
