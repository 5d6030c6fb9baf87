//! Directory writes that race: an administrator's write lands between a user operation's
//! read and its write. Each test makes the race deterministic by handing the operation the
//! user as read before the administrator's write, which is exactly what a slow operation
//! (argon2 hashing) holds when the other write lands. The operation must neither undo the
//! administrator's write nor act on checks made against what it replaced.
//!
//! Every test runs on SQLite, on SQLite with the read cache (as `tessera serve` runs it),
//! and on PostgreSQL when `TESSERA_TEST_PG_URL` names a server.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tessera_core::message::{Deliver, DeliveryError, Message};
use tessera_core::{ManualClock, MasterKey, PasswordHasher, SeededRandom, User};
use tessera_store::Store;

use crate::directory::account::{change_own_password, update_own_attributes};
use crate::directory::user::reset_password;
use crate::directory::{revise, Directory, Revision};
use crate::sign_in::access_token::Authorized;
use crate::{Error, Service, ServiceConfig};

const FIRST: &str = "First-passw0rd";
const ADMINS: &str = "Admins-passw0rd";
const OWN: &str = "Own-new-passw0rd";

/// Messages handed over for delivery, kept in memory.
#[derive(Default)]
struct Outbox(Mutex<Vec<Message>>);

#[async_trait::async_trait]
impl Deliver for Outbox {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message.clone());
        Ok(())
    }
}

impl Outbox {
    fn of_purpose(&self, purpose: &str) -> Vec<Message> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|m| m.purpose == purpose)
            .cloned()
            .collect()
    }

    /// The six digits of the last message of a purpose.
    fn code(&self, purpose: &str) -> String {
        let message = self.of_purpose(purpose).pop().expect("a message was sent");
        let digits: String = message
            .body
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .take_while(char::is_ascii_digit)
            .collect();
        assert_eq!(digits.len(), 6, "{}", message.body);
        digits
    }
}

/// A service over a fresh database, with a pool, an app client and one confirmed user
/// `ann` (verified e-mail, password [`FIRST`]).
struct Setup {
    service: Service,
    outbox: Arc<Outbox>,
    pool_id: String,
    client_id: String,
    drop_database: Option<(String, String)>,
}

fn master_key() -> Arc<MasterKey> {
    Arc::new(MasterKey::parse(&"24".repeat(32)).unwrap())
}

async fn setup(store: Store, drop_database: Option<(String, String)>) -> Setup {
    let outbox = Arc::new(Outbox::default());
    let service = Service::new(
        store,
        ServiceConfig {
            region: "us-east-1".into(),
            regions: crate::Regions::Any,
            account_id: "000000000000".into(),
            public_url: "http://tessera.test".into(),
            hosted_domain_suffix: "auth.localhost".into(),
        },
        Arc::new(ManualClock::new(
            SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        )),
        Arc::new(SeededRandom::new(5)),
        outbox.clone(),
    )
    // The cheapest cost argon2 accepts: these tests are about who writes last, not hashing.
    .with_password_hasher(PasswordHasher::new(8, 1, 1).unwrap());
    let call = |name: &'static str, input: Value| {
        let service = service.clone();
        async move { service.call(name, input, "test").await.unwrap() }
    };
    let pool = call(
        "CreateUserPool",
        json!({ "PoolName": "races", "AutoVerifiedAttributes": ["email"] }),
    )
    .await;
    let pool_id = pool["UserPool"]["Id"].as_str().unwrap().to_owned();
    let client = call(
        "CreateUserPoolClient",
        json!({ "UserPoolId": pool_id, "ClientName": "app" }),
    )
    .await;
    let client_id = client["UserPoolClient"]["ClientId"]
        .as_str()
        .unwrap()
        .to_owned();
    call(
        "AdminCreateUser",
        json!({
            "UserPoolId": pool_id,
            "Username": "ann",
            "MessageAction": "SUPPRESS",
            "UserAttributes": [
                { "Name": "email", "Value": "ann@example.com" },
                { "Name": "email_verified", "Value": "true" },
            ],
        }),
    )
    .await;
    call(
        "AdminSetUserPassword",
        json!({ "UserPoolId": pool_id, "Username": "ann", "Password": FIRST, "Permanent": true }),
    )
    .await;
    Setup {
        service,
        outbox,
        pool_id,
        client_id,
        drop_database,
    }
}

