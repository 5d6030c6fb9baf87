//! The claims the checks read, parsed straight from the payload bytes.
//!
//! Only these members are decoded (strings borrowed where JSON allows); every other claim
//! is skipped here and parsed into a map only if a handler asks for it
//! ([`crate::Claims::get`]). Each member is read leniently, whatever its JSON type, so that
//! a claim of the wrong type is reported by name (`InvalidClaim("exp")`) rather than as a
//! malformed token.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::error::VerifyError;

/// A claim value as far as the checks care.
#[derive(Debug, Default)]
pub(crate) enum Json<'a> {
    Str(Cow<'a, str>),
    /// A non-negative integer.
    Uint(u64),
    /// Any other number.
    Float(f64),
    /// An array whose items are all strings.
    Strings(Vec<Cow<'a, str>>),
    /// `null`, a boolean, an object, or an array with a non-string item.
    #[default]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Json::Str(Cow::Owned(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Json::Uint(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(match u64::try_from(v) {
            Ok(v) => Json::Uint(v),
            Err(_) => Json::Float(v as f64),
        })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Json::Float(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Json<'de>>()? {
            match item {
                Json::Str(s) => items.push(s),
                _ => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Json::Other);
                }
            }
        }
        Ok(Json::Strings(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Other)
    }
}

/// The claims the checks read. Serde refuses a duplicated member.
#[derive(Deserialize, Default)]
pub(crate) struct Payload<'a> {
    #[serde(borrow, default)]
    pub(crate) iss: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) sub: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) token_use: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) client_id: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) aud: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) scope: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) username: Option<Json<'a>>,
    #[serde(borrow, default, rename = "cognito:username")]
    pub(crate) cognito_username: Option<Json<'a>>,
    #[serde(borrow, default, rename = "cognito:groups")]
    pub(crate) groups: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) jti: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) origin_jti: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) exp: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) nbf: Option<Json<'a>>,
    #[serde(borrow, default)]
    pub(crate) iat: Option<Json<'a>>,
}

impl<'a> Payload<'a> {
    /// Parses a payload, which must be a JSON object.
    pub(crate) fn parse(text: &'a str) -> Result<Self, VerifyError> {
        if !text.trim_start().starts_with('{') {
            return Err(VerifyError::Malformed("the payload is not a JSON object"));
        }
        serde_json::from_str(text)
            .map_err(|_| VerifyError::Malformed("the payload is not a JSON object"))
    }
}

/// A string claim: absent is `None`, another type is `InvalidClaim`.
pub(crate) fn string<'v, 'a>(
    value: &'v Option<Json<'a>>,
    name: &'static str,
) -> Result<Option<&'v str>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Json::Str(s)) => Ok(Some(s)),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

/// An array-of-strings claim (absent is empty).
pub(crate) fn strings<'v, 'a>(
    value: &'v Option<Json<'a>>,
    name: &'static str,
) -> Result<&'v [Cow<'a, str>], VerifyError> {
    match value {
        None => Ok(&[]),
        Some(Json::Strings(items)) => Ok(items),
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}

/// A NumericDate (RFC 7519): a non-negative JSON number, fractions truncated.
pub(crate) fn numeric_date(
    value: &Option<Json<'_>>,
    name: &'static str,
) -> Result<Option<u64>, VerifyError> {
    match value {
        None => Ok(None),
        Some(Json::Uint(secs)) => Ok(Some(*secs)),
        Some(Json::Float(f)) if f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64 => {
            Ok(Some(*f as u64))
        }
        Some(_) => Err(VerifyError::InvalidClaim(name)),
    }
}
