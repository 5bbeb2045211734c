//! The second factors of a sign-in, as its policy rule asks (`crate::mfa`): the choice page
//! for an `any_of` rule (`/signin/factor`), and the code page (`/signin/code`) for an email
//! or SMS code (sent here, kept as an HMAC in the store) or a TOTP code.
//!
//! Codes: 6 digits from the OS CSPRNG, valid `otp_ttl` seconds, single use, at most
//! `otp_max_attempts` tries per code and `otp_max_sends` codes per factor and sign-in, all
//! counted by one statement each in the store so the limits hold across nodes; compared in
//! constant time. The session starts only when every factor is proved
//! (`completion::start_session`).

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use ferriam_protocol::mfa::{amr, totp, Factor};
use subtle::ConstantTimeEq;

use super::{completion, limits};
use crate::app::AppState;
use crate::error::AppError;
use crate::notify::CodeMessage;
use crate::store::{Attempt, AuditKind, Interaction, NewCode, PendingFactors, StoreError, User};
use crate::tokens::{opaque, sealing};

/// The name a factor has on the pages.
pub fn label(factor: Factor) -> &'static str {
    match factor {
        Factor::Email => "Email",
        Factor::Sms => "SMS",
        Factor::Totp => "Authenticator app",
    }
}

/// Whether `user` has `factor`: a verified address, a verified phone, an enrolled secret.
async fn has(state: &AppState, user: &User, factor: Factor) -> Result<bool, AppError> {
    let p = &user.profile;
    Ok(match factor {
        Factor::Email => p.email.is_some() && p.email_verified,
        Factor::Sms => p.phone_number.is_some() && p.phone_number_verified,
        Factor::Totp => state.store.totp(&user.sub).await?.is_some(),
    })
}

/// Starts asking for the factors of `pending`: refuses when the user lacks a required email
/// or SMS factor (the verified address and phone are the operator's to set) or has none of an
/// `any_of` list. A missing authenticator app is set up during the sign-in, after another
/// factor of this sign-in is proved (DESIGN.md, "TOTP"): a password alone never enrols one.
pub async fn begin(
    state: &AppState,
    id: &str,
    mut interaction: Interaction,
    mut pending: PendingFactors,
    user: &User,
) -> Result<Response, AppError> {
    let mut missing_totp = false;
    for factor in pending.remaining.clone() {
        if factor == Factor::Totp && !has(state, user, factor).await? {
            missing_totp = true;
        } else if !has(state, user, factor).await? {
            let reason = format!(
                "the rule asks for {}, which the account lacks",
                factor.as_str()
            );
            audit(state, &interaction, &pending, None, false, &reason).await?;
            return Ok(state.pages.error(
                StatusCode::FORBIDDEN,
                "access_denied",
                &format!(
                    "This sign-in needs a code by {}, which is not set up for your account. Please ask your administrator.",
                    label(factor)
                ),
            ));
        }
    }
    if missing_totp {
        let mut proof = pending
            .remaining
            .iter()
            .copied()
            .find(|f| *f != Factor::Totp);
        for other in [Factor::Email, Factor::Sms] {
            if proof.is_none() && has(state, user, other).await? {
                proof = Some(other);
            }
        }
        let Some(proof) = proof else {
            let reason = "the rule asks for totp, which the account lacks, and no other factor can confirm its enrolment";
            audit(state, &interaction, &pending, None, false, reason).await?;
            return Ok(state.pages.error(
                StatusCode::FORBIDDEN,
                "access_denied",
                "This sign-in needs an authenticator app, which is not set up for your account, and there is no email address or phone number to confirm it's you before setting one up. Please ask your administrator.",
            ));
        };
        // The proof first, the enrolment last.
        pending
            .remaining
            .retain(|f| *f != Factor::Totp && *f != proof);
        pending.remaining.insert(0, proof);
        pending.remaining.push(Factor::Totp);
    }
    let mut usable = Vec::new();
    for factor in std::mem::take(&mut pending.choices) {
        if has(state, user, factor).await? {
            usable.push(factor);
        }
    }
    if pending.remaining.is_empty() {
        match usable.len() {
            0 => {
                audit(
                    state,
                    &interaction,
                    &pending,
                    None,
                    false,
                    "none of the rule's factors is set up",
                )
                .await?;
                return Ok(state.pages.error(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "This sign-in needs a second factor, and none is set up for your account. Please ask your administrator.",
                ));
            }
            1 => pending.remaining = usable,
            _ => pending.choices = usable,
        }
    }
    interaction.pending = Some(pending);
    next(state, id, interaction).await
}

