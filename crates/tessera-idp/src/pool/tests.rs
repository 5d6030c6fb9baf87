//! Checks of the pool and app-client rules that need no store: schema declarations and the
//! client settings Cognito refuses or defaults.

use serde_json::{json, Map, Value};
use tessera_core::UserPool;

use super::app_client::{client_settings, Change};
use super::user_pool::schema_attributes;
use crate::{Error, Input};

fn invalid(message: &str) -> Error {
    Error::invalid_parameter(message)
}

fn schema(requested: Value) -> Result<Vec<Value>, Error> {
    schema_attributes(requested.as_array().expect("a list"))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[test]
fn custom_attributes_need_a_data_type() {
    assert_eq!(
        schema(json!([{ "Name": "tier", "Mutable": true }])),
        Err(invalid(
            "Invalid AttributeDataType input, consider using the provided AttributeDataType enum."
        ))
    );
    // Standard attributes keep their own type when the request leaves it out, as the CDK and
    // many CloudFormation templates rely on.
    let declared = schema(json!([{ "Name": "email", "Required": true }])).unwrap();
    let email = declared.iter().find(|a| a["Name"] == "email").unwrap();
    assert_eq!(email["AttributeDataType"], "String");
    assert_eq!(email["Required"], true);
}

#[test]
fn string_constraints_are_checked() {
    let custom = |constraints: Value| {
        schema(json!([{
            "Name": "tier",
            "AttributeDataType": "String",
            "StringAttributeConstraints": constraints,
        }]))
    };
    assert!(custom(json!({ "MinLength": "1", "MaxLength": "2048" })).is_ok());
    assert!(custom(json!({ "MaxLength": "5" })).is_ok());
    assert!(custom(json!({})).is_ok());
    for bad in ["x", "-1", "1.5", " 3", "+3"] {
        assert_eq!(
            custom(json!({ "MinLength": bad })),
            Err(invalid(
                "Invalid StringAttributeConstraints for schema attribute custom:tier"
            )),
            "{bad}"
        );
    }
    assert_eq!(
        custom(json!({ "MaxLength": "2049" })),
        Err(invalid(
            "user.custom:tier: String attributes cannot have a length of more than 2048"
        ))
    );
    assert_eq!(
        custom(json!({ "MinLength": "5", "MaxLength": "4" })),
        Err(invalid(
            "user.custom:tier: Max length cannot be less than min length."
        ))
    );
    // Standard attributes are held to the same rules, under their own names.
    assert_eq!(
        schema(json!([{
            "Name": "name",
            "StringAttributeConstraints": { "MinLength": "9", "MaxLength": "3" },
        }])),
        Err(invalid(
            "user.name: Max length cannot be less than min length."
        ))
    );
}

#[test]
fn number_constraints_are_checked() {
    let custom = |constraints: Value, developer_only: bool| {
        schema(json!([{
            "Name": "seats",
            "AttributeDataType": "Number",
            "DeveloperOnlyAttribute": developer_only,
            "NumberAttributeConstraints": constraints,
        }]))
    };
    assert!(custom(json!({ "MinValue": "-10", "MaxValue": "10" }), false).is_ok());
    assert_eq!(
        custom(json!({ "MaxValue": "ten" }), false),
        Err(invalid(
            "Invalid NumberAttributeConstraints for schema attribute custom:seats"
        ))
    );
    assert_eq!(
        custom(json!({ "MinValue": "5", "MaxValue": "1" }), true),
        Err(invalid(
            "user.dev:custom:seats: Max value cannot be less than min value."
        ))
    );
}

fn pool_with(schema: Value) -> UserPool {
    UserPool {
        id: "us-east-1_Clients00".into(),
        name: "pool".into(),
        created_at: std::time::SystemTime::UNIX_EPOCH,
        last_modified_at: std::time::SystemTime::UNIX_EPOCH,
        settings: object(json!({ "SchemaAttributes": schema })),
    }
}

#[test]
fn client_attributes_are_refused_in_cognito_words() {
    let pool = pool_with(json!([{ "Name": "email" }, { "Name": "custom:tier" }]));
    let settings = |request: Value, change: Change| {
        client_settings(&Input::new(object(request)), &pool, false, change)
    };
    assert!(settings(
        json!({ "ReadAttributes": ["email", "custom:tier"], "WriteAttributes": ["email"] }),
        Change::Create
    )
    .is_ok());
    for (member, what) in [("ReadAttributes", "read"), ("WriteAttributes", "write")] {
        for (change, doing) in [(Change::Create, "creating"), (Change::Update, "updating")] {
            assert_eq!(
                settings(json!({ member: ["email", "custom:nope"] }), change),
                Err(invalid(&format!(
                    "Invalid {what} attributes specified while {doing} a client"
                )))
            );
        }
    }
}

#[test]
fn prevent_user_existence_errors_is_not_defaulted() {
    let pool = pool_with(json!([]));
    let settings = client_settings(&Input::new(Map::new()), &pool, false, Change::Create).unwrap();
    assert!(settings.get("PreventUserExistenceErrors").is_none());
    let settings = client_settings(
        &Input::new(object(json!({ "PreventUserExistenceErrors": "ENABLED" }))),
        &pool,
        false,
        Change::Create,
    )
    .unwrap();
    assert_eq!(settings["PreventUserExistenceErrors"], "ENABLED");
}

/// Sign-in and recovery read a client without the setting as LEGACY: they reveal unknown users.
#[test]
fn only_an_enabled_client_hides_users() {
    let pool = pool_with(json!([]));
    let client = |request: Value| tessera_core::AppClient {
        user_pool_id: pool.id.clone(),
        client_id: "client".into(),
        client_name: "client".into(),
        secret: None,
        created_at: std::time::SystemTime::UNIX_EPOCH,
        last_modified_at: std::time::SystemTime::UNIX_EPOCH,
        settings: client_settings(&Input::new(object(request)), &pool, false, Change::Create)
            .unwrap(),
    };
    assert!(!crate::directory::hides_users(&client(json!({}))));
    assert!(!crate::directory::hides_users(&client(
        json!({ "PreventUserExistenceErrors": "LEGACY" })
    )));
    assert!(crate::directory::hides_users(&client(
        json!({ "PreventUserExistenceErrors": "ENABLED" })
    )));
}
