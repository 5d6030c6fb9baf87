//! A user's tracked devices (issue 13): ConfirmDevice, which stores the verifier of the
//! device password the client made up, and GetDevice, ListDevices, UpdateDeviceStatus and
//! ForgetDevice with their Admin forms. Forgetting a device also ends the refresh tokens
//! issued to it.

use serde_json::{json, Value};
use tessera_core::{Device, SrpVerifier};

use crate::directory::Directory;
use crate::input::{epoch_seconds, Input};
use crate::sign_in::access_token::{authorize, Authorized};
use crate::sign_in::device::tracking;
use crate::{Error, Service};

fn device_not_found() -> Error {
    Error::new("ResourceNotFoundException", "Device does not exist.")
}

/// A `DeviceType`. The administrator's view and GetDevice also show whether it is
/// remembered, as Cognito's `dev:device_remembered_status`.
fn device_type(device: &Device, detailed: bool) -> Value {
    let mut attributes = vec![json!({ "Name": "device_status", "Value": "valid" })];
    if let Some(name) = &device.name {
        attributes.push(json!({ "Name": "device_name", "Value": name }));
    }
    if detailed {
        attributes.push(json!({
            "Name": "dev:device_remembered_status",
            "Value": if device.remembered { "remembered" } else { "not_remembered" },
        }));
    }
    json!({
        "DeviceKey": device.device_key,
        "DeviceAttributes": attributes,
        "DeviceCreateDate": epoch_seconds(device.created_at),
        "DeviceLastModifiedDate": epoch_seconds(device.last_modified_at),
        "DeviceLastAuthenticatedDate": epoch_seconds(device.last_authenticated_at),
    })
}

/// A confirmed device of the user.
async fn confirmed(
    service: &Service,
    directory: &Directory,
    key: &str,
    device_key: &str,
) -> Result<Device, Error> {
    crate::sign_in::device::find(service, directory, key, device_key)
        .await?
        .ok_or_else(device_not_found)
}

pub async fn confirm_device(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized {
        directory,
        key,
        claims,
        ..
    } = authorize(service, &input).await?;
    let device_key = input.required_str("DeviceKey")?;
    let Some(tracking) = tracking(&directory) else {
        return Err(device_not_found());
    };
    // Only the sign-in the device was issued to confirms it: its access token names it.
    if claims.get("device_key").and_then(Value::as_str) != Some(device_key) {
        return Err(device_not_found());
    }
    let config = input.get("DeviceSecretVerifierConfig");
    let member = |name: &str| {
        config
            .and_then(|c| c.get(name))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Error::invalid_parameter(format!(
                    "DeviceSecretVerifierConfig.{name} is required to confirm a device."
                ))
            })
    };
    let verifier = SrpVerifier::from_device_config(member("PasswordVerifier")?, member("Salt")?)
        .map_err(|e| Error::invalid_parameter(format!("DeviceSecretVerifierConfig: {e}")))?;
    let mut device = service
        .store
        .device(&directory.pool.id, &key, device_key)
        .await?
        .ok_or_else(device_not_found)?;
    if device.verifier.is_some() {
        // Cognito's wording for a second confirmation was not found.
        return Err(Error::new(
            "DeviceKeyExistsException",
            "The device is already confirmed.",
        ));
    }
    device.verifier = Some(verifier);
    device.name = input
        .str("DeviceName")
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    device.remembered = !tracking.only_remembered_on_user_prompt;
    device.last_modified_at = service.clock.now();
    if !service.store.confirm_device(&device).await? {
        // Forgotten meanwhile, or confirmed by a concurrent request.
        let exists = service
            .store
            .device(&directory.pool.id, &key, device_key)
            .await?
            .is_some();
        return Err(if exists {
            Error::new(
                "DeviceKeyExistsException",
                "The device is already confirmed.",
            )
        } else {
            device_not_found()
        });
    }
    Ok(json!({ "UserConfirmationNecessary": tracking.only_remembered_on_user_prompt }))
}

/// The user whose devices an administrator's request names.
async fn admin_user(service: &Service, input: &Input) -> Result<(Directory, String), Error> {
    let directory = Directory::load(service, input.user_pool_id()?).await?;
    let (key, _) = directory
        .get(service, input.required_str("Username")?)
        .await?;
    Ok((directory, key))
}

pub async fn get_device(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    let device = confirmed(service, &directory, &key, input.required_str("DeviceKey")?).await?;
    Ok(json!({ "Device": device_type(&device, true) }))
}

pub async fn admin_get_device(service: &Service, input: Input) -> Result<Value, Error> {
    let (directory, key) = admin_user(service, &input).await?;
    let device = confirmed(service, &directory, &key, input.required_str("DeviceKey")?).await?;
    Ok(json!({ "Device": device_type(&device, true) }))
}

/// One page of a user's confirmed devices.
async fn list(
    service: &Service,
    directory: &Directory,
    key: &str,
    input: &Input,
    detailed: bool,
) -> Result<Value, Error> {
    let limit = input
        .get("Limit")
        .and_then(Value::as_i64)
        .filter(|l| *l > 0)
        .unwrap_or(60)
        .min(60);
    let after = input.str("PaginationToken").unwrap_or("");
    // Issued devices that were never confirmed are not the user's devices yet.
    let mut found = service
        .store
        .devices(&directory.pool.id, key, after, limit + 1, true)
        .await?;
    let more = found.len() as i64 > limit;
    found.truncate(usize::try_from(limit).unwrap_or(60));
    let mut answer = json!({
        "Devices": found.iter().map(|d| device_type(d, detailed)).collect::<Vec<_>>(),
    });
    if more {
        if let Some(last) = found.last() {
            answer["PaginationToken"] = json!(last.device_key);
        }
    }
    Ok(answer)
}

pub async fn list_devices(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    list(service, &directory, &key, &input, false).await
}

pub async fn admin_list_devices(service: &Service, input: Input) -> Result<Value, Error> {
    let (directory, key) = admin_user(service, &input).await?;
    list(service, &directory, &key, &input, true).await
}

async fn set_status(
    service: &Service,
    directory: &Directory,
    key: &str,
    input: &Input,
) -> Result<Value, Error> {
    let device_key = input.required_str("DeviceKey")?;
    confirmed(service, directory, key, device_key).await?;
    let remembered = input.str("DeviceRememberedStatus") == Some("remembered");
    if !service
        .store
        .set_device_remembered(
            &directory.pool.id,
            key,
            device_key,
            remembered,
            service.clock.now(),
        )
        .await?
    {
        return Err(device_not_found());
    }
    Ok(json!({}))
}

pub async fn update_device_status(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    set_status(service, &directory, &key, &input).await
}

pub async fn admin_update_device_status(service: &Service, input: Input) -> Result<Value, Error> {
    let (directory, key) = admin_user(service, &input).await?;
    set_status(service, &directory, &key, &input).await
}

async fn forget(
    service: &Service,
    directory: &Directory,
    key: &str,
    input: &Input,
) -> Result<Value, Error> {
    let device_key = input.required_str("DeviceKey")?;
    if !service
        .store
        .delete_device(&directory.pool.id, key, device_key)
        .await?
    {
        return Err(device_not_found());
    }
    Ok(json!({}))
}

pub async fn forget_device(service: &Service, input: Input) -> Result<Value, Error> {
    let Authorized { directory, key, .. } = authorize(service, &input).await?;
    forget(service, &directory, &key, &input).await
}

pub async fn admin_forget_device(service: &Service, input: Input) -> Result<Value, Error> {
    let (directory, key) = admin_user(service, &input).await?;
    forget(service, &directory, &key, &input).await
}
