use serde_json::{json, Map, Value};

use super::*;

fn settings(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn standard(name: &str, kind: &str) -> Value {
    let mut entry = json!({
        "Name": name,
        "AttributeDataType": kind,
        "DeveloperOnlyAttribute": false,
        "Mutable": name != "sub",
        "Required": name == "sub",
    });
    match (name, kind) {
        ("sub", _) => {
            entry["StringAttributeConstraints"] = json!({ "MinLength": "1", "MaxLength": "2048" })
        }
        ("birthdate", _) => {
            entry["StringAttributeConstraints"] = json!({ "MinLength": "10", "MaxLength": "10" })
        }
        (_, "String") => {
            entry["StringAttributeConstraints"] = json!({ "MinLength": "0", "MaxLength": "2048" })
        }
        (_, "Number") => entry["NumberAttributeConstraints"] = json!({ "MinValue": "0" }),
        _ => {}
    }
    entry
}

/// A pool document shaped like the ones tessera stores: the standard attributes (email
/// required) followed by custom ones.
fn pool() -> AttributeSchema {
    let mut schema: Vec<Value> = STANDARD_ATTRIBUTES
        .iter()
        .map(|(name, kind)| {
            let kind = match kind {
                AttributeDataType::String => "String",
                AttributeDataType::Number => "Number",
                AttributeDataType::DateTime => "DateTime",
                AttributeDataType::Boolean => "Boolean",
            };
            standard(name, kind)
        })
        .collect();
    for entry in &mut schema {
        if entry["Name"] == "email" {
            entry["Required"] = json!(true);
        }
    }
    schema.extend([
        json!({ "Name": "custom:tier", "AttributeDataType": "String", "DeveloperOnlyAttribute": false,
                "Mutable": true, "Required": false,
                "StringAttributeConstraints": { "MinLength": "2", "MaxLength": "5" } }),
        json!({ "Name": "custom:team", "AttributeDataType": "String", "DeveloperOnlyAttribute": false,
                "Mutable": false, "Required": false, "StringAttributeConstraints": {} }),
        json!({ "Name": "custom:age", "AttributeDataType": "Number", "DeveloperOnlyAttribute": false,
                "Mutable": true, "Required": false,
                "NumberAttributeConstraints": { "MinValue": "18", "MaxValue": "130" } }),
        json!({ "Name": "custom:score", "AttributeDataType": "Number", "Mutable": true,
                "NumberAttributeConstraints": {} }),
        json!({ "Name": "custom:beta", "AttributeDataType": "Boolean", "Mutable": true }),
        json!({ "Name": "custom:seen", "AttributeDataType": "DateTime", "Mutable": true }),
        json!({ "Name": "dev:custom:internal", "AttributeDataType": "String",
                "DeveloperOnlyAttribute": true, "Mutable": true,
                "StringAttributeConstraints": { "MaxLength": 8 } }),
    ]);
    AttributeSchema::from_pool_settings(&settings(json!({ "SchemaAttributes": schema })))
}

fn attrs(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

/// The violations of an update by a non-admin, as `name: reason` lines.
fn violations(schema: &AttributeSchema, pairs: &[(&str, &str)]) -> Vec<String> {
    match schema.validate(&attrs(pairs), false, false) {
        Err(AttributeError::Schema(v)) => v
            .into_iter()
            .map(|v| format!("{}: {}", v.attribute, v.reason))
            .collect(),
        other => panic!("{pairs:?}: expected schema violations, got {other:?}"),
    }
}

#[test]
fn parses_the_schema() {
    let schema = pool();
    let tier = schema.get("custom:tier").unwrap();
    assert_eq!(tier.data_type, AttributeDataType::String);
    assert_eq!((tier.min_length, tier.max_length), (Some(2), Some(5)));
    let team = schema.get("custom:team").unwrap();
    assert!(!team.mutable);
    assert_eq!(team.max_length, Some(2048));
    let age = schema.get("custom:age").unwrap();
    assert_eq!((age.min_value, age.max_value), (Some(18), Some(130)));
    assert!(schema.get("dev:custom:internal").unwrap().developer_only);
    assert_eq!(
        schema.get("dev:custom:internal").unwrap().max_length,
        Some(8)
    );
    assert_eq!(
        schema.get("email_verified").unwrap().data_type,
        AttributeDataType::Boolean
    );
    assert!(schema.get("custom:nope").is_none());
    assert_eq!(schema.attributes().first().unwrap().name, "sub");
}

#[test]
fn a_document_without_schema_gets_the_standard_attributes() {
    let schema = AttributeSchema::from_pool_settings(&Map::new());
    assert!(schema.get("email").is_some());
    assert!(schema.get("updated_at").is_some());
    assert!(schema.get("custom:x").is_none());
    assert_eq!(schema.missing_required(&[]), Vec::<String>::new());
    assert_eq!(
        schema.validate(&attrs(&[("email", "a@example.com")]), true, false),
        Ok(())
    );
    // A standard schema built here matches the one a stored document describes.
    assert_eq!(schema.get("birthdate"), pool().get("birthdate"));
    assert_eq!(schema.get("updated_at"), pool().get("updated_at"));
    assert_eq!(schema.get("sub"), pool().get("sub"));
}

#[test]
fn entries_without_a_name_are_skipped_and_defaults_apply() {
    let schema = AttributeSchema::from_pool_settings(&settings(json!({
        "SchemaAttributes": [ { "AttributeDataType": "String" }, 7, { "Name": "custom:x" } ]
    })));
    assert_eq!(schema.attributes().len(), 1);
    let x = schema.get("custom:x").unwrap();
    assert_eq!(x.data_type, AttributeDataType::String);
    assert!(x.mutable && !x.required && !x.developer_only);
}

#[test]
fn valid_attributes_pass() {
    let schema = pool();
    let all = attrs(&[
        ("email", "ada@example.com"),
        ("email_verified", "true"),
        ("phone_number", "+447700900000"),
        ("phone_number_verified", "false"),
        ("name", "Ada Lovelace"),
        ("birthdate", "1815-12-10"),
        ("updated_at", "1700000000"),
        ("custom:tier", "gold"),
        ("custom:age", "36"),
        ("custom:score", "-12"),
        ("custom:beta", "true"),
        ("custom:seen", "anything at all"),
    ]);
    assert_eq!(schema.validate(&all, false, false), Ok(()));
    assert_eq!(schema.validate(&all, true, true), Ok(()));
    assert_eq!(schema.validate(&[], false, false), Ok(()));
}

#[test]
fn unknown_attributes_are_refused_together() {
    let schema = pool();
    let error = schema
        .validate(
            &attrs(&[
                ("phone", "1"),
                ("email", "a@example.com"),
                ("custom:nope", "x"),
            ]),
            true,
            true,
        )
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "Attributes did not conform to the schema: phone: Attribute does not exist in the schema.\n\
         custom:nope: Attribute does not exist in the schema.\n"
    );
}

#[test]
fn a_long_attribute_name_is_quoted_by_its_start() {
    let name = "custom:".to_owned() + &"n".repeat(100_000);
    let error = pool()
        .validate(&attrs(&[(name.as_str(), "x")]), true, true)
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "Attributes did not conform to the schema: custom:{}...: Attribute does not exist in the schema.\n",
            "n".repeat(crate::EXCERPT_CHARS - "custom:".len())
        )
    );
}

