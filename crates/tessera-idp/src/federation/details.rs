//! `ProviderDetails` per provider type, as Cognito validates and returns them.
//!
//! Social providers (Google, Facebook, Login with Amazon, Sign in with Apple) are presets:
//! the request gives the credentials and scopes, and Cognito adds the endpoints of the
//! service (the model's DescribeIdentityProvider examples, quoted in
//! `docs/design/federation-facts.md` §2). An OIDC provider's endpoints are discovered from
//! `oidc_issuer` unless all four are given. A SAML provider's metadata is read (fetched when
//! given by `MetadataURL`), checked, and its URLs are returned as Cognito returns them.
//!
//! Keys starting with `tessera:` are tessera's own (a fetched metadata document, the
//! encryption key of a SAML provider): they are sealed with the rest, never returned, and a
//! request cannot set them.

use std::time::SystemTime;

use serde_json::{Map, Value};

use super::saml_metadata::{self, IdpMetadata};
use super::upstream::Upstream;
use crate::Error;

/// The prefix of tessera's own keys in a provider's details.
pub const PRIVATE_PREFIX: &str = "tessera:";
/// The fetched metadata document of a SAML provider configured by `MetadataURL`.
pub const FETCHED_METADATA: &str = "tessera:metadata";
/// The PKCS#8 DER (base64) of a SAML provider's encryption key.
pub const ENCRYPTION_KEY: &str = "tessera:encryption_key";

/// `ProviderType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Oidc,
    Saml,
    Google,
    Facebook,
    LoginWithAmazon,
    SignInWithApple,
}

impl ProviderKind {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "OIDC" => Self::Oidc,
            "SAML" => Self::Saml,
            "Google" => Self::Google,
            "Facebook" => Self::Facebook,
            "LoginWithAmazon" => Self::LoginWithAmazon,
            "SignInWithApple" => Self::SignInWithApple,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "OIDC",
            Self::Saml => "SAML",
            Self::Google => "Google",
            Self::Facebook => "Facebook",
            Self::LoginWithAmazon => "LoginWithAmazon",
            Self::SignInWithApple => "SignInWithApple",
        }
    }

    /// The social presets, whose provider name must be the type itself.
    pub fn is_social(self) -> bool {
        !matches!(self, Self::Oidc | Self::Saml)
    }

    /// The upstream attribute a federated user's id comes from when the mapping names none
    /// for `username`: Facebook's `id`, Amazon's `user_id`, a SAML assertion's NameID (which
    /// the SAML sign-in puts among the attributes under this name), otherwise `sub`.
    pub fn default_subject(self) -> &'static str {
        match self {
            Self::Facebook => "id",
            Self::LoginWithAmazon => "user_id",
            Self::Saml => "NameID",
            _ => "sub",
        }
    }
}

/// Where tessera finds a provider's upstream, beyond what the request says. Production uses
/// the public services; a deployment without internet (or a test) points the social presets
/// at stand-ins that serve the same documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamOverrides {
    /// An issuer serving Google's discovery document in place of `https://accounts.google.com`.
    pub google_issuer: Option<String>,
    /// Stand-ins for the other social presets, by provider type (`Facebook`,
    /// `LoginWithAmazon`, `SignInWithApple`): a base URL whose scheme and host replace those
    /// of every preset endpoint, paths kept (Apple's issuer becomes the base itself).
    pub stand_ins: std::collections::BTreeMap<String, String>,
    /// Lets OIDC issuers and discovered endpoints use `http://` on loopback hosts.
    pub allow_loopback_http: bool,
}

/// What a validation needs besides the request.
pub struct Context<'a> {
    pub upstream: &'a dyn Upstream,
    pub overrides: &'a UpstreamOverrides,
    pub now: SystemTime,
    /// The details stored before an update, whose secrets a round-trip of Describe (which
    /// leaves Apple's private key out) keeps.
    pub previous: Option<&'a Map<String, Value>>,
    /// Makes an encryption key and certificate for a SAML provider that wants encrypted
    /// responses: PKCS#8 DER and certificate DER.
    pub encryption_key: &'a (dyn Fn() -> Result<(Vec<u8>, Vec<u8>), Error> + Sync),
}

fn text<'a>(details: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    details
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn require_all(details: &Map<String, Value>, keys: &[&str]) -> Result<(), Error> {
    if keys.iter().all(|key| text(details, key).is_some()) {
        return Ok(());
    }
    // Cognito's message for the social types is "client_id, client_secret and
    // authorize_scopes are all required idp details"; the other types follow its form.
    let (last, rest) = keys.split_last().expect("keys");
    Err(Error::invalid_parameter(format!(
        "{} and {last} are all required idp details",
        rest.join(", ")
    )))
}

