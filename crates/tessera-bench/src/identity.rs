//! The identity-pool scenarios of issue 14: what it costs to turn a sign-in (or nothing, for a
//! guest) into temporary credentials from tessera's built-in STS.
//!
//! - `identity_credentials`: GetId with the user's ID token in `Logins`, then
//!   GetCredentialsForIdentity with the same `Logins` and the IdentityId returned (the
//!   enhanced flow, as Amplify's `fetchAuthSession` runs it), for the load benchmark's users in
//!   turn;
//! - `identity_guest_credentials`: GetId without `Logins`, which creates a guest identity each
//!   time, then GetCredentialsForIdentity for it.
//!
//! Both requests are public operations (unsigned). Each scenario has an identity pool of its
//! own, created with calls signed for `cognito-identity` just before it runs. tessera runs
//! without an `[identity]` table, so the roles are undeclared: they get built-in credentials
//! with no policy. One operation is both requests; it counts only when the second answers
//! credentials whose access key id starts with `ASIA` for the identity the first named.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use serde_json::{json, Value};

use crate::api::{call_identity_signed, string_at, Endpoint, Fixture, REGION};
use crate::http::Conn;
use crate::load::{expect_ok, message, Operation};
use crate::mfa::{prepared, thousands_int, unsupported, Prepared};
use crate::util::Result;

/// The role of signed-in identities; undeclared, so built-in credentials with no policy.
pub const AUTHENTICATED_ROLE: &str = "arn:aws:iam::000000000000:role/Bench";
/// The role of guests; undeclared too.
pub const GUEST_ROLE: &str = "arn:aws:iam::000000000000:role/BenchGuest";
const POOL_NAME: &str = "tessera-bench";
const GUEST_POOL_NAME: &str = "tessera-bench-guests";
/// What the built-in STS's access key ids (AWS's temporary ones too) start with.
const TEMPORARY_KEY_PREFIX: &str = "ASIA";

/// The `Logins` key of a tessera user pool, as Cognito spells it.
pub fn user_pool_provider(pool_id: &str) -> String {
    let region = pool_id.split_once('_').map_or(REGION, |(region, _)| region);
    format!("cognito-idp.{region}.amazonaws.com/{pool_id}")
}

/// The IdentityId of a GetId answer.
fn identity_id_of(body: &[u8]) -> std::result::Result<String, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|_| "GetId answer is not JSON".to_owned())?;
    answer
        .get("IdentityId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "GetId answer without IdentityId".to_owned())
}

