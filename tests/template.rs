//! `template.yaml` against what the service needs: the table definitions of `infra/tables.json`,
//! the Lambda settings, the authorizer wiring, and least-privilege policies. (cfn-lint and
//! `sam validate --lint` run in `make test` too.)

use std::collections::BTreeSet;

use serde_yaml::Value;

fn template() -> Value {
    serde_yaml::from_str(include_str!("../template.yaml")).expect("template.yaml parses")
}

fn resource<'t>(t: &'t Value, name: &str) -> &'t Value {
    &t["Resources"][name]
}

/// The template's resources of one type, by logical name.
fn resources_of<'t>(t: &'t Value, kind: &str) -> Vec<(&'t str, &'t Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(kind))
        .map(|(name, r)| (name.as_str().unwrap(), r))
        .collect()
}

/// The one table a grant's `Resource` names: `!GetAtt T.Arn`, or a list of it and its indexes
/// (`!Sub "${T.Arn}/index/…"`); empty when it names several or none.
fn table_of(v: &Value) -> String {
    let of = |v: &Value| {
        let text = target(v);
        match text.strip_prefix("${").and_then(|t| t.split_once(".Arn}")) {
            Some((table, _)) => table.to_owned(),
            None => text,
        }
    };
    match v.as_sequence() {
        Some(list) => {
            let tables: BTreeSet<String> = list.iter().map(of).collect();
            if tables.len() == 1 { tables.into_iter().next().unwrap() } else { String::new() }
        }
        None => of(v),
    }
}

/// `!GetAtt X.Arn` / `!Ref X` → `X`.
fn target(v: &Value) -> String {
    match v {
        Value::Tagged(tagged) => tagged.value.as_str().unwrap_or_default().trim_end_matches(".Arn").to_owned(),
        other => other.as_str().unwrap_or_default().to_owned(),
    }
}

fn to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

#[test]
fn tables_match_the_single_definition() {
    let t = template();
    let defs: serde_json::Value = serde_json::from_str(overten::store::tables::TABLES_JSON).unwrap();
    for (resource_name, logical) in [("ApiKeysTable", "ApiKeys"), ("OrgsTable", "Orgs")] {
        let props = &resource(&t, resource_name)["Properties"];
        assert_eq!(to_json(&props["AttributeDefinitions"]), defs[logical]["AttributeDefinitions"], "{resource_name}");
        assert_eq!(to_json(&props["KeySchema"]), defs[logical]["KeySchema"], "{resource_name}");
        assert_eq!(
            to_json(&props["TimeToLiveSpecification"]),
            defs[logical].get("TimeToLiveSpecification").cloned().unwrap_or(serde_json::Value::Null),
            "{resource_name}: TTL as infra/tables.json declares it"
        );
        assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
        assert_eq!(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(), Some(true));
        assert!(target(&props["TableName"]).contains("${Stage}"), "table names include the stage");
        assert!(matches!(&props["DeletionProtectionEnabled"], Value::Tagged(_)), "deletion protection follows IsProd");
    }
}

#[test]
fn functions_are_rust_on_arm64_built_with_cargo_lambda() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(globals["Architectures"][0].as_str(), Some("arm64"));
    assert_eq!(globals["Handler"].as_str(), Some("bootstrap"));
    let crates: BTreeSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut binaries = BTreeSet::new();
    for (name, r) in t["Resources"].as_mapping().unwrap() {
        if r["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(r["Metadata"]["BuildMethod"].as_str(), Some("rust-cargolambda"), "{name:?}");
        assert!(r["Properties"].get("Runtime").is_none() && r["Properties"].get("Architectures").is_none());
        binaries.insert(r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap().to_owned());
    }
    assert_eq!(binaries, crates, "one function per crate in functions/");
}

