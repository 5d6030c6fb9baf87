//! Verifies one token read from stdin; prints its claims (exit 0) or the failed check
//! (exit 1). Made for scripts and end-to-end suites.
//!
//! ```sh
//! echo "$ACCESS_TOKEN" | cargo run -q -p tessera-verify --example verify_token -- \
//!     --issuer http://127.0.0.1:9229/us-east-1_Example01 --client-id devclient0000000000000001
//! ```
//!
//! Options:
//!   --issuer URL       the exact `iss` (required); keys from URL/.well-known/jwks.json
//!   --jwks-uri URL     fetch the keys from here instead
//!   --discover         find the JWKS through URL/.well-known/openid-configuration
//!   --client-id ID     accepted app client (repeatable), or --any-client
//!   --token-use USE    access, id or either (default either)
//!   --scope S          require a scope (repeatable)
//!   --group G          require membership of one of these groups (repeatable)
//!   --leeway SECS      clock tolerance (default 60)
//!
//! Output on stdout, one JSON document: the claims on success; on failure
//! `{"error": "<VerifyError variant>", "message": "<what failed>"}`. Exit status 0 when
//! the token is valid, 1 when it is refused, 2 for a usage error.

use std::io::Read as _;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use tessera_verify::{Issuer, TokenUse, Verifier};

fn usage(message: &str) -> ExitCode {
    eprintln!("verify_token: {message}");
    eprintln!("usage: verify_token --issuer URL (--client-id ID | --any-client) [--token-use access|id|either] [--jwks-uri URL | --discover] [--scope S] [--group G] [--leeway SECS] < token");
    ExitCode::from(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut issuer = None;
    let mut jwks_uri = None;
    let mut discover = false;
    let mut builder = Verifier::builder().token_use(TokenUse::Either);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = match flag.as_str() {
            "--discover" | "--any-client" => None,
            _ => match args.next() {
                Some(value) => Some(value),
                None => return usage(&format!("{flag} needs a value")),
            },
        };
        let value = value.unwrap_or_default();
        builder = match flag.as_str() {
            "--issuer" => {
                issuer = Some(value);
                builder
            }
            "--jwks-uri" => {
                jwks_uri = Some(value);
                builder
            }
            "--discover" => {
                discover = true;
                builder
            }
            "--any-client" => builder.any_client(),
            "--client-id" => builder.client_id(value),
            "--scope" => builder.require_scope(value),
            "--group" => builder.require_any_group([value]),
            "--leeway" => match value.parse() {
                Ok(secs) => builder.leeway(Duration::from_secs(secs)),
                Err(_) => return usage("--leeway takes whole seconds"),
            },
            "--token-use" => builder.token_use(match value.as_str() {
                "access" => TokenUse::Access,
                "id" => TokenUse::Id,
                "either" => TokenUse::Either,
                _ => return usage("--token-use is access, id or either"),
            }),
            other => return usage(&format!("unknown argument {other}")),
        };
    }
    let Some(issuer) = issuer else {
        return usage("--issuer is required");
    };
    let issuer = match (jwks_uri, discover) {
        (Some(uri), false) => Issuer::new(issuer, uri),
        (None, true) => Issuer::discover(issuer),
        (None, false) => {
            let uri = format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'));
            Issuer::new(issuer, uri)
        }
        (Some(_), true) => return usage("--jwks-uri and --discover exclude each other"),
    };
    let verifier = match builder.issuer(issuer).build() {
        Ok(verifier) => verifier,
        Err(error) => return usage(&error.to_string()),
    };

    let mut token = String::new();
    if let Err(error) = std::io::stdin().read_to_string(&mut token) {
        return usage(&format!("reading stdin: {error}"));
    }
    let token = token.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token);

    match verifier.verify(token).await {
        Ok(claims) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&claims).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            let debug = format!("{error:?}");
            let variant = debug
                .split(|c: char| !c.is_alphanumeric())
                .next()
                .unwrap_or_default();
            println!(
                "{}",
                json!({ "error": variant, "message": error.to_string() })
            );
            eprintln!("verify_token: {error}");
            ExitCode::FAILURE
        }
    }
}
