//! Validation of AWS JSON 1.1 request bodies against the service model.
//!
//! A body is parsed once into a `serde_json` object and walked along the operation's input shape.
//! Two kinds of failure exist, matching what Cognito answers:
//!
//! - the body cannot be read as the shape (not JSON, not an object, a member of the wrong JSON
//!   type, bad base64, a number out of range for its type, nesting deeper than [`MAX_DEPTH`]):
//!   [`ValidationError::Serialization`], reported for the first such fault, naming the member by
//!   its wire path (`UserAttributes[0].Name`, `ClientMetadata.some-key`);
//! - modelled constraints fail (required, length, range, pattern, enum):
//!   [`ValidationError::InvalidParameter`], all violations collected in model member order, depth
//!   first, and worded as AWS words them (`1 validation error detected: Value 'x' at 'userPoolId'
//!   failed to satisfy constraint: Member must satisfy regular expression pattern: …`).
//!
//! Message paths are lowerCamelCase member names joined with dots. An element of a list of
//! structures (or lists or maps) is addressed as `userAttributes.1.member` (1-based). Elements of
//! a list of scalars and the keys and values of a map are reported once for the whole collection,
//! with the distinct failed constraints in brackets, the way AWS reports them:
//! `Value '[a, ]' at 'userAttributeNames' failed to satisfy constraint: Member must satisfy
//! constraint: [Member must have length greater than or equal to 1]`, and for maps
//! `… at 'userPoolTags' failed to satisfy constraint: Map keys must satisfy constraint: [...]` or
//! `Map value must satisfy constraint: [...]`. A map whose values are structures, lists or maps
//! (none in cognito-idp) addresses them as `mapName.<key>`.
//!
//! Values are rendered raw for strings and numbers, Java-collection style for lists (`[a, b]`)
//! and objects (`{k=v}`), and left out entirely (`Value at 'password' …`) when the member, its
//! shape, an enclosing shape or anything inside the value is sensitive. A missing or null member
//! is always `Value null at …`.
//!
//! No message echoes unbounded input, where AWS appears to quote values whole: a rendered value,
//! and a map key in a path, is quoted as its [`excerpt`] (the first
//! [`EXCERPT_CHARS`](crate::EXCERPT_CHARS) characters, then `...`), and at most
//! [`MAX_LISTED_VIOLATIONS`] violations are listed after the count of all of them (a list of
//! thousands of bad elements would otherwise make a message thousands of lines long).
//!
//! A JSON `null` member or map value counts as absent and is removed from the returned object,
//! so downstream deserialization never sees it. Unknown members are ignored and kept.
//!
//! One documented exemption: the `Domain` member of the four user-pool-domain operations is
//! also accepted when it is a lower-case FQDN ([`FQDN_DOMAIN_OPERATIONS`]). The model's
//! `DomainType` pattern forbids dots, but Cognito names custom domains (`auth.example.com`,
//! sent with a `CustomDomainConfig`) in that member and does not apply the pattern to them.
//!
//! Not enforced: patterns the `regex` crate cannot compile (in cognito-idp only `S3BucketType`,
//! whose lookbehind forbids a trailing dot). Known differences from Java: string length counts
//! Unicode scalar values rather than UTF-16 units, and `.` in a pattern also matches `\r`,
//! U+0085, U+2028 and U+2029.

use std::fmt;

use serde_json::{Map, Value};

use crate::excerpt;
use crate::model::{Bounds, Member, ServiceModel, Shape, ShapeId, ShapeKind, StringRules};

/// The operations whose top-level `Domain` member may be a lower-case FQDN (a custom
/// domain) although `DomainType`'s pattern forbids dots. The handler decides whether a dotted
/// name is allowed (only with `CustomDomainConfig`).
pub const FQDN_DOMAIN_OPERATIONS: &[&str] = &[
    "CreateUserPoolDomain",
    "DescribeUserPoolDomain",
    "UpdateUserPoolDomain",
    "DeleteUserPoolDomain",
];

