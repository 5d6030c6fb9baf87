//! How much of a caller's value an error message quotes.
//!
//! Cognito quotes the values it refuses (`Value '…' at 'filter' failed to satisfy
//! constraint: …`, `Invalid search attribute: …`). Quoted whole, a 100 KB value made a
//! 100 KB answer, and the copy of the message in the `x-amzn-ErrorMessage` header broke the
//! AWS SDKs, whose HTTP clients refuse header lines that long. So a message quotes at most
//! the first [`EXCERPT_CHARS`] characters of a value, then `...`.
//!
//! The same rule as `tessera_core::excerpt`; this crate depends on no other tessera crate,
//! and the rule is too small to be worth a dependency.

use std::borrow::Cow;

/// The most characters of a caller's value an error message quotes.
///
/// 128 is the longest identifier Cognito accepts (usernames, client ids, group names,
/// provider names are all at most 128 characters), so every value that could name something
/// is quoted whole, exactly as Cognito quotes it; only values longer than any name (a
/// filter, a URL, an ARN, garbage) are cut. Several quoted values still fit comfortably in
/// the few kilobytes HTTP clients allow a header line.
pub const EXCERPT_CHARS: usize = 128;

/// `value` as an error message quotes it: whole when it has at most [`EXCERPT_CHARS`]
/// characters, otherwise its first `EXCERPT_CHARS` characters followed by `...`.
pub fn excerpt(value: &str) -> Cow<'_, str> {
    match value.char_indices().nth(EXCERPT_CHARS) {
        None => Cow::Borrowed(value),
        Some((cut, _)) => Cow::Owned(format!("{}...", &value[..cut])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_quoted_whole() {
        assert_eq!(excerpt(""), "");
        assert_eq!(excerpt("alice"), "alice");
        let longest = "n".repeat(EXCERPT_CHARS);
        assert!(matches!(excerpt(&longest), Cow::Borrowed(_)));
        assert_eq!(excerpt(&longest), longest);
    }

    #[test]
    fn long_values_are_cut_after_the_limit() {
        let value = "x".repeat(100_000);
        assert_eq!(excerpt(&value), format!("{}...", "x".repeat(EXCERPT_CHARS)));
        assert_eq!(
            excerpt(&"y".repeat(EXCERPT_CHARS + 1)),
            format!("{}...", "y".repeat(EXCERPT_CHARS))
        );
    }

    #[test]
    fn the_limit_counts_characters_and_never_splits_one() {
        let value = "é".repeat(EXCERPT_CHARS + 5);
        let quoted = excerpt(&value);
        assert_eq!(quoted, format!("{}...", "é".repeat(EXCERPT_CHARS)));
        assert_eq!(quoted.chars().count(), EXCERPT_CHARS + 3);
    }
}
