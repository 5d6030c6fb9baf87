//! Conformance of the authorization-code flow's state: codes redeemed once (the redemption
//! and its refresh token in one transaction), burned codes, replay revocation of a session,
//! browser sign-in sessions and their end at sign-out and with their user or pool.

use super::{at, pool, postgres, postgres_shared, refresh, sqlite};
use crate::{AuthorizationCode, LoginSession, Store};

conformance!(
    a_code_is_redeemed_once,
    a_burned_code_cannot_be_redeemed,
    revoking_an_origin_ends_its_session,
    login_sessions_end_at_sign_out,
    codes_and_sessions_go_with_their_user_and_pool,
    refresh_tokens_keep_their_scope,
);

const POOL: &str = "us-east-1_CodesAAAA";

fn code(hash: &str) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        pool_id: POOL.into(),
        client_id: "client".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        scope: "openid email".into(),
        nonce: Some("n-1".into()),
        code_challenge: None,
        username_key: "alice".into(),
        auth_time: at(1_700_000_000),
        created_at: at(1_700_000_000),
        expires_at: at(1_700_000_300),
        consumed_at: None,
        origin_jti: None,
    }
}

fn session(hash: &str) -> LoginSession {
    LoginSession {
        session_hash: hash.into(),
        pool_id: POOL.into(),
        username_key: "alice".into(),
        auth_time: at(1_700_000_000),
        expires_at: at(1_700_003_600),
        revoked: false,
    }
}

async fn a_code_is_redeemed_once(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    store.insert_authorization_code(&code("c1")).await.unwrap();
    let read = store.authorization_code("c1").await.unwrap().unwrap();
    assert_eq!(read, code("c1"));
    let first = refresh(POOL, "alice", "r1", "origin-1");
    assert!(store
        .redeem_authorization_code("c1", at(1_700_000_010), &first)
        .await
        .unwrap());
    // The second redemption writes nothing: no refresh token appears.
    let second = refresh(POOL, "alice", "r2", "origin-2");
    assert!(!store
        .redeem_authorization_code("c1", at(1_700_000_011), &second)
        .await
        .unwrap());
    assert!(store.refresh_token("r1").await.unwrap().is_some());
    assert!(store.refresh_token("r2").await.unwrap().is_none());
    let read = store.authorization_code("c1").await.unwrap().unwrap();
    assert_eq!(read.consumed_at, Some(at(1_700_000_010)));
    assert_eq!(read.origin_jti.as_deref(), Some("origin-1"));
}

async fn a_burned_code_cannot_be_redeemed(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    store.insert_authorization_code(&code("c2")).await.unwrap();
    store
        .burn_authorization_code("c2", at(1_700_000_005))
        .await
        .unwrap();
    let read = store.authorization_code("c2").await.unwrap().unwrap();
    assert_eq!(read.consumed_at, Some(at(1_700_000_005)));
    assert_eq!(read.origin_jti, None);
    assert!(!store
        .redeem_authorization_code(
            "c2",
            at(1_700_000_006),
            &refresh(POOL, "alice", "r3", "o-3")
        )
        .await
        .unwrap());
}

async fn revoking_an_origin_ends_its_session(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    store
        .insert_refresh_token(&refresh(POOL, "alice", "r4", "o-4"), None)
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh(POOL, "alice", "r5", "o-5"), None)
        .await
        .unwrap();
    assert!(!store.origin_revoked("o-4").await.unwrap());
    store.revoke_origin("o-4").await.unwrap();
    assert!(store.origin_revoked("o-4").await.unwrap());
    assert!(store.refresh_token("r4").await.unwrap().unwrap().revoked);
    assert!(!store.origin_revoked("o-5").await.unwrap());
}

async fn login_sessions_end_at_sign_out(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    store.insert_login_session(&session("s1")).await.unwrap();
    store.insert_login_session(&session("s2")).await.unwrap();
    assert_eq!(
        store.login_session("s1").await.unwrap(),
        Some(session("s1"))
    );
    store.revoke_login_session("s1").await.unwrap();
    assert!(store.login_session("s1").await.unwrap().unwrap().revoked);
    assert!(!store.login_session("s2").await.unwrap().unwrap().revoked);
    // Global sign-out ends the browser sessions too.
    store.revoke_user_tokens(POOL, "alice").await.unwrap();
    assert!(store.login_session("s2").await.unwrap().unwrap().revoked);
    assert_eq!(store.login_session("nope").await.unwrap(), None);
}

async fn codes_and_sessions_go_with_their_user_and_pool(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    store.insert_authorization_code(&code("c6")).await.unwrap();
    store.insert_login_session(&session("s6")).await.unwrap();
    store.delete_user(POOL, "alice").await.unwrap();
    assert_eq!(store.authorization_code("c6").await.unwrap(), None);
    assert_eq!(store.login_session("s6").await.unwrap(), None);
    store.insert_authorization_code(&code("c7")).await.unwrap();
    store.insert_login_session(&session("s7")).await.unwrap();
    assert!(store.delete_user_pool(POOL).await.unwrap());
    assert_eq!(store.authorization_code("c7").await.unwrap(), None);
    assert_eq!(store.login_session("s7").await.unwrap(), None);
}

async fn refresh_tokens_keep_their_scope(store: &Store) {
    store.insert_user_pool(&pool(POOL), &[]).await.unwrap();
    let mut record = refresh(POOL, "alice", "r8", "o-8");
    record.scope = Some("openid email https://api.example.com/read".into());
    store.insert_refresh_token(&record, None).await.unwrap();
    assert_eq!(store.refresh_token("r8").await.unwrap(), Some(record));
}