/// Validates the request's `ProviderDetails` for a provider of `kind` named `name`, and
/// returns the details to store: the request's, with what Cognito derives added.
pub async fn validate(
    kind: ProviderKind,
    name: &str,
    requested: &Map<String, Value>,
    context: &Context<'_>,
) -> Result<Map<String, Value>, Error> {
    if kind.is_social() && name != kind.as_str() {
        return Err(Error::invalid_parameter(format!(
            "Provider {} cannot be of type {}.",
            tessera_core::excerpt(name),
            kind.as_str()
        )));
    }
    if !kind.is_social() && matches!(name.to_ascii_uppercase().as_str(), "COGNITO") {
        return Err(Error::invalid_parameter(format!(
            "Provider name {name} is reserved."
        )));
    }
    // A social preset's endpoints are the service's, never the request's.
    let preset_only = |key: &str| kind.is_social() && URL_KEYS.contains(&key);
    let mut details: Map<String, Value> = requested
        .iter()
        .filter(|(key, _)| !key.starts_with(PRIVATE_PREFIX) && !preset_only(key))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    match kind {
        ProviderKind::Google | ProviderKind::Facebook | ProviderKind::LoginWithAmazon => {
            require_all(
                &details,
                &["client_id", "client_secret", "authorize_scopes"],
            )?;
            social_endpoints(kind, &mut details, context).await?;
        }
        ProviderKind::SignInWithApple => {
            // Describe never returns the private key, so an update that round-trips
            // Describe's answer keeps the stored one.
            if text(&details, "private_key").is_none() {
                if let Some(key) = context.previous.and_then(|p| p.get("private_key")) {
                    details.insert("private_key".into(), key.clone());
                }
            }
            require_all(
                &details,
                &[
                    "client_id",
                    "team_id",
                    "key_id",
                    "private_key",
                    "authorize_scopes",
                ],
            )?;
            if !super::apple::is_usable_key(text(&details, "private_key").unwrap_or_default()) {
                return Err(Error::invalid_parameter(
                    "The private_key of SignInWithApple is not a P-256 PKCS#8 key.",
                ));
            }
            social_endpoints(kind, &mut details, context).await?;
        }
        ProviderKind::Oidc => oidc(&mut details, context).await?,
        ProviderKind::Saml => saml(&mut details, context).await?,
    }
    // Every URL tessera will call, whatever put it there, is held to the same rule.
    for key in URL_KEYS.iter().chain(["MetadataURL"].iter()) {
        if let Some(url) = text(&details, key) {
            if !acceptable_url(url, context.overrides) {
                return Err(Error::invalid_parameter(format!(
                    "{key} {} must be an HTTPS URL.",
                    tessera_core::excerpt(url)
                )));
            }
        }
    }
    Ok(details)
}

/// The keys of ProviderDetails that name an endpoint tessera calls or sends browsers to.
const URL_KEYS: [&str; 5] = [
    "authorize_url",
    "token_url",
    "attributes_url",
    "jwks_uri",
    "oidc_issuer",
];

fn set(details: &mut Map<String, Value>, key: &str, value: &str) {
    details.insert(key.to_owned(), Value::String(value.to_owned()));
}