/// Whether `name` is a lower-case fully qualified domain name: at least two dot-separated
/// labels of 1 to 63 letters, digits and hyphens, none starting or ending with a hyphen, at
/// most 253 characters in all, and a last label that is not all digits (no IP addresses).
pub fn is_lower_case_fqdn(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    name.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|last| !last.bytes().all(|b| b.is_ascii_digit()))
}

/// Deepest nesting of structures, lists and maps that a request may have, counting the body
/// object as level 1.
pub const MAX_DEPTH: usize = 64;

/// Most violations an `InvalidParameterException` message lists; its count still counts them
/// all. The largest input shapes of the model have about thirty members, so a request gets
/// more violations than this only through repeated elements of a list, where the first ones
/// say what is wrong.
pub const MAX_LISTED_VIOLATIONS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    /// The body is not valid JSON, is not an object, or a member has the wrong JSON type. Rendered as SerializationException.
    #[error("{0}")]
    Serialization(String),
    /// Modelled constraints failed (required, length, range, pattern, enum). Rendered as InvalidParameterException.
    #[error("{0}")]
    InvalidParameter(String),
}

impl ServiceModel {
    /// Validates a request body (raw bytes) for an operation and returns the parsed JSON object on success.
    pub fn validate_input(
        &self,
        operation: &crate::model::Operation,
        body: &[u8],
    ) -> Result<Map<String, Value>, ValidationError> {
        let mut object = parse_body(body)?;
        let Some(input) = operation
            .input
            .as_deref()
            .and_then(|name| self.shape_id(name))
        else {
            return Ok(object);
        };
        let shape = self.shape(input);
        let mut walker = Walker {
            model: self,
            violations: Vec::new(),
            violation_count: 0,
            fqdn_member: FQDN_DOMAIN_OPERATIONS
                .contains(&operation.name.as_str())
                .then_some("Domain"),
        };
        if let ShapeKind::Structure {
            members,
            document: false,
        } = &shape.kind
        {
            // The top-level object is nesting level 1.
            walker.visit_structure(members, &mut object, None, shape.sensitive, 1)?;
        }
        if walker.violations.is_empty() {
            Ok(object)
        } else {
            Err(ValidationError::InvalidParameter(render_violations(
                walker.violation_count,
                &walker.violations,
            )))
        }
    }
}

fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ValidationError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|err| {
        ValidationError::Serialization(format!("Invalid JSON in request body: {err}"))
    })?;
    match value {
        Value::Object(object) => Ok(object),
        other => Err(ValidationError::Serialization(format!(
            "Request body must be a JSON object, got {}",
            json_type(&other)
        ))),
    }
}

/// `count` is the number of violations found, `listed` the first [`MAX_LISTED_VIOLATIONS`].
fn render_violations(count: usize, listed: &[String]) -> String {
    let noun = if count == 1 { "error" } else { "errors" };
    format!("{count} validation {noun} detected: {}", listed.join("; "))
}

/// One step from a parent value to a child value.
#[derive(Clone, Copy)]
enum Step<'a> {
    Member(&'a Member),
    /// 0-based index into a list.
    Index(usize),
    Key(&'a str),
}

/// A path to the value being checked, kept on the stack; rendered only when reporting.
#[derive(Clone, Copy)]
struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    step: Step<'a>,
}

fn steps<'a>(path: Option<&'a Path<'a>>) -> Vec<Step<'a>> {
    let mut steps = Vec::new();
    let mut cursor = path;
    while let Some(node) = cursor {
        steps.push(node.step);
        cursor = node.parent;
    }
    steps.reverse();
    steps
}

/// The path in AWS message form: `policies.passwordPolicy.minimumLength`, `userAttributes.1.member.name`.
fn message_path(path: Option<&Path<'_>>) -> String {
    let mut out = String::new();
    for step in steps(path) {
        if !out.is_empty() {
            out.push('.');
        }
        match step {
            Step::Member(member) => out.push_str(&member.path_name),
            Step::Index(index) => {
                out.push_str(&(index + 1).to_string());
                out.push_str(".member");
            }
            Step::Key(key) => out.push_str(&excerpt(key)),
        }
    }
    out
}

