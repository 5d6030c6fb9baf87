//! The verifier against a local JWKS server: caching and fetch policy, and the attack table.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use common::*;
use serde_json::{json, Value};
use tessera_verify::{
    async_trait, Algorithm, BoxError, Claims, ConfigError, FetchError, Issuer, ManualClock,
    RevocationCheck, TokenUse, Verifier, VerifierBuilder, VerifyError,
};

const ISS: &str = "https://issuer.test/us-east-1_Test01";

struct Keys {
    a: TestKey,
    b: TestKey,
    /// Not published anywhere.
    other: TestKey,
    ec: TestKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        a: TestKey::rsa("key-a"),
        b: TestKey::rsa("key-b"),
        other: TestKey::rsa("key-other"),
        ec: TestKey::ec("key-ec"),
    })
}

fn builder(server: &JwksServer) -> VerifierBuilder {
    Verifier::builder()
        .issuer(Issuer::new(ISS, server.jwks_uri()))
        .client_id(CLIENT)
}

/// A clock at the real current time that moves only when told.
fn manual_clock() -> ManualClock {
    ManualClock::new(SystemTime::now())
}

#[tokio::test]
async fn verifies_an_access_token_and_exposes_its_claims() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server).build().unwrap();
    let claims = verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
    assert_eq!(claims.sub(), Some("7f1a7c1e-5d1b-4a55-9b3e-1b2a3c4d5e6f"));
    assert_eq!(claims.issuer(), ISS);
    assert_eq!(claims.token_use(), Some("access"));
    assert_eq!(claims.client_id(), Some(CLIENT));
    assert_eq!(claims.username(), Some("alice"));
    assert!(claims.has_scope("aws.cognito.signin.user.admin"));
    assert_eq!(claims.groups().collect::<Vec<_>>(), ["admin", "staff"]);
    assert!(claims.in_group("admin"));
    assert_eq!(claims.kid(), "key-a");
    assert_eq!(claims.algorithm(), Algorithm::RS256);
    assert_eq!(
        claims.origin_jti(),
        Some("0d6cbbf2-7f4c-4a4a-9a59-4f7a4c1b8e21")
    );
    assert_eq!(
        claims.get_str("event_id"),
        Some("a3b0d7a6-7c0e-4bda-8d0f-0c8f3b0a9c11")
    );
    assert!(claims.expires_at() > claims.issued_at().unwrap());
    // Serializes as the claims object.
    let json = serde_json::to_value(&claims).unwrap();
    assert_eq!(
        json,
        access_claims(ISS)
            .as_object()
            .map(|o| {
                let mut o = o.clone();
                o.insert("exp".into(), json["exp"].clone());
                o.insert("iat".into(), json["iat"].clone());
                o.insert("auth_time".into(), json["auth_time"].clone());
                Value::Object(o)
            })
            .unwrap()
    );
}

#[tokio::test]
async fn verifies_an_id_token_against_aud() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server).token_use(TokenUse::Id).build().unwrap();
    let claims = verifier.verify(&k.a.sign(&id_claims(ISS))).await.unwrap();
    assert_eq!(claims.username(), Some("alice"));
    assert_eq!(claims.client_id(), Some(CLIENT));
    assert_eq!(claims.get_str("email"), Some("alice@example.com"));
    assert_eq!(claims.get("email_verified"), Some(&json!(true)));
}

#[tokio::test]
async fn token_use_is_enforced() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let id = k.a.sign(&id_claims(ISS));
    let access = k.a.sign(&access_claims(ISS));

    let either = builder(&server)
        .token_use(TokenUse::Either)
        .build()
        .unwrap();
    either.verify(&id).await.unwrap();
    either.verify(&access).await.unwrap();

    let id_only = builder(&server).token_use(TokenUse::Id).build().unwrap();
    assert_eq!(
        id_only.verify(&access).await.unwrap_err(),
        VerifyError::WrongTokenUse {
            expected: TokenUse::Id,
            found: "access".into()
        }
    );
    let access_only = builder(&server).build().unwrap();
    assert_eq!(
        access_only.verify(&id).await.unwrap_err(),
        VerifyError::WrongTokenUse {
            expected: TokenUse::Access,
            found: "id".into()
        }
    );
    // A generic OIDC token without token_use: refused unless the check is off.
    let generic = k.a.sign(&without(id_claims(ISS), "token_use"));
    assert_eq!(
        either.verify(&generic).await.unwrap_err(),
        VerifyError::MissingClaim("token_use")
    );
    let unchecked = builder(&server)
        .token_use(TokenUse::Unchecked)
        .build()
        .unwrap();
    unchecked.verify(&generic).await.unwrap();
    // ... which still checks aud.
    let generic_other = k.a.sign(&with(
        without(id_claims(ISS), "token_use"),
        "aud",
        json!(["x", "y"]),
    ));
    assert_eq!(
        unchecked.verify(&generic_other).await.unwrap_err(),
        VerifyError::WrongAudience("[\"x\",\"y\"]".into())
    );
    let generic_array = k.a.sign(&with(
        without(id_claims(ISS), "token_use"),
        "aud",
        json!(["x", CLIENT]),
    ));
    unchecked.verify(&generic_array).await.unwrap();
}

