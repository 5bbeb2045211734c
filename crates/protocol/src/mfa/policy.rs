//! Which second factors a sign-in needs: the `[[mfa.rules]]` of the configuration, read in
//! order, the first rule whose `when` holds deciding.
//!
//! ```toml
//! [[mfa.rules]]
//! name = "corporate"
//! when = { idp = "corp", email_domain = ["corp.example"] }
//! require = ["sms"]             # all of these; or any_of = ["email", "totp"]: the user picks one
//! ```
//!
//! Every key of one `when` must hold; an empty `when` always matches; a rule with neither
//! `require` nor `any_of` asks for the password alone and stops later rules from matching. No
//! matching rule means the password alone. The [`Decision`] carries a `why` that names the rule
//! and each condition that held, which `ferriam policy explain` prints for an operator.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

use super::age;
use super::cidr::Cidr;
use super::Factor;

/// The `idp` condition's value for the local password form.
pub const LOCAL_IDP: &str = "local";

/// The oldest age a rule may name: a larger one is a typo.
const MAX_AGE: u32 = 150;

/// One `[[mfa.rules]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in `why`, in the audit log and in `policy explain`; unique among the rules.
    pub name: String,
    /// When the rule applies; empty: always.
    #[serde(default)]
    pub when: Conditions,
    /// Factors that must all be proved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<Factor>,
    /// Factors of which the user proves one, chosen on the sign-in page.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any_of: Vec<Factor>,
}

/// The `when` of a rule: every key present must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// The upstream the user signed in with, or [`LOCAL_IDP`] for the local password form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// The client_id of the request, or a list of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<OneOrMany>,
    /// Domains compared, in lower case, with the part of the email after its last `@`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_domain: Option<Vec<String>>,
    /// Attributes that must all equal the user's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<BTreeMap<String, String>>,
    /// Holds for a user younger than this many whole years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_below: Option<u32>,
    /// Holds for a user at least this many whole years old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_at_least: Option<u32>,
    /// Holds when the client IP is in one of these blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_in: Option<Vec<Cidr>>,
    /// Holds when the client IP is known and in none of these blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_not_in: Option<Vec<Cidr>>,
    /// Holds when the request's `acr_values` ask for one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<Vec<String>>,
}

/// A value written either alone or as a list (`client = "app"` or `client = ["a", "b"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, expecting = "a client_id or a list of client_ids")]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    /// The values, one or many.
    pub fn as_slice(&self) -> &[String] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

/// The rules in their configured order; `[[mfa.rules]]` deserialises into it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Rules(pub Vec<Rule>);

impl Deref for Rules {
    type Target = [Rule];

    fn deref(&self) -> &[Rule] {
        &self.0
    }
}

impl Rules {
    /// What serde cannot check, run once at start: names present and unique, `require` and
    /// `any_of` never both, no factor twice, no empty list or map (a `client = []` would
    /// never match, an `ip_not_in = []` always), and ages that some user can have.
    pub fn validate(rules: &[Rule]) -> Result<(), String> {
        let mut names = BTreeSet::new();
        for (i, rule) in rules.iter().enumerate() {
            if rule.name.trim().is_empty() {
                return Err(format!("mfa rule {}: every rule needs a name", i + 1));
            }
            if !names.insert(rule.name.as_str()) {
                return Err(format!("mfa rule {:?}: the name is used twice", rule.name));
            }
            check_rule(rule).map_err(|e| format!("mfa rule {:?}: {e}", rule.name))?;
        }
        Ok(())
    }
}

/// The checks of [`Rules::validate`] inside one rule.
fn check_rule(rule: &Rule) -> Result<(), String> {
    if !rule.require.is_empty() && !rule.any_of.is_empty() {
        return Err("a rule has require or any_of, not both".into());
    }
    for (key, factors) in [("require", &rule.require), ("any_of", &rule.any_of)] {
        let mut seen = BTreeSet::new();
        if let Some(twice) = factors.iter().find(|f| !seen.insert(**f)) {
            return Err(format!("{key} lists {twice} twice"));
        }
    }
    check_conditions(&rule.when)
}

