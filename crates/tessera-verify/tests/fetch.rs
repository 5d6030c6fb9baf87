//! Where keys are fetched from: a discovered `jwks_uri` must be https (plain http only on the
//! own origin of a loopback http issuer), and no discovery or JWKS request follows a redirect.
//! Every server is local: plain http on 127.0.0.1, or https as `issuer.test` resolved to
//! 127.0.0.1 with a self-signed certificate.

mod common;

use std::sync::OnceLock;

use common::*;
use tessera_verify::{FetchError, Issuer, Verifier, VerifyError};

fn key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::rsa("fetch-key"))
}

/// The reason a token of `issuer` was refused, which must be that its keys are unavailable.
async fn fetch_error(verifier: &Verifier, issuer: &str) -> FetchError {
    match verifier.verify(&key().sign(&access_claims(issuer))).await {
        Err(VerifyError::KeysUnavailable { reason, .. }) => reason,
        other => panic!("expected KeysUnavailable, got {other:?}"),
    }
}

fn discovering(issuer: &str, client: Option<reqwest::Client>) -> Verifier {
    let mut builder = Verifier::builder()
        .issuer(Issuer::discover(issuer))
        .client_id(CLIENT);
    if let Some(client) = client {
        builder = builder.http_client(client);
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn an_https_issuer_gets_its_keys_over_https() {
    // The control for the refusal below: the https harness itself works.
    let server = JwksServer::start_tls(jwks(&[key()])).await;
    let verifier = discovering(&server.base, Some(JwksServer::client()));
    verifier
        .verify(&key().sign(&access_claims(&server.base)))
        .await
        .unwrap();
    assert_eq!((server.discoveries(), server.fetches()), (1, 1));
}

#[tokio::test]
async fn an_http_jwks_uri_from_an_https_issuer_is_refused() {
    let issuer = JwksServer::start_tls(jwks(&[key()])).await;
    let cleartext = JwksServer::start(jwks(&[key()])).await;
    issuer.set_discovery_jwks_uri(&cleartext.jwks_uri());
    let verifier = discovering(&issuer.base, Some(JwksServer::client()));
    assert_eq!(
        fetch_error(&verifier, &issuer.base).await,
        FetchError::InsecureJwksUri {
            url: format!("{}/.well-known/openid-configuration", issuer.base),
            jwks_uri: cleartext.jwks_uri(),
        }
    );
    // Not even on the issuer's own host and port.
    let same_host = issuer.base.replacen("https://", "http://", 1) + "/.well-known/jwks.json";
    issuer.set_discovery_jwks_uri(&same_host);
    let verifier = discovering(&issuer.base, Some(JwksServer::client()));
    assert!(matches!(
        fetch_error(&verifier, &issuer.base).await,
        FetchError::InsecureJwksUri { .. }
    ));
    assert_eq!(issuer.discoveries(), 2);
    assert_eq!((issuer.fetches(), cleartext.fetches()), (0, 0));
}

#[tokio::test]
async fn an_http_issuer_off_the_loopback_interface_gets_no_http_keys() {
    // `issuer.test` resolves to 127.0.0.1 only inside the test client: to the verifier it is
    // a host like any other, so the rule sees an http issuer on a non-loopback host.
    let server = JwksServer::start(jwks(&[key()])).await;
    let port = server.base.rsplit(':').next().unwrap();
    let issuer = format!("http://{TLS_HOST}:{port}");
    server.set_discovery_issuer(&issuer);
    let verifier = discovering(&issuer, Some(JwksServer::client()));
    assert!(matches!(
        fetch_error(&verifier, &issuer).await,
        FetchError::InsecureJwksUri { .. }
    ));
    assert_eq!((server.discoveries(), server.fetches()), (1, 0));
}

#[tokio::test]
async fn a_loopback_http_issuer_gets_keys_from_its_own_origin_only() {
    let server = JwksServer::start(jwks(&[key()])).await;
    let other = JwksServer::start(jwks(&[key()])).await;
    // Another port of the same machine is another origin.
    server.set_discovery_jwks_uri(&other.jwks_uri());
    let verifier = discovering(&server.base, None);
    match fetch_error(&verifier, &server.base).await {
        FetchError::InsecureJwksUri { jwks_uri, .. } => assert_eq!(jwks_uri, other.jwks_uri()),
        other => panic!("{other:?}"),
    }
    assert_eq!(other.fetches(), 0);

    // Its own origin, at any path: accepted (what tessera serves to the e2e suites).
    server.set_discovery_jwks_uri(&server.jwks_uri());
    let verifier = discovering(&server.base, None);
    verifier
        .verify(&key().sign(&access_claims(&server.base)))
        .await
        .unwrap();
    assert_eq!((server.fetches(), other.fetches()), (1, 0));
}

#[tokio::test]
async fn a_redirecting_jwks_endpoint_is_refused_and_its_target_never_fetched() {
    let redirecting = JwksServer::start(jwks(&[])).await;
    let target = JwksServer::start(jwks(&[key()])).await;
    redirecting.redirect_jwks_to(&target.jwks_uri());
    let verifier = Verifier::builder()
        .issuer(Issuer::new(&redirecting.base, redirecting.jwks_uri()))
        .client_id(CLIENT)
        .build()
        .unwrap();
    assert_eq!(
        fetch_error(&verifier, &redirecting.base).await,
        FetchError::Redirected {
            url: redirecting.jwks_uri(),
            location: Some(target.jwks_uri()),
        }
    );
    assert!(verifier.refresh_keys().await.is_err());
    assert_eq!((redirecting.fetches(), target.fetches()), (2, 0));
}

#[tokio::test]
async fn a_redirecting_discovery_endpoint_is_refused_and_its_target_never_fetched() {
    let redirecting = JwksServer::start(jwks(&[])).await;
    let target = JwksServer::start(jwks(&[key()])).await;
    // The target would pass every other check: it names the redirecting server as issuer
    // and serves its keys on the issuer's origin... if the verifier went there.
    target.set_discovery_issuer(&redirecting.base);
    redirecting.redirect_discovery_to(&format!("{}/.well-known/openid-configuration", target.base));
    let verifier = discovering(&redirecting.base, None);
    assert!(matches!(
        fetch_error(&verifier, &redirecting.base).await,
        FetchError::Redirected {
            location: Some(_),
            ..
        }
    ));
    assert_eq!(redirecting.discoveries(), 1);
    assert_eq!((target.discoveries(), target.fetches()), (0, 0));
}

#[tokio::test]
async fn keys_a_redirect_following_client_fetched_elsewhere_are_not_used() {
    // A client given through `http_client` may follow redirects on its own; the verifier
    // cannot stop the request, but it does not take keys from the answer.
    let redirecting = JwksServer::start(jwks(&[])).await;
    let target = JwksServer::start(jwks(&[key()])).await;
    redirecting.redirect_jwks_to(&target.jwks_uri());
    let verifier = Verifier::builder()
        .issuer(Issuer::new(&redirecting.base, redirecting.jwks_uri()))
        .client_id(CLIENT)
        .http_client(reqwest::Client::new())
        .build()
        .unwrap();
    assert_eq!(
        fetch_error(&verifier, &redirecting.base).await,
        FetchError::Redirected {
            url: redirecting.jwks_uri(),
            location: Some(target.jwks_uri()),
        }
    );
    assert_eq!(target.fetches(), 1);
}
