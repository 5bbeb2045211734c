//! The two cookies of the sign-in pages, both HttpOnly and SameSite=Lax, Secure under https.

use axum::http::{header, HeaderValue};
use axum::response::Response;

/// The single sign-on session (random handle; the store keeps its hash).
pub const SESSION_COOKIE: &str = "ferriam_session";
/// Identifies the browser an interaction belongs to.
pub const BROWSER_COOKIE: &str = "ferriam_browser";

/// Adds a `Set-Cookie` header; `max_age` of `None` makes a browser-session cookie.
pub fn set(response: &mut Response, name: &str, value: &str, max_age: Option<u64>, secure: bool) {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        cookie.push_str("; Secure");
    }
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}
