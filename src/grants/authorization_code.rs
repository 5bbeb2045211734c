//! grant_type=authorization_code (RFC 6749 §4.1.3): redeem the code once, check what it was
//! bound to, mint tokens, and start a refresh-token family when one is due.

use ferriam_protocol::client::Client;
use ferriam_protocol::params::Params;
use ferriam_protocol::scope::Scope;
use ferriam_protocol::token::authorization_code::{check, CodeRequest};
use ferriam_protocol::token::TokenResponse;
use ferriam_protocol::OAuthError;

use super::{family_lifetime, mint, start_refresh_family, FamilyStart, IdTokenFacts, Mint};
use crate::app::AppState;
use crate::error::AppError;
use crate::store::CodeRedemption;
use crate::tokens::opaque;

pub async fn grant(
    state: &AppState,
    client: &Client,
    params: &Params,
) -> Result<TokenResponse, AppError> {
    let req = CodeRequest::parse(params)?;
    let now = state.now();
    let (code, user) = match state
        .store
        .redeem_code(&opaque::hash(&req.code), now)
        .await?
    {
        CodeRedemption::Fresh { code, user } => (code, user),
        CodeRedemption::Replayed { grant_id } => {
            // RFC 6749 §4.1.2: a code used twice revokes every token issued from it.
            let until = now + family_lifetime(state, client);
            state.store.revoke_grant(&grant_id, until).await?;
            return Err(
                OAuthError::invalid_grant("the authorization code has already been used")
                    .with_detail(format!("code replay, grant {grant_id} revoked"))
                    .into(),
            );
        }
        CodeRedemption::Unknown => {
            return Err(OAuthError::invalid_grant("unknown authorization code").into())
        }
    };
    check(&code.binding, &req, &client.client_id, now)?;
    let Some(user) = user else {
        return Err(OAuthError::invalid_grant("the user is no longer active").into());
    };
    let scope = Scope::parse(&code.scope)?;
    let openid = scope.contains("openid");
    let refresh_token = start_refresh_family(
        state,
        client,
        FamilyStart {
            grant_id: &code.grant_id,
            sub: &user.sub,
            scope: &scope,
            auth_time: code.auth_time,
            amr: &code.amr,
            sid: &code.sid,
            acr: code.acr.as_deref(),
        },
    )
    .await?;
    let id_token = openid.then(|| IdTokenFacts {
        user: user.claims(),
        auth_time: code.auth_time,
        amr: code.amr.clone(),
        sid: code.sid.clone(),
        nonce: code.nonce.clone(),
        acr: code.acr.clone(),
        extra: Default::default(),
    });
    mint(
        state,
        Mint {
            client,
            sub: user.sub.clone(),
            scope,
            grant_id: Some(code.grant_id.clone()),
            auth_time: Some(code.auth_time),
            acr: code.acr.clone(),
            id_token,
            refresh_token,
        },
    )
    .await
}
