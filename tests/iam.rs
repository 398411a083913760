//! Least privilege, checked against what the code really does: every DynamoDB call each function
//! made during the integration suite (recorded by `support/iam_calls.rs`) is evaluated against that
//! function's IAM statements in `template.yaml`, the way IAM evaluates them. A call the deployed
//! role would refuse fails the check; a grant no call used is reported.
//!
//! `infra/scripts/cargo-test.sh` empties the recording, runs the suite with `OVERTEN_IAM_RECORD`
//! set, then runs the ignored test here. The other tests pin the evaluator's semantics (AWS's
//! "Using IAM with DynamoDB transactions", "Using IAM policy conditions for fine-grained access
//! control", and IAM's condition operators and set operators; links in the README, "Security").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use overten_tests::iam_calls::{Call, RECORD_VAR, logical_table};
use serde_yaml::Value;

/// Set when the suite ran partly (a filter, a failure): functions without calls are reported,
/// not failed.
const PARTIAL_VAR: &str = "OVERTEN_IAM_PARTIAL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

#[derive(Debug)]
struct Statement {
    effect: Effect,
    actions: Vec<String>,
    /// `(ARN pattern, how the template says it)`.
    resources: Vec<(String, String)>,
    /// `(operator, condition key, values)`.
    conditions: Vec<(String, String, Vec<String>)>,
    /// The template condition its policy is under (`!If`), e.g. `HasGithubToken` or
    /// `not HasGithubToken`: not every stage has it.
    only_when: Option<String>,
}

#[derive(Debug)]
struct Function {
    logical: String,
    statements: Vec<Statement>,
}

#[derive(Debug)]
struct Template {
    /// By `BuildProperties.Binary`, which is what the recording names.
    functions: BTreeMap<String, Function>,
    /// `(logical id, ARN)` of each `AWS::DynamoDB::Table`.
    tables: Vec<(String, String)>,
}

