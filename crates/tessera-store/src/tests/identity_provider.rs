//! Conformance of identity providers (issue 15): details sealed at rest and bound to their
//! provider, names and IdP identifiers unique in a pool (a clash writes nothing), replacement
//! only from the version read, and deletion with the pool.

use serde_json::json;
use tessera_core::IdentityProvider;

use super::{all_bytes, at, contains, pool, postgres, postgres_shared, sqlite};
use crate::{Store, StoreError};

conformance!(
    identity_providers_round_trip_sealed_with_unique_names_and_identifiers,
    identity_providers_are_replaced_from_the_version_read_and_go_with_their_pool,
);

const SECRET: &str = "upstream-client-secret-0123456789";

fn provider(pool_id: &str, name: &str, identifiers: &[&str]) -> IdentityProvider {
    IdentityProvider {
        pool_id: pool_id.into(),
        name: name.into(),
        provider_type: "OIDC".into(),
        details: json!({"client_id": "abc", "client_secret": SECRET, "oidc_issuer": "https://login.example"})
            .as_object()
            .cloned()
            .unwrap(),
        attribute_mapping: json!({"username": "sub", "email": "email"})
            .as_object()
            .cloned()
            .unwrap(),
        idp_identifiers: identifiers.iter().map(|i| (*i).to_owned()).collect(),
        acr_mapping: None,
        created_at: at(1),
        last_modified_at: at(1),
        version: 0,
    }
}

async fn identity_providers_round_trip_sealed_with_unique_names_and_identifiers(store: &Store) {
    let p = pool("us-east-1_Idp000001");
    store.insert_user_pool(&p, &[]).await.unwrap();
    let corp = provider(&p.id, "Corp", &["corp.example", "corp"]);
    store.insert_identity_provider(&corp).await.unwrap();
    let read = store
        .identity_provider(&p.id, "Corp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.details, corp.details);
    assert_eq!(read.attribute_mapping, corp.attribute_mapping);
    assert_eq!(
        read.idp_identifiers,
        vec!["corp.example".to_owned(), "corp".to_owned()],
        "identifiers keep the order they were given in"
    );
    for sealed in all_bytes(store, "SELECT sealed_details FROM identity_providers").await {
        assert!(
            !contains(&sealed, SECRET.as_bytes()),
            "client secret stored in the clear"
        );
    }
    assert!(
        !format!("{read:?}").contains(SECRET),
        "Debug shows the details"
    );

    // A second provider of the same name, or one claiming a taken identifier, writes nothing.
    assert!(matches!(
        store
            .insert_identity_provider(&provider(&p.id, "Corp", &[]))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .insert_identity_provider(&provider(&p.id, "Other", &["new.example", "corp"]))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(store
        .identity_provider(&p.id, "Other")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .identity_provider_by_identifier(&p.id, "new.example")
        .await
        .unwrap()
        .is_none());

    let found = store
        .identity_provider_by_identifier(&p.id, "corp.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.name, "Corp");
    store
        .insert_identity_provider(&provider(&p.id, "Another", &[]))
        .await
        .unwrap();
    let page = store.identity_providers(&p.id, "", 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].name, "Another");
    let rest = store
        .identity_providers(&p.id, &page[0].name, 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Corp"]
    );
}

async fn identity_providers_are_replaced_from_the_version_read_and_go_with_their_pool(
    store: &Store,
) {
    let p = pool("us-east-1_Idp000002");
    store.insert_user_pool(&p, &[]).await.unwrap();
    store
        .insert_identity_provider(&provider(&p.id, "Corp", &["corp"]))
        .await
        .unwrap();
    let read = store
        .identity_provider(&p.id, "Corp")
        .await
        .unwrap()
        .unwrap();
    let mut changed = read.clone();
    changed.idp_identifiers = vec!["corp.example".into()];
    changed
        .details
        .insert("authorize_scopes".into(), json!("openid email"));
    changed.last_modified_at = at(2);
    assert!(store.update_identity_provider(&changed).await.unwrap());
    // A write from the same, now old, read is refused: it would undo the first.
    assert!(!store.update_identity_provider(&read).await.unwrap());
    let now = store
        .identity_provider(&p.id, "Corp")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.version, 1);
    assert_eq!(now.idp_identifiers, vec!["corp.example".to_owned()]);
    assert_eq!(now.details["authorize_scopes"], json!("openid email"));
    assert!(store
        .identity_provider_by_identifier(&p.id, "corp")
        .await
        .unwrap()
        .is_none());

    assert!(store.delete_identity_provider(&p.id, "Corp").await.unwrap());
    assert!(!store.delete_identity_provider(&p.id, "Corp").await.unwrap());
    assert!(store
        .identity_provider_by_identifier(&p.id, "corp.example")
        .await
        .unwrap()
        .is_none());

    store
        .insert_identity_provider(&provider(&p.id, "Again", &["again"]))
        .await
        .unwrap();
    assert!(store.delete_user_pool(&p.id).await.unwrap());
    assert!(store
        .identity_provider(&p.id, "Again")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .identity_provider_by_identifier(&p.id, "again")
        .await
        .unwrap()
        .is_none());
}
