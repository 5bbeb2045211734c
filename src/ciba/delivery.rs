//! The work a CIBA request queues, done off the request path by a background task of
//! whichever node claims it first (a claim is a lease, so a node that dies mid-job leaves it to
//! another):
//!
//! - reaching the user: the approval link by email and, with a verified phone, by SMS, queued
//!   with the request itself (one statement);
//! - notifying the client (CIBA §10.2, §10.3), queued with the decision: its endpoint is called
//!   with `Authorization: Bearer <client_notification_token>`, in ping mode with
//!   `{"auth_req_id": ...}` (the client then fetches the result at `/token`), in push mode with
//!   the token response itself, or the error, and the `auth_req_id`.
//!
//! Failures that may pass (server errors, timeouts, failed connections, a mail server or SMS
//! gateway that does not answer) are retried with back-off (`logout::backchannel::backoff`); a
//! 4xx or a redirect is not. A push mints its tokens under a grant of its own attempt and
//! revokes the grant of the attempt before, so however many attempts it takes, the tokens of
//! only one are valid, and none when the push is given up.

use std::time::Duration;

use ferriam_protocol::ciba::{DeliveryMode, RequestState};
use ferriam_protocol::client::Client;
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::backchannel::auth_req_id;
use crate::app::AppState;
use crate::error::AppError;
use crate::grants;
use crate::logout::backchannel::backoff;
use crate::notify::ApprovalMessage;
use crate::outbound::post::{outcome, Posted};
use crate::store::{CibaJob, CibaRequest};
use crate::tokens::opaque;

/// Attempts before a job is given up: the first and five retries.
const MAX_ATTEMPTS: i64 = 6;
/// How long a claimed job stays with its node: longer than an attempt can take.
const LEASE_SECONDS: i64 = 30;
/// How often the queue is read.
const POLL: Duration = Duration::from_millis(500);
/// The most jobs of each kind claimed per read.
const BATCH: i64 = 32;

/// Starts the delivery task.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let http = match crate::outbound::post::client() {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "CIBA ping and push delivery are not available");
                return;
            }
        };
        let mut tick = tokio::time::interval(POLL);
        loop {
            tick.tick().await;
            for job in [CibaJob::ReachUser, CibaJob::NotifyClient] {
                let now = state.now();
                let claimed = match state
                    .store
                    .claim_ciba_jobs(job, now, now + LEASE_SECONDS, BATCH)
                    .await
                {
                    Ok(claimed) => claimed,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the CIBA job queue");
                        continue;
                    }
                };
                for (request, attempts) in claimed {
                    let (state, http) = (state.clone(), http.clone());
                    tokio::spawn(
                        async move { deliver(&state, &http, job, request, attempts).await },
                    );
                }
            }
        }
    })
}

/// What one attempt came to.
enum Outcome {
    Sent,
    /// Nothing to send (the client or user is gone, no endpoint, no token, nowhere to write).
    Nothing,
    Retry(String),
    Refused(String),
}

async fn deliver(
    state: &AppState,
    http: &reqwest::Client,
    job: CibaJob,
    request: CibaRequest,
    attempts: i64,
) {
    let client_id = request.asked.client_id.clone();
    let outcome = match job {
        CibaJob::ReachUser => reach_user(state, &request).await,
        CibaJob::NotifyClient => attempt(state, http, &request, attempts).await,
    };
    let store = &state.store;
    let id = &request.request_id;
    let result = match outcome {
        Outcome::Sent => {
            tracing::debug!(client_id = %client_id, ?job, "CIBA job done");
            store.finish_ciba_job(job, id).await
        }
        Outcome::Nothing => store.finish_ciba_job(job, id).await,
        Outcome::Retry(reason) if attempts < MAX_ATTEMPTS => {
            tracing::info!(client_id = %client_id, ?job, attempts, reason, "CIBA job will be retried");
            let at = state.now() + backoff(attempts);
            store.retry_ciba_job(job, id, at).await
        }
        Outcome::Retry(reason) | Outcome::Refused(reason) => {
            tracing::warn!(client_id = %client_id, ?job, attempts, reason, "CIBA job dropped");
            // Pushed tokens that never arrived must not stay valid.
            let voided = match (job, request.asked.mode) {
                (CibaJob::NotifyClient, DeliveryMode::Push) => {
                    void_attempt(state, &request, attempts).await
                }
                _ => Ok(()),
            };
            match voided {
                Ok(()) => store.finish_ciba_job(job, id).await,
                Err(e) => Err(e),
            }
        }
    };
    if let Err(e) = result {
        // The lease runs out and the job is attempted again.
        tracing::warn!(error = %e, "cannot update the CIBA job queue");
    }
}

