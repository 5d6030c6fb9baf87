//! IAM identity policies: the subset of IAM's policy grammar tessera enforces, and IAM's
//! evaluation of it.
//!
//! A document is parsed once, when tessera reads a role's configuration and when a service
//! opens a token, into statements whose patterns are ready to match; a document that uses a
//! part of the grammar this module does not implement is refused rather than half enforced,
//! because a condition silently ignored could allow what its author meant to forbid.
//!
//! Evaluation follows IAM: a statement applies when its action, resource and every condition
//! match; any applying `Deny` decides, else any applying `Allow`, else the request is denied
//! implicitly. A statement whose resource or condition values name a policy variable the
//! request has no single value for does not apply, as in IAM.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::Error;

/// The policy language version whose documents substitute policy variables. Documents of the
/// older version (or without one, which IAM takes as the older) take `${...}` literally.
const VERSION_2012: &str = "2012-10-17";
const VERSION_2008: &str = "2008-10-17";

/// The supported condition operators, for the message that refuses any other.
const SUPPORTED_OPERATORS: &str = "StringEquals, StringNotEquals, StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike, Bool (each with an IfExists form and a ForAnyValue: or ForAllValues: qualifier) and Null";

/// IAM's answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// A statement allows the request and none denies it.
    Allow,
    /// A statement denies the request; no allow can override it.
    ExplicitDeny,
    /// No statement allows the request.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may go ahead.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }
}

/// One request as policies see it: the action (`s3:GetObject`), the resource ARN, and the
/// condition keys with their values. Key names compare without regard to ASCII case, as
/// IAM's do; a key with no values is a key the request lacks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    /// The action, `<service>:<Action>`.
    pub action: String,
    /// The resource's ARN.
    pub resource: String,
    /// Condition keys (`s3:prefix`, `aws:PrincipalTag/team`, ...) and their values.
    pub keys: BTreeMap<String, Vec<String>>,
}

impl RequestContext {
    /// A request for `action` on `resource`, with no condition keys.
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> RequestContext {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            keys: BTreeMap::new(),
        }
    }

    /// The same request with the condition key `key` set to `values`.
    #[must_use]
    pub fn with_key<V: Into<String>>(
        mut self,
        key: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> RequestContext {
        self.keys
            .insert(key.into(), values.into_iter().map(Into::into).collect());
        self
    }
}

/// Where evaluation finds the values of condition keys and policy variables. `name` is as the
/// policy writes it; implementations compare it without regard to ASCII case.
pub(crate) trait Keys {
    fn values(&self, name: &str) -> Option<&[String]>;
}

/// The keys of a map, found by a linear scan: requests carry a handful of keys, for which a
/// scan is faster than any index, and it ignores case without lower-casing anything.
pub(crate) fn map_values<'a>(
    map: &'a BTreeMap<String, Vec<String>>,
    name: &str,
) -> Option<&'a [String]> {
    map.iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, values)| values.as_slice())
        .filter(|values| !values.is_empty())
}

impl Keys for RequestContext {
    fn values(&self, name: &str) -> Option<&[String]> {
        map_values(&self.keys, name)
    }
}

/// Evaluates `policies` for `request` as IAM does: an explicit deny wins, else an allow, else
/// an implicit deny.
pub fn evaluate(policies: &[Policy], request: &RequestContext) -> Decision {
    evaluate_keys(policies, &request.action, &request.resource, request)
}

