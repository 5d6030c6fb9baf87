//! The user directory operations: sign-up and confirmation, admin user management,
//! listing, passwords and their recovery, and attribute changes.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use tessera_core::message::Channel;
use tessera_core::{
    parse_user_filter, AttributeSchema, CodePurpose, FilterAttribute, FilterOp, OneTimeCode,
    PasswordPolicy, User, UserStatus,
};
use tessera_store::{StoreError, UserChange};

use crate::directory::code::{deliver_code, issue_code};
use crate::directory::{
    alias_error, attribute_list, attribute_pairs, check_code, check_policy, client_and_directory,
    deliver, hides_users, new_code, revise, send_code, user_client_not_found, user_type,
    write_attributes, Destination, Directory, Moment, NewPassword, Occasion, Revision, Writer,
    RESET_CODE_VALIDITY, SIGN_UP_CODE_VALIDITY,
};
use crate::input::{decode_token, encode_token, epoch_seconds, Input};
use crate::trigger::{self, Trigger};
use crate::{Error, Service};

fn change<'a>(user: &'a User, key: &'a str) -> UserChange<'a> {
    UserChange {
        user,
        key,
        aliases: None,
        put_code: None,
        consume_codes: &[],
    }
}

fn schema_error(error: tessera_core::AttributeError) -> Error {
    Error::invalid_parameter(error.to_string())
}

fn looks_like_email(value: &str) -> bool {
    let mut parts = value.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(l), Some(d), None) if !l.is_empty() && d.contains('.'))
}

fn looks_like_phone(value: &str) -> bool {
    value.strip_prefix('+').is_some_and(|digits| {
        !digits.is_empty() && digits.len() <= 15 && digits.chars().all(|c| c.is_ascii_digit())
    })
}

/// Resolves the username a new user gets. In pools where e-mail or phone number is the
/// username, the given name must be one and becomes that attribute; the username is the
/// user's `sub`.
fn username_for_new_user(
    directory: &Directory,
    given: &str,
    sub: &str,
    attributes: &mut BTreeMap<String, String>,
) -> Result<String, Error> {
    if directory.username_attributes.is_empty() {
        if directory.alias_attributes.iter().any(|a| a == "email") && looks_like_email(given) {
            return Err(Error::invalid_parameter(
                "Username cannot be of email format, since user pool is configured for email alias.",
            ));
        }
        if directory
            .alias_attributes
            .iter()
            .any(|a| a == "phone_number")
            && looks_like_phone(given)
        {
            return Err(Error::invalid_parameter(
                "Username cannot be of phone_number format, since user pool is configured for phone_number alias.",
            ));
        }
        return Ok(given.to_owned());
    }
    let attribute =
        if looks_like_email(given) && directory.username_attributes.iter().any(|a| a == "email") {
            "email"
        } else if looks_like_phone(given)
            && directory
                .username_attributes
                .iter()
                .any(|a| a == "phone_number")
        {
            "phone_number"
        } else {
            let wanted = directory
                .username_attributes
                .join(" or ")
                .replace("phone_number", "a phone number")
                .replace("email", "an email");
            return Err(Error::invalid_parameter(format!(
                "Username should be {wanted}."
            )));
        };
    if let Some(existing) = attributes.get(attribute) {
        if existing != given {
            return Err(Error::invalid_parameter(format!(
                "The {attribute} attribute must equal the username in this user pool."
            )));
        }
    }
    attributes.insert(attribute.into(), given.to_owned());
    Ok(sub.to_owned())
}

/// The taken-username error, worded as Cognito words it for username-attribute pools.
/// What every way of creating a user starts from: the attributes `writer` gives, written by
/// the one rule set, a fresh `sub`, and the username (see [`username_for_new_user`]), with
/// the pool's required attributes present. Returns `(sub, username, attributes)`.
pub(crate) fn new_user_identity(
    state: &Service,
    directory: &Directory,
    writer: Writer<'_>,
    given: &str,
    pairs: &[(String, String)],
) -> Result<(String, String, BTreeMap<String, String>), Error> {
    let mut attributes = write_attributes(
        &directory.pool,
        writer,
        Moment::Creation,
        &BTreeMap::new(),
        pairs,
    )?
    .attributes;
    let sub = state.random_uuid();
    let username = username_for_new_user(directory, given, &sub, &mut attributes)?;
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let present: Vec<&str> = attributes.keys().map(String::as_str).collect();
    let missing = schema.missing_required(&present);
    if !missing.is_empty() {
        return Err(schema_error(tessera_core::AttributeError::required(
            missing,
        )));
    }
    Ok((sub, username, attributes))
}

/// A user as first written: enabled, in `status`, without a password yet.
pub(crate) fn new_user(
    directory: &Directory,
    sub: String,
    username: String,
    status: UserStatus,
    attributes: BTreeMap<String, String>,
    now: std::time::SystemTime,
) -> User {
    User {
        pool_id: directory.pool.id.clone(),
        username,
        sub,
        status,
        enabled: true,
        attributes,
        password_hash: None,
        password_set_at: None,
        srp_verifier: None,
        mfa: Default::default(),
        created_at: now,
        last_modified_at: now,
        version: 0,
    }
}

