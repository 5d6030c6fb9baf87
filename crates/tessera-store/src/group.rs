//! Groups of a user pool and their members.

use sqlx::any::AnyRow;
use sqlx::Row;
use tessera_core::{Group, User};

use crate::store::{from_millis, map_conflict, millis};
use crate::{Store, StoreError};

fn group_from_row(row: &AnyRow) -> Result<Group, StoreError> {
    Ok(Group {
        pool_id: row.try_get("pool_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        precedence: row.try_get("precedence")?,
        role_arn: row.try_get("role_arn")?,
        created_at: from_millis(row.try_get("created_at")?),
        last_modified_at: from_millis(row.try_get("last_modified_at")?),
    })
}

const GROUP_COLUMNS: &str =
    "pool_id, name, description, precedence, role_arn, created_at, last_modified_at";

impl Store {
    /// Creates a group; `Conflict` when the name is taken in the pool.
    pub async fn insert_group(&self, group: &Group) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        insert_group_in(&mut tx, group).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The group with this name.
    pub async fn group(&self, pool_id: &str, name: &str) -> Result<Option<Group>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups WHERE pool_id = $1 AND name = $2"
        ))
        .bind(pool_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(group_from_row).transpose()
    }

    /// Replaces a group's description, precedence and role. False when it does not exist.
    pub async fn update_group(&self, group: &Group) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let result = sqlx::query(
            "UPDATE user_groups SET description = $1, precedence = $2, role_arn = $3, last_modified_at = $4 WHERE pool_id = $5 AND name = $6",
        )
        .bind(group.description.clone())
        .bind(group.precedence)
        .bind(group.role_arn.clone())
        .bind(millis(group.last_modified_at))
        .bind(&group.pool_id)
        .bind(&group.name)
        .execute(&self.pool)
        .await?;
        self.forget_groups_of_pool(&group.pool_id);
        Ok(result.rows_affected() == 1)
    }

    /// Deletes a group and its memberships.
    pub async fn delete_group(&self, pool_id: &str, name: &str) -> Result<bool, StoreError> {
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let result = sqlx::query("DELETE FROM user_groups WHERE pool_id = $1 AND name = $2")
            .bind(pool_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.forget_groups_of_pool(pool_id);
        Ok(result.rows_affected() == 1)
    }

    /// Up to `limit` groups with names after `after`, in name order.
    pub async fn list_groups(
        &self,
        pool_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {GROUP_COLUMNS} FROM user_groups WHERE pool_id = $1 AND name > $2 ORDER BY name LIMIT $3"
        ))
        .bind(pool_id)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(group_from_row).collect()
    }

    /// Adds a user to a group; adding a member again changes nothing, even when two nodes
    /// add the same member at once.
    pub async fn add_group_member(
        &self,
        pool_id: &str,
        group: &str,
        user_key: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO group_members (pool_id, group_name, username_key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(pool_id)
        .bind(group)
        .bind(user_key)
        .execute(&self.pool)
        .await?;
        self.forget_groups_of_user(pool_id, user_key);
        Ok(())
    }

    /// Removes a user from a group.
    pub async fn remove_group_member(
        &self,
        pool_id: &str,
        group: &str,
        user_key: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("DELETE FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username_key = $3")
            .bind(pool_id)
            .bind(group)
            .bind(user_key)
            .execute(&self.pool)
            .await?;
        self.forget_groups_of_user(pool_id, user_key);
        Ok(())
    }

    /// The groups a user belongs to, by precedence (lowest first, groups without one last) then name.
    pub async fn groups_of_user(
        &self,
        pool_id: &str,
        user_key: &str,
    ) -> Result<Vec<Group>, StoreError> {
        let cache_key = (pool_id.to_owned(), user_key.to_owned());
        let stamp = match self.serving_cache() {
            Some(cache) => match cache.groups.get(&cache_key) {
                Some(groups) => return Ok(groups),
                None => Some(cache.stamp()),
            },
            None => None,
        };
        let rows = sqlx::query(&format!(
            "SELECT g.{} FROM group_members m JOIN user_groups g ON g.pool_id = m.pool_id AND g.name = m.group_name WHERE m.pool_id = $1 AND m.username_key = $2 ORDER BY g.name",
            GROUP_COLUMNS.replace(", ", ", g.")
        ))
        .bind(pool_id)
        .bind(user_key)
        .fetch_all(&self.pool)
        .await?;
        let mut groups: Vec<Group> = rows.iter().map(group_from_row).collect::<Result<_, _>>()?;
        groups.sort_by_key(|g| (g.precedence.is_none(), g.precedence));
        if let (Some(cache), Some(stamp)) = (&self.cache, stamp) {
            cache.put(&cache.groups, stamp, cache_key, groups.clone());
        }
        Ok(groups)
    }

    pub(crate) fn forget_groups_of_user(&self, pool_id: &str, user_key: &str) {
        if let Some(cache) = &self.cache {
            cache
                .invalidate()
                .groups
                .remove(&(pool_id.to_owned(), user_key.to_owned()));
        }
    }

    /// A group's precedence or role changed, or it went: every member's list changes.
    fn forget_groups_of_pool(&self, pool_id: &str) {
        if let Some(cache) = &self.cache {
            cache
                .invalidate()
                .groups
                .retain(|(pool, _), _| pool != pool_id);
        }
    }

    /// Up to `limit` members of a group with lookup keys after `after`, in key order.
    pub async fn group_members(
        &self,
        pool_id: &str,
        group: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<(String, User)>, StoreError> {
        let keys: Vec<String> = sqlx::query(
            "SELECT username_key FROM group_members WHERE pool_id = $1 AND group_name = $2 AND username_key > $3 ORDER BY username_key LIMIT $4",
        )
        .bind(pool_id)
        .bind(group)
        .bind(after.unwrap_or(""))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| row.try_get("username_key"))
        .collect::<Result<_, _>>()?;
        let mut members = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(user) = self.user(pool_id, &key).await? {
                members.push((key, user));
            }
        }
        Ok(members)
    }
}

pub(crate) async fn insert_group_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    group: &Group,
) -> Result<(), StoreError> {
    let result = sqlx::query(&format!(
        "INSERT INTO user_groups ({GROUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&group.pool_id)
    .bind(&group.name)
    .bind(group.description.clone())
    .bind(group.precedence)
    .bind(group.role_arn.clone())
    .bind(millis(group.created_at))
    .bind(millis(group.last_modified_at))
    .execute(&mut **tx)
    .await;
    map_conflict(result).map(|_| ())
}