/// `${X}` → `{X}`, `${T.Arn}` → the table's ARN: the same placeholders on both sides, so an ARN
/// written out in a policy and `!GetAtt T.Arn` compare as IAM would compare the deployed ones.
fn substitute(text: &str, tables: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').map(|e| start + e).unwrap_or(rest.len() - 1);
        let name = &rest[start + 2..end];
        match name.strip_suffix(".Arn").and_then(|table| tables.get(table)) {
            Some(arn) => out.push_str(arn),
            None => write!(out, "{{{name}}}").unwrap(),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A `Resource` value as ARN patterns: `!GetAtt T.Arn`, `!Sub "${T.Arn}/index/*"`, their long
/// forms, a written-out ARN or `*`, or a list of these.
fn resources(v: &Value, tables: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, String> {
    let described = |pattern: String, how: String| Ok(vec![(pattern, how)]);
    match v {
        Value::Sequence(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(resources(item, tables)?);
            }
            Ok(out)
        }
        Value::String(s) => described(substitute(s, tables), s.clone()),
        Value::Tagged(t) if t.tag == "GetAtt" => {
            let target = match &t.value {
                Value::String(s) => s.clone(),
                Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
                other => return Err(format!("!GetAtt {other:?}")),
            };
            let table = target.strip_suffix(".Arn").ok_or_else(|| format!("!GetAtt {target}: not an ARN"))?;
            let arn = tables.get(table).ok_or_else(|| format!("!GetAtt {target}: not a DynamoDB table"))?;
            described(arn.clone(), table.to_owned())
        }
        Value::Tagged(t) if t.tag == "Ref" => {
            let name = t.value.as_str().unwrap_or_default();
            described(format!("{{{name}}}"), format!("!Ref {name}"))
        }
        Value::Tagged(t) if t.tag == "Sub" => match &t.value {
            Value::String(s) => described(substitute(s, tables), s.replace(".Arn}", "}")),
            other => Err(format!("!Sub with variables is not supported: {other:?}")),
        },
        Value::Mapping(m) if m.len() == 1 => {
            let (k, inner) = m.iter().next().unwrap();
            let tag = match k.as_str() {
                Some("Fn::GetAtt") => "GetAtt",
                Some("Fn::Sub") => "Sub",
                Some("Ref") => "Ref",
                _ => return Err(format!("resource {k:?}")),
            };
            let tagged = Value::Tagged(Box::new(serde_yaml::value::TaggedValue {
                tag: serde_yaml::value::Tag::new(tag),
                value: inner.clone(),
            }));
            resources(&tagged, tables)
        }
        other => Err(format!("resource {other:?}")),
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::String(s) => vec![s.clone()],
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// An `Fn::If`'s `[condition, then, else]`, in either spelling.
fn if_branches(v: &Value) -> Option<&[Value]> {
    let args = match v {
        Value::Tagged(t) if t.tag == "If" => &t.value,
        Value::Mapping(m) if m.len() == 1 && m.contains_key("Fn::If") => &m["Fn::If"],
        _ => return None,
    };
    args.as_sequence().map(Vec::as_slice).filter(|a| a.len() == 3)
}

fn is_no_value(v: &Value) -> bool {
    match v {
        Value::Tagged(t) => t.tag == "Ref" && t.value.as_str() == Some("AWS::NoValue"),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str) == Some("AWS::NoValue"),
        _ => false,
    }
}

/// Whether an `Action` pattern can name a DynamoDB action: the recording sees DynamoDB only, so
/// the other statements (a Secrets Manager read, say) are left out of the check.
fn may_be_dynamodb(action: &str) -> bool {
    let service = action.split_once(':').map(|(s, _)| s).unwrap_or(action);
    action == "*" || glob(&service.to_ascii_lowercase(), "dynamodb")
}

/// The DynamoDB statements of one entry of a function's `Policies`: an inline policy document,
/// or an `!If` choosing between two (each branch's statements marked with its condition).
fn policy_statements(
    policy: &Value,
    only_when: Option<String>,
    tables: &BTreeMap<String, String>,
) -> Result<Vec<Statement>, String> {
    if is_no_value(policy) {
        return Ok(Vec::new());
    }
    if let Some([condition, then, otherwise]) = if_branches(policy) {
        let name = condition.as_str().ok_or("an !If without a condition name")?;
        let guard = |g: String| Some(only_when.as_ref().map(|w| format!("{w} and {g}")).unwrap_or(g));
        let mut out = policy_statements(then, guard(name.to_owned()), tables)?;
        out.extend(policy_statements(otherwise, guard(format!("not {name}")), tables)?);
        return Ok(out);
    }
    let document = policy.get("Statement").ok_or_else(|| {
        format!("not an inline policy document (a managed policy or a SAM policy template?): {policy:?}")
    })?;
    let list: Vec<&Value> = match document {
        Value::Sequence(s) => s.iter().collect(),
        single => vec![single],
    };
    let mut out = Vec::new();
    for s in list {
        for unsupported in ["NotAction", "NotResource", "Principal", "NotPrincipal"] {
            if s.get(unsupported).is_some() {
                return Err(format!("{unsupported} is not supported by the check"));
            }
        }
        let actions = strings(&s["Action"]);
        if !actions.iter().any(|a| may_be_dynamodb(a)) {
            continue;
        }
        let effect = match s["Effect"].as_str() {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            other => return Err(format!("Effect {other:?}")),
        };
        let mut conditions = Vec::new();
        for (operator, keys) in s.get("Condition").and_then(Value::as_mapping).into_iter().flatten() {
            for (key, values) in keys.as_mapping().ok_or("a Condition operator without keys")? {
                conditions.push((
                    operator.as_str().unwrap_or_default().to_owned(),
                    key.as_str().unwrap_or_default().to_owned(),
                    strings(values),
                ));
            }
        }
        out.push(Statement {
            effect,
            actions,
            resources: resources(&s["Resource"], tables)?,
            conditions,
            only_when: only_when.clone(),
        });
    }
    Ok(out)
}

impl Template {
    fn parse(text: &str) -> Result<Template, String> {
        let t: Value = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let resources_map = t["Resources"].as_mapping().ok_or("no Resources")?;
        let mut tables = BTreeMap::new();
        for (name, r) in resources_map {
            if r["Type"].as_str() == Some("AWS::DynamoDB::Table") {
                let name = name.as_str().unwrap().to_owned();
                let physical = match &r["Properties"]["TableName"] {
                    Value::String(s) => s.clone(),
                    Value::Tagged(t) if t.tag == "Sub" => t.value.as_str().unwrap_or_default().to_owned(),
                    _ => return Err(format!("{name}: a TableName the check can read")),
                };
                let physical = substitute(&physical, &BTreeMap::new());
                tables.insert(name, format!("arn:aws:dynamodb:{{AWS::Region}}:{{AWS::AccountId}}:table/{physical}"));
            }
        }
        let mut functions = BTreeMap::new();
        for (name, r) in resources_map {
            if r["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let logical = name.as_str().unwrap().to_owned();
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .ok_or_else(|| format!("{logical}: no BuildProperties.Binary"))?
                .to_owned();
            if r["Properties"].get("Role").is_some() {
                return Err(format!("{logical}: a Role of its own; the check reads Policies only"));
            }
            let mut statements = Vec::new();
            for (i, policy) in r["Properties"]["Policies"].as_sequence().into_iter().flatten().enumerate() {
                statements.extend(
                    policy_statements(policy, None, &tables)
                        .map_err(|e| format!("{logical}: policy {}: {e}", i + 1))?,
                );
            }
            functions.insert(binary, Function { logical, statements });
        }
        Ok(Template { functions, tables: tables.into_iter().collect() })
    }

    /// The logical table and ARN a recorded table name stands for: tests name tables
    /// `test-<random>-ApiKeys`, the template `overten-${Stage}-ApiKeys`.
    fn table(&self, name: &str) -> Option<&(String, String)> {
        let suffix = format!("-{}", logical_table(name));
        let mut matching = self.tables.iter().filter(|(_, arn)| arn.ends_with(&suffix));
        let found = matching.next();
        if matching.next().is_some() { None } else { found }
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A condition key's value in the request: absent, or its values.
#[derive(Debug)]
enum Context {
    Absent,
    Values(Vec<String>),
}

/// What the call carries for `key`; `Err` for a key the recording cannot answer.
fn context(call: &Call, key: &str) -> Result<Context, String> {
    let single = |v: &Option<String>| v.clone().map(|v| Context::Values(vec![v])).unwrap_or(Context::Absent);
    Ok(match key {
        "dynamodb:Attributes" => match &call.attributes {
            Some(names) => Context::Values(names.iter().cloned().collect()),
            None => {
                return Err(
                    "the request returns whole items (no projection): dynamodb:Attributes is not modelled for it"
                        .into(),
                );
            }
        },
        "dynamodb:ReturnValues" => single(&call.return_values),
        "dynamodb:Select" => single(&call.select),
        "dynamodb:ReturnConsumedCapacity" => single(&call.return_consumed_capacity),
        "dynamodb:EnclosingOperation" => {
            if call.operation != call.action {
                Context::Values(vec![call.operation.clone()])
            } else {
                Context::Absent
            }
        }
        other => return Err(format!("condition key {other} is not recorded")),
    })
}

/// One condition, with IAM's semantics: values of one key are ORed; a negated operator holds when
/// no value matches; `…IfExists` holds when the key is absent; `ForAllValues:` holds when every
/// request value matches (and when there is none); `ForAnyValue:` when at least one does.
fn condition_holds(operator: &str, key: &str, values: &[String], call: &Call) -> Result<bool, String> {
    let (set, op) = match operator.split_once(':') {
        Some((set @ ("ForAllValues" | "ForAnyValue"), op)) => (Some(set), op),
        Some(_) => return Err(format!("operator {operator}")),
        None => (None, operator),
    };
    let request = context(call, key)?;
    if op == "Null" {
        let absent = matches!(&request, Context::Absent) || matches!(&request, Context::Values(v) if v.is_empty());
        return Ok(values.iter().any(|v| v == &absent.to_string()));
    }
    let (base, if_exists) = match op.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (op, false),
    };
    let (negated, matches): (bool, fn(&str, &str) -> bool) = match base {
        "StringEquals" => (false, |p, v| p == v),
        "StringNotEquals" => (true, |p, v| p == v),
        "StringEqualsIgnoreCase" => (false, |p, v| p.eq_ignore_ascii_case(v)),
        "StringNotEqualsIgnoreCase" => (true, |p, v| p.eq_ignore_ascii_case(v)),
        "StringLike" => (false, glob),
        "StringNotLike" => (true, glob),
        other => return Err(format!("operator {other}")),
    };
    let one = |v: &str| values.iter().any(|p| matches(p, v)) != negated;
    Ok(match (set, request) {
        (Some("ForAllValues"), Context::Absent) => true,
        (Some("ForAllValues"), Context::Values(vs)) => vs.iter().all(|v| one(v)),
        (Some(_), Context::Absent) => false,
        (Some(_), Context::Values(vs)) => vs.iter().any(|v| one(v)),
        (None, Context::Absent) => if_exists || negated,
        (None, Context::Values(vs)) => vs.iter().all(|v| one(v)),
    })
}

#[derive(Debug, PartialEq, Eq)]
enum Match {
    Yes,
    /// Not this action or not this resource.
    No,
    /// The action and resource, but this condition does not hold.
    Condition(String),
}

/// Whether `statement` applies to `call` on `arn`.
fn applies(statement: &Statement, call: &Call, arn: &str) -> Result<Match, String> {
    let action = format!("dynamodb:{}", call.action);
    if !statement.actions.iter().any(|a| glob(&a.to_ascii_lowercase(), &action.to_ascii_lowercase())) {
        return Ok(Match::No);
    }
    if !statement.resources.iter().any(|(pattern, _)| glob(pattern, arn)) {
        return Ok(Match::No);
    }
    for (operator, key, values) in &statement.conditions {
        if !condition_holds(operator, key, values, call)? {
            return Ok(Match::Condition(format!("{operator} {key} {values:?}")));
        }
    }
    Ok(Match::Yes)
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// By these statements (indexes into the function's).
    Allowed(Vec<usize>),
    Refused(String),
}

fn evaluate(template: &Template, call: &Call) -> Verdict {
    let Some(function) = template.functions.get(&call.function) else {
        return Verdict::Refused(format!("no function in template.yaml builds the binary {:?}", call.function));
    };
    if call.action == "?" {
        return Verdict::Refused("an operation the recorder does not know (teach tests/support/iam_calls.rs)".into());
    }
    let Some((_, table_arn)) = template.table(&call.table) else {
        return Verdict::Refused(format!("table {:?} is not one template.yaml declares", call.table));
    };
    let arn = match &call.index {
        Some(index) => format!("{table_arn}/index/{index}"),
        None => table_arn.clone(),
    };
    let mut allowed = Vec::new();
    let mut undecided = Vec::new();
    for (i, statement) in function.statements.iter().enumerate() {
        match (applies(statement, call, &arn), statement.effect, &statement.only_when) {
            // A Deny that may apply refuses, whether or not its condition holds on a given stage.
            (Ok(Match::Yes), Effect::Deny, _) => return Verdict::Refused(format!("denied by statement {}", i + 1)),
            (Err(e), Effect::Deny, _) => {
                return Verdict::Refused(format!("statement {} (Deny) cannot be evaluated: {e}", i + 1));
            }
            (Ok(Match::Yes), Effect::Allow, None) => allowed.push(i),
            (Ok(Match::Yes), Effect::Allow, Some(when)) => {
                undecided.push(format!("statement {} allows it only when {when}", i + 1));
            }
            (Ok(Match::Condition(c)), Effect::Allow, _) => {
                undecided.push(format!("statement {} grants the action on the table, but not with {c}", i + 1));
            }
            (Err(e), Effect::Allow, _) => undecided.push(format!("statement {} cannot be evaluated: {e}", i + 1)),
            (Ok(_), ..) => {}
        }
    }
    if !allowed.is_empty() {
        Verdict::Allowed(allowed)
    } else if !undecided.is_empty() {
        Verdict::Refused(undecided.join("; "))
    } else {
        Verdict::Refused("no statement allows it".into())
    }
}

/// `dynamodb:DeleteItem on OrgsTable in TransactWriteItems`.
fn headline(template: &Template, call: &Call) -> String {
    let table = template.table(&call.table).map(|(logical, _)| logical.as_str()).unwrap_or(call.table.as_str());
    let mut out = format!("dynamodb:{} on {table}", call.action);
    if let Some(index) = &call.index {
        write!(out, "/index/{index}").unwrap();
    }
    if call.operation != call.action {
        write!(out, " in {}", call.operation).unwrap();
    }
    out
}

/// What the call names, for the condition keys.
fn details(call: &Call) -> String {
    let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut out = match &call.attributes {
        Some(a) => format!("attributes [{}]", list(a)),
        None => "whole items".to_owned(),
    };
    if !call.writes.is_empty() && call.action == "UpdateItem" {
        write!(out, ", writing [{}]", list(&call.writes)).unwrap();
    }
    if let Some(rv) = &call.return_values {
        write!(out, ", ReturnValues {rv}").unwrap();
    }
    out
}

/// The check over a recording: `(report, refusals)`.
fn check(template: &Template, calls: &[Call], partial: bool) -> (String, usize) {
    let mut report = String::new();
    let mut refusals = 0;
    // (function, statement, action pattern, resource) → used; attributes each statement saw.
    let mut used: BTreeSet<(String, usize, String, String)> = BTreeSet::new();
    let mut attributes_seen: BTreeMap<(String, usize), BTreeSet<String>> = BTreeMap::new();
    // (function, what, why) → (first test, its details, how many call shapes).
    let mut refused: BTreeMap<(String, String, String), (String, String, usize)> = BTreeMap::new();
    let mut did: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for call in calls {
        let logical = template.functions.get(&call.function).map(|f| f.logical.clone()).unwrap_or_default();
        let label = format!("{logical} ({})", call.function);
        match evaluate(template, call) {
            Verdict::Allowed(statements) => {
                let function = &template.functions[&call.function];
                let (_, table_arn) = template.table(&call.table).unwrap();
                let arn = match &call.index {
                    Some(index) => format!("{table_arn}/index/{index}"),
                    None => table_arn.clone(),
                };
                for i in statements {
                    let s = &function.statements[i];
                    let action = format!("dynamodb:{}", call.action).to_ascii_lowercase();
                    for a in s.actions.iter().filter(|a| glob(&a.to_ascii_lowercase(), &action)) {
                        for (_, how) in s.resources.iter().filter(|(p, _)| glob(p, &arn)) {
                            used.insert((call.function.clone(), i, a.clone(), how.clone()));
                        }
                    }
                    attributes_seen
                        .entry((call.function.clone(), i))
                        .or_default()
                        .extend(call.attributes.iter().flatten().cloned());
                }
                let table = template.table(&call.table).map(|(l, _)| l.clone()).unwrap_or_default();
                did.entry(label).or_default().insert(format!("{} {table}", call.action));
            }
            Verdict::Refused(why) => {
                let entry = refused
                    .entry((label, headline(template, call), why))
                    .or_insert_with(|| (call.seen_in.clone(), details(call), 0));
                entry.2 += 1;
            }
        }
    }
    writeln!(report, "IAM check: {} distinct calls recorded for {} functions", calls.len(), did.len()).unwrap();
    if !refused.is_empty() {
        writeln!(report, "\nREFUSED — the deployed role would answer AccessDeniedException:").unwrap();
        for ((label, what, why), (seen_in, details, n)) in &refused {
            refusals += 1;
            writeln!(report, "  {label}: {what}: {why}").unwrap();
            writeln!(report, "      {n} distinct call(s); the first by {seen_in}, {details}").unwrap();
        }
    }
    writeln!(report, "\nCalls each function made (action, table):").unwrap();
    for (label, actions) in &did {
        writeln!(report, "  {label}: {}", actions.iter().cloned().collect::<Vec<_>>().join(", ")).unwrap();
    }
    let mut unused = Vec::new();
    let called: BTreeSet<&str> = calls.iter().map(|c| c.function.as_str()).collect();
    for (binary, function) in &template.functions {
        if function.statements.is_empty() {
            continue;
        }
        if !called.contains(binary.as_str()) {
            if partial {
                unused.push(format!("{} ({binary}): no call recorded (partial run)", function.logical));
            } else {
                refusals += 1;
                writeln!(
                    report,
                    "\nNO CALL recorded for {} ({binary}), which has DynamoDB grants: its handler no longer runs inside \
                     overten::role::scope, or the suite no longer exercises it",
                    function.logical
                )
                .unwrap();
            }
            continue;
        }
        for (i, s) in function.statements.iter().enumerate().filter(|(_, s)| s.effect == Effect::Allow) {
            for a in &s.actions {
                for (_, how) in &s.resources {
                    if !used.contains(&(binary.clone(), i, a.clone(), how.clone())) {
                        let when = s.only_when.as_ref().map(|w| format!(" (only when {w})")).unwrap_or_default();
                        unused.push(format!("{} statement {}{when}: {a} on {how}", function.logical, i + 1));
                    }
                }
            }
            for (operator, key, values) in &s.conditions {
                if operator == "ForAllValues:StringEquals" && key == "dynamodb:Attributes" {
                    let seen = attributes_seen.get(&(binary.clone(), i)).cloned().unwrap_or_default();
                    let spare: Vec<&String> = values.iter().filter(|v| !seen.contains(*v)).collect();
                    if !spare.is_empty() {
                        unused.push(format!(
                            "{} statement {}: dynamodb:Attributes {spare:?} named by no call",
                            function.logical,
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    writeln!(report, "\nGrants no recorded call used (report only; remove them or add the test that needs them):")
        .unwrap();
    if unused.is_empty() {
        writeln!(report, "  none").unwrap();
    }
    for u in unused {
        writeln!(report, "  {u}").unwrap();
    }
    (report, refusals)
}

fn recording_path() -> std::path::PathBuf {
    std::env::var_os(RECORD_VAR).filter(|p| !p.is_empty()).map(Into::into).unwrap_or_else(|| {
        let target = std::env::var("CARGO_TARGET_DIR")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
        target.join("iam/calls.jsonl")
    })
}

#[test]
#[ignore = "run by infra/scripts/cargo-test.sh once the suite has recorded its calls"]
fn every_recorded_call_is_allowed_by_its_functions_role() {
    let path = recording_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e}: run the suite with {RECORD_VAR} set first (infra/scripts/cargo-test.sh does)", path.display())
    });
    let calls: Vec<Call> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect();
    assert!(!calls.is_empty(), "{}: no call recorded", path.display());
    let template = Template::parse(include_str!("../template.yaml")).expect("template.yaml's policies");
    let partial = std::env::var_os(PARTIAL_VAR).is_some_and(|v| !v.is_empty());
    let (report, refusals) = check(&template, &calls, partial);
    println!("{report}");
    assert_eq!(
        refusals,
        0,
        "{refusals} finding(s) above: calls a deployed role would refuse, or a function with grants and no call (recording: {})",
        path.display()
    );
}

#[cfg(test)]
mod semantics {
    use super::*;

    const TEMPLATE: &str = include_str!("../template.yaml");

    fn call(function: &str, action: &str, operation: &str, table: &str, attributes: Option<&[&str]>) -> Call {
        Call {
            function: function.into(),
            action: action.into(),
            operation: operation.into(),
            table: table.into(),
            index: None,
            attributes: attributes.map(|a| a.iter().map(|s| s.to_string()).collect()),
            writes: BTreeSet::new(),
            return_values: None,
            select: None,
            return_consumed_capacity: None,
            seen_in: "semantics".into(),
        }
    }

    fn allowed(template: &Template, call: &Call) -> bool {
        matches!(evaluate(template, call), Verdict::Allowed(_))
    }

    #[test]
    fn the_template_parses_into_one_role_per_function() {
        let t = Template::parse(TEMPLATE).unwrap();
        let binaries: Vec<&str> = t.functions.keys().map(String::as_str).collect();
        assert_eq!(
            binaries,
            ["authorizer", "keys", "secret-scanning", "signup", "usage", "usage-aggregator", "verify", "whoami"]
        );
        assert!(t.functions["whoami"].statements.is_empty());
        assert_eq!(t.table("test-Ab12-ApiKeys").unwrap().0, "ApiKeysTable");
        assert_eq!(t.table("overten-local-Orgs").unwrap().0, "OrgsTable");
        assert_eq!(t.table("test-Ab12-Orgs-KeyUsage").unwrap().0, "KeyUsageTable");
        assert!(t.table("test-Ab12-Other").is_none());
    }

    #[test]
    fn a_transactions_delete_needs_delete_item() {
        let delete = call("keys", "DeleteItem", "TransactWriteItems", "test-x-Orgs", Some(&["org_id", "sk"]));
        assert!(allowed(&Template::parse(TEMPLATE).unwrap(), &delete));
        let without = TEMPLATE.replacen("                - dynamodb:DeleteItem\n", "", 1);
        assert_ne!(without, TEMPLATE);
        assert_eq!(
            evaluate(&Template::parse(&without).unwrap(), &delete),
            Verdict::Refused("no statement allows it".into())
        );
        // Another function's grant does not help, nor does the other table's.
        assert!(!allowed(
            &Template::parse(TEMPLATE).unwrap(),
            &call("signup", "DeleteItem", "TransactWriteItems", "t-Orgs", Some(&["org_id", "sk"]))
        ));
        assert!(!allowed(
            &Template::parse(TEMPLATE).unwrap(),
            &call("keys", "DeleteItem", "DeleteItem", "t-ApiKeys", Some(&["key_hash"]))
        ));
    }

    #[test]
    fn for_all_values_allows_subsets_of_the_listed_attributes_only() {
        let t = Template::parse(TEMPLATE).unwrap();
        let touch = call("verify", "UpdateItem", "UpdateItem", "t-ApiKeys", Some(&["key_hash", "last_used_at"]));
        assert!(allowed(&t, &touch));
        let unrevoke = call("verify", "UpdateItem", "UpdateItem", "t-ApiKeys", Some(&["key_hash", "revoked_at"]));
        assert!(!allowed(&t, &unrevoke));
        // AWS: ForAllValues also holds when the request has no value for the key.
        let none = call("verify", "UpdateItem", "UpdateItem", "t-ApiKeys", Some(&[]));
        assert!(allowed(&t, &none));
    }

    #[test]
    fn return_values_if_exists_allows_none_or_nothing() {
        let t = Template::parse(TEMPLATE).unwrap();
        let mut touch =
            call("authorizer", "UpdateItem", "UpdateItem", "t-ApiKeys", Some(&["key_hash", "last_used_at"]));
        assert!(allowed(&t, &touch));
        touch.return_values = Some("NONE".into());
        assert!(allowed(&t, &touch));
        touch.return_values = Some("ALL_OLD".into());
        assert!(!allowed(&t, &touch));
    }

    #[test]
    fn indexes_match_index_resources_only_and_unknown_keys_refuse() {
        let policy = |resource: &str, condition: &str| {
            format!(
                "Resources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      TableName: !Sub app-${{Stage}}-Orgs\n  \
                 F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildProperties:\n        Binary: f\n    \
                 Properties:\n      Policies:\n        - Statement:\n            - Effect: Allow\n              \
                 Action: dynamodb:Query\n              Resource: {resource}\n{condition}"
            )
        };
        let mut query = call("f", "Query", "Query", "test-z-Orgs", None);
        let on_table = Template::parse(&policy("!GetAtt T.Arn", "")).unwrap();
        assert!(allowed(&on_table, &query));
        query.index = Some("by_owner".into());
        assert!(!allowed(&on_table, &query));
        let on_indexes = Template::parse(&policy("!Sub \"${T.Arn}/index/*\"", "")).unwrap();
        assert!(allowed(&on_indexes, &query));
        let written_out = Template::parse(&policy(
            "!Sub \"arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/app-${Stage}-Orgs/index/by_owner\"",
            "",
        ))
        .unwrap();
        assert!(allowed(&written_out, &query));
        let leading_keys = Template::parse(&policy(
            "!Sub \"${T.Arn}/index/*\"",
            "              Condition:\n                ForAllValues:StringEquals:\n                  dynamodb:LeadingKeys: [x]\n",
        ))
        .unwrap();
        assert!(
            matches!(evaluate(&leading_keys, &query), Verdict::Refused(why) if why.contains("dynamodb:LeadingKeys"))
        );
    }

    #[test]
    fn a_grant_under_a_template_condition_is_not_a_grant_of_every_stage() {
        let template = |policy: &str| {
            format!(
                "Conditions:\n  C: !Equals [a, b]\nResources:\n  T:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      \
                 TableName: !Sub app-${{Stage}}-Orgs\n  F:\n    Type: AWS::Serverless::Function\n    Metadata:\n      \
                 BuildProperties:\n        Binary: f\n    Properties:\n      Policies:\n        - {policy}\n"
            )
        };
        let get = call("f", "GetItem", "GetItem", "test-z-Orgs", None);
        let statement = "{Statement: [{Effect: Allow, Action: dynamodb:GetItem, Resource: !GetAtt T.Arn}]}";
        assert!(allowed(&Template::parse(&template(statement)).unwrap(), &get));
        let guarded = Template::parse(&template(&format!("!If [C, {statement}, !Ref AWS::NoValue]"))).unwrap();
        assert_eq!(evaluate(&guarded, &get), Verdict::Refused("statement 1 allows it only when C".into()));
        // Statements that grant no DynamoDB action are not the recording's business.
        let other = "{Statement: [{Effect: Allow, Action: [secretsmanager:GetSecretValue], Resource: !Ref S}]}";
        assert!(Template::parse(&template(other)).unwrap().functions["f"].statements.is_empty());
    }

    #[test]
    fn the_report_names_refusals_and_unused_grants() {
        let t = Template::parse(TEMPLATE).unwrap();
        let calls = [
            call("verify", "GetItem", "GetItem", "t-ApiKeys", None),
            call("verify", "UpdateItem", "UpdateItem", "t-ApiKeys", Some(&["key_hash"])),
            call("whoami", "GetItem", "GetItem", "t-ApiKeys", None),
        ];
        let (report, refusals) = check(&t, &calls, true);
        assert_eq!(refusals, 1, "{report}");
        assert!(report.contains("WhoAmIFunction (whoami): dynamodb:GetItem on ApiKeysTable"), "{report}");
        assert!(
            report.contains("VerifyFunction statement 2: dynamodb:Attributes [\"last_used_at\"] named by no call"),
            "{report}"
        );
        assert!(report.contains("KeysFunction (keys): no call recorded (partial run)"), "{report}");
        let (_, refusals) = check(&t, &calls, false);
        assert!(refusals > 1, "a complete run without keys calls fails");
    }

    #[test]
    fn glob_is_iams_wildcard_match() {
        assert!(glob("dynamodb:get*", "dynamodb:getitem"));
        assert!(glob("a?c", "abc") && !glob("a?c", "ac"));
        assert!(glob("arn:*:table/T", "arn:x:y:table/T") && !glob("arn:*:table/T", "arn:x:table/T/index/i"));
    }
}