/// Whether a GetCredentialsForIdentity answer holds temporary credentials for `identity_id`.
fn check_credentials(body: &[u8], identity_id: &str) -> std::result::Result<(), String> {
    let answer: Value = serde_json::from_slice(body)
        .map_err(|_| "GetCredentialsForIdentity answer is not JSON".to_owned())?;
    if answer.get("IdentityId").and_then(Value::as_str) != Some(identity_id) {
        return Err("GetCredentialsForIdentity named another identity".into());
    }
    let text = |pointer: &str| {
        answer
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    match text("/Credentials/AccessKeyId") {
        Some(key) if key.starts_with(TEMPORARY_KEY_PREFIX) => {}
        Some(_) => return Err("Credentials.AccessKeyId does not start with ASIA".into()),
        None => return Err("GetCredentialsForIdentity answer without Credentials".into()),
    }
    if text("/Credentials/SecretKey").is_none() || text("/Credentials/SessionToken").is_none() {
        return Err("Credentials without SecretKey or SessionToken".into());
    }
    if answer.pointer("/Credentials/Expiration").is_none() {
        return Err("Credentials without Expiration".into());
    }
    Ok(())
}

/// GetCredentialsForIdentity's body: the identity and, for a signed-in user, the `Logins`
/// object (already JSON).
fn credentials_body(identity_id: &str, logins: Option<&str>) -> String {
    let id = Value::from(identity_id);
    match logins {
        Some(logins) => format!("{{\"IdentityId\":{id},\"Logins\":{logins}}}"),
        None => format!("{{\"IdentityId\":{id}}}"),
    }
}

/// Creates an identity pool with `pool` (CreateIdentityPool) and gives it `roles`
/// (SetIdentityPoolRoles), both signed for `cognito-identity`; returns its id.
async fn create_identity_pool(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool: Value,
    roles: Value,
) -> Result<String> {
    let created =
        call_identity_signed(conn, endpoint, "CreateIdentityPool", pool.to_string()).await?;
    let id = string_at(
        &created,
        "/IdentityPoolId",
        format_args!("CreateIdentityPool returned no IdentityPoolId: {created}"),
    )?
    .to_owned();
    call_identity_signed(
        conn,
        endpoint,
        "SetIdentityPoolRoles",
        json!({ "IdentityPoolId": id, "Roles": roles }).to_string(),
    )
    .await?;
    Ok(id)
}

/// Runs one operation before the run, to tell "the server has no identity pools" and "the
/// flow fails" from a failing run.
async fn check<O: Operation>(operation: &O, conn: &mut Conn, name: &str) -> Result<Option<String>> {
    match operation.once(conn).await {
        Ok(()) => Ok(None),
        Err(kind) => {
            let reason = format!(
                "{name}: the check operation before the run failed: {kind}: {}",
                message(conn.body())
            );
            match unsupported(&reason) {
                Some(reason) => Ok(Some(reason)),
                None => Err(reason),
            }
        }
    }
}

/// One `identity_credentials` operation, for the fixture's users in turn.
pub struct IdentityCredentials {
    endpoint: Endpoint,
    pub identity_pool_id: String,
    pub provider: String,
    pub client_id: String,
    /// GetId per user, serialised before the run.
    get_id: Vec<Vec<u8>>,
    /// The `Logins` object per user, as JSON.
    logins: Vec<String>,
    /// The identity GetId first named for each user; a later answer must name it again.
    identities: Vec<OnceLock<String>>,
    next: AtomicU64,
    pub setup_seconds: f64,
}

impl IdentityCredentials {
    fn new(endpoint: &Endpoint, fixture: &Fixture, identity_pool_id: String) -> Self {
        let provider = user_pool_provider(&fixture.pool_id);
        let logins: Vec<String> = fixture
            .users
            .iter()
            .map(|user| json!({ &provider: user.id_token }).to_string())
            .collect();
        let get_id = logins
            .iter()
            .map(|logins| {
                let body = format!(
                    "{{\"IdentityPoolId\":{},\"Logins\":{logins}}}",
                    json!(identity_pool_id)
                );
                endpoint.identity_public("GetId", body.as_bytes())
            })
            .collect();
        Self {
            endpoint: endpoint.clone(),
            identity_pool_id,
            provider,
            client_id: fixture.client_id.clone(),
            get_id,
            identities: logins.iter().map(|_| OnceLock::new()).collect(),
            logins,
            next: AtomicU64::new(0),
            setup_seconds: 0.0,
        }
    }

    /// Users GetId has named an identity for, and how many distinct identities it named.
    fn identities_seen(&self) -> (usize, usize) {
        let seen: Vec<&String> = self.identities.iter().filter_map(OnceLock::get).collect();
        let distinct: HashSet<&String> = seen.iter().copied().collect();
        (seen.len(), distinct.len())
    }
}

impl Operation for IdentityCredentials {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let index = usize::try_from(n % self.get_id.len().max(1) as u64).unwrap_or(0);
        let (Some(get_id), Some(logins), Some(first)) = (
            self.get_id.get(index),
            self.logins.get(index),
            self.identities.get(index),
        ) else {
            return Err("no request".into());
        };
        expect_ok(conn, get_id)
            .await
            .map_err(|kind| format!("GetId: {kind}"))?;
        let identity_id = identity_id_of(conn.body())?;
        if *first.get_or_init(|| identity_id.clone()) != identity_id {
            return Err("GetId named another identity for the same user".into());
        }
        let request = self.endpoint.identity_public(
            "GetCredentialsForIdentity",
            credentials_body(&identity_id, Some(logins)).as_bytes(),
        );
        expect_ok(conn, &request)
            .await
            .map_err(|kind| format!("GetCredentialsForIdentity: {kind}"))?;
        check_credentials(conn.body(), &identity_id)
    }
}

