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
    assert_eq!(target(&authorizer["Identity"]["ReauthorizeEvery"]), "AuthorizerCacheTtl");
    assert_eq!(t["Parameters"]["AuthorizerCacheTtl"]["Default"].as_u64(), Some(0), "caching off by default");

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
        "GET /verify",
        "GET /v1/whoami",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(routes, expected);

    let responses = &resource(&t, "Api")["Properties"]["GatewayResponses"];
    assert_eq!(responses["ACCESS_DENIED"]["StatusCode"].as_str(), Some("401"));
    let denied = responses["ACCESS_DENIED"]["ResponseTemplates"]["application/json"].as_str().unwrap();
    assert!(denied.contains("$context.authorizer.error_code"));
    assert_eq!(responses["AUTHORIZER_FAILURE"]["StatusCode"].as_str(), Some("503"));
    let export = &t["Outputs"]["AuthorizerFunctionArn"];
    assert_eq!(target(&export["Value"]), "AuthorizerFunction");
}

/// Actions per table for one function.
fn actions(t: &Value, function: &str) -> Vec<(String, BTreeSet<String>)> {
    let mut out = Vec::new();
    for policy in resource(t, function)["Properties"]["Policies"].as_sequence().unwrap() {
        for statement in policy["Statement"].as_sequence().unwrap() {
            assert_eq!(statement["Effect"].as_str(), Some("Allow"));
            let acts =
                statement["Action"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
            out.push((target(&statement["Resource"]), acts));
        }
    }
    out
}

#[test]
fn least_privilege_per_function() {
    let t = template();
    let hot_path = vec![(
        "ApiKeysTable".to_owned(),
        BTreeSet::from(["dynamodb:GetItem".to_owned(), "dynamodb:UpdateItem".to_owned()]),
    )];
    assert_eq!(actions(&t, "AuthorizerFunction"), hot_path);
    assert_eq!(actions(&t, "VerifyFunction"), hot_path);
    for function in ["SignupFunction", "KeysFunction"] {
        for (_, acts) in actions(&t, function) {
            assert!(acts.iter().all(|a| a.starts_with("dynamodb:") && !a.contains('*')), "{function}: {acts:?}");
            assert!(!acts.contains("dynamodb:DeleteItem") && !acts.contains("dynamodb:Scan"), "{function}");
        }
    }
    assert!(resource(&t, "WhoAmIFunction")["Properties"].get("Policies").is_none());
}
