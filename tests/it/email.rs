//! One-time codes by email through a real SMTP conversation with a small SMTP server the test
//! starts on loopback (EHLO, AUTH PLAIN, MAIL, RCPT, DATA): the message reaches the right
//! address from the configured sender, with a text and an HTML part that both hold the code,
//! credentials from the URL are presented, an overriding template is used; settings that
//! cannot work are refused at start, and a server that refuses the recipient is an error.

use std::sync::{Arc, Mutex};

use ferriam::config::{Config, EmailConfig};
use ferriam::notify::{CodeMessage, Notifier, NotifyError};
use ferriam::pages::Pages;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// What the SMTP server received: the envelope, the credentials and the data of each message.
#[derive(Default, Debug)]
pub struct Received {
    pub mail_from: Vec<String>,
    pub rcpt_to: Vec<String>,
    pub auth: Vec<String>,
    pub data: Vec<String>,
}

/// An SMTP server on 127.0.0.1 that accepts everything, except recipients at `refused.example`.
pub async fn smtp_server() -> (u16, Arc<Mutex<Received>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let received: Arc<Mutex<Received>> = Arc::default();
    let store = received.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-sink.test\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("HELO")
                        || upper.starts_with("RSET")
                        || upper.starts_with("NOOP")
                    {
                        b"250 OK\r\n"
                    } else if let Some(credentials) = line.strip_prefix("AUTH PLAIN ") {
                        store.lock().unwrap().auth.push(credentials.to_owned());
                        b"235 2.7.0 Authentication successful\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        store.lock().unwrap().mail_from.push(line[10..].to_owned());
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        if line.contains("refused.example") {
                            b"550 5.1.1 No such user\r\n"
                        } else {
                            store.lock().unwrap().rcpt_to.push(line[8..].to_owned());
                            b"250 OK\r\n"
                        }
                    } else if upper == "DATA" {
                        let _ = write
                            .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                            .await;
                        let mut data = String::new();
                        while let Ok(Some(line)) = lines.next_line().await {
                            if line == "." {
                                break;
                            }
                            data.push_str(&line);
                            data.push('\n');
                        }
                        store.lock().unwrap().data.push(data);
                        b"250 OK: queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = write.write_all(b"221 Bye\r\n").await;
                        break;
                    } else {
                        b"502 Command not implemented\r\n"
                    };
                    if write.write_all(reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (port, received)
}

/// The code in the last message the server received for `client_name` (the template's
/// sentence "... for CLIENT is CODE"), quoted-printable soft line breaks joined.
pub fn last_code(received: &Arc<Mutex<Received>>, client_name: &str) -> String {
    let data = received
        .lock()
        .unwrap()
        .data
        .last()
        .cloned()
        .expect("an email");
    let text = unfolded(&data);
    let marker = format!("{client_name} is ");
    let start = text.find(&marker).expect("the code sentence") + marker.len();
    text[start..start + 6].to_owned()
}

fn settings(smtp_url: &str) -> Config {
    Config {
        email: Some(EmailConfig {
            smtp_url: smtp_url.to_owned(),
            from: "Ferriam <no-reply@example.com>".into(),
        }),
        ..Config::default()
    }
}

fn message() -> CodeMessage<'static> {
    CodeMessage {
        code: "394817",
        client_name: "Payroll",
        minutes: 5,
    }
}

/// The text of the `n`th message the server received (from 1), quoted-printable soft line
/// breaks joined, once it has arrived (messages sent off the request path come a little
/// later than the answer).
pub async fn nth_message(received: &Arc<Mutex<Received>>, n: usize) -> String {
    for _ in 0..100 {
        if let Some(data) = received.lock().unwrap().data.get(n - 1) {
            return unfolded(data);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("message {n} never arrived");
}

/// A message's data with quoted-printable soft line breaks joined, for searching.
fn unfolded(data: &str) -> String {
    data.replace("=\n", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_the_code_over_smtp() {
    let (port, received) = smtp_server().await;
    let notifier = Notifier::new(&settings(&format!(
        "smtp://relay-user:relay-pass@127.0.0.1:{port}"
    )))
    .expect("settings accepted");
    notifier
        .email_code(&Pages::new(None), "ann@corp.example", &message())
        .await
        .expect("sent");

    let received = received.lock().unwrap();
    assert_eq!(received.mail_from, ["<no-reply@example.com>"]);
    assert_eq!(received.rcpt_to, ["<ann@corp.example>"]);
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD
        .decode(&received.auth[0])
        .expect("base64");
    assert_eq!(auth, b"\0relay-user\0relay-pass", "AUTH PLAIN from the URL");
    let data = unfolded(&received.data[0]);
    assert!(
        data.contains("From: Ferriam <no-reply@example.com>"),
        "{data}"
    );
    assert!(data.contains("To: ann@corp.example"), "{data}");
    assert!(
        data.contains("Subject: Your sign-in code for Payroll"),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(data.contains("text/plain"), "{data}");
    assert!(data.contains("text/html"), "{data}");
    assert_eq!(
        data.matches("394817").count(),
        2,
        "the code in both parts: {data}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_template_replaces_the_text_part() {
    let (port, received) = smtp_server().await;
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("email_code.txt"),
        "ACME sign-in: {{ code }} (for {{ client_name }})\n",
    )
    .expect("template");
    let notifier = Notifier::new(&settings(&format!("smtp://127.0.0.1:{port}"))).expect("settings");
    notifier
        .email_code(
            &Pages::new(Some(dir.path().to_owned())),
            "ann@corp.example",
            &message(),
        )
        .await
        .expect("sent");
    let data = unfolded(&received.lock().unwrap().data[0]);
    assert!(
        data.contains("ACME sign-in: 394817 (for Payroll)"),
        "{data}"
    );
    assert!(
        received.lock().unwrap().auth.is_empty(),
        "no credentials, no AUTH"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_recipient_is_an_error() {
    let (port, received) = smtp_server().await;
    let notifier = Notifier::new(&settings(&format!("smtp://127.0.0.1:{port}"))).expect("settings");
    let result = notifier
        .email_code(&Pages::new(None), "bob@refused.example", &message())
        .await;
    assert!(matches!(result, Err(NotifyError::Email(_))), "{result:?}");
    assert!(received.lock().unwrap().data.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_cannot_work_are_refused() {
    for (url, from, reason) in [
        (
            "smtp://user:pass@mail.example.com:587",
            "a@example.com",
            "credentials without TLS",
        ),
        ("not a url", "a@example.com", "not a URL"),
        ("smtp://127.0.0.1:2525", "not an address", "from"),
    ] {
        let mut config = settings(url);
        if let Some(email) = config.email.as_mut() {
            email.from = from.to_owned();
        }
        let error = Notifier::new(&config).err().expect(url).to_string();
        assert!(error.contains(reason), "{url}: {error}");
    }
    for fine in [
        "smtps://user:pass@mail.example.com",
        "smtp://user:pass@mail.example.com:587?tls=required",
        "smtp://user:pass@127.0.0.1:2525",
    ] {
        assert!(Notifier::new(&settings(fine)).is_ok(), "{fine}");
    }
}
