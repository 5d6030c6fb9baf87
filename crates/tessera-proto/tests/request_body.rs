//! Properties of request-body validation (`ServiceModel::validate_input`), the first parser an
//! untrusted API request meets. Whatever the bytes, it must not panic, and every refusal must
//! be one of the two answers Cognito gives (`SerializationException` for a body that cannot be
//! read as the shape, `InvalidParameterException` for modelled constraints) in the form the
//! edge renders. Accepted bodies must be a fixed point: what the validator returns validates
//! again to itself, so that the handlers downstream see exactly what was checked.
//!
//! Inputs come from three places: the committed corpus (`tests/corpus/request_body/<Operation>/`,
//! real requests named `valid-*` that must be accepted, and known-nasty ones), structured
//! mutations of the valid ones (wrong types, huge numbers, deep nesting, odd Unicode, NULs,
//! removed or added members, truncation, flipped bytes, duplicate keys) and arbitrary bytes.
//! The case counts are fixed and small so that the whole file runs in about a second.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Number, Value};
use tessera_proto::model::{Operation, ServiceModel};
use tessera_proto::validate::ValidationError;

fn model() -> &'static ServiceModel {
    ServiceModel::cognito_idp()
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/request_body")
}

/// One corpus file: the operation (its directory), its name and its bytes.
struct Entry {
    operation: String,
    name: String,
    body: Vec<u8>,
}

fn corpus() -> &'static [Entry] {
    static CORPUS: OnceLock<Vec<Entry>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut entries = Vec::new();
        let mut operations: Vec<_> = std::fs::read_dir(corpus_dir())
            .expect("the request-body corpus exists")
            .map(|entry| entry.expect("corpus directory entry").path())
            .collect();
        operations.sort();
        for dir in operations {
            let operation = dir
                .file_name()
                .and_then(|n| n.to_str())
                .expect("operation directory name")
                .to_owned();
            let mut files: Vec<_> = std::fs::read_dir(&dir)
                .expect("operation directory")
                .map(|entry| entry.expect("corpus file").path())
                .collect();
            files.sort();
            for file in files {
                entries.push(Entry {
                    operation: operation.clone(),
                    name: file
                        .file_name()
                        .and_then(|n| n.to_str())
                        .expect("corpus file name")
                        .to_owned(),
                    body: std::fs::read(&file).expect("corpus file is readable"),
                });
            }
        }
        entries
    })
}

/// The accepted seeds that mutations start from, parsed.
fn seeds() -> &'static [(String, Value)] {
    static SEEDS: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        corpus()
            .iter()
            .filter(|entry| entry.name.starts_with("valid-"))
            .map(|entry| {
                let value = serde_json::from_slice(&entry.body)
                    .unwrap_or_else(|e| panic!("{}/{} is JSON: {e}", entry.operation, entry.name));
                (entry.operation.clone(), value)
            })
            .collect()
    })
}

fn operation(name: &str) -> &'static Operation {
    model()
        .operation(name)
        .unwrap_or_else(|| panic!("corpus directory {name} names an operation of the model"))
}

fn all_operations() -> &'static [&'static Operation] {
    static OPERATIONS: OnceLock<Vec<&'static Operation>> = OnceLock::new();
    OPERATIONS.get_or_init(|| model().operations().collect())
}

const SERIALIZATION_PREFIXES: &[&str] = &[
    "Invalid JSON in request body: ",
    "Request body must be a JSON object, got ",
    "Request nesting exceeds the maximum depth of ",
    "Unexpected JSON type for member '",
    "Numeric value for member '",
    "Invalid base64 for member '",
];