/// The checks of [`Rules::validate`] on one `when`.
fn check_conditions(when: &Conditions) -> Result<(), String> {
    if when.idp.as_deref().is_some_and(str::is_empty) {
        return Err("when.idp is empty".into());
    }
    check_list("client", when.client.as_ref().map(OneOrMany::as_slice))?;
    check_list("email_domain", when.email_domain.as_deref())?;
    if let Some(domain) = when.email_domain.iter().flatten().find(|d| d.contains('@')) {
        return Err(format!(
            "when.email_domain {domain:?}: write the domain without @"
        ));
    }
    if when.attr.as_ref().is_some_and(BTreeMap::is_empty) {
        return Err("when.attr is empty".into());
    }
    check_list("acr_values", when.acr_values.as_deref())?;
    if when.ip_in.as_ref().is_some_and(Vec::is_empty) {
        return Err("when.ip_in is empty".into());
    }
    if when.ip_not_in.as_ref().is_some_and(Vec::is_empty) {
        return Err("when.ip_not_in is empty".into());
    }
    check_ages(when.age_below, when.age_at_least)
}

/// A list condition is not empty and holds no empty value.
fn check_list(key: &str, values: Option<&[String]>) -> Result<(), String> {
    match values {
        Some([]) => Err(format!("when.{key} is empty")),
        Some(values) if values.iter().any(String::is_empty) => {
            Err(format!("when.{key} holds an empty value"))
        }
        _ => Ok(()),
    }
}

/// `age_below` is 1 to [`MAX_AGE`], `age_at_least` at most [`MAX_AGE`], and together they
/// leave some age between them.
fn check_ages(below: Option<u32>, at_least: Option<u32>) -> Result<(), String> {
    if let Some(below) = below {
        if below == 0 || below > MAX_AGE {
            return Err(format!("when.age_below = {below}: expected 1 to {MAX_AGE}"));
        }
    }
    if let Some(at_least) = at_least {
        if at_least > MAX_AGE {
            return Err(format!(
                "when.age_at_least = {at_least}: expected at most {MAX_AGE}"
            ));
        }
    }
    match (below, at_least) {
        (Some(below), Some(at_least)) if at_least >= below => Err(format!(
            "when.age_at_least = {at_least} and age_below = {below}: no age is both"
        )),
        _ => Ok(()),
    }
}

/// What the decision looks at for one sign-in.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The upstream's name; `None` for the local password form.
    pub idp: Option<&'a str>,
    /// The client of the authorization request.
    pub client_id: Option<&'a str>,
    /// The user's email address, if the server trusts one.
    pub email: Option<&'a str>,
    /// The user's attributes (`--attr k=v`).
    pub attributes: &'a BTreeMap<String, String>,
    /// The user's birthdate, `YYYY-MM-DD`.
    pub birthdate: Option<&'a str>,
    /// The client IP; `None` when unknown.
    pub ip: Option<IpAddr>,
    /// The request's `acr_values`, in its order.
    pub acr_values: &'a [String],
    /// Unix seconds.
    pub now: i64,
}

/// The outcome for one sign-in, printed by `ferriam policy explain` and kept in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// The rule that matched; `None` (JSON `null`) when none did.
    pub rule: Option<String>,
    /// Factors that must all be proved.
    pub require: Vec<Factor>,
    /// Factors of which the user proves one.
    pub any_of: Vec<Factor>,
    /// The `acr` for the ID token: the first requested `acr_values` entry the rule lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// For an operator: the rule and each condition that held.
    pub why: String,
}

impl Decision {
    /// The decision when no rule matches: the password alone.
    fn none() -> Self {
        Decision {
            rule: None,
            require: Vec::new(),
            any_of: Vec::new(),
            acr: None,
            why: "no rule matched".into(),
        }
    }

    /// True when the sign-in needs no second factor.
    pub fn password_only(&self) -> bool {
        self.require.is_empty() && self.any_of.is_empty()
    }
}

/// The first rule, in order, whose `when` holds for `subject` decides.
pub fn decide(rules: &[Rule], subject: &Subject<'_>) -> Decision {
    rules
        .iter()
        .find_map(|rule| {
            let held = rule.when.held(subject)?;
            let why = if held.reasons.is_empty() {
                "no conditions".to_owned()
            } else {
                held.reasons.join("; ")
            };
            Some(Decision {
                rule: Some(rule.name.clone()),
                require: rule.require.clone(),
                any_of: rule.any_of.clone(),
                acr: held.acr,
                why: format!("rule {:?}: {why}", rule.name),
            })
        })
        .unwrap_or_else(Decision::none)
}

