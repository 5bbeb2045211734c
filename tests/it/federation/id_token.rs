//! Validating an upstream's ID token: one issued by a second, real Ferriam through its own
//! pages, and hand-made ones from a misbehaving upstream written here (its own keys, its own
//! discovery document, `fake`): an unpublished key, alg none, HMAC, wrong iss, wrong or extra
//! aud, wrong or missing nonce, expired, issued in the future; and a rotated key picked up.

use ferriam::federation::discovery::Discovery;
use ferriam::federation::http::Outbound;
use ferriam::federation::id_token::verify;
use ferriam::outbound::Policy;
use ferriam::store::Upstream;
use ferriam::tokens::jwt;

use super::fake::{bad_tokens, claims, key, now, Fake};
use crate::harness::*;
use crate::on_both_databases;

fn upstream(issuer: &str, client_id: &str) -> Upstream {
    Upstream {
        name: "corp".into(),
        display_name: "Corp".into(),
        issuer: issuer.into(),
        client_id: client_id.into(),
        client_secret: String::new(),
        scopes: vec![],
        domains: vec![],
        claims: Default::default(),
        created_at: 1,
    }
}

on_both_databases!(
    accepts_a_real_upstreams_token,
    accepts_a_real_upstreams_token_on
);

async fn accepts_a_real_upstreams_token_on(server: &TestServer) {
    let sub = server.create_user("ann").await;
    let client = server.create_client(|_| {}).await;
    let browser = Browser::new();
    let challenge = challenge();
    let code = server
        .code(
            &browser,
            &client.id,
            "ann",
            &[
                ("scope", "openid profile email"),
                ("nonce", "nonce-4711"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    let reply = server.exchange(&client, &code, Some(VERIFIER)).await;
    let id_token = reply.str("id_token");
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let corp = upstream(&server.issuer, &client.id);
    let verified = verify(&discovery, &http, &corp, &id_token, "nonce-4711", now())
        .await
        .expect("a real upstream's token is valid");
    assert_eq!(verified.claims.subject, sub);
    assert_eq!(verified.claims.preferred_username.as_deref(), Some("ann"));
    assert_eq!(verified.claims.email.as_deref(), Some("ann@example.com"));
    assert_eq!(verified.claims.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(verified.amr, ["pwd"]);
    assert!(
        verify(&discovery, &http, &corp, &id_token, "other-nonce", now())
            .await
            .is_err(),
        "another sign-in's nonce"
    );
    let other_client = upstream(&server.issuer, "another-client");
    assert!(
        verify(
            &discovery,
            &http,
            &other_client,
            &id_token,
            "nonce-4711",
            now()
        )
        .await
        .is_err(),
        "issued to another client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_misbehaving_upstreams_tokens() {
    let fake = Fake::start(false).await;
    let published = key();
    fake.publish(&published);
    let corp = upstream(&fake.issuer, "ferriam");
    let (discovery, http) = (
        Discovery::default(),
        Outbound::new(Policy::for_issuer("http://127.0.0.1:8080")),
    );
    let check = |token: String| {
        let (discovery, http, corp) = (&discovery, &http, &corp);
        async move { verify(discovery, http, corp, &token, "n-1", now()).await }
    };

    let good = jwt::sign(&published, "JWT", &claims(&fake.issuer, "n-1", |_| {})).unwrap();
    let verified = check(good).await.expect("the well-made token passes");
    assert_eq!(verified.claims.subject, "upstream-user-1");
    assert_eq!(verified.amr, ["pwd", "otp"]);

    let bad = bad_tokens(&fake.issuer, &published, "n-1");
    for (what, token) in bad {
        let reason = match what {
            "an unpublished key" => "no matching key",
            "alg none" => "No signature found",
            "HMAC with the client secret" => "Disallowed signature algorithm",
            "another issuer" => "Invalid issuer",
            "another audience" => "must contain `ferriam`",
            "an untrusted extra audience" => "not a trusted audience",
            "a wrong nonce" => "nonce mismatch",
            "no nonce" => "missing nonce",
            "an expired token" => "expired",
            "a token issued in the future" => "iat lies in the future",
            _ => "not a JWT",
        };
        match check(token).await {
            Ok(_) => panic!("{what} was accepted"),
            Err(e) => assert!(e.to_string().contains(reason), "{what}: {e}"),
        }
    }

    // The upstream rotates: a token signed by a key published after the set was cached.
    let rotated = key();
    fake.publish(&rotated);
    let after = jwt::sign(&rotated, "JWT", &claims(&fake.issuer, "n-1", |_| {})).unwrap();
    assert!(
        check(after).await.is_ok(),
        "the new key is fetched once the token names it"
    );
}
