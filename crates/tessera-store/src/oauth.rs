//! The OAuth configuration of a pool: hosted domains, resource servers and the UI
//! customization of the hosted pages.

use std::time::SystemTime;

use serde_json::{Map, Value};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

/// A domain a pool's hosted pages are served on.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPoolDomain {
    /// The prefix (`my-app`) or, for a custom domain, the FQDN (`auth.example.com`).
    pub domain: String,
    /// The pool it belongs to.
    pub pool_id: String,
    /// Whether this is a custom domain (one with a `CustomDomainConfig`).
    pub custom: bool,
    /// `CustomDomainConfig`, `ManagedLoginVersion` and `Routing`, as the API gave them.
    pub settings: Map<String, Value>,
    /// Cognito's `Version`: the time of the last write as `yyyyMMddHHmmss`.
    pub version: String,
    /// When the domain was created.
    pub created_at: SystemTime,
}

/// A resource server: an API whose custom scopes (`<identifier>/<scope name>`) app clients
/// may be allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceServer {
    /// The pool it belongs to.
    pub pool_id: String,
    /// Its identifier, unique in the pool (often the API's URL).
    pub identifier: String,
    /// Its friendly name.
    pub name: String,
    /// The `ResourceServerScopeType` documents (`ScopeName`, `ScopeDescription`).
    pub scopes: Vec<Value>,
    /// When it was created.
    pub created_at: SystemTime,
}

impl ResourceServer {
    /// The names of its scopes.
    pub fn scope_names(&self) -> impl Iterator<Item = &str> {
        self.scopes
            .iter()
            .filter_map(|scope| scope.get("ScopeName").and_then(Value::as_str))
    }
}

/// The customization of a pool's hosted pages, for one client or (`client_id` `ALL`) the
/// pool's default.
#[derive(Debug, Clone, PartialEq)]
pub struct UiCustomization {
    /// The pool.
    pub pool_id: String,
    /// The client, or `ALL`.
    pub client_id: String,
    /// The stylesheet, already checked by the caller.
    pub css: Option<String>,
    /// The logo's bytes.
    pub image: Option<Vec<u8>>,
    /// The logo's content type (`image/png`, `image/jpeg`).
    pub image_type: Option<String>,
    /// Cognito's `CSSVersion`.
    pub css_version: String,
    /// When it was first set.
    pub created_at: SystemTime,
    /// When it was last set.
    pub modified_at: SystemTime,
}

const DOMAIN_COLUMNS: &str = "domain, pool_id, custom, settings, version, created_at";
const RESOURCE_SERVER_COLUMNS: &str = "pool_id, identifier, name, scopes, created_at";
const UI_COLUMNS: &str =
    "pool_id, client_id, css, image, image_type, css_version, created_at, modified_at";

fn corrupt(error: serde_json::Error) -> StoreError {
    StoreError::Corrupt(error.to_string())
}

