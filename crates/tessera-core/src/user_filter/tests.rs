use super::*;

fn parsed(text: &str) -> UserFilter {
    match parse_user_filter(text) {
        Ok(Some(filter)) => filter,
        other => panic!("{text:?} did not parse: {other:?}"),
    }
}

fn filter(attribute: FilterAttribute, op: FilterOp, value: &str) -> UserFilter {
    UserFilter {
        attribute,
        op,
        value: value.to_owned(),
    }
}

#[test]
fn empty_filter_means_no_filter() {
    assert_eq!(parse_user_filter(""), Ok(None));
    assert_eq!(parse_user_filter("   \t"), Ok(None));
}

#[test]
fn both_operators_with_and_without_spaces() {
    use FilterAttribute::*;
    use FilterOp::*;
    assert_eq!(
        parsed(r#"email = "a@example.com""#),
        filter(Email, Equals, "a@example.com")
    );
    assert_eq!(
        parsed(r#"email="a@example.com""#),
        filter(Email, Equals, "a@example.com")
    );
    assert_eq!(
        parsed(r#"  given_name ^= "Jon"  "#),
        filter(GivenName, StartsWith, "Jon")
    );
    assert_eq!(
        parsed(r#"given_name^="Jon""#),
        filter(GivenName, StartsWith, "Jon")
    );
    assert_eq!(
        parsed(r#"phone_number	^=	"+4474""#),
        filter(PhoneNumber, StartsWith, "+4474")
    );
    assert_eq!(parsed(r#"name = """#), filter(Name, Equals, ""));
    // Spaces inside the value are kept.
    assert_eq!(
        parsed(r#"name = " Ada  Lovelace ""#),
        filter(Name, Equals, " Ada  Lovelace ")
    );
    // `=` and `^=` inside the value are just characters.
    assert_eq!(
        parsed(r#"family_name = "a^=b=c""#),
        filter(FamilyName, Equals, "a^=b=c")
    );
}

#[test]
fn every_searchable_attribute() {
    use FilterAttribute::*;
    for (name, attribute) in [
        ("username", Username),
        ("email", Email),
        ("phone_number", PhoneNumber),
        ("name", Name),
        ("given_name", GivenName),
        ("family_name", FamilyName),
        ("preferred_username", PreferredUsername),
        ("cognito:user_status", UserStatus),
        ("status", Status),
        ("sub", Sub),
    ] {
        assert_eq!(parsed(&format!("{name} = \"x\"")).attribute, attribute);
        assert_eq!(attribute.name(), name);
        assert_eq!(FilterAttribute::from_name(name), Some(attribute));
    }
}

#[test]
fn escaped_quotes_and_backslashes() {
    assert_eq!(parsed(r#"name = "say \"hi\"""#).value, r#"say "hi""#);
    assert_eq!(parsed(r#"name = "back\\slash""#).value, r"back\slash");
    assert_eq!(parsed(r#"name = "\\""#).value, r"\");
    assert_eq!(
        parse_user_filter(r#"name = "a\nb""#),
        Err(FilterError::Syntax)
    );
    assert_eq!(parse_user_filter(r#"name = "a\"#), Err(FilterError::Syntax));
}

#[test]
fn unicode_values() {
    assert_eq!(parsed("name ^= \"Zoë\"").value, "Zoë");
    assert_eq!(parsed("name = \"中文\"").value, "中文");
}

#[test]
fn unknown_attributes_are_named() {
    for name in [
        "custom:foo",
        "dev:custom:foo",
        "Email",
        "address",
        "nickname",
        "x",
    ] {
        let error = parse_user_filter(&format!("{name} = \"bar\"")).unwrap_err();
        assert_eq!(error, FilterError::UnknownAttribute(name.to_owned()));
        assert_eq!(
            error.to_string(),
            format!("Invalid search attribute: {name}")
        );
    }
}

#[test]
fn a_long_unknown_attribute_is_quoted_by_its_start() {
    let name = "a".repeat(240);
    let error = parse_user_filter(&format!("{name} = \"bar\"")).unwrap_err();
    // The error keeps the whole name; its message quotes only an excerpt.
    assert_eq!(error, FilterError::UnknownAttribute(name));
    assert_eq!(
        error.to_string(),
        format!(
            "Invalid search attribute: {}...",
            "a".repeat(crate::EXCERPT_CHARS)
        )
    );
}

#[test]
fn malformed_filters_are_parse_errors() {
    for text in [
        "foo",
        "email",
        "email =",
        "email = ",
        r#"= "x""#,
        "email = 'a@example.com'",
        "email = a@example.com",
        r#"email = "a@example.com"#,
        r#"email != "x""#,
        r#"email == "x""#,
        r#"email ~= "x""#,
        r#"email ^ "x""#,
        r#"email =^ "x""#,
        r#"email = "x" garbage"#,
        r#"email = "x""y""#,
        r#"email = "x" and name = "y""#,
        r#"'email' = "x""#,
        r#""email" = "x""#,
        r#"family-name = "x""#,
        r#"email = “x”"#,
        "\"",
        "^=",
    ] {
        let error = parse_user_filter(text).unwrap_err();
        assert_eq!(error, FilterError::Syntax, "{text}");
        assert_eq!(error.to_string(), "Error while parsing filter.");
    }
}

#[test]
fn equals_is_exact_and_case_sensitive() {
    let f = parsed(r#"email = "a@example.com""#);
    assert!(f.matches("a@example.com"));
    assert!(!f.matches("A@example.com"));
    assert!(!f.matches("a@example.com "));
    assert!(!f.matches("a@example"));
}

#[test]
fn starts_with_matches_prefixes() {
    let f = parsed(r#"phone_number ^= "+44""#);
    assert!(f.matches("+447700900000"));
    assert!(f.matches("+44"));
    assert!(!f.matches("+4"));
    assert!(!f.matches("+1555"));
    assert!(parsed(r#"name ^= """#).matches("anything"));
    assert!(parsed("name ^= \"Zo\"").matches("Zoë"));
}

#[test]
fn user_status_is_case_insensitive_and_status_is_not() {
    let confirmed = parsed(r#"cognito:user_status = "confirmed""#);
    assert_eq!(confirmed.attribute, FilterAttribute::UserStatus);
    assert!(confirmed.matches("CONFIRMED"));
    assert!(!confirmed.matches("UNCONFIRMED"));
    let force = parsed(r#"cognito:user_status ^= "force_""#);
    assert!(force.matches("FORCE_CHANGE_PASSWORD"));
    assert!(!force.matches("FORCE"));
    assert!(!parsed(r#"cognito:user_status ^= "e""#).matches("é"));

    let enabled = parsed(r#"status = "Enabled""#);
    assert_eq!(enabled.attribute, FilterAttribute::Status);
    assert!(enabled.matches("Enabled"));
    assert!(!enabled.matches("enabled"));
    assert!(!enabled.matches("Disabled"));
}
