//! The Cognito wire protocol as the bench speaks it: serialised AWS JSON 1.1 requests of the
//! user-pool API and of the identity-pool API (public, or SigV4-signed with the root key),
//! form-encoded OAuth token requests, and the setup of a pool, a client, signed-in users and,
//! when asked, a machine client with custom scopes.

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::http::Conn;
use crate::util::{amz_date, Context, Result};

/// The region and service tessera answers as by default.
pub const REGION: &str = "us-east-1";
const SERVICE: &str = "cognito-idp";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
/// The identity-pool API (Cognito Identity): its SigV4 service name and target prefix.
const IDENTITY_SERVICE: &str = "cognito-identity";
const IDENTITY_TARGET_PREFIX: &str = "AWSCognitoIdentityService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How long one setup call may take (a password set costs the server an argon2id hash and an
/// SRP verifier; this is generous even on a loaded machine).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A password that satisfies the default pool password policy.
pub const PASSWORD: &str = "Bench-Passw0rd!";

/// The resource server the machine client's custom scopes belong to, and those scopes.
pub const RESOURCE_SERVER: &str = "https://api.tessera-bench.example";
pub const RESOURCE_SCOPES: [&str; 2] = ["read", "write"];

/// Where the server is and how to sign administrative calls.
#[derive(Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `Host` header value, `127.0.0.1:port`.
    pub host: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl Endpoint {
    /// An unsigned `POST /` for a public operation (SignUp, InitiateAuth, GetUser, ...).
    pub fn public(&self, operation: &str, body: &[u8]) -> Vec<u8> {
        self.unsigned(TARGET_PREFIX, operation, body)
    }

    /// An unsigned `POST /` for a public operation of the identity-pool API (GetId,
    /// GetCredentialsForIdentity, GetOpenIdToken, UnlinkIdentity).
    pub fn identity_public(&self, operation: &str, body: &[u8]) -> Vec<u8> {
        self.unsigned(IDENTITY_TARGET_PREFIX, operation, body)
    }

    fn unsigned(&self, prefix: &str, operation: &str, body: &[u8]) -> Vec<u8> {
        let mut request = Vec::with_capacity(body.len() + 256);
        request.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Target: {prefix}{operation}\r\nContent-Length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body);
        request
    }

    /// A `POST /` signed with the root key, as the AWS SDKs sign administrative calls.
    pub fn signed(&self, operation: &str, body: &[u8]) -> Result<Vec<u8>> {
        self.signed_for(SERVICE, TARGET_PREFIX, operation, body)
    }

    /// An administrative call of the identity-pool API (CreateIdentityPool, ...), signed with
    /// the root key for the service `cognito-identity`.
    pub fn identity_signed(&self, operation: &str, body: &[u8]) -> Result<Vec<u8>> {
        self.signed_for(IDENTITY_SERVICE, IDENTITY_TARGET_PREFIX, operation, body)
    }

    fn signed_for(
        &self,
        service: &str,
        prefix: &str,
        operation: &str,
        body: &[u8],
    ) -> Result<Vec<u8>> {
        let date = amz_date(SystemTime::now());
        let target = format!("{prefix}{operation}");
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: &str| -> Result<()> {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(value).context("header value")?,
            );
            Ok(())
        };
        put("host", &self.host)?;
        put("x-amz-date", &date)?;
        put("x-amz-target", &target)?;
        put("content-type", CONTENT_TYPE)?;
        let authorization = tessera_sigv4::authorization_header(
            &tessera_sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &headers,
                body,
            },
            &self.access_key_id,
            &self.secret_access_key,
            REGION,
            service,
            &["host", "x-amz-date", "x-amz-target", "content-type"],
        )
        .context("signing the request")?;
        let mut request = Vec::with_capacity(body.len() + 512);
        request.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Target: {target}\r\nX-Amz-Date: {date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\n\r\n",
                self.host,
                body.len()
            )
            .as_bytes(),
        );
        request.extend_from_slice(body);
        Ok(request)
    }

    /// A form-encoded `POST` of an OAuth endpoint (`/<pool>/oauth2/token`), the client
    /// authenticated with HTTP Basic (`client_secret_basic`).
    pub fn form_post(&self, path: &str, authorization: &str, body: &str) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: {authorization}\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )
        .into_bytes()
    }

    /// The client_credentials token request of the machine client, asking for all its scopes.
    pub fn client_credentials(&self, pool_id: &str, machine: &MachineClient) -> Vec<u8> {
        self.form_post(
            &format!("/{pool_id}/oauth2/token"),
            &basic_authorization(&machine.client_id, &machine.secret),
            &format!(
                "grant_type=client_credentials&scope={}",
                form_urlencode(&machine.scope)
            ),
        )
    }

    /// A `GET` of a path, such as a pool's JWKS.
    pub fn get(&self, path: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            self.host
        )
        .into_bytes()
    }
}

