//! CUSTOM_AUTH: a sign-in whose steps the pool's functions decide. DefineAuthChallenge reads
//! the challenges answered so far and chooses the next step (a custom challenge, SRP's
//! PASSWORD_VERIFIER, tokens, or failure); CreateAuthChallenge makes up a CUSTOM_CHALLENGE
//! (public parameters for the client, private ones kept in the sealed session);
//! VerifyAuthChallengeResponse judges the client's ANSWER. Every step resumes from the
//! session as any challenge does (see [`super::machine`]), and tokens come out of the same
//! last steps as every other flow's.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tessera_core::{User, UserStatus};

use super::challenge::{Challenge, ChallengeName};
use super::machine::{self, decoy, Context, Found, Outcome};
use super::session::{self, Attempt};
use super::tokens::opaque;
use crate::trigger::{self, unrecognizable, Call, Trigger};
use crate::{Error, Service};

/// A CUSTOM_AUTH sign-in in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CustomAuth {
    /// DefineAuthChallenge's `session`: each step so far, in order.
    pub history: Vec<Step>,
    /// The pending challenge's `privateChallengeParameters`.
    #[serde(default)]
    pub private: Map<String, Value>,
    /// The pending challenge's `challengeMetadata`, recorded with its result.
    #[serde(default)]
    pub metadata: Option<String>,
}

/// One entry of DefineAuthChallenge's `session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Step {
    #[serde(rename = "challengeName")]
    pub challenge_name: String,
    #[serde(rename = "challengeResult")]
    pub challenge_result: bool,
    #[serde(rename = "challengeMetadata")]
    pub challenge_metadata: Option<String>,
}

/// InitiateAuth / AdminInitiateAuth with CUSTOM_AUTH. With `srp_a` (`CHALLENGE_NAME` =
/// `SRP_A`), the password may come first: DefineAuthChallenge sees SRP_A and can ask for
/// PASSWORD_VERIFIER.
pub async fn begin(
    service: &Service,
    context: &Context<'_>,
    typed: &str,
    srp_a: Option<&str>,
) -> Result<Outcome, Error> {
    if trigger::function(&context.directory.pool, Trigger::DefineAuthChallenge).is_none() {
        return Err(Error::invalid_parameter(
            "Custom auth lambda trigger is not configured for the user pool.",
        ));
    }
    let found = match context.directory.find(service, typed).await? {
        // Where users are hidden, an account that cannot sign in goes the way of an unknown
        // name (a challenge that never ends in tokens), so that no answer tells it apart
        // before a credential was shown; the password flow says "not confirmed" only to
        // someone who proved the password.
        Some((_, user))
            if context.hides_users()
                && (!user.enabled || user.status == UserStatus::Unconfirmed) =>
        {
            Found::Unknown
        }
        Some((key, user)) => Found::User {
            key,
            user: Box::new(user),
        },
        None if context.hides_users() => Found::Unknown,
        None => return Err(crate::directory::user_not_found()),
    };
    machine::pre_authentication(service, context, &found, typed).await?;
    let (mut attempt, user) = match found {
        Found::User { key, user } => {
            if !user.enabled {
                return Err(Error::user_disabled());
            }
            if user.status == UserStatus::Unconfirmed {
                return Err(Error::new(
                    "UserNotConfirmedException",
                    "User is not confirmed.",
                ));
            }
            let attempt = Attempt {
                custom: Some(CustomAuth::default()),
                ..Attempt::of_user(key, &user)
            };
            (attempt, Some(*user))
        }
        // Where users are hidden, an unknown name goes through the functions with
        // `userNotFound`, and no step of it can ever end in tokens.
        Found::Unknown => {
            let attempt = Attempt {
                custom: Some(CustomAuth::default()),
                ..Attempt::of_decoy(decoy(service, context.directory, typed))
            };
            (attempt, None)
        }
    };
    let Some(srp_a) = srp_a else {
        return define(service, context, attempt, user.as_ref()).await;
    };
    push(&mut attempt, "SRP_A", true);
    match decide(service, context, &attempt, user.as_ref()).await? {
        Decision::PasswordVerifier => {
            let found = match user {
                Some(user) => Found::User {
                    key: attempt.key.clone(),
                    user: Box::new(user),
                },
                None => Found::Unknown,
            };
            let challenge =
                super::srp::ask(service, context, found, typed, srp_a, attempt.custom).await?;
            Ok(Outcome::Challenge(challenge))
        }
        decision => follow(service, context, attempt, user.as_ref(), decision).await,
    }
}

/// After a right PASSWORD_VERIFIER proof in a CUSTOM_AUTH sign-in: DefineAuthChallenge
/// decides what follows.
pub async fn after_password(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    user: User,
) -> Result<Outcome, Error> {
    push(&mut attempt, "PASSWORD_VERIFIER", true);
    define(service, context, attempt, Some(&user)).await
}

/// RespondToAuthChallenge with CUSTOM_CHALLENGE: VerifyAuthChallengeResponse judges the
/// answer, then DefineAuthChallenge decides what follows.
pub async fn answer(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    user: Option<User>,
    answer: &str,
) -> Result<Outcome, Error> {
    let mut custom = attempt
        .custom
        .take()
        .ok_or_else(|| super::refused("Invalid session for the user."))?;
    let request = json!({
        "privateChallengeParameters": std::mem::take(&mut custom.private),
        "challengeAnswer": answer,
    });
    let response = run(
        service,
        context,
        &attempt,
        user.as_ref(),
        Trigger::VerifyAuthChallengeResponse,
        request,
    )
    .await?;
    custom.history.push(Step {
        challenge_name: ChallengeName::CustomChallenge.as_str().to_owned(),
        challenge_result: trigger::flag(&response, "answerCorrect"),
        challenge_metadata: custom.metadata.take(),
    });
    attempt.custom = Some(custom);
    define(service, context, attempt, user.as_ref()).await
}