#[test]
fn the_authorizer_guards_downstream_routes_and_not_its_own() {
    let t = template();
    let auth = &resource(&t, "Api")["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"].as_str(), Some("ApiKeyAuthorizer"));
    let authorizer = &auth["Authorizers"]["ApiKeyAuthorizer"];
    assert_eq!(authorizer["FunctionPayloadType"].as_str(), Some("REQUEST"));
    assert_eq!(target(&authorizer["FunctionArn"]), "AuthorizerFunction");
    // No cache and no identity source: revocation is immediate and a missing key reaches the
    // function (for the contract's missing_api_key body).
    assert_eq!(authorizer["Identity"]["ReauthorizeEvery"].as_u64(), Some(0));
    assert_eq!(authorizer["Identity"].as_mapping().unwrap().len(), 1, "no identity source");
    assert!(t["Parameters"].get("AuthorizerCacheTtl").is_none(), "a cache parameter that cannot deploy");

    for (_, r) in t["Resources"].as_mapping().unwrap() {
        let Some(events) = r["Properties"]["Events"].as_mapping() else { continue };
        for (_, e) in events {
            let p = &e["Properties"];
            let route = format!("{} {}", p["Method"].as_str().unwrap().to_uppercase(), p["Path"].as_str().unwrap());
            let own_auth = p["Auth"]["Authorizer"].as_str() == Some("NONE");
            assert_eq!(own_auth, !route.starts_with("GET /v1/"), "{route}: only downstream routes use the authorizer");
        }
    }
    let routes = overten_tests::template_routes();
    let expected: BTreeSet<String> = [
        "POST /signup",
        "POST /orgs/{org_id}/api-keys",
        "GET /orgs/{org_id}/api-keys",
        "DELETE /orgs/{org_id}/api-keys/{key_id}",
        "PATCH /orgs/{org_id}/api-keys/{key_id}",
        "POST /orgs/{org_id}/api-keys/{key_id}/roll",
        "GET /orgs/{org_id}/events",
        "GET /orgs/{org_id}/api-keys/{key_id}/usage",
        "GET /orgs/{org_id}/api-keys/{key_id}/suggested-restrictions",
        "GET /orgs/{org_id}/usage",
        "POST /secret-scanning/github",
        "GET /verify",
        "GET /v1/whoami",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    let responses = &resource(&t, "Api")["Properties"]["GatewayResponses"];
    // A Deny is a permission denial (403, the authorizer's message and `required`); a key problem
    // is the authorizer's error `Unauthorized` (401).
    assert_eq!(responses["ACCESS_DENIED"]["StatusCode"].as_str(), Some("403"));
    let denied = responses["ACCESS_DENIED"]["ResponseTemplates"]["application/json"].as_str().unwrap();
    assert!(
        denied.contains("$context.authorizer.error_code")
            && denied.contains(r#""required":$context.authorizer.required}"#)
    );
    assert_eq!(responses["UNAUTHORIZED"]["StatusCode"].as_str(), Some("401"));
    // A Lambda authorizer that errs or times out is AUTHORIZER_CONFIGURATION_ERROR (README,
    // "Gateway responses"): the fail-closed authorizer must reach the caller as 503.
    for kind in ["AUTHORIZER_CONFIGURATION_ERROR", "AUTHORIZER_FAILURE", "INTEGRATION_TIMEOUT"] {
        assert_eq!(responses[kind]["StatusCode"].as_str(), Some("503"), "{kind}");
        let body = responses[kind]["ResponseTemplates"]["application/json"].as_str().unwrap();
        assert!(body.contains(r#""code":"service_unavailable""#), "{kind}");
    }
    let too_large = responses["REQUEST_TOO_LARGE"]["ResponseTemplates"]["application/json"].as_str().unwrap();
    assert!(
        too_large.contains("10485760") && !too_large.contains("16384"),
        "API Gateway's own limit, not the functions'"
    );
    for (kind, entry) in responses.as_mapping().unwrap() {
        let headers = &entry["ResponseParameters"]["Headers"];
        assert_eq!(target(&headers["Access-Control-Allow-Origin"]), "'${CorsAllowedOrigin}'", "{kind:?}");
        assert_eq!(headers["Vary"].as_str(), Some("'Origin'"), "{kind:?}");
    }
    let export = &t["Outputs"]["AuthorizerFunctionArn"];
    assert_eq!(target(&export["Value"]), "AuthorizerFunction");
}

/// Every statement of a function's inline policies, both branches of an `!If` included.
fn statements<'t>(t: &'t Value, function: &str) -> Vec<&'t Value> {
    fn walk<'t>(policy: &'t Value, out: &mut Vec<&'t Value>) {
        match policy {
            Value::Tagged(tagged) if tagged.tag == "If" => {
                for branch in tagged.value.as_sequence().unwrap().iter().skip(1) {
                    walk(branch, out);
                }
            }
            Value::Tagged(tagged) => assert_eq!(tagged.value.as_str(), Some("AWS::NoValue"), "{policy:?}"),
            _ => out.extend(policy["Statement"].as_sequence().expect("an inline policy document")),
        }
    }
    let mut out = Vec::new();
    for policy in resource(t, function)["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        walk(policy, &mut out);
    }
    out
}

