//! Conformance of the OAuth configuration tables: domains, resource servers and UI
//! customizations, and their removal with their pool or client.

use serde_json::{json, Map};

use super::{at, client, pool, postgres, postgres_shared, sqlite};
use crate::{ResourceServer, Store, StoreError, UiCustomization, UserPoolDomain};

conformance!(
    domains_are_unique_and_one_of_each_kind_per_pool,
    resource_servers_round_trip_in_pages,
    ui_customizations_are_replaced_and_go_with_their_client,
    pool_delete_removes_oauth_configuration,
);

fn domain(pool_id: &str, name: &str, custom: bool) -> UserPoolDomain {
    let mut settings = Map::new();
    settings.insert("ManagedLoginVersion".into(), json!(1));
    if custom {
        settings.insert(
            "CustomDomainConfig".into(),
            json!({"CertificateArn": "arn:aws:acm:us-east-1:000000000000:certificate/x"}),
        );
    }
    UserPoolDomain {
        domain: name.into(),
        pool_id: pool_id.into(),
        custom,
        settings,
        version: "20231114221320".into(),
        created_at: at(1_700_000_000),
    }
}

fn resource_server(pool_id: &str, identifier: &str) -> ResourceServer {
    ResourceServer {
        pool_id: pool_id.into(),
        identifier: identifier.into(),
        name: format!("api {identifier}"),
        scopes: vec![json!({"ScopeName": "read", "ScopeDescription": "Read"})],
        created_at: at(1_700_000_002),
    }
}

fn ui(pool_id: &str, client_id: &str, css: &str, seconds: u64) -> UiCustomization {
    UiCustomization {
        pool_id: pool_id.into(),
        client_id: client_id.into(),
        css: Some(css.into()),
        image: Some(vec![0x89, b'P', b'N', b'G', 0, 1, 2]),
        image_type: Some("image/png".into()),
        css_version: format!("v{seconds}"),
        created_at: at(seconds),
        modified_at: at(seconds),
    }
}

async fn domains_are_unique_and_one_of_each_kind_per_pool(store: &Store) {
    let (a, b) = ("us-east-1_DomainAAA", "us-east-1_DomainBBB");
    store.insert_user_pool(&pool(a), &[]).await.unwrap();
    store.insert_user_pool(&pool(b), &[]).await.unwrap();
    let prefix = domain(a, "my-app", false);
    store.insert_domain(&prefix).await.unwrap();
    // The same domain for another pool, and a second prefix domain for the same pool.
    assert!(matches!(
        store.insert_domain(&domain(b, "my-app", false)).await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.insert_domain(&domain(a, "other-app", false)).await,
        Err(StoreError::Conflict)
    ));
    let custom = domain(a, "auth.example.com", true);
    store.insert_domain(&custom).await.unwrap();
    assert!(matches!(
        store
            .insert_domain(&domain(a, "login.example.com", true))
            .await,
        Err(StoreError::Conflict)
    ));
    store
        .insert_domain(&domain(b, "other-app", false))
        .await
        .unwrap();

    assert_eq!(store.domain("my-app").await.unwrap(), Some(prefix.clone()));
    assert_eq!(store.domain("nope").await.unwrap(), None);
    assert_eq!(
        store.pool_of_domain("auth.example.com").await.unwrap(),
        Some(a.to_owned())
    );
    assert_eq!(store.pool_of_domain("nope").await.unwrap(), None);
    assert_eq!(
        store.domains_of_pool(a).await.unwrap(),
        vec![prefix.clone(), custom.clone()]
    );

    let mut updated = custom.clone();
    updated.version = "20231115000000".into();
    updated
        .settings
        .insert("ManagedLoginVersion".into(), json!(2));
    assert!(store.update_domain(&updated).await.unwrap());
    assert_eq!(
        store.domain("auth.example.com").await.unwrap(),
        Some(updated)
    );
    // A domain is only changed or deleted through its own pool.
    let mut foreign = prefix.clone();
    foreign.pool_id = b.into();
    assert!(!store.update_domain(&foreign).await.unwrap());
    assert!(!store.delete_domain(b, "my-app").await.unwrap());
    assert!(store.delete_domain(a, "my-app").await.unwrap());
    assert!(!store.delete_domain(a, "my-app").await.unwrap());
    assert_eq!(store.domain("my-app").await.unwrap(), None);
    // Once deleted, the name is free for any pool.
    store
        .insert_domain(&domain(a, "my-app", false))
        .await
        .unwrap();
}