#[tokio::test]
async fn verifies_es256_tokens() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a, &k.ec])).await;
    let verifier = builder(&server).build().unwrap();
    let claims = verifier
        .verify(&k.ec.sign(&access_claims(ISS)))
        .await
        .unwrap();
    assert_eq!(claims.algorithm(), Algorithm::ES256);
    verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
}

#[tokio::test]
async fn fetches_the_jwks_once_for_many_tokens() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a, &k.b])).await;
    let verifier = builder(&server).build().unwrap();
    for i in 0..200 {
        let key = if i % 2 == 0 { &k.a } else { &k.b };
        verifier
            .verify(&key.sign(&access_claims(ISS)))
            .await
            .unwrap();
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_requests_share_one_fetch() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    server.set_delay(Duration::from_millis(300));
    let verifier = builder(&server).build().unwrap();
    let token = k.a.sign(&access_claims(ISS));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (verifier, token) = (verifier.clone(), token.clone());
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn a_cancelled_first_request_does_not_cancel_the_fetch() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    server.set_delay(Duration::from_millis(200));
    let verifier = builder(&server).build().unwrap();
    let token = k.a.sign(&access_claims(ISS));
    let waiter = {
        let (verifier, token) = (verifier.clone(), token.clone());
        tokio::spawn(async move { verifier.verify(&token).await })
    };
    // This one gives up while the fetch runs.
    let _ = tokio::time::timeout(Duration::from_millis(50), verifier.verify(&token)).await;
    waiter.await.unwrap().unwrap();
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_with_overlapping_keys_fails_no_request() {
    let k = keys();
    let clock = manual_clock();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server).clock(clock.clone()).build().unwrap();
    let token_a = k.a.sign(&access_claims(ISS));
    let token_b = k.b.sign(&access_claims(ISS));
    verifier.verify(&token_a).await.unwrap();

    // The issuer publishes B beside A and starts signing with B while A tokens are live.
    server.set_jwks(jwks(&[&k.a, &k.b]));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let verifier = verifier.clone();
        let token = if i % 3 == 0 {
            token_a.clone()
        } else {
            token_b.clone()
        };
        tasks.spawn(async move { verifier.verify(&token).await });
    }
    let mut failures = 0;
    while let Some(result) = tasks.join_next().await {
        if let Err(error) = result.unwrap() {
            eprintln!("failed during rotation: {error}");
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
    assert_eq!(
        server.fetches(),
        2,
        "one initial fetch, one for the new kid"
    );

    // Later A is withdrawn; after the refresh interval the cache drops it.
    server.set_jwks(jwks(&[&k.b]));
    clock.advance(Duration::from_secs(301));
    verifier.verify(&token_b).await.unwrap(); // triggers the background refresh
    server.wait_for_fetches(3).await;
    verifier.verify(&token_b).await.unwrap();
    let mut withdrawn = false;
    for _ in 0..50 {
        match verifier.verify(&token_a).await {
            Err(VerifyError::UnknownKid(kid)) if kid == "key-a" => {
                withdrawn = true;
                break;
            }
            other => {
                assert!(other.is_ok(), "{other:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(withdrawn, "the withdrawn key still verifies");
}

#[tokio::test]
async fn periodic_refresh_picks_up_a_new_key_before_it_is_used() {
    let k = keys();
    let clock = manual_clock();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server)
        .clock(clock.clone())
        .jwks_refresh_interval(Duration::from_secs(60))
        .build()
        .unwrap();
    let token_a = k.a.sign(&access_claims(ISS));
    verifier.verify(&token_a).await.unwrap();
    server.set_jwks(jwks(&[&k.a, &k.b]));

    // Not stale yet: no fetch.
    clock.advance(Duration::from_secs(59));
    verifier.verify(&token_a).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.fetches(), 1);

    // Stale: the request is answered from the cache and a refresh runs behind it.
    clock.advance(Duration::from_secs(2));
    verifier.verify(&token_a).await.unwrap();
    server.wait_for_fetches(2).await;
    verifier
        .verify(&k.b.sign(&access_claims(ISS)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 2, "B was known before its first token");
}

#[tokio::test]
async fn unknown_kid_is_refused_after_one_refetch() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server).build().unwrap();
    verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
    let unknown = k.other.sign(&access_claims(ISS));
    assert_eq!(
        verifier.verify(&unknown).await.unwrap_err(),
        VerifyError::UnknownKid("key-other".into())
    );
    assert_eq!(server.fetches(), 2);
    // Within the interval: refused without asking again.
    assert_eq!(
        verifier.verify(&unknown).await.unwrap_err(),
        VerifyError::UnknownKid("key-other".into())
    );
    assert_eq!(server.fetches(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_causes_bounded_fetches() {
    let k = keys();
    let clock = manual_clock();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server)
        .clock(clock.clone())
        .jwks_min_fetch_interval(Duration::from_secs(10))
        .build()
        .unwrap();
    let good = k.a.sign(&access_claims(ISS));

    let flood = |round: usize| {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..500 {
            let verifier = verifier.clone();
            let header = json!({"kid": format!("random-{round}-{i}"), "alg": "RS256"});
            let token = k.other.sign_with_header(&header, &access_claims(ISS));
            tasks.spawn(async move { verifier.verify(&token).await });
        }
        tasks
    };

    // Cold cache: the flood's first request loads the keys, one more fetch for unknown kids.
    let mut tasks = flood(0);
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Err(VerifyError::UnknownKid(_))));
    }
    assert_eq!(server.fetches(), 2);
    verifier.verify(&good).await.unwrap();

    // Still within the interval: no fetch at all.
    clock.advance(Duration::from_secs(9));
    let mut tasks = flood(1);
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Err(VerifyError::UnknownKid(_))));
    }
    assert_eq!(server.fetches(), 2);

    // Next interval: one fetch.
    clock.advance(Duration::from_secs(2));
    let mut tasks = flood(2);
    while let Some(result) = tasks.join_next().await {
        assert!(matches!(result.unwrap(), Err(VerifyError::UnknownKid(_))));
    }
    assert_eq!(server.fetches(), 3);
    verifier.verify(&good).await.unwrap();
    // The kids never reach the server: every request was for the JWKS path itself.
    assert!(server.paths().iter().all(|p| p == "/jwks.json"));
}

