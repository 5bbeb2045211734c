//! Server-rendered pages (sign-in, consent, errors, form_post): minijinja templates built in,
//! each replaceable by a file of the same name in the configured templates folder, so a company
//! restyles its pages without rebuilding. HTML is escaped automatically.

use std::path::PathBuf;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

const BUILT_IN: [(&str, &str); 17] = [
    (
        "ciba_approval.txt",
        include_str!("../templates/ciba_approval.txt"),
    ),
    (
        "ciba_approval.html",
        include_str!("../templates/ciba_approval.html"),
    ),
    (
        "ciba_request.html",
        include_str!("../templates/ciba_request.html"),
    ),
    (
        "ciba_done.html",
        include_str!("../templates/ciba_done.html"),
    ),
    ("account.html", include_str!("../templates/account.html")),
    (
        "totp_enrol.html",
        include_str!("../templates/totp_enrol.html"),
    ),
    ("code.html", include_str!("../templates/code.html")),
    ("factor.html", include_str!("../templates/factor.html")),
    (
        "email_code.txt",
        include_str!("../templates/email_code.txt"),
    ),
    (
        "email_code.html",
        include_str!("../templates/email_code.html"),
    ),
    ("base.html", include_str!("../templates/base.html")),
    ("login.html", include_str!("../templates/login.html")),
    ("consent.html", include_str!("../templates/consent.html")),
    ("error.html", include_str!("../templates/error.html")),
    (
        "form_post.html",
        include_str!("../templates/form_post.html"),
    ),
    ("logout.html", include_str!("../templates/logout.html")),
    (
        "logged_out.html",
        include_str!("../templates/logged_out.html"),
    ),
];

/// The stylesheet every page links to.
pub const STYLESHEET: &str = include_str!("../static/ferriam.css");

/// Renders pages with the security headers sign-in pages need.
pub struct Pages {
    env: Environment<'static>,
}

impl Pages {
    pub fn new(override_dir: Option<PathBuf>) -> Self {
        let mut env = Environment::new();
        env.set_loader(move |name| {
            if let Some(dir) = &override_dir {
                let path = dir.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(minijinja::ErrorKind::TemplateNotFound, e.to_string())
                    });
                }
            }
            Ok(BUILT_IN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| (*t).to_owned()))
        });
        Self { env }
    }

    /// Renders a template that is not a page (an email's parts) to text.
    pub fn render_text<S: Serialize>(
        &self,
        template: &str,
        context: S,
    ) -> Result<String, minijinja::Error> {
        self.env.get_template(template)?.render(context)
    }

    /// Renders `template` with `context`; `script_nonce` allows one inline script (form_post).
    pub fn render<S: Serialize>(
        &self,
        status: StatusCode,
        template: &str,
        context: S,
        script_nonce: Option<&str>,
    ) -> Response {
        let script_src = match script_nonce {
            Some(nonce) => format!("'nonce-{nonce}'"),
            None => "'none'".to_owned(),
        };
        self.render_with_csp(status, template, context, &script_src, "")
    }

    /// Renders a page that frames exactly `frame_origins` (front-channel logout) and, like
    /// every page, may itself be framed by no one.
    pub fn render_framing<S: Serialize>(
        &self,
        status: StatusCode,
        template: &str,
        context: S,
        frame_origins: &[String],
    ) -> Response {
        // Without origins, default-src 'none' already forbids every frame.
        let frame_src = if frame_origins.is_empty() {
            String::new()
        } else {
            format!("frame-src {}; ", frame_origins.join(" "))
        };
        self.render_with_csp(status, template, context, "'none'", &frame_src)
    }

    fn render_with_csp<S: Serialize>(
        &self,
        status: StatusCode,
        template: &str,
        context: S,
        script_src: &str,
        // Empty, or a whole `frame-src ...; ` directive.
        frame_src: &str,
    ) -> Response {
        let body = self
            .env
            .get_template(template)
            .and_then(|t| t.render(context))
            .unwrap_or_else(|e| {
                tracing::error!(template, error = %e, "page rendering failed");
                "<!doctype html><title>Error</title><p>The page could not be shown.</p>".to_owned()
            });
        let csp = format!(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src {script_src}; {frame_src}frame-ancestors 'none'; base-uri 'none'"
        );
        let mut response = (status, Html(body)).into_response();
        let headers = response.headers_mut();
        if let Ok(csp) = HeaderValue::from_str(&csp) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }

    /// An error page: used whenever the client or its redirect URI cannot be trusted.
    pub fn error(&self, status: StatusCode, error: &str, message: &str) -> Response {
        self.render(
            status,
            "error.html",
            minijinja::context! { error, message },
            None,
        )
    }

    /// An error page with a "Back to sign-in" link to `back` (a path on this server), for a
    /// failed step the user can retry another way.
    pub fn error_with_back(
        &self,
        status: StatusCode,
        error: &str,
        message: &str,
        back: &str,
    ) -> Response {
        self.render(
            status,
            "error.html",
            minijinja::context! { error, message, back },
            None,
        )
    }
}
