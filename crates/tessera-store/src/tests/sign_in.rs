//! Conformance of sign-in state (issue 11): challenge sessions sealed at rest and single use,
//! attempts counted atomically before the credential is checked, and expired state swept.

use std::time::Duration;

use tessera_core::lockout::Attempt;

use super::{all_bytes, at, contains, pool, postgres, postgres_shared, sqlite};
use crate::{AuthSession, AuthorizationCode, LoginSession, Store};

conformance!(
    challenge_state_is_sealed_and_single_use,
    concurrent_attempts_all_count,
    locked_attempts_count_nothing,
    claims_follow_the_lockout_schedule,
    sweeping_removes_only_what_expired,
);

const POOL: &str = "us-east-1_SignInAAA";

fn auth_session(hash: &str, expires_at: std::time::SystemTime) -> AuthSession {
    AuthSession {
        session_hash: hash.into(),
        pool_id: POOL.into(),
        username_key: "alice".into(),
        client_id: "client".into(),
        challenge: "PASSWORD_VERIFIER".into(),
        state: r#"{"srp":{"b":"5ec7e75ec7e75ec7e7"}}"#.into(),
        expires_at,
    }
}

async fn challenge_state_is_sealed_and_single_use(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    let session = auth_session("s1", at(1_700_000_180));
    store.insert_auth_session(&session).await.unwrap();
    for sealed in all_bytes(store, "SELECT sealed_state FROM auth_sessions").await {
        assert!(
            !contains(&sealed, b"5ec7e75ec7e7"),
            "the SRP secret is in the clear"
        );
        assert!(!contains(&sealed, b"srp"));
    }
    let taken = store.take_auth_session("s1").await.unwrap().unwrap();
    assert_eq!(taken.state, session.state);
    assert_eq!(taken.expires_at, session.expires_at);
    assert!(store.take_auth_session("s1").await.unwrap().is_none());
    // A sealed state moved to another row does not open: the seal is bound to its hash.
    store
        .insert_auth_session(&auth_session("s2", at(1_700_000_180)))
        .await
        .unwrap();
    sqlx::query("UPDATE auth_sessions SET session_hash = 's3' WHERE session_hash = 's2'")
        .execute(&store.pool)
        .await
        .unwrap();
    assert!(store.take_auth_session("s3").await.is_err());
}

/// Twenty attempts at once: each sees the ones before it, so exactly the five free attempts
/// may check their credential (once each with 0, 1, 2, 3 and 4 failures before it), the other
/// fifteen are locked, and the count holds the five that were checked.
async fn concurrent_attempts_all_count(store: &Store) {
    let now = at(1_700_000_000);
    let attempts = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.claim_sign_in_attempt(POOL, "bob", now).await.unwrap() })
    });
    let mut allowed: Vec<u32> = Vec::new();
    for attempt in attempts {
        if let Attempt::Allowed { prior } = attempt.await.unwrap() {
            allowed.push(prior);
        }
    }
    allowed.sort_unstable();
    assert_eq!(allowed, vec![0, 1, 2, 3, 4], "each prior count seen once");
    let (failures, last) = store.sign_in_failures(POOL, "bob").await.unwrap().unwrap();
    assert_eq!(failures, 5);
    assert_eq!(last, now);
    // A proven credential clears the count.
    store.clear_sign_in_failures(POOL, "bob").await.unwrap();
    assert!(store.sign_in_failures(POOL, "bob").await.unwrap().is_none());
}

