//! Conformance of federation state (issue 15): a pool keeps one SAML signing key, sealed; a
//! sign-in sent upstream is consumed once and not after it expires; a SAML assertion is
//! accepted once; all of it goes with the pool.

use std::time::Duration;

use serde_json::json;

use super::{all_bytes, at, contains, pool, postgres, postgres_shared, sqlite};
use crate::{FederatedLink, FederationRequest, SamlSession, SamlSigningKey, Store, StoreError};

conformance!(
    a_pool_keeps_its_first_saml_signing_key_sealed,
    federation_requests_are_consumed_once_before_they_expire,
    saml_assertions_are_accepted_once,
    federated_links_are_unique_limited_per_user_and_go_with_the_user,
    saml_sessions_keep_the_last_sign_in_per_provider,
);

const PRIVATE_KEY: &[u8] = b"-----private-key-bytes-0123456789-----";

async fn a_pool_keeps_its_first_saml_signing_key_sealed(store: &Store) {
    let p = pool("us-east-1_Fed000001");
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert!(store.saml_signing_key(&p.id).await.unwrap().is_none());
    let first = SamlSigningKey {
        pool_id: p.id.clone(),
        private_key: PRIVATE_KEY.to_vec(),
        certificate: b"certificate-one".to_vec(),
        created_at: at(1),
    };
    let kept = store.insert_saml_signing_key(&first).await.unwrap();
    assert_eq!(kept.certificate, first.certificate);
    // A second first use (another node, the same moment) gets the key already there.
    let second = SamlSigningKey {
        certificate: b"certificate-two".to_vec(),
        private_key: b"another".to_vec(),
        ..first.clone()
    };
    let kept = store.insert_saml_signing_key(&second).await.unwrap();
    assert_eq!(kept.certificate, first.certificate);
    assert_eq!(kept.private_key, PRIVATE_KEY);
    for sealed in all_bytes(store, "SELECT sealed_private_key FROM saml_signing_keys").await {
        assert!(
            !contains(&sealed, PRIVATE_KEY),
            "private key stored in the clear"
        );
    }
    store.delete_user_pool(&p.id).await.unwrap();
    assert!(store.saml_signing_key(&p.id).await.unwrap().is_none());
}

fn request(pool_id: &str, state_hash: &str) -> FederationRequest {
    FederationRequest {
        state_hash: state_hash.into(),
        pool_id: pool_id.into(),
        provider_name: "Corp".into(),
        request: json!({"nonce": "n-0123456789", "verifier": "v-secret-0123456789"}),
        created_at: at(10),
        expires_at: at(10) + Duration::from_secs(300),
    }
}

