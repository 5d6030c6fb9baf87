//! The botocore service models of cognito-idp and cognito-identity, each parsed once into an index that request validation walks.
//!
//! The model is botocore's `service-2.json` (documentation stripped), embedded at compile time.
//! Parsing resolves every shape reference to an index into one vector, pre-renders the enum
//! constraint text, and compiles every distinct `pattern` once.
//! Patterns are written for Java's `java.util.regex`; they are translated so that `\w`, `\d` and
//! `\s` (and their negations) stay ASCII-only as in Java, then anchored to match the whole value.
//! A pattern the `regex` crate cannot compile (the model has one lookbehind) is kept as text and
//! not enforced.

use std::collections::HashMap;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::{Map, Value};

/// The cognito-idp service model, botocore `service-2.json`, documentation stripped.
const COGNITO_IDP_MODEL: &str = include_str!("../model/cognito-idp-2016-04-18.json");

/// The cognito-identity service model (identity pools, issue 14), botocore `service-2.json`
/// 2014-06-30, documentation stripped.
const COGNITO_IDENTITY_MODEL: &str = include_str!("../model/cognito-identity-2014-06-30.json");

/// A parsed botocore service model: operations plus the shapes their inputs are made of.
#[derive(Debug)]
pub struct ServiceModel {
    target_prefix: String,
    operations: Vec<Operation>,
    operation_index: HashMap<String, usize>,
    pub(crate) shapes: Vec<Shape>,
    pub(crate) shape_index: HashMap<String, ShapeId>,
}

/// One operation of the model, addressed on the wire as `X-Amz-Target: <prefix>.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: String,
    /// Input shape name.
    pub input: Option<String>,
    /// Output shape name.
    pub output: Option<String>,
    /// Exception shape names the operation may return.
    pub errors: Vec<String>,
    /// True when the model marks the operation "authtype":"none" (or "auth":["smithy.api#noAuth"]): public, no SigV4.
    pub public: bool,
}

impl ServiceModel {
    /// The cognito-idp model, parsed once (std::sync::OnceLock) from include_str!("../model/cognito-idp-2016-04-18.json").
    pub fn cognito_idp() -> &'static ServiceModel {
        static MODEL: OnceLock<ServiceModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            // The model is a compile-time constant covered by the unit tests, so failing here
            // is a build defect, not a request-dependent condition.
            #[allow(clippy::expect_used)]
            ServiceModel::parse(COGNITO_IDP_MODEL).expect("embedded cognito-idp model is valid")
        })
    }

    /// The cognito-identity model, parsed once like [`ServiceModel::cognito_idp`].
    pub fn cognito_identity() -> &'static ServiceModel {
        static MODEL: OnceLock<ServiceModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            // A compile-time constant covered by the unit tests, like the cognito-idp model.
            #[allow(clippy::expect_used)]
            ServiceModel::parse(COGNITO_IDENTITY_MODEL)
                .expect("embedded cognito-identity model is valid")
        })
    }

    /// Looks an operation up by its PascalCase name (`InitiateAuth`).
    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operation_index
            .get(name)
            .and_then(|&index| self.operations.get(index))
    }

    /// All operations, in model order (botocore sorts them by name).
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter()
    }

    /// The `X-Amz-Target` prefix, `AWSCognitoIdentityProviderService` for cognito-idp.
    pub fn target_prefix(&self) -> &str {
        &self.target_prefix
    }

    pub(crate) fn shape(&self, id: ShapeId) -> &Shape {
        // Every ShapeId is created by `parse` from an index into `shapes`.
        &self.shapes[id.0]
    }

    pub(crate) fn shape_id(&self, name: &str) -> Option<ShapeId> {
        self.shape_index.get(name).copied()
    }

    /// Parses a botocore `service-2.json` document.
    pub(crate) fn parse(json: &str) -> Result<ServiceModel, String> {
        let root: Value =
            serde_json::from_str(json).map_err(|err| format!("model is not json: {err}"))?;
        let root = as_object(&root, "model")?;
        let metadata = as_object(field(root, "metadata", "model")?, "metadata")?;
        let target_prefix = as_str(field(metadata, "targetPrefix", "metadata")?, "targetPrefix")?;

        let raw_shapes = as_object(field(root, "shapes", "model")?, "shapes")?;
        let shape_index: HashMap<String, ShapeId> = raw_shapes
            .keys()
            .enumerate()
            .map(|(index, name)| (name.clone(), ShapeId(index)))
            .collect();

        let mut patterns = PatternCache::default();
        let mut shapes = Vec::with_capacity(raw_shapes.len());
        for (name, raw) in raw_shapes {
            shapes.push(parse_shape(name, raw, &shape_index, &mut patterns)?);
        }
        mark_contains_sensitive(&mut shapes);

        let raw_operations = as_object(field(root, "operations", "model")?, "operations")?;
        let mut operations = Vec::with_capacity(raw_operations.len());
        for (name, raw) in raw_operations {
            operations.push(parse_operation(name, raw)?);
        }
        let operation_index = operations
            .iter()
            .enumerate()
            .map(|(index, operation)| (operation.name.clone(), index))
            .collect();

        Ok(ServiceModel {
            target_prefix: target_prefix.to_owned(),
            operations,
            operation_index,
            shapes,
            shape_index,
        })
    }
}

