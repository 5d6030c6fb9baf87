//! The one rule set for writing a user's attributes, whichever operation writes them:
//! SignUp, AdminCreateUser, UpdateUserAttributes, AdminUpdateUserAttributes, and the answer
//! to NEW_PASSWORD_REQUIRED (RespondToAuthChallenge and the hosted new-password page).
//!
//! Each path used to check attributes its own way, and one of them (the challenge answer)
//! let an invited user set any attribute, a verified e-mail address of someone else
//! included. Here the rules are, in this order:
//!
//! 1. a user writes through an app client, and a client with `WriteAttributes` may write only
//!    those (NotAuthorizedException `A client attempted to write unauthorized attribute`,
//!    Cognito's wording);
//! 2. only an administrator may set `email_verified` or `phone_number_verified`
//!    (InvalidParameterException `Cannot modify the attribute <name>.`: tessera's wording,
//!    no real Cognito answer for a client without `WriteAttributes` was found);
//! 3. the values must fit the pool's schema ([`AttributeSchema::validate`]);
//! 4. a changed e-mail address or phone number is no longer verified, unless an
//!    administrator states its verified flag in the same request.

use std::collections::BTreeMap;

use serde_json::Value;
use tessera_core::{AppClient, AttributeSchema, UserPool};

use crate::Error;

/// The contact attributes, whose values must be verified before they serve as aliases or
/// receive codes.
const CONTACTS: [&str; 2] = ["email", "phone_number"];

/// Who writes the attributes.
#[derive(Debug, Clone, Copy)]
pub enum Writer<'a> {
    /// An administrator: the Admin* operations, signed with an access key.
    Administrator,
    /// The user, through an app client: the client of SignUp, or the one the access token
    /// or challenge session was issued to (`None` when that client no longer exists).
    User(Option<&'a AppClient>),
}

/// When the write happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// The user is being created (SignUp, AdminCreateUser): immutable attributes may still
    /// be given, and there is no verified flag to reset.
    Creation,
    /// The user exists.
    Update,
}

/// A write that the rules allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeWrite {
    /// The user's attributes as they become.
    pub attributes: BTreeMap<String, String>,
    /// The contact attributes (`email`, `phone_number`) whose value the write changes, in
    /// the order of the request: where the code-sending paths send a verification code.
    pub changed_contacts: Vec<&'static str>,
}

/// Applies the rules to a request to set `requested` on a user whose attributes are
/// `current` (empty at creation), returning the attributes as they become.
pub fn write_attributes(
    pool: &UserPool,
    writer: Writer<'_>,
    moment: Moment,
    current: &BTreeMap<String, String>,
    requested: &[(String, String)],
) -> Result<AttributeWrite, Error> {
    let administrator = matches!(writer, Writer::Administrator);
    if let Writer::User(Some(client)) = writer {
        check_client_may_write(client, requested)?;
    }
    if !administrator {
        if let Some((name, _)) = requested.iter().find(|(n, _)| is_verified_flag(n)) {
            return Err(Error::invalid_parameter(format!(
                "Cannot modify the attribute {name}."
            )));
        }
    }
    AttributeSchema::from_pool_settings(&pool.settings)
        .validate(requested, moment == Moment::Creation, administrator)
        .map_err(|error| Error::invalid_parameter(error.to_string()))?;

    let mut attributes = current.clone();
    let mut changed_contacts = Vec::new();
    for (name, value) in requested {
        if let Some(contact) = CONTACTS.iter().find(|c| **c == name.as_str()) {
            if current.get(name) != Some(value) && !changed_contacts.contains(contact) {
                changed_contacts.push(*contact);
            }
        }
        attributes.insert(name.clone(), value.clone());
    }
    if moment == Moment::Update {
        for contact in &changed_contacts {
            let flag = format!("{contact}_verified");
            // Only an administrator can have given the flag (rule 2), and then it stands.
            if !requested.iter().any(|(name, _)| *name == flag) {
                attributes.insert(flag, "false".into());
            }
        }
    }
    Ok(AttributeWrite {
        attributes,
        changed_contacts,
    })
}

fn is_verified_flag(name: &str) -> bool {
    CONTACTS
        .iter()
        .any(|contact| name.strip_suffix("_verified") == Some(*contact))
}