#[tokio::test]
async fn cached_keys_keep_verifying_while_the_issuer_is_down() {
    let k = keys();
    let clock = manual_clock();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server).clock(clock.clone()).build().unwrap();
    let token = k.a.sign(&access_claims(ISS));
    verifier.verify(&token).await.unwrap();

    server.set_down(true);
    clock.advance(Duration::from_secs(3600));
    verifier.verify(&token).await.unwrap(); // stale: a background refresh fails
    server.wait_for_fetches(2).await;
    for _ in 0..20 {
        verifier.verify(&token).await.unwrap();
    }
    assert_eq!(server.fetches(), 2, "no retry before the minimum interval");
    // An unknown kid while down is still just unknown.
    assert_eq!(
        verifier
            .verify(&k.other.sign(&access_claims(ISS)))
            .await
            .unwrap_err(),
        VerifyError::UnknownKid("key-other".into())
    );
    clock.advance(Duration::from_secs(11));
    verifier.verify(&token).await.unwrap();
    server.wait_for_fetches(4).await; // the unknown-kid try and this retry

    // Back up: the next refresh succeeds and new keys are seen.
    server.set_down(false);
    server.set_jwks(jwks(&[&k.a, &k.b]));
    clock.advance(Duration::from_secs(11));
    verifier.verify(&token).await.unwrap();
    server.wait_for_fetches(5).await;
    verifier
        .verify(&k.b.sign(&access_claims(ISS)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 5);
}

#[tokio::test]
async fn issuer_down_on_first_use_is_unavailable_and_retries_are_bounded() {
    let k = keys();
    let clock = manual_clock();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    server.set_down(true);
    let verifier = builder(&server).clock(clock.clone()).build().unwrap();
    let token = k.a.sign(&access_claims(ISS));
    for _ in 0..10 {
        let error = verifier.verify(&token).await.unwrap_err();
        assert!(
            matches!(error, VerifyError::KeysUnavailable { .. }),
            "{error:?}"
        );
        assert_eq!(error.class(), tessera_verify::ErrorClass::Unavailable);
    }
    assert_eq!(server.fetches(), 1);
    server.set_down(false);
    assert!(verifier.verify(&token).await.is_err(), "still backing off");
    clock.advance(Duration::from_secs(10));
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.fetches(), 2);
    // refresh_keys() reports the state of the issuer.
    verifier.refresh_keys().await.unwrap();
    server.set_down(true);
    assert!(matches!(
        verifier.refresh_keys().await,
        Err(VerifyError::KeysUnavailable { .. })
    ));
    verifier.verify(&token).await.unwrap();
}

#[tokio::test]
async fn discovers_the_jwks_uri() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let issuer = server.base.clone();
    let verifier = Verifier::builder()
        .issuer(Issuer::discover(&issuer))
        .client_id(CLIENT)
        .build()
        .unwrap();
    for _ in 0..3 {
        verifier
            .verify(&k.a.sign(&access_claims(&issuer)))
            .await
            .unwrap();
    }
    assert_eq!((server.discoveries(), server.fetches()), (1, 1));
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    server.set_discovery_issuer("https://evil.example");
    let issuer = server.base.clone();
    let verifier = Verifier::builder()
        .issuer(Issuer::discover(&issuer))
        .client_id(CLIENT)
        .build()
        .unwrap();
    let error = verifier
        .verify(&k.a.sign(&access_claims(&issuer)))
        .await
        .unwrap_err();
    match error {
        VerifyError::KeysUnavailable {
            reason: FetchError::DiscoveryIssuerMismatch { found, .. },
            ..
        } => assert_eq!(found, "https://evil.example"),
        other => panic!("{other:?}"),
    }
    assert_eq!(server.fetches(), 0);
}