/// Sends the user the approval link: by email, and by SMS when the phone is verified. A
/// channel that fails has the whole job retried (the user may get a message twice rather
/// than none).
async fn reach_user(state: &AppState, request: &CibaRequest) -> Outcome {
    if request.state != RequestState::Pending || request.expires_at <= state.now() {
        return Outcome::Nothing;
    }
    let user = match state.store.user_by_sub(&request.sub).await {
        Ok(Some(user)) => user,
        Ok(None) => return Outcome::Nothing,
        Err(e) => return Outcome::Retry(format!("store: {e}")),
    };
    let client_name = match state.client_name(&request.asked.client_id).await {
        Ok(name) => name,
        Err(e) => return Outcome::Retry(format!("store: {e}")),
    };
    let link = format!("{}/device/requests/{}", state.issuer, request.request_id);
    let message = ApprovalMessage {
        client_name: &client_name,
        binding_message: request.asked.binding_message.as_deref(),
        link: &link,
        minutes: ((request.expires_at - request.asked.created_at).max(60) / 60) as u64,
    };
    let profile = &user.profile;
    let phone = profile
        .phone_number
        .as_deref()
        .filter(|_| profile.phone_number_verified);
    if profile.email.is_none() && phone.is_none() {
        tracing::warn!(sub = %user.sub, "a CIBA request for a user without email or verified phone");
        return Outcome::Nothing;
    }
    if let Some(address) = &profile.email {
        if let Err(e) = state
            .notifier
            .email_approval(&state.pages, address, &message)
            .await
        {
            return Outcome::Retry(format!("email: {e}"));
        }
    }
    if let Some(phone) = phone {
        if let Err(e) = state.notifier.sms_approval(phone, &message).await {
            return Outcome::Retry(format!("sms: {e}"));
        }
    }
    Outcome::Sent
}

async fn attempt(
    state: &AppState,
    http: &reqwest::Client,
    request: &CibaRequest,
    attempts: i64,
) -> Outcome {
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
    let auth_req_id = auth_req_id(state, &request.request_id);
    let body = match request.asked.mode {
        DeliveryMode::Push => {
            match push_body(state, &client.client, request, attempts, &auth_req_id).await {
                Ok(Some(body)) => body,
                Ok(None) => return Outcome::Nothing,
                Err(e) => return Outcome::Retry(format!("tokens: {e}")),
            }
        }
        _ => json!({ "auth_req_id": auth_req_id }),
    };
    let sent = http
        .post(endpoint)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await;
    match outcome(sent) {
        Posted::Delivered => Outcome::Sent,
        Posted::Retry(reason) => Outcome::Retry(reason),
        Posted::Refused(reason) => Outcome::Refused(reason),
    }
}

/// The grant the tokens of push attempt `attempt` belong to.
fn push_grant(state: &AppState, request_id: &str, attempt: i64) -> String {
    opaque::derive(
        &state.refresh_key,
        &format!("ciba-push-grant:{request_id}:{attempt}"),
    )
}

/// Revokes the grant of push attempt `attempt`: its refresh token, and its access tokens at
/// `/userinfo` and `/introspect`.
async fn void_attempt(
    state: &AppState,
    request: &CibaRequest,
    attempt: i64,
) -> Result<(), crate::store::StoreError> {
    let until = state.now() + state.config.refresh_token_absolute_ttl as i64;
    state
        .store
        .revoke_grant(&push_grant(state, &request.request_id, attempt), until)
        .await
}

/// The push payload (CIBA §10.3.1): the token response with the `auth_req_id`, or the error;
/// `None` when there is nothing to push yet.
async fn push_body(
    state: &AppState,
    client: &Client,
    request: &CibaRequest,
    attempts: i64,
    auth_req_id: &str,
) -> Result<Option<Value>, AppError> {
    let error = |code: &str, description: &str| json!({ "auth_req_id": auth_req_id, "error": code, "error_description": description });
    match request.state {
        RequestState::Pending => Ok(None),
        RequestState::Denied => Ok(Some(error("access_denied", "the user denied the request"))),
        RequestState::Approved | RequestState::Redeemed => {
            // The first attempt redeems the request; a later one finds it redeemed.
            if request.state == RequestState::Approved
                && state
                    .store
                    .redeem_ciba_request(&opaque::hash(auth_req_id), state.now())
                    .await?
                    .is_none()
            {
                return Ok(Some(error(
                    "expired_token",
                    "the request expired before its tokens could be sent",
                )));
            }
            if attempts > 1 {
                void_attempt(state, request, attempts - 1).await?;
            }
            let grant_id = push_grant(state, &request.request_id, attempts);
            let tokens =
                grants::ciba::issue(state, client, request, &grant_id, Some(auth_req_id)).await?;
            let mut body = serde_json::to_value(tokens)
                .map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
            body["auth_req_id"] = auth_req_id.into();
            Ok(Some(body))
        }
    }
}