async fn resource_servers_round_trip_in_pages(store: &Store) {
    let p = "us-east-1_Resource0";
    store.insert_user_pool(&pool(p), &[]).await.unwrap();
    let ids = [
        "https://a.example",
        "https://b.example/v1",
        "urn:c",
        "urn:d",
    ];
    for id in ids.iter().rev() {
        store
            .insert_resource_server(&resource_server(p, id))
            .await
            .unwrap();
    }
    assert!(matches!(
        store
            .insert_resource_server(&resource_server(p, "urn:c"))
            .await,
        Err(StoreError::Conflict)
    ));
    let loaded = store.resource_server(p, "urn:c").await.unwrap().unwrap();
    assert_eq!(loaded, resource_server(p, "urn:c"));
    assert_eq!(loaded.scope_names().collect::<Vec<_>>(), ["read"]);
    assert!(store
        .resource_server("us-east-1_Other0000", "urn:c")
        .await
        .unwrap()
        .is_none());

    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_resource_servers(p, after.as_deref(), 3)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|s| s.identifier.clone());
        seen.extend(page.into_iter().map(|s| s.identifier));
    }
    assert_eq!(seen, ids);

    let mut changed = resource_server(p, "urn:d");
    changed.name = "renamed".into();
    changed.scopes = vec![];
    assert!(store.update_resource_server(&changed).await.unwrap());
    assert_eq!(
        store.resource_server(p, "urn:d").await.unwrap(),
        Some(changed)
    );
    assert!(!store
        .update_resource_server(&resource_server(p, "urn:none"))
        .await
        .unwrap());
    assert!(store.delete_resource_server(p, "urn:d").await.unwrap());
    assert!(!store.delete_resource_server(p, "urn:d").await.unwrap());
    assert!(store.resource_server(p, "urn:d").await.unwrap().is_none());
}

async fn ui_customizations_are_replaced_and_go_with_their_client(store: &Store) {
    let p = "us-east-1_UiCustom0";
    store.insert_user_pool(&pool(p), &[]).await.unwrap();
    store
        .insert_app_client(&client(p, "uiclient", None))
        .await
        .unwrap();
    let first = ui(p, "ALL", ".banner-customizable { color: red; }", 100);
    store.put_ui_customization(&first).await.unwrap();
    assert_eq!(
        store.ui_customization(p, "ALL").await.unwrap(),
        Some(first.clone())
    );
    // A second write replaces everything but the creation time.
    let mut second = ui(p, "ALL", ".label-customizable { color: blue; }", 200);
    second.image = None;
    second.image_type = None;
    store.put_ui_customization(&second).await.unwrap();
    let mut expected = second.clone();
    expected.created_at = first.created_at;
    assert_eq!(
        store.ui_customization(p, "ALL").await.unwrap(),
        Some(expected.clone())
    );

    let own = ui(p, "uiclient", "", 300);
    store.put_ui_customization(&own).await.unwrap();
    assert_eq!(
        store.ui_customization(p, "uiclient").await.unwrap(),
        Some(own)
    );
    assert!(store.ui_customization(p, "other").await.unwrap().is_none());
    assert!(store.delete_app_client(p, "uiclient").await.unwrap());
    assert!(store
        .ui_customization(p, "uiclient")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store.ui_customization(p, "ALL").await.unwrap(),
        Some(expected)
    );
}

async fn pool_delete_removes_oauth_configuration(store: &Store) {
    let p = "us-east-1_OAuthGone";
    store.insert_user_pool(&pool(p), &[]).await.unwrap();
    store
        .insert_domain(&domain(p, "gone-app", false))
        .await
        .unwrap();
    store
        .insert_resource_server(&resource_server(p, "urn:gone"))
        .await
        .unwrap();
    store
        .put_ui_customization(&ui(p, "ALL", "", 1))
        .await
        .unwrap();
    assert!(store.delete_user_pool(p).await.unwrap());
    assert!(store.domain("gone-app").await.unwrap().is_none());
    assert!(store.domains_of_pool(p).await.unwrap().is_empty());
    assert!(store
        .resource_server(p, "urn:gone")
        .await
        .unwrap()
        .is_none());
    assert!(store.ui_customization(p, "ALL").await.unwrap().is_none());
    // A pool created again with the same id starts empty.
    store.insert_user_pool(&pool(p), &[]).await.unwrap();
    assert!(store
        .list_resource_servers(p, None, 10)
        .await
        .unwrap()
        .is_empty());
}