async fn social_endpoints(
    kind: ProviderKind,
    details: &mut Map<String, Value>,
    context: &Context<'_>,
) -> Result<(), Error> {
    match kind {
        ProviderKind::Google => {
            if let Some(issuer) = &context.overrides.google_issuer {
                // A stand-in for Google: its endpoints come from its discovery document.
                let endpoints = discover(issuer, context).await?;
                set(details, "oidc_issuer", issuer);
                set(details, "authorize_url", &endpoints.authorization_endpoint);
                set(details, "token_url", &endpoints.token_endpoint);
                set(
                    details,
                    "attributes_url",
                    endpoints.userinfo_endpoint.as_deref().unwrap_or_default(),
                );
                set(details, "jwks_uri", &endpoints.jwks_uri);
                set(details, "attributes_url_add_attributes", "false");
            } else {
                set(
                    details,
                    "attributes_url",
                    "https://people.googleapis.com/v1/people/me?personFields=",
                );
                set(details, "attributes_url_add_attributes", "true");
                set(
                    details,
                    "authorize_url",
                    "https://accounts.google.com/o/oauth2/v2/auth",
                );
                set(details, "oidc_issuer", "https://accounts.google.com");
                set(
                    details,
                    "token_url",
                    "https://www.googleapis.com/oauth2/v4/token",
                );
                set(
                    details,
                    "jwks_uri",
                    "https://www.googleapis.com/oauth2/v3/certs",
                );
            }
            set(details, "token_request_method", "POST");
        }
        ProviderKind::Facebook => {
            let version = text(details, "api_version").unwrap_or("v17.0").to_owned();
            if !version.starts_with('v')
                || !version[1..].chars().all(|c| c.is_ascii_digit() || c == '.')
            {
                return Err(Error::invalid_parameter(format!(
                    "api_version {} is not a Graph API version such as v17.0.",
                    tessera_core::excerpt(&version)
                )));
            }
            set(
                details,
                "attributes_url",
                &format!("https://graph.facebook.com/{version}/me?fields="),
            );
            set(details, "attributes_url_add_attributes", "true");
            set(
                details,
                "authorize_url",
                &format!("https://www.facebook.com/{version}/dialog/oauth"),
            );
            set(details, "token_request_method", "GET");
            set(
                details,
                "token_url",
                &format!("https://graph.facebook.com/{version}/oauth/access_token"),
            );
        }
        ProviderKind::LoginWithAmazon => {
            set(
                details,
                "attributes_url",
                "https://api.amazon.com/user/profile",
            );
            set(details, "attributes_url_add_attributes", "false");
            set(details, "authorize_url", "https://www.amazon.com/ap/oa");
            set(details, "token_request_method", "POST");
            set(details, "token_url", "https://api.amazon.com/auth/o2/token");
        }
        ProviderKind::SignInWithApple => {
            set(details, "attributes_url_add_attributes", "false");
            set(
                details,
                "authorize_url",
                "https://appleid.apple.com/auth/authorize",
            );
            set(details, "oidc_issuer", "https://appleid.apple.com");
            set(details, "token_request_method", "POST");
            set(details, "token_url", "https://appleid.apple.com/auth/token");
            set(details, "jwks_uri", "https://appleid.apple.com/auth/keys");
        }
        ProviderKind::Oidc | ProviderKind::Saml => {}
    }
    if let Some(base) = context.overrides.stand_ins.get(kind.as_str()) {
        let base = base.trim_end_matches('/');
        for key in URL_KEYS {
            let Some(url) = text(details, key).map(String::from) else {
                continue;
            };
            let replaced = if key == "oidc_issuer" {
                base.to_owned()
            } else {
                match url::Url::parse(&url) {
                    Ok(parsed) => {
                        let query = parsed.query().map(|q| format!("?{q}")).unwrap_or_default();
                        format!("{base}{}{query}", parsed.path())
                    }
                    Err(_) => continue,
                }
            };
            set(details, key, &replaced);
        }
    }
    Ok(())
}

/// Whether `url` may be an upstream endpoint: HTTPS, or HTTP on a loopback host where the
/// deployment allows it (RFC 8252's loopback exception, for providers on the same machine).
fn acceptable_url(url: &str, overrides: &UpstreamOverrides) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    match parsed.scheme() {
        "https" => parsed.host().is_some(),
        "http" => {
            overrides.allow_loopback_http
                && matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"))
        }
        _ => false,
    }
}

async fn discover(issuer: &str, context: &Context<'_>) -> Result<super::OidcEndpoints, Error> {
    let endpoints = context.upstream.discover(issuer).await.map_err(|error| {
        Error::invalid_parameter(format!(
            "The OpenID Connect discovery document of {} could not be read: {error}",
            tessera_core::excerpt(issuer)
        ))
    })?;
    for url in [
        Some(&endpoints.authorization_endpoint),
        Some(&endpoints.token_endpoint),
        endpoints.userinfo_endpoint.as_ref(),
        Some(&endpoints.jwks_uri),
    ]
    .into_iter()
    .flatten()
    {
        if !acceptable_url(url, context.overrides) {
            return Err(Error::invalid_parameter(format!(
                "The discovered endpoint {} of {} is not an HTTPS URL.",
                tessera_core::excerpt(url),
                tessera_core::excerpt(issuer)
            )));
        }
    }
    Ok(endpoints)
}

async fn oidc(details: &mut Map<String, Value>, context: &Context<'_>) -> Result<(), Error> {
    require_all(
        details,
        &[
            "client_id",
            "attributes_request_method",
            "oidc_issuer",
            "authorize_scopes",
        ],
    )?;
    let method = text(details, "attributes_request_method").unwrap_or_default();
    if method != "GET" && method != "POST" {
        return Err(Error::invalid_parameter(
            "attributes_request_method must be GET or POST.",
        ));
    }
    let scopes = text(details, "authorize_scopes").unwrap_or_default();
    if !scopes.split(' ').any(|scope| scope == "openid") {
        return Err(Error::invalid_parameter(
            "authorize_scopes must include openid.",
        ));
    }
    let issuer = text(details, "oidc_issuer").unwrap_or_default().to_owned();
    if !acceptable_url(&issuer, context.overrides) {
        return Err(Error::invalid_parameter(format!(
            "oidc_issuer {} must be an HTTPS URL.",
            tessera_core::excerpt(&issuer)
        )));
    }
    const ENDPOINTS: [&str; 4] = ["authorize_url", "token_url", "attributes_url", "jwks_uri"];
    for key in ENDPOINTS {
        if let Some(url) = text(details, key) {
            if !acceptable_url(url, context.overrides) {
                return Err(Error::invalid_parameter(format!(
                    "{key} {} must be an HTTPS URL.",
                    tessera_core::excerpt(url)
                )));
            }
        }
    }
    // The endpoints are discovered unless all four are given, as the model's documentation
    // of ProviderDetails says; a discovered endpoint does not replace a given one.
    if ENDPOINTS.iter().any(|key| text(details, key).is_none()) {
        let endpoints = discover(&issuer, context).await?;
        let discovered = [
            ("authorize_url", Some(endpoints.authorization_endpoint)),
            ("token_url", Some(endpoints.token_endpoint)),
            ("attributes_url", endpoints.userinfo_endpoint),
            ("jwks_uri", Some(endpoints.jwks_uri)),
        ];
        for (key, value) in discovered {
            if text(details, key).is_none() {
                if let Some(value) = value {
                    set(details, key, &value);
                }
            }
        }
    }
    set(details, "attributes_url_add_attributes", "false");
    Ok(())
}