pub(crate) fn evaluate_keys(
    policies: &[Policy],
    action: &str,
    resource: &str,
    keys: &dyn Keys,
) -> Decision {
    let mut allowed = false;
    let mut scratch = Vec::new();
    for statement in policies.iter().flat_map(|policy| &policy.statements) {
        // An allow cannot change the outcome once one statement has allowed; only a deny can.
        if allowed && statement.effect == Effect::Allow {
            continue;
        }
        if statement.applies(action, resource, keys, &mut scratch) {
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny,
                Effect::Allow => allowed = true,
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// A parsed IAM identity policy. It serializes as the document it was parsed from.
#[derive(Clone)]
pub struct Policy {
    document: Value,
    statements: Vec<Statement>,
}

impl Policy {
    /// Parses an IAM policy document; a malformed one, or one that uses a part of the grammar
    /// tessera does not enforce, is [`Error::MalformedPolicy`] with a message naming the part.
    pub fn parse(text: &str) -> Result<Policy, Error> {
        let document: Value = serde_json::from_str(text)
            .map_err(|error| malformed(format!("The policy is not valid JSON: {error}.")))?;
        Policy::from_value(document)
    }

    /// [`Policy::parse`] for a document already read as JSON.
    pub fn from_value(document: Value) -> Result<Policy, Error> {
        let statements = parse_document(&document)?;
        Ok(Policy {
            document,
            statements,
        })
    }

    /// The document as written.
    pub fn document(&self) -> &Value {
        &self.document
    }
}

impl PartialEq for Policy {
    fn eq(&self, other: &Policy) -> bool {
        self.document == other.document
    }
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Policy").field(&self.document).finish()
    }
}

impl Serialize for Policy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.document.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Policy, D::Error> {
        let document = Value::deserialize(deserializer)?;
        Policy::from_value(document).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// A statement ready to evaluate.
#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    /// `Action` (false) or `NotAction` (true).
    not_action: bool,
    actions: Vec<Template>,
    /// `Resource` (false) or `NotResource` (true).
    not_resource: bool,
    resources: Vec<Template>,
    conditions: Vec<Condition>,
    /// Every variable the statement names, without a default, whose absence from a request
    /// makes the statement not apply.
    required: Vec<String>,
}

impl Statement {
    fn applies(
        &self,
        action: &str,
        resource: &str,
        keys: &dyn Keys,
        scratch: &mut Vec<Unit>,
    ) -> bool {
        let action_listed = self
            .actions
            .iter()
            .any(|pattern| pattern.glob(action, Case::Insensitive, keys, scratch));
        if action_listed == self.not_action {
            return false;
        }
        // Checked before anything that substitutes, so that the substitutions below always
        // find a value.
        if !self
            .required
            .iter()
            .all(|name| single(keys, name).is_some())
        {
            return false;
        }
        let resource_listed = self
            .resources
            .iter()
            .any(|pattern| pattern.glob(resource, Case::Sensitive, keys, scratch));
        if resource_listed == self.not_resource {
            return false;
        }
        self.conditions
            .iter()
            .all(|condition| condition.holds(keys, scratch))
    }
}

/// The one value of a key, which is what a policy variable needs: a key the request lacks, or
/// one with several values, has none.
fn single<'a>(keys: &'a dyn Keys, name: &str) -> Option<&'a str> {
    match keys.values(name) {
        Some([value]) => Some(value),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Sensitive,
    Insensitive,
}

/// A string from a policy: text in which `*` and `?` are wildcards where the operator matches
/// patterns, literal characters (`${*}`, `${?}`, `${$}`), and policy variables.
#[derive(Debug, Clone)]
struct Template {
    pieces: Vec<Piece>,
    /// The glob units of a template without variables, compiled once.
    compiled: Option<Vec<Unit>>,
}

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Literal(char),
    Variable {
        name: String,
        default: Option<String>,
    },
}

/// One step of a glob: a byte to match, `?` (one character) or `*` (any run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Byte(u8),
    One,
    Any,
}

