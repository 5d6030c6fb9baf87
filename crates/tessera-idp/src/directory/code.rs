//! One-time codes: issuing and sending them, with a cap on how many a user is sent, and
//! checking a guessed one, with a cap on wrong guesses.
//!
//! Both caps are counted per user and purpose in the store, apart from the codes, and taken
//! before the work they limit: an issue slot before the message goes out, a guess slot
//! before the comparison. So concurrent requests can never compare more wrong guesses, or
//! send more messages, than the cap, and a re-issued code does not lift the guess cap: six
//! digits against five guesses an hour stay six digits however often a code is requested.
//!
//! Both caps are answered as Cognito answers its hourly per-user code quotas:
//! LimitExceededException `Attempt limit exceeded, please try after some time.`. A real
//! report shows it from the sixth wrong password-reset code on
//! (aws-amplify/amplify-ui-android#180), where tessera once answered
//! TooManyFailedAttemptsException, "please request a code again", which a new code no longer
//! helps with (and which VerifyUserAttribute's model does not list).

use std::time::{Duration, SystemTime};

use tessera_core::{CodePurpose, OneTimeCode, User};
use tessera_store::{AttemptLimit, CodeAction};

use crate::directory::{
    deliver, user_not_found, verification_template, Destination, Directory, Occasion,
};
use crate::{Error, Service};

/// How long a sign-up confirmation or attribute-verification code is valid (Cognito: 24
/// hours).
pub const SIGN_UP_CODE_VALIDITY: Duration = Duration::from_secs(24 * 3600);
/// How long a password-reset code is valid (Cognito: one hour).
pub const RESET_CODE_VALIDITY: Duration = Duration::from_secs(3600);

/// Wrong guesses at a user's codes of one purpose: five in an hour that starts with the
/// first of them (Cognito was seen refusing the sixth wrong reset code; its documented
/// quotas count per user and hour). A right guess clears the count; a new code does not.
pub const WRONG_CODE_LIMIT: AttemptLimit = AttemptLimit {
    cap: 5,
    window: Duration::from_secs(3600),
};

/// Codes of one purpose a user can be sent on request (ResendConfirmationCode,
/// ForgotPassword, AdminResetUserPassword, GetUserAttributeVerificationCode): five in an hour
/// that starts with the first of them, Cognito's documented quota for ResendConfirmationCode
/// and GetUserAttributeVerificationCode (its forgot-password quota is 5 to 20, by risk). The
/// code SignUp sends and the one a changed attribute gets from UpdateUserAttributes are not
/// counted: those operations do not list LimitExceededException.
pub const CODE_SEND_LIMIT: AttemptLimit = AttemptLimit {
    cap: 5,
    window: Duration::from_secs(3600),
};

/// The purpose of a code that verifies a contact attribute (VerifyUserAttribute).
pub fn verification_purpose(attribute: &str) -> Option<CodePurpose> {
    match attribute {
        "email" => Some(CodePurpose::VerifyEmail),
        "phone_number" => Some(CodePurpose::VerifyPhoneNumber),
        _ => None,
    }
}

/// Cognito's answer when a per-user code quota is spent.
pub fn limit_exceeded() -> Error {
    Error::new(
        "LimitExceededException",
        "Attempt limit exceeded, please try after some time.",
    )
}

fn expired() -> Error {
    Error::new(
        "ExpiredCodeException",
        "Invalid code provided, please request a code again.",
    )
}

fn mismatch() -> Error {
    Error::new(
        "CodeMismatchException",
        "Invalid verification code provided, please try again.",
    )
}

/// A fresh code for a purpose.
pub fn new_code(
    state: &Service,
    purpose: CodePurpose,
    validity: Duration,
    now: SystemTime,
) -> OneTimeCode {
    OneTimeCode {
        purpose,
        code: OneTimeCode::generate_digits(state.random.as_ref()),
        expires_at: now + validity,
        pending_value: None,
    }
}

/// Sends a code in the pool's verification message; a delivery failure is
/// `CodeDeliveryFailureException`.
pub async fn deliver_code(
    state: &Service,
    directory: &Directory,
    user: &User,
    destination: &Destination,
    code: &OneTimeCode,
    occasion: &Occasion,
) -> Result<(), Error> {
    let template = verification_template(&directory.pool, destination.channel);
    deliver(
        state,
        directory,
        user,
        destination,
        template,
        &code.code,
        occasion,
    )
    .await
}

/// Takes a slot of [`CODE_SEND_LIMIT`], then sends the code. The caller stores it, with the
/// change to the user it goes with; [`send_code`] when there is none.
pub async fn issue_code(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: &User,
    destination: &Destination,
    code: &OneTimeCode,
    occasion: &Occasion,
) -> Result<(), Error> {
    let taken = state
        .store
        .take_code_attempt(
            &directory.pool.id,
            key,
            code.purpose,
            CodeAction::Issue,
            CODE_SEND_LIMIT,
            state.clock.now(),
        )
        .await?;
    if !taken {
        return Err(limit_exceeded());
    }
    // The slot stays taken when delivery fails: the message may have left before the
    // failure was seen, and a failing courier must not become a way around the cap.
    deliver_code(state, directory, user, destination, code, occasion).await
}

/// Issues a code ([`issue_code`]) and stores it, replacing the user's code of its purpose.
/// Only the code is written: a user write landing meanwhile is not undone.
pub async fn send_code(
    state: &Service,
    directory: &Directory,
    key: &str,
    user: &User,
    destination: &Destination,
    code: &OneTimeCode,
    occasion: &Occasion,
) -> Result<(), Error> {
    issue_code(state, directory, key, user, destination, code, occasion).await?;
    if !state.store.put_code(&directory.pool.id, key, code).await? {
        return Err(user_not_found());
    }
    Ok(())
}

/// Checks a guessed code. The guess takes a slot of [`WRONG_CODE_LIMIT`] before it is
/// compared, and keeps it unless it was right: a right guess clears the count. An absent or
/// expired code asks for a new one (and the guess still counts, since it was no right one).
pub async fn check_code(
    state: &Service,
    pool_id: &str,
    key: &str,
    purpose: CodePurpose,
    guess: &str,
) -> Result<OneTimeCode, Error> {
    let taken = state
        .store
        .take_code_attempt(
            pool_id,
            key,
            purpose,
            CodeAction::Guess,
            WRONG_CODE_LIMIT,
            state.clock.now(),
        )
        .await?;
    if !taken {
        return Err(limit_exceeded());
    }
    match state.store.code(pool_id, key, purpose).await? {
        None => Err(expired()),
        Some(code) if state.clock.now() > code.expires_at => Err(expired()),
        Some(code) if code.matches(guess) => {
            state
                .store
                .clear_code_attempts(pool_id, key, purpose, CodeAction::Guess)
                .await?;
            Ok(code)
        }
        Some(_) => Err(mismatch()),
    }
}

/// Checks, without counting a guess, that a code checked earlier is still the user's
/// pending code: a user write redone after a concurrent one must not use a code that the
/// other write used or replaced meanwhile.
pub async fn still_pending(
    state: &Service,
    pool_id: &str,
    key: &str,
    checked: &OneTimeCode,
) -> Result<(), Error> {
    match state.store.code(pool_id, key, checked.purpose).await? {
        Some(code) if code == *checked => Ok(()),
        _ => Err(expired()),
    }
}
