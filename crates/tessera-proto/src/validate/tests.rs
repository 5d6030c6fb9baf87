//! Tests of the model index and of request validation, driven by real cognito-idp operations.

use serde_json::{json, Map, Value};

use super::{ValidationError, MAX_DEPTH, MAX_LISTED_VIOLATIONS};
use crate::model::{ServiceModel, ShapeKind};
use crate::EXCERPT_CHARS;

fn model() -> &'static ServiceModel {
    ServiceModel::cognito_idp()
}

fn validate(operation: &str, body: &str) -> Result<Map<String, Value>, ValidationError> {
    let model = model();
    let operation = model
        .operation(operation)
        .unwrap_or_else(|| panic!("operation {operation} is in the model"));
    model.validate_input(operation, body.as_bytes())
}

/// Cuts long values so that a failing test prints a readable message.
fn shorten(text: &str) -> String {
    if text.chars().count() <= 400 {
        text.to_owned()
    } else {
        format!(
            "{}… ({} chars)",
            text.chars().take(400).collect::<String>(),
            text.len()
        )
    }
}

#[track_caller]
fn assert_message(actual: &str, expected: &str) {
    if actual != expected {
        let common = actual
            .char_indices()
            .zip(expected.chars())
            .find(|((_, a), e)| a != e)
            .map_or(actual.len().min(expected.len()), |((index, _), _)| index);
        let start = actual[..common]
            .char_indices()
            .rev()
            .nth(60)
            .map_or(0, |(i, _)| i);
        panic!(
            "message differs at byte {common}\n  actual: …{}\nexpected: …{}",
            shorten(&actual[start..]),
            shorten(expected.get(start..).unwrap_or(expected)),
        );
    }
}

/// Asserts that `body` fails `operation`'s constraints with exactly `expected` as the message.
#[track_caller]
fn check_invalid(operation: &str, body: &str, expected: &str) {
    match validate(operation, body) {
        Err(ValidationError::InvalidParameter(message)) => assert_message(&message, expected),
        other => panic!(
            "expected InvalidParameter, got {}",
            shorten(&format!("{other:?}"))
        ),
    }
}

/// Asserts that `body` cannot be read as `operation`'s input, with exactly `expected` as the message.
#[track_caller]
fn check_serialization(operation: &str, body: &str, expected: &str) {
    match validate(operation, body) {
        Err(ValidationError::Serialization(message)) => assert_message(&message, expected),
        other => panic!(
            "expected Serialization, got {}",
            shorten(&format!("{other:?}"))
        ),
    }
}

/// Asserts that `body` is valid and returns the object validation handed back.
#[track_caller]
fn check_valid(operation: &str, body: &str) -> Map<String, Value> {
    match validate(operation, body) {
        Ok(object) => object,
        Err(err) => panic!("expected {} to be valid, got {err:?}", shorten(body)),
    }
}

/// AuthFlowType in AWS's listing order (see `aws_listing_order`); the first seven are the
/// order moto recorded from AWS, USER_AUTH (added later) follows from the rule.
const AUTH_FLOWS: &str = "[ADMIN_NO_SRP_AUTH, ADMIN_USER_PASSWORD_AUTH, USER_SRP_AUTH, \
     REFRESH_TOKEN_AUTH, REFRESH_TOKEN, CUSTOM_AUTH, USER_PASSWORD_AUTH, USER_AUTH]";

// The model index.

#[test]
fn model_indexes_operations_and_target_prefix() {
    let model = model();
    assert_eq!(model.target_prefix(), "AWSCognitoIdentityProviderService");
    let initiate_auth = model.operation("InitiateAuth").expect("InitiateAuth");
    assert_eq!(initiate_auth.name, "InitiateAuth");
    assert_eq!(initiate_auth.input.as_deref(), Some("InitiateAuthRequest"));
    assert_eq!(
        initiate_auth.output.as_deref(),
        Some("InitiateAuthResponse")
    );
    assert!(initiate_auth
        .errors
        .iter()
        .any(|error| error == "NotAuthorizedException"));
    assert!(model.operation("NoSuchOperation").is_none());
    assert!(model.operations().count() > 100);
}