/// What DefineAuthChallenge decided.
enum Decision {
    Fail,
    Tokens,
    CustomChallenge,
    PasswordVerifier,
}

/// Runs DefineAuthChallenge and follows its decision.
async fn define(
    service: &Service,
    context: &Context<'_>,
    attempt: Attempt,
    user: Option<&User>,
) -> Result<Outcome, Error> {
    let decision = decide(service, context, &attempt, user).await?;
    follow(service, context, attempt, user, decision).await
}

async fn decide(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    user: Option<&User>,
) -> Result<Decision, Error> {
    let request = json!({ "session": history(attempt) });
    let response = run(
        service,
        context,
        attempt,
        user,
        Trigger::DefineAuthChallenge,
        request,
    )
    .await?;
    if trigger::flag(&response, "failAuthentication") {
        return Ok(Decision::Fail);
    }
    if trigger::flag(&response, "issueTokens") {
        return Ok(Decision::Tokens);
    }
    match response.get("challengeName").and_then(Value::as_str) {
        Some("CUSTOM_CHALLENGE") => Ok(Decision::CustomChallenge),
        Some("PASSWORD_VERIFIER") => Ok(Decision::PasswordVerifier),
        _ => Err(unrecognizable()),
    }
}

async fn follow(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    user: Option<&User>,
    decision: Decision,
) -> Result<Outcome, Error> {
    match decision {
        Decision::Fail => Err(Error::wrong_credentials()),
        // An unknown user never gets tokens, whatever the function says.
        Decision::Tokens if attempt.decoy => Err(Error::wrong_credentials()),
        Decision::Tokens => {
            if attempt.authenticated_at.is_none() {
                attempt.authenticated_at = Some(machine::epoch_millis(service.clock.now()));
            }
            // The user as stored now: the steps may have taken minutes.
            machine::further_challenges(service, context, attempt, None).await
        }
        Decision::CustomChallenge => create(service, context, attempt, user).await,
        // PASSWORD_VERIFIER needs the client's SRP_A, which only the first step carries.
        Decision::PasswordVerifier => Err(unrecognizable()),
    }
}

/// Runs CreateAuthChallenge and asks the client the challenge it made up.
async fn create(
    service: &Service,
    context: &Context<'_>,
    mut attempt: Attempt,
    user: Option<&User>,
) -> Result<Outcome, Error> {
    let request = json!({ "challengeName": "CUSTOM_CHALLENGE", "session": history(&attempt) });
    let response = run(
        service,
        context,
        &attempt,
        user,
        Trigger::CreateAuthChallenge,
        request,
    )
    .await?;
    let public = strings(response.get("publicChallengeParameters"))?;
    let private = match response.get("privateChallengeParameters") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(unrecognizable()),
    };
    let metadata = match response.get("challengeMetadata") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.clone()),
        Some(_) => return Err(unrecognizable()),
    };
    if let Some(custom) = attempt.custom.as_mut() {
        custom.private = private;
        custom.metadata = metadata;
    }
    let mut parameters = public;
    parameters.insert("USERNAME".into(), json!(attempt.user_id));
    let token = opaque(service, 32);
    session::store(
        service,
        context,
        &token,
        ChallengeName::CustomChallenge,
        &attempt,
    )
    .await?;
    Ok(Outcome::Challenge(Challenge {
        name: ChallengeName::CustomChallenge,
        parameters,
        session: token,
        available: Vec::new(),
    }))
}

/// `publicChallengeParameters`: a map of strings (absent or `null` is empty).
fn strings(value: Option<&Value>) -> Result<Map<String, Value>, Error> {
    match value {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(map)) if map.values().all(Value::is_string) => Ok(map.clone()),
        Some(_) => Err(unrecognizable()),
    }
}

fn push(attempt: &mut Attempt, name: &str, result: bool) {
    if let Some(custom) = attempt.custom.as_mut() {
        custom.history.push(Step {
            challenge_name: name.to_owned(),
            challenge_result: result,
            challenge_metadata: None,
        });
    }
}

/// DefineAuthChallenge's `session`: the steps so far.
fn history(attempt: &Attempt) -> Vec<Step> {
    attempt
        .custom
        .as_ref()
        .map(|custom| custom.history.clone())
        .unwrap_or_default()
}

/// Runs one of the three functions (which the pool must have: without CreateAuthChallenge or
/// VerifyAuthChallengeResponse there is no way on) and returns its `response`. `members` are
/// the function's own; every one of the three also gets `userAttributes`, `userNotFound` and
/// RespondToAuthChallenge's ClientMetadata (Cognito passes InitiateAuth's to none of them).
async fn run(
    service: &Service,
    context: &Context<'_>,
    attempt: &Attempt,
    user: Option<&User>,
    which: Trigger,
    members: Value,
) -> Result<Map<String, Value>, Error> {
    let mut request = json!({
        "userAttributes": user.map_or_else(
            || json!({}),
            |user| trigger::user_attributes(context.directory, user),
        ),
        "userNotFound": attempt.decoy,
    });
    if let (Value::Object(request), Value::Object(members)) = (&mut request, members) {
        request.extend(members);
    }
    let request = trigger::with_client_metadata_map(request, context.client_metadata);
    let source = format!("{}_Authentication", which.name());
    let call = Call {
        trigger: which,
        source: &source,
        pool: &context.directory.pool,
        user_name: &attempt.user_id,
        client_id: Some(&context.client.client_id),
        request,
    };
    trigger::run(service, &call).await?.ok_or_else(|| {
        Error::invalid_parameter(format!(
            "{} lambda trigger is not configured for the user pool.",
            which.name()
        ))
    })
}
