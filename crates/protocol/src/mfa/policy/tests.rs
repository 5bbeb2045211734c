//! Tests of the sign-in policy: parsing, validation and the first-match decision.
use super::*;
use serde_json::json;

/// The part of a configuration file these rules live in.
#[derive(Deserialize)]
struct File {
    mfa: Mfa,
}

#[derive(Deserialize)]
struct Mfa {
    rules: Rules,
}

fn parse(text: &str) -> Result<Rules, String> {
    toml::from_str::<File>(text)
        .map(|f| f.mfa.rules)
        .map_err(|e| e.to_string())
}

fn rules(text: &str) -> Rules {
    let rules = parse(text).unwrap();
    Rules::validate(&rules).unwrap();
    rules
}

static NO_ATTRS: BTreeMap<String, String> = BTreeMap::new();

/// 2026-06-15 12:00 UTC.
fn now() -> i64 {
    crate::civil::days_from_civil((2026, 6, 15)) * 86_400 + 43_200
}

/// A local sign-in to `app` with nothing else known.
fn local() -> Subject<'static> {
    Subject {
        idp: None,
        client_id: Some("app"),
        email: None,
        attributes: &NO_ATTRS,
        birthdate: None,
        ip: None,
        acr_values: &[],
        now: now(),
    }
}

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// The matching rule's name, or `None`.
fn matched(rules: &[Rule], subject: &Subject<'_>) -> Option<String> {
    decide(rules, subject).rule
}

#[test]
fn every_key_parses() {
    let rules = rules(
        r#"
        [[mfa.rules]]
        name = "everything"
        when = { idp = "corp", client = ["a", "b"], email_domain = ["corp.example"], attr = { dept = "sales" }, age_below = 65, age_at_least = 18, ip_in = ["10.0.0.0/8", "2001:db8::/32"], ip_not_in = ["10.9.0.0/16"], acr_values = ["gold"] }
        any_of = ["email", "totp"]

        [[mfa.rules]]
        name = "one client"
        when = { client = "c" }
        require = ["sms", "totp"]

        [[mfa.rules]]
        name = "rest"
        "#,
    );
    let when = &rules[0].when;
    assert_eq!(when.idp.as_deref(), Some("corp"));
    assert_eq!(when.client.as_ref().unwrap().as_slice(), ["a", "b"]);
    assert_eq!(when.attr.as_ref().unwrap()["dept"], "sales");
    assert_eq!((when.age_below, when.age_at_least), (Some(65), Some(18)));
    assert_eq!(when.ip_in.as_ref().unwrap()[1].to_string(), "2001:db8::/32");
    assert_eq!(rules[0].any_of, [Factor::Email, Factor::Totp]);
    assert_eq!(rules[1].when.client, Some(OneOrMany::One("c".into())));
    assert_eq!(rules[1].require, [Factor::Sms, Factor::Totp]);
    assert_eq!(rules[2].when, Conditions::default());
    assert!(rules[2].require.is_empty() && rules[2].any_of.is_empty());
    // The server's Config is also serialised (figment's defaults): it comes back the same.
    let text = toml::to_string(&json!({ "mfa": { "rules": rules } })).unwrap();
    assert_eq!(parse(&text).unwrap(), rules);
}

