//! The operations a signed-in user calls on their own account, authorised by the access
//! token in the request body: GetUser, DeleteUser, ChangePassword, UpdateUserAttributes,
//! DeleteUserAttributes, GetUserAttributeVerificationCode and VerifyUserAttribute.

use serde_json::{json, Value};
use tessera_core::{CodePurpose, PasswordPolicy};
use tessera_store::UserChange;

use crate::directory::{
    alias_error, attribute_list, attribute_pairs, check_code, deliver, new_code,
    verification_template, Destination, SIGN_UP_CODE_VALIDITY,
};
use crate::input::Input;
use crate::sign_in::access_token::{authorize, Authorized};
use crate::{Error, Service};

fn purpose_of(attribute: &str) -> Result<CodePurpose, Error> {
    match attribute {
        "email" => Ok(CodePurpose::VerifyEmail),
        "phone_number" => Ok(CodePurpose::VerifyPhoneNumber),
        other => Err(Error::invalid_parameter(format!(
            "Attribute {} cannot be verified.",
            tessera_core::excerpt(other)
        ))),
    }
}

pub async fn get_user(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { user, .. } = authorize(state, &input).await?;
    Ok(json!({ "Username": user.username, "UserAttributes": attribute_list(&user, None) }))
}

pub async fn delete_user(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(state, &input).await?;
    state.store.delete_user(&directory.pool.id, &key).await?;
    Ok(json!({}))
}

pub async fn change_password(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        mut user,
        ..
    } = authorize(state, &input).await?;
    let previous = input.str("PreviousPassword").unwrap_or("").to_owned();
    let proposed = input.required_str("ProposedPassword")?.to_owned();
    let hasher = state.hasher.clone();
    let stored = user.password_hash.clone();
    let correct = state
        .hash_work(move || stored.is_some_and(|hash| hasher.verify(&previous, &hash)))
        .await?;
    if !correct {
        return Err(Error::new(
            "NotAuthorizedException",
            "Incorrect username or password.",
        ));
    }
    PasswordPolicy::from_pool_settings(&directory.pool.settings)
        .check(&proposed)
        .map_err(|v| {
            Error::new(
                "InvalidPasswordException",
                format!("Password does not conform to policy: {}", v.reason()),
            )
        })?;
    crate::directory::set_password(state, &mut user, &proposed).await?;
    let now = state.clock.now();
    user.last_modified_at = now;
    state
        .store
        .save_user(UserChange {
            user: &user,
            key: &key,
            aliases: None,
            put_code: None,
            consume_codes: &[],
        })
        .await?;
    Ok(json!({}))
}

fn requires_verification_before_update(
    directory: &crate::directory::Directory,
    attribute: &str,
) -> bool {
    directory
        .pool
        .settings
        .get("UserAttributeUpdateSettings")
        .and_then(|s| s.get("AttributesRequireVerificationBeforeUpdate"))
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|a| a.as_str() == Some(attribute)))
}