#[test]
fn issuer_constructors() {
    let cognito = Issuer::cognito("us-east-1", "us-east-1_Example");
    assert_eq!(
        cognito.issuer(),
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
    );
    assert_eq!(
        cognito.jwks_uri(),
        Some("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example/.well-known/jwks.json")
    );
    let tessera = Issuer::tessera("http://127.0.0.1:9229/", "us-east-1_Example01");
    assert_eq!(
        tessera.issuer(),
        "http://127.0.0.1:9229/us-east-1_Example01"
    );
    assert_eq!(
        tessera.jwks_uri(),
        Some("http://127.0.0.1:9229/us-east-1_Example01/.well-known/jwks.json")
    );
    assert_eq!(Issuer::discover("https://idp.example").jwks_uri(), None);
}

#[tokio::test]
async fn cognito_shaped_tokens_verify_through_the_cognito_constructor() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a, &k.b])).await;
    let issuer = Issuer::cognito("us-east-1", "us-east-1_Example").with_jwks_uri(server.jwks_uri());
    let iss = issuer.issuer().to_owned();
    assert_eq!(
        iss,
        "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example"
    );
    let verifier = Verifier::builder()
        .issuer(issuer)
        .token_use(TokenUse::Either)
        .client_id(CLIENT)
        .build()
        .unwrap();
    let now = now_secs();
    // ID and access tokens are signed with different keys, as Cognito does.
    let id = json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "cognito:groups": ["admin"],
        "email_verified": true, "iss": iss, "phone_number_verified": false,
        "cognito:username": "alice", "origin_jti": "11111111-2222-3333-4444-555555555555",
        "cognito:roles": ["arn:aws:iam::000000000000:role/admin"], "aud": CLIENT,
        "event_id": "66666666-7777-8888-9999-000000000000", "token_use": "id",
        "auth_time": now, "phone_number": "+15555550100", "exp": now + 3600, "iat": now,
        "jti": "12121212-3434-5656-7878-909090909090", "email": "alice@example.com",
        "custom:tier": "42"
    });
    let claims = verifier.verify(&k.a.sign(&id)).await.unwrap();
    assert_eq!(claims.get_str("custom:tier"), Some("42"));
    assert_eq!(claims.groups().collect::<Vec<_>>(), ["admin"]);

    let access = json!({
        "sub": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "iss": iss, "client_id": CLIENT,
        "origin_jti": "11111111-2222-3333-4444-555555555555",
        "event_id": "66666666-7777-8888-9999-000000000000", "token_use": "access",
        "scope": "aws.cognito.signin.user.admin", "auth_time": now, "exp": now + 3600,
        "iat": now, "jti": "abababab-cdcd-efef-0101-232323232323", "username": "alice"
    });
    let claims = verifier.verify(&k.b.sign(&access)).await.unwrap();
    assert_eq!(claims.username(), Some("alice"));

    // Older Cognito payloads escape '/' in strings; that is the same JSON.
    let payload = access.to_string().replace('/', "\\/");
    assert!(payload.contains("https:\\/\\/cognito-idp"));
    let input = format!(
        "{}.{}",
        b64(br#"{"kid":"key-b","alg":"RS256"}"#),
        b64(payload.as_bytes())
    );
    let token = format!("{input}.{}", b64(&k.b.sign_raw(input.as_bytes())));
    verifier.verify(&token).await.unwrap();

    // The AWS issuer is not the tessera one.
    let tessera_iss = with(
        access.clone(),
        "iss",
        json!("http://127.0.0.1:9229/us-east-1_Example"),
    );
    assert!(matches!(
        verifier.verify(&k.b.sign(&tessera_iss)).await,
        Err(VerifyError::WrongIssuer(_))
    ));
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn preloaded_keys_need_no_fetch() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = Verifier::builder()
        .issuer(Issuer::new(ISS, server.jwks_uri()).with_jwks(jwks(&[&k.a]).to_string()))
        .client_id(CLIENT)
        .build()
        .unwrap();
    verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
    assert_eq!(server.fetches(), 0);
}

#[tokio::test]
async fn several_issuers_each_with_their_keys() {
    let k = keys();
    let one = JwksServer::start(jwks(&[&k.a])).await;
    let two = JwksServer::start(jwks(&[&k.b])).await;
    let iss_two = "https://other.test/pool2";
    let verifier = Verifier::builder()
        .issuer(Issuer::new(ISS, one.jwks_uri()))
        .issuer(Issuer::new(iss_two, two.jwks_uri()))
        .client_id(CLIENT)
        .build()
        .unwrap();
    verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
    verifier
        .verify(&k.b.sign(&access_claims(iss_two)))
        .await
        .unwrap();
    // A key of issuer two does not verify a token claiming issuer one.
    let crossed = k.b.sign(&access_claims(ISS));
    assert_eq!(
        verifier.verify(&crossed).await.unwrap_err(),
        VerifyError::UnknownKid("key-b".into())
    );
    assert_eq!(verifier.issuers().collect::<Vec<_>>(), [ISS, iss_two]);
}

