//! Form-encoded request bodies (`application/x-www-form-urlencoded`), read strictly: RFC 6749
//! §3.2 says a parameter must not appear twice, so a repeated one is refused rather than
//! resolved by picking one of its values.

use std::collections::HashMap;

use axum::http::{header, HeaderMap};

use super::error::OAuthError;

/// The parameters of a form body, each present at most once; empty values count as absent
/// (RFC 6749 §3.1).
#[derive(Debug, Default)]
pub(crate) struct Form(HashMap<String, String>);

impl Form {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The media type's parameters (`;charset=UTF-8`, which openid-client and Authlib
        // send) do not change how the body is read.
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "The request body must be application/x-www-form-urlencoded.",
            ));
        }
        let mut values = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if values
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "The parameter {} appears more than once.",
                    tessera_core::excerpt(&name)
                )));
            }
        }
        Ok(Self(values))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}
