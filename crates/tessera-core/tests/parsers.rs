//! Properties of the domain's parsers of client text: the ListUsers `Filter`, and the SRP
//! values a client sends (`TIMESTAMP`, `SRP_A`, the password claim).
//!
//! - Nothing panics, whatever the text.
//! - Every refusal is one the edge turns into the right answer: a filter fails only as
//!   `Syntax` ("Error while parsing filter.") or `UnknownAttribute` ("Invalid search attribute:
//!   <name>", naming a well-formed but unsearchable name), both `InvalidParameterException`; a
//!   timestamp only as `SrpError::Timestamp`; `SRP_A` only as `Encoding("SRP_A")` or
//!   `InvalidA`; a password claim only as `Timestamp` or a secret block that is not base64.
//! - Round trips: a filter rendered from its parts parses back to them, whatever the value
//!   (quotes and backslashes escaped), and a parsed filter rendered again parses equal; every
//!   instant of years 0000–9999 formats to a timestamp that parses back to it, and whatever
//!   parses is the instant its canonical form names.
//!
//! Each parser also replays its committed corpus (`tests/corpus/<parser>/`, where `valid-*`
//! files must be accepted).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tessera_core::srp::{format_timestamp, parse_timestamp};
use tessera_core::{
    parse_user_filter, srp_challenge, verify_password_claim, FilterAttribute, FilterError,
    FilterOp, PasswordClaim, SeededRandom, SrpChallenge, SrpError, SrpVerifier, UserFilter,
};

/// Seconds from the Unix epoch to 0000-01-01T00:00:00Z and to 9999-12-31T23:59:59Z.
const YEAR_0: i64 = -62_167_219_200;
const YEAR_9999_END: i64 = 253_402_300_799;

/// A fixed number of cases, and failures kept next to this file (an integration test has no
/// `src` for proptest's default location).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases * scale(),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// `TESSERA_PROPTEST_SCALE=N` runs N times as many cases, for a longer search than CI's.
fn scale() -> u32 {
    std::env::var("TESSERA_PROPTEST_SCALE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn corpus(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("corpus files are UTF-8 text");
            // Each file ends with one newline that is not part of the value.
            let text = text.strip_suffix('\n').unwrap_or(&text).to_owned();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, text)
        })
        .collect()
}

fn at(unix: i64) -> SystemTime {
    if unix >= 0 {
        UNIX_EPOCH + Duration::from_secs(unix.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(unix.unsigned_abs())
    }
}

// ---- the ListUsers filter ----

const ATTRIBUTES: &[FilterAttribute] = &[
    FilterAttribute::Username,
    FilterAttribute::Email,
    FilterAttribute::PhoneNumber,
    FilterAttribute::Name,
    FilterAttribute::GivenName,
    FilterAttribute::FamilyName,
    FilterAttribute::PreferredUsername,
    FilterAttribute::UserStatus,
    FilterAttribute::Status,
    FilterAttribute::Sub,
];

/// The one way to write a filter: `name op "value"` with `"` and `\` escaped.
fn render(filter: &UserFilter, before: &str, around: &str, after: &str) -> String {
    let op = match filter.op {
        FilterOp::Equals => "=",
        FilterOp::StartsWith => "^=",
    };
    let mut quoted = String::with_capacity(filter.value.len() + 2);
    quoted.push('"');
    for c in filter.value.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    format!(
        "{before}{}{around}{op}{around}{quoted}{after}",
        filter.attribute.name()
    )
}

/// The properties of any filter text; returns the parse when it succeeded.
fn check_filter(text: &str) -> Result<Option<UserFilter>, TestCaseError> {
    match parse_user_filter(text) {
        Ok(None) => {
            prop_assert!(text.trim().is_empty(), "{text:?} read as no filter");
            Ok(None)
        }
        Ok(Some(filter)) => {
            prop_assert!(!text.trim().is_empty());
            // What parsed, written in the canonical form, parses equal.
            let again = parse_user_filter(&render(&filter, "", " ", ""));
            prop_assert_eq!(again, Ok(Some(filter.clone())));
            // Matching never panics, and a filter matches its own value.
            prop_assert!(filter.matches(&filter.value));
            prop_assert!(filter.matches(&filter.index_value()));
            Ok(Some(filter))
        }
        Err(FilterError::Syntax) => {
            prop_assert_eq!(
                FilterError::Syntax.to_string(),
                "Error while parsing filter."
            );
            Ok(None)
        }
        Err(FilterError::UnknownAttribute(name)) => {
            prop_assert!(!name.is_empty());
            prop_assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{name:?}"
            );
            prop_assert!(FilterAttribute::from_name(&name).is_none());
            prop_assert!(text.contains(&name));
            let message = FilterError::UnknownAttribute(name.clone()).to_string();
            prop_assert_eq!(message, format!("Invalid search attribute: {name}"));
            Ok(None)
        }
    }
}

