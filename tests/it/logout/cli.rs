//! `ferriam user sessions` and `ferriam user logout`: the functions the commands call, and the
//! binary itself on a running server's database.

use super::*;
use crate::on_both_databases;

async fn cli_lists_and_ends_sessions(server: &TestServer) {
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let (one, two) = (Browser::new(), Browser::new());
    server
        .code(&one, &app.id, "ada", &[("scope", "openid")])
        .await;
    server
        .code(&two, &app.id, "ada", &[("scope", "openid")])
        .await;
    let now = server.clock.now();
    let sessions = server.store.user_sessions(&sub, now).await.unwrap();
    let json = ferriam::logout::sessions_json(&sessions);
    let list = json.as_array().expect("an array");
    assert_eq!(list.len(), 2, "{json}");
    for s in list {
        assert_eq!(s["clients"], serde_json::json!([app.id]));
        assert_eq!(s["amr"], serde_json::json!(["pwd"]));
        assert!(s["created_at"].as_i64().unwrap() <= now);
        assert!(s["expires_at"].as_i64().unwrap() > now);
        assert!(s["sid"].as_str().is_some_and(|sid| !sid.is_empty()));
    }
    let config = Config::default();
    let unknown =
        ferriam::logout::end_user_sessions(server.store.as_ref(), &config, &sub, Some("nope"), now)
            .await
            .unwrap();
    assert!(unknown.is_none(), "an unknown sid is refused");
    let first_sid = list[0]["sid"].as_str().unwrap().to_owned();
    let ended = ferriam::logout::end_user_sessions(
        server.store.as_ref(),
        &config,
        &sub,
        Some(&first_sid),
        now,
    )
    .await
    .unwrap()
    .expect("ended");
    assert_eq!(ended.len(), 1);
    // The running server delivers what the command queued.
    let token = receiver.next_token(5).await;
    verify_logout_token(server, &token, &app.id, &sub, &first_sid).await;
    let left = server.store.user_sessions(&sub, now).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_ne!(left[0].sid, first_sid);
    let ended = ferriam::logout::end_user_sessions(server.store.as_ref(), &config, &sub, None, now)
        .await
        .unwrap()
        .expect("ended");
    assert_eq!(ended.len(), 1);
    receiver.next_token(5).await;
    assert_signed_out(&silent(server, &one, &app.id).await);
    assert_signed_out(&silent(server, &two, &app.id).await);
    assert!(server
        .store
        .user_sessions(&sub, now)
        .await
        .unwrap()
        .is_empty());
}

on_both_databases!(cli_sessions, cli_lists_and_ends_sessions);

/// `ferriam user sessions` and `ferriam user logout` as a separate process on the database of
/// a running server, which then sends the back-channel notification the command queued.
async fn the_commands_on_a_running_server(db: Db) {
    let Some(server) = TestServer::start(db).await else {
        return;
    };
    let sub = server.create_user("ada").await;
    let mut receiver = Receiver::start(vec![]).await;
    let uri = receiver.url.clone();
    let app = server
        .create_client(move |c| c.backchannel_logout_uri = Some(uri))
        .await;
    let browser = Browser::new();
    server
        .code(&browser, &app.id, "ada", &[("scope", "openid")])
        .await;

    let run = run_ferriam(&server, &["user", "sessions", "ada"], None).await;
    let (code, out, err) = (run.code, run.stdout, run.stderr);
    assert_eq!(code, 0, "{err}");
    let sessions: serde_json::Value = serde_json::from_str(&out).expect("JSON on stdout");
    assert_eq!(sessions.as_array().map(Vec::len), Some(1), "{out}");
    assert_eq!(sessions[0]["clients"], serde_json::json!([app.id]));
    let sid = sessions[0]["sid"].as_str().expect("sid").to_owned();

    let run = run_ferriam(&server, &["user", "sessions", "nobody"], None).await;
    let (code, _, err) = (run.code, run.stdout, run.stderr);
    assert_eq!(code, 1, "unknown user: {err}");
    let run = run_ferriam(&server, &["user", "logout", "ada", "--sid", "nope"], None).await;
    let (code, _, err) = (run.code, run.stdout, run.stderr);
    assert_eq!(code, 1, "unknown sid: {err}");
    assert_signed_in(&silent(&server, &browser, &app.id).await);

    let run = run_ferriam(&server, &["user", "logout", "ada", "--sid", &sid], None).await;
    let (code, _, err) = (run.code, run.stdout, run.stderr);
    assert_eq!(code, 0, "{err}");
    let token = receiver.next_token(5).await;
    verify_logout_token(&server, &token, &app.id, &sub, &sid).await;
    assert_signed_out(&silent(&server, &browser, &app.id).await);
    let run = run_ferriam(&server, &["user", "sessions", "ada"], None).await;
    let (code, out, _) = (run.code, run.stdout, run.stderr);
    assert_eq!((code, out.trim()), (0, "[]"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_sqlite() {
    the_commands_on_a_running_server(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_commands_postgres() {
    the_commands_on_a_running_server(Db::Postgres).await;
}

/// A session id may begin with `-` (ids are base64url): `user logout --sid` takes it as the
/// value, not as a flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_id_beginning_with_a_dash_is_a_value() {
    let server = TestServer::start(Db::Sqlite).await.expect("server");
    server.create_user("ada").await;
    let run = run_ferriam(&server, &["user", "logout", "ada", "--sid", "-3xYz"], None).await;
    assert_eq!(
        run.code, 1,
        "read as a value, an unknown session: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("no live session -3xYz"),
        "{}",
        run.stderr
    );
    server.stop().await;
}
