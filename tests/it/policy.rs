//! `ferriam policy explain` with a settings file of `[[mfa.rules]]`: the first rule that holds,
//! for each kind of condition (upstream, client, age, attribute with an address block,
//! acr_values), a rule naming an unregistered upstream that never matches, no match at all;
//! an unknown user and a settings file with a mistake are refused, the latter with its line.

use crate::harness::*;

const RULES: &str = r#"
[[mfa.rules]]
name = "corporate"
when = { idp = "corp" }
require = ["sms"]

[[mfa.rules]]
name = "ghost"
when = { idp = "ghost" }
require = ["totp"]

[[mfa.rules]]
name = "payments"
when = { client = ["payments-app", "billing"] }
require = ["totp"]

[[mfa.rules]]
name = "minors"
when = { age_below = 18 }
any_of = ["email", "sms"]

[[mfa.rules]]
name = "office"
when = { ip_in = ["10.0.0.0/8"], attr = { department = "finance" } }
require = ["email"]

[[mfa.rules]]
name = "step-up"
when = { acr_values = ["urn:ferriam:mfa"] }
any_of = ["totp", "email"]
"#;

async fn explain(server: &TestServer, settings: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--config", settings, "policy", "explain"];
    all.extend_from_slice(args);
    let run = run_ferriam(server, &all, None).await;
    assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
    run.json()
}

async fn create(server: &TestServer, username: &str, extra: &[&str]) {
    let mut args = vec!["user", "create", "--username", username, "--email"];
    let email = format!("{username}@example.com");
    args.push(&email);
    args.extend_from_slice(extra);
    args.push("--password-stdin");
    let run = run_ferriam(server, &args, Some(PASSWORD)).await;
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explains_which_rule_decides() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    let dir = tempfile::tempdir().expect("dir");
    let settings = dir.path().join("ferriam.toml");
    std::fs::write(&settings, RULES).expect("settings");
    let settings = settings.to_str().expect("path");
    let run = run_ferriam(
        &server,
        &[
            "idp",
            "add",
            "--name",
            "corp",
            "--display-name",
            "Corp",
            "--issuer",
            "https://corp.example",
            "--client-id",
            "ferriam",
            "--client-secret-stdin",
        ],
        Some("a-secret"),
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    create(&server, "ann", &["--birthdate", "1990-05-01"]).await;
    create(&server, "kid", &["--birthdate", "2016-05-01"]).await;
    create(&server, "fin", &["--attr", "department=finance"]).await;

    let none = explain(&server, settings, &["--user", "ann"]).await;
    assert_eq!(
        none,
        serde_json::json!({"rule": null, "require": [], "any_of": [], "why": "no rule matched"})
    );
    let corp = explain(&server, settings, &["--user", "ann", "--idp", "corp"]).await;
    assert_eq!(corp["rule"], "corporate");
    assert_eq!(corp["require"], serde_json::json!(["sms"]));
    assert!(
        corp["why"].as_str().unwrap().contains("idp is corp"),
        "{corp}"
    );
    let ghost = explain(&server, settings, &["--user", "ann", "--idp", "ghost"]).await;
    assert_eq!(
        ghost["rule"],
        serde_json::Value::Null,
        "ghost is not registered"
    );
    let local = explain(&server, settings, &["--user", "ann", "--idp", "local"]).await;
    assert_eq!(local["rule"], serde_json::Value::Null);
    let billing = explain(&server, settings, &["--user", "ann", "--client", "billing"]).await;
    assert_eq!(billing["rule"], "payments");
    let first_wins = explain(&server, settings, &["--user", "kid", "--idp", "corp"]).await;
    assert_eq!(first_wins["rule"], "corporate", "first match wins");
    let kid = explain(&server, settings, &["--user", "kid"]).await;
    assert_eq!(kid["rule"], "minors");
    assert_eq!(kid["any_of"], serde_json::json!(["email", "sms"]));
    let office = explain(&server, settings, &["--user", "fin", "--ip", "10.1.2.3"]).await;
    assert_eq!(office["rule"], "office");
    let outside = explain(&server, settings, &["--user", "fin", "--ip", "192.0.2.1"]).await;
    assert_eq!(outside["rule"], serde_json::Value::Null);
    let step_up = explain(
        &server,
        settings,
        &["--user", "ann", "--acr-values", "urn:other urn:ferriam:mfa"],
    )
    .await;
    assert_eq!(step_up["rule"], "step-up");
    assert_eq!(step_up["acr"], "urn:ferriam:mfa");

    run_ferriam(
        &server,
        &[
            "--config", settings, "policy", "explain", "--user", "nobody",
        ],
        None,
    )
    .await
    .assert_refused("no user named nobody");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, RULES.replace("\"sms\"]", "\"pigeon\"]")).expect("settings");
    run_ferriam(
        &server,
        &[
            "--config",
            broken.to_str().unwrap(),
            "policy",
            "explain",
            "--user",
            "ann",
        ],
        None,
    )
    .await
    .assert_refused("line 5");
    server.stop().await;
}
