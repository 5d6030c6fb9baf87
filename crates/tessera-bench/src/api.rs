//! The Cognito wire protocol as the bench speaks it: serialised AWS JSON 1.1 requests (public,
//! or SigV4-signed with the root key), and the setup of a pool, a client and signed-in users.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};

use crate::http::Conn;
use crate::util::{amz_date, Context, Result};

/// The region and service tessera answers as by default.
pub const REGION: &str = "us-east-1";
const SERVICE: &str = "cognito-idp";
const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// How long one setup call may take (a password set costs the server an argon2id hash and an
/// SRP verifier; this is generous even on a loaded machine).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A password that satisfies the default pool password policy.
pub const PASSWORD: &str = "Bench-Passw0rd!";

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
        let mut request = Vec::with_capacity(body.len() + 256);
        request.extend_from_slice(
            format!(
                "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: {CONTENT_TYPE}\r\nX-Amz-Target: {TARGET_PREFIX}{operation}\r\nContent-Length: {}\r\n\r\n",
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
        let date = amz_date(SystemTime::now());
        let target = format!("{TARGET_PREFIX}{operation}");
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
            SERVICE,
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

    /// A `GET` of a path, such as a pool's JWKS.
    pub fn get(&self, path: &str) -> Vec<u8> {
        format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\r\n",
            self.host
        )
        .into_bytes()
    }
}

/// The error name of a failed response: the `__type` of an AWS JSON error without its
/// namespace, or the HTTP status when the body has none.
pub fn error_kind(status: u16, body: &[u8]) -> String {
    if let Some(kind) = error_type(body) {
        return kind;
    }
    format!("HTTP {status}")
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

/// A user the scenarios sign in as, with the tokens of one sign-in.
pub struct BenchUser {
    pub username: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// What the scenarios run against.
pub struct Fixture {
    pub pool_id: String,
    pub client_id: String,
    pub users: Vec<BenchUser>,
}

/// Creates the pool, the client and `users` users with permanent passwords, and signs each in
/// once with USER_PASSWORD_AUTH. `parallel` connections share the work (each user costs the
/// server two argon2id computations, so more than a few per core gains nothing).
pub async fn prepare(endpoint: &Endpoint, users: usize, parallel: usize) -> Result<Fixture> {
    let mut conn = Conn::new(endpoint.addr);
    let pool = call(
        &mut conn,
        "CreateUserPool",
        &endpoint.signed(
            "CreateUserPool",
            json!({ "PoolName": "tessera-bench" })
                .to_string()
                .as_bytes(),
        )?,
    )
    .await?;
    let pool_id = pool
        .pointer("/UserPool/Id")
        .and_then(Value::as_str)
        .context("CreateUserPool returned no UserPool.Id")?
        .to_owned();
    let client = call(
        &mut conn,
        "CreateUserPoolClient",
        &endpoint.signed(
            "CreateUserPoolClient",
            json!({
                "UserPoolId": pool_id,
                "ClientName": "tessera-bench",
                "ExplicitAuthFlows": [
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH"
                ],
            })
            .to_string()
            .as_bytes(),
        )?,
    )
    .await?;
    let client_id = client
        .pointer("/UserPoolClient/ClientId")
        .and_then(Value::as_str)
        .context("CreateUserPoolClient returned no UserPoolClient.ClientId")?
        .to_owned();

    let next = Arc::new(AtomicUsize::new(0));
    let shared = Arc::new((endpoint.clone(), pool_id.clone(), client_id.clone()));
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
    Ok(Fixture {
        pool_id,
        client_id,
        users: all.into_iter().map(|(_, user)| user).collect(),
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
    call(
        conn,
        "AdminCreateUser",
        &endpoint.signed(
            "AdminCreateUser",
            json!({ "UserPoolId": pool_id, "Username": username, "MessageAction": "SUPPRESS" })
                .to_string()
                .as_bytes(),
        )?,
    )
    .await?;
    call(
        conn,
        "AdminSetUserPassword",
        &endpoint.signed(
            "AdminSetUserPassword",
            json!({
                "UserPoolId": pool_id,
                "Username": username,
                "Password": PASSWORD,
                "Permanent": true,
            })
            .to_string()
            .as_bytes(),
        )?,
    )
    .await?;
    let signed_in = call(
        conn,
        "InitiateAuth",
        &endpoint.public(
            "InitiateAuth",
            password_auth_body(client_id, &username).as_bytes(),
        ),
    )
    .await?;
    let token = |name: &str| {
        signed_in
            .pointer(&format!("/AuthenticationResult/{name}"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context(format!(
                "InitiateAuth USER_PASSWORD_AUTH for {username} returned no {name}: {signed_in}"
            ))
    };
    Ok(BenchUser {
        access_token: token("AccessToken")?,
        refresh_token: token("RefreshToken")?,
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
    }
}