/// `Basic base64(urlencode(client_id):urlencode(secret))`, as RFC 6749 §2.3.1 has a client
/// send its credentials.
pub fn basic_authorization(client_id: &str, secret: &str) -> String {
    let raw = format!("{}:{}", form_urlencode(client_id), form_urlencode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Percent-encodes everything but the unreserved characters (RFC 3986 §2.3), which is valid
/// both in a form body and in the Basic credentials of RFC 6749 §2.3.1.
pub fn form_urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The error name of a failed response: the `__type` of an AWS JSON error without its
/// namespace, the `error` of an OAuth (RFC 6749) error with the status, or the HTTP status
/// when the body has neither.
pub fn error_kind(status: u16, body: &[u8]) -> String {
    if let Some(kind) = error_type(body) {
        return kind;
    }
    if let Some(error) = oauth_error(body) {
        return format!("{error} (HTTP {status})");
    }
    format!("HTTP {status}")
}

fn oauth_error(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value.get("error")?.as_str().map(str::to_owned)
}

fn error_type(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"__type\"")? + "\"__type\"".len();
    let rest = text
        .get(start..)?
        .trim_start()
        .strip_prefix(':')?
        .trim_start();
    let rest = rest.strip_prefix('"')?;
    let value = rest.get(..rest.find('"')?)?;
    Some(value.rsplit('#').next().unwrap_or(value).to_owned())
}

/// Sends a request and decodes a 200 answer as JSON; anything else is an error that names the
/// operation and quotes the server's answer.
pub async fn call(conn: &mut Conn, operation: &str, request: &[u8]) -> Result<Value> {
    let status = tokio::time::timeout(CALL_TIMEOUT, conn.send(request))
        .await
        .context(format!(
            "{operation}: no answer within {} s",
            CALL_TIMEOUT.as_secs()
        ))?
        .context(format!("{operation}: request failed"))?;
    let body = conn.body();
    if status != 200 {
        return Err(format!(
            "{operation} answered HTTP {status}: {}",
            String::from_utf8_lossy(body)
        ));
    }
    serde_json::from_slice(body).context(format!("{operation}: response is not JSON"))
}

/// [`call`]s an administrative operation, the request signed with the root key.
pub async fn call_signed(
    conn: &mut Conn,
    endpoint: &Endpoint,
    operation: &str,
    body: impl AsRef<[u8]>,
) -> Result<Value> {
    call(conn, operation, &endpoint.signed(operation, body.as_ref())?).await
}

/// [`call`]s an administrative operation of the identity-pool API, signed with the root key
/// for `cognito-identity`.
pub async fn call_identity_signed(
    conn: &mut Conn,
    endpoint: &Endpoint,
    operation: &str,
    body: impl AsRef<[u8]>,
) -> Result<Value> {
    call(
        conn,
        operation,
        &endpoint.identity_signed(operation, body.as_ref())?,
    )
    .await
}

/// Signs `username` in with InitiateAuth USER_PASSWORD_AUTH and the bench's password.
pub async fn sign_in(
    conn: &mut Conn,
    endpoint: &Endpoint,
    client_id: &str,
    username: &str,
) -> Result<Value> {
    call(
        conn,
        "InitiateAuth",
        &endpoint.public(
            "InitiateAuth",
            password_auth_body(client_id, username).as_bytes(),
        ),
    )
    .await
}

/// The string at `pointer` (such as `/UserPool/Id`) in an answer; when there is none, the
/// error is `missing`, which says what was asked and what came back.
pub fn string_at<'a>(answer: &'a Value, pointer: &str, missing: impl Display) -> Result<&'a str> {
    answer
        .pointer(pointer)
        .and_then(Value::as_str)
        .context(missing)
}