/// The properties every body must have; returns whether it was accepted.
fn check(operation: &Operation, body: &[u8]) -> Result<bool, TestCaseError> {
    match model().validate_input(operation, body) {
        Ok(object) => {
            // A fixed point: the accepted object, written out and read again, is accepted
            // unchanged (nothing downstream sees a value that was not checked).
            let again = serde_json::to_vec(&Value::Object(object.clone()))
                .map_err(|e| TestCaseError::fail(format!("accepted object serializes: {e}")))?;
            match model().validate_input(operation, &again) {
                Ok(second) => prop_assert_eq!(second, object),
                Err(error) => {
                    return Err(TestCaseError::fail(format!(
                        "{}: an accepted body is refused once re-serialized: {error:?}",
                        operation.name
                    )))
                }
            }
            Ok(true)
        }
        Err(ValidationError::Serialization(message)) => {
            prop_assert!(
                SERIALIZATION_PREFIXES
                    .iter()
                    .any(|p| message.starts_with(p)),
                "unexpected SerializationException wording: {message}"
            );
            Ok(false)
        }
        Err(ValidationError::InvalidParameter(message)) => {
            check_invalid_parameter_message(&message)?;
            Ok(false)
        }
    }
}

/// `N validation error(s) detected: …` with N ≥ 1 and the noun agreeing with N.
fn check_invalid_parameter_message(message: &str) -> Result<(), TestCaseError> {
    let (count, rest) = message
        .split_once(' ')
        .ok_or_else(|| TestCaseError::fail(format!("no count in {message}")))?;
    let count: usize = count
        .parse()
        .map_err(|_| TestCaseError::fail(format!("no count in {message}")))?;
    prop_assert!(count >= 1, "{message}");
    let expected = if count == 1 {
        "validation error detected: "
    } else {
        "validation errors detected: "
    };
    prop_assert!(rest.starts_with(expected), "{message}");
    prop_assert!(rest.contains("failed to satisfy constraint: "), "{message}");
    Ok(())
}

#[test]
fn corpus_replays_with_the_properties() {
    let mut accepted = 0;
    for entry in corpus() {
        let outcome = check(operation(&entry.operation), &entry.body)
            .unwrap_or_else(|e| panic!("{}/{}: {e}", entry.operation, entry.name));
        if entry.name.starts_with("valid-") {
            assert!(
                outcome,
                "{}/{} is a valid request and must be accepted: {:?}",
                entry.operation,
                entry.name,
                model().validate_input(operation(&entry.operation), &entry.body)
            );
            accepted += 1;
        }
    }
    assert!(accepted >= 10, "the corpus keeps its valid seeds");
}

/// A fixed number of cases, and failures kept next to this file (an integration test has no
/// `src` for proptest's default location).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases * scale(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// `TESSERA_PROPTEST_SCALE=N` runs N times as many cases, for a longer search than CI's.
fn scale() -> u32 {
    std::env::var("TESSERA_PROPTEST_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

// ---- generators ----

/// Strings a client might send to break a parser: empty, very long, NULs, control and
/// format characters, combining marks, surrogate-range escapes written as text, emoji.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        1 => Just(String::new()),
        1 => (1usize..20_000).prop_map(|n| "a".repeat(n)),
        1 => (1usize..2_000).prop_map(|n| "\u{0301}".repeat(n)),
        1 => Just("\u{0}".to_owned()),
        1 => Just("\u{feff}\u{202e}\u{200b}\u{2028}\u{85}\r\n".to_owned()),
        1 => Just("\u{1F511}\u{10FFFF}".to_owned()),
        1 => Just("us-east-1_AbCdEf123".to_owned()),
        1 => Just("iVBORw0KGgo=".to_owned()),
        1 => "[A-Za-z0-9+/=._:-]{0,80}",
    ]
}