/// The enum lists of real AWS messages, each with the model's order of the time: the listing
/// order must reproduce every one. Sources: CloudFormation errors quoted in
/// awsdocs/aws-cloudformation-user-guide PR 525 and PR 517 and in
/// rosberglinhares/CloudFormationCognitoCustomResources issue 1 (Cognito); moto's AuthFlow
/// ("order follows AWS' order") and AttributeDataType messages; dynalite's tests recorded
/// from DynamoDB, whose validator is the same.
#[test]
fn enum_values_are_listed_in_aws_order() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &[
                "ADMIN_NO_SRP_AUTH",
                "CUSTOM_AUTH_FLOW_ONLY",
                "USER_PASSWORD_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                "ALLOW_CUSTOM_AUTH",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
            ],
            &[
                "ALLOW_CUSTOM_AUTH",
                "ADMIN_NO_SRP_AUTH",
                "ALLOW_REFRESH_TOKEN_AUTH",
                "ALLOW_USER_PASSWORD_AUTH",
                "ALLOW_USER_SRP_AUTH",
                "CUSTOM_AUTH_FLOW_ONLY",
                "USER_PASSWORD_AUTH",
                "ALLOW_ADMIN_USER_PASSWORD_AUTH",
            ],
        ),
        (
            &["code", "implicit", "client_credentials"],
            &["implicit", "client_credentials", "code"],
        ),
        (&["OFF", "ON", "OPTIONAL"], &["OPTIONAL", "OFF", "ON"]),
        (
            &[
                "USER_SRP_AUTH",
                "REFRESH_TOKEN_AUTH",
                "REFRESH_TOKEN",
                "CUSTOM_AUTH",
                "ADMIN_NO_SRP_AUTH",
                "USER_PASSWORD_AUTH",
                "ADMIN_USER_PASSWORD_AUTH",
            ],
            &[
                "ADMIN_NO_SRP_AUTH",
                "ADMIN_USER_PASSWORD_AUTH",
                "USER_SRP_AUTH",
                "REFRESH_TOKEN_AUTH",
                "REFRESH_TOKEN",
                "CUSTOM_AUTH",
                "USER_PASSWORD_AUTH",
            ],
        ),
        (
            &["String", "Number", "DateTime", "Boolean"],
            &["Boolean", "Number", "String", "DateTime"],
        ),
        (
            &[
                "EQ",
                "NE",
                "IN",
                "LE",
                "LT",
                "GE",
                "GT",
                "BETWEEN",
                "NOT_NULL",
                "NULL",
                "CONTAINS",
                "NOT_CONTAINS",
                "BEGINS_WITH",
            ],
            &[
                "IN",
                "NULL",
                "BETWEEN",
                "LT",
                "NOT_CONTAINS",
                "EQ",
                "GT",
                "NOT_NULL",
                "NE",
                "LE",
                "BEGINS_WITH",
                "GE",
                "CONTAINS",
            ],
        ),
        (
            &["NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW"],
            &["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"],
        ),
        (&["S", "N", "B"], &["B", "N", "S"]),
    ];
    for (model_order, aws_order) in cases {
        let values: Vec<String> = model_order.iter().map(|v| (*v).to_owned()).collect();
        assert_eq!(
            crate::model::aws_listing_order(&values),
            *aws_order,
            "listing of {model_order:?}"
        );
    }
}

#[test]
fn enum_messages_use_the_aws_order() {
    check_invalid(
        "SetUserPoolMfaConfig",
        r#"{"UserPoolId":"eu-west-1_abc","MfaConfiguration":"false"}"#,
        "1 validation error detected: Value 'false' at 'mfaConfiguration' failed to satisfy \
         constraint: Member must satisfy enum value set: [OPTIONAL, OFF, ON]",
    );
}

#[test]
fn every_operation_has_a_resolvable_input_structure() {
    let model = model();
    for operation in model.operations() {
        let input = operation
            .input
            .as_deref()
            .unwrap_or_else(|| panic!("{} has an input", operation.name));
        let id = model
            .shape_id(input)
            .unwrap_or_else(|| panic!("{input} of {} resolves", operation.name));
        assert!(
            matches!(model.shape(id).kind, ShapeKind::Structure { .. }),
            "{input} is a structure"
        );
        for name in operation.output.iter().chain(&operation.errors) {
            assert!(model.shape_id(name).is_some(), "{name} resolves");
        }
    }
}

#[test]
fn public_operations_are_the_unauthenticated_ones() {
    let model = model();
    let public: Vec<&str> = model
        .operations()
        .filter(|operation| operation.public)
        .map(|operation| operation.name.as_str())
        .collect();
    for name in [
        "InitiateAuth",
        "SignUp",
        "GetUser",
        "RespondToAuthChallenge",
        "ConfirmSignUp",
        "ForgotPassword",
        "RevokeToken",
    ] {
        assert!(public.contains(&name), "{name} is public");
    }
    for name in [
        "AdminGetUser",
        "CreateUserPool",
        "ListUserPools",
        "AdminInitiateAuth",
    ] {
        assert!(!public.contains(&name), "{name} needs SigV4");
    }
}

#[test]
fn only_the_lookbehind_pattern_is_not_enforced() {
    let model = model();
    let mut skipped = Vec::new();
    for (name, id) in &model.shape_index {
        if let ShapeKind::String(rules) = &model.shape(*id).kind {
            if let Some(pattern) = &rules.pattern {
                if pattern.regex.is_none() {
                    skipped.push(name.as_str());
                }
            }
        }
    }
    assert_eq!(skipped, ["S3BucketType"]);
}