/// Creates the identity pool of `identity_credentials`: the fixture's user pool and client
/// as its only provider (ServerSideTokenCheck false), no guests, and [`AUTHENTICATED_ROLE`]
/// as the authenticated role; then runs one operation, to check the flow before the run.
pub async fn prepare_credentials(
    endpoint: &Endpoint,
    fixture: &Fixture,
) -> Result<Prepared<IdentityCredentials>> {
    if fixture.users.is_empty() {
        return Err("identity_credentials needs at least one user".into());
    }
    let started = Instant::now();
    let mut conn = Conn::new(endpoint.addr);
    let created = create_identity_pool(
        &mut conn,
        endpoint,
        json!({
            "IdentityPoolName": POOL_NAME,
            "AllowUnauthenticatedIdentities": false,
            "CognitoIdentityProviders": [{
                "ProviderName": user_pool_provider(&fixture.pool_id),
                "ClientId": fixture.client_id,
                "ServerSideTokenCheck": false,
            }],
        }),
        json!({ "authenticated": AUTHENTICATED_ROLE }),
    )
    .await;
    let identity_pool_id = match prepared(created)? {
        Prepared::Ready(id) => id,
        Prepared::Unsupported(reason) => return Ok(Prepared::Unsupported(reason)),
    };
    let mut operation = IdentityCredentials::new(endpoint, fixture, identity_pool_id);
    if let Some(reason) = check(&operation, &mut conn, "identity_credentials").await? {
        return Ok(Prepared::Unsupported(reason));
    }
    operation.setup_seconds = started.elapsed().as_secs_f64();
    Ok(Prepared::Ready(operation))
}

/// The report's sentence on the setup of `identity_credentials`.
pub fn credentials_setup_note(operation: &IdentityCredentials) -> String {
    format!(
        "Setup for `identity_credentials`: identity pool {} (CreateIdentityPool, SigV4-signed for the service `cognito-identity`) with AllowUnauthenticatedIdentities false and one provider, `{{ProviderName: {}, ClientId: {}, ServerSideTokenCheck: false}}`, then SetIdentityPoolRoles with the authenticated role {AUTHENTICATED_ROLE}, and one check operation: {:.0} ms. tessera runs without an `[identity]` table, so the role is undeclared and gets built-in STS credentials with no policy. The users are the load benchmark's {} users, each presenting the ID token of its setup sign-in, taken in turn.",
        operation.identity_pool_id,
        operation.provider,
        operation.client_id,
        operation.setup_seconds * 1e3,
        thousands_int(operation.logins.len() as u64),
    )
}

/// The report's sentence on what `identity_credentials` did.
pub fn credentials_run_note(operation: &IdentityCredentials) -> String {
    let (users, distinct) = operation.identities_seen();
    format!(
        "`identity_credentials`: GetId named an identity for {} of the {} users, {} distinct identities, and never another one for a user already seen; each user's first GetId (the check's included) created its identity and linked its login, every later one found it, so at most {} of the {} operations started (the first round through the users, at the start of the warm-up) wrote anything. An operation counts only when both requests answer 200 and GetCredentialsForIdentity names the identity GetId returned, with Credentials holding an AccessKeyId starting with ASIA, a SecretKey, a SessionToken and an Expiration.",
        thousands_int(users as u64),
        thousands_int(operation.logins.len() as u64),
        thousands_int(distinct as u64),
        thousands_int(operation.logins.len() as u64),
        thousands_int(operation.next.load(Ordering::Relaxed)),
    )
}

/// One `identity_guest_credentials` operation: a new guest and its credentials.
pub struct GuestCredentials {
    endpoint: Endpoint,
    pub identity_pool_id: String,
    get_id: Vec<u8>,
    /// Guest identities GetId created (the check's and the warm-up's included).
    created: AtomicU64,
    pub setup_seconds: f64,
}

impl Operation for GuestCredentials {
    async fn once(&self, conn: &mut Conn) -> std::result::Result<(), String> {
        expect_ok(conn, &self.get_id)
            .await
            .map_err(|kind| format!("GetId: {kind}"))?;
        let identity_id = identity_id_of(conn.body())?;
        self.created.fetch_add(1, Ordering::Relaxed);
        let request = self.endpoint.identity_public(
            "GetCredentialsForIdentity",
            credentials_body(&identity_id, None).as_bytes(),
        );
        expect_ok(conn, &request)
            .await
            .map_err(|kind| format!("GetCredentialsForIdentity: {kind}"))?;
        check_credentials(conn.body(), &identity_id)
    }
}

