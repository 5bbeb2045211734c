//! grant_type=urn:openid:params:grant-type:ciba (CIBA §10.1, §11): the client polls (poll
//! mode) or fetches after a ping (ping mode) with its `auth_req_id`. One read answers a
//! pending request; an approved one is redeemed by one guarded statement, so its tokens are
//! issued once however many polls race. Push clients never poll (CIBA §10.3.1).

use ferriam_protocol::ciba::{self, DeliveryMode, Poll, PollAnswer};
use ferriam_protocol::client::Client;
use ferriam_protocol::jwt_claims::half_hash;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::TokenResponse;
use ferriam_protocol::OAuthError;

use super::{id_token_alg, mint, start_refresh_family, FamilyStart, IdTokenFacts, Mint};
use crate::app::AppState;
use crate::error::AppError;
use crate::store::CibaRequest;
use crate::tokens::opaque;

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    if client.backchannel_token_delivery_mode == Some(DeliveryMode::Push) {
        return Err(OAuthError::unauthorized_client(
            "a push-mode client receives its tokens at its notification endpoint",
        )
        .into());
    }
    let id_hash = opaque::hash(params.require("auth_req_id")?);
    let now = state.now();
    let request = state
        .store
        .ciba_request(&id_hash)
        .await?
        // RFC 6749 §5.2 / CIBA §11: unknown, or issued to another client, is invalid_grant.
        .filter(|r| r.asked.client_id == client.client_id)
        .ok_or_else(|| OAuthError::invalid_grant("unknown auth_req_id"))?;
    let answer = ciba::poll(Poll {
        now,
        expires_at: request.expires_at,
        state: request.state,
        interval: request.interval,
        last_poll_at: state.ciba_polls.polled(&id_hash, now),
    });
    match answer {
        PollAnswer::Issue => {}
        PollAnswer::SlowDown { interval } => {
            if interval > request.interval {
                state.store.slow_ciba_polls(&id_hash, interval).await?;
            }
            return Err(answer_error(answer).into());
        }
        PollAnswer::Pending => return Err(answer_error(answer).into()),
        _ => {
            state.ciba_polls.forget(&id_hash);
            return Err(answer_error(answer).into());
        }
    }
    state.ciba_polls.forget(&id_hash);
    let Some(request) = state.store.redeem_ciba_request(&id_hash, now).await? else {
        // Another poll redeemed it first.
        return Err(OAuthError::invalid_grant("the auth_req_id was already redeemed").into());
    };
    issue(state, client, &request, &opaque::random_token(), None).await
}

/// The tokens of a redeemed request under grant `grant_id`: an access token, an ID token and,
/// with the refresh grant and `offline_access`, a refresh token. For push mode (CIBA §10.3.1)
/// `pushed` is the auth_req_id: the ID token then names it and carries `rt_hash` beside
/// `at_hash`.
pub async fn issue(
    state: &AppState,
    client: &Client,
    request: &CibaRequest,
    grant_id: &str,
    pushed: Option<&str>,
) -> Result<TokenResponse, AppError> {
    let now = state.now();
    let Some(user) = state.store.active_subject(&request.sub, None).await? else {
        return Err(OAuthError::invalid_grant("the user is no longer active").into());
    };
    let scope = Scope::parse(&request.asked.scope)?;
    let auth_time = request.auth_time.unwrap_or(now);
    let sid = request.sid.clone().unwrap_or_default();
    let refresh_token = start_refresh_family(
        state,
        client,
        FamilyStart {
            grant_id,
            sub: &user.sub,
            scope: &scope,
            auth_time,
            amr: &request.amr,
            sid: &sid,
            acr: request.acr.as_deref(),
        },
    )
    .await?;
    let mut extra = serde_json::Map::new();
    if let Some(auth_req_id) = pushed {
        extra.insert(ciba::AUTH_REQ_ID_CLAIM.into(), auth_req_id.into());
        if let Some(token) = &refresh_token {
            let hash = half_hash(id_token_alg(client), token);
            extra.insert(ciba::RT_HASH_CLAIM.into(), hash.into());
        }
    }
    let id_token = IdTokenFacts {
        user: user.claims(),
        auth_time,
        amr: request.amr.clone(),
        sid,
        nonce: None,
        acr: request.acr.clone(),
        extra,
    };
    mint(
        state,
        Mint {
            client,
            sub: user.sub.clone(),
            scope,
            grant_id: Some(grant_id.to_owned()),
            auth_time: Some(auth_time),
            acr: request.acr.clone(),
            id_token: Some(id_token),
            refresh_token,
        },
    )
    .await
}

/// The error of an answer that issues nothing.
fn answer_error(answer: PollAnswer) -> OAuthError {
    answer
        .error()
        .unwrap_or_else(|| OAuthError::invalid_grant("the auth_req_id cannot be redeemed"))
}