async fn sqlite(cached: bool) -> Setup {
    let dir = std::env::temp_dir().join(format!("tessera-idp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
    let store = Store::connect(&url, master_key(), Arc::new(SeededRandom::new(1)))
        .await
        .unwrap();
    let store = if cached {
        store.with_read_cache()
    } else {
        store
    };
    setup(store, None).await
}

async fn postgres() -> Option<Setup> {
    let Ok(admin_url) = std::env::var("TESSERA_TEST_PG_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set TESSERA_TEST_PG_URL"
        );
        return None;
    };
    use sqlx::Connection;
    let name = format!("tessera_idp_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    let store = Store::connect(
        &format!("{base}/{name}"),
        master_key(),
        Arc::new(SeededRandom::new(1)),
    )
    .await
    .unwrap();
    Some(setup(store, Some((admin_url, name))).await)
}

impl Setup {
    async fn finish(self) {
        self.service.store.close().await;
        if let Some((admin_url, name)) = self.drop_database {
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin)
                .await
                .unwrap();
        }
    }

    async fn admin(&self, operation: &str, mut input: Value) -> Value {
        input["UserPoolId"] = json!(self.pool_id);
        input["Username"] = json!("ann");
        self.service.call(operation, input, "test").await.unwrap()
    }

    async fn directory(&self) -> Directory {
        Directory::load(&self.service, &self.pool_id).await.unwrap()
    }

    async fn ann(&self) -> User {
        self.service
            .store
            .user(&self.pool_id, "ann")
            .await
            .unwrap()
            .unwrap()
    }

    /// What a token-authorised operation holds after its checks: ann as read now.
    async fn signed_in(&self, user: User) -> Authorized {
        Authorized {
            directory: self.directory().await,
            key: "ann".into(),
            user,
            claims: Arc::default(),
        }
    }

    fn password_is(&self, user: &User, password: &str) -> bool {
        self.service
            .hasher
            .verify(password, user.password_hash.as_deref().unwrap())
    }
}

fn assert_refused(result: Result<impl std::fmt::Debug, Error>, kind: &str, message: &str) {
    let error = result.unwrap_err();
    assert_eq!((error.kind, error.message.as_str()), (kind, message));
}

/// Runs each scenario on every available backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[tokio::test] async fn $name() { let s = super::sqlite(false).await; super::$name(&s).await; s.finish().await; })*
        }
        mod sqlite_cached {
            $(#[tokio::test] async fn $name() { let s = super::sqlite(true).await; super::$name(&s).await; s.finish().await; })*
        }
        mod postgres_backend {
            $(#[tokio::test] async fn $name() { if let Some(s) = super::postgres().await { super::$name(&s).await; s.finish().await; } })*
        }
    };
}

on_every_backend!(
    change_password_after_an_admin_set_one_is_refused,
    change_password_for_a_user_disabled_meanwhile_is_refused,
    attribute_update_keeps_the_admins_password,
    attribute_update_for_a_user_disabled_meanwhile_is_refused,
    password_reset_for_a_user_disabled_meanwhile_is_refused,
    redone_attribute_update_sends_one_message,
    a_write_using_a_code_used_meanwhile_is_refused,
);

/// ChangePassword checked the previous password against the hash it read; an administrator
/// set another password since. The change is refused, and the administrator's password
/// stands.
async fn change_password_after_an_admin_set_one_is_refused(s: &Setup) {
    let read = s.ann().await;
    s.admin(
        "AdminSetUserPassword",
        json!({ "Password": ADMINS, "Permanent": true }),
    )
    .await;
    let outcome = change_own_password(&s.service, s.signed_in(read).await, FIRST, OWN).await;
    assert_refused(
        outcome,
        "NotAuthorizedException",
        "Incorrect username or password.",
    );
    let stored = s.ann().await;
    assert!(s.password_is(&stored, ADMINS));
}

async fn change_password_for_a_user_disabled_meanwhile_is_refused(s: &Setup) {
    let read = s.ann().await;
    s.admin("AdminDisableUser", json!({})).await;
    let outcome = change_own_password(&s.service, s.signed_in(read).await, FIRST, OWN).await;
    assert_refused(outcome, "NotAuthorizedException", "User is disabled.");
    let stored = s.ann().await;
    assert!(!stored.enabled, "the disable stays in force");
    assert!(s.password_is(&stored, FIRST));
}

/// UpdateUserAttributes lands after the administrator's AdminSetUserPassword: both hold.
async fn attribute_update_keeps_the_admins_password(s: &Setup) {
    let read = s.ann().await;
    s.admin(
        "AdminSetUserPassword",
        json!({ "Password": ADMINS, "Permanent": false }),
    )
    .await;
    update_own_attributes(
        &s.service,
        s.signed_in(read).await,
        None,
        &[("name".into(), "Ann".into())],
        None,
    )
    .await
    .unwrap();
    let stored = s.ann().await;
    assert_eq!(stored.attributes["name"], "Ann");
    assert!(s.password_is(&stored, ADMINS));
    assert_eq!(stored.status.as_str(), "FORCE_CHANGE_PASSWORD");
}

