//! The UserMigration trigger: a name the pool does not know is handed, with the password the
//! user typed (or, from ForgotPassword, without one), to the pool's function, which looks it
//! up in a legacy store; the user it returns is created here and the sign-in (or the
//! password reset) goes on as for any user. Only the password flows migrate: SRP never
//! shows the server a password to keep.

use serde_json::{json, Map, Value};
use tessera_core::{User, UserStatus};

use super::machine::{Context, Found};
use crate::directory::user::create_migrated_user;
use crate::directory::Directory;
use crate::trigger::{self, Call, Trigger};
use crate::{Error, Service};

/// At sign-in: the migrated user, or still unknown when the pool has no such function or it
/// found nobody. A migrated user is confirmed unless the function says `RESET_REQUIRED`.
pub async fn on_sign_in(
    service: &Service,
    context: &Context<'_>,
    typed: &str,
    password: &str,
) -> Result<Found, Error> {
    let migrated = migrate(
        service,
        context.directory,
        &context.client.client_id,
        typed,
        Some(password),
        context.validation_data,
    )
    .await?;
    Ok(match migrated {
        Some((key, user)) => Found::User {
            key,
            user: Box::new(user),
        },
        None => Found::Unknown,
    })
}

/// At ForgotPassword: the migrated user, whose password must now be reset.
pub async fn on_forgot_password(
    service: &Service,
    directory: &Directory,
    client_id: &str,
    typed: &str,
    client_metadata: Option<&Map<String, Value>>,
) -> Result<Option<(String, User)>, Error> {
    migrate(service, directory, client_id, typed, None, client_metadata).await
}

async fn migrate(
    service: &Service,
    directory: &Directory,
    client_id: &str,
    typed: &str,
    password: Option<&str>,
    client_metadata: Option<&Map<String, Value>>,
) -> Result<Option<(String, User)>, Error> {
    let metadata = client_metadata.map_or(Value::Null, |m| Value::Object(m.clone()));
    let mut request = json!({ "validationData": metadata.clone() });
    if let Some(password) = password {
        request["password"] = json!(password);
    }
    if !metadata.is_null() {
        request["clientMetadata"] = metadata;
    }
    let source = if password.is_some() {
        "UserMigration_Authentication"
    } else {
        "UserMigration_ForgotPassword"
    };
    let call = Call {
        trigger: Trigger::UserMigration,
        source,
        pool: &directory.pool,
        // What the user typed: the function looks it up in the legacy store.
        user_name: typed,
        client_id: Some(client_id),
        request,
    };
    let Some(response) = trigger::run(service, &call).await? else {
        return Ok(None);
    };
    // No attributes: the legacy store does not know the user either.
    match response.get("userAttributes") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(attributes)) if attributes.is_empty() => return Ok(None),
        _ => {}
    }
    let status = match (
        response.get("finalUserStatus").and_then(Value::as_str),
        password,
    ) {
        // Without a password the user can only reset one.
        (_, None) => UserStatus::ResetRequired,
        (Some("RESET_REQUIRED"), Some(_)) => UserStatus::ResetRequired,
        (None | Some("CONFIRMED"), Some(_)) => UserStatus::Confirmed,
        (Some(_), Some(_)) => return Err(trigger::unrecognizable()),
    };
    let (key, user) =
        create_migrated_user(service, directory, typed, password, &response, status).await?;
    tracing::info!(
        pool_id = %directory.pool.id,
        source,
        "a user was migrated by the pool's UserMigration function"
    );
    Ok(Some((key, user)))
}
