//! The authorizer's answers to REST and HTTP API events, on a fixed store.

use super::*;
use serde_json::Value;

#[test]
fn an_undecodable_event_names_where_never_what() {
    // Generated at test time: no key-shaped string is committed.
    let generated = overten::ApiKey::generate();
    let key = generated.expose_secret();
    let bodies = [
        format!(r#"{{"type":"REQUEST","headers":{{"x-api-key":"{key}\u0000"}}}}"#),
        format!(r#"{{"type":"REQUEST","headers":{{"x-api-key":["{key}"]}}}}"#),
        format!(r#"{{"type":"REQUEST","methodArn":"{key}""#),
        format!(r#"["{key}"]"#),
        format!(r#"{{"type":"REQUEST","pathParameters":"{key}"}}"#),
        format!(r#"{{"type":"REQUEST","headers":{{"{key} x":"v"}}}}"#),
    ];
    for body in &bodies {
        if let Err(e) = AuthorizerEvent::from_slice(body.as_bytes()) {
            let message = bad_event(&e);
            assert!(message.starts_with("not an authorizer event (") && !message.contains("sk_live_"), "{message}");
        }
    }
    let Err(e) = AuthorizerEvent::from_slice(br#"["x"]"#) else { panic!("an array is no event") };
    assert_eq!(bad_event(&e), "not an authorizer event (Data at line 1, column 0)");
    // The premise: serde's own message would have quoted the key.
    let quoted = bodies
        .iter()
        .any(|b| AuthorizerEvent::from_slice(b.as_bytes()).err().is_some_and(|e| e.to_string().contains("sk_live_")));
    assert!(quoted, "serde's message quotes the value it met");
}

#[test]
fn only_a_format_slug_reaches_the_access_log() {
    let rule = routes::find("POST", "/v1/generations/{format}");
    let params = |value: &str| std::collections::HashMap::from([("format".to_owned(), value.to_owned())]);
    assert_eq!(route_format(rule, &params("pdf")).as_deref(), Some("pdf"));
    for forged in ["pdf\",\"keyId\":\"key_x", "PDF", "", "a b", &"a".repeat(33)] {
        assert_eq!(route_format(rule, &params(forged)), None, "{forged}");
    }
    // A route that names no format, or none of the table.
    assert_eq!(route_format(routes::find("GET", "/v1/runs/{run_id}"), &params("pdf")), None);
    assert_eq!(route_format(None, &params("pdf")), None);
}

#[test]
fn stage_arn_covers_the_whole_stage() {
    assert_eq!(
        stage_arn("arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request").as_deref(),
        Some("arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/*")
    );
    assert_eq!(stage_arn(""), None);
    assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:api"), None);
    assert_eq!(stage_arn("not-an-arn/x/y"), None);
    // Each condition refuses on its own.
    assert_eq!(stage_arn("xrn:aws:execute-api:us-east-1:1:api/prod/GET/x"), None, "not an ARN");
    assert_eq!(stage_arn("arn:aws:execute-api:1:api/prod/GET/x"), None, "too few ARN parts");
    assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:/prod/GET/x"), None, "no API id");
    assert_eq!(stage_arn("arn:aws:execute-api:us-east-1:1:api//GET/x"), None, "no stage");
}

#[test]
fn failures_reach_lambda_with_their_error_type() {
    let diagnostic = |err: AuthorizerError| lambda_runtime::Diagnostic::from(err).error_type;
    assert_eq!(diagnostic(AuthorizerError::Store(Error::Unavailable("x".into()))), "ServiceUnavailable");
    assert_eq!(diagnostic(AuthorizerError::Store(Error::Internal("x".into()))), "InternalError");
    assert_eq!(diagnostic(AuthorizerError::BadEvent("x".into())), "BadEvent");
    let message = lambda_runtime::Diagnostic::from(AuthorizerError::BadEvent("no headers".into())).error_message;
    assert!(message.contains("no headers"));
}

use overten::store::FixedStore;
use proptest::prelude::*;

/// The bytes API Gateway reads, as AWS documents them: the REST API's `principalId`,
/// `policyDocument` and `context`; the HTTP API's `isAuthorized` and `context`. And what
/// `is_allowed` says about each.
#[test]
fn the_wire_format_and_is_allowed_agree() {
    let store = FixedStore::empty();
    let live = overten::ApiKey::generate();
    let known = FixedStore::with_keys(vec![(live.hash(), overten::store::sample_record("key_live", false))]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let mut with_key = serde_json::Map::new();
    with_key.insert("x-api-key".into(), live.expose_secret().into());
    let allow = runtime.block_on(answer(&known, &event(false, with_key.clone()))).unwrap();
    assert!(allow.is_allowed());
    assert_eq!(allow.principal_id(), Some("key_live"));
    assert_eq!(
        serde_json::to_string(&allow).unwrap(),
        concat!(
            r#"{"principalId":"key_live","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"#,
            r#""Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:abc/prod/*"]}]},"#,
            r#""context":{"org_id":"org_1","key_id":"key_live"},"usageIdentifierKey":null}"#
        )
    );
    // A key problem on the REST API: the Lambda error whose message is exactly `Unauthorized`.
    let Err(refused) = runtime.block_on(answer(&store, &event(false, serde_json::Map::new()))) else {
        panic!("a missing key is no answer")
    };
    assert!(matches!(&refused, AuthorizerError::Unauthorized(e) if e.code() == "missing_api_key"), "{refused:?}");
    let diagnostic = lambda_runtime::Diagnostic::from(refused);
    assert_eq!((diagnostic.error_type.as_str(), diagnostic.error_message.as_str()), ("Unauthorized", "Unauthorized"));

    let allow = runtime.block_on(answer(&known, &event(true, with_key))).unwrap();
    assert!(allow.is_allowed());
    assert_eq!(allow.principal_id(), None);
    assert_eq!(
        serde_json::to_string(&allow).unwrap(),
        r#"{"isAuthorized":true,"context":{"org_id":"org_1","key_id":"key_live"}}"#
    );
    let deny = runtime.block_on(answer(&store, &event(true, serde_json::Map::new()))).unwrap();
    assert!(!deny.is_allowed());
    assert_eq!(serde_json::to_value(&deny).unwrap()["isAuthorized"], false);

    // A REST policy allows only if it has statements and every one is an Allow.
    let AuthorizerResponse::Rest(mut rest) = runtime
        .block_on(answer(
            &known,
            &event(false, {
                let mut h = serde_json::Map::new();
                h.insert("x-api-key".into(), live.expose_secret().into());
                h
            }),
        ))
        .unwrap()
    else {
        panic!("a REST event gets the REST answer")
    };
    let mut deny_too = rest.policy_document.statement[0].clone();
    deny_too.effect = IamPolicyEffect::Deny;
    rest.policy_document.statement.push(deny_too);
    assert!(!AuthorizerResponse::Rest(rest.clone()).is_allowed(), "an explicit Deny wins");
    rest.policy_document.statement.clear();
    assert!(!AuthorizerResponse::Rest(rest).is_allowed(), "no statement, no Allow");
}

/// `"version": "2.0"` and only that reads the event as the HTTP API's; the peek builds
/// nothing else and any other `version` is a REST event, as before.
#[test]
fn the_event_shape_is_chosen_by_version() {
    let decode = |v: Value| AuthorizerEvent::from_slice(&serde_json::to_vec(&v).unwrap());
    let v2 = event(true, serde_json::Map::new());
    assert!(matches!(decode(v2.clone()), Ok(AuthorizerEvent::HttpApi(_))));
    for version in [Value::Null, serde_json::json!("1.0"), serde_json::json!(2), serde_json::json!({"a": [1]})] {
        let mut e = event(false, serde_json::Map::new());
        e["version"] = version.clone();
        assert!(matches!(decode(e), Ok(AuthorizerEvent::Rest(_))), "{version}");
    }
    let rest = event(false, serde_json::Map::new());
    assert!(matches!(decode(rest.clone()), Ok(AuthorizerEvent::Rest(_))));
    assert!(decode(serde_json::json!([1, 2])).is_err());
    assert!(decode(serde_json::json!({"headers": 5})).is_err());
    // The same through serde (the local gateway and tests decode from values).
    assert!(matches!(serde_json::from_value::<AuthorizerEvent>(v2), Ok(AuthorizerEvent::HttpApi(_))));
    assert!(matches!(serde_json::from_value::<AuthorizerEvent>(rest), Ok(AuthorizerEvent::Rest(_))));
}

/// The production path: the event's JSON text through [`invoke`].
async fn answer<S: KeyLookup>(store: &S, event: &Value) -> Result<AuthorizerResponse, AuthorizerError> {
    invoke(store, &serde_json::value::to_raw_value(event).unwrap(), "test").await
}

/// A REST or HTTP API event for `GET /v1/runs` with `headers`.
fn event(http_api: bool, headers: serde_json::Map<String, Value>) -> Value {
    if http_api {
        serde_json::json!({"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
            "headers": headers, "requestContext": {"http": {"method": "GET", "path": "/v1/runs"}}})
    } else {
        serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
            "headers": headers, "multiValueHeaders": {}, "requestContext": {}})
    }
}

/// Allow and Deny alike carry the request's user agent, escaped for the access log (API
/// Gateway inserts `$context.authorizer.user_agent` raw); without one, no entry.
#[test]
fn the_context_carries_the_user_agent_escaped() {
    let live = overten::ApiKey::generate();
    let store = FixedStore::with_keys(vec![(live.hash(), overten::store::sample_record("key_live", false))]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let agents = [
        ("curl/8.5.0", "curl/8.5.0"),
        (r#"x","keyId":"key_forged"#, "x%22,%22keyId%22:%22key_forged"),
        (r"back\slash", "back%5Cslash"),
        ("tab\there é", "tab%09here %C3%A9"),
    ];
    for http_api in [false, true] {
        for (agent, logged) in agents {
            for key in [Some(live.expose_secret()), None] {
                let mut headers = serde_json::Map::new();
                headers.insert("user-agent".into(), agent.into());
                if let Some(key) = key {
                    headers.insert("x-api-key".into(), key.into());
                }
                let answer = runtime.block_on(answer(&store, &event(http_api, headers)));
                if key.is_none() && !http_api {
                    assert!(matches!(answer, Err(AuthorizerError::Unauthorized(_))), "no context on the REST 401");
                    continue;
                }
                let answer = answer.unwrap();
                let context = answer.context();
                assert_eq!(context.user_agent.as_deref(), Some(logged), "{agent:?}: {answer:?}");
                if key.is_some() {
                    let expected = AuthContext {
                        org_id: Some("org_1".into()),
                        key_id: Some("key_live".into()),
                        user_agent: Some(logged.into()),
                        ..Default::default()
                    };
                    assert_eq!(context, &expected, "the billing ids and the user agent, nothing else");
                } else {
                    assert_eq!(context.error_code.as_deref(), Some("missing_api_key"));
                }
            }
        }
        let mut headers = serde_json::Map::new();
        headers.insert("x-api-key".into(), live.expose_secret().into());
        let allowed = runtime.block_on(answer(&store, &event(http_api, headers))).unwrap();
        let wire = serde_json::to_value(&allowed).unwrap();
        assert_eq!(wire["context"], serde_json::json!({"org_id": "org_1", "key_id": "key_live"}));
        let denied = runtime.block_on(answer(&store, &event(http_api, serde_json::Map::new())));
        if !http_api {
            assert!(matches!(denied, Err(AuthorizerError::Unauthorized(_))), "the REST 401 has no context");
            continue;
        }
        let denied = denied.unwrap();
        assert_eq!(denied.context().user_agent, None, "{denied:?}");
        let wire = serde_json::to_value(&denied).unwrap();
        assert!(wire["context"].get("user_agent").is_none(), "{wire}");
    }
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "(REQUEST|2.0|sk_live_[0-9A-Za-z]{0,30}|arn:aws:execute-api:[a-z0-9:/-]{0,40}|.{0,20})".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                "(version|type|methodArn|headers|x-api-key|authorization|requestContext|routeArn|.{0,8})",
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any event: a Deny, or an error (API Gateway answers 5xx). Never a panic, never an Allow
    /// from a store that knows no key.
    #[test]
    fn arbitrary_events_never_allow(event in arbitrary_json()) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        if let Ok(answer) = runtime.block_on(answer(&FixedStore::empty(), &event)) {
            prop_assert!(!answer.is_allowed(), "{:?}", answer);
        }
    }
}

/// What a request may carry: the live key, the revoked key, a well-formed key nobody issued,
/// the live key with one character changed, or garbage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Credential {
    Live,
    Revoked,
    Unknown,
    Mutated(usize),
    Garbage,
}

fn credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        Just(Credential::Live),
        Just(Credential::Revoked),
        Just(Credential::Unknown),
        (0usize..36).prop_map(Credential::Mutated),
        Just(Credential::Garbage),
    ]
}

struct Keys {
    live: overten::ApiKey,
    revoked: overten::ApiKey,
    unknown: overten::ApiKey,
}

impl Keys {
    fn text(&self, credential: Credential) -> String {
        match credential {
            Credential::Live => self.live.expose_secret().to_owned(),
            Credential::Revoked => self.revoked.expose_secret().to_owned(),
            Credential::Unknown => self.unknown.expose_secret().to_owned(),
            Credential::Mutated(at) => {
                let mut bytes = self.live.expose_secret().as_bytes().to_vec();
                bytes[at] = if bytes[at] == b'a' { b'b' } else { b'a' };
                String::from_utf8(bytes).unwrap()
            }
            Credential::Garbage => "sk_live_not-a-key".to_owned(),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// `Allow` exactly when the credential that counts (X-API-Key first, else the bearer) is
    /// the live key's bytes and the store answers; a failing store never yields `Allow`.
    #[test]
    fn allow_exactly_for_the_live_key(
        x_api_key in proptest::option::of(credential()),
        bearer in proptest::option::of(credential()),
        failing in any::<bool>(),
        http_api in any::<bool>(),
    ) {
        let keys = Keys { live: overten::ApiKey::generate(), revoked: overten::ApiKey::generate(), unknown: overten::ApiKey::generate() };
        let store = if failing {
            FixedStore::failing()
        } else {
            FixedStore::with_keys(vec![
                (keys.live.hash(), overten::store::sample_record("key_live", false)),
                (keys.revoked.hash(), overten::store::sample_record("key_revoked", true)),
            ])
        };
        let mut headers = serde_json::Map::new();
        if let Some(c) = x_api_key { headers.insert("x-api-key".into(), keys.text(c).into()); }
        if let Some(c) = bearer { headers.insert("authorization".into(), format!("Bearer {}", keys.text(c)).into()); }
        let event = if http_api {
            serde_json::json!({"version": "2.0", "type": "REQUEST", "routeArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                "headers": headers, "requestContext": {"http": {"method": "GET", "path": "/v1/runs"}}})
        } else {
            serde_json::json!({"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/v1/runs",
                "headers": headers, "multiValueHeaders": {}, "requestContext": {}})
        };
        let counts = x_api_key.or(bearer);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let answer = runtime.block_on(answer(&store, &event));
        // The REST API's key problems are the error `Unauthorized`: the same refusal, its code
        // carried by the error instead of the context.
        if let Err(AuthorizerError::Unauthorized(err)) = &answer {
            prop_assert!(!http_api, "the HTTP API answers every refusal");
            let expected = if counts.is_none() { "missing_api_key" } else { "invalid_api_key" };
            prop_assert_eq!(err.code(), expected);
            prop_assert!(counts != Some(Credential::Live) || failing, "the live key is never refused by a working store");
            return Ok(());
        }
        let allowed = answer.as_ref().is_ok_and(AuthorizerResponse::is_allowed);
        prop_assert_eq!(allowed, !failing && counts == Some(Credential::Live), "{:?}", answer);
        if let Ok(a) = &answer {
            let context = a.context();
            if allowed {
                // What downstream services bill by, and nothing else.
                prop_assert_eq!(context.key_id.as_deref(), Some("key_live"));
                prop_assert_eq!(context.org_id.as_deref(), Some("org_1"));
                prop_assert!(context.error_code.is_none());
            } else {
                // A key of ours that ended is named, for the access log's usage line; no
                // other refusal names one.
                let named = counts == Some(Credential::Revoked);
                prop_assert_eq!(context.key_id.is_some(), named);
                prop_assert_eq!(context.org_id.is_some(), named);
                let expected = if counts.is_none() { "missing_api_key" } else { "invalid_api_key" };
                prop_assert_eq!(context.error_code.as_deref(), Some(expected));
                prop_assert!(context.error_message.as_deref().is_some_and(|m| !m.is_empty()));
            }
        }
        // Errors (API Gateway's 5xx) happen only when the store failed on a well-formed key.
        let well_formed = matches!(counts, Some(Credential::Live | Credential::Revoked | Credential::Unknown));
        prop_assert_eq!(matches!(answer, Err(AuthorizerError::Store(_))), failing && well_formed, "{:?}", answer);
    }
}

/// A REST or HTTP API event for the table's route `method resource`, with a key and a user agent.
fn routed(http_api: bool, method: &str, resource: &str, key: &str, agent: &str) -> Value {
    let headers = serde_json::json!({"x-api-key": key, "user-agent": agent});
    let arn = format!("arn:aws:execute-api:us-east-1:123456789012:abc/prod/{method}{resource}");
    if http_api {
        serde_json::json!({"version": "2.0", "type": "REQUEST", "routeArn": arn, "routeKey": format!("{method} {resource}"),
            "headers": headers, "requestContext": {"http": {"method": method, "path": resource}}})
    } else {
        serde_json::json!({"type": "REQUEST", "methodArn": arn, "httpMethod": method, "resource": resource,
            "headers": headers, "multiValueHeaders": {}, "requestContext": {}})
    }
}

/// Field by field, what downstream services and the access log read: an Allow for a restricted
/// key that expires (its ids, its end, its lists), and a permission denial (its ids for the
/// usage line, the contract's code, message and `required`), each with the user agent.
#[test]
fn an_allow_and_a_permission_denial_carry_their_whole_context() {
    let key = overten::ApiKey::generate();
    let mut record = overten::store::sample_record("key_live", false);
    // A day ahead of the clock the authorizer judges by (a fixed date would expire one day).
    let expires_at = overten::clock::now_secs() + 86_400;
    record.expires_at = Some(expires_at);
    record.restrictions = overten::restrictions::Restrictions {
        permissions: Some(vec![overten::restrictions::Permission::parse("runs:read").unwrap()]),
        formats: Some(vec!["pdf".into()]),
        allowed_ips: None,
    };
    let store = FixedStore::with_keys(vec![(key.hash(), record)]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    for http_api in [false, true] {
        let event = routed(http_api, "GET", "/v1/runs/{run_id}", key.expose_secret(), "curl/8.5.0");
        let allowed = runtime.block_on(answer(&store, &event)).unwrap();
        assert!(allowed.is_allowed(), "{allowed:?}");
        let expected = AuthContext {
            org_id: Some("org_1".into()),
            key_id: Some("key_live".into()),
            expires_at: Some(overten::clock::rfc3339(expires_at)),
            permissions: Some("runs:read".into()),
            formats: Some("pdf".into()),
            user_agent: Some("curl/8.5.0".into()),
            ..Default::default()
        };
        assert_eq!(allowed.context(), &expected, "http_api={http_api}");

        let event = routed(http_api, "POST", "/v1/runs", key.expose_secret(), "curl/8.5.0");
        let denied = runtime.block_on(answer(&store, &event)).unwrap();
        assert!(!denied.is_allowed(), "{denied:?}");
        let expected = AuthContext {
            org_id: Some("org_1".into()),
            key_id: Some("key_live".into()),
            error_code: Some("permission_denied".into()),
            error_message: Some("this key lacks runs:write".into()),
            required: Some(r#"{"format":null,"permission":"runs:write"}"#.into()),
            user_agent: Some("curl/8.5.0".into()),
            ..Default::default()
        };
        assert_eq!(denied.context(), &expected, "http_api={http_api}");
    }
}

/// A REST 401 carries no context, so for a key of ours that ended the authorizer writes that
/// attempt's `key usage` line itself (README, "Key usage"): the key, the route, the refusal.
#[test]
fn a_rest_401_for_an_ended_key_writes_its_usage_line() {
    let key = overten::ApiKey::generate();
    let store = FixedStore::with_keys(vec![(key.hash(), overten::store::sample_record("key_gone", true))]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let event = routed(false, "GET", "/v1/runs/{run_id}", key.expose_secret(), "curl/8.5.0");
    let mut answered = None;
    let text = overten::logging::capture(|| answered = Some(runtime.block_on(answer(&store, &event))));
    assert!(matches!(answered, Some(Err(AuthorizerError::Unauthorized(_)))), "{answered:?}");
    let usage: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["fields"]["message"] == "key usage")
        .collect();
    assert_eq!(usage.len(), 1, "{text}");
    let fields = &usage[0]["fields"]["usage"];
    assert_eq!(
        (&fields["key_id"], &fields["route"], &fields["refused"], &fields["status"]),
        (
            &Value::from("key_gone"),
            &Value::from("GET /v1/runs/{run_id}"),
            &Value::from("revoked_api_key"),
            &Value::from(401)
        ),
        "{text}"
    );
    assert!(!text.contains(key.expose_secret()), "no key in any line");

    // A key that is not ours has no usage to count.
    let event = routed(false, "GET", "/v1/runs/{run_id}", overten::ApiKey::generate().expose_secret(), "curl/8.5.0");
    let text = overten::logging::capture(|| drop(runtime.block_on(answer(&store, &event))));
    assert!(!text.contains("key usage"), "{text}");
}