impl Template {
    /// Reads `raw`; with `variables` (documents of version 2012-10-17), `${...}` is a policy
    /// variable, else it is text.
    fn parse(raw: &str, variables: bool) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find("${").filter(|_| variables) {
            let Some(length) = rest[start + 2..].find('}') else {
                break;
            };
            text.push_str(&rest[..start]);
            let inner = &rest[start + 2..start + 2 + length];
            rest = &rest[start + 2 + length + 1..];
            let piece = match inner {
                "*" => Piece::Literal('*'),
                "?" => Piece::Literal('?'),
                "$" => Piece::Literal('$'),
                _ => parse_variable(inner, raw)?,
            };
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(piece);
        }
        text.push_str(rest);
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        let mut template = Template {
            pieces,
            compiled: None,
        };
        if template.variables().next().is_none() {
            let mut units = Vec::new();
            template.units(&EmptyKeys, &mut units);
            template.compiled = Some(units);
        }
        Ok(template)
    }

    /// The names of the variables without a default.
    fn variables(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Variable {
                name,
                default: None,
            } => Some(name.as_str()),
            _ => None,
        })
    }

    /// The value of a variable piece: the key's one value, else its default.
    fn substitute<'a>(keys: &'a dyn Keys, name: &str, default: &'a Option<String>) -> &'a str {
        single(keys, name)
            .or(default.as_deref())
            .unwrap_or_default()
    }

    /// The glob units with every variable substituted as literal text, so that a value holding
    /// `*` matches only a `*`.
    fn units(&self, keys: &dyn Keys, out: &mut Vec<Unit>) {
        out.clear();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.extend(text.bytes().map(|b| match b {
                    b'*' => Unit::Any,
                    b'?' => Unit::One,
                    _ => Unit::Byte(b),
                })),
                Piece::Literal(c) => {
                    let mut buffer = [0u8; 4];
                    out.extend(c.encode_utf8(&mut buffer).bytes().map(Unit::Byte));
                }
                Piece::Variable { name, default } => out.extend(
                    Template::substitute(keys, name, default)
                        .bytes()
                        .map(Unit::Byte),
                ),
            }
        }
    }

    /// The template as a plain string, variables substituted, `*` and `?` literal: what the
    /// equality operators compare.
    fn text(&self, keys: &dyn Keys) -> std::borrow::Cow<'_, str> {
        if let [Piece::Text(text)] = self.pieces.as_slice() {
            return text.as_str().into();
        }
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Literal(c) => out.push(*c),
                Piece::Variable { name, default } => {
                    out.push_str(Template::substitute(keys, name, default));
                }
            }
        }
        out.into()
    }

    fn glob(&self, subject: &str, case: Case, keys: &dyn Keys, scratch: &mut Vec<Unit>) -> bool {
        match &self.compiled {
            Some(units) => glob(units, subject.as_bytes(), case),
            None => {
                self.units(keys, scratch);
                glob(scratch, subject.as_bytes(), case)
            }
        }
    }
}

/// Keys of a request that has none, for compiling templates without variables.
struct EmptyKeys;

impl Keys for EmptyKeys {
    fn values(&self, _: &str) -> Option<&[String]> {
        None
    }
}

/// Reads the inside of `${...}`: a key name, optionally followed by `, 'default'`.
fn parse_variable(inner: &str, raw: &str) -> Result<Piece, String> {
    let (name, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((name, default)) => {
            let default = default.trim();
            let Some(quoted) = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
            else {
                return Err(format!(
                    "the policy variable in \"{raw}\" has a default value that is not in single quotes."
                ));
            };
            (name.trim(), Some(quoted.to_owned()))
        }
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!(
            "the policy variable in \"{raw}\" does not name a key."
        ));
    }
    Ok(Piece::Variable {
        name: name.to_owned(),
        default,
    })
}

/// Matches `subject` against glob `units`: `*` any run of bytes, `?` one UTF-8 character,
/// anything else itself (ignoring ASCII case if asked). The classic backtracking to the last
/// `*` keeps it linear in practice and never worse than the product of the lengths.
fn glob(units: &[Unit], subject: &[u8], case: Case) -> bool {
    let same = |a: u8, b: u8| match case {
        Case::Sensitive => a == b,
        Case::Insensitive => a.eq_ignore_ascii_case(&b),
    };
    // The length of the UTF-8 character starting at `at`; a stray continuation byte counts as
    // one, which only matters for subjects that are not UTF-8, and they are `&str` here.
    let char_len = |at: usize| match subject[at] {
        b if b < 0xC0 => 1,
        b if b < 0xE0 => 2,
        b if b < 0xF0 => 3,
        _ => 4,
    };
    let (mut u, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < subject.len() {
        match units.get(u) {
            Some(Unit::Byte(b)) if same(*b, subject[s]) => {
                u += 1;
                s += 1;
            }
            Some(Unit::One) => {
                u += 1;
                s = (s + char_len(s)).min(subject.len());
            }
            Some(Unit::Any) => {
                star = Some((u, s));
                u += 1;
            }
            _ => match star {
                Some((star_u, star_s)) => {
                    let next = (star_s + char_len(star_s)).min(subject.len());
                    star = Some((star_u, next));
                    u = star_u + 1;
                    s = next;
                }
                None => return false,
            },
        }
    }
    units[u..].iter().all(|unit| *unit == Unit::Any)
}

/// How a condition compares a request's value with the policy's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Equals,
    EqualsIgnoreCase,
    Like,
    /// `Bool`: `true` and `false` in any case.
    Bool,
}