fn flag(details: &Map<String, Value>, key: &str) -> Result<bool, Error> {
    match text(details, key) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(Error::invalid_parameter(format!(
            "{key} must be true or false, not {}.",
            tessera_core::excerpt(other)
        ))),
    }
}

async fn saml(details: &mut Map<String, Value>, context: &Context<'_>) -> Result<(), Error> {
    let document = match (text(details, "MetadataFile"), text(details, "MetadataURL")) {
        (Some(file), _) => file.to_owned(),
        (None, Some(url)) => {
            if !acceptable_url(url, context.overrides) {
                return Err(Error::invalid_parameter(format!(
                    "MetadataURL {} must be an HTTPS URL.",
                    tessera_core::excerpt(url)
                )));
            }
            let document = context.upstream.saml_metadata(url).await.map_err(|error| {
                Error::invalid_parameter(format!(
                    "The metadata at {} could not be read: {error}",
                    tessera_core::excerpt(url)
                ))
            })?;
            set(details, FETCHED_METADATA, &document);
            document
        }
        (None, None) => {
            return Err(Error::invalid_parameter(
                "At least one of the MetadataURL or MetadataFile should be provided.",
            ))
        }
    };
    let metadata = saml_metadata::parse(&document, context.now)
        .map_err(|error| Error::invalid_parameter(format!("Invalid SAML metadata: {error}")))?;
    saml_urls(details, &metadata);
    for key in ["IDPSignout", "IDPInit"] {
        flag(details, key)?;
    }
    if let Some(algorithm) = text(details, "RequestSigningAlgorithm") {
        if algorithm != "rsa-sha256" {
            return Err(Error::invalid_parameter(
                "RequestSigningAlgorithm must be rsa-sha256.",
            ));
        }
    }
    if flag(details, "EncryptedResponses")? {
        let kept = context.previous.and_then(|p| {
            Some((
                p.get(ENCRYPTION_KEY)?,
                p.get("ActiveEncryptionCertificate")?,
            ))
        });
        let (key, certificate) = match kept {
            Some((key, certificate)) => (key.clone(), certificate.clone()),
            None => {
                use base64::Engine;
                let (key, certificate) = (context.encryption_key)()?;
                let b64 = base64::engine::general_purpose::STANDARD;
                (
                    Value::String(b64.encode(key)),
                    Value::String(b64.encode(certificate)),
                )
            }
        };
        details.insert(ENCRYPTION_KEY.into(), key);
        details.insert("ActiveEncryptionCertificate".into(), certificate);
    } else {
        details.remove("ActiveEncryptionCertificate");
    }
    Ok(())
}

fn saml_urls(details: &mut Map<String, Value>, metadata: &IdpMetadata) {
    details.remove("SSORedirectBindingURI");
    details.remove("SLORedirectBindingURI");
    if let Some(url) = &metadata.sso_redirect {
        set(details, "SSORedirectBindingURI", url);
    }
    if let Some(url) = &metadata.slo_redirect {
        set(details, "SLORedirectBindingURI", url);
    }
}

/// The details as the API returns them: without tessera's own keys, and without Apple's
/// private key, which Cognito never returns.
pub fn public_view(kind: ProviderKind, details: &Map<String, Value>) -> Map<String, Value> {
    details
        .iter()
        .filter(|(key, _)| !key.starts_with(PRIVATE_PREFIX))
        .filter(|(key, _)| !(kind == ProviderKind::SignInWithApple && *key == "private_key"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// The metadata document of a SAML provider: the file it was given, or the one fetched from
/// its URL when it was configured.
pub fn saml_metadata_document(details: &Map<String, Value>) -> Option<&str> {
    text(details, "MetadataFile").or_else(|| text(details, FETCHED_METADATA))
}