/// The table used for single-class patterns answers exactly as the regex does, on every
/// pattern of the model that has one, for the empty string, every single ASCII character and
/// a spread of longer strings.
#[test]
fn ascii_class_tables_agree_with_the_regexes() {
    let model = model();
    let mut tabled = 0;
    let alphabet: Vec<char> = (0u8..128).map(char::from).collect();
    for (name, id) in &model.shape_index {
        let ShapeKind::String(rules) = &model.shape(*id).kind else {
            continue;
        };
        let Some(pattern) = &rules.pattern else {
            continue;
        };
        let (Some(_), Some(regex)) = (&pattern.ascii_class, &pattern.regex) else {
            continue;
        };
        tabled += 1;
        let mut samples: Vec<String> = vec![String::new()];
        samples.extend(alphabet.iter().map(|c| c.to_string()));
        // Deterministic pseudo-random strings of 2 to 40 characters.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..400 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 2 + (state % 39) as usize;
            let text: String = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 31) % 128])
                .collect();
            samples.push(text);
        }
        samples.push("eyJraWQiOiJhYmMifQ.eyJzdWIiOiIxIn0.c2ln-_=".into());
        for text in &samples {
            assert_eq!(
                pattern.is_match(text),
                Some(regex.is_match(text)),
                "{name} ({}) on {text:?}",
                pattern.source
            );
        }
    }
    // The token shapes, client ids and most names are single classes.
    assert!(tabled >= 10, "only {tabled} patterns use a table");
    let token = model.shape_id("TokenModelType").unwrap();
    let ShapeKind::String(rules) = &model.shape(token).kind else {
        panic!("TokenModelType is a string");
    };
    assert!(rules.pattern.as_ref().unwrap().ascii_class.is_some());
}

// Reading the body.

#[test]
fn empty_body_is_an_empty_object() {
    assert!(check_valid("AssociateSoftwareToken", "").is_empty());
    assert!(check_valid("AssociateSoftwareToken", " \r\n\t").is_empty());
    check_invalid(
        "ListUserPools",
        "",
        "1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: \
         Member must not be null",
    );
}

#[test]
fn invalid_json_is_a_serialization_error() {
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"#,
        "Invalid JSON in request body: EOF while parsing a value at line 1 column 12",
    );
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH"} trailing"#,
        "Invalid JSON in request body: trailing characters at line 1 column 30",
    );
}

#[test]
fn non_object_body_is_a_serialization_error() {
    check_serialization(
        "InitiateAuth",
        "[]",
        "Request body must be a JSON object, got array",
    );
    check_serialization(
        "InitiateAuth",
        "null",
        "Request body must be a JSON object, got null",
    );
    check_serialization(
        "InitiateAuth",
        r#""text""#,
        "Request body must be a JSON object, got string",
    );
}

#[test]
fn wrong_json_type_is_a_serialization_error_naming_the_member() {
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH","ClientId":5}"#,
        "Unexpected JSON type for member 'ClientId': expected string, got number",
    );
    check_serialization(
        "ListUserPools",
        r#"{"MaxResults":"10"}"#,
        "Unexpected JSON type for member 'MaxResults': expected integer, got string",
    );
    check_serialization(
        "ListUserPools",
        r#"{"MaxResults":10.5}"#,
        "Unexpected JSON type for member 'MaxResults': expected integer, got number",
    );
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH","ClientId":"c","AuthParameters":["USERNAME"]}"#,
        "Unexpected JSON type for member 'AuthParameters': expected map, got array",
    );
    check_serialization(
        "SignUp",
        r#"{"ClientId":"c","Username":"u","UserAttributes":{"Name":"email"}}"#,
        "Unexpected JSON type for member 'UserAttributes': expected list, got object",
    );
    check_serialization(
        "CreateUserPoolClient",
        r#"{"UserPoolId":"eu-west-1_abc","ClientName":"app","GenerateSecret":"true"}"#,
        "Unexpected JSON type for member 'GenerateSecret': expected boolean, got string",
    );
}

#[test]
fn wrong_json_type_names_nested_paths() {
    check_serialization(
        "CreateUserPool",
        r#"{"PoolName":"p","Policies":{"PasswordPolicy":{"MinimumLength":"8"}}}"#,
        "Unexpected JSON type for member 'Policies.PasswordPolicy.MinimumLength': \
         expected integer, got string",
    );
    check_serialization(
        "CreateUserPool",
        r#"{"PoolName":"p","Policies":"strict"}"#,
        "Unexpected JSON type for member 'Policies': expected structure, got string",
    );
    check_serialization(
        "SignUp",
        r#"{"ClientId":"c","Username":"u","UserAttributes":[{"Name":"email"},{"Name":1}]}"#,
        "Unexpected JSON type for member 'UserAttributes[1].Name': expected string, got number",
    );
    check_serialization(
        "AdminDeleteUserAttributes",
        r#"{"UserPoolId":"eu-west-1_abc","Username":"u","UserAttributeNames":["a",true]}"#,
        "Unexpected JSON type for member 'UserAttributeNames[1]': expected string, got boolean",
    );
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH","ClientId":"c","ClientMetadata":{"k":1}}"#,
        "Unexpected JSON type for member 'ClientMetadata.k': expected string, got number",
    );
}

#[test]
fn numbers_out_of_range_for_their_type_are_serialization_errors() {
    check_serialization(
        "ListUserPools",
        r#"{"MaxResults":2147483648}"#,
        "Numeric value for member 'MaxResults' is out of range for integer",
    );
    check_serialization(
        "ListUserPools",
        r#"{"MaxResults":18446744073709551615}"#,
        "Numeric value for member 'MaxResults' is out of range for integer",
    );
}

#[test]
fn a_type_error_wins_over_constraint_violations() {
    check_serialization(
        "InitiateAuth",
        r#"{"AuthFlow":"BOGUS","ClientId":[]}"#,
        "Unexpected JSON type for member 'ClientId': expected string, got array",
    );
}

