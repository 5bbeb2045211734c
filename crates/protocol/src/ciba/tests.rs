use super::*;

const POLL: CibaClient = CibaClient {
    mode: DeliveryMode::Poll,
    user_code_required: false,
};
const PING: CibaClient = CibaClient {
    mode: DeliveryMode::Ping,
    user_code_required: false,
};

fn check(pairs: &[(&str, &str)], client: CibaClient) -> Result<BackchannelRequest, OAuthError> {
    validate(&Params::from_pairs(pairs.iter().copied()), client)
}

fn code_of(pairs: &[(&str, &str)], client: CibaClient) -> &'static str {
    check(pairs, client).expect_err("refused").code.as_str()
}

#[test]
fn a_minimal_poll_request_is_accepted() {
    let r = check(&[("scope", "openid email"), ("login_hint", "ada")], POLL).unwrap();
    assert_eq!(r.hint, Hint::LoginHint("ada".into()));
    assert!(r.scope.contains("email"));
    assert_eq!(r.binding_message, None);
    assert_eq!(r.requested_expiry, None);
    assert!(r.acr_values.is_empty());
}

#[test]
fn every_field_is_read() {
    let r = check(
        &[
            ("scope", "openid"),
            ("id_token_hint", "eyJ.a.b"),
            ("binding_message", "W4SCT 12:03"),
            ("user_code", "1234"),
            ("requested_expiry", "120"),
            ("acr_values", "urn:a  urn:b"),
            ("client_notification_token", "abc-DEF_123.~+/=="),
        ],
        PING,
    )
    .unwrap();
    assert_eq!(r.hint, Hint::IdTokenHint("eyJ.a.b".into()));
    assert_eq!(r.binding_message.as_deref(), Some("W4SCT 12:03"));
    assert_eq!(r.user_code.as_deref(), Some("1234"));
    assert_eq!(r.requested_expiry, Some(120));
    assert_eq!(r.acr_values, ["urn:a", "urn:b"]);
    assert_eq!(
        r.client_notification_token.as_deref(),
        Some("abc-DEF_123.~+/==")
    );
}

#[test]
fn openid_is_required() {
    assert_eq!(
        code_of(&[("scope", "email"), ("login_hint", "ada")], POLL),
        "invalid_scope"
    );
    assert_eq!(code_of(&[("login_hint", "ada")], POLL), "invalid_request");
}

#[test]
fn exactly_one_hint() {
    assert_eq!(code_of(&[("scope", "openid")], POLL), "invalid_request");
    assert_eq!(
        code_of(
            &[
                ("scope", "openid"),
                ("login_hint", "ada"),
                ("id_token_hint", "x")
            ],
            POLL
        ),
        "invalid_request"
    );
    assert_eq!(
        code_of(
            &[
                ("scope", "openid"),
                ("login_hint_token", "t"),
                ("id_token_hint", "x")
            ],
            POLL
        ),
        "invalid_request"
    );
    let r = check(&[("scope", "openid"), ("login_hint_token", "t")], POLL).unwrap();
    assert_eq!(r.hint, Hint::LoginHintToken("t".into()));
}

#[test]
fn binding_messages_are_short_and_printable() {
    let with = |m: &str| {
        code_of(
            &[
                ("scope", "openid"),
                ("login_hint", "a"),
                ("binding_message", m),
            ],
            POLL,
        )
    };
    assert_eq!(with(&"x".repeat(65)), "invalid_binding_message");
    assert_eq!(with("line\nbreak"), "invalid_binding_message");
    assert_eq!(with("   "), "invalid_binding_message");
    assert_eq!(with("tab\there"), "invalid_binding_message");
    assert!(
        valid_binding_message(&"é".repeat(64)),
        "characters, not bytes"
    );
    assert!(valid_binding_message("Pay €12.50 to Shop #4?"));
}

#[test]
fn a_user_code_is_required_when_registered() {
    let strict = CibaClient {
        mode: DeliveryMode::Poll,
        user_code_required: true,
    };
    assert_eq!(
        code_of(&[("scope", "openid"), ("login_hint", "a")], strict),
        "missing_user_code"
    );
    assert!(check(
        &[("scope", "openid"), ("login_hint", "a"), ("user_code", "9")],
        strict
    )
    .is_ok());
}

#[test]
fn requested_expiry_is_a_positive_integer() {
    for bad in ["0", "-5", "1.5", "+3", "ten", "99999999999999999999"] {
        assert_eq!(
            code_of(
                &[
                    ("scope", "openid"),
                    ("login_hint", "a"),
                    ("requested_expiry", bad)
                ],
                POLL
            ),
            "invalid_request",
            "{bad}"
        );
    }
}

#[test]
fn ping_and_push_need_a_notification_token() {
    let push = CibaClient {
        mode: DeliveryMode::Push,
        user_code_required: false,
    };
    for client in [PING, push] {
        assert_eq!(
            code_of(&[("scope", "openid"), ("login_hint", "a")], client),
            "invalid_request"
        );
    }
    for bad in ["has space", "=", "quote\"", &"a".repeat(1025)] {
        assert_eq!(
            code_of(
                &[
                    ("scope", "openid"),
                    ("login_hint", "a"),
                    ("client_notification_token", bad)
                ],
                PING
            ),
            "invalid_request",
            "{bad}"
        );
    }
    assert!(valid_notification_token(&"a".repeat(1024)));
}

