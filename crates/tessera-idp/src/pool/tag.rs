//! TagResource, UntagResource and ListTagsForResource on user pool ARNs. A pool's tags are
//! the `UserPoolTags` of its configuration, so CreateUserPool, UpdateUserPool and these
//! operations all see the same set.

use serde_json::{json, Value};
use tessera_core::UserPool;

use crate::input::Input;
use crate::pool::user_pool;
use crate::{Error, Service};

const MAX_TAGS: usize = 50;

async fn pool_of_arn(state: &Service, arn: &str) -> Result<std::sync::Arc<UserPool>, Error> {
    let prefix = format!(
        "arn:aws:cognito-idp:{}:{}:userpool/",
        state.config.region, state.config.account_id
    );
    let pool_id = arn.strip_prefix(&prefix).ok_or_else(|| {
        Error::not_found(format!(
            "Resource {} does not exist.",
            tessera_core::excerpt(arn)
        ))
    })?;
    user_pool::load(state, pool_id).await.map_err(|_| {
        Error::not_found(format!(
            "Resource {} does not exist.",
            tessera_core::excerpt(arn)
        ))
    })
}

async fn save(
    state: &Service,
    mut pool: UserPool,
    tags: serde_json::Map<String, Value>,
) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid_parameter(format!(
            "A resource can have at most {MAX_TAGS} tags."
        )));
    }
    pool.settings
        .insert("UserPoolTags".into(), Value::Object(tags));
    if !state.store.update_user_pool(&pool).await? {
        return Err(Error::pool_not_found(&pool.id));
    }
    Ok(())
}

pub async fn tag(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, input.required_str("ResourceArn")?).await?;
    let mut tags = pool.tags();
    if let Some(new) = input.get("Tags").and_then(Value::as_object) {
        for (key, value) in new {
            tags.insert(key.clone(), value.clone());
        }
    }
    save(state, std::sync::Arc::unwrap_or_clone(pool), tags).await?;
    Ok(json!({}))
}

pub async fn untag(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, input.required_str("ResourceArn")?).await?;
    let mut tags = pool.tags();
    for key in input
        .get("TagKeys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(key) = key.as_str() {
            tags.remove(key);
        }
    }
    save(state, std::sync::Arc::unwrap_or_clone(pool), tags).await?;
    Ok(json!({}))
}

pub async fn list(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = pool_of_arn(state, input.required_str("ResourceArn")?).await?;
    Ok(json!({ "Tags": pool.tags() }))
}