/// The path as the client wrote it: `Policies.PasswordPolicy.MinimumLength`, `UserAttributes[0].Name`.
fn wire_path(path: Option<&Path<'_>>) -> String {
    let mut out = String::new();
    for step in steps(path) {
        match step {
            Step::Member(member) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&member.name);
            }
            Step::Index(index) => {
                out.push('[');
                out.push_str(&index.to_string());
                out.push(']');
            }
            Step::Key(key) => {
                out.push('.');
                out.push_str(&excerpt(key));
            }
        }
    }
    out
}

/// A modelled constraint that a value failed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Constraint<'m> {
    NotNull,
    MinLength(i64),
    MaxLength(i64),
    MinValue(i64),
    MaxValue(i64),
    Pattern(&'m str),
    /// The pre-rendered `[A, B, C]` value set.
    Enum(&'m str),
}

impl fmt::Display for Constraint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Constraint::NotNull => f.write_str("Member must not be null"),
            Constraint::MinLength(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            Constraint::MaxLength(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            Constraint::MinValue(n) => {
                write!(f, "Member must have value greater than or equal to {n}")
            }
            Constraint::MaxValue(n) => {
                write!(f, "Member must have value less than or equal to {n}")
            }
            Constraint::Pattern(pattern) => {
                write!(
                    f,
                    "Member must satisfy regular expression pattern: {pattern}"
                )
            }
            Constraint::Enum(values) => write!(f, "Member must satisfy enum value set: {values}"),
        }
    }
}

/// Several constraints failed by the elements, keys or values of a collection.
struct Collected<'c, 'm> {
    prefix: &'static str,
    constraints: &'c [Constraint<'m>],
}

impl fmt::Display for Collected<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} must satisfy constraint: [", self.prefix)?;
        for (index, constraint) in self.constraints.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{constraint}")?;
        }
        f.write_str("]")
    }
}

