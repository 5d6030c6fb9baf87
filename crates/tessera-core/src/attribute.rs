//! User attributes against a pool's schema (`SchemaAttributes` of the pool settings).
//!
//! [`AttributeSchema::validate`] checks the attributes a caller sets and
//! [`AttributeSchema::missing_required`] the completeness of a new user. Failures are
//! `InvalidParameterException` at the edge, with these messages:
//!
//! - Schema violations, gathered for all attributes of the request and reported together
//!   the way Cognito does, one `<name>: <reason>` line each (the name quoted as
//!   [`crate::excerpt`] quotes a caller's value), every line ending in a newline:
//!   `Attributes did not conform to the schema: <name>: <reason>\n…`. The reasons are
//!   - `Attribute does not exist in the schema.` for a name the pool does not have;
//!   - `The attribute is assigned by the user pool and cannot be set.` for `sub`;
//!   - `Attribute cannot be updated.` for an immutable attribute outside creation;
//!   - `Developer-only attributes can be set only by an administrator.` for `dev:custom:*`
//!     from a non-admin operation;
//!   - `String must be no shorter than <n> characters` /
//!     `String must be no longer than <n> characters` (lengths in characters);
//!   - `Number must be an integer` / `Number must be no less than <n>` /
//!     `Number must be no greater than <n>`;
//!   - `Boolean must be true or false` (the words in any case: Cognito accepts `"True"`
//!     and `"TRUE"` and stores them as given, see [`boolean_value`]);
//!   - `Birthdate must be a date in the format YYYY-MM-DD` for `birthdate` (the year may be
//!     `0000`, which OpenID Connect uses for a birthday without a year);
//!   - `The attribute is required` (from [`AttributeError::required`]).
//! - `Invalid email address format.` for an `email` that is not a plausible address.
//! - `Invalid phone number format.` for a `phone_number` that is not `+` and 1 to 15 digits.
//!
//! The two format errors are reported only when the request has no schema violation,
//! because Cognito answers them on their own rather than inside the schema list.

use std::fmt;

use serde_json::{Map, Value};

/// The data type of an attribute (`AttributeDataType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeDataType {
    /// Any text, within `StringAttributeConstraints`.
    String,
    /// An integer, within `NumberAttributeConstraints`.
    Number,
    /// A date and time; Cognito does not constrain its text, and neither does tessera.
    DateTime,
    /// `true` or `false`.
    Boolean,
}

/// One entry of the pool's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaAttribute {
    /// The full name: `email`, `custom:tier`, `dev:custom:internal_id`.
    pub name: String,
    /// The data type.
    pub data_type: AttributeDataType,
    /// Whether the value may change after the user is created.
    pub mutable: bool,
    /// Whether every user must have a value.
    pub required: bool,
    /// Whether only administrators may set it (`dev:custom:*`).
    pub developer_only: bool,
    /// Fewest characters of a String value.
    pub min_length: Option<u64>,
    /// Most characters of a String value.
    pub max_length: Option<u64>,
    /// Smallest Number value.
    pub min_value: Option<i128>,
    /// Largest Number value.
    pub max_value: Option<i128>,
}

/// The parsed view of a pool's `SchemaAttributes`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributeSchema {
    attributes: Vec<SchemaAttribute>,
}

/// One attribute that breaks the schema, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The attribute's name as the caller gave it.
    pub attribute: String,
    /// Why it was refused (one of the reasons listed in the module documentation).
    pub reason: String,
}

/// Attributes that cannot be stored; an `InvalidParameterException` at the edge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeError {
    /// One or more attributes break the schema.
    Schema(Vec<SchemaViolation>),
    /// `email` is not a plausible address.
    InvalidEmail,
    /// `phone_number` is not E.164.
    InvalidPhoneNumber,
}

impl AttributeError {
    /// The error for required attributes a new user lacks, named as
    /// [`AttributeSchema::missing_required`] returns them.
    pub fn required<I: IntoIterator<Item = String>>(names: I) -> Self {
        Self::Schema(
            names
                .into_iter()
                .map(|attribute| SchemaViolation {
                    attribute,
                    reason: "The attribute is required".to_owned(),
                })
                .collect(),
        )
    }
}

impl fmt::Display for AttributeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Schema(violations) => {
                f.write_str("Attributes did not conform to the schema: ")?;
                for violation in violations {
                    let name = crate::excerpt(&violation.attribute);
                    writeln!(f, "{name}: {}", violation.reason)?;
                }
                Ok(())
            }
            Self::InvalidEmail => f.write_str("Invalid email address format."),
            Self::InvalidPhoneNumber => f.write_str("Invalid phone number format."),
        }
    }
}

impl std::error::Error for AttributeError {}