#[test]
fn sub_cannot_be_set_even_at_creation() {
    let schema = pool();
    for (creating, admin) in [(true, true), (true, false), (false, true), (false, false)] {
        assert!(matches!(
            schema.validate(&attrs(&[("sub", "x")]), creating, admin),
            Err(AttributeError::Schema(v)) if v[0].attribute == "sub"
                && v[0].reason == "The attribute is assigned by the user pool and cannot be set."
        ));
    }
}

#[test]
fn immutable_attributes_only_at_creation() {
    let schema = pool();
    let pairs = attrs(&[("custom:team", "red")]);
    assert_eq!(schema.validate(&pairs, true, false), Ok(()));
    assert_eq!(schema.validate(&pairs, true, true), Ok(()));
    assert_eq!(
        violations(&schema, &[("custom:team", "red")]),
        ["custom:team: Attribute cannot be updated."]
    );
    assert!(schema.validate(&pairs, false, true).is_err());
}

#[test]
fn developer_only_attributes_need_an_admin() {
    let schema = pool();
    let pairs = attrs(&[("dev:custom:internal", "abc")]);
    assert_eq!(schema.validate(&pairs, false, true), Ok(()));
    assert_eq!(schema.validate(&pairs, true, true), Ok(()));
    assert!(schema.validate(&pairs, true, false).is_err());
    assert_eq!(
        violations(&schema, &[("dev:custom:internal", "abc")]),
        ["dev:custom:internal: Developer-only attributes can be set only by an administrator."]
    );
    // An admin is still held to the constraints.
    assert!(schema
        .validate(&attrs(&[("dev:custom:internal", "123456789")]), false, true)
        .is_err());
}