/// What a `when` that held found.
struct Held {
    /// One phrase per condition, in the order of [`Conditions`]' fields.
    reasons: Vec<String>,
    /// Set by `acr_values`.
    acr: Option<String>,
}

impl Conditions {
    /// `Some` when every present condition holds, with the reason of each.
    fn held(&self, s: &Subject<'_>) -> Option<Held> {
        let mut reasons = Vec::new();
        if let Some(idp) = &self.idp {
            reasons.push(idp_holds(idp, s.idp)?);
        }
        if let Some(client) = &self.client {
            reasons.push(client_holds(client, s.client_id)?);
        }
        if let Some(domains) = &self.email_domain {
            reasons.push(email_domain_holds(domains, s.email)?);
        }
        if let Some(attr) = &self.attr {
            reasons.push(attr_holds(attr, s.attributes)?);
        }
        let age = s.birthdate.and_then(|b| age::years(b, s.now));
        if let Some(below) = self.age_below {
            reasons.push(age_below_holds(below, age?)?);
        }
        if let Some(at_least) = self.age_at_least {
            reasons.push(age_at_least_holds(at_least, age?)?);
        }
        if let Some(blocks) = &self.ip_in {
            reasons.push(ip_in_holds(blocks, s.ip?)?);
        }
        if let Some(blocks) = &self.ip_not_in {
            reasons.push(ip_not_in_holds(blocks, s.ip?)?);
        }
        let mut acr = None;
        if let Some(listed) = &self.acr_values {
            let asked = s.acr_values.iter().find(|v| listed.contains(v))?;
            reasons.push(format!("acr_values asks for {asked}"));
            acr = Some(asked.clone());
        }
        Some(Held { reasons, acr })
    }
}

/// `idp = "local"` is the local form; any other name must be the upstream used.
fn idp_holds(wanted: &str, used: Option<&str>) -> Option<String> {
    let holds = match used {
        None => wanted == LOCAL_IDP,
        Some(upstream) => wanted != LOCAL_IDP && wanted == upstream,
    };
    holds.then(|| format!("idp is {wanted}"))
}

/// The request's client is the one, or one of the many.
fn client_holds(wanted: &OneOrMany, client_id: Option<&str>) -> Option<String> {
    let id = client_id.filter(|id| wanted.as_slice().iter().any(|w| w == id))?;
    Some(match wanted {
        OneOrMany::One(_) => format!("client is {id}"),
        OneOrMany::Many(_) => format!("client {id} is listed"),
    })
}

/// The part after the email's last `@`, in lower case, is a listed domain.
fn email_domain_holds(domains: &[String], email: Option<&str>) -> Option<String> {
    let (_, domain) = email?.rsplit_once('@')?;
    let domain = domain.to_ascii_lowercase();
    domains
        .iter()
        .any(|d| d.eq_ignore_ascii_case(&domain))
        .then(|| format!("email domain {domain} is listed"))
}

/// Every pair equals the user's attribute of that name.
fn attr_holds(wanted: &BTreeMap<String, String>, has: &BTreeMap<String, String>) -> Option<String> {
    wanted.iter().all(|(k, v)| has.get(k) == Some(v)).then(|| {
        let pairs: Vec<String> = wanted
            .iter()
            .map(|(k, v)| format!("attribute {k} is {v}"))
            .collect();
        pairs.join("; ")
    })
}

/// The user is younger than `below` whole years.
fn age_below_holds(below: u32, age: u32) -> Option<String> {
    (age < below).then(|| format!("age is below {below}"))
}

/// The user is at least `at_least` whole years old.
fn age_at_least_holds(at_least: u32, age: u32) -> Option<String> {
    (age >= at_least).then(|| format!("age is at least {at_least}"))
}

/// The client IP is in one of the blocks.
fn ip_in_holds(blocks: &[Cidr], ip: IpAddr) -> Option<String> {
    let block = blocks.iter().find(|b| b.contains(ip))?;
    Some(format!("ip {} is in {block}", ip.to_canonical()))
}

/// The client IP is in none of the blocks.
fn ip_not_in_holds(blocks: &[Cidr], ip: IpAddr) -> Option<String> {
    if blocks.iter().any(|b| b.contains(ip)) {
        return None;
    }
    let listed: Vec<String> = blocks.iter().map(Cidr::to_string).collect();
    Some(format!(
        "ip {} is in none of {}",
        ip.to_canonical(),
        listed.join(", ")
    ))
}

#[cfg(test)]
mod tests;
