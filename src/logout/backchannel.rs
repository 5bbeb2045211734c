//! Back-Channel Logout 1.0 delivery: a background task of every node claims due deliveries
//! from the store's queue, signs a logout token for each (§2.4) on the signing workers, POSTs
//! it to the client's `backchannel_logout_uri` as a form (§2.5), and retries server errors and
//! timeouts with exponential back-off up to a bound (§2.8 leaves retries to the OP), after
//! which the delivery is dropped and logged, without its token.

use std::time::Duration;

use ferriam_protocol::client::{Client, SigningAlg};
use ferriam_protocol::logout::{LogoutTokenClaims, LOGOUT_TOKEN_TYP};
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::error::AppError;
use crate::outbound::post::{outcome, Posted};
use crate::store::Delivery;
use crate::tokens::jwt;
use crate::tokens::keys::KeyError;
use crate::tokens::opaque;

/// How long a logout token is valid: it is signed just before it is sent, so two minutes is
/// plenty (§2.4 asks for a short lifetime).
pub const LOGOUT_TOKEN_TTL: i64 = 120;
/// Attempts before a delivery is dropped: the first and five retries, 1 + 2 + 4 + 8 + 16 s apart.
pub const MAX_ATTEMPTS: i64 = 6;
/// How long a claimed delivery stays with the node that claimed it: longer than an attempt
/// can take, so only a node that died leaves it to another.
const LEASE_SECONDS: i64 = 30;
/// How often the queue is polled.
const POLL: Duration = Duration::from_secs(1);
/// The most deliveries claimed per poll.
const BATCH: i64 = 32;

/// Starts the delivery task (beside the purge task).
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let http = match crate::outbound::post::client() {
            Ok(http) => http,
            Err(e) => {
                tracing::error!(error = %e, "back-channel logout is not available");
                return;
            }
        };
        let mut tick = tokio::time::interval(POLL);
        let mut last_purge = 0;
        loop {
            tick.tick().await;
            deliver_due(&state, &http).await;
            let now = state.now();
            if now - last_purge >= state.config.purge_interval.max(1) as i64 {
                last_purge = now;
                if let Err(e) = state.store.purge_session_clients(now, 500).await {
                    tracing::warn!(error = %e, "purge of session clients failed");
                }
            }
        }
    })
}

/// Claims the due deliveries and sends each in a task of its own.
async fn deliver_due(state: &AppState, http: &reqwest::Client) {
    let now = state.now();
    let claimed = match state
        .store
        .claim_deliveries(now, now + LEASE_SECONDS, BATCH)
        .await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the back-channel logout queue");
            return;
        }
    };
    for delivery in claimed {
        let (state, http) = (state.clone(), http.clone());
        tokio::spawn(async move { deliver(&state, &http, delivery).await });
    }
}

/// What one attempt came to.
enum Outcome {
    Delivered,
    /// The client has no back-channel logout URI (or is gone): nothing to send.
    NotWanted,
    /// A server error, timeout or failure on our side: worth another attempt.
    Retry(String),
    /// The client refused it (a 4xx or a redirect): another attempt would not help.
    Refused(String),
}

async fn deliver(state: &AppState, http: &reqwest::Client, d: Delivery) {
    let outcome = attempt(state, http, &d).await;
    let result = match outcome {
        Outcome::Delivered => {
            tracing::debug!(client_id = %d.client_id, "back-channel logout delivered");
            state.store.finish_delivery(&d.id).await
        }
        Outcome::NotWanted => state.store.finish_delivery(&d.id).await,
        Outcome::Retry(reason) if d.attempts < MAX_ATTEMPTS => {
            let next = state.now() + backoff(d.attempts);
            tracing::info!(client_id = %d.client_id, attempts = d.attempts, reason, "back-channel logout will be retried");
            state.store.retry_delivery(&d.id, next).await
        }
        Outcome::Retry(reason) | Outcome::Refused(reason) => {
            tracing::warn!(client_id = %d.client_id, attempts = d.attempts, reason, "back-channel logout dropped");
            state.store.finish_delivery(&d.id).await
        }
    };
    if let Err(e) = result {
        // The lease runs out and the delivery is attempted again.
        tracing::warn!(error = %e, "cannot update the back-channel logout queue");
    }
}

/// Seconds until the next attempt after `attempts` failed ones: 1, 2, 4, 8, 16...
pub(crate) fn backoff(attempts: i64) -> i64 {
    1 << (attempts - 1).clamp(0, 8)
}

async fn attempt(state: &AppState, http: &reqwest::Client, d: &Delivery) -> Outcome {
    let client = match state.client(&d.client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => return Outcome::NotWanted,
        Err(e) => return Outcome::Retry(format!("store: {e}")),
    };
    let Some(uri) = client.client.backchannel_logout_uri.clone() else {
        return Outcome::NotWanted;
    };
    let token = match logout_token(state, &client.client, d).await {
        Ok(token) => token,
        Err(e) => return Outcome::Retry(format!("signing: {e}")),
    };
    let sent = http
        .post(&uri)
        .form(&[("logout_token", token.as_str())])
        .send()
        .await;
    match outcome(sent) {
        Posted::Delivered => Outcome::Delivered,
        Posted::Retry(reason) => Outcome::Retry(reason),
        Posted::Refused(reason) => Outcome::Refused(reason),
    }
}

/// Signs a logout token for `d` with the client's ID-token algorithm, off the runtime.
pub async fn logout_token(
    state: &AppState,
    client: &Client,
    d: &Delivery,
) -> Result<String, AppError> {
    let now = state.now();
    let alg = client.id_token_alg.unwrap_or(SigningAlg::RS256);
    let key = state.keys.signing_key(alg, now).await?;
    let claims = LogoutTokenClaims::new(
        &state.issuer,
        &client.client_id,
        &d.sub,
        &d.sid,
        opaque::random_token(),
        now,
        LOGOUT_TOKEN_TTL,
    );
    let token = state
        .signer
        .run(move |_| jwt::sign(&key, LOGOUT_TOKEN_TYP, &claims))
        .await
        .map_err(|_| KeyError::Crypto)??;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        assert_eq!(
            (1..=5).map(backoff).collect::<Vec<_>>(),
            vec![1, 2, 4, 8, 16]
        );
        assert_eq!(backoff(100), 256);
        assert_eq!(backoff(0), 1);
    }
}