fn username_taken(directory: &Directory, admin: bool) -> Error {
    if let Some(kind) = directory.username_attributes.first() {
        let kind = if kind == "phone_number" {
            "phone_number"
        } else {
            "email"
        };
        return Error::new(
            "UsernameExistsException",
            format!("An account with the given {kind} already exists."),
        );
    }
    Error::new(
        "UsernameExistsException",
        if admin {
            "User account already exists"
        } else {
            "User already exists"
        },
    )
}

fn insert_error(directory: &Directory, admin: bool, error: StoreError) -> Error {
    match error {
        StoreError::Conflict => username_taken(directory, admin),
        StoreError::AliasTaken(_) if !directory.username_attributes.is_empty() => {
            username_taken(directory, admin)
        }
        other => alias_error(other),
    }
}

/// The attribute a confirmation code goes to: e-mail before phone, as auto-verified.
fn confirmation_destination(directory: &Directory, user: &User) -> Option<Destination> {
    ["email", "phone_number"]
        .into_iter()
        .filter(|a| directory.auto_verified.iter().any(|v| v == a))
        .find_map(|a| Destination::of(user, a))
}

pub async fn sign_up(state: &Service, input: Input) -> Result<Value, Error> {
    let given = input.required_str("Username")?;
    let (client, directory) = client_and_directory(state, &input, Some(given)).await?;
    let admin_only = directory
        .pool
        .settings
        .get("AdminCreateUserConfig")
        .and_then(|c| c.get("AllowAdminCreateUserOnly"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if admin_only {
        return Err(Error::new(
            "NotAuthorizedException",
            "SignUp is not permitted for this user pool",
        ));
    }
    let password = input.required_str("Password")?;
    let pairs = attribute_pairs(&input, "UserAttributes");
    let (sub, username, mut attributes) = new_user_identity(
        state,
        &directory,
        Writer::User(Some(&client)),
        given,
        &pairs,
    )?;
    check_policy(&directory, password, "Password did not conform with policy")?;
    let key = directory.key(&username);
    if directory.find(state, given).await?.is_some() {
        return Err(username_taken(&directory, false));
    }
    let pre_sign_up = pre_sign_up(
        state,
        &directory,
        &input,
        "PreSignUp_SignUp",
        &username,
        Some(&client.client_id),
        &attributes,
    )
    .await?;
    pre_sign_up.verify(&mut attributes)?;

    let now = state.clock.now();
    let status = if pre_sign_up.confirm {
        UserStatus::Confirmed
    } else {
        UserStatus::Unconfirmed
    };
    let mut user = new_user(&directory, sub.clone(), username, status, attributes, now);
    NewPassword::of(state, &user, password)
        .await?
        .apply(&mut user);
    // A user the PreSignUp function confirmed is sent no code.
    let destination = (!pre_sign_up.confirm)
        .then(|| confirmation_destination(&directory, &user))
        .flatten();
    let code = destination
        .as_ref()
        .map(|_| new_code(state, CodePurpose::SignUp, SIGN_UP_CODE_VALIDITY, now));
    // The message goes out before anything is stored: a delivery failure leaves no user.
    if let (Some(destination), Some(code)) = (&destination, &code) {
        let occasion = Occasion::of("SignUp", Some(&client.client_id), &input);
        deliver_code(state, &directory, &user, destination, code, &occasion).await?;
    }
    let aliases = directory.aliases_of(&user);
    state
        .store
        .insert_user(UserChange {
            aliases: Some(&aliases),
            put_code: code.as_ref(),
            ..change(&user, &key)
        })
        .await
        .map_err(|e| insert_error(&directory, false, e))?;
    // Cognito does not run PostConfirmation for a user its PreSignUp function confirmed.
    crate::directory::auth_event::record(
        state,
        &directory.pool,
        (&key, &user.username),
        crate::directory::auth_event::Kind::SignUp,
        true,
        &[],
    )
    .await?;
    let mut output = json!({ "UserConfirmed": pre_sign_up.confirm, "UserSub": sub });
    if let Some(destination) = destination {
        output["CodeDeliveryDetails"] = destination.details();
    }
    Ok(output)
}

/// What a PreSignUp function decided about a new user.
#[derive(Debug, Default)]
struct PreSignUp {
    /// `autoConfirmUser`: the user is confirmed without a code.
    confirm: bool,
    /// `autoVerifyEmail`, `autoVerifyPhone`.
    verify_email: bool,
    verify_phone: bool,
}

impl PreSignUp {
    /// Marks the addresses the function verified. Cognito refuses to verify an address of a
    /// user it does not also confirm, or one the user did not give.
    fn verify(&self, attributes: &mut BTreeMap<String, String>) -> Result<(), Error> {
        if (self.verify_email || self.verify_phone) && !self.confirm {
            return Err(Error::new(
                "InvalidLambdaResponseException",
                "Phone or email cannot be auto verified, when user is not being auto confirmed.",
            ));
        }
        for (wanted, attribute) in [
            (self.verify_email, "email"),
            (self.verify_phone, "phone_number"),
        ] {
            if !wanted {
                continue;
            }
            if !attributes.contains_key(attribute) {
                return Err(Error::new(
                    "InvalidLambdaResponseException",
                    format!("Cannot auto verify {attribute}: the user has no {attribute}."),
                ));
            }
            attributes.insert(format!("{attribute}_verified"), "true".into());
        }
        Ok(())
    }
}

/// Runs the pool's PreSignUp function, if any, on a user about to be created with
/// `attributes` (the event carries only the attributes of the request). Its failure refuses
/// the sign-up before anything is written.
async fn pre_sign_up(
    state: &Service,
    directory: &Directory,
    input: &Input,
    source: &str,
    username: &str,
    client_id: Option<&str>,
    attributes: &BTreeMap<String, String>,
) -> Result<PreSignUp, Error> {
    let call = trigger::Call {
        trigger: Trigger::PreSignUp,
        source,
        pool: &directory.pool,
        user_name: username,
        client_id,
        request: trigger::with_client_metadata(
            json!({
                "userAttributes": attributes,
                "validationData": trigger::validation_data(input),
            }),
            input,
        ),
    };
    let Some(response) = trigger::run(state, &call).await? else {
        return Ok(PreSignUp::default());
    };
    Ok(PreSignUp {
        confirm: trigger::flag(&response, "autoConfirmUser"),
        verify_email: trigger::flag(&response, "autoVerifyEmail"),
        verify_phone: trigger::flag(&response, "autoVerifyPhone"),
    })
}

/// Tells the pool's PostConfirmation function, if any, that `user` was confirmed. The user
/// stays confirmed when it fails; the call answers the failure, as Cognito's does.
async fn post_confirmation(
    state: &Service,
    directory: &Directory,
    input: &Input,
    source: &str,
    client_id: Option<&str>,
    user: &User,
) -> Result<(), Error> {
    trigger::notify(
        state,
        &trigger::Call {
            trigger: Trigger::PostConfirmation,
            source,
            pool: &directory.pool,
            user_name: &user.username,
            client_id,
            request: trigger::with_client_metadata(
                json!({ "userAttributes": trigger::user_attributes(directory, user) }),
                input,
            ),
        },
    )
    .await
}

/// Creates the user a UserMigration function returned for the name `typed`, with the
/// password the user just typed (not held to the pool's policy, as in Cognito) or, from
/// ForgotPassword, none. The attributes go through the administrator's rules, like
/// AdminCreateUser's. Two sign-ins that migrate the same user at once create it once: the
/// second finds the first's.
pub(crate) async fn create_migrated_user(
    state: &Service,
    directory: &Directory,
    typed: &str,
    password: Option<&str>,
    response: &serde_json::Map<String, Value>,
    status: UserStatus,
) -> Result<(String, User), Error> {
    let unrecognizable = trigger::unrecognizable;
    let Some(Value::Object(given)) = response.get("userAttributes") else {
        return Err(unrecognizable());
    };
    let mut pairs = Vec::with_capacity(given.len());
    for (name, value) in given {
        // `sub` and `username` are Cognito's to choose.
        if name == "sub" || name == "username" {
            continue;
        }
        let value = value.as_str().ok_or_else(unrecognizable)?;
        pairs.push((name.clone(), value.to_owned()));
    }
    let (sub, username, attributes) =
        new_user_identity(state, directory, Writer::Administrator, typed, &pairs)?;
    let now = state.clock.now();
    let mut user = new_user(directory, sub, username, status, attributes, now);
    if let Some(password) = password {
        NewPassword::of(state, &user, password)
            .await?
            .apply(&mut user);
    }
    let key = directory.key(&user.username);
    let aliases = directory.aliases_of(&user);
    if trigger::flag(response, "forceAliasCreation") {
        release_aliases(state, directory, &key, &aliases).await?;
    }
    match state
        .store
        .insert_user(UserChange {
            aliases: Some(&aliases),
            ..change(&user, &key)
        })
        .await
    {
        Ok(_) => Ok((key, user)),
        Err(error) => match directory.find(state, typed).await? {
            Some(found) => Ok(found),
            None => Err(insert_error(directory, true, error)),
        },
    }
}

/// Refuses to confirm a user who is not unconfirmed.
fn unconfirmed(user: &User) -> Result<(), Error> {
    if user.status == UserStatus::Unconfirmed {
        return Ok(());
    }
    Err(Error::new(
        "NotAuthorizedException",
        format!(
            "User cannot be confirmed. Current status is {}",
            user.status.as_str()
        ),
    ))
}

/// Confirms a user in one transaction: status, verified attribute, aliases, consumed code.
/// With a sign-up `code` (checked by the caller), the attribute the code was sent to is
/// verified, as long as it still holds the address the code went to. With `force_alias`,
/// an alias another user holds moves to this user, as Cognito's ForceAliasCreation does.
async fn confirm(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: User,
    code: Option<&OneTimeCode>,
    force_alias: bool,
) -> Result<User, Error> {
    let verified = code.and_then(|_| confirmation_destination(directory, &user));
    let confirmed = |user: &mut User| {
        user.status = UserStatus::Confirmed;
        if let Some(destination) = &verified {
            if user.attributes.get(destination.attribute) == Some(&destination.address) {
                user.attributes
                    .insert(format!("{}_verified", destination.attribute), "true".into());
            }
        }
    };
    if force_alias {
        let mut preview = user.clone();
        confirmed(&mut preview);
        release_aliases(state, directory, key, &directory.aliases_of(&preview)).await?;
    }
    revise(state, directory, key, user, |user| {
        unconfirmed(user)?;
        confirmed(user);
        Ok(Some(Revision {
            aliases: true,
            consume_codes: vec![CodePurpose::SignUp],
            uses_code: code.cloned(),
            ..Revision::default()
        }))
    })
    .await
}

/// Takes aliases away from other users that hold them, marking those attributes unverified.
async fn release_aliases(
    state: &Service,
    directory: &Directory,
    key: &str,
    aliases: &[(String, String)],
) -> Result<(), Error> {
    for alias in aliases {
        let (kind, value_key) = alias;
        let Some((other_key, other)) = state
            .store
            .user_by_alias(&directory.pool.id, kind, value_key)
            .await?
        else {
            continue;
        };
        if other_key == key {
            continue;
        }
        let released = revise(state, directory, &other_key, other, |other| {
            // Redone on a fresh read, the other user may have given the alias up already.
            if !directory.aliases_of(other).contains(alias) {
                return Ok(None);
            }
            other
                .attributes
                .insert(format!("{kind}_verified"), "false".into());
            Ok(Some(Revision {
                aliases: true,
                ..Revision::default()
            }))
        })
        .await;
        match released {
            // Deleted meanwhile: the alias is free.
            Err(error) if error.kind == "UserNotFoundException" => {}
            other => {
                other?;
            }
        }
    }
    Ok(())
}

pub async fn confirm_sign_up(state: &Service, input: Input) -> Result<Value, Error> {
    let given = input.required_str("Username")?;
    let (client, directory) = client_and_directory(state, &input, Some(given)).await?;
    let guess = input.required_str("ConfirmationCode")?;
    let Some((key, user)) = directory.find(state, given).await? else {
        return Err(if hides_users(&client) {
            Error::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            )
        } else {
            user_client_not_found()
        });
    };
    unconfirmed(&user)?;
    let code = check_code(state, &directory.pool.id, &key, CodePurpose::SignUp, guess).await?;
    let user = confirm(
        state,
        &directory,
        &key,
        user,
        Some(&code),
        input.bool("ForceAliasCreation").unwrap_or(false),
    )
    .await?;
    post_confirmation(
        state,
        &directory,
        &input,
        "PostConfirmation_ConfirmSignUp",
        Some(&client.client_id),
        &user,
    )
    .await?;
    Ok(json!({}))
}

/// A response naming a plausible destination for a user that does not exist, so that the
/// answer does not reveal it.
fn simulated_delivery(directory: &Directory, given: &str) -> Value {
    let (channel, attribute, address) = if looks_like_phone(given) {
        (Channel::Sms, "phone_number", given.to_owned())
    } else if looks_like_email(given) {
        (Channel::Email, "email", given.to_owned())
    } else if directory.auto_verified.iter().any(|a| a == "phone_number")
        && !directory.auto_verified.iter().any(|a| a == "email")
    {
        (Channel::Sms, "phone_number", "+10000000000".to_owned())
    } else {
        (Channel::Email, "email", format!("{given}@example.com"))
    };
    json!({ "CodeDeliveryDetails": {
        "Destination": tessera_core::message::mask_destination(channel, &address),
        "DeliveryMedium": channel.as_str(),
        "AttributeName": attribute,
    }})
}

pub async fn resend_confirmation_code(state: &Service, input: Input) -> Result<Value, Error> {
    let given = input.required_str("Username")?;
    let (client, directory) = client_and_directory(state, &input, Some(given)).await?;
    let Some((key, user)) = directory.find(state, given).await? else {
        return if hides_users(&client) {
            Ok(simulated_delivery(&directory, given))
        } else {
            Err(user_client_not_found())
        };
    };
    if user.status != UserStatus::Unconfirmed {
        return Err(Error::invalid_parameter("User is already confirmed."));
    }
    let Some(destination) = confirmation_destination(&directory, &user) else {
        return Err(Error::invalid_parameter(
            "Cannot resend codes. Auto verification not turned on.",
        ));
    };
    let code = new_code(
        state,
        CodePurpose::SignUp,
        SIGN_UP_CODE_VALIDITY,
        state.clock.now(),
    );
    send_code(
        state,
        &directory,
        &key,
        &user,
        &destination,
        &code,
        &Occasion::of("ResendCode", Some(&client.client_id), &input),
    )
    .await?;
    Ok(json!({ "CodeDeliveryDetails": destination.details() }))
}

pub async fn admin_confirm_sign_up(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    unconfirmed(&user)?;
    let user = confirm(state, &directory, &key, user, None, false).await?;
    post_confirmation(
        state,
        &directory,
        &input,
        "PostConfirmation_ConfirmSignUp",
        None,
        &user,
    )
    .await?;
    Ok(json!({}))
}

/// The invitation template: (subject, body) for a channel.
fn invitation_template(directory: &Directory, channel: Channel) -> (Option<String>, String) {
    let template = directory
        .pool
        .settings
        .get("AdminCreateUserConfig")
        .and_then(|c| c.get("InviteMessageTemplate"));
    let get = |member: &str| {
        template
            .and_then(|t| t.get(member))
            .and_then(Value::as_str)
            .map(String::from)
    };
    let default = "Your username is {username} and temporary password is {####}. ".to_string();
    match channel {
        Channel::Email => (
            Some(get("EmailSubject").unwrap_or_else(|| "Your temporary password".into())),
            get("EmailMessage").unwrap_or(default),
        ),
        Channel::Sms => (None, get("SMSMessage").unwrap_or(default)),
    }
}

pub async fn admin_create_user(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let given = input.required_str("Username")?;
    let action = input.str("MessageAction");
    let policy = PasswordPolicy::from_pool_settings(&directory.pool.settings);
    let temporary = match input.str("TemporaryPassword") {
        Some(password) => {
            check_policy(
                &directory,
                password,
                "Password did not conform with password policy",
            )?;
            password.to_owned()
        }
        None => policy.generate(state.random.as_ref()),
    };
    let now = state.clock.now();

    let (key, mut user, created) = if action == Some("RESEND") {
        let (key, user) = directory.get(state, given).await?;
        awaits_first_password(&user)?;
        (key, user, false)
    } else {
        let pairs = attribute_pairs(&input, "UserAttributes");
        let (sub, username, attributes) =
            new_user_identity(state, &directory, Writer::Administrator, given, &pairs)?;
        if directory.find(state, given).await?.is_some() {
            return Err(username_taken(&directory, true));
        }
        // Cognito reads nothing of this function's answer for AdminCreateUser: it only
        // accepts or refuses the user.
        pre_sign_up(
            state,
            &directory,
            &input,
            "PreSignUp_AdminCreateUser",
            &username,
            None,
            &attributes,
        )
        .await?;
        let key = directory.key(&username);
        let user = new_user(
            &directory,
            sub,
            username,
            UserStatus::ForceChangePassword,
            attributes,
            now,
        );
        (key, user, true)
    };
    let password = NewPassword::of(state, &user, &temporary).await?;
    password.apply(&mut user);

    let mut destinations = Vec::new();
    if action != Some("SUPPRESS") {
        let requested: Option<Vec<String>> = input
            .get("DesiredDeliveryMediums")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            });
        // Without a choice the invitation goes by SMS when there is a phone number, as
        // Cognito's default medium is SMS, and otherwise by e-mail.
        let explicit = requested.is_some();
        let mediums = requested.unwrap_or_else(|| {
            if user.attributes.contains_key("phone_number") {
                vec!["SMS".to_owned()]
            } else {
                vec!["EMAIL".to_owned()]
            }
        });
        for medium in mediums {
            let (attribute, wording) = if medium == "EMAIL" {
                ("email", "Email")
            } else {
                ("phone_number", "Sms")
            };
            if explicit && !user.attributes.contains_key(attribute) {
                let what = if attribute == "email" {
                    "email"
                } else {
                    "phone_number"
                };
                return Err(Error::invalid_parameter(format!(
                    "No {what} provided but desired delivery medium was {wording}"
                )));
            }
            if let Some(destination) = Destination::of(&user, attribute) {
                destinations.push(destination);
            }
        }
    }
    for destination in &destinations {
        let template = invitation_template(&directory, destination.channel);
        deliver(
            state,
            &directory,
            &user,
            destination,
            template,
            &temporary,
            &Occasion::of("AdminCreateUser", None, &input),
        )
        .await?;
    }
    let aliases = directory.aliases_of(&user);
    if created {
        if input.bool("ForceAliasCreation").unwrap_or(false) {
            release_aliases(state, &directory, &key, &aliases).await?;
        }
        state
            .store
            .insert_user(UserChange {
                aliases: Some(&aliases),
                ..change(&user, &key)
            })
            .await
            .map_err(|e| insert_error(&directory, true, e))?;
    } else {
        user = revise(state, &directory, &key, user, |user| {
            awaits_first_password(user)?;
            password.apply(user);
            Ok(Some(Revision::default()))
        })
        .await?;
    }
    Ok(json!({ "User": user_type(&user, None) }))
}

