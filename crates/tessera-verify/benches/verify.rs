//! Verifications per second on one core, warm cache, one Cognito-shaped RS256 access token:
//!
//! - `tessera_verify`: `Verifier::verify` (every check, claims returned), run with
//!   `block_on` on a current-thread tokio runtime (includes ~0.2 µs of `block_on` itself);
//! - `tessera_verify_in_task`: the same future polled once, as it is inside a handler that
//!   awaits it (a warm cache never suspends);
//! - `aws_lc_rs_parsed_key`: the raw RSA-2048 PKCS#1 v1.5 SHA-256 verification of the same
//!   token's signing input with a pre-parsed aws-lc-rs key (the floor: no base64, no JSON);
//! - `aws_lc_rs_unparsed_key`: the same, building the key from `n`/`e` on every call (what
//!   a verifier that does not cache parsed keys pays);
//! - `jsonwebtoken`: `jsonwebtoken::decode` (aws-lc-rs backend) with RS256, issuer and exp
//!   validation, into a `serde_json::Value`.
//!
//! `cargo bench -p tessera-verify --bench verify`

use std::time::Duration;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    KeyPair as _, RsaKeyPair, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use std::hint::black_box;
use tessera_verify::{Issuer, TokenUse, Verifier};

const ISS: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Bench0001";
const CLIENT: &str = "benchclient00000000000001";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn bench(c: &mut Criterion) {
    let pair = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let components = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
    let (n, e) = (b64(&components.n), b64(&components.e));
    let kid = "bDj2nB3GpS6l7Vb8iVYt1N8jE4v5Zr8G2wJbXk0Hq1Y=";
    let jwks =
        json!({"keys": [{"alg": "RS256", "e": e, "kid": kid, "kty": "RSA", "n": n, "use": "sig"}]});

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "sub": "7f1a7c1e-5d1b-4a55-9b3e-1b2a3c4d5e6f", "iss": ISS, "client_id": CLIENT,
        "origin_jti": "0d6cbbf2-7f4c-4a4a-9a59-4f7a4c1b8e21",
        "event_id": "a3b0d7a6-7c0e-4bda-8d0f-0c8f3b0a9c11", "token_use": "access",
        "scope": "aws.cognito.signin.user.admin", "auth_time": now, "exp": now + 86_400,
        "iat": now, "jti": "3f0b6b1c-2e1d-4c0f-b6a4-2a3c6f5e9d10", "username": "alice",
        "cognito:groups": ["admin"]
    });
    let signing_input = format!(
        "{}.{}",
        b64(json!({"kid": kid, "alg": "RS256"}).to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signature = vec![0; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    let token = format!("{signing_input}.{}", b64(&signature));

    // Warm cache: the keys are preloaded and never go stale during the run.
    let verifier = Verifier::builder()
        .issuer(
            Issuer::cognito("us-east-1", "us-east-1_Bench0001")
                .with_jwks_uri("http://127.0.0.1:9/jwks.json")
                .with_jwks(jwks.to_string()),
        )
        .token_use(TokenUse::Access)
        .client_id(CLIENT)
        .jwks_refresh_interval(Duration::from_secs(86_400))
        .build()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(verifier.verify(&token)).unwrap();

    let parsed = PublicKeyComponents {
        n: components.n.as_slice(),
        e: components.e.as_slice(),
    }
    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    parsed
        .verify_sig(signing_input.as_bytes(), &signature)
        .unwrap();

    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_components(&n, &e).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[ISS]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(&token, &jwt_key, &validation).unwrap();

    let mut group = c.benchmark_group("verify_rs256_2048");
    group.throughput(Throughput::Elements(1));
    group.bench_function("tessera_verify", |b| {
        b.iter(|| {
            runtime
                .block_on(verifier.verify(black_box(&token)))
                .unwrap()
        })
    });
    group.bench_function("tessera_verify_in_task", |b| {
        b.iter(|| poll_once(verifier.verify(black_box(&token))).unwrap())
    });
    group.bench_function("aws_lc_rs_parsed_key", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                .unwrap()
        })
    });
    group.bench_function("aws_lc_rs_unparsed_key", |b| {
        b.iter(|| {
            PublicKeyComponents {
                n: components.n.as_slice(),
                e: components.e.as_slice(),
            }
            .verify(
                &RSA_PKCS1_2048_8192_SHA256,
                black_box(signing_input.as_bytes()),
                black_box(&signature),
            )
            .unwrap()
        })
    });
    group.bench_function("jsonwebtoken", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &jwt_key, &validation)
                .unwrap()
        })
    });
    group.finish();
}

/// Polls a future that is expected to complete without waiting.
fn poll_once<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("the warm-cache verification waited"),
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .sample_size(50);
    targets = bench
}
criterion_main!(benches);