/// Index of a shape in [`ServiceModel::shapes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct ShapeId(pub(crate) usize);

#[derive(Debug)]
pub(crate) struct Shape {
    pub(crate) kind: ShapeKind,
    /// The shape itself carries `"sensitive": true`.
    pub(crate) sensitive: bool,
    /// The shape or anything reachable from it is sensitive, so a rendering of a value of this
    /// shape must be left out of messages.
    pub(crate) contains_sensitive: bool,
}

#[derive(Debug)]
pub(crate) enum ShapeKind {
    Structure {
        members: Vec<Member>,
        /// A Smithy document: any JSON value is accepted.
        document: bool,
    },
    List {
        member: ShapeId,
        length: Bounds,
    },
    Map {
        key: ShapeId,
        value: ShapeId,
        length: Bounds,
    },
    String(Box<StringRules>),
    /// `integer` (32-bit) or `long` (64-bit), with its modelled range.
    Integer {
        bits32: bool,
        range: Bounds,
    },
    /// `float` or `double`: any JSON number.
    Float,
    Boolean,
    /// Epoch seconds as a JSON number.
    Timestamp,
    /// Base64 text on the wire; the length bounds count decoded bytes.
    Blob {
        length: Bounds,
    },
}

impl ShapeKind {
    /// Lists, maps and structures; everything else is checked as a single JSON value.
    pub(crate) fn is_aggregate(&self) -> bool {
        matches!(
            self,
            ShapeKind::Structure { .. } | ShapeKind::List { .. } | ShapeKind::Map { .. }
        )
    }
}

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) min: Option<i64>,
    pub(crate) max: Option<i64>,
}

#[derive(Debug, Default)]
pub(crate) struct StringRules {
    /// Length bounds in Unicode scalar values.
    pub(crate) length: Bounds,
    pub(crate) pattern: Option<Pattern>,
    pub(crate) enumeration: Option<Enumeration>,
}

#[derive(Debug)]
pub(crate) struct Pattern {
    /// The pattern exactly as written in the model, quoted in messages.
    pub(crate) source: String,
    /// The compiled, anchored translation; `None` when the regex crate cannot compile it.
    pub(crate) regex: Option<Regex>,
    /// The same test as a table, for patterns that are one class repeated.
    pub(crate) ascii_class: Option<AsciiClass>,
}

impl Pattern {
    /// Whether `text` matches; `None` when the pattern is not enforced (see `regex`).
    pub(crate) fn is_match(&self, text: &str) -> Option<bool> {
        if let Some(class) = &self.ascii_class {
            if text.is_ascii() {
                return Some(class.matches(text));
            }
        }
        self.regex.as_ref().map(|regex| regex.is_match(text))
    }
}

/// The ASCII characters one bracketed class accepts, for the patterns that are a single class
/// repeated (`[A-Za-z0-9-_=.]+` and most identifier shapes). Tokens are a kilobyte or more and
/// are checked on every token-authorised request; a table lookup per byte is several times
/// cheaper than running the regex's automaton. Non-ASCII text still goes to the regex.
#[derive(Debug, Clone)]
pub(crate) struct AsciiClass {
    allowed: [bool; 128],
    /// `+` rather than `*`: the empty string does not match.
    at_least_one: bool,
}

