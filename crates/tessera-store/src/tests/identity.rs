//! Conformance of identity pools (issue 14): pools round trip and are replaced only from the
//! version read, a login belongs to one identity (a racing second link is a conflict and
//! writes nothing), merging moves logins, deleting a pool removes its identities, and the
//! identity issuer's keys are sealed.

use serde_json::{json, Map};
use tessera_core::{Identity, IdentityPool, KeyUse, Login, SigningKey};

use super::{all_bytes, at, contains, postgres, postgres_shared, sqlite};
use crate::{IdentityLink, Store, StoreError};

conformance!(
    identity_pools_round_trip_and_replace_from_the_version_read,
    a_login_belongs_to_one_identity_and_merges_move_logins,
    identity_issuer_keys_are_sealed,
);

fn identity_pool(id: &str) -> IdentityPool {
    IdentityPool {
        id: id.into(),
        name: "photos".into(),
        settings: json!({"IdentityPoolName": "photos", "AllowUnauthenticatedIdentities": true})
            .as_object()
            .cloned()
            .unwrap(),
        roles: Map::new(),
        principal_tags: Map::new(),
        created_at: at(1),
        last_modified_at: at(1),
        version: 0,
    }
}

fn identity(id: &str, pool_id: &str) -> Identity {
    Identity {
        id: id.into(),
        pool_id: pool_id.into(),
        logins: Vec::new(),
        authenticated: false,
        created_at: at(2),
        last_modified_at: at(2),
    }
}

fn login(provider: &str, subject: &str) -> Login {
    Login {
        provider: provider.into(),
        subject: subject.into(),
    }
}

async fn identity_pools_round_trip_and_replace_from_the_version_read(store: &Store) {
    let pool = identity_pool("us-east-1:00000000-0000-4000-8000-000000000001");
    store.insert_identity_pool(&pool).await.unwrap();
    assert!(matches!(
        store.insert_identity_pool(&pool).await,
        Err(StoreError::Conflict)
    ));
    let read = store.identity_pool(&pool.id).await.unwrap().unwrap();
    assert_eq!(read, pool);

    let mut changed = read.clone();
    changed.roles = json!({"Roles": {"authenticated": "arn:aws:iam::1:role/A"}})
        .as_object()
        .cloned()
        .unwrap();
    assert!(store.update_identity_pool(&changed).await.unwrap());
    // A write from the same (now old) read is refused: it would undo the first.
    assert!(!store.update_identity_pool(&read).await.unwrap());
    let now = store.identity_pool(&pool.id).await.unwrap().unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.roles, changed.roles);

    let second = identity_pool("us-east-1:00000000-0000-4000-8000-000000000002");
    store.insert_identity_pool(&second).await.unwrap();
    let first_page = store.identity_pools("", 1).await.unwrap();
    assert_eq!(first_page.len(), 1);
    let rest = store.identity_pools(&first_page[0].id, 10).await.unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, first_page[0].id);
}

async fn a_login_belongs_to_one_identity_and_merges_move_logins(store: &Store) {
    let pool = identity_pool("us-east-1:00000000-0000-4000-8000-00000000000a");
    store.insert_identity_pool(&pool).await.unwrap();
    let alice = login("cognito-idp.us-east-1.amazonaws.com/us-east-1_x", "alice");
    let dev = login("login.example", "u-1");
    let first = identity("us-east-1:10000000-0000-4000-8000-000000000001", &pool.id);
    store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &first.id,
            create: Some(&first),
            merge: &[],
            add: std::slice::from_ref(&alice),
            now: at(3),
        })
        .await
        .unwrap();
    assert_eq!(
        store.identity_of_login(&pool.id, &alice).await.unwrap(),
        Some(first.id.clone())
    );
    // A second identity racing for the same login: a conflict, and the identity it would
    // have created does not exist.
    let racer = identity("us-east-1:10000000-0000-4000-8000-000000000002", &pool.id);
    let raced = store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &racer.id,
            create: Some(&racer),
            merge: &[],
            add: std::slice::from_ref(&alice),
            now: at(3),
        })
        .await;
    assert!(matches!(raced, Err(StoreError::Conflict)));
    assert!(store.identity(&racer.id).await.unwrap().is_none());

    let second = identity("us-east-1:10000000-0000-4000-8000-000000000003", &pool.id);
    store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &second.id,
            create: Some(&second),
            merge: &[],
            add: std::slice::from_ref(&dev),
            now: at(4),
        })
        .await
        .unwrap();
    store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &first.id,
            create: None,
            merge: std::slice::from_ref(&second.id),
            add: &[],
            now: at(5),
        })
        .await
        .unwrap();
    let merged = store.identity(&first.id).await.unwrap().unwrap();
    assert_eq!(merged.logins.len(), 2);
    assert!(merged.logins.contains(&dev) && merged.logins.contains(&alice));
    assert_eq!(merged.last_modified_at, at(5));
    assert!(store.identity(&second.id).await.unwrap().is_none());

    assert_eq!(
        store
            .unlink_logins(&first.id, std::slice::from_ref(&dev), at(6))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.identity(&first.id).await.unwrap().unwrap().logins,
        vec![alice.clone()]
    );
    // Once linked, an identity stays authenticated when its logins go: it is inaccessible,
    // not a guest again.
    store
        .unlink_logins(&first.id, std::slice::from_ref(&alice), at(7))
        .await
        .unwrap();
    let bare = store.identity(&first.id).await.unwrap().unwrap();
    assert!(bare.logins.is_empty() && bare.authenticated && bare.is_authenticated());
    store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &first.id,
            create: None,
            merge: &[],
            add: std::slice::from_ref(&alice),
            now: at(8),
        })
        .await
        .unwrap();
    let listed = store.identities(&pool.id, "", 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    // A link into an identity that is gone writes nothing.
    let gone = store
        .link_identity(&IdentityLink {
            pool_id: &pool.id,
            into: &second.id,
            create: None,
            merge: &[],
            add: &[login("login.example", "u-2")],
            now: at(9),
        })
        .await;
    assert!(matches!(gone, Err(StoreError::Conflict)));
    assert_eq!(
        store
            .identity_of_login(&pool.id, &login("login.example", "u-2"))
            .await
            .unwrap(),
        None
    );

    // Deleting the pool takes its identities and logins with it.
    assert!(store.delete_identity_pool(&pool.id).await.unwrap());
    assert!(store.identity(&first.id).await.unwrap().is_none());
    assert_eq!(
        store.identity_of_login(&pool.id, &alice).await.unwrap(),
        None
    );
    assert!(!store.delete_identity_pool(&pool.id).await.unwrap());
}

async fn identity_issuer_keys_are_sealed(store: &Store) {
    assert!(store.identity_signing_keys().await.unwrap().is_empty());
    let key = SigningKey::generate(KeyUse::Id, at(7)).unwrap();
    store.insert_identity_signing_key(&key).await.unwrap();
    let keys = store.identity_signing_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, key.kid);
    assert_eq!(keys[0].pkcs8(), key.pkcs8());
    for sealed in all_bytes(
        store,
        "SELECT sealed_private_key FROM identity_signing_keys",
    )
    .await
    {
        assert!(
            !contains(&sealed, key.pkcs8()),
            "private key stored in the clear"
        );
    }
}
