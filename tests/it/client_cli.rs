//! `ferriam client create` and `client update`, run as the built binary against a running
//! server's database: chosen ids and imported secrets (refused when taken, colliding with a
//! user's `sub`, or too short), the validation both commands share, and an update picked up
//! by the running server within a second.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::*;
use crate::on_both_databases;

mod ciba;
mod rules;

/// Runs `ferriam client ARGS` against the server's database.
pub(crate) async fn client_cmd(server: &TestServer, args: &[&str], stdin: Option<&str>) -> Run {
    let args: Vec<&str> = [&["client"][..], args].concat();
    run_ferriam(server, &args, stdin).await
}

async fn client_credentials(server: &TestServer, id: &str, secret: &str) -> Reply {
    Reply::read(
        http()
            .post(server.url("/token"))
            .header("authorization", basic(id, secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .expect("token request"),
    )
    .await
}

const SERVICE: [&str; 7] = [
    "create",
    "--name",
    "Imported",
    "--type",
    "confidential",
    "--grant-type",
    "client_credentials",
];

on_both_databases!(
    chosen_ids_and_imported_secrets,
    chosen_ids_and_imported_secrets_on
);

async fn chosen_ids_and_imported_secrets_on(server: &TestServer) {
    let secret = "an-imported-secret-of-forty-characters!!";
    assert_eq!(secret.len(), 40);
    let args: Vec<&str> = [
        &SERVICE[..],
        &["--client-id", "legacy-service", "--client-secret-stdin"],
    ]
    .concat();
    let created = client_cmd(server, &args, Some(&format!("{secret}\n"))).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let out = created.json();
    assert_eq!(out["client_id"], "legacy-service");
    assert!(
        out.get("client_secret").is_none(),
        "an imported secret is not printed: {out}"
    );
    assert!(!created.stdout.contains(secret));
    let stored = server
        .store
        .client("legacy-service")
        .await
        .unwrap()
        .expect("stored");
    assert_ne!(stored.secret_hash.as_deref(), Some(secret), "stored hashed");
    let reply = client_credentials(server, "legacy-service", secret).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        jwt_part(&reply.str("access_token"), 1)["sub"],
        "legacy-service"
    );
    client_credentials(
        server,
        "legacy-service",
        "an-imported-secret-of-forty-characters!?",
    )
    .await
    .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");

    // The same id again.
    client_cmd(server, &args, Some(&format!("{secret}\n")))
        .await
        .assert_refused("already exists");

    // A user's subject identifier (RFC 9700 §4.15.1).
    let sub = server.create_user("ada").await;
    let taken: Vec<&str> = [&SERVICE[..], &["--client-id", &sub]].concat();
    client_cmd(server, &taken, None)
        .await
        .assert_refused("subject");
    assert!(server.store.client(&sub).await.unwrap().is_none());

    // Ids outside the allowed characters or length.
    let long = "x".repeat(129);
    for bad in ["has space", long.as_str()] {
        let bad_id: Vec<&str> = [&SERVICE[..], &["--client-id", bad]].concat();
        client_cmd(server, &bad_id, None)
            .await
            .assert_refused("client id");
    }

    // A secret too short to be imported; nothing is stored.
    let short: Vec<&str> = [
        &SERVICE[..],
        &["--client-id", "short-secret", "--client-secret-stdin"],
    ]
    .concat();
    client_cmd(server, &short, Some("only-31-characters-long-secret!\n"))
        .await
        .assert_refused("32");
    assert!(server.store.client("short-secret").await.unwrap().is_none());

    // A public client has no secret to import.
    client_cmd(
        server,
        &[
            "create",
            "--name",
            "P",
            "--type",
            "public",
            "--redirect-uri",
            "https://app.example/cb",
            "--client-secret-stdin",
        ],
        Some(&format!("{secret}\n")),
    )
    .await
    .assert_refused("public client");

    // A generated secret is printed once, as before.
    let generated = client_cmd(
        server,
        &[
            "create",
            "--name",
            "G",
            "--type",
            "confidential",
            "--grant-type",
            "client_credentials",
        ],
        None,
    )
    .await;
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let out = generated.json();
    let reply = client_credentials(
        server,
        out["client_id"].as_str().unwrap(),
        out["client_secret"].as_str().expect("secret"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

on_both_databases!(
    updates_reach_the_running_server,
    updates_reach_the_running_server_on
);

async fn updates_reach_the_running_server_on(server: &TestServer) {
    let created = client_cmd(server, &SERVICE, None).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let out = created.json();
    let (id, secret) = (
        out["client_id"].as_str().unwrap().to_owned(),
        out["client_secret"].as_str().unwrap().to_owned(),
    );
    let first = client_credentials(server, &id, &secret).await;
    assert_eq!(
        first.body["expires_in"], 600,
        "cached with the server default"
    );

    let updated = client_cmd(
        server,
        &[
            "update",
            &id,
            "--access-token-ttl",
            "77",
            "--allowed-origin",
            "https://spa.example",
            "--name",
            "Renamed",
        ],
        None,
    )
    .await;
    assert_eq!(updated.code, 0, "{}", updated.stderr);
    let shown = updated.json();
    assert_eq!(shown["access_token_ttl"], 77);
    assert_eq!(shown["name"], "Renamed");
    assert_eq!(
        shown["allowed_origins"],
        serde_json::json!(["https://spa.example"])
    );
    assert_eq!(
        shown["grant_types"],
        serde_json::json!(["client_credentials"]),
        "unchanged fields stay"
    );
    // Picked up by the running server (its cached copy dropped) within a second or so.
    let start = Instant::now();
    loop {
        let reply = client_credentials(server, &id, &secret).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "the secret is unchanged: {}",
            reply.body
        );
        if reply.body["expires_in"] == 77 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "update not picked up within 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed();
    assert!(took < Duration::from_millis(2500), "took {took:?}");

    // The new origin is allowed for CORS, by the same pickup.
    let preflight = |origin: &'static str| async move {
        http()
            .request(reqwest::Method::OPTIONS, server.url("/token"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .expect("preflight")
            .status()
    };
    assert_eq!(
        preflight("https://spa.example").await,
        StatusCode::NO_CONTENT
    );
    // A second update replaces the list: the old origin stops working within a second.
    let again = client_cmd(
        server,
        &["update", &id, "--allowed-origin", "https://other.example"],
        None,
    )
    .await;
    assert_eq!(again.code, 0, "{}", again.stderr);
    let start = Instant::now();
    while preflight("https://spa.example").await != StatusCode::FORBIDDEN {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "old origin still allowed after 3 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        preflight("https://other.example").await,
        StatusCode::NO_CONTENT
    );

    // Refused updates change nothing.
    client_cmd(
        server,
        &[
            "update",
            &id,
            "--allowed-origin",
            "https://spa.example/path",
        ],
        None,
    )
    .await
    .assert_refused("origin");
    client_cmd(
        server,
        &["update", &id, "--redirect-uri", "javascript:alert(1)"],
        None,
    )
    .await
    .assert_refused("javascript");
    client_cmd(server, &["update", "no-such-client", "--name", "x"], None)
        .await
        .assert_refused("no client");
    let stored = server
        .store
        .client(&id)
        .await
        .unwrap()
        .expect("stored")
        .client;
    assert_eq!(
        stored.allowed_origins,
        vec!["https://other.example".to_owned()]
    );
    assert_eq!(stored.name, "Renamed");
}

on_both_databases!(
    switching_to_client_secret_jwt_needs_a_new_secret,
    switching_to_client_secret_jwt_needs_a_new_secret_on
);

/// Only a hash of a generated secret is kept, but HMAC assertions need the secret itself:
/// `client update` to client_secret_jwt is refused unless a new secret comes with it.
async fn switching_to_client_secret_jwt_needs_a_new_secret_on(server: &TestServer) {
    let created = client_cmd(server, &SERVICE, None).await;
    assert_eq!(created.code, 0, "{}", created.stderr);
    let id = created.json()["client_id"].as_str().unwrap().to_owned();
    let switch = [
        "update",
        &id,
        "--token-endpoint-auth-method",
        "client_secret_jwt",
    ];
    client_cmd(server, &switch, None)
        .await
        .assert_refused("--client-secret-stdin");
    let unchanged = server.store.client(&id).await.unwrap().expect("stored");
    assert_eq!(
        unchanged.client.token_endpoint_auth_method.as_str(),
        "client_secret_basic"
    );
    assert!(unchanged.sealed_secret.is_none());

    let with_secret: Vec<&str> = switch
        .iter()
        .copied()
        .chain(["--client-secret-stdin"])
        .collect();
    let secret = "a-new-secret-of-at-least-32-characters";
    let switched = client_cmd(server, &with_secret, Some(&format!("{secret}\n"))).await;
    assert_eq!(switched.code, 0, "{}", switched.stderr);
    let stored = server.store.client(&id).await.unwrap().expect("stored");
    assert_eq!(
        stored.client.token_endpoint_auth_method.as_str(),
        "client_secret_jwt"
    );
    assert!(
        stored.sealed_secret.is_some(),
        "the new secret is kept for HMAC"
    );
}