#[test]
fn string_lengths_count_characters() {
    let schema = pool();
    assert_eq!(
        violations(&schema, &[("custom:tier", "a")]),
        ["custom:tier: String must be no shorter than 2 characters"]
    );
    assert_eq!(
        violations(&schema, &[("custom:tier", "platinum")]),
        ["custom:tier: String must be no longer than 5 characters"]
    );
    // Five characters, ten bytes.
    assert_eq!(
        schema.validate(&attrs(&[("custom:tier", "ééééé")]), false, false),
        Ok(())
    );
    let long = "x".repeat(2049);
    assert_eq!(
        violations(&schema, &[("name", &long)]),
        ["name: String must be no longer than 2048 characters"]
    );
    assert_eq!(
        schema.validate(&attrs(&[("name", &"x".repeat(2048))]), false, false),
        Ok(())
    );
}

#[test]
fn numbers_are_bounded_integers() {
    let schema = pool();
    for bad in ["", "-", "abc", "1.5", "1e3", "+5", " 5", "5 ", "0x10", "１"] {
        assert_eq!(
            violations(&schema, &[("custom:score", bad)]),
            ["custom:score: Number must be an integer"],
            "{bad:?}"
        );
    }
    assert_eq!(
        violations(&schema, &[("custom:score", "1".repeat(60).as_str())]),
        ["custom:score: Number must be an integer"]
    );
    assert_eq!(
        violations(&schema, &[("custom:age", "17")]),
        ["custom:age: Number must be no less than 18"]
    );
    assert_eq!(
        violations(&schema, &[("custom:age", "131")]),
        ["custom:age: Number must be no greater than 130"]
    );
    for good in ["18", "130", "0042"] {
        assert_eq!(
            schema.validate(&attrs(&[("custom:age", good)]), false, false),
            Ok(())
        );
    }
    assert_eq!(
        violations(&schema, &[("updated_at", "-1")]),
        ["updated_at: Number must be no less than 0"]
    );
}

#[test]
fn booleans_are_true_or_false() {
    let schema = pool();
    for bad in ["1", "yes", "", " true", "truth"] {
        assert_eq!(
            violations(&schema, &[("email_verified", bad)]),
            ["email_verified: Boolean must be true or false"]
        );
        assert!(schema
            .validate(&attrs(&[("custom:beta", bad)]), false, false)
            .is_err());
    }
}

#[test]
fn booleans_are_accepted_in_any_case() {
    let schema = pool();
    for good in ["true", "false", "True", "FALSE", "tRuE"] {
        assert_eq!(
            schema.validate(&attrs(&[("email_verified", good)]), false, true),
            Ok(()),
            "{good}"
        );
        assert_eq!(
            schema.validate(&attrs(&[("custom:beta", good)]), false, false),
            Ok(()),
            "{good}"
        );
    }
    assert_eq!(super::boolean_value("True"), Some(true));
    assert_eq!(super::boolean_value("FALSE"), Some(false));
    assert_eq!(super::boolean_value("1"), None);
}

