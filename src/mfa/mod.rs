//! Second factors and the sign-in policy on the server's side. So far: which rule applies to a
//! sign-in ([`decide`]), for `ferriam policy explain` and, next, for the sign-in itself (the
//! rules themselves are `ferriam_protocol::mfa::policy`).

use std::net::IpAddr;

use ferriam_protocol::mfa::policy::{self, Decision, Rule, Subject, LOCAL_IDP};

use crate::store::User;

/// What is known of a sign-in besides the user.
pub struct Context<'a> {
    /// The upstream the user came through; `None` for the local password form.
    pub idp: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub ip: Option<IpAddr>,
    /// The request's `acr_values`, in its order.
    pub acr_values: &'a [String],
    pub now: i64,
}

/// The decision of `rules` for `user` signing in in `context`. A rule naming an upstream that
/// is not among `registered` never matches (DESIGN.md, "Rules"), even for a context that
/// names the same unregistered upstream.
pub fn decide(
    rules: &[Rule],
    registered: &[String],
    user: &User,
    context: &Context<'_>,
) -> Decision {
    let applicable: Vec<Rule> = rules
        .iter()
        .filter(|rule| match rule.when.idp.as_deref() {
            None | Some(LOCAL_IDP) => true,
            Some(name) => registered.iter().any(|r| r == name),
        })
        .cloned()
        .collect();
    let subject = Subject {
        idp: context.idp,
        client_id: context.client_id,
        email: user.profile.email.as_deref(),
        attributes: &user.profile.attributes,
        birthdate: user.profile.birthdate.as_deref(),
        ip: context.ip,
        acr_values: context.acr_values,
        now: context.now,
    };
    policy::decide(&applicable, &subject)
}
