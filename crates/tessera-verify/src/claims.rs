//! The claims of a verified token.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::VerifyError;
use crate::jwk::Algorithm;

/// The claims of a token that passed every check. Cheap to clone.
///
/// Typed accessors cover what Cognito and tessera put in ID and access tokens; every claim,
/// including custom ones (`custom:*`, `email`, …), is available through [`Claims::get`] and
/// [`Claims::as_map`]. Serializes as the claims object.
#[derive(Clone)]
pub struct Claims {
    inner: Arc<Inner>,
}

/// A string claim: a span of the payload, or (when the JSON had escapes) its own copy.
#[derive(Debug)]
pub(crate) enum Text {
    Span(usize, usize),
    Owned(Box<str>),
}

impl Text {
    /// `value` as a span of `payload` when it points into it, else a copy.
    pub(crate) fn new(value: &str, payload: &str) -> Text {
        let base = payload.as_ptr() as usize;
        let start = value.as_ptr() as usize;
        if start >= base && start + value.len() <= base + payload.len() {
            Text::Span(start - base, start - base + value.len())
        } else {
            Text::Owned(value.into())
        }
    }

    fn get<'a>(&'a self, payload: &'a str) -> &'a str {
        match self {
            Text::Span(start, end) => &payload[*start..*end],
            Text::Owned(text) => text,
        }
    }
}

/// The typed fields the verifier checked, and the payload for everything else.
pub(crate) struct Inner {
    /// The decoded payload (a JSON object).
    pub(crate) payload: String,
    /// Every claim, parsed from `payload` on first use.
    pub(crate) map: OnceLock<Map<String, Value>>,
    pub(crate) kid: String,
    pub(crate) alg: Algorithm,
    pub(crate) iss: Text,
    pub(crate) sub: Option<Text>,
    pub(crate) token_use: Option<Text>,
    pub(crate) client_id: Option<Text>,
    pub(crate) aud: Vec<Text>,
    pub(crate) username: Option<Text>,
    pub(crate) scope: Option<Text>,
    pub(crate) groups: Vec<Text>,
    pub(crate) jti: Option<Text>,
    pub(crate) origin_jti: Option<Text>,
    pub(crate) exp: u64,
    pub(crate) iat: Option<u64>,
    pub(crate) nbf: Option<u64>,
}

impl Claims {
    pub(crate) fn new(inner: Inner) -> Self {
        Claims {
            inner: Arc::new(inner),
        }
    }

    /// A claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }

    /// A string claim by name (`None` if absent or not a string).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Every claim (parsed from the payload on first use).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.inner
            .map
            .get_or_init(|| serde_json::from_str(&self.inner.payload).unwrap_or_default())
    }

    /// `sub`: the user's id (for client_credentials tokens, the client id).
    pub fn sub(&self) -> Option<&str> {
        self.text(&self.inner.sub)
    }

    fn text<'a>(&'a self, text: &'a Option<Text>) -> Option<&'a str> {
        text.as_ref().map(|t| t.get(&self.inner.payload))
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        self.inner.iss.get(&self.inner.payload)
    }

    /// `token_use`: `"id"` or `"access"` on Cognito and tessera tokens.
    pub fn token_use(&self) -> Option<&str> {
        self.text(&self.inner.token_use)
    }

    /// The app client the token was issued to: `client_id` (access tokens), else the first
    /// `aud` (ID tokens).
    pub fn client_id(&self) -> Option<&str> {
        self.text(&self.inner.client_id)
            .or_else(|| self.audience().next())
    }

    /// `aud`, whether a string or an array.
    pub fn audience(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.aud.iter().map(|t| t.get(&self.inner.payload))
    }

    /// The user name: `username` (access tokens) or `cognito:username` (ID tokens).
    pub fn username(&self) -> Option<&str> {
        self.text(&self.inner.username)
    }

    /// The scopes in `scope` (space-separated).
    pub fn scopes(&self) -> impl Iterator<Item = &str> + '_ {
        self.text(&self.inner.scope)
            .unwrap_or_default()
            .split_whitespace()
    }

    /// Whether `scope` contains `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The user's groups (`cognito:groups`).
    pub fn groups(&self) -> impl Iterator<Item = &str> + '_ {
        self.inner.groups.iter().map(|t| t.get(&self.inner.payload))
    }

    /// Whether the user is in `group`.
    pub fn in_group(&self, group: &str) -> bool {
        self.groups().any(|g| g == group)
    }

    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.inner.exp
    }

    /// `iat`, seconds since the epoch.
    pub fn issued_at(&self) -> Option<u64> {
        self.inner.iat
    }

    /// `nbf`, seconds since the epoch.
    pub fn not_before(&self) -> Option<u64> {
        self.inner.nbf
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.text(&self.inner.jti)
    }

    /// `origin_jti`: the sign-in session (same for all tokens of one refresh token).
    pub fn origin_jti(&self) -> Option<&str> {
        self.text(&self.inner.origin_jti)
    }

    /// The `kid` of the key that signed the token.
    pub fn kid(&self) -> &str {
        &self.inner.kid
    }

    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.inner.alg
    }

    /// `Err(MissingScope)` unless `scope` is granted.
    pub fn require_scope(&self, scope: &str) -> Result<(), VerifyError> {
        if self.has_scope(scope) {
            Ok(())
        } else {
            Err(VerifyError::MissingScope(scope.to_owned()))
        }
    }

    /// `Err(MissingGroup)` unless the user is in at least one of `groups` (an empty list
    /// requires nothing).
    pub fn require_any_group<I, T>(&self, groups: I) -> Result<(), VerifyError>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let groups: Vec<T> = groups.into_iter().collect();
        if groups.is_empty() || groups.iter().any(|g| self.in_group(g.as_ref())) {
            Ok(())
        } else {
            Err(VerifyError::MissingGroup(
                groups.iter().map(|g| g.as_ref().to_owned()).collect(),
            ))
        }
    }
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("kid", &self.inner.kid)
            .field("alg", &self.inner.alg)
            .field("claims", self.as_map())
            .finish()
    }
}

impl Serialize for Claims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_map().serialize(serializer)
    }
}
