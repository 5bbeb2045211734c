//! The backchannel authentication request (CIBA §7): an authenticated CIBA client names a
//! user; Ferriam checks the request, finds the user, stores the request under the hash of a
//! new 256-bit `auth_req_id`, with the job of reaching the user queued in the same row
//! (`delivery`), and answers it (§7.3). A refused request stores nothing.

use ferriam_protocol::ciba::{self, CibaClient, Hint, RequestState};
use ferriam_protocol::client::Client;
use ferriam_protocol::logout::HintClaims;
use ferriam_protocol::params::Params;
use ferriam_protocol::{ErrorCode, OAuthError};
use serde::Serialize;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{CibaAsked, CibaRequest, User};
use crate::tokens::jwt::{self, ID_TOKEN_TYP};
use crate::tokens::opaque;

/// The successful answer (CIBA §7.3).
#[derive(Debug, Serialize)]
pub struct Accepted {
    pub auth_req_id: String,
    pub expires_in: i64,
    /// The least seconds between polls (poll and ping modes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
}

/// Checks and stores a backchannel authentication request from `client`.
pub async fn request(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<Accepted, AppError> {
    let mode = match client.backchannel_token_delivery_mode {
        Some(mode) if client.allows_grant(ciba::GRANT_TYPE) => mode,
        _ => {
            return Err(
                OAuthError::unauthorized_client("this client is not registered for CIBA").into(),
            )
        }
    };
    let rules = CibaClient {
        mode,
        user_code_required: client.backchannel_user_code_parameter,
    };
    let asked = ciba::validate(params, rules)?;
    client.check_scope(&asked.scope)?;
    let user = user_of(state, client, &asked.hint).await?;
    if client.backchannel_user_code_parameter {
        // CIBA §7.1: the code the user set on the account page (argon2id, checked on the
        // hashing threads). A client that does not require one and sends one has it ignored.
        let stored = state.store.user_code(&user.sub).await?;
        let given = asked.user_code.clone().unwrap_or_default();
        if stored.is_none() || !state.passwords.verify(given, stored).await {
            return Err(OAuthError::new(
                ErrorCode::InvalidUserCode,
                "the user_code is not the user's",
            )
            .into());
        }
    }
    let config = &state.config;
    let now = state.now();
    let expires_in = ciba::expires_in(
        asked.requested_expiry,
        config.ciba_expiry as i64,
        config.ciba_max_expiry as i64,
    );
    let interval = config.ciba_interval.max(1) as i64;
    let request_id = opaque::random_token();
    let auth_req_id = auth_req_id(state, &request_id);
    let record = CibaRequest {
        request_id,
        sub: user.sub.clone(),
        asked: CibaAsked {
            client_id: client.client_id.clone(),
            scope: asked.scope.to_string(),
            binding_message: asked.binding_message,
            acr_values: asked.acr_values,
            mode,
            notification_token: asked.client_notification_token,
            created_at: now,
        },
        state: RequestState::Pending,
        interval,
        expires_at: now + expires_in,
        decided_at: None,
        auth_time: None,
        amr: Vec::new(),
        acr: None,
        sid: None,
    };
    state
        .store
        .create_ciba_request(&opaque::hash(&auth_req_id), &record)
        .await?;
    Ok(Accepted {
        auth_req_id,
        expires_in,
        interval: mode.polls_token_endpoint().then_some(interval),
    })
}

/// The auth_req_id of request `request_id`: an HMAC of it under the server key. It is as
/// unguessable as a random one, only its hash is stored, and the notification task can make
/// it again for the ping (CIBA §10.2 sends it to the client) without it ever being kept.
pub fn auth_req_id(state: &AppState, request_id: &str) -> String {
    opaque::derive(
        &state.refresh_key,
        &format!("ciba-auth-req-id:{request_id}"),
    )
}

/// `unknown_user_id` (CIBA §13): the hint names no active user.
fn unknown_user() -> AppError {
    OAuthError::new(
        ErrorCode::UnknownUserId,
        "the hint does not name a known user",
    )
    .into()
}

/// The active user a hint names.
async fn user_of(state: &AppState, client: &Client, hint: &Hint) -> Result<User, AppError> {
    let user = match hint {
        Hint::LoginHint(hint) => match state.store.user_by_username(hint).await? {
            Some(user) => Some(user),
            // An email address or a phone number names a user only when it names one.
            None => match state.store.users_by_contact(hint).await?.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        },
        Hint::IdTokenHint(token) => {
            let claims: HintClaims = jwt::verify(&state.keys.current(), token, ID_TOKEN_TYP)
                .map_err(|e| {
                    OAuthError::invalid_request("the id_token_hint is not valid")
                        .with_detail(e.to_string())
                })?;
            let sub = ciba::hint_subject(&claims, &state.issuer, &client.client_id)?;
            state.store.user_by_sub(sub).await?
        }
        // Not advertised: no login_hint_token format is agreed with any client.
        Hint::LoginHintToken(_) => {
            return Err(OAuthError::invalid_request("login_hint_token is not supported").into())
        }
    };
    user.filter(|u| !u.disabled).ok_or_else(unknown_user)
}