#[test]
fn email_must_be_plausible() {
    let schema = pool();
    for good in [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "user@xn--bcher-kva.example",
        "jürgen@bücher.de",
    ] {
        assert_eq!(
            schema.validate(&attrs(&[("email", good)]), true, false),
            Ok(()),
            "{good}"
        );
    }
    for bad in [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@@example.com",
        "a@b@example.com",
        "a b@example.com",
        "a@example",
        "a@.example.com",
        "a@example..com",
        "a@example.com.",
        "a@-example.com",
        "a@exa_mple.com",
        "\"a\"@example.com",
        "a@example.com\n",
    ] {
        let error = schema
            .validate(&attrs(&[("email", bad)]), true, false)
            .unwrap_err();
        assert_eq!(error, AttributeError::InvalidEmail, "{bad:?}");
        assert_eq!(error.to_string(), "Invalid email address format.");
    }
}

#[test]
fn phone_number_must_be_e164() {
    let schema = pool();
    for good in ["+1", "+447700900000", "+123456789012345"] {
        assert_eq!(
            schema.validate(&attrs(&[("phone_number", good)]), false, false),
            Ok(())
        );
    }
    for bad in [
        "",
        "+",
        "447700900000",
        "+1234567890123456",
        "+44 7700 900000",
        "+44-7700",
        "++44",
        "+４４",
    ] {
        let error = schema
            .validate(&attrs(&[("phone_number", bad)]), false, false)
            .unwrap_err();
        assert_eq!(error, AttributeError::InvalidPhoneNumber, "{bad:?}");
        assert_eq!(error.to_string(), "Invalid phone number format.");
    }
}

#[test]
fn birthdate_is_a_calendar_day() {
    let schema = pool();
    for good in ["1815-12-10", "2000-02-29", "0000-02-29", "1999-01-31"] {
        assert_eq!(
            schema.validate(&attrs(&[("birthdate", good)]), false, false),
            Ok(()),
            "{good}"
        );
    }
    for bad in [
        "1815/12/10",
        "10-12-1815",
        "1900-02-29",
        "1999-13-01",
        "1999-00-10",
        "1999-04-31",
        "1999-01-00",
        "19a9-01-01",
        "+999-01-01",
        "1999-1-011",
    ] {
        assert_eq!(
            violations(&schema, &[("birthdate", bad)]),
            ["birthdate: Birthdate must be a date in the format YYYY-MM-DD"],
            "{bad}"
        );
    }
    // The pool's length constraint speaks first for a value of the wrong length.
    assert_eq!(
        violations(&schema, &[("birthdate", "1999-1-1")]),
        ["birthdate: String must be no shorter than 10 characters"]
    );
    // Multi-byte characters of the right count do not index out of bounds.
    assert!(schema
        .validate(&attrs(&[("birthdate", "éééééééééé")]), false, false)
        .is_err());
}

#[test]
fn schema_violations_take_precedence_over_format_errors() {
    let schema = pool();
    let error = schema
        .validate(
            &attrs(&[
                ("email", "bad"),
                ("phone_number", "bad"),
                ("custom:nope", "x"),
            ]),
            true,
            false,
        )
        .unwrap_err();
    assert!(matches!(error, AttributeError::Schema(ref v) if v.len() == 1));
    // Without schema violations the first format error is reported.
    assert_eq!(
        schema.validate(
            &attrs(&[("phone_number", "bad"), ("email", "bad")]),
            true,
            false
        ),
        Err(AttributeError::InvalidPhoneNumber)
    );
}

#[test]
fn missing_required_attributes() {
    let schema = pool();
    assert_eq!(schema.missing_required(&[]), ["email"]);
    assert_eq!(
        schema.missing_required(&["email", "name"]),
        Vec::<String>::new()
    );
    let error = AttributeError::required(schema.missing_required(&["name"]));
    assert_eq!(
        error.to_string(),
        "Attributes did not conform to the schema: email: The attribute is required\n"
    );

    let two = AttributeSchema::from_pool_settings(&settings(json!({
        "SchemaAttributes": [
            standard("sub", "String"),
            { "Name": "given_name", "AttributeDataType": "String", "Required": true },
            { "Name": "family_name", "AttributeDataType": "String", "Required": true },
        ]
    })));
    assert_eq!(
        two.missing_required(&["sub"]),
        ["given_name", "family_name"]
    );
    assert_eq!(
        AttributeError::required(two.missing_required(&[])).to_string(),
        "Attributes did not conform to the schema: given_name: The attribute is required\n\
         family_name: The attribute is required\n"
    );
}