/// Creates the identity pool of `identity_guest_credentials`: guests allowed, no provider,
/// [`GUEST_ROLE`] as the unauthenticated role; then runs one operation.
pub async fn prepare_guests(endpoint: &Endpoint) -> Result<Prepared<GuestCredentials>> {
    let started = Instant::now();
    let mut conn = Conn::new(endpoint.addr);
    let created = create_identity_pool(
        &mut conn,
        endpoint,
        json!({
            "IdentityPoolName": GUEST_POOL_NAME,
            "AllowUnauthenticatedIdentities": true,
        }),
        json!({ "unauthenticated": GUEST_ROLE }),
    )
    .await;
    let identity_pool_id = match prepared(created)? {
        Prepared::Ready(id) => id,
        Prepared::Unsupported(reason) => return Ok(Prepared::Unsupported(reason)),
    };
    let body = json!({ "IdentityPoolId": identity_pool_id }).to_string();
    let mut operation = GuestCredentials {
        get_id: endpoint.identity_public("GetId", body.as_bytes()),
        endpoint: endpoint.clone(),
        identity_pool_id,
        created: AtomicU64::new(0),
        setup_seconds: 0.0,
    };
    if let Some(reason) = check(&operation, &mut conn, "identity_guest_credentials").await? {
        return Ok(Prepared::Unsupported(reason));
    }
    operation.setup_seconds = started.elapsed().as_secs_f64();
    Ok(Prepared::Ready(operation))
}

/// The report's sentence on the setup of `identity_guest_credentials`.
pub fn guests_setup_note(operation: &GuestCredentials) -> String {
    format!(
        "Setup for `identity_guest_credentials`: identity pool {} (CreateIdentityPool, signed as above) with AllowUnauthenticatedIdentities true and no provider, then SetIdentityPoolRoles with the unauthenticated role {GUEST_ROLE} (undeclared: built-in credentials, no policy), and one check operation: {:.0} ms.",
        operation.identity_pool_id,
        operation.setup_seconds * 1e3,
    )
}

/// The report's sentence on what `identity_guest_credentials` did.
pub fn guests_run_note(operation: &GuestCredentials) -> String {
    format!(
        "`identity_guest_credentials`: every GetId created a guest identity (one row written), {} in all with the check and the warm-up; GetCredentialsForIdentity then reads it back. An operation counts only when both requests answer 200 and the second names that identity, with Credentials holding an AccessKeyId starting with ASIA, a SecretKey, a SessionToken and an Expiration.",
        thousands_int(operation.created.load(Ordering::Relaxed)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_user_pool_as_cognito_does() {
        assert_eq!(
            user_pool_provider("eu-west-1_AbCdEf123"),
            "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
        );
    }

    #[test]
    fn reads_identities_and_credentials() {
        let id = "us-east-1:0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
        assert_eq!(
            identity_id_of(format!(r#"{{"IdentityId":"{id}"}}"#).as_bytes()).as_deref(),
            Ok(id)
        );
        assert!(identity_id_of(br#"{"IdentityId":""}"#).is_err());
        assert!(identity_id_of(b"<html>").is_err());

        let answer = |identity: &str, key: &str| {
            json!({
                "IdentityId": identity,
                "Credentials": {
                    "AccessKeyId": key,
                    "SecretKey": "s",
                    "SessionToken": "t",
                    "Expiration": 1_700_000_000,
                },
            })
            .to_string()
        };
        assert_eq!(
            check_credentials(answer(id, "ASIAABCDEFGHIJKLMNOP").as_bytes(), id),
            Ok(())
        );
        assert_eq!(
            check_credentials(answer(id, "AKIAABCDEFGHIJKLMNOP").as_bytes(), id),
            Err("Credentials.AccessKeyId does not start with ASIA".into())
        );
        assert_eq!(
            check_credentials(answer("us-east-1:other", "ASIAX").as_bytes(), id),
            Err("GetCredentialsForIdentity named another identity".into())
        );
        let no_token = json!({
            "IdentityId": id,
            "Credentials": { "AccessKeyId": "ASIAX", "SecretKey": "s", "Expiration": 1 },
        })
        .to_string();
        assert!(check_credentials(no_token.as_bytes(), id).is_err());
        assert!(check_credentials(format!(r#"{{"IdentityId":"{id}"}}"#).as_bytes(), id).is_err());
    }

    #[test]
    fn builds_the_credentials_request_body() {
        let logins =
            json!({ "cognito-idp.us-east-1.amazonaws.com/us-east-1_X": "a.b.c" }).to_string();
        let body = credentials_body("us-east-1:1", Some(&logins));
        let parsed: Value = serde_json::from_str(&body).unwrap_or_default();
        assert_eq!(
            parsed,
            json!({
                "IdentityId": "us-east-1:1",
                "Logins": { "cognito-idp.us-east-1.amazonaws.com/us-east-1_X": "a.b.c" },
            })
        );
        assert_eq!(
            credentials_body("us-east-1:\"q", None),
            r#"{"IdentityId":"us-east-1:\"q"}"#
        );
    }
}