#[tokio::test]
async fn unusable_jwks_entries_are_skipped() {
    let k = keys();
    let mut document = jwks(&[&k.a]);
    let keys_array = document["keys"].as_array_mut().unwrap();
    // A symmetric key, an encryption key, a 1024-bit RSA key, an RS512 key, garbage.
    keys_array.push(json!({"kty": "oct", "kid": "sym", "k": b64(b"secret")}));
    let mut enc = k.b.jwk();
    enc["use"] = json!("enc");
    enc["kid"] = json!("enc");
    keys_array.push(enc);
    keys_array.push(
        json!({"kty": "RSA", "kid": "small", "alg": "RS256", "e": "AQAB", "n": b64(&[0xc3; 128])}),
    );
    let mut rs512 = k.b.jwk();
    rs512["alg"] = json!("RS512");
    rs512["kid"] = json!("rs512");
    keys_array.push(rs512);
    keys_array.push(json!("not a key"));
    let server = JwksServer::start(document).await;
    let verifier = builder(&server).build().unwrap();
    verifier
        .verify(&k.a.sign(&access_claims(ISS)))
        .await
        .unwrap();
    for kid in ["enc", "small", "rs512"] {
        let token =
            k.b.sign_with_header(&json!({"kid": kid, "alg": "RS256"}), &access_claims(ISS));
        assert_eq!(
            verifier.verify(&token).await.unwrap_err(),
            VerifyError::UnknownKid(kid.into()),
            "{kid}"
        );
    }
    // The HMAC key is never a key, whatever the token says.
    let hs = hs256(
        &json!({"kid": "sym", "alg": "HS256"}),
        &access_claims(ISS),
        b"secret",
    );
    assert_eq!(
        verifier.verify(&hs).await.unwrap_err(),
        VerifyError::UnsupportedAlgorithm("HS256".into())
    );
}

fn hs256(header: &Value, claims: &Value, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn unsigned(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    )
}