impl AsciiClass {
    /// The table for a Java pattern of the form `[...]+` or `[...]*` whose class holds no
    /// brackets of its own (so that it is exactly one class), built by asking the regex
    /// crate about each ASCII character.
    pub(crate) fn of(source: &str) -> Option<Self> {
        let (body, at_least_one) = if let Some(body) = source.strip_suffix("]+") {
            (body, true)
        } else {
            (source.strip_suffix("]*")?, false)
        };
        let body = body.strip_prefix('[')?;
        if body.is_empty() || body.contains(['[', ']']) {
            return None;
        }
        let single = Regex::new(&format!("^[{}]$", translate_java_pattern(body))).ok()?;
        let mut allowed = [false; 128];
        let mut buffer = [0u8; 4];
        for (byte, slot) in allowed.iter_mut().enumerate() {
            let c = char::from(u8::try_from(byte).ok()?);
            *slot = single.is_match(c.encode_utf8(&mut buffer));
        }
        Some(Self {
            allowed,
            at_least_one,
        })
    }

    fn matches(&self, text: &str) -> bool {
        (!self.at_least_one || !text.is_empty())
            && text
                .bytes()
                .all(|b| self.allowed.get(usize::from(b)).copied().unwrap_or(false))
    }
}

#[derive(Debug)]
pub(crate) struct Enumeration {
    pub(crate) values: Vec<String>,
    /// `[A, B, C]` in the order AWS lists the values (see [`aws_listing_order`]), rendered
    /// once at load.
    pub(crate) rendered: String,
}

/// Java's `String.hashCode`: `h = 31 * h + c` over the UTF-16 code units, wrapping at 32 bits.
fn java_string_hash(value: &str) -> u32 {
    value.encode_utf16().fold(0u32, |h, unit| {
        h.wrapping_mul(31).wrapping_add(u32::from(unit))
    })
}

/// The order in which AWS's validator lists an enum's values in "Member must satisfy enum
/// value set: [...]": neither the model's order nor alphabetical, but ascending
/// `String.hashCode(value) & 31`, the bucket order of a 32-bucket Java hash set that uses
/// the raw hash. Every real message found in public (eight lists from Cognito and from
/// DynamoDB, which shares the validator) fits this rule exactly, and no other bucket count
/// or hash does; the unit tests replay them.
///
/// Values that share a bucket are listed with the later model value first. Only two real
/// ties were observed (both fit), so this tie rule is the least certain part: a tie among
/// values of the current model may be listed the other way round by AWS.
pub(crate) fn aws_listing_order(values: &[String]) -> Vec<&str> {
    let mut ordered: Vec<(usize, &str)> = values.iter().map(String::as_str).enumerate().collect();
    ordered.sort_by_key(|&(index, value)| (java_string_hash(value) & 31, std::cmp::Reverse(index)));
    ordered.into_iter().map(|(_, value)| value).collect()
}

#[derive(Debug)]
pub(crate) struct Member {
    /// The model (and wire) name, PascalCase: `ClientId`.
    pub(crate) name: String,
    /// The name used in validation messages, lowerCamelCase: `clientId`.
    pub(crate) path_name: String,
    pub(crate) target: ShapeId,
    pub(crate) required: bool,
    /// The member reference itself is marked sensitive.
    pub(crate) sensitive: bool,
}

/// Compiles each distinct pattern once; `Regex` clones share the compiled program.
#[derive(Default)]
struct PatternCache {
    compiled: HashMap<String, Option<Regex>>,
}

impl PatternCache {
    fn get(&mut self, source: &str) -> Pattern {
        let regex = self
            .compiled
            .entry(source.to_owned())
            .or_insert_with(|| compile_java_pattern(source))
            .clone();
        Pattern {
            source: source.to_owned(),
            ascii_class: regex.as_ref().and_then(|_| AsciiClass::of(source)),
            regex,
        }
    }
}

