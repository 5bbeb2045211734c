//! Ping mode (CIBA §10.2): once the user has decided, the client's notification endpoint gets
//! `POST {"auth_req_id": ...}` with `Authorization: Bearer <client_notification_token>`, and
//! the client then fetches the result at `/token`. The notification is queued in the store
//! with the decision (one statement), so it is sent off the request path by a background task
//! of whichever node claims it first; a claim is a lease, so a node that dies mid-send leaves
//! it to another. Server errors, timeouts and failed connections are retried with back-off
//! (`logout::backchannel::backoff`); a 4xx or a redirect is not.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use super::backchannel::auth_req_id;
use crate::app::AppState;
use crate::logout::backchannel::backoff;
use crate::store::CibaRequest;

/// Attempts before a notification is given up: the first and five retries.
const MAX_ATTEMPTS: i64 = 6;
/// How long one POST may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a claimed notification stays with its node: longer than an attempt can take.
const LEASE_SECONDS: i64 = 30;
/// How often the queue is read.
const POLL: Duration = Duration::from_millis(500);
/// The most notifications claimed per read.
const BATCH: i64 = 32;

/// Starts the notification task.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        // Redirects are not followed: the ping goes to the registered endpoint or nowhere.
        let http = match reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
        {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "CIBA ping notifications are not available");
                return;
            }
        };
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            let now = state.now();
            let claimed = match state
                .store
                .claim_ciba_notifications(now, now + LEASE_SECONDS, BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the CIBA notification queue");
                    continue;
                }
            };
            for (request, attempts) in claimed {
                let (state, http) = (state.clone(), http.clone());
                tokio::spawn(async move { deliver(&state, &http, request, attempts).await });
            }
        }
    })
}

/// What one attempt came to.
enum Outcome {
    Sent,
    /// Nothing to send (the client is gone or has no endpoint, no token was given).
    Nothing,
    Retry(String),
    Refused(String),
}

async fn deliver(state: &AppState, http: &reqwest::Client, request: CibaRequest, attempts: i64) {
    let client_id = request.asked.client_id.clone();
    let result = match attempt(state, http, &request).await {
        Outcome::Sent => {
            tracing::debug!(client_id = %client_id, "CIBA ping sent");
            state
                .store
                .finish_ciba_notification(&request.request_id)
                .await
        }
        Outcome::Nothing => {
            state
                .store
                .finish_ciba_notification(&request.request_id)
                .await
        }
        Outcome::Retry(reason) if attempts < MAX_ATTEMPTS => {
            tracing::info!(client_id = %client_id, attempts, reason, "CIBA ping will be retried");
            let at = state.now() + backoff(attempts);
            state
                .store
                .retry_ciba_notification(&request.request_id, at)
                .await
        }
        Outcome::Retry(reason) | Outcome::Refused(reason) => {
            tracing::warn!(client_id = %client_id, attempts, reason, "CIBA ping dropped");
            state
                .store
                .finish_ciba_notification(&request.request_id)
                .await
        }
    };
    if let Err(e) = result {
        // The lease runs out and the notification is attempted again.
        tracing::warn!(error = %e, "cannot update the CIBA notification queue");
    }
}

async fn attempt(state: &AppState, http: &reqwest::Client, request: &CibaRequest) -> Outcome {
    let client = match state.client(&request.asked.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::Nothing,
        Err(e) => return Outcome::Retry(format!("store: {e}")),
    };
    let (Some(endpoint), Some(token)) = (
        client
            .client
            .backchannel_client_notification_endpoint
            .as_deref(),
        request.asked.notification_token.as_deref(),
    ) else {
        return Outcome::Nothing;
    };
    let body = json!({ "auth_req_id": auth_req_id(state, &request.request_id) });
    match http
        .post(endpoint)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => Outcome::Sent,
        Ok(r) if r.status().is_server_error() => Outcome::Retry(format!("HTTP {}", r.status())),
        Ok(r) => Outcome::Refused(format!("HTTP {}", r.status())),
        Err(e) if e.is_timeout() => Outcome::Retry("timeout".to_owned()),
        Err(e) if e.is_builder() => Outcome::Refused("the endpoint cannot be used".to_owned()),
        Err(_) => Outcome::Retry("connection failed".to_owned()),
    }
}