#[tokio::test]
async fn the_attack_table() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a, &k.ec])).await;
    let id_verifier = builder(&server).token_use(TokenUse::Id).build().unwrap();
    let verifier = builder(&server).build().unwrap();
    let good = k.a.sign(&access_claims(ISS));
    verifier.verify(&good).await.unwrap();
    let now = now_secs();
    let claims = access_claims(ISS);
    let header = |alg: &str| json!({"kid": "key-a", "alg": alg});
    let mut parts = good.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );

    type Check = fn(&VerifyError) -> bool;
    let cases: Vec<(&str, String, Check)> = vec![
        ("alg none", unsigned(&header("none"), &claims), |e| {
            *e == VerifyError::UnsupportedAlgorithm("none".into())
        }),
        ("alg None", unsigned(&header("None"), &claims), |e| {
            *e == VerifyError::UnsupportedAlgorithm("None".into())
        }),
        (
            "alg none with the real signature",
            format!("{}.{p}.{s}", b64(header("none").to_string().as_bytes())),
            |e| *e == VerifyError::UnsupportedAlgorithm("none".into()),
        ),
        (
            "HS256 signed with the public key bytes",
            hs256(&header("HS256"), &claims, &k.a.public_der()),
            |e| *e == VerifyError::UnsupportedAlgorithm("HS256".into()),
        ),
        (
            "HS256 signed with the JWK n",
            hs256(
                &header("HS256"),
                &claims,
                k.a.jwk()["n"].as_str().unwrap().as_bytes(),
            ),
            |e| *e == VerifyError::UnsupportedAlgorithm("HS256".into()),
        ),
        (
            "RS512",
            k.a.sign_with_header(&header("RS512"), &claims),
            |e| *e == VerifyError::UnsupportedAlgorithm("RS512".into()),
        ),
        (
            "PS256",
            k.a.sign_with_header(&header("PS256"), &claims),
            |e| *e == VerifyError::UnsupportedAlgorithm("PS256".into()),
        ),
        (
            "ES256 header on the RSA key",
            k.ec.sign_with_header(&header("ES256"), &claims),
            |e| {
                *e == VerifyError::AlgorithmMismatch {
                    expected: Algorithm::RS256,
                    found: Algorithm::ES256,
                }
            },
        ),
        (
            "RS256 header on the EC key",
            k.a.sign_with_header(&json!({"kid": "key-ec", "alg": "RS256"}), &claims),
            |e| {
                *e == VerifyError::AlgorithmMismatch {
                    expected: Algorithm::ES256,
                    found: Algorithm::RS256,
                }
            },
        ),
        (
            "embedded jwk",
            k.other.sign_with_header(
                &json!({"kid": "key-a", "alg": "RS256", "jwk": k.other.jwk()}),
                &claims,
            ),
            |e| *e == VerifyError::ForbiddenHeader("jwk"),
        ),
        (
            "jku",
            k.other.sign_with_header(
                &json!({"kid": "key-a", "alg": "RS256", "jku": "https://evil.example/jwks.json"}),
                &claims,
            ),
            |e| *e == VerifyError::ForbiddenHeader("jku"),
        ),
        (
            "x5u",
            k.other.sign_with_header(
                &json!({"kid": "key-a", "alg": "RS256", "x5u": "https://evil.example/cert.pem"}),
                &claims,
            ),
            |e| *e == VerifyError::ForbiddenHeader("x5u"),
        ),
        (
            "x5c",
            k.other.sign_with_header(
                &json!({"kid": "key-a", "alg": "RS256", "x5c": ["MIIB"]}),
                &claims,
            ),
            |e| *e == VerifyError::ForbiddenHeader("x5c"),
        ),
        (
            "crit",
            k.a.sign_with_header(
                &json!({"kid": "key-a", "alg": "RS256", "crit": ["exp"], "exp": 1}),
                &claims,
            ),
            |e| *e == VerifyError::ForbiddenHeader("crit"),
        ),
        (
            "no kid",
            k.a.sign_with_header(&json!({"alg": "RS256"}), &claims),
            |e| *e == VerifyError::MissingKid,
        ),
        (
            "duplicate alg",
            format!(
                "{}.{p}.{s}",
                b64(br#"{"kid":"key-a","alg":"none","alg":"RS256"}"#)
            ),
            |e| matches!(e, VerifyError::Malformed(_)),
        ),
        (
            "wrong issuer",
            k.a.sign(&with(
                claims.clone(),
                "iss",
                json!("https://evil.example/pool"),
            )),
            |e| *e == VerifyError::WrongIssuer("https://evil.example/pool".into()),
        ),
        (
            "issuer with trailing slash",
            k.a.sign(&with(claims.clone(), "iss", json!(format!("{ISS}/")))),
            |e| matches!(e, VerifyError::WrongIssuer(_)),
        ),
        (
            "no issuer",
            k.a.sign(&without(claims.clone(), "iss")),
            |e| *e == VerifyError::MissingClaim("iss"),
        ),
        (
            "wrong client_id",
            k.a.sign(&with(claims.clone(), "client_id", json!("someoneelse"))),
            |e| *e == VerifyError::WrongClientId("someoneelse".into()),
        ),
        (
            "no client_id",
            k.a.sign(&without(claims.clone(), "client_id")),
            |e| *e == VerifyError::MissingClaim("client_id"),
        ),
        (
            "wrong token_use",
            k.a.sign(&with(claims.clone(), "token_use", json!("id"))),
            |e| matches!(e, VerifyError::WrongTokenUse { found, .. } if found == "id"),
        ),
        (
            "token_use refresh",
            k.a.sign(&with(claims.clone(), "token_use", json!("refresh"))),
            |e| matches!(e, VerifyError::WrongTokenUse { found, .. } if found == "refresh"),
        ),
        (
            "expired",
            k.a.sign(&with(
                with(claims.clone(), "exp", json!(now - 3600)),
                "iat",
                json!(now - 7200),
            )),
            |e| matches!(e, VerifyError::Expired { .. }),
        ),
        (
            "not yet valid",
            k.a.sign(&with(claims.clone(), "nbf", json!(now + 600))),
            |e| matches!(e, VerifyError::NotYetValid { .. }),
        ),
        (
            "issued in the future",
            k.a.sign(&with(claims.clone(), "iat", json!(now + 600))),
            |e| matches!(e, VerifyError::IssuedInFuture { .. }),
        ),
        ("no exp", k.a.sign(&without(claims.clone(), "exp")), |e| {
            *e == VerifyError::MissingClaim("exp")
        }),
        (
            "exp as a string",
            k.a.sign(&with(
                claims.clone(),
                "exp",
                json!((now + 3600).to_string()),
            )),
            |e| *e == VerifyError::InvalidClaim("exp"),
        ),
        (
            "signed by another key under a published kid",
            k.other.sign_with_header(&header("RS256"), &claims),
            |e| *e == VerifyError::InvalidSignature,
        ),
        ("signed by an unpublished key", k.other.sign(&claims), |e| {
            *e == VerifyError::UnknownKid("key-other".into())
        }),
        (
            "payload changed after signing",
            format!(
                "{h}.{}.{s}",
                b64(with(claims.clone(), "username", json!("root"))
                    .to_string()
                    .as_bytes())
            ),
            |e| *e == VerifyError::InvalidSignature,
        ),
        (
            "signature of another token",
            format!(
                "{h}.{p}.{}",
                k.a.sign(&with(claims.clone(), "jti", json!("x")))
                    .rsplit('.')
                    .next()
                    .unwrap()
            ),
            |e| *e == VerifyError::InvalidSignature,
        ),
        (
            "truncated signature",
            format!("{h}.{p}.{}", &s[..s.len() - 2 - (s.len() - 2) % 4]),
            |e| *e == VerifyError::InvalidSignature,
        ),
        ("signature removed", format!("{h}.{p}."), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        ("two parts", format!("{h}.{p}"), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        (
            "truncated in the payload",
            good[..h.len() + 20].to_owned(),
            |e| matches!(e, VerifyError::Malformed(_)),
        ),
        (
            "JWE-shaped (five parts)",
            format!("{h}.{p}.{s}.{s}.{s}"),
            |e| matches!(e, VerifyError::Malformed(_)),
        ),
        ("empty", String::new(), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        ("garbage", "garbage".to_owned(), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        ("garbage parts", "a.b.c".to_owned(), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        ("padded base64", format!("{h}=.{p}.{s}"), |e| {
            matches!(e, VerifyError::Malformed(_))
        }),
        (
            "payload not an object",
            k.a.sign_with_header(&header("RS256"), &json!(["iss", ISS])),
            |e| matches!(e, VerifyError::Malformed(_)),
        ),
        (
            "oversized",
            k.a.sign(&with(claims.clone(), "pad", json!("x".repeat(20_000)))),
            |e| matches!(e, VerifyError::TooLarge { max: 16384, .. }),
        ),
        (
            "kid is a path",
            k.a.sign_with_header(&json!({"kid": "../../etc/passwd", "alg": "RS256"}), &claims),
            |e| *e == VerifyError::UnknownKid("../../etc/passwd".into()),
        ),
        (
            "kid is SQL",
            k.a.sign_with_header(&json!({"kid": "' OR 1=1 --", "alg": "RS256"}), &claims),
            |e| *e == VerifyError::UnknownKid("' OR 1=1 --".into()),
        ),
        (
            "kid is a URL",
            k.a.sign_with_header(
                &json!({"kid": "https://evil.example/key", "alg": "RS256"}),
                &claims,
            ),
            |e| matches!(e, VerifyError::UnknownKid(_)),
        ),
        (
            "kid is not a string",
            k.a.sign_with_header(&json!({"kid": 1, "alg": "RS256"}), &claims),
            |e| matches!(e, VerifyError::Malformed(_)),
        ),
        (
            "groups not an array of strings",
            k.a.sign(&with(claims.clone(), "cognito:groups", json!("admin"))),
            |e| *e == VerifyError::InvalidClaim("cognito:groups"),
        ),
    ];
    let mut failures = Vec::new();
    for (name, token, check) in &cases {
        match verifier.verify(token).await {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(error) if check(&error) => {}
            Err(error) => failures.push(format!("{name}: wrong error {error:?}")),
        }
    }
    // ID-token cases.
    let id = id_claims(ISS);
    for (name, token, check) in [
        (
            "wrong audience",
            k.a.sign(&with(id.clone(), "aud", json!("someoneelse"))),
            (|e| *e == VerifyError::WrongAudience("someoneelse".into())) as Check,
        ),
        ("no audience", k.a.sign(&without(id.clone(), "aud")), |e| {
            *e == VerifyError::MissingClaim("aud")
        }),
        (
            "an access token where an ID token is expected",
            good.clone(),
            |e| {
                matches!(
                    e,
                    VerifyError::WrongTokenUse {
                        expected: TokenUse::Id,
                        ..
                    }
                )
            },
        ),
    ] {
        match id_verifier.verify(&token).await {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(error) if check(&error) => {}
            Err(error) => failures.push(format!("{name}: wrong error {error:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Each verifier loaded the keys once; the unknown kids caused one refetch in all; no
    // kid ever reached the server as a path.
    assert_eq!(server.fetches(), 3);
    assert!(server.paths().iter().all(|p| p == "/jwks.json"));
    // Every refusal has a client-safe description.
    for (_, token, _) in &cases {
        let error = verifier.verify(token).await.unwrap_err();
        let description = error.description();
        assert!(
            description
                .chars()
                .all(|c| c == ' ' || c == '!' || ('#'..='~').contains(&c))
                && !description.contains('\\')
        );
    }
}

#[tokio::test]
async fn time_checks_use_the_clock_and_the_leeway() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let t0 = 1_700_000_000;
    let clock = ManualClock::at_unix(t0);
    let verifier = builder(&server)
        .clock(clock.clone())
        .leeway(Duration::from_secs(60))
        .build()
        .unwrap();
    let token = k.a.sign(&with(
        with(access_claims(ISS), "iat", json!(t0)),
        "exp",
        json!(t0 + 3600),
    ));
    verifier.verify(&token).await.unwrap();
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 + 3600 + 59));
    verifier.verify(&token).await.unwrap();
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 + 3600 + 60));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        VerifyError::Expired {
            exp: t0 + 3600,
            now: t0 + 3660
        }
    );
    // iat 30 s ahead of this clock: inside the leeway; 61 s: refused.
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 - 30));
    verifier.verify(&token).await.unwrap();
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 - 61));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err(),
        VerifyError::IssuedInFuture {
            iat: t0,
            now: t0 - 61
        }
    );
    // nbf, and fractional NumericDates.
    clock.set(UNIX_EPOCH + Duration::from_secs(t0));
    let nbf_token = k.a.sign(&with(
        with(
            with(access_claims(ISS), "iat", json!(t0)),
            "exp",
            json!(t0 + 3600),
        ),
        "nbf",
        json!(t0 as f64 + 100.5),
    ));
    assert_eq!(
        verifier.verify(&nbf_token).await.unwrap_err(),
        VerifyError::NotYetValid {
            nbf: t0 + 100,
            now: t0
        }
    );
    clock.advance(Duration::from_secs(41));
    verifier.verify(&nbf_token).await.unwrap();

    // Zero leeway.
    let strict = builder(&server)
        .clock(clock.clone())
        .leeway(Duration::ZERO)
        .build()
        .unwrap();
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 + 3599));
    strict.verify(&token).await.unwrap();
    clock.set(UNIX_EPOCH + Duration::from_secs(t0 + 3600));
    assert!(matches!(
        strict.verify(&token).await,
        Err(VerifyError::Expired { .. })
    ));
}

