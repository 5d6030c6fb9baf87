//! An API that trusts tessera (or Amazon Cognito) bearer tokens: the Rust counterpart of
//! the classic FastAPI backend that checks Cognito tokens against the pool's JWKS.
//!
//! ```sh
//! cargo run -p tessera-verify --example service -- \
//!     --tessera-url http://127.0.0.1:9229 --pool-id us-east-1_Example01 \
//!     --client-id devclient0000000000000001
//! ```
//!
//! Issuer options (one of):
//!   --tessera-url URL --pool-id ID   a tessera pool (issuer URL/ID)
//!   --region R --pool-id ID          an Amazon Cognito pool
//!   --issuer URL                     any OpenID Connect issuer (JWKS found by discovery)
//! Other options:
//!   --client-id ID      accepted app client (repeatable; required)
//!   --token-use USE     access (default), id or either
//!   --listen ADDR       default 127.0.0.1:8000
//!
//! Routes:
//!   GET /api/public      no token needed
//!   GET /api/greeting    token optional (a bad token is still refused)
//!   GET /api/private     any valid token; answers with the caller's claims
//!   GET /api/admin/stats valid token of a user in the `admin` group (403 otherwise)

use std::process::ExitCode;

use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{json, Value};
use tessera_verify::axum::AuthLayer;
use tessera_verify::{Claims, Issuer, TokenUse, Verifier};

async fn public() -> Json<Value> {
    Json(json!({
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
    }))
}

async fn greeting(claims: Option<Claims>) -> Json<Value> {
    let name = claims
        .as_ref()
        .and_then(|c| c.username().map(str::to_owned))
        .unwrap_or_else(|| "stranger".into());
    Json(json!({ "message": format!("Hello, {name}!") }))
}

async fn private(claims: Claims) -> Json<Value> {
    Json(json!({
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "sub": claims.sub(),
        "username": claims.username(),
        "token_use": claims.token_use(),
        "client_id": claims.client_id(),
        "scopes": claims.scopes().collect::<Vec<_>>(),
        "groups": claims.groups().collect::<Vec<_>>(),
        "expires_at": claims.expires_at(),
    }))
}

async fn admin_stats(claims: Claims) -> Json<Value> {
    Json(json!({
        "message": "Hello from an admin endpoint! You need to be in the admin group to see this.",
        "username": claims.username(),
    }))
}

/// The application: the verifier is an extension (for the `Claims` extractor) and the
/// admin routes sit behind `AuthLayer` with a group requirement.
fn app(verifier: Verifier) -> Router {
    let admin = Router::new()
        .route("/stats", get(admin_stats))
        .layer(AuthLayer::new(verifier.clone()).require_any_group(["admin"]));
    Router::new()
        .route("/api/public", get(public))
        .route("/api/greeting", get(greeting))
        .route("/api/private", get(private))
        .nest("/api/admin", admin)
        .layer(Extension(verifier))
}

struct Args {
    issuer: Issuer,
    client_ids: Vec<String>,
    token_use: TokenUse,
    listen: String,
}

fn parse_args() -> Result<Args, String> {
    let mut tessera_url = None;
    let mut region = None;
    let mut pool_id = None;
    let mut issuer = None;
    let mut client_ids = Vec::new();
    let mut token_use = TokenUse::Access;
    let mut listen = "127.0.0.1:8000".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--tessera-url" => tessera_url = Some(value()?),
            "--region" => region = Some(value()?),
            "--pool-id" => pool_id = Some(value()?),
            "--issuer" => issuer = Some(value()?),
            "--client-id" => client_ids.push(value()?),
            "--listen" => listen = value()?,
            "--token-use" => {
                token_use = match value()?.as_str() {
                    "access" => TokenUse::Access,
                    "id" => TokenUse::Id,
                    "either" => TokenUse::Either,
                    other => return Err(format!("--token-use {other}: use access, id or either")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let issuer = match (tessera_url, region, pool_id, issuer) {
        (Some(url), None, Some(pool), None) => Issuer::tessera(&url, &pool),
        (None, Some(region), Some(pool), None) => Issuer::cognito(&region, &pool),
        (None, None, None, Some(issuer)) => Issuer::discover(issuer),
        _ => {
            return Err(
                "give --tessera-url and --pool-id, or --region and --pool-id, or --issuer".into(),
            )
        }
    };
    if client_ids.is_empty() {
        return Err("give at least one --client-id".into());
    }
    Ok(Args {
        issuer,
        client_ids,
        token_use,
        listen,
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber_init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("service: {message}");
            return ExitCode::from(2);
        }
    };
    let issuer = args.issuer.issuer().to_owned();
    let verifier = match Verifier::builder()
        .issuer(args.issuer)
        .client_ids(args.client_ids)
        .token_use(args.token_use)
        .build()
    {
        Ok(verifier) => verifier,
        Err(error) => {
            eprintln!("service: {error}");
            return ExitCode::from(2);
        }
    };
    // Load the keys now so the first request does not wait (not fatal: the verifier
    // retries on demand).
    if let Err(error) = verifier.refresh_keys().await {
        eprintln!("service: warning: {error}");
    }
    let listener = match tokio::net::TcpListener::bind(&args.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("service: binding {}: {error}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "service: trusting {issuer}; listening on http://{}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    if let Err(error) = axum::serve(listener, app(verifier)).await {
        eprintln!("service: {error}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Logs to stderr; `RUST_LOG=tessera_verify=debug` shows why each token was refused.
fn tracing_subscriber_init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