#[test]
fn signed_requests_are_refused() {
    assert_eq!(
        code_of(
            &[("scope", "openid"), ("login_hint", "a"), ("request", "eyJ")],
            POLL
        ),
        "invalid_request"
    );
}

#[test]
fn expiry_is_capped() {
    assert_eq!(expires_in(None, 300, 600), 300);
    assert_eq!(expires_in(Some(120), 300, 600), 120);
    assert_eq!(expires_in(Some(10_000), 300, 600), 600);
}

#[test]
fn modes_parse_and_print() {
    for mode in DeliveryMode::ALL {
        assert_eq!(mode.as_str().parse::<DeliveryMode>(), Ok(mode));
    }
    assert!("poll ".parse::<DeliveryMode>().is_err());
    assert!(DeliveryMode::Push.notifies() && !DeliveryMode::Push.polls_token_endpoint());
    assert!(!DeliveryMode::Poll.notifies() && DeliveryMode::Ping.polls_token_endpoint());
}

fn pending(now: i64, last: Option<i64>) -> Poll {
    Poll {
        now,
        expires_at: 1_000,
        state: RequestState::Pending,
        interval: 5,
        last_poll_at: last,
    }
}

#[test]
fn polls_follow_the_interval() {
    assert_eq!(poll(pending(100, None)), PollAnswer::Pending);
    assert_eq!(poll(pending(105, Some(100))), PollAnswer::Pending);
    assert_eq!(
        poll(pending(104, Some(100))),
        PollAnswer::SlowDown { interval: 10 }
    );
    assert_eq!(poll(pending(1_000, Some(999))), PollAnswer::Expired);
    let slowed = |interval| Poll {
        interval,
        ..pending(100, Some(99))
    };
    assert_eq!(poll(slowed(58)), PollAnswer::SlowDown { interval: 60 });
    assert_eq!(
        poll(slowed(60)),
        PollAnswer::SlowDown { interval: 60 },
        "the recorded interval stops growing"
    );
}

#[test]
fn decisions_answer_at_once_and_tokens_once() {
    let decided = |state| Poll {
        state,
        ..pending(101, Some(100))
    };
    assert_eq!(poll(decided(RequestState::Approved)), PollAnswer::Issue);
    assert_eq!(poll(decided(RequestState::Denied)), PollAnswer::Denied);
    assert_eq!(poll(decided(RequestState::Redeemed)), PollAnswer::Redeemed);
    let late = Poll {
        now: 2_000,
        ..decided(RequestState::Approved)
    };
    assert_eq!(poll(late), PollAnswer::Expired);
}

#[test]
fn poll_answers_carry_the_spec_errors() {
    let code = |a: PollAnswer| a.error().map(|e| e.code.as_str());
    assert_eq!(code(PollAnswer::Issue), None);
    assert_eq!(code(PollAnswer::Pending), Some("authorization_pending"));
    assert_eq!(
        code(PollAnswer::SlowDown { interval: 10 }),
        Some("slow_down")
    );
    assert_eq!(code(PollAnswer::Denied), Some("access_denied"));
    assert_eq!(code(PollAnswer::Expired), Some("expired_token"));
    assert_eq!(code(PollAnswer::Redeemed), Some("invalid_grant"));
}

#[test]
fn backchannel_statuses_follow_section_13() {
    assert_eq!(backchannel_status(ErrorCode::InvalidClient), 401);
    assert_eq!(backchannel_status(ErrorCode::AccessDenied), 403);
    for code in [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidScope,
        ErrorCode::ExpiredLoginHintToken,
        ErrorCode::UnknownUserId,
        ErrorCode::UnauthorizedClient,
        ErrorCode::MissingUserCode,
        ErrorCode::InvalidUserCode,
        ErrorCode::InvalidBindingMessage,
    ] {
        assert_eq!(backchannel_status(code), 400, "{}", code.as_str());
    }
}

#[test]
fn an_id_token_hint_names_its_user_only_for_its_client() {
    let claims = HintClaims {
        iss: "https://id.example".into(),
        sub: "u-1".into(),
        aud: "kiosk".into(),
        sid: None,
    };
    assert_eq!(
        hint_subject(&claims, "https://id.example", "kiosk"),
        Ok("u-1")
    );
    for (issuer, client) in [
        ("https://other.example", "kiosk"),
        ("https://id.example", "tv"),
    ] {
        let e = hint_subject(&claims, issuer, client).expect_err("refused");
        assert_eq!(e.code.as_str(), "invalid_request");
    }
}

#[test]
fn user_codes_are_short_printable_secrets() {
    for ok in ["1234", "correct horse", &"x".repeat(64)] {
        assert!(valid_user_code(ok), "{ok}");
    }
    for bad in ["123", " 1234", "1234 ", "12\n34", &"x".repeat(65)] {
        assert!(!valid_user_code(bad), "{bad:?}");
    }
}
