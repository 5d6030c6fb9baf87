//! SetUserPoolMfaConfig and GetUserPoolMfaConfig (issue 13): whether a pool asks for MFA
//! (`OFF`, `OPTIONAL`, `ON`) and with which factors. `MfaConfiguration`,
//! `SmsAuthenticationMessage` and `SmsConfiguration` are members of the pool itself
//! (DescribeUserPool shows them); the TOTP, e-mail and passkey settings exist only here, so
//! they are kept under [`MFA_SETTINGS`], a key of the pool's settings that no Cognito
//! document shows and UpdateUserPool keeps.

use serde_json::{json, Map, Value};

use crate::input::Input;
use crate::pool::user_pool::load;
use crate::{Error, Service};

/// The pool-settings key of the MFA settings only SetUserPoolMfaConfig writes.
pub const MFA_SETTINGS: &str = "tessera:MfaSettings";

/// The factors a pool offers for MFA, as SetUserPoolMfaConfig left them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MfaFactors {
    pub sms: bool,
    pub software_token: bool,
    pub email: bool,
}

/// The factors stored for a pool.
pub fn factors(settings: &Map<String, Value>) -> MfaFactors {
    let stored = settings.get(MFA_SETTINGS);
    let member = |name: &str| stored.and_then(|s| s.get(name)).filter(|v| !v.is_null());
    MfaFactors {
        sms: member("SmsMfaConfiguration").is_some(),
        software_token: member("SoftwareTokenMfaConfiguration")
            .and_then(|c| c.get("Enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        email: member("EmailMfaConfiguration").is_some(),
    }
}

/// Brings the MFA settings in line with what CreateUserPool or UpdateUserPool just set. Those
/// operations configure only SMS MFA (`MfaConfiguration` with `SmsConfiguration`), as
/// Cognito's model says: a pool turned `OFF` keeps no MFA factor (passkeys stay), SMS is a
/// factor exactly while the pool has an `SmsConfiguration`, and `ON` or `OPTIONAL` without
/// any factor is refused as Cognito refuses it.
pub fn reconcile(settings: &mut Map<String, Value>) -> Result<(), Error> {
    let mode = settings
        .get("MfaConfiguration")
        .and_then(Value::as_str)
        .unwrap_or("OFF")
        .to_owned();
    let mut stored = settings
        .get(MFA_SETTINGS)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if mode == "OFF" {
        for factor in [
            "SmsMfaConfiguration",
            "SoftwareTokenMfaConfiguration",
            "EmailMfaConfiguration",
        ] {
            stored.remove(factor);
        }
    } else if settings
        .get("SmsConfiguration")
        .is_some_and(|c| !c.is_null())
    {
        stored.insert("SmsMfaConfiguration".into(), json!({}));
    } else {
        stored.remove("SmsMfaConfiguration");
    }
    settings.insert(MFA_SETTINGS.into(), Value::Object(stored));
    let offered = factors(settings);
    if mode != "OFF" && !(offered.sms || offered.software_token || offered.email) {
        return Err(Error::invalid_parameter(
            "SMS configuration and Auto verification for phone_number are required when MFA is required/optional",
        ));
    }
    Ok(())
}

pub async fn set(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    let mut pool = std::sync::Arc::unwrap_or_clone(pool);
    let present = |name: &str| input.get(name).filter(|v| !v.is_null());
    let sms = present("SmsMfaConfiguration");
    let software_token = present("SoftwareTokenMfaConfiguration");
    let email = present("EmailMfaConfiguration");
    let web_authn = present("WebAuthnConfiguration");
    let requested = MfaFactors {
        sms: sms.is_some(),
        software_token: software_token
            .and_then(|c| c.get("Enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        email: email.is_some(),
    };
    let any_factor = requested.sms || requested.software_token || requested.email;
    let mode = input
        .str("MfaConfiguration")
        .or_else(|| {
            pool.settings
                .get("MfaConfiguration")
                .and_then(Value::as_str)
        })
        .unwrap_or("OFF")
        .to_owned();
    // Cognito's own words for the two configurations it refuses (passkeys are no MFA factor
    // here: OFF with a WebAuthnConfiguration is accepted).
    if mode == "OFF" && any_factor {
        return Err(Error::invalid_parameter(
            "Invalid MFA configuration given, can't turn off MFA and configure an MFA together.",
        ));
    }
    if mode != "OFF" && !any_factor {
        return Err(Error::invalid_parameter(
            "Invalid MFA Configuration given. SMS MFA, Email MFA, or Software Token MFA must be enabled.",
        ));
    }
    let mut stored = Map::new();
    if let Some(sms) = sms {
        // The SMS settings are the pool's own members.
        for member in ["SmsAuthenticationMessage", "SmsConfiguration"] {
            if let Some(value) = sms.get(member) {
                pool.settings.insert(member.into(), value.clone());
            }
        }
        stored.insert("SmsMfaConfiguration".into(), json!({}));
    }
    for (name, value) in [
        ("SoftwareTokenMfaConfiguration", software_token),
        ("EmailMfaConfiguration", email),
        ("WebAuthnConfiguration", web_authn),
    ] {
        if let Some(value) = value {
            stored.insert(name.into(), value.clone());
        }
    }
    pool.settings.insert("MfaConfiguration".into(), json!(mode));
    pool.settings
        .insert(MFA_SETTINGS.into(), Value::Object(stored));
    pool.last_modified_at = state.clock.now();
    if !state.store.update_user_pool(&pool).await? {
        return Err(Error::pool_not_found(&pool.id));
    }
    Ok(document(&pool.settings))
}

pub async fn get(state: &Service, input: Input) -> Result<Value, Error> {
    let pool = load(state, input.user_pool_id()?).await?;
    Ok(document(&pool.settings))
}

/// The five members SetUserPoolMfaConfig answers and GetUserPoolMfaConfig returns.
fn document(settings: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    out.insert(
        "MfaConfiguration".into(),
        settings
            .get("MfaConfiguration")
            .cloned()
            .unwrap_or_else(|| json!("OFF")),
    );
    let stored = settings.get(MFA_SETTINGS).and_then(Value::as_object);
    if factors(settings).sms {
        let mut sms = Map::new();
        for member in ["SmsAuthenticationMessage", "SmsConfiguration"] {
            if let Some(value) = settings.get(member) {
                sms.insert(member.into(), value.clone());
            }
        }
        out.insert("SmsMfaConfiguration".into(), Value::Object(sms));
    }
    for name in [
        "SoftwareTokenMfaConfiguration",
        "EmailMfaConfiguration",
        "WebAuthnConfiguration",
    ] {
        if let Some(value) = stored.and_then(|s| s.get(name)) {
            out.insert(name.into(), value.clone());
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_come_from_what_set_user_pool_mfa_config_stored() {
        let mut settings = Map::new();
        assert_eq!(factors(&settings), MfaFactors::default());
        settings.insert(
            MFA_SETTINGS.into(),
            json!({"SoftwareTokenMfaConfiguration": {"Enabled": true}, "EmailMfaConfiguration": {"Message": "{####}"}}),
        );
        assert_eq!(
            factors(&settings),
            MfaFactors {
                sms: false,
                software_token: true,
                email: true
            }
        );
        settings.insert(
            MFA_SETTINGS.into(),
            json!({"SoftwareTokenMfaConfiguration": {"Enabled": false}, "SmsMfaConfiguration": {}}),
        );
        assert_eq!(
            factors(&settings),
            MfaFactors {
                sms: true,
                software_token: false,
                email: false
            }
        );
    }

    #[test]
    fn the_document_shows_the_pool_sms_members_and_nothing_private() {
        let settings = json!({
            "MfaConfiguration": "OPTIONAL",
            "SmsAuthenticationMessage": "Code {####}",
            MFA_SETTINGS: {"SmsMfaConfiguration": {}, "SoftwareTokenMfaConfiguration": {"Enabled": true}}
        });
        let document = document(settings.as_object().unwrap());
        assert_eq!(
            document,
            json!({
                "MfaConfiguration": "OPTIONAL",
                "SmsMfaConfiguration": {"SmsAuthenticationMessage": "Code {####}"},
                "SoftwareTokenMfaConfiguration": {"Enabled": true}
            })
        );
        assert_eq!(
            super::document(&Map::new()),
            json!({"MfaConfiguration": "OFF"})
        );
    }
}