/// Cognito's standard attributes, used when a settings document has no `SchemaAttributes`
/// at all. Pools created through the API always carry the full list; this keeps a document
/// without one (an older or hand-written record) behaving like a default Cognito pool
/// instead of refusing every attribute.
const STANDARD_ATTRIBUTES: &[(&str, AttributeDataType)] = &[
    ("sub", AttributeDataType::String),
    ("name", AttributeDataType::String),
    ("given_name", AttributeDataType::String),
    ("family_name", AttributeDataType::String),
    ("middle_name", AttributeDataType::String),
    ("nickname", AttributeDataType::String),
    ("preferred_username", AttributeDataType::String),
    ("profile", AttributeDataType::String),
    ("picture", AttributeDataType::String),
    ("website", AttributeDataType::String),
    ("email", AttributeDataType::String),
    ("email_verified", AttributeDataType::Boolean),
    ("gender", AttributeDataType::String),
    ("birthdate", AttributeDataType::String),
    ("zoneinfo", AttributeDataType::String),
    ("locale", AttributeDataType::String),
    ("phone_number", AttributeDataType::String),
    ("phone_number_verified", AttributeDataType::Boolean),
    ("address", AttributeDataType::String),
    ("updated_at", AttributeDataType::Number),
    ("identities", AttributeDataType::String),
];

/// The longest attribute value Cognito stores; the limit of a String without `MaxLength`.
const MAX_VALUE_LENGTH: u64 = 2048;

impl AttributeSchema {
    /// Reads `SchemaAttributes` of a pool settings document. Entries without a `Name` are
    /// skipped; a missing `AttributeDataType` means String, a missing `Mutable` true and a
    /// missing `Required` false, as in CreateUserPool. Constraints are accepted as strings
    /// (Cognito's form) or numbers, and ignored when they do not parse. Without any
    /// `SchemaAttributes` the result is Cognito's standard schema.
    pub fn from_pool_settings(settings: &Map<String, Value>) -> Self {
        let Some(entries) = settings.get("SchemaAttributes").and_then(Value::as_array) else {
            return Self::standard();
        };
        Self {
            attributes: entries.iter().filter_map(parse_entry).collect(),
        }
    }

    /// Cognito's standard attributes with their default settings.
    fn standard() -> Self {
        let attributes = STANDARD_ATTRIBUTES
            .iter()
            .map(|&(name, data_type)| {
                let string = data_type == AttributeDataType::String;
                let birthdate = name == "birthdate";
                SchemaAttribute {
                    name: name.to_owned(),
                    data_type,
                    mutable: name != "sub",
                    required: name == "sub",
                    developer_only: false,
                    min_length: match name {
                        "sub" => Some(1),
                        "birthdate" => Some(10),
                        _ => string.then_some(0),
                    },
                    max_length: if birthdate {
                        Some(10)
                    } else {
                        string.then_some(MAX_VALUE_LENGTH)
                    },
                    min_value: (data_type == AttributeDataType::Number).then_some(0),
                    max_value: None,
                }
            })
            .collect();
        Self { attributes }
    }

    /// The schema entry of an attribute, by its full name.
    pub fn get(&self, name: &str) -> Option<&SchemaAttribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// Every entry, in the order of the settings document.
    pub fn attributes(&self) -> &[SchemaAttribute] {
        &self.attributes
    }

    /// Validates attributes a caller sets, as name/value pairs. `creating` is true for
    /// SignUp and AdminCreateUser, when immutable attributes may still be given; `admin` is
    /// true for administrator operations, the only ones that may set developer-only
    /// attributes. The messages are listed in the module documentation.
    pub fn validate(
        &self,
        attributes: &[(String, String)],
        creating: bool,
        admin: bool,
    ) -> Result<(), AttributeError> {
        let mut violations = Vec::new();
        let mut format_error = None;
        for (name, value) in attributes {
            let refuse = |reason: String| SchemaViolation {
                attribute: name.clone(),
                reason,
            };
            let Some(spec) = self.get(name) else {
                violations.push(refuse("Attribute does not exist in the schema.".into()));
                continue;
            };
            // `sub` is the user's permanent identifier; even at creation it is ours to assign.
            if name == "sub" {
                violations.push(refuse(
                    "The attribute is assigned by the user pool and cannot be set.".into(),
                ));
                continue;
            }
            if spec.developer_only && !admin {
                violations.push(refuse(
                    "Developer-only attributes can be set only by an administrator.".into(),
                ));
                continue;
            }
            if !spec.mutable && !creating {
                violations.push(refuse("Attribute cannot be updated.".into()));
                continue;
            }
            if let Some(reason) = check_value(spec, value) {
                violations.push(refuse(reason));
                continue;
            }
            match name.as_str() {
                "email" if !plausible_email(value) => {
                    format_error.get_or_insert(AttributeError::InvalidEmail);
                }
                "phone_number" if !e164(value) => {
                    format_error.get_or_insert(AttributeError::InvalidPhoneNumber);
                }
                "birthdate" if !birthdate(value) => violations.push(refuse(
                    "Birthdate must be a date in the format YYYY-MM-DD".into(),
                )),
                _ => {}
            }
        }
        if !violations.is_empty() {
            return Err(AttributeError::Schema(violations));
        }
        format_error.map_or(Ok(()), Err)
    }

