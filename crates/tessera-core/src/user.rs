//! A user of a user pool, and the one-time codes sent to users.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A user's account status, as Cognito names it in `UserStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Signed up, not yet confirmed.
    Unconfirmed,
    /// Confirmed; can sign in.
    Confirmed,
    /// Created by an administrator with a temporary password that must be changed.
    ForceChangePassword,
    /// An administrator reset the password; the user must set a new one with a code.
    ResetRequired,
    /// Created through federation.
    ExternalProvider,
}

impl UserStatus {
    /// Cognito's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Unconfirmed => "UNCONFIRMED",
            UserStatus::Confirmed => "CONFIRMED",
            UserStatus::ForceChangePassword => "FORCE_CHANGE_PASSWORD",
            UserStatus::ResetRequired => "RESET_REQUIRED",
            UserStatus::ExternalProvider => "EXTERNAL_PROVIDER",
        }
    }

    /// Parses Cognito's spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "UNCONFIRMED" => UserStatus::Unconfirmed,
            "CONFIRMED" => UserStatus::Confirmed,
            "FORCE_CHANGE_PASSWORD" => UserStatus::ForceChangePassword,
            "RESET_REQUIRED" => UserStatus::ResetRequired,
            "EXTERNAL_PROVIDER" => UserStatus::ExternalProvider,
            _ => return None,
        })
    }
}

/// A user. `attributes` holds every attribute but `sub`, which is immutable and kept apart.
#[derive(Clone, PartialEq)]
pub struct User {
    /// The pool the user belongs to.
    pub pool_id: String,
    /// The username as created: `cognito:username`. In pools where e-mail or phone number is
    /// the username, a generated UUID.
    pub username: String,
    /// The immutable UUID.
    pub sub: String,
    /// Account status.
    pub status: UserStatus,
    /// False after AdminDisableUser.
    pub enabled: bool,
    /// Attribute name to value, `sub` excluded.
    pub attributes: BTreeMap<String, String>,
    /// argon2id PHC string; `None` for users without a password.
    pub password_hash: Option<String>,
    /// When the current password was set (temporary passwords expire from here).
    pub password_set_at: Option<SystemTime>,
    /// The SRP salt and verifier of the current password (USER_SRP_AUTH); sealed by the store.
    pub srp_verifier: Option<crate::SrpVerifier>,
    /// MFA preferences and the software token (its secrets sealed by the store).
    pub mfa: crate::UserMfa,
    /// When the user was created.
    pub created_at: SystemTime,
    /// When the user was last changed.
    pub last_modified_at: SystemTime,
    /// The store's revision of the user, 0 for a new one. Every save names the revision it
    /// read and makes the next one, so that a write based on an old read is refused instead
    /// of silently undoing a write that landed in between.
    pub version: u64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("pool_id", &self.pool_id)
            .field("username", &self.username)
            .field("sub", &self.sub)
            .field("status", &self.status)
            .field("enabled", &self.enabled)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl User {
    /// An attribute's value; `sub` included.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        if name == "sub" {
            return Some(&self.sub);
        }
        self.attributes.get(name).map(String::as_str)
    }

    /// True when the attribute `<name>_verified` is `"true"` (in any letter case, as
    /// Cognito accepts it; see [`crate::boolean_value`]).
    pub fn verified(&self, name: &str) -> bool {
        self.attributes
            .get(&format!("{name}_verified"))
            .and_then(|value| crate::boolean_value(value))
            == Some(true)
    }
}

/// The key a username is looked up by: lower-cased in case-insensitive pools.
pub fn username_key(username: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        username.to_owned()
    } else {
        username.to_lowercase()
    }
}

/// What a one-time code is for; a code only ever confirms its own purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// Sign-up confirmation (ConfirmSignUp).
    SignUp,
    /// Password reset (ConfirmForgotPassword).
    ForgotPassword,
    /// Verification of the e-mail attribute (VerifyUserAttribute).
    VerifyEmail,
    /// Verification of the phone_number attribute (VerifyUserAttribute).
    VerifyPhoneNumber,
    /// A software token's first code (VerifySoftwareToken): only its guesses are counted;
    /// no code of this purpose is ever stored.
    SoftwareToken,
    /// A sign-in code (MFA by SMS or e-mail, or a passwordless first factor): only its sends
    /// are counted; the code itself lives in the sealed challenge session.
    SignInCode,
}

impl CodePurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::SignUp => "sign_up",
            CodePurpose::ForgotPassword => "forgot_password",
            CodePurpose::VerifyEmail => "verify_email",
            CodePurpose::VerifyPhoneNumber => "verify_phone_number",
            CodePurpose::SoftwareToken => "software_token",
            CodePurpose::SignInCode => "sign_in_code",
        }
    }

    /// The purpose a stored name names.
    pub fn parse(text: &str) -> Option<Self> {
        [
            CodePurpose::SignUp,
            CodePurpose::ForgotPassword,
            CodePurpose::VerifyEmail,
            CodePurpose::VerifyPhoneNumber,
            CodePurpose::SoftwareToken,
            CodePurpose::SignInCode,
        ]
        .into_iter()
        .find(|purpose| purpose.as_str() == text)
    }
}

/// A stored one-time code. The code itself is sealed by the store.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// What it confirms.
    pub purpose: CodePurpose,
    /// The six digits.
    pub code: String,
    /// When it stops working.
    pub expires_at: SystemTime,
    /// A value bound to the code: the new attribute value awaiting verification, for example.
    pub pending_value: Option<String>,
}

impl std::fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneTimeCode")
            .field("purpose", &self.purpose)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl OneTimeCode {
    /// Six random digits.
    pub fn generate_digits(random: &dyn crate::Random) -> String {
        let mut bytes = [0u8; 8];
        random.fill(&mut bytes);
        // 2^64 is not a multiple of 10^6, but the bias is below 10^-13.
        format!("{:06}", u64::from_le_bytes(bytes) % 1_000_000)
    }

    /// The context that binds the sealed code to its user and purpose.
    pub fn seal_context(pool_id: &str, username_key: &str, purpose: CodePurpose) -> String {
        format!("code:{pool_id}:{username_key}:{}", purpose.as_str())
    }

    /// Compares a guess in constant time.
    pub fn matches(&self, guess: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.code.len() == guess.len() && bool::from(self.code.as_bytes().ct_eq(guess.as_bytes()))
    }
}

/// A group of a user pool.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The pool.
    pub pool_id: String,
    /// The group name, unique in the pool.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Lower wins when choosing `cognito:preferred_role`.
    pub precedence: Option<i64>,
    /// The IAM role of the group.
    pub role_arn: Option<String>,
    /// When it was created.
    pub created_at: SystemTime,
    /// When it was last changed.
    pub last_modified_at: SystemTime,
}