/// A client with `WriteAttributes` may set only those attributes.
fn check_client_may_write(client: &AppClient, requested: &[(String, String)]) -> Result<(), Error> {
    let Some(writable) = client
        .settings
        .get("WriteAttributes")
        .and_then(Value::as_array)
    else {
        return Ok(());
    };
    let allowed = |name: &str| writable.iter().any(|w| w.as_str() == Some(name));
    if requested.iter().all(|(name, _)| allowed(name)) {
        Ok(())
    } else {
        Err(Error::new(
            "NotAuthorizedException",
            "A client attempted to write unauthorized attribute",
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::json;

    use super::*;

    fn pool() -> UserPool {
        UserPool {
            id: "us-east-1_Rules0000".into(),
            name: "rules".into(),
            created_at: SystemTime::UNIX_EPOCH,
            last_modified_at: SystemTime::UNIX_EPOCH,
            settings: serde_json::Map::new(),
        }
    }

    fn client(write_attributes: Option<&[&str]>) -> AppClient {
        let mut settings = serde_json::Map::new();
        if let Some(names) = write_attributes {
            settings.insert("WriteAttributes".into(), json!(names));
        }
        AppClient {
            user_pool_id: "us-east-1_Rules0000".into(),
            client_id: "client".into(),
            client_name: "client".into(),
            secret: None,
            created_at: SystemTime::UNIX_EPOCH,
            last_modified_at: SystemTime::UNIX_EPOCH,
            settings,
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn verified(email: &str) -> BTreeMap<String, String> {
        [("email", email), ("email_verified", "true")]
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn a_user_cannot_verify_a_contact_attribute() {
        let requested = pairs(&[("email", "victim@example.com"), ("email_verified", "true")]);
        for moment in [Moment::Creation, Moment::Update] {
            let error = write_attributes(
                &pool(),
                Writer::User(Some(&client(None))),
                moment,
                &verified("me@example.com"),
                &requested,
            )
            .unwrap_err();
            assert_eq!(error.kind, "InvalidParameterException");
            assert_eq!(error.message, "Cannot modify the attribute email_verified.");
        }
        let error = write_attributes(
            &pool(),
            Writer::User(None),
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("phone_number_verified", "true")]),
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "Cannot modify the attribute phone_number_verified."
        );
    }

    #[test]
    fn a_client_writes_only_its_write_attributes() {
        let narrow = client(Some(&["name"]));
        let error = write_attributes(
            &pool(),
            Writer::User(Some(&narrow)),
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("name", "Ann"), ("email", "ann@example.com")]),
        )
        .unwrap_err();
        assert_eq!(
            (error.kind, error.message.as_str()),
            (
                "NotAuthorizedException",
                "A client attempted to write unauthorized attribute"
            )
        );
        // The client's list is checked first, so a verified flag outside it gets the same answer.
        let error = write_attributes(
            &pool(),
            Writer::User(Some(&narrow)),
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("email_verified", "true")]),
        )
        .unwrap_err();
        assert_eq!(error.kind, "NotAuthorizedException");
        assert!(write_attributes(
            &pool(),
            Writer::User(Some(&narrow)),
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("name", "Ann")]),
        )
        .is_ok());
        // An administrator is not bound by any client.
        assert!(write_attributes(
            &pool(),
            Writer::Administrator,
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("email", "ann@example.com"), ("email_verified", "true")]),
        )
        .is_ok());
    }

    #[test]
    fn a_changed_contact_is_no_longer_verified() {
        let write = write_attributes(
            &pool(),
            Writer::User(None),
            Moment::Update,
            &verified("me@example.com"),
            &pairs(&[("email", "new@example.com"), ("name", "Me")]),
        )
        .unwrap();
        assert_eq!(write.changed_contacts, ["email"]);
        assert_eq!(write.attributes["email"], "new@example.com");
        assert_eq!(write.attributes["email_verified"], "false");
        assert_eq!(write.attributes["name"], "Me");

        // The same value again changes nothing.
        let write = write_attributes(
            &pool(),
            Writer::User(None),
            Moment::Update,
            &verified("me@example.com"),
            &pairs(&[("email", "me@example.com")]),
        )
        .unwrap();
        assert!(write.changed_contacts.is_empty());
        assert_eq!(write.attributes, verified("me@example.com"));

        // An administrator's flag in the same request stands; without one, the reset applies.
        let write = write_attributes(
            &pool(),
            Writer::Administrator,
            Moment::Update,
            &verified("me@example.com"),
            &pairs(&[("email", "new@example.com"), ("email_verified", "true")]),
        )
        .unwrap();
        assert_eq!(write.attributes["email_verified"], "true");
        let write = write_attributes(
            &pool(),
            Writer::Administrator,
            Moment::Update,
            &verified("me@example.com"),
            &pairs(&[("email", "new@example.com")]),
        )
        .unwrap();
        assert_eq!(write.attributes["email_verified"], "false");

        // At creation there is no flag to reset, and none is added.
        let write = write_attributes(
            &pool(),
            Writer::User(None),
            Moment::Creation,
            &BTreeMap::new(),
            &pairs(&[("email", "new@example.com")]),
        )
        .unwrap();
        assert_eq!(write.changed_contacts, ["email"]);
        assert!(!write.attributes.contains_key("email_verified"));
    }

    #[test]
    fn values_must_fit_the_schema() {
        let error = write_attributes(
            &pool(),
            Writer::Administrator,
            Moment::Update,
            &BTreeMap::new(),
            &pairs(&[("shoe_size", "44")]),
        )
        .unwrap_err();
        assert_eq!(error.kind, "InvalidParameterException");
        assert_eq!(
            error.message,
            "Attributes did not conform to the schema: shoe_size: Attribute does not exist in the schema.\n"
        );
    }
}