/// How a condition treats a key with several values (IAM's set operators).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// No qualifier: the key is expected to have one value.
    Single,
    /// `ForAnyValue:`: at least one of the request's values must match.
    Any,
    /// `ForAllValues:`: every one of the request's values must match (true if there are none).
    All,
}

#[derive(Debug, Clone)]
enum Test {
    Compare {
        comparison: Comparison,
        negated: bool,
        set: Set,
        if_exists: bool,
        values: Vec<Template>,
    },
    /// `Null`: whether the key is absent (`true`) or present (`false`).
    Null(bool),
}

#[derive(Debug, Clone)]
struct Condition {
    key: String,
    test: Test,
}

impl Condition {
    fn holds(&self, keys: &dyn Keys, scratch: &mut Vec<Unit>) -> bool {
        let present = keys.values(&self.key);
        let (comparison, negated, set, if_exists, values) = match &self.test {
            Test::Null(absent) => return present.is_none() == *absent,
            Test::Compare {
                comparison,
                negated,
                set,
                if_exists,
                values,
            } => (comparison, negated, set, if_exists, values),
        };
        let Some(present) = present else {
            // IAM: a missing key fails a positive operator and satisfies a negated one, and the
            // set operators read it as the empty set; IfExists makes a missing key pass.
            return *if_exists
                || match set {
                    Set::Single => *negated,
                    Set::Any => false,
                    Set::All => true,
                };
        };
        let mut matches = |value: &String| {
            values
                .iter()
                .any(|pattern| compare(*comparison, pattern, value, keys, scratch))
        };
        match set {
            Set::Single if *negated => !present.iter().any(matches),
            Set::Single => present.iter().any(matches),
            Set::Any => present.iter().any(|value| matches(value) != *negated),
            Set::All => present.iter().all(|value| matches(value) != *negated),
        }
    }
}

fn compare(
    comparison: Comparison,
    pattern: &Template,
    value: &str,
    keys: &dyn Keys,
    scratch: &mut Vec<Unit>,
) -> bool {
    match comparison {
        Comparison::Equals => pattern.text(keys) == value,
        Comparison::EqualsIgnoreCase => pattern.text(keys).to_lowercase() == value.to_lowercase(),
        Comparison::Bool => pattern.text(keys).eq_ignore_ascii_case(value),
        Comparison::Like => pattern.glob(value, Case::Sensitive, keys, scratch),
    }
}

fn malformed(message: String) -> Error {
    Error::MalformedPolicy(message)
}

fn parse_document(document: &Value) -> Result<Vec<Statement>, Error> {
    let Value::Object(document) = document else {
        return Err(malformed("The policy must be a JSON object.".into()));
    };
    for key in document.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(malformed(format!(
                "The policy has an element IAM does not know: \"{key}\"."
            )));
        }
    }
    let variables = match document.get("Version") {
        None => false,
        Some(Value::String(version)) if version == VERSION_2012 => true,
        Some(Value::String(version)) if version == VERSION_2008 => false,
        Some(other) => {
            return Err(malformed(format!(
            "The policy's Version must be \"{VERSION_2012}\" (or \"{VERSION_2008}\"), not {other}."
        )))
        }
    };
    if let Some(id) = document.get("Id") {
        if !id.is_string() {
            return Err(malformed("The policy's Id must be a string.".into()));
        }
    }
    let statements = match document.get("Statement") {
        Some(Value::Object(statement)) => vec![statement],
        Some(Value::Array(statements)) if !statements.is_empty() => statements
            .iter()
            .enumerate()
            .map(|(i, statement)| {
                statement
                    .as_object()
                    .ok_or_else(|| malformed(format!("Statement {} must be a JSON object.", i + 1)))
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(malformed(
                "The policy must have a Statement: an object or a non-empty array of objects."
                    .into(),
            ))
        }
    };
    let mut sids = Vec::new();
    let mut parsed = Vec::with_capacity(statements.len());
    for (i, statement) in statements.into_iter().enumerate() {
        let statement = parse_statement(statement, variables)
            .map_err(|message| malformed(format!("Statement {}: {message}", i + 1)))?;
        if let Some(sid) = statement.1 {
            // IAM refuses a document whose statements share an Sid.
            if sids.contains(&sid) {
                return Err(malformed(format!(
                    "Statement {}: the Sid \"{sid}\" is used by an earlier statement; each must be unique.",
                    i + 1
                )));
            }
            sids.push(sid);
        }
        parsed.push(statement.0);
    }
    Ok(parsed)
}

