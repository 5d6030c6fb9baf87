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

/// Issue 16: during a master-key rotation the new key seals and the replaced one still opens;
/// only the new key's own values open without it.
#[test]
fn issue16_a_master_key_ring_opens_what_replaced_keys_sealed() {
    let random = SeededRandom::new(10);
    let old_text = MasterKey::generate_text(&random);
    let new_text = MasterKey::generate_text(&random);
    let old = MasterKey::parse(&old_text).unwrap();
    let by_old = old.seal("ctx", b"old secret", &random).unwrap();
    let ring = MasterKey::parse(&new_text)
        .unwrap()
        .with_previous(vec![MasterKey::parse(&old_text).unwrap()]);
    assert_eq!(ring.previous_keys(), 1);
    assert_eq!(ring.open("ctx", &by_old).unwrap(), b"old secret");
    assert!(!ring.opens_without_previous("ctx", &by_old));
    assert!(matches!(
        ring.open("other", &by_old),
        Err(CoreError::Unseal)
    ));
    let by_ring = ring.seal("ctx", b"new secret", &random).unwrap();
    assert!(ring.opens_without_previous("ctx", &by_ring));
    // The ring seals with the new key: the old one cannot open it, the new one alone can.
    assert!(matches!(old.open("ctx", &by_ring), Err(CoreError::Unseal)));
    let new = MasterKey::parse(&new_text).unwrap();
    assert_eq!(new.open("ctx", &by_ring).unwrap(), b"new secret");
    assert!(matches!(new.open("ctx", &by_old), Err(CoreError::Unseal)));
    // Derived keys are the new key's.
    assert_eq!(ring.derive("purpose"), new.derive("purpose"));
    assert_ne!(ring.derive("purpose"), old.derive("purpose"));
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

fn sample_user() -> User {
    User {
        pool_id: "us-east-1_Tokens000".into(),
        username: "alice".into(),
        sub: "7d8b7a4e-0000-4000-8000-000000000001".into(),
        status: UserStatus::Confirmed,
        enabled: true,
        attributes: [
            ("email".to_string(), "alice@example.com".to_string()),
            ("email_verified".to_string(), "true".to_string()),
            ("custom:tier".to_string(), "gold".to_string()),
            ("dev:custom:secret".to_string(), "hidden".to_string()),
        ]
        .into_iter()
        .collect(),
        password_hash: None,
        password_set_at: None,
        srp_verifier: None,
        mfa: Default::default(),
        created_at: SystemTime::UNIX_EPOCH,
        last_modified_at: SystemTime::UNIX_EPOCH,
        version: 0,
    }
}

/// Cognito stores `"True"` as given and treats it as verified; the ID token's claim is a
/// JSON boolean either way.
#[test]
fn verified_flags_are_read_in_any_case() {
    let mut user = sample_user();
    assert!(user.verified("email"));
    user.attributes
        .insert("email_verified".into(), "True".into());
    assert!(user.verified("email"));
    user.attributes
        .insert("email_verified".into(), "FALSE".into());
    assert!(!user.verified("email"));
    user.attributes
        .insert("phone_number_verified".into(), "TRUE".into());
    assert!(user.verified("phone_number"));

    let id_key = SigningKey::generate(KeyUse::Id, SystemTime::UNIX_EPOCH).unwrap();
    let access_key = SigningKey::generate(KeyUse::Access, SystemTime::UNIX_EPOCH).unwrap();
    let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let request = TokenRequest {
        issuer: "http://127.0.0.1:9229/us-east-1_Tokens000",
        client_id: "client1",
        user: &user,
        groups: &[],
        read_attributes: None,
        auth_time: now,
        origin_jti: "o-1",
        event_id: "e-1",
        now,
        access_validity: std::time::Duration::from_secs(3600),
        id_validity: std::time::Duration::from_secs(3600),
        scope: ADMIN_SCOPE,
        oauth: false,
        nonce: None,
        customization: None,
        device_key: None,
    };
    let pair = issue_tokens(&request, &id_key, &access_key, &SeededRandom::new(4)).unwrap();
    let id = verify_jwt(&pair.id_token, &[&id_key, &access_key], "id", now).unwrap();
    assert_eq!(id["email_verified"], serde_json::json!(false));
    assert_eq!(id["phone_number_verified"], serde_json::json!(true));
}

#[test]
fn tokens_carry_cognito_claims_and_verify() {
    use std::time::Duration;
    let id_key = SigningKey::generate(KeyUse::Id, SystemTime::UNIX_EPOCH).unwrap();
    let access_key = SigningKey::generate(KeyUse::Access, SystemTime::UNIX_EPOCH).unwrap();
    let user = sample_user();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let group = |name: &str, precedence: i64, role: &str| Group {
        pool_id: user.pool_id.clone(),
        name: name.into(),
        description: None,
        precedence: Some(precedence),
        role_arn: Some(role.into()),
        created_at: now,
        last_modified_at: now,
    };
    let groups = [
        group("admins", 1, "arn:aws:iam::000000000000:role/a"),
        group("users", 5, "arn:aws:iam::000000000000:role/u"),
    ];
    let request = TokenRequest {
        issuer: "http://127.0.0.1:9229/us-east-1_Tokens000",
        client_id: "client1",
        user: &user,
        groups: &groups,
        read_attributes: None,
        auth_time: now,
        origin_jti: "o-1",
        event_id: "e-1",
        now,
        access_validity: Duration::from_secs(3600),
        id_validity: Duration::from_secs(1800),
        scope: ADMIN_SCOPE,
        oauth: false,
        nonce: None,
        customization: None,
        device_key: None,
    };
    let pair = issue_tokens(&request, &id_key, &access_key, &SeededRandom::new(4)).unwrap();
    assert_eq!(pair.expires_in, 3600);
    let keys = [&id_key, &access_key];
    let id = verify_jwt(&pair.id_token, &keys, "id", now).unwrap();
    assert_eq!(id["aud"], "client1");
    assert_eq!(id["email_verified"], serde_json::json!(true));
    assert_eq!(id["custom:tier"], "gold");
    assert!(id.get("dev:custom:secret").is_none());
    assert_eq!(id["cognito:groups"], serde_json::json!(["admins", "users"]));
    assert_eq!(
        id["cognito:preferred_role"],
        "arn:aws:iam::000000000000:role/a"
    );
    assert_eq!(
        id["exp"].as_u64().unwrap() - id["iat"].as_u64().unwrap(),
        1800
    );
    let access = verify_jwt(&pair.access_token, &keys, "access", now).unwrap();
    assert_eq!(access["client_id"], "client1");
    assert_eq!(access["username"], "alice");
    assert_eq!(access["scope"], ADMIN_SCOPE);
    assert!(access.get("aud").is_none());
    assert_eq!(
        unverified_issuer(&pair.access_token).as_deref(),
        Some(request.issuer)
    );

    // Each check that must fail does.
    assert_eq!(
        verify_jwt(&pair.id_token, &keys, "access", now),
        Err(TokenError::Invalid)
    );
    let later = now + Duration::from_secs(3600);
    assert_eq!(
        verify_jwt(&pair.access_token, &keys, "access", later),
        Err(TokenError::Expired)
    );
    assert_eq!(
        verify_jwt(&pair.access_token, &[&id_key], "access", now),
        Err(TokenError::Invalid)
    );
    let mut tampered = pair.access_token.clone();
    tampered.insert(tampered.find('.').unwrap() + 5, 'x');
    assert_eq!(
        verify_jwt(&tampered, &keys, "access", now),
        Err(TokenError::Invalid)
    );
    let parts: Vec<&str> = pair.access_token.split('.').collect();
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        r#"{"kid":"x","alg":"none"}"#,
    );
    assert_eq!(
        verify_jwt(
            &format!("{none_header}.{}.", parts[1]),
            &keys,
            "access",
            now
        ),
        Err(TokenError::Invalid)
    );
    for garbage in ["", "a.b", "a.b.c.d", "...", &"x".repeat(20_000)] {
        assert_eq!(
            verify_jwt(garbage, &keys, "access", now),
            Err(TokenError::Invalid)
        );
    }
}