/// An invitation is sent again only to a user who has not yet replaced the temporary
/// password.
fn awaits_first_password(user: &User) -> Result<(), Error> {
    if user.status == UserStatus::ForceChangePassword {
        return Ok(());
    }
    Err(Error::new(
        "UnsupportedUserStateException",
        format!(
            "Resend not possible. {} status is not FORCE_CHANGE_PASSWORD",
            user.username
        ),
    ))
}

pub async fn admin_get_user(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (_, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let mut answer = crate::directory::mfa::user_members(&user);
    answer.insert("Username".into(), json!(user.username));
    answer.insert("UserAttributes".into(), json!(attribute_list(&user, None)));
    answer.insert(
        "UserCreateDate".into(),
        json!(epoch_seconds(user.created_at)),
    );
    answer.insert(
        "UserLastModifiedDate".into(),
        json!(epoch_seconds(user.last_modified_at)),
    );
    answer.insert("Enabled".into(), json!(user.enabled));
    answer.insert("UserStatus".into(), json!(user.status.as_str()));
    Ok(Value::Object(answer))
}

pub async fn admin_delete_user(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    if !state.store.delete_user(&directory.pool.id, &key).await? {
        return Err(crate::directory::user_not_found());
    }
    Ok(json!({}))
}

async fn set_enabled(state: &Service, input: Input, enabled: bool) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    revise(state, &directory, &key, user, |user| {
        if user.enabled == enabled {
            return Ok(None);
        }
        user.enabled = enabled;
        Ok(Some(Revision::default()))
    })
    .await?;
    // AdminDisableUser "deactivates a user and revokes all access tokens for the user".
    if !enabled {
        state
            .store
            .revoke_user_tokens(&directory.pool.id, &key)
            .await?;
    }
    Ok(json!({}))
}

