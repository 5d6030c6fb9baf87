//! The operations a signed-in user calls on their own account, authorised by the access
//! token in the request body: GetUser, DeleteUser, ChangePassword, UpdateUserAttributes,
//! DeleteUserAttributes, GetUserAttributeVerificationCode and VerifyUserAttribute.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tessera_core::{AppClient, CodePurpose, OneTimeCode};

use crate::directory::code::verification_purpose;
use crate::directory::{
    attribute_list, attribute_pairs, check_code, check_policy, new_code, revise, send_code,
    write_attributes, Destination, Moment, NewPassword, Occasion, Revision, Writer,
    SIGN_UP_CODE_VALIDITY,
};
use crate::input::Input;
use crate::sign_in::access_token::{authorize, Authorized};
use crate::sign_in::machine::verify_password;
use crate::{Error, Service};

fn purpose_of(attribute: &str) -> Result<CodePurpose, Error> {
    verification_purpose(attribute).ok_or_else(|| {
        Error::invalid_parameter(format!(
            "Attribute {} cannot be verified.",
            tessera_core::excerpt(attribute)
        ))
    })
}

pub async fn get_user(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { user, .. } = authorize(state, &input).await?;
    let mut answer = crate::directory::mfa::user_members(&user);
    answer.insert("Username".into(), json!(user.username));
    answer.insert("UserAttributes".into(), json!(attribute_list(&user, None)));
    Ok(Value::Object(answer))
}

pub async fn delete_user(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(state, &input).await?;
    state.store.delete_user(&directory.pool.id, &key).await?;
    Ok(json!({}))
}

pub async fn change_password(state: &Service, input: Input) -> Result<Value, Error> {
    let authorized = authorize(state, &input).await?;
    let previous = input.str("PreviousPassword").unwrap_or("");
    let proposed = input.required_str("ProposedPassword")?;
    change_own_password(state, authorized, previous, proposed).await?;
    Ok(json!({}))
}

/// ChangePassword for the user of a verified access token. The previous password is checked
/// against the hash read first; when the write is redone because another landed meanwhile,
/// a user disabled since is refused, and so is a change after a password set since (by an
/// administrator, say), as the previous password was not checked against that one.
pub async fn change_own_password(
    state: &Service,
    authorized: Authorized,
    previous: &str,
    proposed: &str,
) -> Result<(), Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorized;
    let checked = user.password_hash.clone();
    // A wrong previous password is a guess at the password like a wrong one at sign-in: it
    // is counted before the check, on the sign-in counter, so parallel guesses all count
    // and the lock they reach holds here and at sign-in alike.
    let pool_id = &directory.pool.id;
    let attempt = state
        .store
        .claim_sign_in_attempt(pool_id, &key, state.clock.now())
        .await?;
    if attempt == tessera_core::lockout::Attempt::Locked {
        return Err(crate::directory::code::limit_exceeded());
    }
    let correct = verify_password(state, previous, checked.clone()).await?;
    if !correct {
        crate::directory::auth_event::record(
            state,
            &directory.pool,
            (&key, &user.username),
            crate::directory::auth_event::Kind::PasswordChange,
            false,
            &[("Password", false)],
        )
        .await?;
        return Err(Error::wrong_credentials());
    }
    state.store.clear_sign_in_failures(pool_id, &key).await?;
    check_policy(&directory, proposed, "Password does not conform to policy")?;
    let password = NewPassword::of(state, &user, proposed).await?;
    let username = user.username.clone();
    revise(state, &directory, &key, user, |user| {
        if !user.enabled {
            return Err(Error::user_disabled());
        }
        if user.password_hash != checked {
            return Err(Error::wrong_credentials());
        }
        password.apply(user);
        Ok(Some(Revision::default()))
    })
    .await?;
    crate::directory::auth_event::record(
        state,
        &directory.pool,
        (&key, &username),
        crate::directory::auth_event::Kind::PasswordChange,
        true,
        &[("Password", true)],
    )
    .await?;
    Ok(())
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
    let client_id = authorized
        .claims
        .get("client_id")
        .and_then(Value::as_str)
        .unwrap_or("");
    let client = state.store.app_client(client_id).await?;
    let details = update_own_attributes(
        state,
        authorized,
        client.as_ref(),
        &pairs,
        input.get("ClientMetadata").and_then(Value::as_object),
    )
    .await?;
    Ok(json!({ "CodeDeliveryDetailsList": details }))
}