#[test]
fn user_filter_corpus_replays_with_the_properties() {
    let files = corpus("user_filter");
    assert!(files.len() >= 20);
    for (name, text) in files {
        let parsed = check_filter(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            parsed.is_some() || !name.starts_with("valid-"),
            "{name} must parse: {:?}",
            parse_user_filter(&text)
        );
    }
}

fn whitespace() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![" ", "\t", "\n", "\u{3000}"]),
        0..3,
    )
    .prop_map(|parts| parts.concat())
}

fn filter_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => "[\"\\\\a ]{0,12}",
        1 => (1usize..5_000).prop_map(|n| "\\".repeat(n)),
        1 => Just("\u{0}\u{301}\u{feff}\u{1F511}".to_owned()),
        1 => "(?i)(confirmed|unconfirmed|force_change_password|enabled|disabled)",
    ]
}

fn user_filter() -> impl Strategy<Value = UserFilter> {
    (
        prop::sample::select(ATTRIBUTES),
        prop::bool::ANY,
        filter_value(),
    )
        .prop_map(|(attribute, starts_with, value)| UserFilter {
            attribute,
            op: if starts_with {
                FilterOp::StartsWith
            } else {
                FilterOp::Equals
            },
            value,
        })
}

#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Insert(usize, char),
    Delete(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                prop::sample::select(vec!['"', '\\', '=', '^', ' ', ':', '_', '\'', '\u{301}']),
                any::<char>(),
            ]
        )
            .prop_map(|(at, c)| Edit::Insert(at, c)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

/// Applies edits at character positions, so the text stays a string.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len();
        match *edit {
            Edit::Truncate(at) => chars.truncate(at % (len + 1)),
            Edit::Insert(at, c) => chars.insert(at % (len + 1), c),
            Edit::Delete(at) => {
                if len > 0 {
                    chars.remove(at % len);
                }
            }
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(config(2000))]

    /// Any filter, written with any whitespace, parses back to itself.
    #[test]
    fn rendered_filters_parse_back(
        filter in user_filter(),
        before in whitespace(),
        around in whitespace(),
        after in whitespace(),
    ) {
        let text = render(&filter, &before, &around, &after);
        prop_assert_eq!(check_filter(&text)?, Some(filter));
    }

    /// A valid filter with a few characters changed.
    #[test]
    fn mutated_filters(filter in user_filter(), edits in prop::collection::vec(edit(), 1..4)) {
        check_filter(&apply(&render(&filter, "", " ", ""), &edits))?;
    }

    /// Any text, and matching any value against what parsed.
    #[test]
    fn arbitrary_filter_text(text in any::<String>(), candidate in any::<String>()) {
        if let Some(filter) = check_filter(&text)? {
            let _ = filter.matches(&candidate);
        }
    }

    /// Matching is total, `^=` matches every extension of its value, and
    /// `cognito:user_status` ignores ASCII case.
    #[test]
    fn matching_is_total(filter in user_filter(), suffix in any::<String>(), candidate in any::<String>()) {
        let _ = filter.matches(&candidate);
        let extended = format!("{}{suffix}", filter.value);
        prop_assert_eq!(filter.matches(&extended), filter.op == FilterOp::StartsWith || suffix.is_empty());
        if filter.attribute == FilterAttribute::UserStatus {
            prop_assert!(filter.matches(&filter.value.to_ascii_lowercase()));
            prop_assert!(filter.matches(&filter.value.to_ascii_uppercase()));
        }
    }
}

// ---- SRP: TIMESTAMP ----

/// The properties of any `TIMESTAMP` text; returns the instant when it parsed.
fn check_timestamp(text: &str) -> Result<Option<SystemTime>, TestCaseError> {
    match parse_timestamp(text) {
        Ok(time) => {
            let unix = match time.duration_since(UNIX_EPOCH) {
                Ok(after) => i64::try_from(after.as_secs()).unwrap(),
                Err(before) => -i64::try_from(before.duration().as_secs()).unwrap(),
            };
            prop_assert!(
                (YEAR_0..=YEAR_9999_END).contains(&unix),
                "{text:?} -> {unix}"
            );
            // Whatever parsed names the instant its canonical rendering names.
            let canonical = format_timestamp(time);
            prop_assert_eq!(parse_timestamp(&canonical), Ok(time), "{}", canonical);
            Ok(Some(time))
        }
        Err(error) => {
            prop_assert_eq!(error, SrpError::Timestamp);
            Ok(None)
        }
    }
}

