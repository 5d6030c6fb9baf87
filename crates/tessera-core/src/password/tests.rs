use serde_json::{json, Map, Value};

use super::*;
use crate::SeededRandom;

fn settings(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// A policy requiring every class, with the given minimum length.
fn strict(minimum_length: u32) -> PasswordPolicy {
    PasswordPolicy {
        minimum_length,
        ..PasswordPolicy::default()
    }
}

/// A cheap cost, so that hashing tests take milliseconds.
fn cheap() -> PasswordHasher {
    PasswordHasher::new(64, 1, 1).unwrap()
}

#[test]
fn policy_defaults_when_the_pool_sets_none() {
    let expected = PasswordPolicy {
        minimum_length: 8,
        require_uppercase: true,
        require_lowercase: true,
        require_numbers: true,
        require_symbols: true,
        temporary_password_validity_days: 7,
    };
    assert_eq!(PasswordPolicy::from_pool_settings(&Map::new()), expected);
    assert_eq!(
        PasswordPolicy::from_pool_settings(&settings(json!({ "Policies": {} }))),
        expected
    );
    assert_eq!(
        PasswordPolicy::from_pool_settings(&settings(json!({
            "Policies": { "PasswordPolicy": { "MinimumLength": 10 } }
        }))),
        PasswordPolicy {
            minimum_length: 10,
            ..expected.clone()
        }
    );
    // Members of the wrong type are ignored rather than misread.
    assert_eq!(
        PasswordPolicy::from_pool_settings(&settings(json!({
            "Policies": { "PasswordPolicy": { "MinimumLength": "12", "RequireSymbols": "no" } }
        }))),
        expected
    );
}

#[test]
fn policy_reads_every_member() {
    let policy = PasswordPolicy::from_pool_settings(&settings(json!({
        "Policies": { "PasswordPolicy": {
            "MinimumLength": 6,
            "RequireUppercase": false,
            "RequireLowercase": true,
            "RequireNumbers": false,
            "RequireSymbols": false,
            "TemporaryPasswordValidityDays": 30,
        } }
    })));
    assert_eq!(
        policy,
        PasswordPolicy {
            minimum_length: 6,
            require_uppercase: false,
            require_lowercase: true,
            require_numbers: false,
            require_symbols: false,
            temporary_password_validity_days: 30,
        }
    );
    let huge = PasswordPolicy::from_pool_settings(&settings(json!({
        "Policies": { "PasswordPolicy": { "MinimumLength": 1u64 << 40 } }
    })));
    assert_eq!(huge.minimum_length, u32::MAX);
    assert_eq!(huge.check("Aa1!aaaa"), Err(PolicyViolation::TooShort));
}

#[test]
fn violations_come_in_cognitos_order() {
    let policy = strict(8);
    assert_eq!(policy.check(""), Err(PolicyViolation::TooShort));
    assert_eq!(policy.check("a"), Err(PolicyViolation::TooShort));
    assert_eq!(policy.check("abcdefg"), Err(PolicyViolation::TooShort));
    assert_eq!(policy.check("abcdefgh"), Err(PolicyViolation::NoUppercase));
    assert_eq!(policy.check("ABCDEFGH"), Err(PolicyViolation::NoLowercase));
    assert_eq!(policy.check("ABCDefgh"), Err(PolicyViolation::NoNumber));
    assert_eq!(policy.check("ABCDefg1"), Err(PolicyViolation::NoSymbol));
    assert_eq!(policy.check("ABCDef1!"), Ok(()));
    // Length is reported first even when every class is missing too.
    assert_eq!(policy.check("!!"), Err(PolicyViolation::TooShort));

    let relaxed = PasswordPolicy {
        minimum_length: 6,
        require_uppercase: false,
        require_lowercase: false,
        require_numbers: false,
        require_symbols: false,
        temporary_password_validity_days: 7,
    };
    assert_eq!(relaxed.check("aaaaaa"), Ok(()));
    assert_eq!(relaxed.check("aaaaa"), Err(PolicyViolation::TooShort));
}

#[test]
fn every_cognito_symbol_counts_and_nothing_else_does() {
    let policy = strict(8);
    for symbol in "^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ".chars() {
        assert_eq!(
            policy.check(&format!("Abcdef1{symbol}")),
            Ok(()),
            "{symbol:?}"
        );
    }
    for not_symbol in ['é', '€', '\t', '§', '¿', '中'] {
        assert_eq!(
            policy.check(&format!("Abcdef1{not_symbol}")),
            Err(PolicyViolation::NoSymbol),
            "{not_symbol:?}"
        );
    }
}

#[test]
fn length_counts_characters_and_non_ascii_letters_count_for_length_only() {
    let policy = PasswordPolicy {
        minimum_length: 8,
        require_uppercase: false,
        require_lowercase: false,
        require_numbers: false,
        require_symbols: false,
        temporary_password_validity_days: 7,
    };
    // Eight characters but sixteen bytes.
    assert_eq!(policy.check("éééééééé"), Ok(()));
    // Seven characters but twenty-one bytes.
    assert_eq!(
        policy.check("中中中中中中中"),
        Err(PolicyViolation::TooShort)
    );
    let strict = strict(8);
    assert_eq!(strict.check("ÉÉÉÉéééé"), Err(PolicyViolation::NoUppercase));
    assert_eq!(strict.check("Aéééééé1!"), Err(PolicyViolation::NoLowercase));
    assert_eq!(strict.check("Aaéééé1!"), Ok(()));
}

#[test]
fn reasons_are_cognitos_words() {
    assert_eq!(
        PolicyViolation::TooShort.reason(),
        "Password not long enough"
    );
    assert_eq!(
        PolicyViolation::NoUppercase.reason(),
        "Password must have uppercase characters"
    );
    assert_eq!(
        PolicyViolation::NoLowercase.reason(),
        "Password must have lowercase characters"
    );
    assert_eq!(
        PolicyViolation::NoNumber.reason(),
        "Password must have numeric characters"
    );
    assert_eq!(
        PolicyViolation::NoSymbol.reason(),
        "Password must have symbol characters"
    );
    assert_eq!(
        PolicyViolation::NoSymbol.to_string(),
        "Password must have symbol characters"
    );
}

#[test]
fn generated_passwords_satisfy_the_policy() {
    let mut policies = Vec::new();
    for minimum_length in [6, 8, 12, 13, 20, 64, 99] {
        for mask in 0u8..16 {
            policies.push(PasswordPolicy {
                minimum_length,
                require_uppercase: mask & 1 != 0,
                require_lowercase: mask & 2 != 0,
                require_numbers: mask & 4 != 0,
                require_symbols: mask & 8 != 0,
                temporary_password_validity_days: 7,
            });
        }
    }
    for seed in 0..200u64 {
        let random = SeededRandom::new(seed);
        for policy in &policies {
            let password = policy.generate(&random);
            assert_eq!(policy.check(&password), Ok(()), "{policy:?} {password}");
            assert_eq!(
                password.len(),
                policy.minimum_length.max(12) as usize,
                "{password}"
            );
            assert!(password.is_ascii());
            assert!(!password.contains(' '));
        }
    }
}

#[test]
fn generated_passwords_differ_and_are_capped() {
    let random = SeededRandom::new(1);
    let policy = PasswordPolicy::default();
    let first = policy.generate(&random);
    let second = policy.generate(&random);
    assert_ne!(first, second);
    let absurd = strict(u32::MAX);
    assert_eq!(absurd.generate(&random).len(), 256);
}

#[test]
fn hash_and_verify_round_trip() {
    let hasher = cheap();
    let random = SeededRandom::new(5);
    let phc = hasher.hash("Correct horse 1!", &random).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    assert!(hasher.verify("Correct horse 1!", &phc));
    assert!(!hasher.verify("correct horse 1!", &phc));
    assert!(!hasher.verify("", &phc));
    // A fresh salt each time: the same password never hashes to the same string.
    let again = hasher.hash("Correct horse 1!", &random).unwrap();
    assert_ne!(phc, again);
    assert!(hasher.verify("Correct horse 1!", &again));
}

#[test]
fn verify_uses_the_parameters_in_the_hash() {
    let random = SeededRandom::new(6);
    let old = PasswordHasher::new(32, 1, 1).unwrap();
    let phc = old.hash("Pa55word!", &random).unwrap();
    assert!(cheap().verify("Pa55word!", &phc));
}

#[test]
fn owasp_parameters_round_trip() {
    let hasher = PasswordHasher::owasp();
    let phc = hasher.hash("Pa55word!", &SeededRandom::new(7)).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
    assert!(hasher.verify("Pa55word!", &phc));
    assert!(!hasher.verify("Pa55word?", &phc));
}

#[test]
fn malformed_hashes_do_not_verify() {
    let hasher = cheap();
    let good = hasher.hash("Pa55word!", &SeededRandom::new(8)).unwrap();
    let truncated = &good[..good.len() - 5];
    let argon2i = good.replacen("$argon2id$", "$argon2i$", 1);
    let greedy = good.replacen("m=64,t=1", "m=4194304,t=1", 1);
    let slow = good.replacen("t=1,", "t=1000000,", 1);
    for phc in [
        "",
        "$",
        "not a hash",
        "$argon2id$",
        "$argon2id$v=19$m=64,t=1,p=1$",
        "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "$scrypt$ln=4,r=8,p=1$c2FsdA$AAAA",
        "$argon2id$v=19$m=64,t=1,p=1$!!!$???",
        truncated,
        &argon2i,
        &greedy,
        &slow,
    ] {
        assert!(!hasher.verify("Pa55word!", phc), "{phc}");
    }
}

#[test]
fn bad_parameters_are_refused() {
    assert!(PasswordHasher::new(0, 1, 1).is_err());
    assert!(PasswordHasher::new(64, 0, 1).is_err());
    assert!(PasswordHasher::new(64, 1, 0).is_err());
    assert!(PasswordHasher::new(8, 1, 2).is_err());
}

#[test]
fn verify_dummy_is_false_and_uses_this_hashers_cost() {
    let hasher = cheap();
    assert!(!hasher.verify_dummy("Pa55word!"));
    assert!(!hasher.verify_dummy(""));
    assert!(hasher.dummy.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
    // The dummy hash is well formed, so it costs a full argon2 computation.
    assert!(PasswordHash::new(&hasher.dummy).is_ok());
    assert!(!PasswordHasher::owasp().verify_dummy("Pa55word!"));
}

/// Hashes made before the working memory was reused (by the argon2 crate's own
/// `PasswordHasher`) must keep verifying, and ours must verify with the crate's verifier.
#[test]
fn hashes_match_the_argon2_crates_own() {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
    let params = argon2::Params::new(64, 2, 1, None).unwrap();
    let theirs = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"sixteen byte sal").unwrap();
    let phc = theirs
        .hash_password(b"Pa55word!", &salt)
        .unwrap()
        .to_string();
    let hasher = PasswordHasher::new(64, 2, 1).unwrap();
    assert!(hasher.verify("Pa55word!", &phc));
    assert!(!hasher.verify("Pa55word?", &phc));
    let ours = hasher.hash("Pa55word!", &SeededRandom::new(11)).unwrap();
    let parsed = argon2::PasswordHash::new(&ours).unwrap();
    assert!(argon2::Argon2::default()
        .verify_password(b"Pa55word!", &parsed)
        .is_ok());
}

/// A reused working memory still holds the previous hash's blocks; the result must not
/// depend on them.
#[test]
fn reused_working_memory_gives_the_same_results() {
    let hasher = PasswordHasher::new(256, 3, 1).unwrap();
    let phc = hasher
        .hash("first password", &SeededRandom::new(12))
        .unwrap();
    for round in 0..4 {
        let other = hasher
            .hash(&format!("other {round}"), &SeededRandom::new(13 + round))
            .unwrap();
        assert!(hasher.verify("first password", &phc), "round {round}");
        assert!(hasher.verify(&format!("other {round}"), &other));
        assert!(!hasher.verify("first passwore", &phc));
    }
    let kept = hasher.memory.free.lock().unwrap().len();
    assert!(
        kept >= 1 && kept <= hasher.memory.keep,
        "{kept} buffers kept"
    );
    // A hash stored under another cost gets its own memory and is not kept.
    let other_cost = PasswordHasher::new(128, 1, 1)
        .unwrap()
        .hash("x", &SeededRandom::new(20))
        .unwrap();
    assert!(hasher.verify("x", &other_cost));
    assert!(hasher
        .memory
        .free
        .lock()
        .unwrap()
        .iter()
        .all(|blocks| blocks.len() == hasher.memory.blocks));
}

/// Hashes of `Correct-h0rse` written by other systems' own libraries (Python's bcrypt 5,
/// argon2-cffi 25, hashlib), and Firebase's published example.
const IMPORTED: &[&str] = &[
    "$2b$05$E2Zc..obA0u85nFzxfEvIeuzoY2DT14nBl42DzjyeOEQDM0.LM.D.",
    "$argon2i$v=19$m=64,t=1,p=1$zKW1jEiaNRsF/X5UMWK+4Q$nbu1kmuVnGbFntSzGaXoAV6bHproEOEKt9p4/D/5Lwk",
    "$argon2id$v=19$m=128,t=1,p=2$9aA473Kcr8Vn4MTHUoBZWg$S5bnAxBn/lg9VHmzgV8vu4sCs40sATo+RqjSNdZ4DlQ",
    "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$c7loDlYKgnNE/I9KmDSnCvXSLevUI5DMmSFGfH3fYAs",
    "$pbkdf2-sha256$i=1000$TmFDbE5hQ2w=$Cr70F0FfvjJIOyjLNfbhRUPn6a//b1kdpHCq1U0WLNnbbRy4qR+KuX6aOt+mQXNnNgj4X6W6RQB44efpWObV0g==",
    "$pbkdf2-sha1$i=1000$TmFDbA==$wsqaCoKTOtNHQ2n8ETIWUdao630=",
    "pbkdf2_sha256$1000$seasalt1234$nNQH9HOajnuqDJP/Aofn+wtS3Nxmk1PrIWzoOT7ePDg=",
];

#[test]
fn issue16_imported_hashes_verify_their_password_only() {
    let hasher = cheap();
    for stored in IMPORTED {
        assert!(hasher.verify("Correct-h0rse", stored), "{stored}");
        assert!(!hasher.verify("Correct-h0rsE", stored), "{stored}");
        assert!(!hasher.verify("", stored), "{stored}");
        let parsed = ImportedHash::parse(stored).unwrap();
        // The stored form reads back to the same hash.
        assert_eq!(
            ImportedHash::parse(&parsed.to_stored()).unwrap(),
            parsed,
            "{stored}"
        );
    }
    assert!(PasswordHasher::is_own(IMPORTED[2]));
    assert!(!PasswordHasher::is_own(IMPORTED[1]));
}

#[test]
fn issue16_firebase_scrypt_matches_firebases_example() {
    // github.com/firebase/scrypt's README example: the project's parameters, one user's salt
    // and the hash Firebase exported for `user1password`.
    let stored = format!(
        "$firebase-scrypt$ln=14,r=8,s=Bw,k={}${}${}",
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA",
        "42xEC+ixf3L2lw",
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ",
    );
    let parsed = ImportedHash::parse(&stored).unwrap();
    assert!(parsed.verify("user1password"));
    assert!(!parsed.verify("user1Password"));
    assert_eq!(ImportedHash::parse(&parsed.to_stored()).unwrap(), parsed);
}

#[test]
fn issue16_imported_hashes_beyond_their_bounds_are_refused() {
    for stored in [
        "$2b$31$E2Zc..obA0u85nFzxfEvIeuzoY2DT14nBl42DzjyeOEQDM0.LM.D.",
        "$2b$05$short",
        "$scrypt$ln=30,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$c7loDlYKgnNE",
        "$scrypt$ln=10,r=8,p=1000$MDEyMzQ1Njc4OWFiY2RlZg$c7loDlYKgnNE",
        "$scrypt$ln=10,r=8$MDEy$c7lo",
        "$pbkdf2-sha256$i=4000000000$TmFD$Cr70",
        "$pbkdf2-sha256$i=0$TmFD$Cr70",
        "$pbkdf2-md5$i=10$TmFD$Cr70",
        "$pbkdf2-sha256$i=10$$Cr70",
        "pbkdf2_sha256$1000$$nNQH",
        "pbkdf2_md5$1000$salt$nNQH",
        "$argon2i$v=19$m=4194304,t=1,p=1$zKW1jEiaNRsF/X5UMWK+4Q$nbu1kmuVnGbFntSzGaXoAV6bHproEOEKt9p4/D/5Lwk",
        "$firebase-scrypt$ln=14,r=8,s=Bw$c2FsdA$aGFzaA",
        "$md5$whatever",
        "plain text",
    ] {
        assert!(ImportedHash::parse(stored).is_err(), "{stored}");
        assert!(!cheap().verify("Correct-h0rse", stored), "{stored}");
    }
}

#[test]
fn issue16_imported_hashes_do_not_show_in_debug_output() {
    let parsed = ImportedHash::parse(IMPORTED[0]).unwrap();
    assert_eq!(format!("{parsed:?}"), "ImportedHash::Bcrypt");
}