/// A user the scenarios sign in as, with the tokens of one sign-in.
pub struct BenchUser {
    pub username: String,
    pub access_token: String,
    pub refresh_token: String,
    /// What `identity_credentials` presents in `Logins`.
    pub id_token: String,
}

/// A confidential app client allowed the client_credentials grant.
pub struct MachineClient {
    pub client_id: String,
    pub secret: String,
    /// The scopes it asks for, space-separated: every custom scope of [`RESOURCE_SERVER`].
    pub scope: String,
}

/// What the scenarios run against.
pub struct Fixture {
    pub pool_id: String,
    pub client_id: String,
    pub users: Vec<BenchUser>,
    /// The machine client of the client_credentials scenario, when it runs.
    pub machine: Option<MachineClient>,
}

/// Creates a pool with the CreateUserPool request `pool`, and an app client in it with the
/// CreateUserPoolClient request `client` makes of the new pool's id, both calls signed with
/// the root key. The fixture has no users and no machine client yet.
pub async fn create_pool_and_client(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool: Value,
    client: impl FnOnce(&str) -> Value,
) -> Result<Fixture> {
    let created = call_signed(conn, endpoint, "CreateUserPool", pool.to_string()).await?;
    let pool_id = string_at(
        &created,
        "/UserPool/Id",
        "CreateUserPool returned no UserPool.Id",
    )?
    .to_owned();
    let created = call_signed(
        conn,
        endpoint,
        "CreateUserPoolClient",
        client(&pool_id).to_string(),
    )
    .await?;
    let client_id = string_at(
        &created,
        "/UserPoolClient/ClientId",
        "CreateUserPoolClient returned no UserPoolClient.ClientId",
    )?
    .to_owned();
    Ok(Fixture {
        pool_id,
        client_id,
        users: Vec::new(),
        machine: None,
    })
}

/// Creates the pool, the client and `users` users with permanent passwords, and signs each in
/// once with USER_PASSWORD_AUTH. `parallel` connections share the work (each user costs the
/// server two argon2id computations, so more than a few per core gains nothing). With
/// `machine`, also a resource server and a machine client (see [`create_machine_client`]).
pub async fn prepare(
    endpoint: &Endpoint,
    users: usize,
    parallel: usize,
    machine: bool,
) -> Result<Fixture> {
    let mut conn = Conn::new(endpoint.addr);
    let mut fixture = create_pool_and_client(
        &mut conn,
        endpoint,
        json!({ "PoolName": "tessera-bench" }),
        |pool_id| {
            json!({
                "UserPoolId": pool_id,
                "ClientName": "tessera-bench",
                "ExplicitAuthFlows": [
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH"
                ],
            })
        },
    )
    .await?;
    if machine {
        fixture.machine = Some(create_machine_client(&mut conn, endpoint, &fixture.pool_id).await?);
    }
    add_users(endpoint, &mut fixture, users, parallel).await?;
    Ok(fixture)
}

/// Creates `users` users with permanent passwords in the fixture's pool (`bench-user-00000`
/// and on), signs each in once with USER_PASSWORD_AUTH through the fixture's client and adds
/// them to the fixture, on `parallel` connections.
pub async fn add_users(
    endpoint: &Endpoint,
    fixture: &mut Fixture,
    users: usize,
    parallel: usize,
) -> Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new((
        endpoint.clone(),
        fixture.pool_id.clone(),
        fixture.client_id.clone(),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel.clamp(1, users.max(1)) {
        let next = next.clone();
        let shared = shared.clone();
        tasks.spawn(async move {
            let (endpoint, pool_id, client_id) = &*shared;
            let mut conn = Conn::new(endpoint.addr);
            let mut made = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= users {
                    return Ok::<_, String>(made);
                }
                let user = create_user(&mut conn, endpoint, pool_id, client_id, index).await?;
                made.push((index, user));
            }
        });
    }
    let mut all = Vec::with_capacity(users);
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("setup task")??);
    }
    all.sort_by_key(|(index, _)| *index);
    fixture.users = all.into_iter().map(|(_, user)| user).collect();
    Ok(())
}

