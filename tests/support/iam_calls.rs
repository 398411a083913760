//! Every DynamoDB call a function makes during the integration suite, written down for
//! `tests/iam.rs` to check against that function's IAM statements in `template.yaml`.
//!
//! DynamoDB Local checks no IAM, so a call the deployed role would refuse passes every test. The
//! [`Recorder`] interceptor sits on every client the tests build ([`crate::ddb_client_at`],
//! [`crate::function_store_at`]) and, when `OVERTEN_IAM_RECORD` names a file (as
//! `infra/scripts/cargo-test.sh` does), appends one JSON line per distinct call:
//!
//! - **who**: the function the call runs for, from [`overten::role::current`] — each function's
//!   `handle` runs inside `overten::role::scope` with its crate name, the template's
//!   `BuildProperties.Binary`. Tests share one store between signup, keys, verify and their own
//!   setup, so the store cannot say whose call it is; the task running the handler can. Calls from
//!   outside any handler (creating tables, seeding, reading to assert) have no function and are not
//!   recorded.
//! - **what IAM sees**: one line per action IAM authorizes — a `TransactWriteItems` becomes its
//!   `PutItem`/`UpdateItem`/`DeleteItem`/`ConditionCheckItem`s, a `TransactGetItems` its
//!   `GetItem`s, a `BatchGetItem`/`BatchWriteItem` one line per table — with the table (and index),
//!   the request's values of the condition keys `dynamodb:Attributes` (top-level attribute names
//!   the request names: the key, what it writes, what its condition, filter or projection reads;
//!   `None` when it reads whole items), `dynamodb:ReturnValues`, `dynamodb:Select` and
//!   `dynamodb:ReturnConsumedCapacity`.
//!
//! Names only: no attribute value, key or token ever reaches the file.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::operation::{
    batch_get_item::BatchGetItemInput, batch_write_item::BatchWriteItemInput, create_table::CreateTableInput,
    delete_item::DeleteItemInput, delete_table::DeleteTableInput, describe_table::DescribeTableInput,
    describe_time_to_live::DescribeTimeToLiveInput, get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
    scan::ScanInput, transact_get_items::TransactGetItemsInput, transact_write_items::TransactWriteItemsInput,
    update_item::UpdateItemInput, update_table::UpdateTableInput, update_time_to_live::UpdateTimeToLiveInput,
};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

/// The environment variable naming the file calls are appended to; unset, nothing is recorded.
pub const RECORD_VAR: &str = "OVERTEN_IAM_RECORD";

/// One action IAM authorizes, as a function's call asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Call {
    /// The function's crate, i.e. the template's `BuildProperties.Binary`.
    pub function: String,
    /// The IAM action without `dynamodb:` (`DeleteItem` for a transaction's `Delete`).
    pub action: String,
    /// The API operation that carried it (`TransactWriteItems`), `dynamodb:EnclosingOperation`
    /// when it differs from the action.
    pub operation: String,
    pub table: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// `dynamodb:Attributes`: the top-level attribute names the request names; `None` when it
    /// reads whole items (no projection).
    pub attributes: Option<BTreeSet<String>>,
    /// What an update writes (its SET/REMOVE/ADD/DELETE targets), for the report.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub writes: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_values: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub select: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_consumed_capacity: Option<String>,
    /// The test that made it first: `<test binary>::<test thread>`.
    #[serde(default)]
    pub seen_in: String,
}