#[tokio::test]
async fn required_scopes_and_groups() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let token = k.a.sign(&access_claims(ISS));

    let scoped = builder(&server)
        .require_scope("aws.cognito.signin.user.admin")
        .build()
        .unwrap();
    scoped.verify(&token).await.unwrap();
    let needs_write = builder(&server).require_scope("api/write").build().unwrap();
    let error = needs_write.verify(&token).await.unwrap_err();
    assert_eq!(error, VerifyError::MissingScope("api/write".into()));
    assert_eq!(error.class(), tessera_verify::ErrorClass::InsufficientScope);

    builder(&server)
        .require_any_group(["nobody", "staff"])
        .build()
        .unwrap()
        .verify(&token)
        .await
        .unwrap();
    assert_eq!(
        builder(&server)
            .require_any_group(["ops"])
            .build()
            .unwrap()
            .verify(&token)
            .await
            .unwrap_err(),
        VerifyError::MissingGroup(vec!["ops".into()])
    );
    // A user in no group at all.
    let loner = k.a.sign(&without(access_claims(ISS), "cognito:groups"));
    assert!(matches!(
        builder(&server)
            .require_any_group(["admin"])
            .build()
            .unwrap()
            .verify(&loner)
            .await,
        Err(VerifyError::MissingGroup(_))
    ));
    // Per-route checks on verified claims.
    let claims = builder(&server)
        .build()
        .unwrap()
        .verify(&token)
        .await
        .unwrap();
    claims
        .require_scope("aws.cognito.signin.user.admin")
        .unwrap();
    claims.require_any_group(["admin"]).unwrap();
    assert!(claims.require_scope("openid").is_err());
}