#[test]
fn srp_timestamp_corpus_replays_with_the_properties() {
    let files = corpus("srp_timestamp");
    assert!(files.len() >= 20);
    for (name, text) in files {
        let parsed = check_timestamp(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            parsed.is_some() || !name.starts_with("valid-"),
            "{name} must parse"
        );
    }
}

proptest! {
    #![proptest_config(config(2000))]

    /// Every instant of years 0000–9999 formats to text that parses back to it.
    #[test]
    fn timestamps_round_trip(unix in YEAR_0..=YEAR_9999_END) {
        let text = format_timestamp(at(unix));
        prop_assert_eq!(check_timestamp(&text)?, Some(at(unix)), "{}", text);
    }

    /// Text shaped like a timestamp with every field a little wrong.
    #[test]
    fn near_timestamps(
        text in "(Sun|mon|TUE|Thu|Xyz|) (Jan|feb|SEP|Dec|Sept|) [0-9+-]{0,3} [0-9]{0,3}:[0-9]{0,3}:[0-9]{0,3} (UTC|gmt|PST|Z|) [0-9-]{0,5}",
    ) {
        check_timestamp(&text)?;
    }

    /// Any text.
    #[test]
    fn arbitrary_timestamp_text(text in any::<String>()) {
        check_timestamp(&text)?;
    }
}

// ---- SRP: SRP_A and the password claim ----

fn verifier() -> SrpVerifier {
    SrpVerifier::with_salt("AbCdEf123", "alice", "Passw0rd!", &[7; 16])
}

/// The properties of any `SRP_A`; returns whether it was accepted.
fn check_srp_a(text: &str) -> Result<bool, TestCaseError> {
    match srp_challenge(&verifier(), text, &SeededRandom::new(1)) {
        Ok(challenge) => {
            prop_assert!(!challenge.big_b.is_empty());
            Ok(true)
        }
        Err(error) => {
            prop_assert!(
                matches!(error, SrpError::InvalidA | SrpError::Encoding("SRP_A")),
                "{error:?}"
            );
            Ok(false)
        }
    }
}

#[test]
fn srp_a_corpus_replays_with_the_properties() {
    let files = corpus("srp_a");
    assert!(files.len() >= 10);
    for (name, text) in files {
        let accepted = check_srp_a(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(accepted, name.starts_with("valid-"), "{name}");
    }
}

fn challenge() -> &'static SrpChallenge {
    static CHALLENGE: std::sync::OnceLock<SrpChallenge> = std::sync::OnceLock::new();
    CHALLENGE.get_or_init(|| {
        srp_challenge(&verifier(), "2", &SeededRandom::new(2)).expect("A = 2 is a valid value")
    })
}

proptest! {
    // Each accepted value costs a 3072-bit exponentiation: few cases.
    #![proptest_config(config(96))]

    /// Any text as `SRP_A`: mostly refused early, sometimes a value that is computed with.
    #[test]
    fn arbitrary_srp_a(
        text in prop_oneof![
            any::<String>(),
            "[0-9a-fA-F]{0,800}",
            "0{0,40}[0-9a-f]{0,10}",
        ],
    ) {
        check_srp_a(&text)?;
    }

    /// Any password claim: a wrong one is `Ok(false)`; only an unreadable timestamp or secret
    /// block is an error, and no claim made up here can be right.
    #[test]
    fn arbitrary_password_claims(
        secret_block in prop_oneof!["[A-Za-z0-9+/]{0,40}={0,2}", any::<String>()],
        timestamp in prop_oneof![
            Just("Tue Sep 24 05:43:18 UTC 2019".to_owned()),
            Just("Tue Sep 24 05:43:18 GMT 2019".to_owned()),
            any::<String>(),
        ],
        signature in prop_oneof!["[A-Za-z0-9+/]{43}=", any::<String>()],
    ) {
        let claim = PasswordClaim {
            secret_block_b64: &secret_block,
            timestamp: &timestamp,
            signature_b64: &signature,
        };
        match verify_password_claim("AbCdEf123", "alice", &verifier(), challenge(), &claim) {
            Ok(matched) => prop_assert!(!matched),
            Err(error) => prop_assert!(
                matches!(
                    error,
                    SrpError::Timestamp | SrpError::Encoding("PASSWORD_CLAIM_SECRET_BLOCK")
                ),
                "{:?}",
                error
            ),
        }
    }
}
