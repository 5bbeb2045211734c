//! One-time codes by SMS through a real HTTP exchange with a small gateway the test starts on
//! loopback, which records every request and answers the statuses the test sets: a JSON body
//! and a form body (Twilio style) arrive with the exact values whatever the text holds, with
//! the configured method and headers; a 5xx, a timeout and a failed connection are retried, a
//! 4xx and a redirect are not (and the redirect is not followed); settings that cannot work
//! are refused at start.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use ferriam::config::SmsConfig;
use ferriam::notify::sms::SmsGateway;
use ferriam::notify::NotifyError;

/// One request as the gateway received it.
#[derive(Debug, Clone)]
struct Received {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// How the gateway answers: `statuses` one per request in turn (200 once they run out), each
/// after `delay`, with `location` as a `Location` header.
#[derive(Default)]
struct Behaviour {
    statuses: VecDeque<u16>,
    delay: Duration,
    location: Option<String>,
}

#[derive(Clone, Default)]
struct Shared {
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
}

/// An HTTP gateway on 127.0.0.1 that records every request, whatever its path and method.
struct Gateway {
    base: String,
    shared: Shared,
}

impl Gateway {
    async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shared = Shared::default();
        *shared.behaviour.lock().unwrap() = behaviour;
        let app = Router::new().fallback(answer).with_state(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, shared }
    }

    /// A gateway answering `statuses` in turn, at once.
    async fn answering(statuses: &[u16]) -> Self {
        Self::start(Behaviour {
            statuses: statuses.iter().copied().collect(),
            ..Behaviour::default()
        })
        .await
    }

