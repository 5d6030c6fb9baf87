//! Creating users brought from elsewhere (issue 16): a user import job's CSV rows and
//! `tessera users import` both go through [`import_user`], so an imported user meets the
//! same attribute rules as one AdminCreateUser creates, and its password hash, if any, is
//! one tessera can check ([`tessera_core::ImportedHash`] or its own argon2id).

use std::time::SystemTime;

use tessera_core::{PasswordHasher, SrpVerifier, User, UserStatus};
use tessera_store::{StoreError, UserChange};

use super::attribute_write::{write_attributes, Moment, Writer};
use super::user::{new_user, new_user_identity};
use super::Directory;
use crate::{Error, Service};

/// A user to create, as read from an import file.
#[derive(Debug, Clone, Default)]
pub struct ImportedUser {
    /// The username as given (in pools whose usernames are e-mail addresses or phone
    /// numbers, the address, unless `sub` is given: then the stored username itself).
    pub username: String,
    /// The user's `sub`, kept when a tessera export is imported so that tokens' `sub` claims
    /// stay the same; a fresh one otherwise.
    pub sub: Option<String>,
    /// The attributes, checked by the pool's schema as an administrator's write.
    pub attributes: Vec<(String, String)>,
    /// False imports the user disabled.
    pub enabled: bool,
    /// The status; by default CONFIRMED with a password hash and RESET_REQUIRED without.
    pub status: Option<UserStatus>,
    /// The password hash in a form [`ImportedHash::parse`] reads, or tessera's argon2id.
    pub password_hash: Option<String>,
    /// The SRP verifier, only from a tessera export of a pool with the same SRP pool name.
    pub srp_verifier: Option<SrpVerifier>,
    /// Groups of the pool the user joins.
    pub groups: Vec<String>,
    /// When the user was created where it comes from; the import time by default.
    pub created_at: Option<SystemTime>,
}

/// What became of one imported user, in the words of Cognito's import log where it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Created.
    Created,
    /// Left out because a user of that name exists ("The user already exists.").
    Skipped(String),
    /// Refused: the reason, for the job's log.
    Failed(String),
}

/// Creates `record` in `directory`'s pool; what the record gets wrong is a `Failed` outcome,
/// not an error, so that one bad row does not end an import. Errors are the store's.
pub async fn import_user(
    state: &Service,
    directory: &Directory,
    record: ImportedUser,
) -> Result<Imported, Error> {
    match build(state, directory, &record).await {
        Ok(Some((key, user))) => insert(state, directory, &key, &user, &record.groups).await,
        Ok(None) => Ok(Imported::Skipped("The user already exists.".into())),
        Err(error) if !error.is_internal() => Ok(Imported::Failed(error.message)),
        Err(error) => Err(error),
    }
}

/// The user to store and its key, or `None` when the name is taken.
async fn build(
    state: &Service,
    directory: &Directory,
    record: &ImportedUser,
) -> Result<Option<(String, User)>, Error> {
    let given = record.username.trim();
    if given.is_empty() || given.chars().any(char::is_whitespace) {
        return Err(Error::invalid_parameter(
            "The username is empty or contains whitespace.",
        ));
    }
    let (sub, username, attributes) = match &record.sub {
        // A tessera export: the username and `sub` are kept as they were.
        Some(sub) => {
            if uuid::Uuid::parse_str(sub).is_err() {
                return Err(Error::invalid_parameter("The sub is not a UUID."));
            }
            let attributes = write_attributes(
                &directory.pool,
                Writer::Administrator,
                Moment::Creation,
                &Default::default(),
                &record.attributes,
            )?
            .attributes;
            (sub.clone(), given.to_owned(), attributes)
        }
        None => new_user_identity(
            state,
            directory,
            Writer::Administrator,
            given,
            &record.attributes,
        )?,
    };
    if directory.find(state, &username).await?.is_some()
        || directory.find(state, given).await?.is_some()
    {
        return Ok(None);
    }
    if let Some(hash) = &record.password_hash {
        if !PasswordHasher::is_readable(hash) {
            return Err(Error::invalid_parameter(
                "The password hash is not in a supported form.",
            ));
        }
    }
    let status = record.status.unwrap_or(if record.password_hash.is_some() {
        UserStatus::Confirmed
    } else {
        UserStatus::ResetRequired
    });
    let now = state.clock.now();
    let mut user = new_user(directory, sub, username, status, attributes, now);
    user.enabled = record.enabled;
    user.created_at = record.created_at.unwrap_or(now).min(now);
    user.password_hash.clone_from(&record.password_hash);
    user.password_set_at = record.password_hash.as_ref().map(|_| now);
    user.srp_verifier = record
        .srp_verifier
        .clone()
        .filter(|_| record.password_hash.is_some());
    let key = directory.key(&user.username);
    Ok(Some((key, user)))
}

async fn insert(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: &User,
    groups: &[String],
) -> Result<Imported, Error> {
    let aliases = directory.aliases_of(user);
    let inserted = state
        .store
        .insert_user_in_groups(
            UserChange {
                user,
                key,
                aliases: Some(&aliases),
                put_code: None,
                consume_codes: &[],
            },
            groups,
        )
        .await;
    match inserted {
        Ok(()) => Ok(Imported::Created),
        Err(StoreError::Conflict) => Ok(Imported::Skipped("The user already exists.".into())),
        Err(StoreError::AliasTaken(kind)) => Ok(Imported::Failed(format!(
            "Another user already has this {kind}."
        ))),
        Err(StoreError::NoGroup(group)) => Ok(Imported::Failed(format!(
            "The group {group} does not exist."
        ))),
        Err(other) => Err(other.into()),
    }
}