#[test]
fn blobs_are_base64_and_bounded_in_decoded_bytes() {
    check_valid(
        "SetUICustomization",
        r#"{"UserPoolId":"eu-west-1_abc","ImageFile":"iVBORw0KGgo="}"#,
    );
    check_valid(
        "SetUICustomization",
        r#"{"UserPoolId":"eu-west-1_abc","ImageFile":""}"#,
    );
    check_serialization(
        "SetUICustomization",
        r#"{"UserPoolId":"eu-west-1_abc","ImageFile":"not base64!"}"#,
        "Invalid base64 for member 'ImageFile'",
    );
    check_serialization(
        "SetUICustomization",
        r#"{"UserPoolId":"eu-west-1_abc","ImageFile":7}"#,
        "Unexpected JSON type for member 'ImageFile': expected blob (base64 string), got number",
    );
    // 174_768 base64 characters decode to 131_076 bytes; the message quotes the first few.
    let too_big = "A".repeat(174_768);
    check_invalid(
        "SetUICustomization",
        &format!(r#"{{"UserPoolId":"eu-west-1_abc","ImageFile":"{too_big}"}}"#),
        &format!(
            "1 validation error detected: Value '{}...' at 'imageFile' failed to satisfy \
             constraint: Member must have length less than or equal to 131072",
            &too_big[..EXCERPT_CHARS]
        ),
    );
}

#[test]
fn base64_lengths() {
    use super::base64_decoded_len;
    assert_eq!(base64_decoded_len(""), Some(0));
    assert_eq!(base64_decoded_len("TQ=="), Some(1));
    assert_eq!(base64_decoded_len("TWE="), Some(2));
    assert_eq!(base64_decoded_len("TWFu"), Some(3));
    assert_eq!(base64_decoded_len("TQ"), Some(1));
    assert_eq!(base64_decoded_len("TWE"), Some(2));
    assert_eq!(base64_decoded_len("T"), None);
    assert_eq!(base64_decoded_len("T==="), None);
    assert_eq!(base64_decoded_len("TQ="), None);
    assert_eq!(base64_decoded_len("TW-u"), None);
    assert_eq!(base64_decoded_len("="), None);
}

// Constraints.

#[test]
fn required_member_missing() {
    check_invalid(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH"}"#,
        "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: \
         Member must not be null",
    );
}

#[test]
fn required_member_null_counts_as_missing() {
    check_invalid(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH","ClientId":null}"#,
        "1 validation error detected: Value null at 'clientId' failed to satisfy constraint: \
         Member must not be null",
    );
}

#[test]
fn several_violations_are_counted_and_joined_in_model_order() {
    check_invalid(
        "InitiateAuth",
        "{}",
        "2 validation errors detected: \
         Value null at 'authFlow' failed to satisfy constraint: Member must not be null; \
         Value null at 'clientId' failed to satisfy constraint: Member must not be null",
    );
    // A value can fail several constraints; each is its own violation, length first.
    check_invalid(
        "CreateUserPool",
        r#"{"PoolName":""}"#,
        r"2 validation errors detected: Value '' at 'poolName' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w\s+=,.@-]+",
    );
}

#[test]
fn violations_are_ordered_depth_first_by_model_member_order() {
    // Policies precedes PoolName in CreateUserPoolRequest; MinimumLength precedes
    // TemporaryPasswordValidityDays in PasswordPolicyType.
    check_invalid(
        "CreateUserPool",
        r#"{"PoolName":"bad/name","Policies":{"PasswordPolicy":
            {"TemporaryPasswordValidityDays":400,"MinimumLength":5}}}"#,
        r"3 validation errors detected: Value '5' at 'policies.passwordPolicy.minimumLength' failed to satisfy constraint: Member must have value greater than or equal to 6; Value '400' at 'policies.passwordPolicy.temporaryPasswordValidityDays' failed to satisfy constraint: Member must have value less than or equal to 365; Value 'bad/name' at 'poolName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w\s+=,.@-]+",
    );
}

#[test]
fn enum_lists_the_values_in_aws_order() {
    check_invalid(
        "InitiateAuth",
        r#"{"AuthFlow":"BOGUS","ClientId":"client"}"#,
        &format!(
            "1 validation error detected: Value 'BOGUS' at 'authFlow' failed to satisfy \
             constraint: Member must satisfy enum value set: {AUTH_FLOWS}"
        ),
    );
}