fn action_list(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(a) => vec![a.as_str()],
        actions => actions.as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect(),
    }
}

/// The `ForAllValues:StringEquals` `dynamodb:Attributes` list of a statement, if it has one.
fn attributes_condition(statement: &Value) -> Option<BTreeSet<&str>> {
    let list = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"].as_sequence()?;
    Some(list.iter().map(|v| v.as_str().unwrap()).collect())
}

const WRITES: [&str; 4] = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"];

/// Which actions each function needs is checked against the calls the suite really makes
/// (`tests/iam.rs`); this checks what no recording can: grants that must never exist, and the
/// conditions that keep the hot path and secret scanning from changing what decides a key's
/// validity.
#[test]
fn least_privilege_invariants() {
    let t = template();
    assert!(resource(&t, "WhoAmIFunction")["Properties"].get("Policies").is_none(), "whoami reads no table");
    for (function, _) in resources_of(&t, "AWS::Serverless::Function") {
        for statement in statements(&t, function) {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"), "{function}");
            let actions = action_list(statement);
            assert!(actions.iter().all(|a| a.contains(':') && !a.contains('*')), "{function}: {actions:?}");
            assert!(!actions.contains(&"dynamodb:Scan"), "{function}: no function scans a table");
            if !actions.iter().any(|a| a.starts_with("dynamodb:")) {
                continue;
            }
            let table = table_of(&statement["Resource"]);
            assert!(table.ends_with("Table"), "{function}: DynamoDB grants name one table: {table}");
            // An ApiKeys item is never deleted: it says why a key stopped working.
            if table == "ApiKeysTable" {
                assert!(!actions.contains(&"dynamodb:DeleteItem"), "{function}");
            }
            let writes = actions.iter().any(|a| WRITES.contains(a));
            if writes && table == "ApiKeysTable" {
                // The hot path writes last_used_at and nothing else; secret scanning the
                // revocation and nothing else: neither can un-revoke a key, move it to another
                // org or extend its expiry.
                let (allowed, others): (&[&str], &[&str]) = match function {
                    "AuthorizerFunction" | "VerifyFunction" => {
                        (&["key_hash", "last_used_at"], &["dynamodb:UpdateItem"])
                    }
                    "SecretScanningFunction" => (
                        &[
                            "key_hash",
                            "org_id",
                            "key_id",
                            "revoked_at",
                            "revoked_reason",
                            "leaked_url",
                            "leaked_source",
                        ],
                        &["dynamodb:UpdateItem"],
                    ),
                    _ => continue,
                };
                assert!(actions.iter().all(|a| others.contains(a)), "{function}: {actions:?}");
                let attributes = attributes_condition(statement)
                    .unwrap_or_else(|| panic!("{function}: a dynamodb:Attributes condition on its ApiKeys write"));
                assert!(attributes.iter().all(|a| allowed.contains(a)), "{function}: {attributes:?}");
                assert!(!attributes.contains("expires_at") && !attributes.contains("rolled_to"));
            }
            if matches!(function, "AuthorizerFunction" | "VerifyFunction") && writes {
                assert_eq!(table, "ApiKeysTable", "{function}: the hot path writes nothing else");
                let return_values = &statement["Condition"]["StringEqualsIfExists"]["dynamodb:ReturnValues"];
                assert_eq!(strings(return_values), ["NONE"], "{function}: a touch returns nothing");
            }
        }
    }
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence().map(|s| s.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

#[test]
fn every_log_group_has_a_retention_and_every_function_its_log_group() {
    let t = template();
    let mut groups = BTreeSet::new();
    for (name, r) in resources_of(&t, "AWS::Logs::LogGroup") {
        assert_eq!(target(&r["Properties"]["RetentionInDays"]), "LogRetentionDays", "{name}");
        groups.insert(name.to_owned());
    }
    for (name, r) in resources_of(&t, "AWS::Serverless::Function") {
        let group = target(&r["Properties"]["LoggingConfig"]["LogGroup"]);
        assert!(groups.contains(&group), "{name} logs to {group}, which the template does not declare");
        let function_name = target(&r["Properties"]["FunctionName"]);
        let group_name = target(&resource(&t, &group)["Properties"]["LogGroupName"]);
        assert_eq!(group_name, format!("/aws/lambda/{function_name}"), "{name}");
    }
    let api = &resource(&t, "Api")["Properties"];
    assert_eq!(target(&api["AccessLogSetting"]["DestinationArn"]), "ApiAccessLogGroup");
    let format: serde_json::Value = serde_json::from_str(api["AccessLogSetting"]["Format"].as_str().unwrap()).unwrap();
    for field in ["requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency"] {
        assert!(format.get(field).is_some(), "access log lacks {field}");
    }
    assert_eq!(format["keyId"], "$context.authorizer.key_id");
    assert_eq!(format["orgId"], "$context.authorizer.org_id");
    assert_eq!(format["authorizerLatency"], "$context.authorizer.latency");
    assert_eq!(format["responseType"], "$context.error.responseType");
    // The client software behind a key's requests, as the authorizer escaped it.
    assert_eq!(format["userAgent"], "$context.authorizer.user_agent");
    let query = &resource(&t, "RequestsByKeyQuery")["Properties"];
    assert_eq!(target(&query["LogGroupNames"][0]), "ApiAccessLogGroup");
    let query = query["QueryString"].as_str().unwrap();
    assert!(query.contains("filter keyId ="));
    let fields = query.lines().next().unwrap().strip_prefix("fields ").unwrap();
    for field in fields.split(',').map(str::trim).filter(|f| !f.starts_with('@')) {
        assert!(format.get(field).is_some(), "the query reads {field}, which the access log does not have");
    }
    assert!(fields.contains("userAgent"), "{fields}");
}

#[test]
fn alarms_throttling_and_tracing_are_wired_to_their_parameters() {
    let t = template();
    let mut alarms = BTreeSet::new();
    for (name, r) in resources_of(&t, "AWS::CloudWatch::Alarm") {
        let actions = serde_json::to_string(&to_json(&r["Properties"]["AlarmActions"])).unwrap();
        assert!(actions.contains("HasAlarmTopic") && actions.contains("AlarmTopicArn"), "{name}: {actions}");
        alarms.insert(name.to_owned());
    }
    let expected = [
        "Api5xxRateAlarm",
        "AuthorizerErrorsAlarm",
        "DynamoDbSystemErrorsAlarm",
        "DynamoDbThrottlesAlarm",
        // Key usage: failed batches, a backlog, batches given up on.
        "UsageAggregatorErrorsAlarm",
        "UsageAggregatorThrottlesAlarm",
        "UsageDeadLettersAlarm",
    ];
    assert_eq!(alarms, expected.into_iter().map(String::from).collect());
    assert_eq!(t["Parameters"]["AlarmTopicArn"]["Default"].as_str(), Some(""));

    let settings = resource(&t, "Api")["Properties"]["MethodSettings"].as_sequence().unwrap();
    assert_eq!(settings[0]["ResourcePath"].as_str(), Some("/*"));
    assert_eq!(target(&settings[0]["ThrottlingRateLimit"]), "ThrottlingRateLimit");
    let signup =
        settings.iter().find(|s| s["ResourcePath"].as_str() == Some("/~1signup")).expect("a POST /signup limit");
    assert_eq!(signup["HttpMethod"].as_str(), Some("POST"));
    let default = |name: &str| t["Parameters"][name]["Default"].as_u64().unwrap();
    assert!(default("SignupThrottlingRateLimit") < default("ThrottlingRateLimit"));
    assert!(default("SignupThrottlingBurstLimit") < default("ThrottlingBurstLimit"));

    let tracing = to_json(&t["Globals"]["Function"]["Tracing"]);
    assert!(tracing.to_string().contains("IsTracing"), "{tracing}");
    assert!(to_json(&resource(&t, "Api")["Properties"]["TracingEnabled"]).to_string().contains("IsTracing"));
}

#[test]
fn the_dashboard_origin_reaches_the_browser_facing_functions() {
    let t = template();
    for function in ["SignupFunction", "KeysFunction"] {
        let env = &resource(&t, function)["Properties"]["Environment"]["Variables"];
        assert_eq!(target(&env["CORS_ALLOWED_ORIGIN"]), "CorsAllowedOrigin", "{function}");
        assert!(env.get("FIREBASE_AUTH_EMULATOR_HOST").is_none() && env.get("FIREBASE_JWKS_URL").is_none());
    }
    let cors = &resource(&t, "Api")["Properties"]["Cors"];
    assert_eq!(target(&cors["AllowOrigin"]), "'${CorsAllowedOrigin}'");
    assert!(!serde_yaml::to_string(&t).unwrap().contains("FIREBASE_AUTH_EMULATOR_HOST"));
}

#[test]
fn samconfig_overrides_only_parameters_the_template_has() {
    let t = template();
    let samconfig = include_str!("../samconfig.toml");
    let mut environments = 0;
    for line in samconfig.lines().filter(|l| l.trim_start().starts_with("parameter_overrides")) {
        environments += 1;
        let value = line.split_once('=').unwrap().1.trim().trim_matches('"');
        for pair in value.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap();
            let parameter = &t["Parameters"][name];
            assert!(parameter.is_mapping(), "samconfig.toml sets {name}, which template.yaml does not declare");
            if let Some(allowed) = parameter["AllowedValues"].as_sequence() {
                assert!(allowed.iter().any(|a| a.as_str() == Some(value)), "{name}={value}");
            }
        }
    }
    assert_eq!(environments, 4, "default, dev, staging and prod");
}

/// The template's `Cors.AllowMethods`, as the preflight answers it.
fn cors_allowed_methods(t: &Value) -> BTreeSet<String> {
    let allowed = resource(t, "Api")["Properties"]["Cors"]["AllowMethods"].as_str().expect("a static AllowMethods");
    allowed.trim_matches('\'').split(',').map(|m| m.trim().to_uppercase()).collect()
}

/// Every method a browser sends to `/signup` and `/orgs/...` (rename is a PATCH) is one the CORS
/// preflight allows; otherwise the browser never sends the request.
#[test]
fn every_browser_facing_method_passes_the_cors_preflight() {
    let t = template();
    let allowed = cors_allowed_methods(&t);
    assert!(allowed.contains("OPTIONS"), "{allowed:?}");
    let mut browser_facing = 0;
    for route in overten_tests::template_routes() {
        let (method, path) = route.split_once(' ').unwrap();
        if path == "/signup" || path.starts_with("/orgs/") {
            browser_facing += 1;
            assert!(allowed.contains(method), "{route}: {method} is not in Cors.AllowMethods {allowed:?}");
        }
    }
    assert!(browser_facing >= 7, "signup and the six key routes");
    let headers = resource(&t, "Api")["Properties"]["Cors"]["AllowHeaders"].as_str().unwrap().to_ascii_lowercase();
    for header in ["authorization", "content-type"] {
        assert!(headers.contains(header), "the dashboard sends {header}: {headers}");
    }
}

/// Each function's `Timeout` is over twice its own bound (`overten::budget`: key-set fetch, one
/// DynamoDB call with its retries, the hot path's `last_used_at` write) and under API Gateway's
/// 29 s integration timeout, so the function never runs on after the caller got a 504.
#[test]
fn every_timeout_fits_inside_api_gateway_and_over_the_functions_own_budget() {
    use std::time::Duration;
    let t = template();
    // The key-set fetch of the budget is the one the configuration really sets.
    let firebase = overten::config::FirebaseConfig::from_lookup(|name| {
        (name == "FIREBASE_PROJECT_ID").then(|| "overten-test".to_owned())
    })
    .unwrap();
    let github = overten::config::GithubKeysConfig::from_lookup(|_| None).unwrap();
    assert_eq!(firebase.fetch_timeout, overten::budget::KEY_SET_FETCH_TIMEOUT);
    assert_eq!(github.fetch_timeout, overten::budget::KEY_SET_FETCH_TIMEOUT);
    let global = t["Globals"]["Function"]["Timeout"].as_u64();
    let functions = resources_of(&t, "AWS::Serverless::Function");
    assert!(functions.len() >= 6);
    for (name, r) in functions {
        let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap();
        let budget = overten::budget::of_function(binary).unwrap_or_else(|| panic!("{binary} has no budget"));
        let timeout = Duration::from_secs(r["Properties"]["Timeout"].as_u64().or(global).expect("a Timeout"));
        assert!(
            timeout < overten::budget::API_GATEWAY_INTEGRATION_TIMEOUT,
            "{name}: {timeout:?} does not fit inside API Gateway's 29 s"
        );
        assert!(timeout >= budget.total() * 2, "{name}: {timeout:?} is not twice its budget {:?}", budget.total());
    }
}

/// `POST /secret-scanning/github` needs no credential: its own throttle (tighter than the
/// stage's) and a reserved-concurrency cap keep a flood from starving the authorizer.
#[test]
fn the_unauthenticated_route_has_its_own_bucket_and_a_concurrency_cap() {
    let t = template();
    let settings = resource(&t, "Api")["Properties"]["MethodSettings"].as_sequence().unwrap();
    let scanning = settings
        .iter()
        .find(|s| s["ResourcePath"].as_str() == Some("/~1secret-scanning~1github"))
        .expect("a POST /secret-scanning/github limit");
    assert_eq!(scanning["HttpMethod"].as_str(), Some("POST"));
    assert_eq!(target(&scanning["ThrottlingRateLimit"]), "SecretScanningThrottlingRateLimit");
    assert_eq!(target(&scanning["ThrottlingBurstLimit"]), "SecretScanningThrottlingBurstLimit");
    let default = |name: &str| t["Parameters"][name]["Default"].as_u64().unwrap();
    assert!(default("SecretScanningThrottlingRateLimit") < default("ThrottlingRateLimit"));
    assert!(default("SecretScanningThrottlingBurstLimit") < default("ThrottlingBurstLimit"));
    let function = &resource(&t, "SecretScanningFunction")["Properties"];
    assert_eq!(target(&function["ReservedConcurrentExecutions"]), "SecretScanningReservedConcurrency");
    // Lambda keeps at least 100 of the account's (default 1,000) unreserved.
    let reserved = default("SecretScanningReservedConcurrency");
    assert!(
        (1..=100).contains(&reserved)
            && t["Parameters"]["SecretScanningReservedConcurrency"]["MaxValue"].as_u64() <= Some(100)
    );
    // Every route a caller can reach without a key stays throttled tighter than the stage.
    for (path, method) in [("/~1signup", "POST"), ("/~1secret-scanning~1github", "POST")] {
        assert!(
            settings
                .iter()
                .any(|s| s["ResourcePath"].as_str() == Some(path) && s["HttpMethod"].as_str() == Some(method)),
            "{method} {path}"
        );
    }
}

/// API Gateway inserts `$context` values into the access-log format as they are (no JSON
/// escaping; README, "Logs"). So the format uses only variables whose value the client cannot
/// choose freely: ids, numbers, the template's own resource paths, the authorizer's ids and codes,
/// and the one client text the authorizer escapes itself (its `user_agent`).
#[test]
fn access_log_fields_are_none_a_client_can_write() {
    let t = template();
    let format = resource(&t, "Api")["Properties"]["AccessLogSetting"]["Format"].as_str().unwrap();
    let fields: serde_json::Map<String, serde_json::Value> = serde_json::from_str(format).unwrap();
    // Why each is safe: requestId is a UUID (API Gateway replaces an overriding header that is
    // not one); sourceIp is the TCP peer's address; httpMethod a method token; resourcePath the
    // template's; the authorizer's values are ids and codes it mints; the rest are numbers, dates
    // and response types.
    let safe = [
        "requestId",
        "identity.sourceIp",
        "requestTime",
        "requestTimeEpoch",
        "httpMethod",
        "resourcePath",
        "status",
        "responseLatency",
        "integrationLatency",
        "authorizer.latency",
        "authorizer.org_id",
        "authorizer.key_id",
        "authorizer.error_code",
        "error.responseType",
    ];
    // Client text, escaped by the authorizer before API Gateway sees it
    // (`overten::access_log::escape`: printable ASCII but `"`, `\` and `%`, every other byte
    // `%XX`), so it can be neither broken out of nor forge a field.
    // A format slug (`^[a-z0-9][a-z0-9._-]{0,31}$`), or nothing: the authorizer passes on no
    // other path parameter (`authorizer::tests::only_a_format_slug_reaches_the_access_log`).
    let escaped_by_us = ["authorizer.user_agent", "authorizer.key_format"];
    for (field, value) in &fields {
        let value = value.as_str().unwrap();
        let variable = value.strip_prefix("$context.").unwrap_or_else(|| panic!("{field}: {value}"));
        assert!(
            safe.contains(&variable) || escaped_by_us.contains(&variable),
            "{field}: ${variable} may carry what a client sends"
        );
    }
    // API Gateway's own copies of client text stay out, whatever field would hold them.
    for raw in ["$context.identity.userAgent", "$context.path", "$context.identity.caller"] {
        assert!(!format.contains(raw), "{raw}: raw client text");
    }
    // The escaped user agent is the authorizer's, as its context names it.
    let context = serde_json::to_value(authorizer::AuthContext {
        user_agent: Some(overten::access_log::escape(br#"x","keyId":"key_forged"#)),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(context, serde_json::json!({"user_agent": "x%22,%22keyId%22:%22key_forged"}));
}

/// One source for error bodies: each gateway response type with a static body names the
/// `overten::Error` it stands for, and its body, rendered as API Gateway renders it (the local
/// gateway's renderer, with a request id), is exactly `err.body(request_id)` — code and message —
/// with `err.status()` where the template sets a status. A message changed on one side only, or a
/// new static response that names no error, fails here. `ACCESS_DENIED` is the one dynamic body
/// (the authorizer's own `Error`, `tests/gateway.rs` `every_denial_renders_as_valid_json`).
#[test]
fn static_gateway_responses_are_the_bodies_of_error_rs() {
    use local_gateway::template::{ApiTemplate, render};
    use overten::Error;

    let t = ApiTemplate::load(|_| None).unwrap();
    let request_id = "c0ffee00-0000-4000-8000-000000000019";
    // The detail of a server error is for the log: any will do, the body never shows it.
    let unavailable = || Error::Unavailable("not shown".into());
    let errors: Vec<(&str, Error)> = vec![
        ("UNAUTHORIZED", Error::ApiKeyRefused),
        ("AUTHORIZER_CONFIGURATION_ERROR", unavailable()),
        ("AUTHORIZER_FAILURE", unavailable()),
        ("MISSING_AUTHENTICATION_TOKEN", Error::RouteNotFound),
        ("REQUEST_TOO_LARGE", Error::PayloadTooLarge(local_gateway::MAX_GATEWAY_BODY)),
        ("THROTTLED", Error::RateLimited),
        ("INTEGRATION_TIMEOUT", unavailable()),
        ("DEFAULT_5XX", Error::Internal("not shown".into())),
    ];
    // Every uncustomised 4xx type: an `invalid_request` naming the type, with the type's own status.
    let default_4xx =
        |response_type: &str| Error::InvalidRequest(format!("the gateway refused the request ({response_type})"));

    let static_types: BTreeSet<&str> = t
        .gateway_responses
        .iter()
        .filter(|(_, response)| !response.body_template.contains("$context.authorizer."))
        .map(|(kind, _)| kind.as_str())
        .collect();
    let named: BTreeSet<&str> = errors.iter().map(|(kind, _)| *kind).chain(["DEFAULT_4XX"]).collect();
    assert_eq!(static_types, named, "a static gateway response without its Error here");

    let rendered = |kind: &str, response_type: &str| -> serde_json::Value {
        let template = &t.gateway_responses[kind].body_template;
        let body = render(template, &|name| match name {
            "requestId" => Some(request_id.to_owned()),
            "error.responseType" => Some(response_type.to_owned()),
            _ => None,
        });
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{kind}: {body}: {e}"))
    };
    for (kind, err) in &errors {
        assert_eq!(rendered(kind, kind), err.body(request_id), "{kind}: the template's body is not error.rs's");
        match t.gateway_responses[*kind].status {
            Some(status) => assert_eq!(status, err.status(), "{kind}"),
            // Only the fallbacks keep each type's own status.
            None => assert!(kind.starts_with("DEFAULT_"), "{kind} sets no StatusCode"),
        }
    }
    assert_eq!(t.gateway_responses["DEFAULT_4XX"].status, None, "each 4xx type keeps its own status");
    for response_type in ["BAD_REQUEST_BODY", "UNSUPPORTED_MEDIA_TYPE", "QUOTA_EXCEEDED", "WAF_FILTERED"] {
        assert_eq!(t.gateway_response(response_type).body_template, t.gateway_responses["DEFAULT_4XX"].body_template);
        assert_eq!(
            rendered("DEFAULT_4XX", response_type),
            default_4xx(response_type).body(request_id),
            "{response_type}"
        );
    }
}