/// Compiles a model pattern so that it must match the whole value, with Java's ASCII meaning of
/// the `\w`, `\d` and `\s` families. Returns `None` for constructs the regex crate lacks.
pub(crate) fn compile_java_pattern(source: &str) -> Option<Regex> {
    let translated = translate_java_pattern(source);
    Regex::new(&format!("^(?:{translated})$")).ok()
}

/// Rewrites Java's predefined classes to explicit ASCII classes. The replacements are bracketed
/// classes, which the regex crate also accepts nested inside a class (`[\w-]` → `[[0-9A-Za-z_]-]`).
fn translate_java_pattern(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut chars = source.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('s') => out.push_str(r"[\t\n\x0B\x0C\r ]"),
            Some('S') => out.push_str(r"[^\t\n\x0B\x0C\r ]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// `ClientId` → `clientId`: the member naming of AWS validation messages.
pub(crate) fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn parse_operation(name: &str, raw: &Value) -> Result<Operation, String> {
    let raw = as_object(raw, name)?;
    let shape_ref = |key: &str| -> Result<Option<String>, String> {
        match raw.get(key) {
            None => Ok(None),
            Some(reference) => Ok(Some(target_name(reference, name)?.to_owned())),
        }
    };
    let errors = match raw.get("errors") {
        None => Vec::new(),
        Some(errors) => as_array(errors, name)?
            .iter()
            .map(|reference| target_name(reference, name).map(str::to_owned))
            .collect::<Result<_, _>>()?,
    };
    let authtype_none = raw.get("authtype").and_then(Value::as_str) == Some("none");
    let no_auth = raw
        .get("auth")
        .and_then(Value::as_array)
        .is_some_and(|schemes| {
            schemes
                .iter()
                .any(|scheme| scheme.as_str() == Some("smithy.api#noAuth"))
        });
    Ok(Operation {
        name: name.to_owned(),
        input: shape_ref("input")?,
        output: shape_ref("output")?,
        errors,
        public: authtype_none || no_auth,
    })
}

fn parse_shape(
    name: &str,
    raw: &Value,
    index: &HashMap<String, ShapeId>,
    patterns: &mut PatternCache,
) -> Result<Shape, String> {
    let raw = as_object(raw, name)?;
    let shape_type = as_str(field(raw, "type", name)?, name)?;
    let resolve = |reference: &Value| -> Result<ShapeId, String> {
        let target = target_name(reference, name)?;
        index
            .get(target)
            .copied()
            .ok_or_else(|| format!("shape {name} refers to unknown shape {target}"))
    };
    let bounds = || -> Result<Bounds, String> {
        Ok(Bounds {
            min: optional_i64(raw, "min", name)?,
            max: optional_i64(raw, "max", name)?,
        })
    };
    let kind = match shape_type {
        "structure" => {
            let required: Vec<&str> = match raw.get("required") {
                None => Vec::new(),
                Some(list) => as_array(list, name)?
                    .iter()
                    .map(|member| as_str(member, name))
                    .collect::<Result<_, _>>()?,
            };
            let mut members = Vec::new();
            if let Some(raw_members) = raw.get("members") {
                for (member_name, reference) in as_object(raw_members, name)? {
                    members.push(Member {
                        name: member_name.clone(),
                        path_name: lower_camel(member_name),
                        target: resolve(reference)?,
                        required: required.contains(&member_name.as_str()),
                        sensitive: flag(reference, "sensitive"),
                    });
                }
            }
            ShapeKind::Structure {
                members,
                document: raw.get("document").and_then(Value::as_bool) == Some(true),
            }
        }
        "list" => ShapeKind::List {
            member: resolve(field(raw, "member", name)?)?,
            length: bounds()?,
        },
        "map" => ShapeKind::Map {
            key: resolve(field(raw, "key", name)?)?,
            value: resolve(field(raw, "value", name)?)?,
            length: bounds()?,
        },
        "string" => {
            let pattern = match raw.get("pattern") {
                None => None,
                Some(pattern) => Some(patterns.get(as_str(pattern, name)?)),
            };
            let enumeration = match raw.get("enum") {
                None => None,
                Some(values) => {
                    let values: Vec<String> = as_array(values, name)?
                        .iter()
                        .map(|value| as_str(value, name).map(str::to_owned))
                        .collect::<Result<_, _>>()?;
                    let rendered = format!("[{}]", aws_listing_order(&values).join(", "));
                    Some(Enumeration { values, rendered })
                }
            };
            // Boxed: the rules (a compiled regex) are several times the size of every other
            // kind of shape.
            ShapeKind::String(Box::new(StringRules {
                length: bounds()?,
                pattern,
                enumeration,
            }))
        }
        "integer" => ShapeKind::Integer {
            bits32: true,
            range: bounds()?,
        },
        "long" => ShapeKind::Integer {
            bits32: false,
            range: bounds()?,
        },
        "float" | "double" => ShapeKind::Float,
        "boolean" => ShapeKind::Boolean,
        "timestamp" => ShapeKind::Timestamp,
        "blob" => ShapeKind::Blob { length: bounds()? },
        other => return Err(format!("shape {name} has unsupported type {other}")),
    };
    Ok(Shape {
        kind,
        sensitive: raw.get("sensitive").and_then(Value::as_bool) == Some(true),
        contains_sensitive: false,
    })
}

/// Sets `contains_sensitive` on every shape from which a sensitive shape or member is reachable.
/// Iterates to a fixed point, so recursive shapes terminate.
fn mark_contains_sensitive(shapes: &mut [Shape]) {
    for shape in shapes.iter_mut() {
        shape.contains_sensitive = shape.sensitive
            || matches!(&shape.kind, ShapeKind::Structure { members, .. }
                if members.iter().any(|member| member.sensitive));
    }
    loop {
        let mut changed = false;
        for index in 0..shapes.len() {
            if shapes[index].contains_sensitive {
                continue;
            }
            let reaches_sensitive = match &shapes[index].kind {
                ShapeKind::Structure { members, .. } => members
                    .iter()
                    .any(|member| shapes[member.target.0].contains_sensitive),
                ShapeKind::List { member, .. } => shapes[member.0].contains_sensitive,
                ShapeKind::Map { key, value, .. } => {
                    shapes[key.0].contains_sensitive || shapes[value.0].contains_sensitive
                }
                _ => false,
            };
            if reaches_sensitive {
                shapes[index].contains_sensitive = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

fn flag(raw: &Value, key: &str) -> bool {
    raw.get(key).and_then(Value::as_bool) == Some(true)
}

fn field<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    context: &str,
) -> Result<&'a Value, String> {
    object
        .get(key)
        .ok_or_else(|| format!("{context} lacks {key}"))
}

fn target_name<'a>(reference: &'a Value, context: &str) -> Result<&'a str, String> {
    reference
        .get("shape")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{context} has a shape reference without a shape name"))
}

fn optional_i64(
    object: &Map<String, Value>,
    key: &str,
    context: &str,
) -> Result<Option<i64>, String> {
    match object.get(key) {
        None => Ok(None),
        Some(value) => value
            .as_i64()
            .map(Some)
            .ok_or_else(|| format!("{context}.{key} is not an integer")),
    }
}

fn as_object<'a>(value: &'a Value, context: &str) -> Result<&'a Map<String, Value>, String> {
    value
        .as_object()
        .ok_or_else(|| format!("{context} is not an object"))
}

fn as_array<'a>(value: &'a Value, context: &str) -> Result<&'a Vec<Value>, String> {
    value
        .as_array()
        .ok_or_else(|| format!("{context} has a non-array list"))
}

fn as_str<'a>(value: &'a Value, context: &str) -> Result<&'a str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("{context} has a non-string name"))
}

impl ServiceModel {
    /// The member names of an operation's input structure, in model order; empty for an
    /// unknown operation. The declarative bootstrap uses it to accept `snake_case` keys.
    pub fn input_members(&self, operation: &str) -> Vec<&str> {
        let Some(shape) = self
            .operation(operation)
            .and_then(|op| op.input.as_deref())
            .and_then(|name| self.shape_id(name))
        else {
            return Vec::new();
        };
        match &self.shape(shape).kind {
            ShapeKind::Structure { members, .. } => {
                members.iter().map(|m| m.name.as_str()).collect()
            }
            _ => Vec::new(),
        }
    }
}