/// UpdateUserAttributes for the user of a verified access token, through `client` (the
/// token's client, when it still exists). A changed e-mail address or phone number gets a
/// verification code when the pool auto-verifies it or keeps the old value until the new
/// one is verified (`AttributesRequireVerificationBeforeUpdate`). Returns the
/// `CodeDeliveryDetails` of the code sent.
pub async fn update_own_attributes(
    state: &Service,
    authorized: Authorized,
    client: Option<&AppClient>,
    pairs: &[(String, String)],
    client_metadata: Option<&serde_json::Map<String, Value>>,
) -> Result<Vec<Value>, Error> {
    let Authorized {
        directory,
        key,
        user,
        ..
    } = authorized;
    let now = state.clock.now();
    let mut details = Vec::new();
    revise(state, &directory, &key, user, |user| {
        if !user.enabled {
            return Err(Error::user_disabled());
        }
        let write = write_attributes(
            &directory.pool,
            Writer::User(client),
            Moment::Update,
            &user.attributes,
            pairs,
        )?;
        let mut attributes = write.attributes;
        let mut voided = Vec::new();
        let mut pending: Option<(Destination, OneTimeCode)> = None;
        for contact in write.changed_contacts {
            let purpose = purpose_of(contact)?;
            let value = attributes.get(contact).cloned().unwrap_or_default();
            let destination = Destination::new(contact, &value)
                .ok_or_else(|| Error::internal(&"contact attribute without a channel"))?;
            let mut code = new_code(state, purpose, SIGN_UP_CODE_VALIDITY, now);
            if requires_verification_before_update(&directory, contact) {
                // The old value and its flag stay until the new value is verified.
                for name in [contact.to_owned(), format!("{contact}_verified")] {
                    restore(&mut attributes, &user.attributes, &name);
                }
                code.pending_value = Some(value);
            }
            let auto_verified = directory.auto_verified.iter().any(|a| a == contact);
            if auto_verified || code.pending_value.is_some() {
                pending = Some((destination, code));
            }
            // A code sent to the old address must not verify the new one.
            voided.push(purpose);
        }
        details.clear();
        if let Some((destination, code)) = &pending {
            details.push(destination.details());
            voided.retain(|purpose| *purpose != code.purpose);
        }
        user.attributes = attributes;
        let (send_to, put_code) = match pending {
            Some((destination, code)) => (
                Some((
                    destination,
                    Occasion {
                        purpose: "UpdateUserAttribute",
                        client_id: client.map(|c| c.client_id.clone()),
                        client_metadata: client_metadata.cloned(),
                    },
                )),
                Some(code),
            ),
            None => (None, None),
        };
        Ok(Some(Revision {
            aliases: true,
            put_code,
            consume_codes: voided,
            send_to,
            uses_code: None,
        }))
    })
    .await?;
    Ok(details)
}

/// Sets `name` in `attributes` back to its value in `before` (or removes it).
fn restore(
    attributes: &mut BTreeMap<String, String>,
    before: &BTreeMap<String, String>,
    name: &str,
) {
    match before.get(name) {
        Some(value) => attributes.insert(name.to_owned(), value.clone()),
        None => attributes.remove(name),
    };
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
        claims,
    } = authorize(state, &input).await?;
    let client_id = claims.get("client_id").and_then(Value::as_str);
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
    send_code(
        state,
        &directory,
        &key,
        &user,
        &destination,
        &code,
        &Occasion::of("VerifyUserAttribute", client_id, &input),
    )
    .await?;
    Ok(json!({ "CodeDeliveryDetails": destination.details() }))
}

pub async fn verify_user_attribute(state: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        user,
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
    revise(state, &directory, &key, user, |user| {
        if let Some(value) = &code.pending_value {
            user.attributes.insert(attribute.to_owned(), value.clone());
        }
        user.attributes
            .insert(format!("{attribute}_verified"), "true".into());
        Ok(Some(Revision {
            aliases: true,
            consume_codes: vec![purpose],
            uses_code: Some(code.clone()),
            ..Revision::default()
        }))
    })
    .await?;
    Ok(json!({}))
}