pub async fn admin_disable_user(state: &Service, input: Input) -> Result<Value, Error> {
    set_enabled(state, input, false).await
}

pub async fn admin_enable_user(state: &Service, input: Input) -> Result<Value, Error> {
    set_enabled(state, input, true).await
}

pub async fn list_users(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let filter = parse_user_filter(input.str("Filter").unwrap_or(""))
        .map_err(|e| Error::invalid_parameter(e.to_string()))?;
    let only: Option<Vec<String>> =
        input
            .get("AttributesToGet")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            });
    let limit = usize::try_from(input.i64("Limit").unwrap_or(60))
        .unwrap_or(60)
        .clamp(1, 60);
    let token = input.str("PaginationToken").map(decode_token).transpose()?;
    let fetch = u32::try_from(limit + 1).unwrap_or(61);

    // Without a filter, users come in key order; with one, from the search index in
    // (value, key) order, so that a filtered page is an index range scan at any pool size.
    let (page, next): (Vec<User>, Option<String>) = match filter {
        None => {
            let mut rows = state
                .store
                .list_users(&directory.pool.id, token.as_deref(), fetch)
                .await?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = more
                .then(|| rows.last().map(|(key, _)| key.clone()))
                .flatten();
            (rows.into_iter().map(|(_, u)| u).collect(), next)
        }
        Some(filter) => {
            let value = if filter.attribute == FilterAttribute::Username {
                directory.key(&filter.value)
            } else {
                filter.index_value()
            };
            let after: Option<(String, String)> = match &token {
                Some(token) => Some(
                    serde_json::from_str(token)
                        .map_err(|_| Error::invalid_parameter("Invalid pagination token."))?,
                ),
                None => None,
            };
            let mut rows = state
                .store
                .list_users_filtered(
                    &directory.pool.id,
                    filter.attribute.name(),
                    &value,
                    filter.op == FilterOp::StartsWith,
                    after.as_ref().map(|(v, k)| (v.as_str(), k.as_str())),
                    fetch,
                )
                .await?;
            let more = rows.len() > limit;
            rows.truncate(limit);
            let next = more
                .then(|| {
                    rows.last()
                        .map(|(key, value, _)| json!([value, key]).to_string())
                })
                .flatten();
            (rows.into_iter().map(|(_, _, u)| u).collect(), next)
        }
    };
    let users: Vec<Value> = page.iter().map(|u| user_type(u, only.as_deref())).collect();
    let mut output = json!({ "Users": users });
    if let Some(next) = next {
        output["PaginationToken"] = json!(encode_token(&next));
    }
    Ok(output)
}