/// Runs `one` for every index below `count` on `parallel` connections to `addr` (each call
/// gets a connection and gives it back with its result) and returns the results in index
/// order; the first error ends the setup.
pub async fn in_parallel<T, F, Fut>(
    addr: SocketAddr,
    count: usize,
    parallel: usize,
    one: F,
) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Conn, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = (Conn, Result<T>)> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let one = Arc::new(one);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..parallel.clamp(1, count.max(1)) {
        let next = next.clone();
        let one = one.clone();
        tasks.spawn(async move {
            let mut conn = Conn::new(addr);
            let mut made = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= count {
                    return Ok::<_, String>(made);
                }
                let (back, result) = one(conn, index).await;
                conn = back;
                made.push((index, result?));
            }
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(joined) = tasks.join_next().await {
        all.extend(joined.context("setup task")??);
    }
    all.sort_by_key(|(index, _)| *index);
    Ok(all.into_iter().map(|(_, made)| made).collect())
}

/// Creates the resource server [`RESOURCE_SERVER`] with [`RESOURCE_SCOPES`], and a client with
/// a generated secret allowed the client_credentials flow and both scopes.
async fn create_machine_client(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool_id: &str,
) -> Result<MachineClient> {
    call_signed(
        conn,
        endpoint,
        "CreateResourceServer",
        json!({
            "UserPoolId": pool_id,
            "Identifier": RESOURCE_SERVER,
            "Name": "tessera-bench-api",
            "Scopes": RESOURCE_SCOPES
                .iter()
                .map(|name| json!({ "ScopeName": name, "ScopeDescription": format!("{name} things") }))
                .collect::<Vec<_>>(),
        })
        .to_string(),
    )
    .await?;
    let scopes: Vec<String> = RESOURCE_SCOPES
        .iter()
        .map(|name| format!("{RESOURCE_SERVER}/{name}"))
        .collect();
    let client = call_signed(
        conn,
        endpoint,
        "CreateUserPoolClient",
        json!({
            "UserPoolId": pool_id,
            "ClientName": "tessera-bench-machine",
            "GenerateSecret": true,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": scopes,
            "AllowedOAuthFlowsUserPoolClient": true,
        })
        .to_string(),
    )
    .await?;
    let field = |name: &str| {
        string_at(
            &client,
            &format!("/UserPoolClient/{name}"),
            format_args!("CreateUserPoolClient (machine client) returned no UserPoolClient.{name}"),
        )
        .map(str::to_owned)
    };
    Ok(MachineClient {
        client_id: field("ClientId")?,
        secret: field("ClientSecret")?,
        scope: scopes.join(" "),
    })
}

async fn create_user(
    conn: &mut Conn,
    endpoint: &Endpoint,
    pool_id: &str,
    client_id: &str,
    index: usize,
) -> Result<BenchUser> {
    let username = format!("bench-user-{index:05}");
    call_signed(
        conn,
        endpoint,
        "AdminCreateUser",
        json!({ "UserPoolId": pool_id, "Username": username, "MessageAction": "SUPPRESS" })
            .to_string(),
    )
    .await?;
    call_signed(
        conn,
        endpoint,
        "AdminSetUserPassword",
        json!({
            "UserPoolId": pool_id,
            "Username": username,
            "Password": PASSWORD,
            "Permanent": true,
        })
        .to_string(),
    )
    .await?;
    let signed_in = sign_in(conn, endpoint, client_id, &username).await?;
    let token = |name: &str| {
        string_at(
            &signed_in,
            &format!("/AuthenticationResult/{name}"),
            format_args!(
                "InitiateAuth USER_PASSWORD_AUTH for {username} returned no {name}: {signed_in}"
            ),
        )
        .map(str::to_owned)
    };
    Ok(BenchUser {
        access_token: token("AccessToken")?,
        refresh_token: token("RefreshToken")?,
        id_token: token("IdToken")?,
        username,
    })
}

pub fn password_auth_body(client_id: &str, username: &str) -> String {
    json!({
        "AuthFlow": "USER_PASSWORD_AUTH",
        "ClientId": client_id,
        "AuthParameters": { "USERNAME": username, "PASSWORD": PASSWORD },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_errors_by_their_type() {
        let body =
            br#"{"__type":"NotAuthorizedException","message":"Incorrect username or password."}"#;
        assert_eq!(error_kind(400, body), "NotAuthorizedException");
        let body = br#"{"message":"x", "__type" : "com.amazonaws#InternalErrorException"}"#;
        assert_eq!(error_kind(500, body), "InternalErrorException");
        assert_eq!(error_kind(502, b"<html>"), "HTTP 502");
        let body =
            br#"{"error":"invalid_client","error_description":"Client authentication failed."}"#;
        assert_eq!(error_kind(401, body), "invalid_client (HTTP 401)");
    }

    #[test]
    fn builds_client_credentials_requests() {
        assert_eq!(form_urlencode("a b/c:d+e~f"), "a%20b%2Fc%3Ad%2Be~f");
        // RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
        assert_eq!(
            basic_authorization("client", "s+cr/t"),
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode("client:s%2Bcr%2Ft")
            )
        );
        let endpoint = Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 9229)),
            host: "127.0.0.1:9229".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
        };
        let machine = MachineClient {
            client_id: "abc".into(),
            secret: "xyz".into(),
            scope: "https://api/read https://api/write".into(),
        };
        let request = endpoint.client_credentials("us-east-1_X", &machine);
        let text = String::from_utf8_lossy(&request);
        let body = "grant_type=client_credentials&scope=https%3A%2F%2Fapi%2Fread%20https%3A%2F%2Fapi%2Fwrite";
        assert!(text.starts_with("POST /us-east-1_X/oauth2/token HTTP/1.1\r\nHost: 127.0.0.1:9229\r\nContent-Type: application/x-www-form-urlencoded\r\n"), "{text}");
        assert!(
            text.contains("\r\nAuthorization: Basic YWJjOnh5eg==\r\n"),
            "{text}"
        );
        assert!(
            text.ends_with(&format!("Content-Length: {}\r\n\r\n{body}", body.len())),
            "{text}"
        );
    }

    #[test]
    fn signs_admin_requests_for_cognito_idp() {
        let endpoint = Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 9229)),
            host: "127.0.0.1:9229".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let request = endpoint.signed("ListUserPools", b"{}").unwrap_or_default();
        let text = String::from_utf8_lossy(&request);
        assert!(text.contains("Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"));
        assert!(text.contains("/us-east-1/cognito-idp/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"));
        assert!(
            text.contains("\r\nX-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools\r\n")
        );
    }

    #[test]
    fn speaks_the_identity_pool_api() {
        let endpoint = Endpoint {
            addr: SocketAddr::from(([127, 0, 0, 1], 9229)),
            host: "127.0.0.1:9229".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
        };
        let request = endpoint
            .identity_signed("CreateIdentityPool", b"{}")
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&request);
        assert!(text.contains("/us-east-1/cognito-identity/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="), "{text}");
        assert!(
            text.contains("\r\nX-Amz-Target: AWSCognitoIdentityService.CreateIdentityPool\r\n"),
            "{text}"
        );
        let request = endpoint.identity_public("GetId", b"{}");
        let text = String::from_utf8_lossy(&request);
        assert_eq!(text, "POST / HTTP/1.1\r\nHost: 127.0.0.1:9229\r\nContent-Type: application/x-amz-json-1.1\r\nX-Amz-Target: AWSCognitoIdentityService.GetId\r\nContent-Length: 2\r\n\r\n{}");
    }
}