#[test]
fn integer_range() {
    check_invalid(
        "ListUserPools",
        r#"{"MaxResults":0}"#,
        "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: \
         Member must have value greater than or equal to 1",
    );
    check_invalid(
        "ListUserPools",
        r#"{"MaxResults":61}"#,
        "1 validation error detected: Value '61' at 'maxResults' failed to satisfy constraint: \
         Member must have value less than or equal to 60",
    );
    check_invalid(
        "ListUserPools",
        r#"{"MaxResults":-5}"#,
        "1 validation error detected: Value '-5' at 'maxResults' failed to satisfy constraint: \
         Member must have value greater than or equal to 1",
    );
    check_valid("ListUserPools", r#"{"MaxResults":1}"#);
    check_valid("ListUserPools", r#"{"MaxResults":60}"#);
}

#[test]
fn nested_integer_range() {
    check_invalid(
        "CreateUserPool",
        r#"{"PoolName":"pool","Policies":{"PasswordPolicy":{"MinimumLength":100}}}"#,
        "1 validation error detected: Value '100' at 'policies.passwordPolicy.minimumLength' \
         failed to satisfy constraint: Member must have value less than or equal to 99",
    );
}

#[test]
fn string_length() {
    let long = "a".repeat(200);
    check_invalid(
        "CreateUserPool",
        &format!(r#"{{"PoolName":"{long}"}}"#),
        &format!(
            "1 validation error detected: Value '{}...' at 'poolName' failed to satisfy \
             constraint: Member must have length less than or equal to 128",
            "a".repeat(EXCERPT_CHARS)
        ),
    );
    check_valid(
        "CreateUserPool",
        &format!(r#"{{"PoolName":"{}"}}"#, "a".repeat(128)),
    );
}

#[test]
fn string_length_counts_characters_not_bytes() {
    // AttributeNameType: max 32, Unicode letters allowed by its pattern.
    let fits = "é".repeat(32);
    check_valid(
        "AdminDeleteUserAttributes",
        &format!(
            r#"{{"UserPoolId":"eu-west-1_abc","Username":"u","UserAttributeNames":["{fits}"]}}"#
        ),
    );
    let too_long = "é".repeat(33);
    check_invalid(
        "AdminDeleteUserAttributes",
        &format!(
            r#"{{"UserPoolId":"eu-west-1_abc","Username":"u","UserAttributeNames":["{too_long}"]}}"#
        ),
        &format!(
            "1 validation error detected: Value '[{too_long}]' at 'userAttributeNames' failed to \
             satisfy constraint: Member must satisfy constraint: \
             [Member must have length less than or equal to 32]"
        ),
    );
}

#[test]
fn pattern_must_match_the_whole_value() {
    check_invalid(
        "AdminGetUser",
        r#"{"UserPoolId":"bad","Username":"alice"}"#,
        r"1 validation error detected: Value 'bad' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+",
    );
    // A match of a substring is not enough.
    check_invalid(
        "AdminGetUser",
        r#"{"UserPoolId":"eu-west-1_abc!","Username":"alice"}"#,
        r"1 validation error detected: Value 'eu-west-1_abc!' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+",
    );
    check_valid(
        "AdminGetUser",
        r#"{"UserPoolId":"eu-west-1_AbC123","Username":"alice"}"#,
    );
}

#[test]
fn pattern_word_class_is_ascii_as_in_java() {
    check_invalid(
        "AdminGetUser",
        r#"{"UserPoolId":"eu-wést-1_abc","Username":"alice"}"#,
        r"1 validation error detected: Value 'eu-wést-1_abc' at 'userPoolId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w-]+_[0-9a-zA-Z]+",
    );
    // \p{L} stays Unicode.
    check_valid(
        "AdminGetUser",
        r#"{"UserPoolId":"eu-west-1_abc","Username":"jürgen"}"#,
    );
}

#[test]
fn java_pattern_translation() {
    use crate::model::compile_java_pattern;
    let whitespace = compile_java_pattern(r"[\S]+").expect("compiles");
    assert!(whitespace.is_match("pa$$w0rd"));
    assert!(!whitespace.is_match("pass word"));
    assert!(!whitespace.is_match(""));
    let word = compile_java_pattern(r"[\w-]+_[0-9a-zA-Z]+").expect("compiles");
    assert!(word.is_match("us-east-1_Ab9"));
    assert!(!word.is_match("us-éast-1_Ab9"));
    let message = compile_java_pattern(
        r"[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*\{####\}[\p{L}\p{M}\p{S}\p{N}\p{P}\s*]*",
    )
    .expect("compiles");
    assert!(message.is_match("Your code is {####}.\nThanks"));
    assert!(!message.is_match("Your code is {###}"));
    assert!(compile_java_pattern(r"^[0-9A-Za-z\.\-_]*(?<!\.)$").is_none());
}

#[test]
fn sensitive_values_are_left_out() {
    // PasswordType is sensitive.
    check_invalid(
        "SignUp",
        r#"{"ClientId":"client","Username":"alice","Password":"has space"}"#,
        r"1 validation error detected: Value at 'password' failed to satisfy constraint: Member must satisfy regular expression pattern: [\S]+",
    );
    // ClientIdType is sensitive too.
    check_invalid(
        "InitiateAuth",
        r#"{"AuthFlow":"USER_SRP_AUTH","ClientId":"not a client id"}"#,
        r"1 validation error detected: Value at 'clientId' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+]+",
    );
    // A null sensitive member still reads "Value null".
    check_invalid(
        "SignUp",
        r#"{"ClientId":"client"}"#,
        "1 validation error detected: Value null at 'username' failed to satisfy constraint: \
         Member must not be null",
    );
}

#[test]
fn list_elements_of_structures_are_addressed_by_index() {
    check_invalid(
        "SignUp",
        r#"{"ClientId":"c","Username":"u","UserAttributes":[{"Name":"email","Value":"a@b.c"},{"Value":"x"}]}"#,
        "1 validation error detected: Value null at 'userAttributes.2.member.name' failed to \
         satisfy constraint: Member must not be null",
    );
    check_invalid(
        "SignUp",
        r#"{"ClientId":"c","Username":"u","UserAttributes":[{"Name":""}]}"#,
        r"2 validation errors detected: Value '' at 'userAttributes.1.member.name' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '' at 'userAttributes.1.member.name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r ]+",
    );
    check_invalid(
        "SignUp",
        r#"{"ClientId":"c","Username":"u","UserAttributes":[null]}"#,
        "1 validation error detected: Value null at 'userAttributes.1.member' failed to \
         satisfy constraint: Member must not be null",
    );
}

#[test]
fn list_elements_of_scalars_are_reported_once_for_the_list() {
    check_invalid(
        "AdminDeleteUserAttributes",
        r#"{"UserPoolId":"eu-west-1_abc","Username":"u","UserAttributeNames":["email","",null]}"#,
        r"1 validation error detected: Value '[email, , null]' at 'userAttributeNames' failed to satisfy constraint: Member must satisfy constraint: [Member must have length greater than or equal to 1, Member must satisfy regular expression pattern: [\p{L}\p{M}\p{S}\p{N}\p{P}\t\n\r ]+, Member must not be null]",
    );
    check_invalid(
        "CreateUserPoolClient",
        r#"{"UserPoolId":"eu-west-1_abc","ClientName":"app","AllowedOAuthFlows":["code","password"]}"#,
        "1 validation error detected: Value '[code, password]' at 'allowedOAuthFlows' failed \
         to satisfy constraint: Member must satisfy constraint: \
         [Member must satisfy enum value set: [implicit, client_credentials, code]]",
    );
}

#[test]
fn list_length() {
    check_invalid(
        "AddCustomAttributes",
        r#"{"UserPoolId":"eu-west-1_abc","CustomAttributes":[]}"#,
        "1 validation error detected: Value '[]' at 'customAttributes' failed to satisfy \
         constraint: Member must have length greater than or equal to 1",
    );
    check_invalid(
        "CreateUserPoolClient",
        r#"{"UserPoolId":"eu-west-1_abc","ClientName":"app",
            "AllowedOAuthFlows":["code","implicit","client_credentials","code"]}"#,
        "1 validation error detected: Value '[code, implicit, client_credentials, code]' at \
         'allowedOAuthFlows' failed to satisfy constraint: \
         Member must have length less than or equal to 3",
    );
}

#[test]
fn map_keys_and_values() {
    let long_value = "v".repeat(257);
    // The whole map is quoted, cut to an excerpt: `{=a, team=` and then the value's start.
    let quoted = format!(
        "{{=a, team={}...",
        "v".repeat(EXCERPT_CHARS - "{=a, team=".len())
    );
    check_invalid(
        "CreateUserPool",
        &format!(r#"{{"PoolName":"pool","UserPoolTags":{{"":"a","team":"{long_value}"}}}}"#),
        &format!(
            "2 validation errors detected: Value '{quoted}' at 'userPoolTags' \
             failed to satisfy constraint: Map keys must satisfy constraint: \
             [Member must have length greater than or equal to 1]; \
             Value '{quoted}' at 'userPoolTags' failed to satisfy constraint: \
             Map value must satisfy constraint: [Member must have length less than or equal to 256]"
        ),
    );
}

// Long values: no message echoes unbounded input.

#[test]
fn a_long_value_is_quoted_by_its_start() {
    // The ListUsers filter that once came back whole in a 100 KB message and header.
    let filter = "x".repeat(100_000);
    check_invalid(
        "ListUsers",
        &format!(r#"{{"UserPoolId":"eu-west-1_abc","Filter":"{filter}"}}"#),
        &format!(
            "1 validation error detected: Value '{}...' at 'filter' failed to satisfy \
             constraint: Member must have length less than or equal to 256",
            "x".repeat(EXCERPT_CHARS)
        ),
    );
    // A value of exactly the excerpt's length is quoted whole, as AWS quotes it.
    let pool_id = format!("eu-west-1_{}", "é".repeat(EXCERPT_CHARS - 10));
    match validate("ListUsers", &format!(r#"{{"UserPoolId":"{pool_id}"}}"#)) {
        Err(ValidationError::InvalidParameter(message)) => {
            assert!(
                message.contains(&format!("Value '{pool_id}' at 'userPoolId'")),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_long_list_is_quoted_by_its_start() {
    // Names longer than AttributeNameType's 32 characters.
    let names: Vec<String> = (0..10_000).map(|i| format!("{i:040}")).collect();
    let body = json!({"UserPoolId": "eu-west-1_abc", "Username": "u", "UserAttributeNames": names});
    match validate("AdminDeleteUserAttributes", &body.to_string()) {
        Err(ValidationError::InvalidParameter(message)) => {
            let rendered = format!("[{}]", names.join(", "));
            assert_message(
                &message,
                &format!(
                    "1 validation error detected: Value '{}...' at 'userAttributeNames' failed to \
                     satisfy constraint: Member must satisfy constraint: \
                     [Member must have length less than or equal to 32]",
                    &rendered[..EXCERPT_CHARS]
                ),
            );
        }
        other => panic!("{}", shorten(&format!("{other:?}"))),
    }
}

#[test]
fn a_long_map_key_is_quoted_by_its_start_in_a_member_path() {
    let key = "k".repeat(100_000);
    check_serialization(
        "AdminCreateUser",
        &format!(
            r#"{{"UserPoolId":"eu-west-1_abc","Username":"u","ClientMetadata":{{"{key}":5}}}}"#
        ),
        &format!(
            "Unexpected JSON type for member 'ClientMetadata.{}...': expected string, got number",
            "k".repeat(EXCERPT_CHARS)
        ),
    );
}

#[test]
fn violations_past_the_listed_ones_are_counted_not_listed() {
    // Every element of a list of structures is checked on its own: 5 000 attributes with a
    // name too long are 5 000 violations, of which the message lists the first ones.
    let attributes: Vec<Value> = (0..5_000)
        .map(|_| json!({"Name": "n".repeat(33)}))
        .collect();
    let body =
        json!({"UserPoolId": "eu-west-1_abc", "Username": "u", "UserAttributes": attributes});
    match validate("AdminUpdateUserAttributes", &body.to_string()) {
        Err(ValidationError::InvalidParameter(message)) => {
            let first = format!(
                "5000 validation errors detected: Value '{}' at 'userAttributes.1.member.name'",
                "n".repeat(33)
            );
            assert!(message.starts_with(&first), "{}", shorten(&message));
            assert_eq!(
                message.matches("; Value").count(),
                MAX_LISTED_VIOLATIONS - 1
            );
            let last = format!("'userAttributes.{MAX_LISTED_VIOLATIONS}.member.name'");
            assert!(message.contains(&last), "{}", shorten(&message));
        }
        other => panic!("{}", shorten(&format!("{other:?}"))),
    }
}

#[test]
fn map_length() {
    check_invalid(
        "CreateTerms",
        r#"{"UserPoolId":"eu-west-1_abc","ClientId":"c","TermsName":"terms-of-use",
            "TermsSource":"LINK","Enforcement":"NONE","Links":{"cognito:bogus":"https://x"}}"#,
        r"1 validation error detected: Value '{cognito:bogus=https://x}' at 'links' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^cognito:(default|dutch|english|french|spanish|german|bahasa-indonesia|italian|japanese|korean|portuguese-brazil|chinese-(simplified|traditional))$]",
    );
    check_invalid(
        "CreateTerms",
        r#"{"UserPoolId":"eu-west-1_abc","ClientId":"c","TermsName":"terms-of-use",
            "TermsSource":"LINK","Enforcement":"NONE","Links":{"cognito:default":null}}"#,
        "1 validation error detected: Value '{}' at 'links' failed to satisfy constraint: \
         Member must have length greater than or equal to 1",
    );
}

#[test]
fn null_map_values_and_members_are_dropped() {
    let object = check_valid(
        "RespondToAuthChallenge",
        r#"{"ClientId":"client","ChallengeName":"PASSWORD_VERIFIER","Session":null,
            "ChallengeResponses":{"USERNAME":"alice","DEVICE_KEY":null}}"#,
    );
    assert_eq!(
        Value::Object(object),
        json!({
            "ClientId": "client",
            "ChallengeName": "PASSWORD_VERIFIER",
            "ChallengeResponses": {"USERNAME": "alice"},
        })
    );
}

#[test]
fn unknown_members_are_ignored_at_every_level() {
    let object = check_valid(
        "SignUp",
        r#"{"ClientId":"client","Username":"alice","FutureField":{"x":[1,2]},
            "UserAttributes":[{"Name":"email","Value":"a@b.c","Verified":true}]}"#,
    );
    assert_eq!(object.get("FutureField"), Some(&json!({"x": [1, 2]})));
    check_valid(
        "CreateUserPool",
        r#"{"PoolName":"pool","Policies":{"PasswordPolicy":{"MinimumLength":8,"NewKnob":1},"Other":"x"}}"#,
    );
}

#[test]
fn valid_request_is_returned_unchanged() {
    let body = r#"{"AuthFlow":"USER_PASSWORD_AUTH","ClientId":"3n4b5urk1ft4fl3mg5e62d9ado",
        "AuthParameters":{"USERNAME":"alice","PASSWORD":"Secret123!"},
        "ClientMetadata":{"source":"test"}}"#;
    let object = check_valid("InitiateAuth", body);
    let expected: Value = serde_json::from_str(body).expect("json");
    assert_eq!(Value::Object(object), expected);
}

#[test]
fn documents_accept_any_json() {
    check_valid(
        "CompleteWebAuthnRegistration",
        r#"{"AccessToken":"token","Credential":{"id":"x","response":{"list":[1,null,{"a":true}]}}}"#,
    );
}

#[test]
fn deep_nesting_does_not_panic() {
    let depth = 100_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let result = validate(
        "InitiateAuth",
        &format!(r#"{{"AuthFlow":"USER_SRP_AUTH","ClientId":"c","Unknown":{deep}}}"#),
    );
    assert!(matches!(result, Err(ValidationError::Serialization(_))));
    let deep_objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    let result = validate("InitiateAuth", &deep_objects);
    assert!(matches!(result, Err(ValidationError::Serialization(_))));
}

#[test]
fn recursive_shapes_stop_at_max_depth() {
    let model = ServiceModel::parse(
        r#"{"metadata":{"targetPrefix":"Test"},
            "operations":{"Put":{"name":"Put","input":{"shape":"Node"}}},
            "shapes":{
              "Node":{"type":"structure","members":{"Child":{"shape":"Node"},"Stamp":{"shape":"Time"}}},
              "Time":{"type":"timestamp"}}}"#,
    )
    .expect("test model parses");
    let operation = model.operation("Put").expect("Put");

    let nest = |levels: usize| {
        format!(
            "{}{{}}{}",
            r#"{"Child":"#.repeat(levels),
            "}".repeat(levels)
        )
    };
    assert!(model
        .validate_input(operation, nest(MAX_DEPTH - 1).as_bytes())
        .is_ok());
    match model.validate_input(operation, nest(MAX_DEPTH).as_bytes()) {
        Err(ValidationError::Serialization(message)) => {
            assert!(message.starts_with("Request nesting exceeds the maximum depth of 64"));
        }
        other => panic!(
            "expected a nesting error, got {}",
            shorten(&format!("{other:?}"))
        ),
    }

    assert!(model
        .validate_input(operation, br#"{"Stamp":1548099495.428}"#)
        .is_ok());
    assert_eq!(
        model.validate_input(operation, br#"{"Child":{"Stamp":"2019-01-01"}}"#),
        Err(ValidationError::Serialization(
            "Unexpected JSON type for member 'Child.Stamp': expected timestamp (epoch seconds \
             number), got string"
                .to_owned()
        ))
    );
}

#[test]
fn arbitrary_bodies_never_panic() {
    let model = model();
    let bodies = [
        "",
        "{",
        "}",
        "[",
        "\"",
        "0",
        "-",
        "{\"a\":}",
        "\u{feff}{}",
        "{\"ClientId\":\"\\ud800\"}",
        "{\"MaxResults\":1e400}",
        "{\"MaxResults\":-0}",
        "{\"UserAttributes\":[[[[]]]]}",
    ];
    for operation in model.operations() {
        for body in bodies {
            let _ = model.validate_input(operation, body.as_bytes());
        }
        let _ = model.validate_input(operation, &[0xff, 0xfe, 0x00]);
    }
}

/// Custom domains are FQDNs in `Domain`, which `DomainType`'s pattern forbids: the four
/// domain operations accept a lower-case FQDN there, and nothing else changes.
#[test]
fn domain_operations_accept_a_custom_domain_fqdn() {
    for operation in super::FQDN_DOMAIN_OPERATIONS {
        let body = json!({
            "Domain": "auth.example.com",
            "UserPoolId": "us-east-1_abcdefghi",
            "CustomDomainConfig": {"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/abc"},
        })
        .to_string();
        let object = check_valid(operation, &body);
        assert_eq!(object["Domain"], "auth.example.com");
        check_valid(
            operation,
            &json!({"Domain": "my-app", "UserPoolId": "us-east-1_abcdefghi"}).to_string(),
        );
        // Upper case, a leading hyphen in a label, an empty label or an IP address are neither
        // a prefix nor an FQDN.
        for bad in [
            "Auth.example.com",
            "-auth.example.com",
            "auth..example.com",
            "10.0.0.1",
            "auth.example.com.",
        ] {
            let result = validate(
                operation,
                &json!({"Domain": bad, "UserPoolId": "us-east-1_abcdefghi"}).to_string(),
            );
            let Err(ValidationError::InvalidParameter(message)) = result else {
                panic!("{operation} accepted {bad}");
            };
            assert!(message.contains("at 'domain'"), "{message}");
        }
    }
    // Members named Domain elsewhere keep the model's rule.
    let result = validate(
        "DescribeUserPool",
        &json!({"UserPoolId": "us-east-1_abcdefghi", "Domain": "a.b"}).to_string(),
    );
    assert!(result.is_ok(), "unknown members are ignored");
    assert!(super::is_lower_case_fqdn("a-1.b2.example"));
    assert!(!super::is_lower_case_fqdn("localhost"));
    assert!(!super::is_lower_case_fqdn(&format!(
        "{}.com",
        "a".repeat(64)
    )));
}

/// Issue 14: the identity-pool API is its own model, with exactly AWS's four public
/// operations and its own target prefix.
#[test]
fn the_identity_model_has_23_operations_and_four_public_ones() {
    let model = ServiceModel::cognito_identity();
    assert_eq!(model.target_prefix(), "AWSCognitoIdentityService");
    assert_eq!(model.operations().count(), 23);
    let mut public: Vec<&str> = model
        .operations()
        .filter(|operation| operation.public)
        .map(|operation| operation.name.as_str())
        .collect();
    public.sort_unstable();
    assert_eq!(
        public,
        [
            "GetCredentialsForIdentity",
            "GetId",
            "GetOpenIdToken",
            "UnlinkIdentity"
        ]
    );
    let operation = model.operation("GetId").unwrap();
    let error = model
        .validate_input(operation, br#"{"IdentityPoolId":"us-east-1:ABC"}"#)
        .unwrap_err();
    assert!(error.to_string().contains("identityPoolId"), "{error}");
}