async fn attribute_update_for_a_user_disabled_meanwhile_is_refused(s: &Setup) {
    let read = s.ann().await;
    s.admin("AdminDisableUser", json!({})).await;
    let outcome = update_own_attributes(
        &s.service,
        s.signed_in(read).await,
        None,
        &[("name".into(), "Ann".into())],
        None,
    )
    .await;
    assert_refused(outcome, "NotAuthorizedException", "User is disabled.");
    let stored = s.ann().await;
    assert!(!stored.enabled, "the update did not re-enable the user");
    assert!(!stored.attributes.contains_key("name"));
}

/// ConfirmForgotPassword read an enabled user; an administrator disabled it before the
/// write. It is refused as for a disabled user, and the code is left for later.
async fn password_reset_for_a_user_disabled_meanwhile_is_refused(s: &Setup) {
    s.service
        .call(
            "ForgotPassword",
            json!({ "ClientId": s.client_id, "Username": "ann" }),
            "test",
        )
        .await
        .unwrap();
    let code = s.outbox.code("ForgotPassword");
    let read = s.ann().await;
    s.admin("AdminDisableUser", json!({})).await;
    let directory = s.directory().await;
    let outcome = reset_password(&s.service, &directory, "ann", read, &code, OWN).await;
    assert_refused(outcome, "NotAuthorizedException", "User is disabled.");
    let stored = s.ann().await;
    assert!(!stored.enabled);
    assert!(s.password_is(&stored, FIRST));

    s.admin("AdminEnableUser", json!({})).await;
    s.service
        .call(
            "ConfirmForgotPassword",
            json!({ "ClientId": s.client_id, "Username": "ann", "ConfirmationCode": code, "Password": OWN }),
            "test",
        )
        .await
        .unwrap();
    assert!(s.password_is(&s.ann().await, OWN));
}

/// A changed e-mail address gets one verification message even when the write is redone
/// after a concurrent one, and the code stored is the code sent.
async fn redone_attribute_update_sends_one_message(s: &Setup) {
    let read = s.ann().await;
    s.admin(
        "AdminSetUserPassword",
        json!({ "Password": ADMINS, "Permanent": true }),
    )
    .await;
    let details = update_own_attributes(
        &s.service,
        s.signed_in(read).await,
        None,
        &[("email".into(), "ann@example.org".into())],
        None,
    )
    .await
    .unwrap();
    assert_eq!(details.len(), 1);
    assert_eq!(s.outbox.of_purpose("UpdateUserAttribute").len(), 1);
    let stored = s.ann().await;
    assert_eq!(stored.attributes["email"], "ann@example.org");
    assert_eq!(stored.attributes["email_verified"], "false");
    assert!(s.password_is(&stored, ADMINS));
    let code = s
        .service
        .store
        .code(&s.pool_id, "ann", tessera_core::CodePurpose::VerifyEmail)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(code.code, s.outbox.code("UpdateUserAttribute"));
}

/// A write that uses a checked code re-checks, when it lands, that the code is still
/// pending: a concurrent write that used it first leaves nothing for a second use.
async fn a_write_using_a_code_used_meanwhile_is_refused(s: &Setup) {
    s.service
        .call(
            "ForgotPassword",
            json!({ "ClientId": s.client_id, "Username": "ann" }),
            "test",
        )
        .await
        .unwrap();
    let checked = s
        .service
        .store
        .code(&s.pool_id, "ann", tessera_core::CodePurpose::ForgotPassword)
        .await
        .unwrap()
        .unwrap();
    let read = s.ann().await;
    s.service
        .call(
            "ConfirmForgotPassword",
            json!({ "ClientId": s.client_id, "Username": "ann", "ConfirmationCode": checked.code, "Password": ADMINS }),
            "test",
        )
        .await
        .unwrap();
    let directory = s.directory().await;
    let outcome = revise(&s.service, &directory, "ann", read, |user| {
        user.enabled = false;
        Ok(Some(Revision {
            uses_code: Some(checked.clone()),
            ..Revision::default()
        }))
    })
    .await;
    assert_refused(
        outcome,
        "ExpiredCodeException",
        "Invalid code provided, please request a code again.",
    );
    assert!(s.ann().await.enabled);
}
