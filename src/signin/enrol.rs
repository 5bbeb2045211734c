//! Enrolling an authenticator app (TOTP, RFC 6238) by the user: on the account page
//! (`/account`) and during a sign-in whose rule asks for a factor the account lacks.
//!
//! The new secret is shown as text, as its `otpauth://` URI and as a QR code (SVG, drawn on
//! the server so the page needs no JavaScript), and it counts only once the user has entered
//! one code from it. Until then it lives in the form itself, bound by an HMAC under the
//! server key to the user, to what is enrolling it (the session or the sign-in) and to an
//! expiry, so nothing is stored for an enrolment that is abandoned and a form cannot be
//! replayed into another account or another sign-in. The caller checks the precondition
//! (DESIGN.md, "TOTP"): a factor already proved in this sign-in.

use axum::http::StatusCode;
use axum::response::Response;
use ferriam_protocol::mfa::totp;
use qrcode::render::svg;
use qrcode::QrCode;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::error::AppError;
use crate::store::{AuditKind, StoreError, User};
use crate::tokens::{opaque, sealing};

/// How long an offered secret can be confirmed.
const OFFER_TTL: i64 = 600;

/// A secret offered for enrolment, as the form carries it.
pub struct Offer {
    /// Base32, as authenticator apps take it by hand.
    pub secret: String,
    pub expires_at: i64,
    /// The HMAC binding the three above to the user and to `binding`.
    pub mac: String,
}

/// What a submitted confirmation turned out to be.
pub enum Confirmation {
    /// The code matched: the secret is enrolled (replacing any earlier one).
    Enrolled,
    /// The code did not match; the same offer may be tried again.
    WrongCode,
    /// The form was altered, belongs to something else, or is too old: start again.
    Invalid,
}

/// The label authenticator apps show beside the account: the host people know the server by.
pub fn issuer_label(issuer: &str) -> String {
    url::Url::parse(issuer)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "Ferriam".to_owned())
}

/// What a TOTP secret is sealed to at rest (the AEAD's associated data): its user, so a
/// sealed secret copied to another user's row does not open.
pub fn totp_binding(sub: &str) -> String {
    format!("totp:{sub}")
}

fn offer_mac(state: &AppState, sub: &str, binding: &str, secret: &str, expires_at: i64) -> String {
    opaque::derive(
        &state.refresh_key,
        &format!("totp-offer:{sub}:{binding}:{expires_at}:{secret}"),
    )
}

/// A fresh secret for `user`, bound to `binding` (a session id or an interaction id).
pub fn offer(state: &AppState, user: &User, binding: &str) -> Offer {
    let secret = totp::base32_encode(&opaque::random_bytes::<{ totp::SECRET_LEN }>());
    let expires_at = state.now() + OFFER_TTL;
    let mac = offer_mac(state, &user.sub, binding, &secret, expires_at);
    Offer {
        secret,
        expires_at,
        mac,
    }
}

/// Where a set-up form posts, and what it carries besides the offer.
pub struct SetupForm<'a> {
    pub action: &'a str,
    pub csrf: String,
    /// The sign-in the form belongs to, during a sign-in.
    pub interaction: Option<&'a str>,
    /// Where "Cancel" leads, if anywhere.
    pub cancel: Option<&'a str>,
}

/// The set-up page of `offer`: the QR code, the key in groups of four, the `otpauth://` link
/// and the form for the first code.
pub fn page(
    state: &AppState,
    user: &User,
    offer: &Offer,
    form: SetupForm<'_>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let bytes = totp::base32_decode(&offer.secret).unwrap_or_default();
    let uri = totp::otpauth_uri(&issuer_label(&state.issuer), &user.username, &bytes);
    // Groups of four, as the key is typed.
    let spaced = offer
        .secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    state.pages.render(
        status,
        "totp_enrol.html",
        minijinja::context! {
            secret => offer.secret,
            secret_spaced => spaced,
            expires_at => offer.expires_at,
            mac => offer.mac,
            otpauth_uri => &uri,
            qr_svg => minijinja::Value::from_safe_string(qr_svg(&uri)),
            action => form.action,
            csrf => form.csrf,
            interaction => form.interaction,
            cancel => form.cancel,
            error,
        },
        None,
    )
}

/// The QR code of `text` as an inline SVG element (empty if the text is too long for one).
fn qr_svg(text: &str) -> String {
    let Ok(code) = QrCode::new(text.as_bytes()) else {
        return String::new();
    };
    let image = code
        .render::<svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    // An inline element needs no XML declaration.
    match image.find("<svg") {
        Some(start) => image[start..].to_owned(),
        None => image,
    }
}

/// Checks a submitted offer and its first code; enrols the secret when both are right, and
/// records the enrolment in the audit trail.
pub async fn confirm(
    state: &AppState,
    user: &User,
    binding: &str,
    submitted: &Offer,
    code: &str,
    client_id: Option<&str>,
) -> Result<Confirmation, AppError> {
    let now = state.now();
    let expected = offer_mac(
        state,
        &user.sub,
        binding,
        &submitted.secret,
        submitted.expires_at,
    );
    let genuine = bool::from(expected.as_bytes().ct_eq(submitted.mac.as_bytes()));
    let secret = totp::base32_decode(&submitted.secret)
        .filter(|s| s.len() == totp::SECRET_LEN && genuine && submitted.expires_at > now);
    let Some(secret) = secret else {
        return Ok(Confirmation::Invalid);
    };
    let Some(step) = totp::verify(&secret, code.trim(), now, None) else {
        return Ok(Confirmation::WrongCode);
    };
    let master = sealing::master_key_from_env()
        .map_err(|e| AppError::Store(StoreError::Corrupt(e.to_string())))?;
    let sealed = sealing::seal(&secret, &totp_binding(&user.sub), master.as_ref());
    state.store.set_totp(&user.sub, &sealed, now).await?;
    // The code that confirmed the secret is spent: it cannot also prove a sign-in.
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    state.store.use_totp_step(&user.sub, step).await?;
    let mut event = crate::audit::event(AuditKind::Enrol, true, now);
    event.sub = Some(user.sub.clone());
    event.client_id = client_id.map(str::to_owned);
    event.factors = vec!["totp".to_owned()];
    event.reason = Some("authenticator app enrolled".to_owned());
    crate::audit::record(state.store.as_ref(), event).await?;
    Ok(Confirmation::Enrolled)
}

/// Reads an offer back from a submitted form's `secret`, `expires_at` and `mac` fields.
pub fn submitted_offer(params: &ferriam_protocol::params::Params) -> Offer {
    Offer {
        secret: params.get("secret").unwrap_or("").to_owned(),
        expires_at: params
            .get("expires_at")
            .and_then(|e| e.parse().ok())
            .unwrap_or(0),
        mac: params.get("mac").unwrap_or("").to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_inline_svg_element() {
        let svg = qr_svg("otpauth://totp/example.com:ada?secret=JBSWY3DPEHPK3PXP");
        assert!(svg.starts_with("<svg"), "{}", &svg[..svg.len().min(60)]);
        assert!(svg.contains("</svg>"));
    }

    #[test]
    fn the_label_is_the_issuer_host() {
        assert_eq!(
            issuer_label("https://id.example.com/tenant"),
            "id.example.com"
        );
        assert_eq!(issuer_label("not a url"), "Ferriam");
    }
}
