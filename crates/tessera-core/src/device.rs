//! A user's device as Cognito's device tracking knows it (issue 13): the key and group key the
//! server hands out at sign-in, the SRP verifier the client computes from a device password
//! only it knows (ConfirmDevice), and whether the user chose to remember it.

use std::time::SystemTime;

use crate::SrpVerifier;

/// A tracked device.
#[derive(Clone, PartialEq, Eq)]
pub struct Device {
    pub pool_id: String,
    /// The lookup key of the user it belongs to.
    pub username_key: String,
    /// `DeviceKey`: `<region>_<uuid>`.
    pub device_key: String,
    /// `DeviceGroupKey`: the SRP "pool name" of the device's password.
    pub group_key: String,
    /// The device password's salt and verifier from ConfirmDevice (sealed by the store);
    /// `None` until the device is confirmed.
    pub verifier: Option<SrpVerifier>,
    /// ConfirmDevice's `DeviceName`.
    pub name: Option<String>,
    /// Remembered: it may sign in with DEVICE_SRP_AUTH in place of MFA, where the pool says so.
    pub remembered: bool,
    pub created_at: SystemTime,
    pub last_modified_at: SystemTime,
    /// The last sign-in that proved the device, or that the device was issued at.
    pub last_authenticated_at: SystemTime,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("pool_id", &self.pool_id)
            .field("device_key", &self.device_key)
            .field("confirmed", &self.verifier.is_some())
            .field("remembered", &self.remembered)
            .finish_non_exhaustive()
    }
}

impl Device {
    /// The context that binds a device's sealed verifier to its pool, user and key.
    pub fn seal_context(pool_id: &str, username_key: &str, device_key: &str) -> String {
        format!("device:{pool_id}:{username_key}:{device_key}")
    }

    /// A new `DeviceGroupKey`: Cognito's are nine characters starting with `-` (`-v7w9UcY6`);
    /// eight random base64url characters follow it here.
    pub fn new_group_key(random: &dyn crate::Random) -> String {
        use base64::Engine;
        let mut bytes = [0u8; 6];
        random.fill(&mut bytes);
        format!(
            "-{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        )
    }
}