async fn locked_attempts_count_nothing(store: &Store) {
    let start = at(1_700_000_000);
    for _ in 0..5 {
        store
            .claim_sign_in_attempt(POOL, "carol", start)
            .await
            .unwrap();
    }
    // Locked for a second after the fifth failure: refused, nothing written.
    let locked = store
        .claim_sign_in_attempt(POOL, "carol", start + Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(locked, Attempt::Locked);
    assert_eq!(
        store
            .sign_in_failures(POOL, "carol")
            .await
            .unwrap()
            .unwrap(),
        (5, start)
    );
    // After the lock, the attempt may be checked and counts.
    let later = start + Duration::from_secs(1);
    assert_eq!(
        store
            .claim_sign_in_attempt(POOL, "carol", later)
            .await
            .unwrap(),
        Attempt::Allowed { prior: 5 }
    );
    assert_eq!(
        store
            .sign_in_failures(POOL, "carol")
            .await
            .unwrap()
            .unwrap(),
        (6, later)
    );
    // Fifteen quiet minutes forget the failures.
    let quiet = later + tessera_core::lockout::LOCKOUT_MAX;
    assert_eq!(
        store
            .claim_sign_in_attempt(POOL, "carol", quiet)
            .await
            .unwrap(),
        Attempt::Allowed { prior: 0 }
    );
}

/// The claim decides in SQL what `Attempt::decide` decides in Rust: for every count of
/// failures up to past the longest lock, and for quiet times on either side of each lock's end,
/// of the fifteen minutes that forget, and of a last failure in the future (a clock set back),
/// the claim answers as `decide` does and writes only what an allowed attempt counts.
async fn claims_follow_the_lockout_schedule(store: &Store) {
    use tessera_core::lockout::{lockout, LOCKOUT_MAX};
    let now = at(1_700_000_000);
    let ms = Duration::from_millis(1);
    for failures in 0..=20u32 {
        let lock = lockout(failures);
        let mut quiets = vec![
            Duration::ZERO,
            ms,
            LOCKOUT_MAX - ms,
            LOCKOUT_MAX,
            LOCKOUT_MAX * 2,
        ];
        if !lock.is_zero() {
            quiets.extend([lock - ms, lock, lock + ms]);
        }
        let mut lasts: Vec<_> = quiets.iter().map(|quiet| now - *quiet).collect();
        lasts.push(now + Duration::from_secs(5));
        for last in lasts {
            sqlx::query("DELETE FROM sign_in_failures")
                .execute(&store.pool)
                .await
                .unwrap();
            sqlx::query("INSERT INTO sign_in_failures (pool_id, username_key, failures, last_failure_at) VALUES ($1, $2, $3, $4)")
                .bind(POOL)
                .bind("dave")
                .bind(i64::from(failures))
                .bind(crate::store::millis(last))
                .execute(&store.pool)
                .await
                .unwrap();
            let quiet = now.duration_since(last).unwrap_or_default();
            let expected = Attempt::decide(failures, quiet);
            let claimed = store
                .claim_sign_in_attempt(POOL, "dave", now)
                .await
                .unwrap();
            assert_eq!(
                claimed, expected,
                "{failures} failures, the last {quiet:?} before the attempt"
            );
            let stored = store.sign_in_failures(POOL, "dave").await.unwrap().unwrap();
            match expected {
                Attempt::Locked => assert_eq!(stored, (failures, last)),
                Attempt::Allowed { prior } => assert_eq!(stored, (prior + 1, now)),
            }
        }
    }
}

async fn sweeping_removes_only_what_expired(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    let now = at(1_700_001_000);
    let past = at(1_700_000_999);
    let future = at(1_700_001_001);
    store
        .insert_auth_session(&auth_session("old", past))
        .await
        .unwrap();
    store
        .insert_auth_session(&auth_session("live", future))
        .await
        .unwrap();
    let code = |hash: &str, expires_at| AuthorizationCode {
        code_hash: hash.into(),
        pool_id: POOL.into(),
        client_id: "client".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid".into(),
        nonce: None,
        code_challenge: None,
        username_key: "alice".into(),
        auth_time: at(1_700_000_000),
        created_at: at(1_700_000_000),
        expires_at,
        consumed_at: None,
        origin_jti: None,
    };
    store
        .insert_authorization_code(&code("old", past))
        .await
        .unwrap();
    store
        .insert_authorization_code(&code("live", future))
        .await
        .unwrap();
    let login = |hash: &str, expires_at| LoginSession {
        session_hash: hash.into(),
        pool_id: POOL.into(),
        username_key: "alice".into(),
        auth_time: at(1_700_000_000),
        expires_at,
        revoked: false,
    };
    store
        .insert_login_session(&login("old", past))
        .await
        .unwrap();
    store
        .insert_login_session(&login("live", future))
        .await
        .unwrap();
    let forget = tessera_core::lockout::LOCKOUT_MAX;
    store
        .claim_sign_in_attempt(POOL, "forgotten", now - forget - Duration::from_secs(1))
        .await
        .unwrap();
    store
        .claim_sign_in_attempt(POOL, "recent", now - Duration::from_secs(1))
        .await
        .unwrap();

    // Devices issued at sign-in: one never confirmed for over a day goes, a younger one and
    // a confirmed old one stay.
    let device = |key: &str, created_at, confirmed: bool| tessera_core::Device {
        pool_id: POOL.into(),
        username_key: "alice".into(),
        device_key: key.into(),
        group_key: "-g".into(),
        verifier: confirmed.then(|| tessera_core::SrpVerifier {
            salt: vec![1; 16],
            verifier: vec![2; 32],
        }),
        name: None,
        remembered: false,
        created_at,
        last_modified_at: created_at,
        last_authenticated_at: created_at,
    };
    let day = Duration::from_secs(86_400);
    for (key, created_at, confirmed) in [
        ("stale", now - day - Duration::from_secs(1), false),
        ("young", now - Duration::from_secs(60), false),
        ("kept", now - day - day, true),
    ] {
        let device = device(key, created_at, confirmed);
        store.insert_device(&device).await.unwrap();
        if confirmed {
            assert!(store.confirm_device(&device).await.unwrap());
        }
    }

    assert_eq!(store.sweep_expired(now, forget).await.unwrap(), 5);
    let left: Vec<String> = store
        .devices(POOL, "alice", "", 10, false)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.device_key)
        .collect();
    assert_eq!(left, ["kept", "young"]);
    assert!(store.take_auth_session("old").await.unwrap().is_none());
    assert!(store.take_auth_session("live").await.unwrap().is_some());
    assert!(store.authorization_code("old").await.unwrap().is_none());
    assert!(store.authorization_code("live").await.unwrap().is_some());
    assert!(store.login_session("old").await.unwrap().is_none());
    assert!(store.login_session("live").await.unwrap().is_some());
    assert!(store
        .sign_in_failures(POOL, "forgotten")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .sign_in_failures(POOL, "recent")
        .await
        .unwrap()
        .is_some());
    // Nothing left to sweep.
    assert_eq!(store.sweep_expired(now, forget).await.unwrap(), 0);
}
