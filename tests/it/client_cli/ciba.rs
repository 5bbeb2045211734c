//! Registering CIBA clients (CIBA Core §4) with `client create` / `client update`: the delivery
//! mode, the notification endpoint and the user-code flag are stored and shown under their
//! registration metadata names; the rules refuse what cannot work.

use super::client_cmd;
use crate::harness::*;

const CIBA: &str = "urn:openid:params:grant-type:ciba";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciba_clients_are_registered_with_their_mode() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let created = client_cmd(
        &server,
        &[
            "create",
            "--name",
            "Kiosk",
            "--type",
            "confidential",
            "--grant-type",
            CIBA,
            "--ciba-mode",
            "ping",
            "--ciba-notification-endpoint",
            "http://127.0.0.1:9/ciba",
            "--ciba-user-code",
        ],
        None,
    )
    .await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["client_id"].as_str().expect("id").to_owned();
    let shown = client_cmd(&server, &["show", &id], None).await.json();
    assert_eq!(shown["grant_types"], serde_json::json!([CIBA]));
    assert_eq!(shown["backchannel_token_delivery_mode"], "ping");
    assert_eq!(
        shown["backchannel_client_notification_endpoint"],
        "http://127.0.0.1:9/ciba"
    );
    assert_eq!(shown["backchannel_user_code_parameter"], true);

    // Poll needs no endpoint: switching mode means withdrawing it is refused as unused.
    let refused = client_cmd(&server, &["update", &id, "--ciba-mode", "poll"], None).await;
    refused.assert_refused("ping and push only");
    let updated = client_cmd(&server, &["update", &id, "--ciba-user-code", "false"], None).await;
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let shown = client_cmd(&server, &["show", &id], None).await.json();
    assert!(
        shown.get("backchannel_user_code_parameter").is_none(),
        "{shown}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ciba_registrations_that_cannot_work_are_refused() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let create = |extra: &'static [&'static str]| {
        let server = &server;
        async move {
            let args: Vec<&str> = [&["create", "--name", "Kiosk"][..], extra].concat();
            let typed = args.contains(&"--type");
            let args: Vec<&str> = match typed {
                true => args,
                false => [&args[..], &["--type", "confidential"]].concat(),
            };
            client_cmd(server, &args, None).await
        }
    };
    create(&["--grant-type", CIBA])
        .await
        .assert_refused("--ciba-mode");
    create(&["--grant-type", CIBA, "--ciba-mode", "push"])
        .await
        .assert_refused("needs --ciba-notification-endpoint");
    let unknown = create(&["--grant-type", CIBA, "--ciba-mode", "sometimes"]).await;
    assert_eq!(unknown.code, 2, "a usage error: {}", unknown.stderr);
    assert!(
        unknown.stderr.contains("poll, ping, push"),
        "{}",
        unknown.stderr
    );
    create(&[
        "--grant-type",
        CIBA,
        "--ciba-mode",
        "poll",
        "--type",
        "public",
    ])
    .await
    .assert_refused("public client cannot use CIBA");
    create(&["--grant-type", "client_credentials", "--ciba-mode", "poll"])
        .await
        .assert_refused(CIBA);
    // Behind an https issuer, notifications go over https only.
    let behind_tls = run_ferriam_with(
        &server,
        &[
            "client",
            "create",
            "--name",
            "Kiosk",
            "--type",
            "confidential",
            "--grant-type",
            CIBA,
            "--ciba-mode",
            "ping",
            "--ciba-notification-endpoint",
            "http://127.0.0.1:9/ciba",
        ],
        None,
        &[("FERRIAM_ISSUER", "https://id.example.com")],
    )
    .await;
    behind_tls.assert_refused("must be https");
    assert_eq!(
        client_cmd(&server, &["list"], None).await.json(),
        serde_json::json!([]),
        "nothing refused was stored"
    );
    server.stop().await;
}