/// Shows what the sign-in needs now: the choice, or the code page for the next factor
/// (sending its code first).
pub(super) async fn next(
    state: &AppState,
    id: &str,
    interaction: Interaction,
) -> Result<Response, AppError> {
    let Some(pending) = &interaction.pending else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    if !pending.choices.is_empty() {
        save(state, id, &interaction).await?;
        return Ok(super::see_other(&format!(
            "/signin/factor?interaction={id}"
        )));
    }
    let Some(&factor) = pending.remaining.first() else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    save(state, id, &interaction).await?;
    if factor == Factor::Totp && state.store.totp(&pending.sub).await?.is_none() {
        return Ok(super::see_other(&format!("/signin/enrol?interaction={id}")));
    }
    if let Some(page) = send(state, id, &interaction, factor).await? {
        return Ok(page);
    }
    Ok(super::see_other(&format!("/signin/code?interaction={id}")))
}

pub(super) async fn save(
    state: &AppState,
    id: &str,
    interaction: &Interaction,
) -> Result<(), AppError> {
    Ok(state
        .store
        .save_interaction(&opaque::hash(id), interaction)
        .await?)
}

/// The store key of the code challenge of `factor` in interaction `id`.
fn challenge(id: &str, factor: Factor) -> String {
    opaque::hash(&format!("otp:{id}:{}", factor.as_str()))
}

/// The stored form of a code: its HMAC under the server key, bound to its challenge.
fn code_mac(state: &AppState, challenge: &str, code: &str) -> String {
    opaque::derive(&state.refresh_key, &format!("otp:{challenge}:{code}"))
}

/// Sends a new code for `factor` (for TOTP, opens the attempt counter); a page when the send
/// limit is reached or the channel fails.
async fn send(
    state: &AppState,
    id: &str,
    interaction: &Interaction,
    factor: Factor,
) -> Result<Option<Response>, AppError> {
    let now = state.now();
    let key = challenge(id, factor);
    let expires_at = now + state.config.otp_ttl as i64;
    let max_sends = i64::from(state.config.otp_max_sends.max(1));
    if factor == Factor::Totp {
        let counter = NewCode {
            code_mac: String::new(),
            factor: factor.as_str().into(),
            expires_at: interaction.expires_at,
        };
        // Once per sign-in: a second call finds the counter in place.
        state.store.send_code(&key, &counter, 1).await?;
        return Ok(None);
    }
    let Some(pending) = &interaction.pending else {
        return Ok(None);
    };
    let Some(user) = state.store.user_by_sub(&pending.sub).await? else {
        return Ok(Some(super::internal_error(
            state,
            AppError::Store(StoreError::Corrupt("the signing-in user is gone".into())),
        )));
    };
    let destination = match factor {
        Factor::Email => user.profile.email.as_deref(),
        _ => user.profile.phone_number.as_deref(),
    }
    .unwrap_or_default();
    // The address's and the destination's limits, before anything is sent (SMS pumping).
    let step = limits::Step::send(
        &interaction.request.client_id,
        &pending.sub,
        factor,
        destination,
    );
    if let Some(block) = step.blocked(state).await? {
        return Ok(Some(block.page(state)));
    }
    let code = amr::code_from_random(opaque::random_bytes::<8>());
    let stored = NewCode {
        code_mac: code_mac(state, &key, &code),
        factor: factor.as_str().into(),
        expires_at,
    };
    if !state.store.send_code(&key, &stored, max_sends).await? {
        audit(
            state,
            interaction,
            pending,
            Some(factor),
            false,
            "the resend limit is reached",
        )
        .await?;
        return Ok(Some(state.pages.error(
            StatusCode::TOO_MANY_REQUESTS,
            "temporarily_unavailable",
            "Too many codes were sent for this sign-in. Please go back to the application and start again.",
        )));
    }
    // Counted before it goes: a send that raced past the check into a block is not made.
    if let Some(block) = step.count(state).await? {
        return Ok(Some(block.page(state)));
    }
    let client_name = state.client_name(&interaction.request.client_id).await?;
    let message = CodeMessage {
        code: &code,
        client_name: &client_name,
        minutes: state.config.otp_ttl.div_ceil(60),
    };
    let sent = match factor {
        Factor::Email => {
            state
                .notifier
                .email_code(&state.pages, destination, &message)
                .await
        }
        _ => state.notifier.sms_code(destination, &message).await,
    };
    if let Err(e) = sent {
        tracing::warn!(factor = factor.as_str(), error = %e, "a one-time code could not be sent");
        return Ok(Some(state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The code could not be sent. Please try again in a moment.",
        )));
    }
    Ok(None)
}