/// The interceptor the tests' DynamoDB clients carry.
#[derive(Debug, Clone, Copy)]
pub struct Recorder;

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "overten-tests-iam-recorder"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let Some(sink) = sink() else { return Ok(()) };
        let Some(function) = overten::role::current() else { return Ok(()) };
        let input = context.input();
        let request = None
            .or_else(|| input.downcast_ref::<GetItemInput>().map(Request::GetItem))
            .or_else(|| input.downcast_ref::<PutItemInput>().map(Request::PutItem))
            .or_else(|| input.downcast_ref::<UpdateItemInput>().map(Request::UpdateItem))
            .or_else(|| input.downcast_ref::<DeleteItemInput>().map(Request::DeleteItem))
            .or_else(|| input.downcast_ref::<QueryInput>().map(Request::Query))
            .or_else(|| input.downcast_ref::<ScanInput>().map(Request::Scan))
            .or_else(|| input.downcast_ref::<BatchGetItemInput>().map(Request::BatchGetItem))
            .or_else(|| input.downcast_ref::<BatchWriteItemInput>().map(Request::BatchWriteItem))
            .or_else(|| input.downcast_ref::<TransactWriteItemsInput>().map(Request::TransactWriteItems))
            .or_else(|| input.downcast_ref::<TransactGetItemsInput>().map(Request::TransactGetItems));
        let mut calls = match request {
            Some(request) => request.calls(),
            None => vec![control_plane(context)],
        };
        let seen_in = seen_in();
        let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        for call in &mut calls {
            call.function = function.to_owned();
            // Each test has its own tables (`test-<random>-Orgs`): one line per call shape and
            // logical table is enough.
            let mut shape = call.clone();
            shape.table = logical_table(&call.table).to_owned();
            if !sink.seen.insert(shape) {
                continue;
            }
            call.seen_in = seen_in.clone();
            let mut line = serde_json::to_string(call).expect("a call serialises");
            line.push('\n');
            // One write per line, on a file opened for appending: lines of parallel tests (and of
            // the test binaries cargo runs one after another) never interleave.
            sink.file.write_all(line.as_bytes()).expect("append to the IAM call recording");
        }
        Ok(())
    }
}

struct Sink {
    file: std::fs::File,
    seen: HashSet<Call>,
}

/// `Orgs` of `test-<suffix>-Orgs`, `overten-dev-Orgs`: the part the template's table names share.
pub fn logical_table(name: &str) -> &str {
    name.rsplit('-').next().unwrap_or(name)
}

fn sink() -> Option<&'static Mutex<Sink>> {
    static SINK: OnceLock<Option<Mutex<Sink>>> = OnceLock::new();
    SINK.get_or_init(|| {
        let path = std::env::var_os(RECORD_VAR).filter(|p| !p.is_empty())?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{RECORD_VAR}={}: {e}", path.to_string_lossy()));
        Some(Mutex::new(Sink { file, seen: HashSet::new() }))
    })
    .as_ref()
}

/// `lifecycle::rolls_race` from the test binary `lifecycle-<hash>` and the harness's thread name
/// (the test's name; `tokio-runtime-worker` inside a multi-thread runtime).
fn seen_in() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| stem.rsplit_once('-').map(|(name, _)| name.to_owned()).unwrap_or(stem))
        .unwrap_or_default();
    format!("{binary}::{}", std::thread::current().name().unwrap_or("?"))
}