#[test]
fn unknown_keys_factors_and_bad_blocks_fail_to_parse() {
    for (line, expect) in [
        (r#"requires = ["sms"]"#, "requires"),
        (r#"when = { group = "admins" }"#, "group"),
        (r#"require = ["webauthn"]"#, "webauthn"),
        (r#"when = { ip_in = ["10.0.0.0/33"] }"#, "10.0.0.0/33"),
        (
            r#"when = { client = 7 }"#,
            "a client_id or a list of client_ids",
        ),
        (r#"when = { age_below = -1 }"#, "age_below"),
    ] {
        let err = parse(&format!("[[mfa.rules]]\nname = \"x\"\n{line}")).unwrap_err();
        assert!(err.contains(expect), "{line}: {err}");
    }
    let nameless = parse("[[mfa.rules]]\nrequire = [\"sms\"]").unwrap_err();
    assert!(nameless.contains("name"), "{nameless}");
}

#[test]
fn validate_refuses_what_serde_cannot_see() {
    for (lines, expect) in [
        ("[[mfa.rules]]\nname = \"a\"", "the name is used twice"),
        (
            r#"require = ["sms"]
            any_of = ["email"]"#,
            "not both",
        ),
        (r#"require = ["sms", "sms"]"#, "require lists sms twice"),
        (
            r#"any_of = ["totp", "email", "totp"]"#,
            "any_of lists totp twice",
        ),
        (r#"when = { idp = "" }"#, "when.idp is empty"),
        (r#"when = { client = [] }"#, "when.client is empty"),
        (
            r#"when = { client = "" }"#,
            "when.client holds an empty value",
        ),
        (
            r#"when = { email_domain = ["@corp.example"] }"#,
            "without @",
        ),
        (r#"when = { attr = {} }"#, "when.attr is empty"),
        (r#"when = { ip_in = [] }"#, "when.ip_in is empty"),
        (r#"when = { ip_not_in = [] }"#, "when.ip_not_in is empty"),
        (r#"when = { acr_values = [] }"#, "when.acr_values is empty"),
        (r#"when = { age_below = 0 }"#, "age_below = 0"),
        (r#"when = { age_below = 200 }"#, "age_below = 200"),
        (r#"when = { age_at_least = 151 }"#, "age_at_least = 151"),
        (
            r#"when = { age_below = 18, age_at_least = 18 }"#,
            "no age is both",
        ),
    ] {
        let rules = parse(&format!("[[mfa.rules]]\nname = \"a\"\n{lines}")).unwrap();
        let err = Rules::validate(&rules).unwrap_err();
        assert!(err.starts_with("mfa rule \"a\": "), "{err}");
        assert!(err.contains(expect), "{lines}: {err}");
    }
    for (text, expect) in [
        ("name = \" \"", "mfa rule 1: every rule needs a name"),
        (
            "name = \"ok\"\n[[mfa.rules]]\nname = \"\"",
            "mfa rule 2: every rule needs a name",
        ),
    ] {
        let rules = parse(&format!("[[mfa.rules]]\n{text}")).unwrap();
        assert_eq!(Rules::validate(&rules).unwrap_err(), expect);
    }
    assert!(Rules::validate(&[]).is_ok());
}

#[test]
fn no_match_is_the_password_alone() {
    let rules =
        rules("[[mfa.rules]]\nname = \"corp\"\nwhen = { idp = \"corp\" }\nrequire = [\"sms\"]");
    let decision = decide(&rules, &local());
    assert!(decision.password_only());
    assert_eq!(
        serde_json::to_value(&decision).unwrap(),
        json!({"rule": null, "require": [], "any_of": [], "why": "no rule matched"})
    );
    assert_eq!(decide(&[], &local()), decision);
}

#[test]
fn why_names_the_rule_and_each_condition_that_held() {
    let rules = rules(
        r#"
        [[mfa.rules]]
        name = "corporate"
        when = { idp = "corp", email_domain = ["corp.example"] }
        require = ["sms"]
        "#,
    );
    let subject = Subject {
        idp: Some("corp"),
        email: Some("Ann@Corp.Example"),
        ..local()
    };
    assert_eq!(
        serde_json::to_value(decide(&rules, &subject)).unwrap(),
        json!({
            "rule": "corporate",
            "require": ["sms"],
            "any_of": [],
            "why": "rule \"corporate\": idp is corp; email domain corp.example is listed"
        })
    );
    let always = self::rules("[[mfa.rules]]\nname = \"all\"\nany_of = [\"email\", \"totp\"]");
    let decision = decide(&always, &local());
    assert_eq!(decision.why, "rule \"all\": no conditions");
    assert_eq!(decision.any_of, [Factor::Email, Factor::Totp]);
}

#[test]
fn the_first_match_wins_and_a_rule_without_factors_stops_the_search() {
    let rules = rules(
        r#"
        [[mfa.rules]]
        name = "kiosk"
        when = { client = "kiosk" }

        [[mfa.rules]]
        name = "everyone"
        require = ["email"]

        [[mfa.rules]]
        name = "never reached"
        require = ["totp"]
        "#,
    );
    let kiosk = decide(
        &rules,
        &Subject {
            client_id: Some("kiosk"),
            ..local()
        },
    );
    assert_eq!(kiosk.rule.as_deref(), Some("kiosk"));
    assert!(kiosk.password_only());
    let other = decide(&rules, &local());
    assert_eq!(other.rule.as_deref(), Some("everyone"));
    assert_eq!(other.require, [Factor::Email]);
}

#[test]
fn idp_local_is_the_local_form_and_names_match_exactly() {
    let rules = rules(
        "[[mfa.rules]]\nname = \"l\"\nwhen = { idp = \"local\" }\n\
         [[mfa.rules]]\nname = \"c\"\nwhen = { idp = \"corp\" }",
    );
    assert_eq!(matched(&rules, &local()).as_deref(), Some("l"));
    let corp = Subject {
        idp: Some("corp"),
        ..local()
    };
    assert_eq!(matched(&rules, &corp).as_deref(), Some("c"));
    for other in ["Corp", "partner", "local"] {
        let subject = Subject {
            idp: Some(other),
            ..local()
        };
        assert_eq!(matched(&rules, &subject), None, "{other}");
    }
}

#[test]
fn client_is_one_id_or_a_list() {
    let rules = rules(
        "[[mfa.rules]]\nname = \"one\"\nwhen = { client = \"a\" }\n\
         [[mfa.rules]]\nname = \"many\"\nwhen = { client = [\"b\", \"c\"] }",
    );
    let with = |id| Subject {
        client_id: id,
        ..local()
    };
    assert_eq!(
        decide(&rules, &with(Some("a"))).why,
        "rule \"one\": client is a"
    );
    assert_eq!(
        decide(&rules, &with(Some("c"))).why,
        "rule \"many\": client c is listed"
    );
    assert_eq!(matched(&rules, &with(Some("d"))), None);
    assert_eq!(matched(&rules, &with(None)), None);
}

#[test]
fn email_domain_is_the_part_after_the_last_at_in_lower_case() {
    let rules = rules(
        "[[mfa.rules]]\nname = \"d\"\nwhen = { email_domain = [\"Corp.Example\", \"b.example\"] }",
    );
    let with = |email| Subject { email, ..local() };
    assert!(matched(&rules, &with(Some("ann@corp.example"))).is_some());
    assert!(matched(&rules, &with(Some("ANN@CORP.EXAMPLE"))).is_some());
    assert!(matched(&rules, &with(Some("\"a@x\"@b.example"))).is_some());
    assert!(matched(&rules, &with(Some("ann@corp.example@evil.example"))).is_none());
    assert!(matched(&rules, &with(Some("ann@sub.corp.example"))).is_none());
    assert!(matched(&rules, &with(Some("corp.example"))).is_none());
    assert!(matched(&rules, &with(None)).is_none());
}

#[test]
fn attr_needs_every_pair() {
    let rules =
        rules("[[mfa.rules]]\nname = \"a\"\nwhen = { attr = { dept = \"sales\", level = \"2\" } }");
    let attrs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let both = attrs(&[("dept", "sales"), ("level", "2"), ("site", "x")]);
    let decision = decide(
        &rules,
        &Subject {
            attributes: &both,
            ..local()
        },
    );
    assert_eq!(
        decision.why,
        "rule \"a\": attribute dept is sales; attribute level is 2"
    );
    for partial in [
        attrs(&[("dept", "sales")]),
        attrs(&[("dept", "Sales"), ("level", "2")]),
    ] {
        assert_eq!(
            matched(
                &rules,
                &Subject {
                    attributes: &partial,
                    ..local()
                }
            ),
            None
        );
    }
}

#[test]
fn ages_count_from_the_birthdate_and_an_unknown_one_matches_neither() {
    let rules = rules(
        "[[mfa.rules]]\nname = \"minor\"\nwhen = { age_below = 18 }\n\
         [[mfa.rules]]\nname = \"adult\"\nwhen = { age_at_least = 18 }",
    );
    let born = |birthdate| Subject {
        birthdate,
        ..local()
    };
    assert_eq!(
        matched(&rules, &born(Some("2008-06-16"))).as_deref(),
        Some("minor")
    );
    assert_eq!(
        matched(&rules, &born(Some("2008-06-15"))).as_deref(),
        Some("adult")
    );
    assert_eq!(
        decide(&rules, &born(Some("1970-01-01"))).why,
        "rule \"adult\": age is at least 18"
    );
    for unknown in [
        None,
        Some("0000-06-15"),
        Some("2008-02-30"),
        Some("15.06.2008"),
        Some("2030-01-01"),
    ] {
        assert_eq!(matched(&rules, &born(unknown)), None, "{unknown:?}");
    }
    let band =
        self::rules("[[mfa.rules]]\nname = \"teen\"\nwhen = { age_at_least = 13, age_below = 18 }");
    assert!(matched(&band, &born(Some("2010-01-01"))).is_some());
    assert!(matched(&band, &born(Some("2014-01-01"))).is_none());
}

#[test]
fn ip_conditions_and_an_unknown_ip() {
    let rules = rules(
        r#"
        [[mfa.rules]]
        name = "office"
        when = { ip_in = ["10.0.0.0/8", "2001:db8::/32"], ip_not_in = ["10.9.0.0/16"] }

        [[mfa.rules]]
        name = "outside"
        when = { ip_not_in = ["10.0.0.0/8", "192.168.0.0/16"] }
        require = ["totp"]
        "#,
    );
    let from = |addr: Option<IpAddr>| Subject {
        ip: addr,
        ..local()
    };
    let office = decide(&rules, &from(ip("10.1.2.3")));
    assert_eq!(
        office.why,
        "rule \"office\": ip 10.1.2.3 is in 10.0.0.0/8; ip 10.1.2.3 is in none of 10.9.0.0/16"
    );
    assert_eq!(
        matched(&rules, &from(ip("2001:db8::7"))).as_deref(),
        Some("office")
    );
    assert_eq!(
        matched(&rules, &from(ip("::ffff:10.1.2.3"))).as_deref(),
        Some("office")
    );
    assert_eq!(matched(&rules, &from(ip("10.9.0.1"))), None);
    let outside = decide(&rules, &from(ip("203.0.113.9")));
    assert_eq!(
        outside.why,
        "rule \"outside\": ip 203.0.113.9 is in none of 10.0.0.0/8, 192.168.0.0/16"
    );
    assert_eq!(matched(&rules, &from(None)), None);
}

#[test]
fn acr_values_picks_the_first_requested_value_the_rule_lists() {
    let rules = rules("[[mfa.rules]]\nname = \"strong\"\nwhen = { acr_values = [\"silver\", \"gold\"] }\nrequire = [\"totp\"]");
    let asked: Vec<String> = ["bronze", "gold", "silver"].map(String::from).to_vec();
    let decision = decide(
        &rules,
        &Subject {
            acr_values: &asked,
            ..local()
        },
    );
    assert_eq!(decision.acr.as_deref(), Some("gold"));
    assert_eq!(
        serde_json::to_value(&decision).unwrap(),
        json!({
            "rule": "strong",
            "require": ["totp"],
            "any_of": [],
            "acr": "gold",
            "why": "rule \"strong\": acr_values asks for gold"
        })
    );
    let other: Vec<String> = vec!["bronze".into()];
    assert_eq!(
        matched(
            &rules,
            &Subject {
                acr_values: &other,
                ..local()
            }
        ),
        None
    );
    assert_eq!(matched(&rules, &local()), None);
    let plain = self::rules("[[mfa.rules]]\nname = \"p\"");
    assert_eq!(
        decide(
            &plain,
            &Subject {
                acr_values: &asked,
                ..local()
            }
        )
        .acr,
        None
    );
}

#[test]
fn every_condition_of_a_when_must_hold() {
    let rules = rules("[[mfa.rules]]\nname = \"both\"\nwhen = { idp = \"local\", client = \"app\", ip_in = [\"10.0.0.0/8\"] }");
    let inside = Subject {
        ip: ip("10.0.0.1"),
        ..local()
    };
    assert_eq!(
        decide(&rules, &inside).why,
        "rule \"both\": idp is local; client is app; ip 10.0.0.1 is in 10.0.0.0/8"
    );
    for fails in [
        Subject {
            ip: ip("11.0.0.1"),
            ..inside
        },
        Subject {
            client_id: Some("other"),
            ..inside
        },
        Subject {
            idp: Some("corp"),
            ..inside
        },
    ] {
        assert_eq!(matched(&rules, &fails), None, "{fails:?}");
    }
}

#[test]
fn decisions_read_back_from_json() {
    let text = r#"{"rule": "r", "require": [], "any_of": ["sms"], "why": "w"}"#;
    let decision: Decision = serde_json::from_str(text).unwrap();
    assert_eq!(decision.any_of, [Factor::Sms]);
    assert_eq!(decision.acr, None);
}