/// The code page's context: which factor, where the code went (masked), whether it can be
/// sent again, and an error.
pub async fn code_page(
    state: &AppState,
    id: &str,
    interaction: &Interaction,
    error: Option<&str>,
) -> Result<Response, AppError> {
    let Some(pending) = &interaction.pending else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    let Some(&factor) = pending.remaining.first() else {
        // Nothing chosen yet: the choice comes first.
        let page = if pending.choices.is_empty() {
            "login"
        } else {
            "factor"
        };
        return Ok(super::see_other(&format!(
            "/signin/{page}?interaction={id}"
        )));
    };
    let user = state.store.user_by_sub(&pending.sub).await?;
    let destination = user.as_ref().and_then(|u| match factor {
        Factor::Email => u.profile.email.as_deref().map(mask_email),
        Factor::Sms => u.profile.phone_number.as_deref().map(mask_phone),
        Factor::Totp => None,
    });
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Ok(state.pages.render(
        status,
        "code.html",
        minijinja::context! {
            interaction => id,
            csrf => super::csrf_token(state, id),
            factor => label(factor),
            totp => factor == Factor::Totp,
            destination,
            error,
        },
        None,
    ))
}

/// The choice page of an `any_of` rule.
pub fn factor_page(state: &AppState, id: &str, pending: &PendingFactors) -> Response {
    let choices: Vec<minijinja::Value> = pending
        .choices
        .iter()
        .map(|f| minijinja::context! { value => f.as_str(), label => label(*f) })
        .collect();
    state.pages.render(
        StatusCode::OK,
        "factor.html",
        minijinja::context! {
            interaction => id,
            csrf => super::csrf_token(state, id),
            choices,
        },
        None,
    )
}

/// The user picked one factor of the choice.
pub async fn choose(
    state: &AppState,
    id: &str,
    mut interaction: Interaction,
    choice: Option<&str>,
) -> Result<Response, AppError> {
    let Some(pending) = interaction.pending.as_mut() else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    let chosen = choice.and_then(|c| c.parse::<Factor>().ok());
    match chosen.filter(|f| pending.choices.contains(f)) {
        Some(factor) => {
            pending.choices.clear();
            pending.remaining = vec![factor];
            next(state, id, interaction).await
        }
        None => Ok(factor_page(state, id, pending)),
    }
}

/// A new code for the factor asked now.
pub async fn resend(
    state: &AppState,
    id: &str,
    interaction: Interaction,
) -> Result<Response, AppError> {
    let factor = interaction
        .pending
        .as_ref()
        .and_then(|p| p.remaining.first().copied());
    match factor {
        Some(f @ (Factor::Email | Factor::Sms)) => {
            if let Some(page) = send(state, id, &interaction, f).await? {
                return Ok(page);
            }
            Ok(super::see_other(&format!("/signin/code?interaction={id}")))
        }
        _ => code_page(state, id, &interaction, None).await,
    }
}

