//! Typed reads of a request that the service model has already validated, so that a
//! missing required member here is a tessera bug rather than a client error.

use serde_json::{Map, Value};

use crate::Error;

/// A validated request body, with its request id and, for a signed request, the region it
/// was signed for.
pub struct Input {
    members: Map<String, Value>,
    request_id: String,
    region: Option<String>,
}

impl Input {
    pub fn new(members: Map<String, Value>) -> Self {
        Self {
            members,
            request_id: String::new(),
            region: None,
        }
    }

    /// Attaches the request id (the `event_id` of tokens the request issues).
    #[must_use]
    pub fn with_request_id(mut self, request_id: String) -> Self {
        self.request_id = request_id;
        self
    }

    /// Attaches the region a signed request was signed for (public operations have none).
    #[must_use]
    pub fn with_region(mut self, region: Option<String>) -> Self {
        self.region = region;
        self
    }

    /// The request id.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// The region the request was signed for, if it was signed.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `UserPoolId`, as the request's region sees it: a pool belongs to the region whose
    /// name its id starts with, and another region's endpoint does not know it.
    pub fn user_pool_id(&self) -> Result<&str, Error> {
        let pool_id = self.required_str("UserPoolId")?;
        if let Some(region) = self.region() {
            if tessera_core::region_of_pool_id(pool_id) != Some(region) {
                return Err(Error::pool_not_found(pool_id));
            }
        }
        Ok(pool_id)
    }

    /// An optional member; JSON `null` counts as absent.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.members.get(name).filter(|v| !v.is_null())
    }

    /// An optional string member.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// A string member the model marks required.
    pub fn required_str(&self, name: &str) -> Result<&str, Error> {
        self.str(name).ok_or_else(|| {
            Error::invalid_parameter(format!(
                "1 validation error detected: Value null at '{}' failed to satisfy constraint: Member must not be null",
                lower_camel(name)
            ))
        })
    }

    /// A list-of-strings member; absent is empty.
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// An optional integer member.
    pub fn i64(&self, name: &str) -> Option<i64> {
        self.get(name).and_then(Value::as_i64)
    }

    /// An optional boolean member.
    pub fn bool(&self, name: &str) -> Option<bool> {
        self.get(name).and_then(Value::as_bool)
    }
}

/// A member name as AWS quotes it in validation messages (`RoleArn` → `roleArn`).
pub fn lower_camel(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Seconds since the epoch with millisecond precision, the form every AWS timestamp takes.
pub fn epoch_seconds(time: std::time::SystemTime) -> Value {
    let millis = time
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    // Integral milliseconds divided by 1000 print as e.g. 1700000000.123.
    serde_json::Number::from_f64(millis as f64 / 1000.0).map_or(Value::Null, Value::Number)
}

/// A pagination token: the last id of the previous page, opaque to the client.
pub fn encode_token(last_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{last_id}"))
}

/// A pagination token of a listing ordered by time, then id: the last entry's instant and id.
pub fn encode_time_cursor(at: std::time::SystemTime, id: &str) -> String {
    let ms = at
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    encode_token(&format!("{ms} {id}"))
}

/// The instant (milliseconds since the epoch) and id a token made by [`encode_time_cursor`]
/// names.
pub fn decode_time_cursor(token: &str) -> Result<(i64, String), Error> {
    decode_token(token)?
        .split_once(' ')
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_owned())))
        .ok_or_else(|| Error::invalid_parameter("Invalid NextToken."))
}

/// Reads a token made by [`encode_token`].
pub fn decode_token(token: &str) -> Result<String, Error> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix("v1:").map(String::from))
        .ok_or_else(|| Error::invalid_parameter("Invalid pagination token."))
}