fn nasty_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(vec![
            Value::from(i64::MIN),
            Value::from(i64::MAX),
            Value::from(u64::MAX),
            Value::from(i64::from(i32::MAX) + 1),
            Value::from(i64::from(i32::MIN) - 1),
            Value::from(0),
            Value::from(-1),
            Value::from(-0.0),
            Value::from(1e308),
            Value::from(f64::MIN_POSITIVE),
        ]),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        nasty_number(),
        nasty_string().prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((nasty_string(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A change to a parsed body; `at` picks a node in pre-order, modulo the node count.
#[derive(Debug, Clone)]
enum Mutation {
    Replace {
        at: usize,
        with: Value,
    },
    Remove {
        at: usize,
    },
    Insert {
        at: usize,
        key: String,
        value: Value,
    },
    /// Nests the node inside this many arrays or objects.
    Wrap {
        at: usize,
        depth: usize,
        objects: bool,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), json_value()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        2 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        2 => (any::<usize>(), nasty_string(), json_value())
            .prop_map(|(at, key, value)| Mutation::Insert { at, key, value }),
        1 => (any::<usize>(), 1usize..200, any::<bool>())
            .prop_map(|(at, depth, objects)| Mutation::Wrap { at, depth, objects }),
    ]
}

/// A change to the serialized body.
#[derive(Debug, Clone)]
enum TextMutation {
    Truncate(usize),
    Flip {
        at: usize,
        mask: u8,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Repeats the first member of the top-level object with another value.
    DuplicateFirstKey(Value),
}

fn text_mutation() -> impl Strategy<Value = TextMutation> {
    prop_oneof![
        any::<usize>().prop_map(TextMutation::Truncate),
        (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| TextMutation::Flip { at, mask }),
        (
            any::<usize>(),
            prop_oneof![
                prop::collection::vec(any::<u8>(), 1..8),
                prop::sample::select(vec![
                    b"\\u0000".to_vec(),
                    b"\\ud800".to_vec(),
                    b"1e400".to_vec(),
                    b"18446744073709551616".to_vec(),
                    b",".to_vec(),
                    b"\"".to_vec(),
                    b"{".to_vec(),
                    b"]".to_vec(),
                    b"\xef\xbb\xbf".to_vec(),
                ]),
            ]
        )
            .prop_map(|(at, bytes)| TextMutation::Insert { at, bytes }),
        json_value().prop_map(TextMutation::DuplicateFirstKey),
    ]
}

fn count_nodes(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(object) => object.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The node at pre-order index `at`, and applies `edit` to it and its parent.
fn edit_node(value: &mut Value, at: &mut usize, edit: &mut dyn FnMut(&mut Value)) -> bool {
    if *at == 0 {
        edit(value);
        return true;
    }
    *at -= 1;
    match value {
        Value::Array(items) => items.iter_mut().any(|item| edit_node(item, at, edit)),
        Value::Object(object) => object.values_mut().any(|item| edit_node(item, at, edit)),
        _ => false,
    }
}

fn apply(mut body: Value, mutations: &[Mutation]) -> Value {
    for mutation in mutations {
        let nodes = count_nodes(&body);
        match mutation.clone() {
            Mutation::Replace { at, with } => {
                edit_node(&mut body, &mut (at % nodes), &mut |node| {
                    *node = with.clone()
                });
            }
            Mutation::Remove { at } => {
                // Removing means taking a member out of its parent; node 0 (the body) empties.
                let mut target = at % nodes;
                remove_node(&mut body, &mut target);
            }
            Mutation::Insert { at, key, value } => {
                edit_node(&mut body, &mut (at % nodes), &mut |node| match node {
                    Value::Object(object) => {
                        object.insert(key.clone(), value.clone());
                    }
                    Value::Array(items) => items.push(value.clone()),
                    other => *other = value.clone(),
                });
            }
            Mutation::Wrap { at, depth, objects } => {
                edit_node(&mut body, &mut (at % nodes), &mut |node| {
                    let mut wrapped = node.take();
                    for _ in 0..depth {
                        wrapped = if objects {
                            Value::Object(Map::from_iter([("a".to_owned(), wrapped)]))
                        } else {
                            Value::Array(vec![wrapped])
                        };
                    }
                    *node = wrapped;
                });
            }
        }
    }
    body
}

fn remove_node(value: &mut Value, at: &mut usize) -> bool {
    if *at == 0 {
        *value = Value::Object(Map::new());
        return true;
    }
    *at -= 1;
    match value {
        Value::Array(items) => {
            for index in 0..items.len() {
                if *at == 0 {
                    items.remove(index);
                    return true;
                }
                if remove_node(&mut items[index], at) {
                    return true;
                }
            }
            false
        }
        Value::Object(object) => {
            let keys: Vec<String> = object.keys().cloned().collect();
            for key in keys {
                if *at == 0 {
                    object.shift_remove(&key);
                    return true;
                }
                if let Some(child) = object.get_mut(&key) {
                    if remove_node(child, at) {
                        return true;
                    }
                }
            }
            false
        }
        _ => false,
    }
}

fn apply_text(mut bytes: Vec<u8>, mutations: &[TextMutation]) -> Vec<u8> {
    for mutation in mutations {
        match mutation {
            TextMutation::Truncate(at) => bytes.truncate(at % (bytes.len() + 1)),
            TextMutation::Flip { at, mask } => {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] ^= mask;
                }
            }
            TextMutation::Insert {
                at,
                bytes: inserted,
            } => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
            TextMutation::DuplicateFirstKey(value) => {
                // `{"Key":…` becomes `{"Key":<value>,"Key":…`; serde_json keeps the last.
                if let Some(end) = bytes.iter().skip(2).position(|&b| b == b'"') {
                    let key = bytes[1..end + 3].to_vec();
                    let mut insert = key;
                    insert.push(b':');
                    insert.extend_from_slice(value.to_string().as_bytes());
                    insert.push(b',');
                    bytes.splice(1..1, insert);
                }
            }
        }
    }
    bytes
}

/// A seed, the value mutations and the text mutations applied to it.
fn mutated_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    let count = seeds().len();
    (
        0..count,
        prop::collection::vec(mutation(), 0..4),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(text_mutation(), 1..3),
        ],
    )
        .prop_map(|(seed, mutations, text)| {
            let (operation, body) = &seeds()[seed];
            let body = apply(body.clone(), &mutations);
            let bytes = serde_json::to_vec(&body).expect("a Value serializes");
            (operation.clone(), apply_text(bytes, &text))
        })
}

