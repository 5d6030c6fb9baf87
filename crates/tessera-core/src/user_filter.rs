//! The `Filter` of ListUsers: `AttributeName Filter-Type "AttributeValue"`.
//!
//! What is accepted:
//! - an attribute name from the searchable list below, spelled exactly (names are
//!   case-sensitive, as attribute names are everywhere in Cognito);
//! - the operator `=` (exact match) or `^=` (starts with), with or without whitespace
//!   around it;
//! - the value in double quotes. Inside the quotes `\"` stands for a double quote and `\\`
//!   for a backslash; any other backslash is an error, so that a value never means
//!   something other than what it looks like. Single quotes are not quotes;
//! - whitespace before and after the whole expression. A filter that is empty or only
//!   whitespace means no filter.
//!
//! Searchable attributes are those Cognito documents: `username`, `email`, `phone_number`,
//! `name`, `given_name`, `family_name`, `preferred_username`, `cognito:user_status`,
//! `status` and `sub`. Note the two statuses: `cognito:user_status` is the confirmation
//! state (`CONFIRMED`, `UNCONFIRMED`, `FORCE_CHANGE_PASSWORD`, …, called "Status" in the
//! AWS console) and matches case-insensitively; `status` is whether the user is enabled
//! (`Enabled` or `Disabled`, called "Enabled" in the console) and matches case-sensitively.
//! Every other attribute matches case-sensitively; whether `username` ignores case depends
//! on the pool's `UsernameConfiguration`, which is the caller's to apply to both sides.
//!
//! Errors are `InvalidParameterException` at the edge, with Cognito's messages:
//! `Error while parsing filter.` for anything malformed and
//! `Invalid search attribute: <name>` for a well-formed filter on an attribute that cannot
//! be searched (custom attributes among them), the name quoted as [`crate::excerpt`] quotes
//! a caller's value.

/// An attribute ListUsers can search on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterAttribute {
    /// `username`.
    Username,
    /// `email`.
    Email,
    /// `phone_number`.
    PhoneNumber,
    /// `name`.
    Name,
    /// `given_name`.
    GivenName,
    /// `family_name`.
    FamilyName,
    /// `preferred_username`.
    PreferredUsername,
    /// `cognito:user_status`: the confirmation state (`CONFIRMED`, `UNCONFIRMED`, …).
    UserStatus,
    /// `status`: `Enabled` or `Disabled`.
    Status,
    /// `sub`.
    Sub,
}

impl FilterAttribute {
    /// The attribute named in a filter, if it is searchable.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "username" => Self::Username,
            "email" => Self::Email,
            "phone_number" => Self::PhoneNumber,
            "name" => Self::Name,
            "given_name" => Self::GivenName,
            "family_name" => Self::FamilyName,
            "preferred_username" => Self::PreferredUsername,
            "cognito:user_status" => Self::UserStatus,
            "status" => Self::Status,
            "sub" => Self::Sub,
            _ => return None,
        })
    }

    /// The name as it is written in a filter.
    pub fn name(self) -> &'static str {
        match self {
            Self::Username => "username",
            Self::Email => "email",
            Self::PhoneNumber => "phone_number",
            Self::Name => "name",
            Self::GivenName => "given_name",
            Self::FamilyName => "family_name",
            Self::PreferredUsername => "preferred_username",
            Self::UserStatus => "cognito:user_status",
            Self::Status => "status",
            Self::Sub => "sub",
        }
    }

    /// True when values of this attribute match regardless of ASCII case (only
    /// `cognito:user_status`, as Cognito documents).
    pub fn case_insensitive(self) -> bool {
        self == Self::UserStatus
    }
}

/// How a filter compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterOp {
    /// `=`: the whole value.
    Equals,
    /// `^=`: a prefix of the value.
    StartsWith,
}

/// A parsed ListUsers filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFilter {
    /// What to search.
    pub attribute: FilterAttribute,
    /// How to compare.
    pub op: FilterOp,
    /// The value, with escapes resolved.
    pub value: String,
}

/// A filter ListUsers cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// The text is not of the form `name op "value"`.
    #[error("Error while parsing filter.")]
    Syntax,
    /// The form is right but the attribute cannot be searched. The message quotes the
    /// name's [`excerpt`](crate::excerpt).
    #[error("Invalid search attribute: {}", crate::excerpt(.0))]
    UnknownAttribute(String),
}