#[test]
fn client_credentials_tokens_name_the_client_and_no_user() {
    use std::time::Duration;
    let access_key = SigningKey::generate(KeyUse::Access, SystemTime::UNIX_EPOCH).unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let request = ClientTokenRequest {
        issuer: "http://127.0.0.1:9229/us-east-1_Tokens000",
        client_id: "machine1",
        scope: "https://api.example.com/read https://api.example.com/write",
        now,
        validity: Duration::from_secs(600),
        customization: None,
    };
    let token = issue_client_token(&request, &access_key, &SeededRandom::new(5)).unwrap();
    let claims = verify_jwt(&token, &[&access_key], "access", now).unwrap();
    let names: Vec<&str> = claims.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "sub",
            "token_use",
            "scope",
            "auth_time",
            "iss",
            "exp",
            "iat",
            "version",
            "jti",
            "client_id"
        ]
    );
    assert_eq!(claims["sub"], "machine1");
    assert_eq!(claims["client_id"], "machine1");
    assert_eq!(claims["scope"], request.scope);
    assert_eq!(claims["version"], 2);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        600
    );
    assert_eq!(claims["auth_time"], claims["iat"]);
    assert_eq!(
        verify_jwt(&token, &[&access_key], "id", now),
        Err(TokenError::Invalid)
    );
}