proptest! {
    #![proptest_config(config(1500))]

    /// Near-valid requests: the real seeds with a few things wrong.
    #[test]
    fn mutated_requests_are_accepted_or_refused_in_aws_terms(
        (name, body) in mutated_body(),
    ) {
        check(operation(&name), &body)?;
    }

    /// Any JSON document against any operation.
    #[test]
    fn arbitrary_json_against_any_operation(
        index in any::<prop::sample::Index>(),
        body in json_value(),
    ) {
        let operation = index.get(all_operations());
        check(operation, body.to_string().as_bytes())?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Any bytes at all against any operation.
    #[test]
    fn arbitrary_bytes_against_any_operation(
        index in any::<prop::sample::Index>(),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let operation = index.get(all_operations());
        check(operation, &body)?;
    }

    /// A sensitive member's value is never echoed in a refusal, whatever else is wrong with the
    /// request: `SignUp`'s `Password`, `Username`, `ClientId` and `SecretHash` are all
    /// sensitive in the model.
    #[test]
    fn sensitive_values_never_appear_in_messages(
        password in "[^\u{0}]{0,300}",
        username in "[^\u{0}]{0,300}",
        secret_hash in ".{0,80}",
        mutations in prop::collection::vec(mutation(), 0..3),
    ) {
        const MARK: &str = "\u{1F511}MARK";
        // The mutations apply to the non-sensitive rest of the body; the marked members are
        // put in afterwards, so the marker is only ever in sensitive places.
        let rest = apply(
            serde_json::json!({
                "UserAttributes": [{"Name": "email", "Value": "x@example.com"}],
                "ClientMetadata": {"source": "web"},
            }),
            &mutations,
        );
        let mut body = match rest {
            Value::Object(object) => object,
            other => Map::from_iter([("UserAttributes".to_owned(), other)]),
        };
        body.insert("ClientId".into(), Value::from(format!("{MARK}client")));
        body.insert("Username".into(), Value::from(format!("{MARK}{username}")));
        body.insert("Password".into(), Value::from(format!("{MARK}{password}")));
        body.insert("SecretHash".into(), Value::from(format!("{MARK}{secret_hash}")));
        let body = Value::Object(body);
        if let Err(error) = model().validate_input(operation("SignUp"), body.to_string().as_bytes()) {
            let message = error.to_string();
            prop_assert!(!message.contains(MARK), "a sensitive value leaked: {message}");
        }
    }
}