/// Parses a ListUsers `Filter`; `Ok(None)` when it is empty or only whitespace.
pub fn parse_user_filter(text: &str) -> Result<Option<UserFilter>, FilterError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let name_end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    if name.is_empty() {
        return Err(FilterError::Syntax);
    }
    let rest = rest.trim_start();
    let (op, rest) = if let Some(rest) = rest.strip_prefix("^=") {
        (FilterOp::StartsWith, rest)
    } else if let Some(rest) = rest.strip_prefix('=') {
        (FilterOp::Equals, rest)
    } else {
        return Err(FilterError::Syntax);
    };
    let rest = rest.trim_start();
    let Some(quoted) = rest.strip_prefix('"') else {
        return Err(FilterError::Syntax);
    };
    let mut value = String::new();
    let mut chars = quoted.char_indices();
    let after = loop {
        match chars.next() {
            None => return Err(FilterError::Syntax),
            Some((i, '"')) => break &quoted[i + 1..],
            Some((_, '\\')) => match chars.next() {
                Some((_, c @ ('"' | '\\'))) => value.push(c),
                _ => return Err(FilterError::Syntax),
            },
            Some((_, c)) => value.push(c),
        }
    };
    // `text` was trimmed, so anything left after the closing quote is trailing garbage.
    if !after.is_empty() {
        return Err(FilterError::Syntax);
    }
    let attribute = FilterAttribute::from_name(name)
        .ok_or_else(|| FilterError::UnknownAttribute(name.to_owned()))?;
    Ok(Some(UserFilter {
        attribute,
        op,
        value,
    }))
}

impl UserFilter {
    /// True when a user's value of the filtered attribute matches. The caller passes the
    /// value as the filter sees it: `Enabled` or `Disabled` for `status`, the status name
    /// for `cognito:user_status`, and the username already case-folded when the pool's
    /// usernames are case-insensitive.
    pub fn matches(&self, value: &str) -> bool {
        let insensitive = self.attribute.case_insensitive();
        match self.op {
            FilterOp::Equals if insensitive => value.eq_ignore_ascii_case(&self.value),
            FilterOp::Equals => value == self.value,
            FilterOp::StartsWith if insensitive => value
                .get(..self.value.len())
                .is_some_and(|prefix| prefix.eq_ignore_ascii_case(&self.value)),
            FilterOp::StartsWith => value.starts_with(self.value.as_str()),
        }
    }
}

/// Every searchable value of a user, as `(attribute name, value)`, in the form the index
/// keeps: the lookup key for `username` (already case-folded in case-insensitive pools),
/// the upper-case status for `cognito:user_status`, `Enabled`/`Disabled` for `status`.
pub fn indexed_values(user: &crate::User, username_key: &str) -> Vec<(&'static str, String)> {
    let mut values = vec![
        (FilterAttribute::Username.name(), username_key.to_owned()),
        (FilterAttribute::Sub.name(), user.sub.clone()),
        (
            FilterAttribute::UserStatus.name(),
            user.status.as_str().to_owned(),
        ),
        (
            FilterAttribute::Status.name(),
            if user.enabled { "Enabled" } else { "Disabled" }.to_owned(),
        ),
    ];
    for attribute in [
        FilterAttribute::Email,
        FilterAttribute::PhoneNumber,
        FilterAttribute::Name,
        FilterAttribute::GivenName,
        FilterAttribute::FamilyName,
        FilterAttribute::PreferredUsername,
    ] {
        if let Some(value) = user.attributes.get(attribute.name()) {
            values.push((attribute.name(), value.clone()));
        }
    }
    values
}

impl UserFilter {
    /// The value to look up in the index: upper-cased for `cognito:user_status`, whose
    /// matching ignores case. (A username filter is folded by the caller, which knows the
    /// pool's case rule.)
    pub fn index_value(&self) -> String {
        if self.attribute.case_insensitive() {
            self.value.to_ascii_uppercase()
        } else {
            self.value.clone()
        }
    }
}

#[cfg(test)]
mod tests;