pub async fn update_user_attributes(state: &Service, input: Input) -> Result<Value, Error> {
    let authorized = authorize(state, &input).await?;
    let pairs = attribute_pairs(&input, "UserAttributes");
    // A client with WriteAttributes may write only those.
    let client_id = authorized
        .claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    if let Some(client) = state.store.app_client(client_id).await? {
        crate::directory::check_write_attributes(&client, &pairs)?;
    }
    crate::directory::user::attributes_for(&authorized.directory, &pairs, false, false)?;

    let Authorized {
        directory,
        key,
        mut user,
        ..
    } = authorized;
    let now = state.clock.now();
    let mut pending: Option<(Destination, tessera_core::OneTimeCode)> = None;
    for (name, value) in &pairs {
        let contact = name == "email" || name == "phone_number";
        let changed = user.attributes.get(name) != Some(value);
        if !contact || !changed {
            user.attributes.insert(name.clone(), value.clone());
            continue;
        }
        let mut code = new_code(state, purpose_of(name)?, SIGN_UP_CODE_VALIDITY, now);
        let mut target = user.clone();
        target.attributes.insert(name.clone(), value.clone());
        let destination = Destination::of(&target, name)
            .ok_or_else(|| Error::internal(&"contact attribute missing"))?;
        if requires_verification_before_update(&directory, name) {
            // The old value stays until the new one is verified.
            code.pending_value = Some(value.clone());
        } else {
            user.attributes.insert(name.clone(), value.clone());
            user.attributes
                .insert(format!("{name}_verified"), "false".into());
        }
        let auto_verified = directory.auto_verified.iter().any(|a| a == name);
        if auto_verified || code.pending_value.is_some() {
            pending = Some((destination, code));
        }
    }
    let mut details = Vec::new();
    if let Some((destination, code)) = &pending {
        deliver(
            state,
            &user,
            destination,
            verification_template(&directory.pool, destination.channel),
            &code.code,
            "UpdateUserAttribute",
        )
        .await?;
        details.push(destination.details());
    }
    user.last_modified_at = now;
    let aliases = directory.aliases_of(&user);
    state
        .store
        .save_user(UserChange {
            user: &user,
            key: &key,
            aliases: Some(&aliases),
            put_code: pending.as_ref().map(|(_, code)| code),
            consume_codes: &[],
        })
        .await
        .map_err(alias_error)?;
    Ok(json!({ "CodeDeliveryDetailsList": details }))
}

pub async fn delete_user_attributes(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorize(state, &input).await?;
    let names = input.strings("UserAttributeNames");
    crate::directory::delete_attributes(state, &directory, &key, user, &names).await?;
    Ok(json!({}))
}

pub async fn get_user_attribute_verification_code(
    state: &Service,
    input: Input,
) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorize(state, &input).await?;
    let attribute = input.required_str("AttributeName")?;
    let purpose = purpose_of(attribute)?;
    // A pending new value (AttributesRequireVerificationBeforeUpdate) is where the code goes.
    let pending = state
        .store
        .code(&directory.pool.id, &key, purpose)
        .await?
        .and_then(|c| c.pending_value);
    let mut target = user.clone();
    if let Some(value) = &pending {
        target
            .attributes
            .insert(attribute.to_owned(), value.clone());
    }
    let destination = Destination::of(&target, attribute).ok_or_else(|| {
        Error::invalid_parameter(format!("The user has no {attribute} to verify."))
    })?;
    let mut code = new_code(state, purpose, SIGN_UP_CODE_VALIDITY, state.clock.now());
    code.pending_value = pending;
    deliver(
        state,
        &user,
        &destination,
        verification_template(&directory.pool, destination.channel),
        &code.code,
        "VerifyUserAttribute",
    )
    .await?;
    state
        .store
        .save_user(UserChange {
            user: &user,
            key: &key,
            aliases: None,
            put_code: Some(&code),
            consume_codes: &[],
        })
        .await?;
    Ok(json!({ "CodeDeliveryDetails": destination.details() }))
}

pub async fn verify_user_attribute(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        mut user,
        ..
    } = authorize(state, &input).await?;
    let attribute = input.required_str("AttributeName")?;
    let purpose = purpose_of(attribute)?;
    let code = check_code(
        state,
        &directory.pool.id,
        &key,
        purpose,
        input.required_str("Code")?,
    )
    .await?;
    if let Some(value) = code.pending_value {
        user.attributes.insert(attribute.to_owned(), value);
    }
    user.attributes
        .insert(format!("{attribute}_verified"), "true".into());
    user.last_modified_at = state.clock.now();
    let aliases = directory.aliases_of(&user);
    state
        .store
        .save_user(UserChange {
            user: &user,
            key: &key,
            aliases: Some(&aliases),
            put_code: None,
            consume_codes: &[purpose],
        })
        .await
        .map_err(alias_error)?;
    Ok(json!({}))
}
