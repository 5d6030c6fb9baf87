//! Groups: CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, and membership
//! (AdminAddUserToGroup, AdminRemoveUserFromGroup, AdminListGroupsForUser,
//! ListUsersInGroup). Precedence and RoleArn are kept for the token claims.

use serde_json::{json, Value};
use tessera_core::Group;
use tessera_store::StoreError;

use crate::directory::{user_type, Directory};
use crate::input::{decode_token, encode_token, epoch_seconds, Input};
use crate::{Error, Service};

fn group_type(group: &Group) -> Value {
    let mut out = json!({
        "GroupName": group.name,
        "UserPoolId": group.pool_id,
        "LastModifiedDate": epoch_seconds(group.last_modified_at),
        "CreationDate": epoch_seconds(group.created_at),
    });
    if let Some(description) = &group.description {
        out["Description"] = json!(description);
    }
    if let Some(role_arn) = &group.role_arn {
        out["RoleArn"] = json!(role_arn);
    }
    if let Some(precedence) = group.precedence {
        out["Precedence"] = json!(precedence);
    }
    out
}

fn group_not_found() -> Error {
    Error::not_found("Group not found.")
}

async fn load(state: &Service, pool_id: &str, name: &str) -> Result<Group, Error> {
    crate::pool::user_pool::load(state, pool_id).await?;
    state
        .store
        .group(pool_id, name)
        .await?
        .ok_or_else(group_not_found)
}

fn limit(input: &Input) -> u32 {
    u32::try_from(input.i64("Limit").unwrap_or(60))
        .unwrap_or(60)
        .clamp(1, 60)
}

/// One page of a listing whose rows were read one beyond `limit`: at most `limit` rows,
/// rendered under `member`, and a `NextToken` naming the last one shown when the extra row
/// says that more follow.
fn page<T>(
    mut rows: Vec<T>,
    limit: u32,
    member: &str,
    render: impl Fn(&T) -> Value,
    position: impl Fn(&T) -> &str,
) -> Value {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let mut output = json!({ member: rows.iter().map(&render).collect::<Vec<_>>() });
    if let (true, Some(last)) = (more, rows.last()) {
        output["NextToken"] = json!(encode_token(position(last)));
    }
    output
}

pub async fn create(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = crate::pool::user_pool::load(state, input.user_pool_id()?).await?;
    let now = state.clock.now();
    let group = Group {
        pool_id: pool.id.clone(),
        name: input.required_str("GroupName")?.to_owned(),
        description: input.str("Description").map(String::from),
        precedence: input.i64("Precedence"),
        role_arn: input.str("RoleArn").map(String::from),
        created_at: now,
        last_modified_at: now,
    };
    state
        .store
        .insert_group(&group)
        .await
        .map_err(|error| match error {
            StoreError::Conflict => Error::new(
                "GroupExistsException",
                format!(
                    "A group with the name {} already exists.",
                    tessera_core::excerpt(&group.name)
                ),
            ),
            other => other.into(),
        })?;
    Ok(json!({ "Group": group_type(&group) }))
}

pub async fn get(state: &Service, input: Input) -> Result<Value, Error> {
    let group = load(
        state,
        input.user_pool_id()?,
        input.required_str("GroupName")?,
    )
    .await?;
    Ok(json!({ "Group": group_type(&group) }))
}

pub async fn update(state: &Service, input: Input) -> Result<Value, Error> {
    let mut group = load(
        state,
        input.user_pool_id()?,
        input.required_str("GroupName")?,
    )
    .await?;
    // Members the request leaves out keep their values.
    if let Some(description) = input.str("Description") {
        group.description = Some(description.to_owned());
    }
    if let Some(precedence) = input.i64("Precedence") {
        group.precedence = Some(precedence);
    }
    if let Some(role_arn) = input.str("RoleArn") {
        group.role_arn = Some(role_arn.to_owned());
    }
    group.last_modified_at = state.clock.now();
    if !state.store.update_group(&group).await? {
        return Err(group_not_found());
    }
    Ok(json!({ "Group": group_type(&group) }))
}

pub async fn delete(state: &Service, input: Input) -> Result<Value, Error> {
    let group = load(
        state,
        input.user_pool_id()?,
        input.required_str("GroupName")?,
    )
    .await?;
    if !state
        .store
        .delete_group(&group.pool_id, &group.name)
        .await?
    {
        return Err(group_not_found());
    }
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = crate::pool::user_pool::load(state, input.user_pool_id()?).await?;
    let limit = limit(&input);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let groups = state
        .store
        .list_groups(&pool.id, after.as_deref(), limit + 1)
        .await?;
    Ok(page(groups, limit, "Groups", group_type, |g| &g.name))
}

pub async fn admin_add_user_to_group(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let group = load(state, &directory.pool.id, input.required_str("GroupName")?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    state
        .store
        .add_group_member(&directory.pool.id, &group.name, &key)
        .await?;
    Ok(json!({}))
}

pub async fn admin_remove_user_from_group(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let group = load(state, &directory.pool.id, input.required_str("GroupName")?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    state
        .store
        .remove_group_member(&directory.pool.id, &group.name, &key)
        .await?;
    Ok(json!({}))
}

pub async fn admin_list_groups_for_user(state: &Service, input: Input) -> Result<Value, Error> {
    let directory = Directory::load(state, input.user_pool_id()?).await?;
    let (key, _) = directory
        .get(state, input.required_str("Username")?)
        .await?;
    let limit = limit(&input);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let mut groups: Vec<Group> = state
        .store
        .groups_of_user(&directory.pool.id, &key)
        .await?
        .into_iter()
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups.retain(|g| after.as_deref().is_none_or(|after| g.name.as_str() > after));
    Ok(page(groups, limit, "Groups", group_type, |g| &g.name))
}

pub async fn list_users_in_group(state: &Service, input: Input) -> Result<Value, Error> {
    let group = load(
        state,
        input.user_pool_id()?,
        input.required_str("GroupName")?,
    )
    .await?;
    let limit = limit(&input);
    let after = input.str("NextToken").map(decode_token).transpose()?;
    let members = state
        .store
        .group_members(&group.pool_id, &group.name, after.as_deref(), limit + 1)
        .await?;
    Ok(page(
        members,
        limit,
        "Users",
        |(_, user)| user_type(user, None),
        |(key, _)| key,
    ))
}