struct DenyOrigin(&'static str);

#[async_trait]
impl RevocationCheck for DenyOrigin {
    async fn is_revoked(&self, claims: &Claims) -> Result<bool, BoxError> {
        if claims.jti() == Some("explode") {
            return Err("deny list unreachable".into());
        }
        Ok(claims.origin_jti() == Some(self.0))
    }
}

#[tokio::test]
async fn the_revocation_hook() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = builder(&server)
        .revocation(DenyOrigin("0d6cbbf2-7f4c-4a4a-9a59-4f7a4c1b8e21"))
        .build()
        .unwrap();
    assert_eq!(
        verifier
            .verify(&k.a.sign(&access_claims(ISS)))
            .await
            .unwrap_err(),
        VerifyError::Revoked
    );
    let other_session = with(access_claims(ISS), "origin_jti", json!("another-session"));
    verifier.verify(&k.a.sign(&other_session)).await.unwrap();
    assert_eq!(
        verifier
            .verify(&k.a.sign(&with(other_session, "jti", json!("explode"))))
            .await
            .unwrap_err(),
        VerifyError::RevocationCheckFailed("deny list unreachable".into())
    );
}

#[test]
fn configuration_errors() {
    assert!(matches!(
        Verifier::builder().any_client().build(),
        Err(ConfigError::NoIssuer)
    ));
    assert!(matches!(
        Verifier::builder()
            .issuer(Issuer::new(ISS, "http://127.0.0.1:1/jwks.json"))
            .build(),
        Err(ConfigError::NoClientPolicy)
    ));
    assert!(matches!(
        Verifier::builder()
            .issuer(Issuer::new(ISS, "file:///etc/jwks.json"))
            .any_client()
            .build(),
        Err(ConfigError::InvalidUrl(_))
    ));
    assert!(matches!(
        Verifier::builder()
            .issuer(Issuer::new(ISS, "http://a/jwks.json"))
            .issuer(Issuer::new(ISS, "http://b/jwks.json"))
            .any_client()
            .build(),
        Err(ConfigError::DuplicateIssuer(_))
    ));
    assert!(matches!(
        Verifier::builder()
            .issuer(Issuer::new(ISS, "http://a/jwks.json").with_jwks("{}"))
            .any_client()
            .build(),
        Err(ConfigError::InvalidJwks { .. })
    ));
}

#[tokio::test]
async fn any_client_skips_the_client_check() {
    let k = keys();
    let server = JwksServer::start(jwks(&[&k.a])).await;
    let verifier = Verifier::builder()
        .issuer(Issuer::new(ISS, server.jwks_uri()))
        .any_client()
        .build()
        .unwrap();
    verifier
        .verify(&k.a.sign(&with(access_claims(ISS), "client_id", json!("whoever"))))
        .await
        .unwrap();
    let _ = Arc::new(verifier); // Verifier is Send + Sync
}

/// Architecture invariant: tessera-verify is used by backends that never run the server, so
/// it depends on no other tessera crate.
#[test]
fn depends_on_no_other_tessera_crate() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml")).unwrap();
    let offending: Vec<&str> = manifest
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("tessera-") && !line.starts_with("tessera-verify"))
        .collect();
    assert!(
        offending.is_empty(),
        "tessera-verify must not depend on {offending:?}"
    );
}