    fn url(&self) -> String {
        format!("{}/send", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }
}

async fn answer(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    shared.received.lock().unwrap().push(Received {
        method,
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, delay, location) = {
        let mut behaviour = shared.behaviour.lock().unwrap();
        let status = behaviour.statuses.pop_front().unwrap_or(200);
        (status, behaviour.delay, behaviour.location.clone())
    };
    tokio::time::sleep(delay).await;
    // A gateway's error text, which the errors must not repeat.
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        "gateway detail: account 42",
    )
        .into_response();
    if let Some(location) = location {
        response
            .headers_mut()
            .insert(header::LOCATION, location.parse().unwrap());
    }
    response
}

/// The `[sms]` table of the contract (JSON body, Bearer key), sending to `url`.
fn json_config(url: &str) -> SmsConfig {
    SmsConfig {
        url: url.to_owned(),
        method: "POST".into(),
        content_type: "application/json".into(),
        body: r#"{"to": "{{ to }}", "text": "{{ text }}"}"#.into(),
        headers: BTreeMap::from([("Authorization".into(), "Bearer gateway-key".into())]),
        timeout_seconds: 5,
        retries: 2,
    }
}

/// A text with everything that could break a body: quotes, a backslash, a newline, markup,
/// form separators and non-ASCII.
const AWKWARD_TEXT: &str =
    "123456 is your \"sign-in\" code \\ for <Ann & Bob's> app\na=b&c=d+e — Zoë ✓ 日本";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_body_holds_the_exact_values_and_the_headers_arrive() {
    let gateway = Gateway::answering(&[]).await;
    let sms = SmsGateway::new(&json_config(&gateway.url())).expect("settings");
    sms.send("+15551234567", AWKWARD_TEXT).await.expect("sent");

    let received = gateway.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/send");
    assert_eq!(request.header("authorization"), "Bearer gateway-key");
    assert_eq!(request.header("content-type"), "application/json");
    let body: serde_json::Value = serde_json::from_str(&request.body).expect("the body is JSON");
    assert_eq!(body["to"], "+15551234567");
    assert_eq!(body["text"], AWKWARD_TEXT);
    assert_eq!(body.as_object().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twilio_style_form_body_decodes_to_the_exact_values() {
    let gateway = Gateway::answering(&[201]).await;
    let config = SmsConfig {
        content_type: "application/x-www-form-urlencoded".into(),
        // A literal `+` in a form means a space: the sender's number is written `%2B`.
        body: "To={{ to }}&From=%2B15550000&Body={{ text }}".into(),
        headers: BTreeMap::from([(
            "Authorization".into(),
            // base64("AC123:auth-token")
            "Basic QUMxMjM6YXV0aC10b2tlbg==".into(),
        )]),
        ..json_config(&format!(
            "{}/2010-04-01/Accounts/AC123/Messages.json",
            gateway.base
        ))
    };
    let sms = SmsGateway::new(&config).expect("settings");
    sms.send("+15551234567", AWKWARD_TEXT).await.expect("sent");

    let received = gateway.received();
    assert_eq!(received.len(), 1);
    let request = &received[0];
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path, "/2010-04-01/Accounts/AC123/Messages.json");
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        request.header("authorization"),
        "Basic QUMxMjM6YXV0aC10b2tlbg=="
    );
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(request.body.as_bytes())
        .into_owned()
        .collect();
    let form: HashMap<String, String> = pairs.iter().cloned().collect();
    assert_eq!(pairs.len(), 3, "{pairs:?}");
    assert_eq!(form["To"], "+15551234567");
    assert_eq!(form["From"], "+15550000");
    assert_eq!(form["Body"], AWKWARD_TEXT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_method_is_case_insensitive_and_put_is_sent() {
    let gateway = Gateway::answering(&[204]).await;
    let config = SmsConfig {
        method: "put".into(),
        ..json_config(&gateway.url())
    };
    SmsGateway::new(&config)
        .expect("settings")
        .send("+15551234567", "123456")
        .await
        .expect("sent");
    let received = gateway.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, Method::PUT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_is_retried_until_it_succeeds() {
    let gateway = Gateway::answering(&[503, 200]).await;
    let sms = SmsGateway::new(&json_config(&gateway.url())).expect("settings");
    sms.send("+15551234567", "123456").await.expect("sent");
    let received = gateway.received();
    assert_eq!(received.len(), 2);
    // The retry is the same request.
    assert_eq!(received[0].body, received[1].body);
    assert_eq!(received[1].header("authorization"), "Bearer gateway-key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_every_time_fails_after_the_retries() {
    let gateway = Gateway::answering(&[500, 500, 500, 200]).await;
    let config = SmsConfig {
        retries: 2,
        ..json_config(&gateway.url())
    };
    let sms = SmsGateway::new(&config).expect("settings");
    let error = sms.send("+15551234567", "123456").await.unwrap_err();
    assert!(matches!(error, NotifyError::SmsFailed(_)), "{error:?}");
    assert_eq!(gateway.received().len(), 3);
    assert!(error.to_string().contains("500"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_4xx_is_refused_at_once_with_the_status_only() {
    let gateway = Gateway::answering(&[400, 200]).await;
    let sms = SmsGateway::new(&json_config(&gateway.url())).expect("settings");
    let error = sms.send("+15551234567", "123456").await.unwrap_err();
    assert!(matches!(error, NotifyError::SmsRefused(_)), "{error:?}");
    assert_eq!(gateway.received().len(), 1);
    let text = error.to_string();
    assert!(text.contains("400"), "{text}");
    for secret in ["gateway detail", "123456", "gateway-key", "127.0.0.1"] {
        assert!(!text.contains(secret), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_does_not_answer_times_out_and_is_retried() {
    let gateway = Gateway::start(Behaviour {
        delay: Duration::from_secs(3),
        ..Behaviour::default()
    })
    .await;
    let config = SmsConfig {
        timeout_seconds: 1,
        retries: 1,
        ..json_config(&gateway.url())
    };
    let sms = SmsGateway::new(&config).expect("settings");
    let started = Instant::now();
    let error = sms.send("+15551234567", "123456").await.unwrap_err();
    let took = started.elapsed();
    assert!(matches!(error, NotifyError::SmsFailed(_)), "{error:?}");
    assert_eq!(gateway.received().len(), 2);
    // Two attempts of 1 s and one pause of 200 ms, never the gateway's 3 s.
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_failure_is_retried_then_fails() {
    // A port nothing listens on any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    drop(listener);
    let config = SmsConfig {
        retries: 1,
        ..json_config(&url)
    };
    let started = Instant::now();
    let error = SmsGateway::new(&config)
        .expect("settings")
        .send("+15551234567", "123456")
        .await
        .unwrap_err();
    assert!(matches!(error, NotifyError::SmsFailed(_)), "{error:?}");
    assert!(error.to_string().contains("2 attempts"), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!error.to_string().contains(&url), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed() {
    let target = Gateway::answering(&[]).await;
    let gateway = Gateway::start(Behaviour {
        statuses: [302, 302, 302].into(),
        location: Some(target.url()),
        ..Behaviour::default()
    })
    .await;
    let sms = SmsGateway::new(&json_config(&gateway.url())).expect("settings");
    let error = sms.send("+15551234567", "123456").await.unwrap_err();
    assert!(
        matches!(
            error,
            NotifyError::SmsRefused(_) | NotifyError::SmsFailed(_)
        ),
        "{error:?}"
    );
    assert_eq!(gateway.received().len(), 1);
    assert!(target.received().is_empty());
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let ok = json_config("http://127.0.0.1:9000/send");
    for (what, config) in [
        (
            "plain http off loopback",
            json_config("http://example.com/send"),
        ),
        (
            "plain http to localhost",
            json_config("http://localhost:9000/send"),
        ),
        ("another scheme", json_config("ftp://example.com/send")),
        ("a relative URL", json_config("/send")),
        (
            "GET",
            SmsConfig {
                method: "GET".into(),
                ..ok.clone()
            },
        ),
        (
            "an unknown content type",
            SmsConfig {
                content_type: "text/plain".into(),
                ..ok.clone()
            },
        ),
        (
            "a body that is not a template",
            SmsConfig {
                body: r#"{"to": "{{ to "#.into(),
                ..ok.clone()
            },
        ),
        (
            "a variable that does not exist",
            SmsConfig {
                body: r#"{"to": "{{ phone }}", "text": "{{ text }}"}"#.into(),
                ..ok.clone()
            },
        ),
        (
            "a JSON body without quotes around a value",
            SmsConfig {
                body: r#"{"to": "{{ to }}", "text": {{ text }}}"#.into(),
                ..ok.clone()
            },
        ),
        (
            "a bad header name",
            SmsConfig {
                headers: BTreeMap::from([("Bad Header:".into(), "x".into())]),
                ..ok.clone()
            },
        ),
        (
            "a bad header value",
            SmsConfig {
                headers: BTreeMap::from([(
                    "Authorization".into(),
                    "Bearer gateway-key\r\nX-Injected: 1".into(),
                )]),
                ..ok.clone()
            },
        ),
        (
            "a Content-Type header",
            SmsConfig {
                headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
                ..ok.clone()
            },
        ),
        (
            "timeout 0",
            SmsConfig {
                timeout_seconds: 0,
                ..ok.clone()
            },
        ),
        (
            "timeout 61",
            SmsConfig {
                timeout_seconds: 61,
                ..ok.clone()
            },
        ),
        (
            "6 retries",
            SmsConfig {
                retries: 6,
                ..ok.clone()
            },
        ),
    ] {
        match SmsGateway::new(&config) {
            Err(NotifyError::SmsSettings(reason)) => {
                assert!(!reason.contains("gateway-key"), "{what}: {reason}");
            }
            Err(other) => panic!("{what}: {other:?}"),
            Ok(_) => panic!("{what}: accepted"),
        }
    }
}

#[test]
fn settings_that_can_work_are_accepted() {
    for config in [
        json_config("http://127.0.0.1:9000/send"),
        json_config("http://[::1]:9000/send"),
        json_config("https://sms.example.com/v1/messages?account=7"),
        SmsConfig {
            method: "Put".into(),
            content_type: "Application/JSON".into(),
            timeout_seconds: 60,
            retries: 0,
            headers: BTreeMap::new(),
            ..json_config("https://sms.example.com/send")
        },
        SmsConfig {
            content_type: "application/x-www-form-urlencoded".into(),
            body: "to={{ to }}&text={{ text }}".into(),
            timeout_seconds: 1,
            ..json_config("https://api.example.com/send")
        },
    ] {
        if let Err(e) = SmsGateway::new(&config) {
            panic!("{}: {e}", config.url);
        }
    }
}