/// How the offending value appears in a violation.
enum Shown<'v> {
    Null,
    Redacted,
    Value(&'v Value),
    Array(&'v [Value]),
    Object(&'v Map<String, Value>),
}

impl<'v> Shown<'v> {
    fn array(items: &'v [Value], redact: bool) -> Self {
        if redact {
            Shown::Redacted
        } else {
            Shown::Array(items)
        }
    }

    fn object(object: &'v Map<String, Value>, redact: bool) -> Self {
        if redact {
            Shown::Redacted
        } else {
            Shown::Object(object)
        }
    }
}

/// Why a value cannot be read as its shape.
enum Fault {
    Type(&'static str),
    OutOfRange(&'static str),
    Base64,
}

struct Walker<'m> {
    model: &'m ServiceModel,
    /// The first [`MAX_LISTED_VIOLATIONS`] violations, rendered.
    violations: Vec<String>,
    /// Every violation found.
    violation_count: usize,
    /// The top-level member exempt from its shape's rules when it is a lower-case FQDN.
    fqdn_member: Option<&'static str>,
}

impl<'m> Walker<'m> {
    fn violation(
        &mut self,
        shown: Shown<'_>,
        path: Option<&Path<'_>>,
        constraint: impl fmt::Display,
    ) {
        self.violation_count += 1;
        if self.violations.len() >= MAX_LISTED_VIOLATIONS {
            return;
        }
        let path = message_path(path);
        let message = match shown {
            Shown::Null => {
                format!("Value null at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Redacted => {
                format!("Value at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Value(value) => {
                let quoted = quote(|out| render_value(value, out, 0));
                format!("Value '{quoted}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Array(items) => {
                let quoted = quote(|out| render_array(items, out, 0));
                format!("Value '{quoted}' at '{path}' failed to satisfy constraint: {constraint}")
            }
            Shown::Object(object) => {
                let quoted = quote(|out| render_object(object, out, 0));
                format!("Value '{quoted}' at '{path}' failed to satisfy constraint: {constraint}")
            }
        };
        self.violations.push(message);
    }

    /// Checks one present, non-null value against its shape.
    fn visit(
        &mut self,
        id: ShapeId,
        value: &mut Value,
        path: Option<&Path<'_>>,
        redact: bool,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let model = self.model;
        let shape = model.shape(id);
        let redact = redact || shape.sensitive;
        if shape.kind.is_aggregate() && depth >= MAX_DEPTH {
            return Err(ValidationError::Serialization(format!(
                "Request nesting exceeds the maximum depth of {MAX_DEPTH} at member '{}'",
                wire_path(path)
            )));
        }
        match &shape.kind {
            ShapeKind::Structure { document: true, .. } => Ok(()),
            ShapeKind::Structure {
                members,
                document: false,
            } => match value {
                Value::Object(object) => {
                    self.visit_structure(members, object, path, redact, depth + 1)
                }
                other => Err(fault(Fault::Type("structure"), path, other)),
            },
            ShapeKind::List { member, length } => match value {
                Value::Array(items) => {
                    self.visit_list(shape, *member, *length, items, path, redact, depth + 1)
                }
                other => Err(fault(Fault::Type("list"), path, other)),
            },
            ShapeKind::Map {
                key,
                value: value_shape,
                length,
            } => match value {
                Value::Object(object) => self.visit_map(
                    shape,
                    *key,
                    *value_shape,
                    *length,
                    object,
                    path,
                    redact,
                    depth + 1,
                ),
                other => Err(fault(Fault::Type("map"), path, other)),
            },
            _ => {
                let mut failed = Vec::new();
                check_scalar(shape, value, &mut |constraint| failed.push(constraint))
                    .map_err(|kind| fault(kind, path, value))?;
                for constraint in failed {
                    let shown = if redact {
                        Shown::Redacted
                    } else {
                        Shown::Value(value)
                    };
                    self.violation(shown, path, constraint);
                }
                Ok(())
            }
        }
    }

    fn visit_structure(
        &mut self,
        members: &'m [Member],
        object: &mut Map<String, Value>,
        path: Option<&Path<'_>>,
        redact: bool,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let mut saw_null = false;
        for member in members {
            let member_path = Path {
                parent: path,
                step: Step::Member(member),
            };
            let present = match object.get_mut(member.name.as_str()) {
                None => None,
                Some(Value::Null) => {
                    saw_null = true;
                    None
                }
                Some(value) => Some(value),
            };
            match present {
                None => {
                    if member.required {
                        self.violation(Shown::Null, Some(&member_path), Constraint::NotNull);
                    }
                }
                Some(Value::String(name))
                    if path.is_none()
                        && self.fqdn_member == Some(member.name.as_str())
                        && is_lower_case_fqdn(name) => {}
                Some(value) => self.visit(
                    member.target,
                    value,
                    Some(&member_path),
                    redact || member.sensitive,
                    depth,
                )?,
            }
        }
        if saw_null {
            object.retain(|_, value| !value.is_null());
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn visit_list(
        &mut self,
        shape: &Shape,
        member: ShapeId,
        length: Bounds,
        items: &mut [Value],
        path: Option<&Path<'_>>,
        redact: bool,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let redact_whole = redact || shape.contains_sensitive;
        for constraint in length_violations(items.len(), length) {
            self.violation(Shown::array(items, redact_whole), path, constraint);
        }
        let member_shape = self.model.shape(member);
        if member_shape.kind.is_aggregate() {
            for (index, item) in items.iter_mut().enumerate() {
                let item_path = Path {
                    parent: path,
                    step: Step::Index(index),
                };
                if item.is_null() {
                    self.violation(Shown::Null, Some(&item_path), Constraint::NotNull);
                } else {
                    self.visit(member, item, Some(&item_path), redact, depth)?;
                }
            }
            return Ok(());
        }
        let mut failed: Vec<Constraint<'m>> = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if item.is_null() {
                add_distinct(&mut failed, Constraint::NotNull);
                continue;
            }
            check_scalar(member_shape, item, &mut |constraint| {
                add_distinct(&mut failed, constraint)
            })
            .map_err(|kind| {
                let item_path = Path {
                    parent: path,
                    step: Step::Index(index),
                };
                fault(kind, Some(&item_path), item)
            })?;
        }
        if !failed.is_empty() {
            let collected = Collected {
                prefix: "Member",
                constraints: &failed,
            };
            self.violation(Shown::array(items, redact_whole), path, collected);
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn visit_map(
        &mut self,
        shape: &Shape,
        key: ShapeId,
        value: ShapeId,
        length: Bounds,
        object: &mut Map<String, Value>,
        path: Option<&Path<'_>>,
        redact: bool,
        depth: usize,
    ) -> Result<(), ValidationError> {
        let redact_whole = redact || shape.contains_sensitive;
        if length.min.is_some() || length.max.is_some() {
            let present = object.values().filter(|value| !value.is_null()).count();
            for constraint in length_violations(present, length) {
                self.violation(Shown::object(object, redact_whole), path, constraint);
            }
        }

        let key_shape = self.model.shape(key);
        let value_shape = self.model.shape(value);
        let mut key_failed: Vec<Constraint<'m>> = Vec::new();
        let mut value_failed: Vec<Constraint<'m>> = Vec::new();
        let mut saw_null = false;
        for (entry_key, entry_value) in object.iter_mut() {
            if entry_value.is_null() {
                saw_null = true;
                continue;
            }
            if let ShapeKind::String(rules) = &key_shape.kind {
                check_string(rules, entry_key, &mut |constraint| {
                    add_distinct(&mut key_failed, constraint)
                });
            }
            let entry_path = Path {
                parent: path,
                step: Step::Key(entry_key),
            };
            if value_shape.kind.is_aggregate() {
                self.visit(value, entry_value, Some(&entry_path), redact, depth)?;
            } else {
                check_scalar(value_shape, entry_value, &mut |constraint| {
                    add_distinct(&mut value_failed, constraint)
                })
                .map_err(|kind| fault(kind, Some(&entry_path), entry_value))?;
            }
        }
        if saw_null {
            object.retain(|_, value| !value.is_null());
        }
        for (prefix, failed) in [("Map keys", &key_failed), ("Map value", &value_failed)] {
            if !failed.is_empty() {
                let collected = Collected {
                    prefix,
                    constraints: failed,
                };
                self.violation(Shown::object(object, redact_whole), path, collected);
            }
        }
        Ok(())
    }
}

fn add_distinct<'m>(failed: &mut Vec<Constraint<'m>>, constraint: Constraint<'m>) {
    if !failed.contains(&constraint) {
        failed.push(constraint);
    }
}

fn length_violations<'m>(length: usize, bounds: Bounds) -> impl Iterator<Item = Constraint<'m>> {
    let length = i64::try_from(length).unwrap_or(i64::MAX);
    let below = bounds
        .min
        .filter(|&min| length < min)
        .map(Constraint::MinLength);
    let above = bounds
        .max
        .filter(|&max| length > max)
        .map(Constraint::MaxLength);
    below.into_iter().chain(above)
}

fn range_violations<'m>(number: i64, bounds: Bounds) -> impl Iterator<Item = Constraint<'m>> {
    let below = bounds
        .min
        .filter(|&min| number < min)
        .map(Constraint::MinValue);
    let above = bounds
        .max
        .filter(|&max| number > max)
        .map(Constraint::MaxValue);
    below.into_iter().chain(above)
}

/// Type-checks a non-aggregate value and reports each failed constraint, in the order length,
/// range, pattern, enum.
fn check_scalar<'m>(
    shape: &'m Shape,
    value: &Value,
    report: &mut dyn FnMut(Constraint<'m>),
) -> Result<(), Fault> {
    match &shape.kind {
        ShapeKind::String(rules) => match value {
            Value::String(text) => {
                check_string(rules, text, report);
                Ok(())
            }
            _ => Err(Fault::Type("string")),
        },
        ShapeKind::Integer { bits32, range } => {
            let expected = if *bits32 { "integer" } else { "long" };
            let Value::Number(number) = value else {
                return Err(Fault::Type(expected));
            };
            let integer = match number.as_i64() {
                Some(integer) => integer,
                None if number.is_u64() => return Err(Fault::OutOfRange(expected)),
                None => return Err(Fault::Type(expected)),
            };
            if *bits32 && i32::try_from(integer).is_err() {
                return Err(Fault::OutOfRange(expected));
            }
            range_violations(integer, *range).for_each(report);
            Ok(())
        }
        ShapeKind::Float | ShapeKind::Timestamp => match value {
            Value::Number(_) => Ok(()),
            _ => Err(Fault::Type(if matches!(shape.kind, ShapeKind::Float) {
                "number"
            } else {
                "timestamp (epoch seconds number)"
            })),
        },
        ShapeKind::Boolean => match value {
            Value::Bool(_) => Ok(()),
            _ => Err(Fault::Type("boolean")),
        },
        ShapeKind::Blob { length } => match value {
            Value::String(text) => {
                let decoded = base64_decoded_len(text).ok_or(Fault::Base64)?;
                length_violations(decoded, *length).for_each(report);
                Ok(())
            }
            _ => Err(Fault::Type("blob (base64 string)")),
        },
        // Aggregates are walked by the caller, never checked as scalars.
        ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. } => Ok(()),
    }
}

fn check_string<'m>(rules: &'m StringRules, text: &str, report: &mut dyn FnMut(Constraint<'m>)) {
    let length = rules.length;
    if length.min.is_some() || length.max.is_some() {
        length_violations(text.chars().count(), length).for_each(&mut *report);
    }
    if let Some(pattern) = &rules.pattern {
        if pattern.is_match(text) == Some(false) {
            report(Constraint::Pattern(&pattern.source));
        }
    }
    if let Some(enumeration) = &rules.enumeration {
        if !enumeration.values.iter().any(|allowed| allowed == text) {
            report(Constraint::Enum(&enumeration.rendered));
        }
    }
}

/// Decoded byte length of standard base64 text, padded or not; `None` when it is not base64.
fn base64_decoded_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let unpadded = bytes
        .strip_suffix(b"==")
        .or_else(|| bytes.strip_suffix(b"="))
        .unwrap_or(bytes);
    let padding = bytes.len() - unpadded.len();
    if padding > 0 && !bytes.len().is_multiple_of(4) {
        return None;
    }
    if !unpadded
        .iter()
        .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/')
    {
        return None;
    }
    let whole = unpadded.len() / 4 * 3;
    match unpadded.len() % 4 {
        0 if padding == 0 => Some(whole),
        2 => Some(whole + 1),
        3 => Some(whole + 2),
        _ => None,
    }
}

fn fault(kind: Fault, path: Option<&Path<'_>>, value: &Value) -> ValidationError {
    let member = wire_path(path);
    ValidationError::Serialization(match kind {
        Fault::Type(expected) => format!(
            "Unexpected JSON type for member '{member}': expected {expected}, got {}",
            json_type(value)
        ),
        Fault::OutOfRange(expected) => {
            format!("Numeric value for member '{member}' is out of range for {expected}")
        }
        Fault::Base64 => format!("Invalid base64 for member '{member}'"),
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as a violation quotes it: rendered, then cut to its [`excerpt`].
fn quote(render: impl FnOnce(&mut String)) -> String {
    let mut rendered = String::new();
    render(&mut rendered);
    excerpt(&rendered).into_owned()
}

/// Renders a value for a message: strings raw, lists as `[a, b]`, objects as `{k=v, k2=v2}`.
fn render_value(value: &Value, out: &mut String, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => out.push_str(text),
        Value::Array(items) => render_array(items, out, depth + 1),
        Value::Object(object) => render_object(object, out, depth + 1),
    }
}

fn render_array(items: &[Value], out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("[...]");
        return;
    }
    out.push('[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        render_value(item, out, depth);
    }
    out.push(']');
}

fn render_object(object: &Map<String, Value>, out: &mut String, depth: usize) {
    if depth > MAX_DEPTH {
        out.push_str("{...}");
        return;
    }
    out.push('{');
    let mut first = true;
    for (key, value) in object.iter().filter(|(_, value)| !value.is_null()) {
        if !first {
            out.push_str(", ");
        }
        first = false;
        out.push_str(key);
        out.push('=');
        render_value(value, out, depth);
    }
    out.push('}');
}

#[cfg(test)]
mod tests;