pub async fn admin_set_user_password(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let password = input.required_str("Password")?;
    check_policy(
        &directory,
        password,
        "Password did not conform with password policy",
    )?;
    let password = NewPassword::of(state, &user, password).await?;
    let status = if input.bool("Permanent").unwrap_or(false) {
        UserStatus::Confirmed
    } else {
        UserStatus::ForceChangePassword
    };
    revise(state, &directory, &key, user, |user| {
        password.apply(user);
        user.status = status;
        Ok(Some(Revision {
            consume_codes: vec![CodePurpose::ForgotPassword],
            ..Revision::default()
        }))
    })
    .await?;
    Ok(json!({}))
}

/// Where a password-reset code goes, per the pool's AccountRecoverySetting (or, without
/// one, a verified phone number before a verified e-mail address).
fn recovery_destination(directory: &Directory, user: &User) -> Result<Destination, Error> {
    let mut mechanisms: Vec<(i64, String)> = directory
        .pool
        .settings
        .get("AccountRecoverySetting")
        .and_then(|s| s.get("RecoveryMechanisms"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|m| {
                    Some((
                        m.get("Priority")?.as_i64()?,
                        m.get("Name")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_else(|| {
            vec![
                (1, "verified_phone_number".into()),
                (2, "verified_email".into()),
            ]
        });
    mechanisms.sort();
    for (_, name) in &mechanisms {
        let attribute = match name.as_str() {
            "verified_email" => "email",
            "verified_phone_number" => "phone_number",
            _ => continue,
        };
        if user.verified(attribute) {
            if let Some(destination) = Destination::of(user, attribute) {
                return Ok(destination);
            }
        }
    }
    if mechanisms.iter().any(|(_, name)| name == "admin_only") {
        return Err(Error::new(
            "NotAuthorizedException",
            "User password cannot be reset in the current state.",
        ));
    }
    Err(Error::invalid_parameter(
        "Cannot reset password for the user as there is no registered/verified email or phone_number",
    ))
}

fn reset_code(state: &Service) -> OneTimeCode {
    new_code(
        state,
        CodePurpose::ForgotPassword,
        RESET_CODE_VALIDITY,
        state.clock.now(),
    )
}

pub async fn admin_reset_user_password(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let destination = recovery_destination(&directory, &user)?;
    let code = reset_code(state);
    issue_code(
        state,
        &directory,
        &key,
        &user,
        &destination,
        &code,
        &Occasion::of("AdminResetUserPassword", None, &input),
    )
    .await?;
    // The code is stored with the status it goes with, in one write.
    revise(state, &directory, &key, user, |user| {
        user.status = UserStatus::ResetRequired;
        Ok(Some(Revision {
            put_code: Some(code.clone()),
            ..Revision::default()
        }))
    })
    .await?;
    Ok(json!({}))
}

pub async fn forgot_password(state: &Service, input: Input) -> Result<Value, Error> {
    let given = input.required_str("Username")?;
    let (client, directory) = client_and_directory(state, &input, Some(given)).await?;
    let mut found = directory.find(state, given).await?;
    if found.is_none() {
        found = crate::sign_in::migration::on_forgot_password(
            state,
            &directory,
            &client.client_id,
            given,
            input.get("ClientMetadata").and_then(Value::as_object),
        )
        .await?;
    }
    let Some((key, user)) = found else {
        return if hides_users(&client) {
            Ok(simulated_delivery(&directory, given))
        } else {
            Err(user_client_not_found())
        };
    };
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    if user.status == UserStatus::ForceChangePassword {
        return Err(Error::new(
            "NotAuthorizedException",
            "User password cannot be reset in the current state.",
        ));
    }
    let destination = recovery_destination(&directory, &user)?;
    let code = reset_code(state);
    send_code(
        state,
        &directory,
        &key,
        &user,
        &destination,
        &code,
        &Occasion::of("ForgotPassword", Some(&client.client_id), &input),
    )
    .await?;
    crate::directory::auth_event::record(
        state,
        &directory.pool,
        (&key, &user.username),
        crate::directory::auth_event::Kind::ForgotPassword,
        true,
        &[],
    )
    .await?;
    Ok(json!({ "CodeDeliveryDetails": destination.details() }))
}

pub async fn confirm_forgot_password(state: &Service, input: Input) -> Result<Value, Error> {
    let given = input.required_str("Username")?;
    let (client, directory) = client_and_directory(state, &input, Some(given)).await?;
    let guess = input.required_str("ConfirmationCode")?;
    let password = input.required_str("Password")?;
    let Some((key, user)) = directory.find(state, given).await? else {
        return Err(if hides_users(&client) {
            Error::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            )
        } else {
            user_client_not_found()
        });
    };
    let user = reset_password(state, &directory, &key, user, guess, password).await?;
    post_confirmation(
        state,
        &directory,
        &input,
        "PostConfirmation_ConfirmForgotPassword",
        Some(&client.client_id),
        &user,
    )
    .await?;
    Ok(json!({}))
}

/// Sets a new password with a password-reset code (ConfirmForgotPassword), for `user` as
/// read under `key`. Redone on a fresh read when another write lands meanwhile: a user
/// disabled since is refused, and the code must still be the one that was checked.
pub async fn reset_password(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: User,
    guess: &str,
    password: &str,
) -> Result<User, Error> {
    if !user.enabled {
        return Err(Error::user_disabled());
    }
    let code = check_code(
        state,
        &directory.pool.id,
        key,
        CodePurpose::ForgotPassword,
        guess,
    )
    .await?;
    check_policy(directory, password, "Password does not conform to policy")?;
    let password = NewPassword::of(state, &user, password).await?;
    revise(state, directory, key, user, |user| {
        if !user.enabled {
            return Err(Error::user_disabled());
        }
        password.apply(user);
        // The code reached a verified destination, which is what confirmation proves.
        user.status = UserStatus::Confirmed;
        Ok(Some(Revision {
            consume_codes: vec![CodePurpose::ForgotPassword],
            uses_code: Some(code.clone()),
            ..Revision::default()
        }))
    })
    .await
}

pub async fn admin_update_user_attributes(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let pairs = attribute_pairs(&input, "UserAttributes");
    revise(state, &directory, &key, user, |user| {
        let write = write_attributes(
            &directory.pool,
            Writer::Administrator,
            Moment::Update,
            &user.attributes,
            &pairs,
        )?;
        user.attributes = write.attributes;
        Ok(Some(Revision {
            aliases: true,
            // A code sent to an address the user no longer has must not verify the new one.
            consume_codes: write
                .changed_contacts
                .iter()
                .filter_map(|contact| crate::directory::code::verification_purpose(contact))
                .collect(),
            ..Revision::default()
        }))
    })
    .await?;
    Ok(json!({}))
}

pub async fn admin_delete_user_attributes(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, user) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let names = input.strings("UserAttributeNames");
    crate::directory::delete_attributes(state, &directory, &key, user, &names).await?;
    Ok(json!({}))
}

/// The user a federated sign-in lands on (issue 15): `username` (already `<Provider>_<id>`,
/// case-folded as the pool folds), created on first sign-in with status `EXTERNAL_PROVIDER`
/// and no aliases (its addresses come from the provider, unverified by tessera, so they
/// never take a native user's sign-in name), and on every later sign-in given the mapped
/// attributes again ("Amazon Cognito updates each mapped attribute, even if its current
/// value already matches"; an attribute the provider no longer sends is kept). The
/// attributes go through the same rule set as an administrator's write. Returns the key,
/// the user, and whether it was created.
///
/// A first sign-in runs the pool's PreSignUp function (`PreSignUp_ExternalProvider`, with the
/// mapped attributes; a refusal creates nobody) and, once the user exists, its
/// PostConfirmation function (`PostConfirmation_ConfirmSignUp`), as Cognito does.
pub(crate) async fn federated_user(
    state: &Service,
    directory: &Directory,
    username: &str,
    mapped: &[(String, String)],
    client_id: Option<&str>,
) -> Result<(String, User, bool), Error> {
    let key = directory.key(username);
    if let Some(user) = state.store.user(&directory.pool.id, &key).await? {
        let user = revise(state, directory, &key, user, |user| {
            if !user.enabled {
                return Err(Error::user_disabled());
            }
            let written = write_attributes(
                &directory.pool,
                Writer::Administrator,
                Moment::Update,
                &user.attributes,
                mapped,
            )?;
            if written.attributes == user.attributes {
                return Ok(None);
            }
            user.attributes = written.attributes;
            Ok(Some(Revision::default()))
        })
        .await?;
        return Ok((key, user, false));
    }
    let attributes = write_attributes(
        &directory.pool,
        Writer::Administrator,
        Moment::Creation,
        &BTreeMap::new(),
        mapped,
    )?
    .attributes;
    let schema = AttributeSchema::from_pool_settings(&directory.pool.settings);
    let present: Vec<&str> = attributes.keys().map(String::as_str).collect();
    let missing = schema.missing_required(&present);
    if !missing.is_empty() {
        return Err(schema_error(tessera_core::AttributeError::required(
            missing,
        )));
    }
    let no_input = Input::new(serde_json::Map::new());
    pre_sign_up(
        state,
        directory,
        &no_input,
        "PreSignUp_ExternalProvider",
        username,
        client_id,
        &attributes,
    )
    .await?;
    // The function may have linked this identity to an existing user
    // (AdminLinkProviderForUser) before it answered; the caller looks for links first, so
    // only a user that is still new is created here.
    let now = state.clock.now();
    let user = new_user(
        directory,
        state.random_uuid(),
        username.to_owned(),
        UserStatus::ExternalProvider,
        attributes,
        now,
    );
    match state
        .store
        .insert_user(UserChange {
            aliases: Some(&[]),
            ..change(&user, &key)
        })
        .await
    {
        Ok(_) => {
            post_confirmation(
                state,
                directory,
                &no_input,
                "PostConfirmation_ConfirmSignUp",
                client_id,
                &user,
            )
            .await?;
            Ok((key, user, true))
        }
        // The same first sign-in twice at once: the other one created the user.
        Err(StoreError::Conflict) => match state.store.user(&directory.pool.id, &key).await? {
            Some(user) => Ok((key, user, false)),
            None => Err(Error::internal(&"federated user vanished")),
        },
        Err(other) => Err(other.into()),
    }
}