fn domain_from_row(row: &AnyRow) -> Result<UserPoolDomain, StoreError> {
    let settings: String = row.try_get("settings")?;
    let settings = match serde_json::from_str(&settings).map_err(corrupt)? {
        Value::Object(map) => map,
        _ => {
            return Err(StoreError::Corrupt(
                "domain settings is not an object".into(),
            ))
        }
    };
    let custom: i64 = row.try_get("custom")?;
    Ok(UserPoolDomain {
        domain: row.try_get("domain")?,
        pool_id: row.try_get("pool_id")?,
        custom: custom != 0,
        settings,
        version: row.try_get("version")?,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn resource_server_from_row(row: &AnyRow) -> Result<ResourceServer, StoreError> {
    let scopes: String = row.try_get("scopes")?;
    let scopes = match serde_json::from_str(&scopes).map_err(corrupt)? {
        Value::Array(items) => items,
        _ => return Err(StoreError::Corrupt("scopes is not an array".into())),
    };
    Ok(ResourceServer {
        pool_id: row.try_get("pool_id")?,
        identifier: row.try_get("identifier")?,
        name: row.try_get("name")?,
        scopes,
        created_at: from_millis(row.try_get("created_at")?),
    })
}

fn ui_from_row(row: &AnyRow) -> Result<UiCustomization, StoreError> {
    Ok(UiCustomization {
        pool_id: row.try_get("pool_id")?,
        client_id: row.try_get("client_id")?,
        css: row.try_get("css")?,
        image: row.try_get("image")?,
        image_type: row.try_get("image_type")?,
        css_version: row.try_get("css_version")?,
        created_at: from_millis(row.try_get("created_at")?),
        modified_at: from_millis(row.try_get("modified_at")?),
    })
}

impl Store {
    // ---- domains ----

    /// Stores a new domain. `Conflict` when the domain is taken (by any pool) or the pool
    /// already has a domain of the same kind.
    pub async fn insert_domain(&self, domain: &UserPoolDomain) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(&format!(
            "INSERT INTO user_pool_domains ({DOMAIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(&domain.domain)
        .bind(&domain.pool_id)
        .bind(i64::from(domain.custom))
        .bind(Value::Object(domain.settings.clone()).to_string())
        .bind(&domain.version)
        .bind(millis(domain.created_at))
        .execute(&self.pool)
        .await;
        map_conflict(result).map(|_| ())
    }

    /// The domain with this name, whatever its pool.
    pub async fn domain(&self, domain: &str) -> Result<Option<UserPoolDomain>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM user_pool_domains WHERE domain = $1"
        ))
        .bind(domain)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(domain_from_row).transpose()
    }

    /// The pool a domain serves, for routing requests by host.
    pub async fn pool_of_domain(&self, domain: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT pool_id FROM user_pool_domains WHERE domain = $1")
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|row| row.try_get("pool_id")).transpose()?)
    }

    /// A pool's domains: the prefix domain before the custom one.
    pub async fn domains_of_pool(&self, pool_id: &str) -> Result<Vec<UserPoolDomain>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DOMAIN_COLUMNS} FROM user_pool_domains WHERE pool_id = $1 ORDER BY custom, domain"
        ))
        .bind(pool_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(domain_from_row).collect()
    }

    /// Replaces a domain's settings and version. False when the pool has no such domain.
    pub async fn update_domain(&self, domain: &UserPoolDomain) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE user_pool_domains SET settings = $1, version = $2 WHERE domain = $3 AND pool_id = $4",
        )
        .bind(Value::Object(domain.settings.clone()).to_string())
        .bind(&domain.version)
        .bind(&domain.domain)
        .bind(&domain.pool_id)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a pool's domain. False when the pool has no such domain.
    pub async fn delete_domain(&self, pool_id: &str, domain: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result =
            sqlx::query("DELETE FROM user_pool_domains WHERE domain = $1 AND pool_id = $2")
                .bind(domain)
                .bind(pool_id)
                .execute(&self.pool)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    // ---- resource servers ----

    /// Stores a new resource server; `Conflict` when the identifier is taken in the pool.
    pub async fn insert_resource_server(&self, server: &ResourceServer) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(&format!(
            "INSERT INTO resource_servers ({RESOURCE_SERVER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(&server.pool_id)
        .bind(&server.identifier)
        .bind(&server.name)
        .bind(Value::Array(server.scopes.clone()).to_string())
        .bind(millis(server.created_at))
        .execute(&self.pool)
        .await;
        // A cached absence of this identifier is now wrong.
        self.forget_resource_server(&server.pool_id, &server.identifier);
        map_conflict(result).map(|_| ())
    }

    /// The resource server with this identifier.
    pub async fn resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<Option<ResourceServer>, StoreError> {
        let key = (pool_id.to_owned(), identifier.to_owned());
        let stamp = match self.serving_cache() {
            Some(cache) => match cache.resource_servers.get(&key) {
                Some(server) => return Ok(server),
                None => Some(cache.stamp()),
            },
            None => None,
        };
        let row = sqlx::query(&format!(
            "SELECT {RESOURCE_SERVER_COLUMNS} FROM resource_servers WHERE pool_id = $1 AND identifier = $2"
        ))
        .bind(pool_id)
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await?;
        let server = row.as_ref().map(resource_server_from_row).transpose()?;
        if let (Some(cache), Some(stamp)) = (&self.cache, stamp) {
            cache.put(&cache.resource_servers, stamp, key, server.clone());
        }
        Ok(server)
    }

    fn forget_resource_server(&self, pool_id: &str, identifier: &str) {
        if let Some(cache) = &self.cache {
            cache
                .invalidate()
                .resource_servers
                .remove(&(pool_id.to_owned(), identifier.to_owned()));
        }
    }

    /// Replaces a resource server's name and scopes. False when it does not exist.
    pub async fn update_resource_server(
        &self,
        server: &ResourceServer,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE resource_servers SET name = $1, scopes = $2 WHERE pool_id = $3 AND identifier = $4",
        )
        .bind(&server.name)
        .bind(Value::Array(server.scopes.clone()).to_string())
        .bind(&server.pool_id)
        .bind(&server.identifier)
        .execute(&self.pool)
        .await?;
        self.forget_resource_server(&server.pool_id, &server.identifier);
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a resource server. False when it did not exist.
    pub async fn delete_resource_server(
        &self,
        pool_id: &str,
        identifier: &str,
    ) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result =
            sqlx::query("DELETE FROM resource_servers WHERE pool_id = $1 AND identifier = $2")
                .bind(pool_id)
                .bind(identifier)
                .execute(&self.pool)
                .await?;
        self.forget_resource_server(pool_id, identifier);
        Ok(result.rows_affected() == 1)
    }

    /// Up to `limit` resource servers of a pool with identifiers after `after`, in
    /// identifier order.
    pub async fn list_resource_servers(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ResourceServer>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RESOURCE_SERVER_COLUMNS} FROM resource_servers WHERE pool_id = $1 AND identifier > $2 ORDER BY identifier LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(resource_server_from_row).collect()
    }

    // ---- UI customization ----

    /// Sets the customization of a client (or `ALL`), replacing any earlier one; the
    /// creation time of an earlier one is kept.
    pub async fn put_ui_customization(&self, ui: &UiCustomization) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(&format!(
            "INSERT INTO ui_customizations ({UI_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (pool_id, client_id) DO UPDATE SET css = excluded.css, image = excluded.image, \
             image_type = excluded.image_type, css_version = excluded.css_version, modified_at = excluded.modified_at"
        ))
        .bind(&ui.pool_id)
        .bind(&ui.client_id)
        .bind(ui.css.clone())
        .bind(ui.image.clone())
        .bind(ui.image_type.clone())
        .bind(&ui.css_version)
        .bind(millis(ui.created_at))
        .bind(millis(ui.modified_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The customization set for exactly this client (or `ALL`), without falling back.
    pub async fn ui_customization(
        &self,
        pool_id: &str,
        client_id: &str,
    ) -> Result<Option<UiCustomization>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {UI_COLUMNS} FROM ui_customizations WHERE pool_id = $1 AND client_id = $2"
        ))
        .bind(pool_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(ui_from_row).transpose()
    }
}
