//! Writing a user without losing a concurrent write.
//!
//! An operation reads a user, decides, often does slow work (argon2 hashing takes tens of
//! milliseconds), and writes the user back. Writing back the whole row read earlier would
//! silently undo a write that landed in between: an AdminDisableUser during a
//! ChangePassword would be reverted. The store refuses such a save as stale (every save
//! names the version it read), and [`revise`] then reads the user again and runs the
//! operation's change once more on the fresh read, checks included, so the change applies
//! to the user as it now is, or is refused as it now would be.
//!
//! The change is a plain function of the user: the slow or asynchronous parts (hashing,
//! checking a guessed code) are done once before, and what the write needs besides the
//! user row (a code to send first, a code that must still be pending) is stated in the
//! [`Revision`] and done here, so a redone write re-checks the code and sends no second
//! message for the same change.

use tessera_core::{CodePurpose, OneTimeCode, User};
use tessera_store::{StoreError, UserChange};

use crate::directory::code::{deliver_code, still_pending};
use crate::directory::{alias_error, user_not_found, Destination, Directory, Occasion};
use crate::{Error, Service};

/// How many times a change is run on a fresher read before the write gives up. Each stale
/// save means another write landed, so running out takes a user written this many times
/// over during one operation.
const WRITE_ATTEMPTS: usize = 8;

/// What a run of a change stores besides the user row.
#[derive(Debug, Default)]
pub struct Revision {
    /// The user's aliases become those its new attributes and status give it.
    pub aliases: bool,
    /// A code to store with the user (replacing the one of its purpose).
    pub put_code: Option<OneTimeCode>,
    /// Codes the change uses up or voids (their counted wrong guesses stay).
    pub consume_codes: Vec<CodePurpose>,
    /// Sends `put_code` there, in the message of that purpose, before the write (a message
    /// goes out before the write that records it). A redone write whose code would go to
    /// the same address for the same purpose and value stores the code already sent.
    pub send_to: Option<(Destination, Occasion)>,
    /// A code the caller checked and this write uses: it must still be the user's pending
    /// code when the write lands, not used or replaced by a write in between.
    pub uses_code: Option<OneTimeCode>,
}

/// Applies `change` to `user` (as read by the caller) and saves it, stamped with the current
/// time. When the save is stale, reads the user again and reruns `change` on the fresh copy.
/// `change` checks what the operation requires of the user and may refuse with an error; it
/// returns `None` when there is nothing to write. Returns the user as stored.
pub async fn revise(
    state: &Service,
    directory: &Directory,
    key: &str,
    mut user: User,
    mut change: impl FnMut(&mut User) -> Result<Option<Revision>, Error>,
) -> Result<User, Error> {
    let sub = user.sub.clone();
    // The code sent by an earlier run, with its address.
    let mut sent: Option<(String, OneTimeCode)> = None;
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut revision) = change(&mut user)? else {
            return Ok(user);
        };
        if let Some(code) = &revision.uses_code {
            still_pending(state, &directory.pool.id, key, code).await?;
        }
        if let (Some((destination, occasion)), Some(code)) =
            (&revision.send_to, revision.put_code.as_mut())
        {
            match &sent {
                Some((address, earlier))
                    if *address == destination.address
                        && earlier.purpose == code.purpose
                        && earlier.pending_value == code.pending_value =>
                {
                    *code = earlier.clone();
                }
                _ => {
                    deliver_code(state, directory, &user, destination, code, occasion).await?;
                    sent = Some((destination.address.clone(), code.clone()));
                }
            }
        }
        user.last_modified_at = state.clock.now();
        let aliases = revision.aliases.then(|| directory.aliases_of(&user));
        let saved = state
            .store
            .save_user(UserChange {
                user: &user,
                key,
                aliases: aliases.as_deref(),
                put_code: revision.put_code.as_ref(),
                consume_codes: &revision.consume_codes,
            })
            .await;
        match saved {
            Ok(true) => {
                user.version += 1;
                return Ok(user);
            }
            Ok(false) => return Err(user_not_found()),
            Err(StoreError::Stale) => {
                // A user deleted and created again under the same name is another user.
                user = state
                    .store
                    .user(&directory.pool.id, key)
                    .await?
                    .filter(|fresh| fresh.sub == sub)
                    .ok_or_else(user_not_found)?;
            }
            Err(other) => return Err(alias_error(other)),
        }
    }
    Err(Error::internal(&format_args!(
        "user {key} of {} changed under {WRITE_ATTEMPTS} writes in a row",
        directory.pool.id
    )))
}