/// Checks a code the user entered for the factor asked now.
pub async fn verify(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    mut interaction: Interaction,
    code: &str,
) -> Result<Response, AppError> {
    let Some(pending) = interaction.pending.clone() else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    let Some(&factor) = pending.remaining.first() else {
        return Ok(super::see_other(&format!("/signin/login?interaction={id}")));
    };
    let now = state.now();
    let key = challenge(id, factor);
    let max_attempts = i64::from(state.config.otp_max_attempts.max(1));
    let code = code.trim();
    // The address's and the account's limits, before the code is compared. An address block
    // is its 429 page; an account block answers exactly like a wrong code (the code is not
    // even compared), so it tells a guesser nothing.
    let step = limits::Step::code(&interaction.request.client_id, &pending.sub, factor);
    let blocked = step.blocked(state).await?;
    if let Some(block) = blocked.filter(|b| b.limit == limits::Limit::Address) {
        return Ok(block.page(state));
    }
    let proved = match state.store.attempt_code(&key, now, max_attempts).await? {
        Attempt::NoCode => {
            audit(
                state,
                &interaction,
                &pending,
                Some(factor),
                false,
                "no live code (expired, used or tried too often)",
            )
            .await?;
            let message = if factor == Factor::Totp {
                "Too many wrong codes. Please go back to the application and start again."
            } else {
                "This code has expired or was tried too many times. Send a new code."
            };
            return code_page(state, id, &interaction, Some(message)).await;
        }
        Attempt::Counted { .. } if blocked.is_some() => false,
        Attempt::Counted {
            code_mac: stored, ..
        } => match factor {
            Factor::Totp => totp_matches(state, &pending.sub, code, now).await?,
            _ => {
                let given = code_mac(state, &key, code);
                amr::is_code(code)
                    && bool::from(given.as_bytes().ct_eq(stored.as_bytes()))
                    && state.store.use_code(&key).await?
            }
        },
    };
    if !proved {
        // A blocked account's refusal has its lockout row already; a wrong code is counted.
        if blocked.is_none() {
            audit(
                state,
                &interaction,
                &pending,
                Some(factor),
                false,
                "wrong code",
            )
            .await?;
            let raced = step.count(state).await?;
            if let Some(block) = raced.filter(|b| b.limit == limits::Limit::Address) {
                return Ok(block.page(state));
            }
        }
        return code_page(state, id, &interaction, Some("That code is not right.")).await;
    }
    audit(state, &interaction, &pending, Some(factor), true, "").await?;
    let mut pending = pending;
    pending.remaining.remove(0);
    pending.proved.push(factor);
    if pending.remaining.is_empty() {
        return completion::start_session(state, headers, id, interaction, pending).await;
    }
    interaction.pending = Some(pending);
    next(state, id, interaction).await
}

/// Whether `code` is the user's TOTP code now (a step of drift either way), not used before.
async fn totp_matches(state: &AppState, sub: &str, code: &str, now: i64) -> Result<bool, AppError> {
    let Some(factor) = state.store.totp(sub).await? else {
        return Ok(false);
    };
    let master = sealing::master_key_from_env()
        .map_err(|e| AppError::Store(StoreError::Corrupt(e.to_string())))?;
    let secret = sealing::open(
        &factor.secret,
        &super::enrol::totp_binding(sub),
        master.as_ref(),
    )
    .map_err(|e| AppError::Store(StoreError::Corrupt(e.to_string())))?;
    let Some(secret) = secret else {
        return Ok(false);
    };
    let last = factor.last_used_step.and_then(|s| u64::try_from(s).ok());
    match totp::verify(&secret, code, now, last) {
        Some(step) => Ok(state
            .store
            .use_totp_step(sub, i64::try_from(step).unwrap_or(i64::MAX))
            .await?),
        None => Ok(false),
    }
}

/// An audit row for a factor (or, without one, for the sign-in the policy refused).
pub(super) async fn audit(
    state: &AppState,
    interaction: &Interaction,
    pending: &PendingFactors,
    factor: Option<Factor>,
    ok: bool,
    reason: &str,
) -> Result<(), AppError> {
    let kind = if factor.is_some() {
        AuditKind::Factor
    } else {
        AuditKind::SignIn
    };
    let mut event = crate::audit::event(kind, ok, state.now());
    event.sub = Some(pending.sub.clone());
    event.client_id = Some(interaction.request.client_id.clone());
    event.idp = pending.idp.clone();
    event.rule = pending.rule.clone();
    event.factors = factor.iter().map(|f| f.as_str().to_owned()).collect();
    event.reason = (!reason.is_empty()).then(|| reason.to_owned());
    Ok(crate::audit::record(state.store.as_ref(), event).await?)
}

/// `a***@corp.example`: enough for the user to recognise the address.
fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

/// `•••• 0100`: the last four digits.
fn mask_phone(phone: &str) -> String {
    let digits: Vec<char> = phone.chars().filter(char::is_ascii_digit).collect();
    let tail: String = digits[digits.len().saturating_sub(4)..].iter().collect();
    format!("•••• {tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_masked() {
        assert_eq!(mask_email("ann@corp.example"), "a***@corp.example");
        assert_eq!(mask_email("nonsense"), "***");
        assert_eq!(mask_phone("+1 555 0100"), "•••• 0100");
        assert_eq!(mask_phone("12"), "•••• 12");
    }
}