/// One statement and its Sid; the error is the message without the statement's number.
fn parse_statement(
    statement: &Map<String, Value>,
    variables: bool,
) -> Result<(Statement, Option<String>), String> {
    for key in statement.keys() {
        match key.as_str() {
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource"
            | "Condition" => {}
            "Principal" | "NotPrincipal" => {
                return Err(format!(
                    "an identity policy has no {key}: it applies to whoever holds the role."
                ))
            }
            _ => return Err(format!("\"{key}\" is not an element of a statement.")),
        }
    }
    let sid = match statement.get("Sid") {
        None => None,
        Some(Value::String(sid)) => Some(sid.clone()),
        Some(_) => return Err("the Sid must be a string.".into()),
    };
    let effect = match statement.get("Effect") {
        Some(Value::String(effect)) if effect == "Allow" => Effect::Allow,
        Some(Value::String(effect)) if effect == "Deny" => Effect::Deny,
        Some(other) => {
            return Err(format!(
                "Effect must be \"Allow\" or \"Deny\", not {other}."
            ))
        }
        None => return Err("Effect is missing.".into()),
    };
    let (not_action, actions) = match (statement.get("Action"), statement.get("NotAction")) {
        (Some(actions), None) => (false, strings(actions, "Action")?),
        (None, Some(actions)) => (true, strings(actions, "NotAction")?),
        (Some(_), Some(_)) => return Err("Action and NotAction cannot both be given.".into()),
        (None, None) => return Err("Action (or NotAction) is missing.".into()),
    };
    for action in &actions {
        // IAM's grammar: `*`, or `<service prefix>:<action>`, each part possibly wildcarded.
        let valid = action == "*"
            || action
                .split_once(':')
                .is_some_and(|(service, name)| !service.is_empty() && !name.is_empty());
        if !valid {
            return Err(format!(
                "the action \"{action}\" must be \"*\" or name its service, as \"s3:GetObject\" does."
            ));
        }
    }
    let (not_resource, resources) = match (statement.get("Resource"), statement.get("NotResource"))
    {
        (Some(resources), None) => (false, strings(resources, "Resource")?),
        (None, Some(resources)) => (true, strings(resources, "NotResource")?),
        (Some(_), Some(_)) => return Err("Resource and NotResource cannot both be given.".into()),
        (None, None) => return Err("Resource (or NotResource) is missing.".into()),
    };
    for resource in &resources {
        if resource != "*" && !resource.starts_with("arn:") {
            return Err(format!(
                "the resource \"{resource}\" must be an ARN or \"*\"."
            ));
        }
    }
    let conditions = match statement.get("Condition") {
        None => Vec::new(),
        Some(Value::Object(operators)) => parse_conditions(operators, variables)?,
        Some(_) => return Err("Condition must be a JSON object.".into()),
    };
    // Actions take no variables in IAM, so `${` in an action is text.
    let actions = actions
        .iter()
        .map(|raw| Template::parse(raw, false))
        .collect::<Result<Vec<_>, _>>()?;
    let resources = resources
        .iter()
        .map(|raw| Template::parse(raw, variables))
        .collect::<Result<Vec<_>, _>>()?;
    let mut required: Vec<String> = Vec::new();
    let condition_values = conditions
        .iter()
        .flat_map(|condition| match &condition.test {
            Test::Compare { values, .. } => values.as_slice(),
            Test::Null(_) => &[],
        });
    for template in resources.iter().chain(condition_values) {
        for name in template.variables() {
            if !required
                .iter()
                .any(|known| known.eq_ignore_ascii_case(name))
            {
                required.push(name.to_owned());
            }
        }
    }
    Ok((
        Statement {
            effect,
            not_action,
            actions,
            not_resource,
            resources,
            conditions,
            required,
        },
        sid,
    ))
}

