//! Declarative bootstrap: pools and app clients named in the configuration file are created
//! at startup when missing, with fixed ids and secrets, so that a team's development
//! environment and CI are reproducible. Existing ones are left exactly as they are.
//!
//! Each declaration goes through the same model validation and the same creation code as
//! the API, so a configuration file cannot create anything the API would refuse.

use serde_json::{Map, Value};
use tessera_proto::model::ServiceModel;
use tessera_proto::validate::ValidationError;

use crate::input::Input;
use crate::pool::app_client;
use crate::pool::user_pool;
use crate::{Error, Service};

/// A pool to create when missing.
#[derive(Debug, Clone)]
pub struct PoolSpec {
    /// The fixed pool id, e.g. `us-east-1_Example01`.
    pub id: String,
    /// The pool name.
    pub name: String,
    /// Further CreateUserPool members, by AWS name or its snake_case form.
    pub settings: Map<String, Value>,
    /// Its app clients.
    pub clients: Vec<ClientSpec>,
}

/// An app client to create when missing.
#[derive(Clone)]
pub struct ClientSpec {
    /// The fixed client id.
    pub id: String,
    /// The client name.
    pub name: String,
    /// The fixed secret; a client without one is public.
    pub secret: Option<String>,
    /// Further CreateUserPoolClient members, by AWS name or its snake_case form.
    pub settings: Map<String, Value>,
}

impl std::fmt::Debug for ClientSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSpec")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// What went wrong with one declaration.
#[derive(Debug, thiserror::Error)]
#[error("bootstrap of {what}: {message}")]
pub struct BootstrapError {
    what: String,
    message: String,
}

fn fail(what: &str, error: Error) -> BootstrapError {
    BootstrapError {
        what: what.to_owned(),
        message: format!("{}: {}", error.kind, error.message),
    }
}

/// Creates every declared pool and client that does not exist yet.
pub async fn ensure(state: &Service, pools: &[PoolSpec]) -> Result<(), BootstrapError> {
    for pool in pools {
        let what = format!("pool {}", pool.id);
        if !valid_id(&pool.id, true) {
            return Err(fail(
                &what,
                Error::invalid_parameter("a pool id looks like us-east-1_Example01"),
            ));
        }
        if state
            .store
            .user_pool(&pool.id)
            .await
            .map_err(|e| fail(&what, e.into()))?
            .is_none()
        {
            let mut request = aws_members("CreateUserPool", &pool.settings);
            request.insert("PoolName".into(), Value::String(pool.name.clone()));
            let input = validated("CreateUserPool", request).map_err(|e| fail(&what, e))?;
            user_pool::create_pool(state, input, Some(pool.id.clone()))
                .await
                .map_err(|e| fail(&what, e))?;
            tracing::info!(pool_id = %pool.id, "bootstrap created user pool");
        }
        for client in &pool.clients {
            let what = format!("client {} of pool {}", client.id, pool.id);
            if !valid_id(&client.id, false) {
                return Err(fail(
                    &what,
                    Error::invalid_parameter("a client id has only letters, digits, _ and +"),
                ));
            }
            if let Some(secret) = &client.secret {
                if !(24..=64).contains(&secret.len()) || !valid_id(secret, false) {
                    return Err(fail(
                        &what,
                        Error::invalid_parameter(
                            "a client secret has 24 to 64 letters, digits, _ or +",
                        ),
                    ));
                }
            }
            if state
                .store
                .app_client(&client.id)
                .await
                .map_err(|e| fail(&what, e.into()))?
                .is_some()
            {
                continue;
            }
            let mut request = aws_members("CreateUserPoolClient", &client.settings);
            request.insert("UserPoolId".into(), Value::String(pool.id.clone()));
            request.insert("ClientName".into(), Value::String(client.name.clone()));
            request.insert(
                "GenerateSecret".into(),
                Value::Bool(client.secret.is_some()),
            );
            let input = validated("CreateUserPoolClient", request).map_err(|e| fail(&what, e))?;
            app_client::create_client(
                state,
                input,
                Some((client.id.clone(), client.secret.clone())),
            )
            .await
            .map_err(|e| fail(&what, e))?;
            tracing::info!(client_id = %client.id, pool_id = %pool.id, "bootstrap created app client");
        }
    }
    Ok(())
}

fn valid_id(id: &str, pool: bool) -> bool {
    let word = |s: &str, extra: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || extra.contains(c))
    };
    if pool {
        matches!(id.split_once('_'), Some((region, suffix)) if word(region, "-") && suffix.chars().all(|c| c.is_ascii_alphanumeric()) && !suffix.is_empty())
            && id.len() <= 55
    } else {
        word(id, "+") && id.len() <= 128
    }
}

/// Renames `snake_case` keys to the operation's AWS member names (`callback_urls` →
/// `CallbackURLs`); keys already in AWS spelling pass through.
fn aws_members(operation: &str, settings: &Map<String, Value>) -> Map<String, Value> {
    let model = ServiceModel::cognito_idp();
    let members = model.input_members(operation);
    let fold = |name: &str| name.replace('_', "").to_ascii_lowercase();
    settings
        .iter()
        .map(|(key, value)| {
            let name = members
                .iter()
                .find(|m| fold(m) == fold(key))
                .map_or_else(|| key.clone(), |m| (*m).to_owned());
            (name, value.clone())
        })
        .collect()
}

fn validated(operation: &str, request: Map<String, Value>) -> Result<Input, Error> {
    let model = ServiceModel::cognito_idp();
    let Some(op) = model.operation(operation) else {
        return Err(Error::invalid_parameter(format!(
            "unknown operation {operation}"
        )));
    };
    let body = Value::Object(request).to_string();
    model
        .validate_input(op, body.as_bytes())
        .map(Input::new)
        .map_err(|error| match error {
            ValidationError::Serialization(message)
            | ValidationError::InvalidParameter(message) => Error::invalid_parameter(message),
        })
}