async fn federation_requests_are_consumed_once_before_they_expire(store: &Store) {
    let p = pool("us-east-1_Fed000002");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store
        .insert_federation_request(&request(&p.id, "aa"))
        .await
        .unwrap();
    store
        .insert_federation_request(&request(&p.id, "bb"))
        .await
        .unwrap();
    for sealed in all_bytes(store, "SELECT sealed_request FROM federation_requests").await {
        assert!(
            !contains(&sealed, b"v-secret-0123456789"),
            "PKCE verifier stored in the clear"
        );
    }
    let taken = store
        .take_federation_request("aa", at(20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.provider_name, "Corp");
    assert_eq!(taken.request["verifier"], "v-secret-0123456789");
    assert!(store
        .take_federation_request("aa", at(21))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .take_federation_request("zz", at(21))
        .await
        .unwrap()
        .is_none());
    // Expired: five minutes after it was sent, the state is worth nothing.
    assert!(store
        .take_federation_request("bb", at(400))
        .await
        .unwrap()
        .is_none());
    store
        .sweep_expired(at(400), Duration::from_secs(60))
        .await
        .unwrap();
    let left = all_bytes(store, "SELECT sealed_request FROM federation_requests").await;
    assert!(
        left.is_empty(),
        "the sweep keeps expired federation requests"
    );
}

async fn saml_assertions_are_accepted_once(store: &Store) {
    let p = pool("us-east-1_Fed000003");
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert!(store
        .record_saml_assertion(&p.id, "_a1", at(100))
        .await
        .unwrap());
    assert!(!store
        .record_saml_assertion(&p.id, "_a1", at(100))
        .await
        .unwrap());
    assert!(store
        .record_saml_assertion(&p.id, "_a2", at(100))
        .await
        .unwrap());
    store.delete_user_pool(&p.id).await.unwrap();
    assert!(store
        .record_saml_assertion(&p.id, "_a1", at(100))
        .await
        .unwrap());
}

fn link(pool_id: &str, value: &str, user: &str) -> FederatedLink {
    FederatedLink {
        pool_id: pool_id.into(),
        provider_name: "Corp".into(),
        attribute_name: "Cognito_Subject".into(),
        attribute_value: value.into(),
        username_key: user.into(),
        created_at: at(5),
    }
}

async fn federated_links_are_unique_limited_per_user_and_go_with_the_user(store: &Store) {
    let p = pool("us-east-1_Fed000004");
    store.insert_user_pool(&p, &[]).await.unwrap();
    assert!(store
        .insert_federated_link(&link(&p.id, "s1", "ana"), 2)
        .await
        .unwrap());
    assert!(matches!(
        store
            .insert_federated_link(&link(&p.id, "s1", "ben"), 2)
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(store
        .insert_federated_link(&link(&p.id, "s2", "ana"), 2)
        .await
        .unwrap());
    // At the limit: refused, nothing written.
    assert!(!store
        .insert_federated_link(&link(&p.id, "s3", "ana"), 2)
        .await
        .unwrap());
    assert!(store
        .federated_link(&p.id, "Corp", "Cognito_Subject", "s3")
        .await
        .unwrap()
        .is_none());
    let found = store
        .federated_link(&p.id, "Corp", "Cognito_Subject", "s1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.username_key, "ana");
    assert_eq!(
        store
            .federated_links_of_user(&p.id, "ana")
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .federated_link_attributes(&p.id, "Corp")
            .await
            .unwrap(),
        vec!["Cognito_Subject".to_owned()]
    );
    let removed = store
        .delete_federated_link(&p.id, "Corp", "Cognito_Subject", "s2")
        .await
        .unwrap();
    assert_eq!(removed.map(|l| l.username_key).as_deref(), Some("ana"));
    assert!(store
        .delete_federated_link(&p.id, "Corp", "Cognito_Subject", "s2")
        .await
        .unwrap()
        .is_none());
    store.delete_user(&p.id, "ana").await.unwrap();
    assert!(store
        .federated_links_of_user(&p.id, "ana")
        .await
        .unwrap()
        .is_empty());
}

async fn saml_sessions_keep_the_last_sign_in_per_provider(store: &Store) {
    let p = pool("us-east-1_Fed000005");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let session = |index: &str, at_s: u64| SamlSession {
        pool_id: p.id.clone(),
        username_key: "corp_ana".into(),
        provider_name: "Corp".into(),
        name_id: "ana".into(),
        session_index: Some(index.into()),
        created_at: at(at_s),
    };
    store.put_saml_session(&session("_s1", 1)).await.unwrap();
    store.put_saml_session(&session("_s2", 2)).await.unwrap();
    let sessions = store.saml_sessions(&p.id, "corp_ana").await.unwrap();
    assert_eq!(sessions, vec![session("_s2", 2)]);
    store
        .delete_saml_session(&p.id, "corp_ana", "Corp")
        .await
        .unwrap();
    assert!(store
        .saml_sessions(&p.id, "corp_ana")
        .await
        .unwrap()
        .is_empty());
    store.put_saml_session(&session("_s3", 3)).await.unwrap();
    store.delete_user(&p.id, "corp_ana").await.unwrap();
    assert!(store
        .saml_sessions(&p.id, "corp_ana")
        .await
        .unwrap()
        .is_empty());
}
