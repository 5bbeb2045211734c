//! `ferriam user totp | factors | reset-factor`: a verified email and phone are factors, an
//! unverified phone is not; a TOTP secret is enrolled, printed once with its otpauth URI, stored
//! sealed under the master key, and produces the codes RFC 6238 says; reset removes it.

use ferriam_protocol::mfa::totp;

use crate::harness::*;

const MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

async fn ferriam(server: &TestServer, args: &[&str]) -> Run {
    run_ferriam_with(server, args, None, &[("FERRIAM_MASTER_KEY", MASTER_KEY)]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrols_lists_and_resets_factors() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    for (name, phone_verified) in [("ann", true), ("bob", false)] {
        let mut args = vec![
            "user",
            "create",
            "--username",
            name,
            "--email",
            "x@example.com",
            "--email-verified",
            "--phone",
            "+15550100",
            "--password-stdin",
        ];
        if phone_verified {
            args.push("--phone-verified");
        }
        let run = run_ferriam(&server, &args, Some(PASSWORD)).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    let kinds = |run: Run| -> Vec<String> {
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.json()
            .as_array()
            .expect("an array")
            .iter()
            .map(|f| f["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        kinds(ferriam(&server, &["user", "factors", "ann"]).await),
        ["email", "sms"]
    );
    assert_eq!(
        kinds(ferriam(&server, &["user", "factors", "bob"]).await),
        ["email"],
        "an unverified phone is no factor"
    );

    let enrolled = ferriam(&server, &["user", "totp", "ann"]).await;
    assert_eq!(enrolled.code, 0, "{}", enrolled.stderr);
    let enrolled = enrolled.json();
    let secret_text = enrolled["secret"].as_str().expect("secret");
    let secret = totp::base32_decode(secret_text).expect("base32");
    assert_eq!(secret.len(), totp::SECRET_LEN);
    let uri = enrolled["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/127.0.0.1"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_text}")), "{uri}");
    assert_eq!(
        kinds(ferriam(&server, &["user", "factors", "ann"]).await),
        ["email", "sms", "totp"]
    );

    let sub = server
        .store
        .user_by_username("ann")
        .await
        .unwrap()
        .expect("ann")
        .sub;
    let stored = server.store.totp(&sub).await.unwrap().expect("enrolled");
    assert!(
        stored.secret.starts_with("enc:v1:") && !stored.secret.contains(secret_text),
        "sealed: {}",
        stored.secret
    );
    use base64::Engine;
    let master: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(MASTER_KEY)
        .unwrap()
        .try_into()
        .unwrap();
    let opened =
        ferriam::tokens::sealing::open(&stored.secret, &format!("totp:{sub}"), Some(&master))
            .unwrap()
            .expect("opens");
    assert_eq!(opened, secret, "the printed secret is the stored one");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let step = totp::step_at(now).expect("a step");
    assert_eq!(
        totp::verify(&secret, &totp::code_at(&secret, step), now, None),
        Some(step)
    );

    let reset = ferriam(&server, &["user", "reset-factor", "ann", "totp"]).await;
    assert_eq!(reset.code, 0, "{}", reset.stderr);
    assert_eq!(
        kinds(ferriam(&server, &["user", "factors", "ann"]).await),
        ["email", "sms"]
    );
    ferriam(&server, &["user", "reset-factor", "ann", "totp"])
        .await
        .assert_refused("has no totp factor");
    ferriam(&server, &["user", "reset-factor", "ann", "email"])
        .await
        .assert_refused("nothing enrolled to reset");
    let unknown = ferriam(&server, &["user", "reset-factor", "ann", "pigeon"]).await;
    assert_eq!(unknown.code, 1, "{}", unknown.stderr);
    ferriam(&server, &["user", "totp", "nobody"])
        .await
        .assert_refused("nobody");
    server.stop().await;
}