/// The data-plane requests the recorder understands.
enum Request<'a> {
    GetItem(&'a GetItemInput),
    PutItem(&'a PutItemInput),
    UpdateItem(&'a UpdateItemInput),
    DeleteItem(&'a DeleteItemInput),
    Query(&'a QueryInput),
    Scan(&'a ScanInput),
    BatchGetItem(&'a BatchGetItemInput),
    BatchWriteItem(&'a BatchWriteItemInput),
    TransactWriteItems(&'a TransactWriteItemsInput),
    TransactGetItems(&'a TransactGetItemsInput),
}

type Names = HashMap<String, String>;

fn call(action: &str, operation: &str, table: &str) -> Call {
    Call {
        function: String::new(),
        action: action.to_owned(),
        operation: operation.to_owned(),
        table: table.to_owned(),
        index: None,
        attributes: None,
        writes: BTreeSet::new(),
        return_values: None,
        select: None,
        return_consumed_capacity: None,
        seen_in: String::new(),
    }
}

fn key_names(key: Option<&HashMap<String, AttributeValue>>) -> BTreeSet<String> {
    key.map(|k| k.keys().cloned().collect()).unwrap_or_default()
}

/// The attribute names a request with this key, these expressions and this projection names;
/// `None` when it has no projection and `reads_items` (it returns whole items).
fn attributes(
    key: BTreeSet<String>,
    expressions: &[Option<&str>],
    projection: Option<&str>,
    legacy: &[String],
    names: Option<&Names>,
    reads_items: bool,
) -> Option<BTreeSet<String>> {
    if reads_items && projection.is_none() && legacy.is_empty() {
        return None;
    }
    let empty = Names::new();
    let names = names.unwrap_or(&empty);
    let mut all = key;
    for expression in expressions.iter().chain([&projection]).flatten() {
        all.extend(expression_names(expression, names).referenced);
    }
    all.extend(legacy.iter().cloned());
    Some(all)
}

impl Request<'_> {
    fn calls(&self) -> Vec<Call> {
        match self {
            Request::GetItem(i) => {
                let mut c = call("GetItem", "GetItem", i.table_name().unwrap_or_default());
                c.attributes = attributes(
                    key_names(i.key()),
                    &[],
                    i.projection_expression(),
                    i.attributes_to_get(),
                    i.expression_attribute_names(),
                    true,
                );
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::PutItem(i) => {
                let mut c = call("PutItem", "PutItem", i.table_name().unwrap_or_default());
                c.attributes = attributes(
                    key_names(i.item()),
                    &[i.condition_expression()],
                    None,
                    &[],
                    i.expression_attribute_names(),
                    false,
                );
                c.writes = key_names(i.item());
                c.return_values = i.return_values().map(|v| v.as_str().to_owned());
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::UpdateItem(i) => {
                let mut c = call("UpdateItem", "UpdateItem", i.table_name().unwrap_or_default());
                let legacy: Vec<String> =
                    i.attribute_updates().map(|u| u.keys().cloned().collect()).unwrap_or_default();
                c.attributes = attributes(
                    key_names(i.key()),
                    &[i.update_expression(), i.condition_expression()],
                    None,
                    &legacy,
                    i.expression_attribute_names(),
                    false,
                );
                c.writes = update_targets(i.update_expression(), i.expression_attribute_names());
                c.writes.extend(legacy);
                c.return_values = i.return_values().map(|v| v.as_str().to_owned());
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::DeleteItem(i) => {
                let mut c = call("DeleteItem", "DeleteItem", i.table_name().unwrap_or_default());
                c.attributes = attributes(
                    key_names(i.key()),
                    &[i.condition_expression()],
                    None,
                    &[],
                    i.expression_attribute_names(),
                    false,
                );
                c.return_values = i.return_values().map(|v| v.as_str().to_owned());
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::Query(i) => {
                let mut c = call("Query", "Query", i.table_name().unwrap_or_default());
                c.index = i.index_name().map(str::to_owned);
                c.attributes = attributes(
                    BTreeSet::new(),
                    &[i.key_condition_expression(), i.filter_expression()],
                    i.projection_expression(),
                    i.attributes_to_get(),
                    i.expression_attribute_names(),
                    true,
                );
                c.select = i.select().map(|v| v.as_str().to_owned());
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::Scan(i) => {
                let mut c = call("Scan", "Scan", i.table_name().unwrap_or_default());
                c.index = i.index_name().map(str::to_owned);
                c.attributes = attributes(
                    BTreeSet::new(),
                    &[i.filter_expression()],
                    i.projection_expression(),
                    i.attributes_to_get(),
                    i.expression_attribute_names(),
                    true,
                );
                c.select = i.select().map(|v| v.as_str().to_owned());
                c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                vec![c]
            }
            Request::BatchGetItem(i) => i
                .request_items()
                .into_iter()
                .flatten()
                .map(|(table, wanted)| {
                    let mut c = call("BatchGetItem", "BatchGetItem", table);
                    let keys = wanted.keys().iter().flat_map(|k| k.keys().cloned()).collect();
                    c.attributes = attributes(
                        keys,
                        &[],
                        wanted.projection_expression(),
                        wanted.attributes_to_get(),
                        wanted.expression_attribute_names(),
                        true,
                    );
                    c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                    c
                })
                .collect(),
            Request::BatchWriteItem(i) => i
                .request_items()
                .into_iter()
                .flatten()
                .map(|(table, writes)| {
                    let mut c = call("BatchWriteItem", "BatchWriteItem", table);
                    let mut names = BTreeSet::new();
                    for w in writes {
                        names.extend(key_names(w.put_request().map(|p| p.item())));
                        names.extend(key_names(w.delete_request().map(|d| d.key())));
                    }
                    c.attributes = Some(names);
                    c
                })
                .collect(),
            Request::TransactWriteItems(i) => {
                const OP: &str = "TransactWriteItems";
                let mut calls = Vec::new();
                for item in i.transact_items() {
                    if let Some(check) = item.condition_check() {
                        let mut c = call("ConditionCheckItem", OP, check.table_name());
                        c.attributes = attributes(
                            key_names(Some(check.key())),
                            &[Some(check.condition_expression())],
                            None,
                            &[],
                            check.expression_attribute_names(),
                            false,
                        );
                        calls.push(c);
                    }
                    if let Some(put) = item.put() {
                        let mut c = call("PutItem", OP, put.table_name());
                        c.attributes = attributes(
                            key_names(Some(put.item())),
                            &[put.condition_expression()],
                            None,
                            &[],
                            put.expression_attribute_names(),
                            false,
                        );
                        c.writes = key_names(Some(put.item()));
                        calls.push(c);
                    }
                    if let Some(delete) = item.delete() {
                        let mut c = call("DeleteItem", OP, delete.table_name());
                        c.attributes = attributes(
                            key_names(Some(delete.key())),
                            &[delete.condition_expression()],
                            None,
                            &[],
                            delete.expression_attribute_names(),
                            false,
                        );
                        calls.push(c);
                    }
                    if let Some(update) = item.update() {
                        let mut c = call("UpdateItem", OP, update.table_name());
                        c.attributes = attributes(
                            key_names(Some(update.key())),
                            &[Some(update.update_expression()), update.condition_expression()],
                            None,
                            &[],
                            update.expression_attribute_names(),
                            false,
                        );
                        c.writes =
                            update_targets(Some(update.update_expression()), update.expression_attribute_names());
                        calls.push(c);
                    }
                }
                for c in &mut calls {
                    c.return_consumed_capacity = i.return_consumed_capacity().map(|v| v.as_str().to_owned());
                }
                calls
            }
            Request::TransactGetItems(i) => i
                .transact_items()
                .iter()
                .filter_map(|item| item.get())
                .map(|get| {
                    let mut c = call("GetItem", "TransactGetItems", get.table_name());
                    c.attributes = attributes(
                        key_names(Some(get.key())),
                        &[],
                        get.projection_expression(),
                        &[],
                        get.expression_attribute_names(),
                        true,
                    );
                    c
                })
                .collect(),
        }
    }
}

/// A call outside the data plane: no function should make one, and the check refuses it unless
/// the template grants it. `?` when the recorder does not know the operation at all (the check
/// refuses that too: teach the recorder).
fn control_plane(context: &BeforeSerializationInterceptorContextRef<'_>) -> Call {
    let input = context.input();
    let named = |action: &str, table: Option<&str>| call(action, action, table.unwrap_or("?"));
    None.or_else(|| input.downcast_ref::<DescribeTableInput>().map(|i| named("DescribeTable", i.table_name())))
        .or_else(|| input.downcast_ref::<CreateTableInput>().map(|i| named("CreateTable", i.table_name())))
        .or_else(|| input.downcast_ref::<DeleteTableInput>().map(|i| named("DeleteTable", i.table_name())))
        .or_else(|| input.downcast_ref::<UpdateTableInput>().map(|i| named("UpdateTable", i.table_name())))
        .or_else(|| input.downcast_ref::<UpdateTimeToLiveInput>().map(|i| named("UpdateTimeToLive", i.table_name())))
        .or_else(|| {
            input.downcast_ref::<DescribeTimeToLiveInput>().map(|i| named("DescribeTimeToLive", i.table_name()))
        })
        .unwrap_or_else(|| call("?", "?", "?"))
}

/// The top-level attribute names of an expression (`#name`s resolved), and, in an update
/// expression, the targets of its actions.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ExpressionNames {
    pub referenced: BTreeSet<String>,
    pub targets: BTreeSet<String>,
}

/// What an update expression writes: the path each SET/REMOVE/ADD/DELETE action starts with.
pub fn update_targets(expression: Option<&str>, names: Option<&Names>) -> BTreeSet<String> {
    let empty = Names::new();
    expression.map(|e| expression_names(e, names.unwrap_or(&empty)).targets).unwrap_or_default()
}

/// Reads a DynamoDB condition, filter, projection, key-condition or update expression: every
/// top-level attribute name it refers to (the first element of each document path; `a.b[0]`
/// refers to `a`), skipping `:values`, functions, keywords and nested path elements, and the
/// first path of every update action.
pub fn expression_names(expression: &str, names: &Names) -> ExpressionNames {
    const KEYWORDS: [&str; 9] = ["AND", "OR", "NOT", "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE"];
    const CLAUSES: [&str; 4] = ["SET", "REMOVE", "ADD", "DELETE"];
    let mut out = ExpressionNames::default();
    let chars: Vec<char> = expression.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    let mut previous: Option<char> = None;
    let mut in_update = false;
    let mut expect_target = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let word_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
        if c == ':' || c == '#' || c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            i += 1;
            while i < chars.len() && word_char(chars[i]) {
                i += 1;
            }
            let token: String = chars[start..i].iter().collect();
            let nested = previous == Some('.');
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            let is_function = chars.get(next) == Some(&'(');
            previous = token.chars().last();
            if token.starts_with(':') || nested || is_function {
                continue;
            }
            let upper = token.to_ascii_uppercase();
            if !token.starts_with('#') && KEYWORDS.contains(&upper.as_str()) {
                if CLAUSES.contains(&upper.as_str()) && depth == 0 {
                    in_update = true;
                    expect_target = true;
                }
                continue;
            }
            let name = if token.starts_with('#') { names.get(&token).cloned().unwrap_or(token) } else { token };
            if expect_target {
                out.targets.insert(name.clone());
                expect_target = false;
            }
            out.referenced.insert(name);
            continue;
        }
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 && in_update => expect_target = true,
            _ => {}
        }
        previous = Some(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> Names {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn update_targets_resolve_names_and_skip_values_functions_and_nested_paths() {
        let n = names(&[("#n", "name"), ("#c", "active_keys")]);
        let e = expression_names(
            "SET #n = :name, last_used_at = if_not_exists(created_at, :now), m.inner = :x \
             REMOVE rolled_to, l[2] ADD #c :one DELETE tags :gone",
            &n,
        );
        assert_eq!(e.targets, set(&["name", "last_used_at", "m", "rolled_to", "l", "active_keys", "tags"]));
        assert_eq!(
            e.referenced,
            set(&["name", "last_used_at", "created_at", "m", "rolled_to", "l", "active_keys", "tags"])
        );
    }

    #[test]
    fn condition_names_are_top_level_attributes() {
        let n = names(&[("#s", "status")]);
        let e = expression_names(
            "attribute_exists(key_hash) AND (last_used_at < :cutoff OR attribute_not_exists(last_used_at)) \
             AND NOT begins_with(#s, :p) AND size(a.b) BETWEEN :x AND :y AND org_id IN (:o1, :o2)",
            &n,
        );
        assert_eq!(e.referenced, set(&["key_hash", "last_used_at", "status", "a", "org_id"]));
        assert!(e.targets.is_empty());
    }

    #[test]
    fn a_projection_names_its_attributes() {
        let e = expression_names("key_hash, last_used_at", &Names::new());
        assert_eq!(e.referenced, set(&["key_hash", "last_used_at"]));
    }
}