/// A string or a non-empty array of strings.
fn strings(value: &Value, element: &str) -> Result<Vec<String>, String> {
    let list = match value {
        Value::String(one) => return Ok(vec![one.clone()]),
        Value::Array(list) if !list.is_empty() => list,
        _ => {
            return Err(format!(
                "{element} must be a string or a non-empty array of strings."
            ))
        }
    };
    list.iter()
        .map(|item| {
            item.as_str().map(str::to_owned).ok_or_else(|| {
                format!("{element} must be a string or a non-empty array of strings.")
            })
        })
        .collect()
}

fn parse_conditions(
    operators: &Map<String, Value>,
    variables: bool,
) -> Result<Vec<Condition>, String> {
    let mut conditions = Vec::new();
    for (operator, tests) in operators {
        let Value::Object(tests) = tests else {
            return Err(format!(
                "the condition operator {operator} must map condition keys to values."
            ));
        };
        if tests.is_empty() {
            return Err(format!("the condition operator {operator} names no key."));
        }
        let kind = parse_operator(operator)?;
        for (key, values) in tests {
            let values = condition_values(values)
                .ok_or_else(|| format!("the values of {key} under {operator} must be a string, number or boolean, or a non-empty array of them."))?;
            let test = match kind {
                Operator::Null => {
                    let [value] = values.as_slice() else {
                        return Err(format!(
                            "Null takes one value for {key}: \"true\" or \"false\"."
                        ));
                    };
                    match value.as_str() {
                        "true" => Test::Null(true),
                        "false" => Test::Null(false),
                        _ => {
                            return Err(format!(
                                "Null takes \"true\" or \"false\" for {key}, not \"{value}\"."
                            ))
                        }
                    }
                }
                Operator::Compare {
                    comparison,
                    negated,
                    set,
                    if_exists,
                } => Test::Compare {
                    comparison,
                    negated,
                    set,
                    if_exists,
                    values: values
                        .iter()
                        .map(|value| Template::parse(value, variables))
                        .collect::<Result<_, _>>()?,
                },
            };
            conditions.push(Condition {
                key: key.clone(),
                test,
            });
        }
    }
    Ok(conditions)
}

/// Condition values as IAM reads them: JSON numbers and booleans are their text.
fn condition_values(value: &Value) -> Option<Vec<String>> {
    let one = |value: &Value| match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    match value {
        Value::Array(list) if !list.is_empty() => list.iter().map(one).collect(),
        Value::Array(_) => None,
        other => one(other).map(|text| vec![text]),
    }
}

#[derive(Debug, Clone, Copy)]
enum Operator {
    Compare {
        comparison: Comparison,
        negated: bool,
        set: Set,
        if_exists: bool,
    },
    Null,
}

fn parse_operator(operator: &str) -> Result<Operator, String> {
    let (set, rest) = if let Some(rest) = operator.strip_prefix("ForAnyValue:") {
        (Set::Any, rest)
    } else if let Some(rest) = operator.strip_prefix("ForAllValues:") {
        (Set::All, rest)
    } else {
        (Set::Single, operator)
    };
    if rest == "Null" {
        if set != Set::Single {
            return Err(format!(
                "the condition operator {operator} does not exist: Null takes no set qualifier."
            ));
        }
        return Ok(Operator::Null);
    }
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let (comparison, negated) = match base {
        "StringEquals" => (Comparison::Equals, false),
        "StringNotEquals" => (Comparison::Equals, true),
        "StringEqualsIgnoreCase" => (Comparison::EqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (Comparison::EqualsIgnoreCase, true),
        "StringLike" => (Comparison::Like, false),
        "StringNotLike" => (Comparison::Like, true),
        "Bool" => (Comparison::Bool, false),
        _ => {
            return Err(format!(
                "the condition operator {operator} is not supported by tessera; it supports {SUPPORTED_OPERATORS}."
            ))
        }
    };
    Ok(Operator::Compare {
        comparison,
        negated,
        set,
        if_exists,
    })
}