#[test]
fn utc_fields_match_known_dates() {
    use std::time::Duration;
    let at = |secs: u64| UtcFields::of(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
    assert_eq!(at(0).compact(), "19700101000000");
    // 2000-02-29 (a leap day of a century divisible by 400) and the day after.
    assert_eq!(at(951_782_400).compact(), "20000229000000");
    assert_eq!(at(951_868_799).compact(), "20000229235959");
    assert_eq!(at(951_868_800).compact(), "20000301000000");
    assert_eq!(at(1_700_000_000).compact(), "20231114221320");
    assert_eq!(at(4_102_444_800).compact(), "21000101000000");
}

/// The example of OpenID Connect Core 1.0, Appendix A.4: `at_hash` is the left half of the
/// access token's SHA-256, base64url.
#[test]
fn at_hash_matches_the_openid_connect_example() {
    assert_eq!(
        crate::at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
        "77QmUPtjPfzWtF2AnpK9RQ"
    );
}

#[test]
fn derived_keys_differ_by_purpose_and_agree_across_instances() {
    let text = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let a = crate::MasterKey::parse(text).unwrap();
    let b = crate::MasterKey::parse(text).unwrap();
    assert_eq!(a.derive("csrf"), b.derive("csrf"));
    assert_ne!(a.derive("csrf"), a.derive("other"));
    assert_ne!(a.derive("csrf"), [0u8; 32]);
}

#[test]
fn a_trigger_changes_claims_scopes_and_groups_but_never_protected_claims() {
    use crate::{GroupOverride, TokenCustomization};
    use serde_json::json;
    use std::time::Duration;
    let id_key = SigningKey::generate(KeyUse::Id, SystemTime::UNIX_EPOCH).unwrap();
    let access_key = SigningKey::generate(KeyUse::Access, SystemTime::UNIX_EPOCH).unwrap();
    let user = sample_user();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut customization = TokenCustomization {
        id_suppress: vec!["email".into(), "sub".into(), "both".into()],
        access_suppress: vec!["jti".into()],
        scopes_to_add: vec!["extra/read".into(), "openid".into()],
        scopes_to_suppress: vec!["email".into()],
        groups: Some(GroupOverride {
            groups: vec!["g1".into()],
            roles: vec!["arn:aws:iam::1:role/r".into()],
            preferred_role: Some("arn:aws:iam::1:role/r".into()),
        }),
        ..TokenCustomization::default()
    };
    for (name, value) in [
        ("tenant", json!("acme")),
        ("both", json!("x")),
        ("sub", json!("forged")),
        ("cognito:username", json!("forged")),
        ("cognito:groups", json!(["forged"])),
    ] {
        customization.id_claims.insert(name.into(), value);
    }
    for (name, value) in [
        ("permissions", json!({"read": [1, 2]})),
        ("client_id", json!("forged")),
        ("scope", json!("forged")),
        ("exp", json!(1)),
    ] {
        customization.access_claims.insert(name.into(), value);
    }
    let request = TokenRequest {
        issuer: "http://127.0.0.1:9229/us-east-1_Tokens000",
        client_id: "client1",
        user: &user,
        groups: &[],
        read_attributes: None,
        auth_time: now,
        origin_jti: "o-1",
        event_id: "e-1",
        now,
        access_validity: Duration::from_secs(3600),
        id_validity: Duration::from_secs(3600),
        scope: "openid email profile",
        oauth: true,
        nonce: None,
        customization: Some(&customization),
        device_key: None,
    };
    let pair = issue_tokens(&request, &id_key, &access_key, &SeededRandom::new(4)).unwrap();
    assert_eq!(pair.scope, "openid profile extra/read");
    let keys = [&id_key, &access_key];
    let id = verify_jwt(&pair.id_token, &keys, "id", now).unwrap();
    assert_eq!(id["tenant"], "acme");
    assert!(id.get("email").is_none() && id.get("both").is_none());
    assert_eq!(id["sub"], json!(user.sub));
    assert_eq!(id["cognito:username"], json!(user.username));
    assert_eq!(id["cognito:groups"], json!(["g1"]));
    assert_eq!(id["cognito:roles"], json!(["arn:aws:iam::1:role/r"]));
    assert_eq!(id["cognito:preferred_role"], "arn:aws:iam::1:role/r");
    let access = verify_jwt(&pair.access_token, &keys, "access", now).unwrap();
    assert_eq!(access["permissions"], json!({"read": [1, 2]}));
    assert_eq!(access["client_id"], "client1");
    assert_eq!(access["scope"], "openid profile extra/read");
    assert_eq!(access["cognito:groups"], json!(["g1"]));
    assert!(access["jti"].is_string());
    assert_eq!(access["exp"], json!(1_700_000_000u64 + 3600));

    // An override with no groups removes them.
    let none = TokenCustomization {
        groups: Some(GroupOverride::default()),
        ..TokenCustomization::default()
    };
    let group = Group {
        pool_id: user.pool_id.clone(),
        name: "admins".into(),
        description: None,
        precedence: Some(1),
        role_arn: Some("arn:aws:iam::1:role/a".into()),
        created_at: now,
        last_modified_at: now,
    };
    let groups = [group];
    let request = TokenRequest {
        groups: &groups,
        customization: Some(&none),
        ..request
    };
    let pair = issue_tokens(&request, &id_key, &access_key, &SeededRandom::new(4)).unwrap();
    let id = verify_jwt(&pair.id_token, &keys, "id", now).unwrap();
    assert!(id.get("cognito:groups").is_none() && id.get("cognito:roles").is_none());
    let access = verify_jwt(&pair.access_token, &keys, "access", now).unwrap();
    assert!(access.get("cognito:groups").is_none());
}
