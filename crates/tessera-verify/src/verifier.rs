//! The verifier: one token in, claims or the failed check out.

use std::fmt;
use std::sync::Arc;

use crate::cache::{FetchContext, IssuerCache};
use std::borrow::Cow;
use std::sync::OnceLock;

use crate::claims::{Claims, Inner as ClaimsInner, Text};
use crate::clock::unix_secs;
use crate::config::{ClientPolicy, Requirements, TokenUse, VerifierBuilder};
use crate::error::{clip, VerifyError};
use crate::payload::{numeric_date, string, strings, Json, Payload};
use crate::revocation::RevocationCheck;
use crate::token::decode;

/// The claims the checks read, borrowed from the payload.
struct Typed<'p> {
    iss: &'p str,
    sub: Option<&'p str>,
    token_use: Option<&'p str>,
    client_id: Option<&'p str>,
    aud: Vec<&'p str>,
    username: Option<&'p str>,
    scope: Option<&'p str>,
    groups: &'p [Cow<'p, str>],
    jti: Option<&'p str>,
    origin_jti: Option<&'p str>,
    exp: u64,
    iat: Option<u64>,
    nbf: Option<u64>,
}

/// Verifies bearer tokens of the configured issuers. Cheap to clone (clones share the key
/// cache); build one per process with [`Verifier::builder`].
///
/// The checks, in order: size; three base64url parts; header `alg` is RS256 or ES256 (so
/// `none` and every HS* are refused before any key is touched); no `jwk`/`jku`/`x5u`/`x5c`/
/// `crit` header; a `kid`; `iss` is a configured issuer; the issuer has a key with that
/// `kid` and the key's algorithm is the header's; the signature; `exp`, `nbf`, `iat` with
/// leeway; `token_use`; `aud` (ID tokens) or `client_id` (access tokens); required scopes
/// and groups; the revocation hook.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) issuers: Vec<Arc<IssuerCache>>,
    pub(crate) ctx: Arc<FetchContext>,
    pub(crate) token_use: TokenUse,
    pub(crate) clients: ClientPolicy,
    pub(crate) requirements: Requirements,
    pub(crate) leeway_secs: u64,
    pub(crate) revocation: Option<Arc<dyn RevocationCheck>>,
    pub(crate) max_token_size: usize,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "issuers",
                &self
                    .inner
                    .issuers
                    .iter()
                    .map(|i| i.issuer.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("token_use", &self.inner.token_use)
            .field("clients", &self.inner.clients)
            .field("requirements", &self.inner.requirements)
            .field("leeway_secs", &self.inner.leeway_secs)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A builder with the defaults: access tokens, 60 s leeway, 16 KiB tokens, keys
    /// refreshed every 5 minutes, unknown-kid refetches at most every 10 s.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder::default()
    }

    pub(crate) fn from_inner(inner: Inner) -> Self {
        Verifier {
            inner: Arc::new(inner),
        }
    }

    /// The `iss` values this verifier trusts.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.issuer.as_str())
    }

    /// Fetches every issuer's keys now (for example at startup, so the first request does
    /// not wait). Fails with the first issuer whose keys could not be fetched; the others
    /// are still fetched.
    pub async fn refresh_keys(&self) -> Result<(), VerifyError> {
        let mut first_error = None;
        for issuer in &self.inner.issuers {
            if let Err(error) = issuer.refresh_now(&self.inner.ctx).await {
                first_error.get_or_insert(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Verifies a compact JWS (the part after `Bearer `) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let inner = &*self.inner;
        let decoded = decode(token, inner.max_token_size)?;
        let payload = Payload::parse(&decoded.payload)?;

        // The (unverified) issuer only chooses whose keys to try.
        let iss = string(&payload.iss, "iss")?.ok_or(VerifyError::MissingClaim("iss"))?;
        let issuer = inner
            .issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or_else(|| VerifyError::WrongIssuer(clip(iss)))?;

        let key = issuer.key(&decoded.kid, &inner.ctx).await?;
        if key.alg != decoded.alg {
            return Err(VerifyError::AlgorithmMismatch {
                expected: key.alg,
                found: decoded.alg,
            });
        }
        if !key.verify(decoded.signing_input, decoded.signature()) {
            return Err(VerifyError::InvalidSignature);
        }

        let typed = self.check_claims(&payload)?;
        let text = |value: &str| Text::new(value, &decoded.payload);
        let opt = |value: Option<&str>| value.map(text);
        let claims = Claims::new(ClaimsInner {
            iss: text(typed.iss),
            sub: opt(typed.sub),
            token_use: opt(typed.token_use),
            client_id: opt(typed.client_id),
            aud: typed.aud.iter().map(|a| text(a)).collect(),
            username: opt(typed.username),
            scope: opt(typed.scope),
            groups: typed.groups.iter().map(|g| text(g)).collect(),
            jti: opt(typed.jti),
            origin_jti: opt(typed.origin_jti),
            exp: typed.exp,
            iat: typed.iat,
            nbf: typed.nbf,
            map: OnceLock::new(),
            alg: decoded.alg,
            kid: decoded.kid,
            // Last: the spans above point into it.
            payload: decoded.payload,
        });
        self.check_requirements(&claims, &inner.requirements)?;
        if let Some(check) = &inner.revocation {
            match check.is_revoked(&claims).await {
                Ok(false) => {}
                Ok(true) => return Err(VerifyError::Revoked),
                Err(error) => return Err(VerifyError::RevocationCheckFailed(error.to_string())),
            }
        }
        Ok(claims)
    }

    /// The checks on a token whose signature verified; returns the claims it read.
    fn check_claims<'p>(&self, payload: &'p Payload<'p>) -> Result<Typed<'p>, VerifyError> {
        let inner = &*self.inner;
        let now = unix_secs(inner.ctx.clock.now());
        let leeway = inner.leeway_secs;

        let exp = numeric_date(&payload.exp, "exp")?.ok_or(VerifyError::MissingClaim("exp"))?;
        if now >= exp.saturating_add(leeway) {
            return Err(VerifyError::Expired { exp, now });
        }
        let nbf = numeric_date(&payload.nbf, "nbf")?;
        if let Some(nbf) = nbf {
            if nbf > now.saturating_add(leeway) {
                return Err(VerifyError::NotYetValid { nbf, now });
            }
        }
        let iat = numeric_date(&payload.iat, "iat")?;
        if let Some(iat) = iat {
            if iat > now.saturating_add(leeway) {
                return Err(VerifyError::IssuedInFuture { iat, now });
            }
        }

        let token_use = string(&payload.token_use, "token_use")?;
        let accepted = match inner.token_use {
            TokenUse::Id => token_use == Some("id"),
            TokenUse::Access => token_use == Some("access"),
            TokenUse::Either => matches!(token_use, Some("id" | "access")),
            TokenUse::Unchecked => true,
        };
        if !accepted {
            return match token_use {
                None => Err(VerifyError::MissingClaim("token_use")),
                Some(found) => Err(VerifyError::WrongTokenUse {
                    expected: inner.token_use,
                    found: clip(found),
                }),
            };
        }

        // ID tokens name their client in `aud`, access tokens in `client_id`.
        let client_id = string(&payload.client_id, "client_id")?;
        let aud: Vec<&str> = match &payload.aud {
            None => Vec::new(),
            Some(Json::Str(aud)) => vec![aud],
            Some(Json::Strings(auds)) => auds.iter().map(|a| &**a).collect(),
            Some(_) => return Err(VerifyError::InvalidClaim("aud")),
        };
        let check_client_id = match token_use {
            Some("access") => true,
            Some("id") => false,
            _ => client_id.is_some(),
        };
        if check_client_id {
            let client_id = client_id.ok_or(VerifyError::MissingClaim("client_id"))?;
            if !inner.clients.accepts(client_id) {
                return Err(VerifyError::WrongClientId(clip(client_id)));
            }
        } else {
            if aud.is_empty() {
                return Err(VerifyError::MissingClaim("aud"));
            }
            if !aud.iter().any(|a| inner.clients.accepts(a)) {
                let shown = match aud.as_slice() {
                    [one] => (*one).to_owned(),
                    many => serde_json::to_string(many).unwrap_or_default(),
                };
                return Err(VerifyError::WrongAudience(clip(&shown)));
            }
        }

        let username = match string(&payload.username, "username")? {
            Some(name) => Some(name),
            None => string(&payload.cognito_username, "cognito:username")?,
        };
        Ok(Typed {
            iss: string(&payload.iss, "iss")?.unwrap_or_default(),
            sub: string(&payload.sub, "sub")?,
            token_use,
            client_id,
            aud,
            username,
            scope: string(&payload.scope, "scope")?,
            jti: string(&payload.jti, "jti")?,
            origin_jti: string(&payload.origin_jti, "origin_jti")?,
            groups: strings(&payload.groups, "cognito:groups")?,
            exp,
            iat,
            nbf,
        })
    }

    pub(crate) fn check_requirements(
        &self,
        claims: &Claims,
        requirements: &Requirements,
    ) -> Result<(), VerifyError> {
        for scope in &requirements.scopes {
            claims.require_scope(scope)?;
        }
        claims.require_any_group(&requirements.any_group)
    }
}
