//! TagResource, UntagResource and ListTagsForResource on user pool ARNs. A pool's tags are
//! the `UserPoolTags` of its configuration, so CreateUserPool, UpdateUserPool and these
//! operations all see the same set.

use serde_json::{json, Value};
use tessera_core::UserPool;

use crate::input::Input;
use crate::pool::user_pool;
use crate::{Error, Service};

const MAX_TAGS: usize = 50;

/// The pool a user-pool ARN names. The ARN's region must be the pool's (and the region the
/// request was signed for); its account must be this server's.
async fn pool_of_arn(
    state: &Service,
    input: &Input,
    arn: &str,
) -> Result<std::sync::Arc<UserPool>, Error> {
    let missing = || {
        Error::not_found(format!(
            "Resource {} does not exist.",
            tessera_core::excerpt(arn)
        ))
    };
    let rest = arn
        .strip_prefix("arn:aws:cognito-idp:")
        .ok_or_else(missing)?;
    let (region, rest) = rest.split_once(':').ok_or_else(missing)?;
    let pool_id = rest
        .strip_prefix(&format!("{}:userpool/", state.config.account_id))
        .ok_or_else(missing)?;
    if tessera_core::region_of_pool_id(pool_id) != Some(region)
        || input.region().is_some_and(|signed| signed != region)
    {
        return Err(missing());
    }
    user_pool::load(state, pool_id).await.map_err(|_| missing())
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
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
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
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
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
    let pool = pool_of_arn(state, &input, input.required_str("ResourceArn")?).await?;
    Ok(json!({ "Tags": pool.tags() }))
}
