//! A user's multi-factor settings (issue 13): which MFA factors the user has turned on, which
//! one is preferred, and the software token. The pool decides whether MFA is asked at all
//! and which factors it offers; this is only the user's half.

use serde::{Deserialize, Serialize};

use crate::totp::TotpSecret;

/// An MFA factor, named as the challenge that asks it (the names GetUser's
/// `UserMFASettingList` and `PreferredMfaSetting` use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MfaFactor {
    /// A code sent by SMS to `phone_number`.
    #[serde(rename = "SMS_MFA")]
    Sms,
    /// A code sent by e-mail to `email`.
    #[serde(rename = "EMAIL_OTP")]
    Email,
    /// A code from the user's authenticator app.
    #[serde(rename = "SOFTWARE_TOKEN_MFA")]
    SoftwareToken,
}

impl MfaFactor {
    /// Every factor, in the order Cognito lists them.
    pub const ALL: [MfaFactor; 3] = [MfaFactor::Sms, MfaFactor::SoftwareToken, MfaFactor::Email];

    /// Cognito's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaFactor::Sms => "SMS_MFA",
            MfaFactor::Email => "EMAIL_OTP",
            MfaFactor::SoftwareToken => "SOFTWARE_TOKEN_MFA",
        }
    }

    /// Parses Cognito's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "SMS_MFA" => MfaFactor::Sms,
            "EMAIL_OTP" => MfaFactor::Email,
            "SOFTWARE_TOKEN_MFA" => MfaFactor::SoftwareToken,
            _ => return None,
        })
    }
}

/// Whether a factor is turned on for the user, and whether it is the one they prefer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorSetting {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub preferred: bool,
}

/// The user's MFA settings that are not secret: stored as a document beside the user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaPreferences {
    #[serde(default)]
    pub sms: FactorSetting,
    #[serde(default)]
    pub email: FactorSetting,
    #[serde(default)]
    pub software_token: FactorSetting,
    /// VerifySoftwareToken's `FriendlyDeviceName`: the SOFTWARE_TOKEN_MFA challenge's
    /// `FRIENDLY_DEVICE_NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp_name: Option<String>,
}

impl MfaPreferences {
    /// The setting of one factor.
    pub fn get(&self, factor: MfaFactor) -> FactorSetting {
        match factor {
            MfaFactor::Sms => self.sms,
            MfaFactor::Email => self.email,
            MfaFactor::SoftwareToken => self.software_token,
        }
    }

    /// The setting of one factor, to change.
    pub fn get_mut(&mut self, factor: MfaFactor) -> &mut FactorSetting {
        match factor {
            MfaFactor::Sms => &mut self.sms,
            MfaFactor::Email => &mut self.email,
            MfaFactor::SoftwareToken => &mut self.software_token,
        }
    }

    /// The factors turned on, in Cognito's order.
    pub fn enabled(&self) -> Vec<MfaFactor> {
        MfaFactor::ALL
            .into_iter()
            .filter(|f| self.get(*f).enabled)
            .collect()
    }

    /// The preferred factor, if one is preferred and still on.
    pub fn preferred(&self) -> Option<MfaFactor> {
        MfaFactor::ALL
            .into_iter()
            .find(|f| self.get(*f).enabled && self.get(*f).preferred)
    }

    /// Sets one factor as (Admin)SetUserMFAPreference asks: preferring one factor stops
    /// preferring the others, since only one can be preferred.
    pub fn set(&mut self, factor: MfaFactor, enabled: bool, preferred: bool) {
        if preferred && enabled {
            for other in MfaFactor::ALL {
                self.get_mut(other).preferred = false;
            }
        }
        *self.get_mut(factor) = FactorSetting {
            enabled,
            preferred: preferred && enabled,
        };
    }
}

/// A user's MFA state: the preferences and the software token, verified or on its way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserMfa {
    pub preferences: MfaPreferences,
    /// The verified software token's secret (sealed by the store).
    pub totp: Option<TotpSecret>,
    /// A secret AssociateSoftwareToken handed out and VerifySoftwareToken has not yet
    /// confirmed (sealed by the store). The verified one keeps working until then.
    pub totp_pending: Option<TotpSecret>,
}

impl UserMfa {
    /// The context that binds the sealed software-token secrets to their user.
    pub fn seal_context(pool_id: &str, username_key: &str) -> String {
        format!("totp:{pool_id}:{username_key}")
    }

    /// True when the user has nothing to store: no preference and no token.
    pub fn is_empty(&self) -> bool {
        *self == UserMfa::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preferring_one_factor_stops_preferring_the_others() {
        let mut preferences = MfaPreferences::default();
        preferences.set(MfaFactor::Sms, true, true);
        preferences.set(MfaFactor::SoftwareToken, true, true);
        assert_eq!(preferences.preferred(), Some(MfaFactor::SoftwareToken));
        assert!(preferences.sms.enabled && !preferences.sms.preferred);
        preferences.set(MfaFactor::SoftwareToken, false, true);
        assert_eq!(preferences.preferred(), None);
        assert_eq!(preferences.enabled(), vec![MfaFactor::Sms]);
    }

    #[test]
    fn the_document_reads_back_and_tolerates_missing_members() {
        let mut preferences = MfaPreferences::default();
        preferences.set(MfaFactor::Email, true, false);
        preferences.totp_name = Some("phone".into());
        let text = serde_json::to_string(&preferences).unwrap();
        assert_eq!(
            serde_json::from_str::<MfaPreferences>(&text).unwrap(),
            preferences
        );
        assert_eq!(
            serde_json::from_str::<MfaPreferences>("{}").unwrap(),
            MfaPreferences::default()
        );
    }
}