    /// Names of required attributes missing from a complete attribute set, in schema
    /// order. `sub` is never reported: the pool assigns it. Pass the result to
    /// [`AttributeError::required`] for Cognito's message.
    pub fn missing_required(&self, present: &[&str]) -> Vec<String> {
        self.attributes
            .iter()
            .filter(|a| a.required && a.name != "sub" && !present.contains(&a.name.as_str()))
            .map(|a| a.name.clone())
            .collect()
    }
}

/// One `SchemaAttributes` entry, or `None` without a usable name.
fn parse_entry(entry: &Value) -> Option<SchemaAttribute> {
    let name = entry.get("Name").and_then(Value::as_str)?.to_owned();
    let data_type = match entry.get("AttributeDataType").and_then(Value::as_str) {
        Some("Number") => AttributeDataType::Number,
        Some("DateTime") => AttributeDataType::DateTime,
        Some("Boolean") => AttributeDataType::Boolean,
        _ => AttributeDataType::String,
    };
    let flag = |member: &str, default: bool| {
        entry
            .get(member)
            .and_then(Value::as_bool)
            .unwrap_or(default)
    };
    let strings = entry.get("StringAttributeConstraints");
    let numbers = entry.get("NumberAttributeConstraints");
    let string = data_type == AttributeDataType::String;
    let number = data_type == AttributeDataType::Number;
    Some(SchemaAttribute {
        developer_only: flag("DeveloperOnlyAttribute", false) || name.starts_with("dev:custom:"),
        mutable: flag("Mutable", true),
        required: flag("Required", false),
        min_length: string
            .then(|| constraint::<u64>(strings, "MinLength"))
            .flatten(),
        max_length: string.then(|| {
            constraint::<u64>(strings, "MaxLength")
                .unwrap_or(MAX_VALUE_LENGTH)
                .min(MAX_VALUE_LENGTH)
        }),
        min_value: number
            .then(|| constraint::<i128>(numbers, "MinValue"))
            .flatten(),
        max_value: number
            .then(|| constraint::<i128>(numbers, "MaxValue"))
            .flatten(),
        name,
        data_type,
    })
}

/// A constraint member, written as a string (Cognito's form) or a number.
fn constraint<T: std::str::FromStr>(constraints: Option<&Value>, member: &str) -> Option<T> {
    match constraints?.get(member)? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

/// Why `value` does not fit the attribute's type and constraints, if it does not.
fn check_value(spec: &SchemaAttribute, value: &str) -> Option<String> {
    match spec.data_type {
        AttributeDataType::String => {
            let length = u64::try_from(value.chars().count()).unwrap_or(u64::MAX);
            if let Some(min) = spec.min_length.filter(|&min| length < min) {
                return Some(format!("String must be no shorter than {min} characters"));
            }
            if let Some(max) = spec.max_length.filter(|&max| length > max) {
                return Some(format!("String must be no longer than {max} characters"));
            }
            None
        }
        AttributeDataType::Number => {
            let Some(number) = integer(value) else {
                return Some("Number must be an integer".into());
            };
            if let Some(min) = spec.min_value.filter(|&min| number < min) {
                return Some(format!("Number must be no less than {min}"));
            }
            if let Some(max) = spec.max_value.filter(|&max| number > max) {
                return Some(format!("Number must be no greater than {max}"));
            }
            None
        }
        AttributeDataType::Boolean => boolean_value(value)
            .is_none()
            .then(|| "Boolean must be true or false".into()),
        AttributeDataType::DateTime => None,
    }
}

/// The meaning of a Boolean attribute value: `true` or `false` in any letter case.
///
/// Cognito accepts `"True"` and `"TRUE"` (AdminCreateUser with `email_verified = "True"`
/// succeeds, amplify-js issue 8205) and keeps the value as given: it comes back verbatim
/// from AdminGetUser and reaches triggers unchanged (amplify-js issue 5834). So the stored
/// text keeps its case, and whoever reads a flag asks this function what it means.
pub fn boolean_value(value: &str) -> Option<bool> {
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An optional minus sign and ASCII digits, within `i128`; no plus sign, spaces, decimal
/// point or exponent, so that a value means the same to every client that reads it back.
fn integer(value: &str) -> Option<i128> {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// A plausible e-mail address: one `@`, a local part of 1 to 64 characters without
/// whitespace, control characters or the specials `"(),:;<>[\]`, and a domain of at least
/// two dot-separated labels of letters, digits and hyphens (non-ASCII letters allowed for
/// internationalised domains), no label empty or starting or ending with a hyphen. This is
/// deliberately narrower than RFC 5322 (no quoted local parts, no address literals), which
/// is what mail providers accept in practice.
fn plausible_email(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    if domain.contains('@') {
        return false;
    }
    let local_ok = !local.is_empty()
        && local.chars().count() <= 64
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"\"(),:;<>[\\]".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && domain.chars().count() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
    local_ok && domain_ok
}

/// E.164 as Cognito checks it: `+` and then 1 to 15 ASCII digits.
fn e164(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|digits| {
        (1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
    })
}

/// `YYYY-MM-DD` naming a real calendar day; year `0000` is allowed because OpenID Connect
/// uses it for a birthday whose year is withheld (and, being divisible by 400, it admits
/// 29 February).
fn birthdate(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let part = value.get(range)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests;
