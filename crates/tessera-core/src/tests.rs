use std::time::SystemTime;

use crate::*;

#[test]
fn radix32_matches_cognito_client_id_shape() {
    assert_eq!(radix32(&[0]), "0");
    assert_eq!(radix32(&[0x20]), "10");
    assert_eq!(radix32(&[0xff, 0xff]), "1vvv");
    let random = SeededRandom::new(7);
    for _ in 0..200 {
        let id = app_client_id(&random);
        assert!((1..=26).contains(&id.len()), "{id}");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'v').contains(&b)));
        let secret = app_client_secret(&random);
        assert!(secret.len() <= 52 && secret.len() >= 24, "{secret}");
    }
}

#[test]
fn user_pool_id_has_region_and_nine_alphanumerics() {
    let id = user_pool_id("eu-west-1", &SeededRandom::new(1));
    let (region, suffix) = id.split_once('_').unwrap();
    assert_eq!(region, "eu-west-1");
    assert_eq!(suffix.len(), 9);
    assert!(suffix.bytes().all(|b| b.is_ascii_alphanumeric()));
}

#[test]
fn seeded_random_is_reproducible() {
    assert_eq!(
        app_client_id(&SeededRandom::new(3)),
        app_client_id(&SeededRandom::new(3))
    );
}

#[test]
fn master_key_round_trip_and_context_binding() {
    let random = SeededRandom::new(9);
    let key = MasterKey::parse(&MasterKey::generate_text(&random)).unwrap();
    let sealed = key.seal("ctx:a", b"secret", &random).unwrap();
    assert!(!sealed.windows(6).any(|w| w == b"secret"));
    assert_eq!(key.open("ctx:a", &sealed).unwrap(), b"secret");
    assert!(matches!(key.open("ctx:b", &sealed), Err(CoreError::Unseal)));
    let mut tampered = sealed.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(
        key.open("ctx:a", &tampered),
        Err(CoreError::Unseal)
    ));
    assert!(matches!(key.open("ctx:a", &[1, 2]), Err(CoreError::Unseal)));
    let other = MasterKey::parse(&MasterKey::generate_text(&random)).unwrap();
    assert!(matches!(
        other.open("ctx:a", &sealed),
        Err(CoreError::Unseal)
    ));
}

#[test]
fn master_key_rejects_bad_text() {
    assert!(MasterKey::parse("short").is_err());
    assert!(MasterKey::parse(&"zz".repeat(32)).is_err());
    assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
}

#[test]
fn access_key_shape_and_redacted_debug() {
    let key = AccessKey::generate(&SeededRandom::new(5), SystemTime::UNIX_EPOCH);
    assert!(key.id.starts_with("AKIA") && key.id.len() == 20);
    assert_eq!(key.secret.len(), 40);
    assert!(!format!("{key:?}").contains(&key.secret));
}

#[test]
fn signing_key_jwk_and_pkcs8_round_trip() {
    let key = SigningKey::generate(KeyUse::Id, SystemTime::UNIX_EPOCH).unwrap();
    assert_eq!(key.kid.len(), 44);
    let jwk = key.public_jwk();
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    assert_eq!(jwk["e"], "AQAB");
    assert_eq!(jwk["n"].as_str().unwrap().len(), 342);
    let again = SigningKey::from_pkcs8(KeyUse::Id, SystemTime::UNIX_EPOCH, key.pkcs8()).unwrap();
    assert_eq!(again.kid, key.kid);
    let signature = key.sign_rs256(b"message").unwrap();
    let public = aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
        {
            use aws_lc_rs::signature::KeyPair as _;
            aws_lc_rs::rsa::KeyPair::from_pkcs8(key.pkcs8())
                .unwrap()
                .public_key()
                .as_ref()
                .to_vec()
        },
    );
    public.verify(b"message", &signature).unwrap();
}
