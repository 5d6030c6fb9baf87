//! Configuration: command-line flags, `TESSERA_*` environment variables and an optional TOML
//! file, in that order of precedence, lowered to the [`Settings`] the server runs with.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;
use tessera_idp::pool::bootstrap::{ClientSpec, PoolSpec};
use tessera_server::connection::ConnectionLimits;

use crate::{CommonArgs, ServeArgs};

/// The TOML configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    public_url: Option<String>,
    region: Option<String>,
    regions: Option<String>,
    account_id: Option<String>,
    hosted_domain_suffix: Option<String>,
    log_format: Option<String>,
    header_read_timeout: Option<u64>,
    keep_alive_timeout: Option<u64>,
    max_connections: Option<u32>,
    sweep_interval: Option<u64>,
    #[serde(default)]
    pools: Vec<PoolDeclaration>,
    #[serde(default)]
    delivery: DeliveryFile,
    passwords: Option<PasswordCost>,
    /// `[[triggers]]`: where the functions of pools' `LambdaConfig` run.
    #[serde(default)]
    triggers: Vec<tessera_triggers::TargetConfig>,
    /// `[[sender_keys]]`: the keys custom sender functions open codes with.
    #[serde(default)]
    sender_keys: Vec<SenderKeyDeclaration>,
    /// `[identity]`: identity pools' roles and policies, external STS endpoints and OpenID
    /// providers.
    #[serde(default)]
    identity: tessera_identity::IdentityConfig,
    /// `[federation]`: where upstream identity providers are reached.
    #[serde(default)]
    federation: FederationFile,
    /// `[rate_limits]`: Cognito's quotas and the limits per address and per user (issue 16).
    #[serde(default)]
    rate_limits: RateLimitsFile,
    /// `[audit]`: how long users' authentication events are kept.
    #[serde(default)]
    audit: AuditFile,
}

/// The `[audit]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditFile {
    /// Days an authentication event is kept [default: 90].
    retention_days: Option<u64>,
    /// Where events are streamed as they are recorded, signed as the triggers' webhooks.
    webhook_url: Option<String>,
    /// The stream's `whsec_` signing secrets.
    #[serde(default)]
    webhook_secrets: Vec<String>,
}

/// The `[rate_limits]` table. Off by default: Cognito's rates are an account's quotas, which
/// a development server or a test suite would reach at once.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitsFile {
    #[serde(default)]
    enabled: bool,
    /// Requests per second from one source address on the sign-in and code paths.
    per_address: Option<u32>,
    /// Requests per second for one user on the same paths.
    per_user: Option<u32>,
    /// Counts the windows in Redis (`redis://host:port`) instead of the database.
    redis_url: Option<String>,
    /// The start of tessera's Redis keys [default: tessera].
    redis_prefix: Option<String>,
}

/// The `[federation]` table. Both settings exist for deployments without the public
/// internet and for tests: production leaves them unset.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FederationFile {
    /// An issuer serving Google's discovery document, used in place of
    /// `https://accounts.google.com` for providers of type Google.
    google_issuer: Option<String>,
    /// Allows `http://` upstream URLs on loopback hosts (127.0.0.1, localhost, [::1]).
    #[serde(default)]
    allow_loopback_http: bool,
    /// Stand-ins for Facebook, Login with Amazon and Sign in with Apple: provider type to a
    /// base URL that serves the service's paths.
    #[serde(default)]
    stand_ins: std::collections::BTreeMap<String, String>,
}

/// A `[[sender_keys]]` table: the key that stands for a pool's `KMSKeyID`, so that its
/// custom sender functions receive codes sealed with it (a JWE, `dir` + `A256GCM`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SenderKeyDeclaration {
    /// The `KMSKeyID` of the pools' `LambdaConfig`.
    kms_key_id: String,
    /// 32 random bytes in base64.
    key: String,
}

/// The key is left out because `Debug` output ends up in logs.
impl std::fmt::Debug for SenderKeyDeclaration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SenderKeyDeclaration")
            .field("kms_key_id", &self.kms_key_id)
            .finish_non_exhaustive()
    }
}

/// The `[delivery]` table: where codes and invitations go. Without it, every message is
/// written to the development outbox (`<data-dir>/outbox.jsonl`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryFile {
    pub smtp: Option<tessera_delivery::SmtpConfig>,
    pub sms_webhook: Option<tessera_delivery::SmsWebhookConfig>,
}

/// The `[passwords]` table: the argon2id cost (OWASP's recommendation by default).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordCost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// A `[[pools]]` table: `id`, `name`, `[[pools.clients]]`, and any CreateUserPool member.
#[derive(Debug, Deserialize)]
struct PoolDeclaration {
    id: String,
    name: String,
    #[serde(default)]
    clients: Vec<ClientDeclaration>,
    #[serde(flatten)]
    settings: toml::Table,
}

/// A `[[pools.clients]]` table: `id`, `name`, optional `secret`, and any
/// CreateUserPoolClient member.
#[derive(Debug, Deserialize)]
struct ClientDeclaration {
    id: String,
    name: String,
    secret: Option<String>,
    #[serde(flatten)]
    settings: toml::Table,
}

fn json_members(table: &toml::Table) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    match serde_json::to_value(table)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => anyhow::bail!("expected a table"),
    }
}

impl FileConfig {
    /// Reads the file, or returns an empty configuration when none is given.
    pub fn load(path: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = path else {
            return Ok(Self::default());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The delivery settings.
    pub fn delivery(&self) -> &DeliveryFile {
        &self.delivery
    }

    /// The `[federation]` table, lowered.
    pub fn federation(&self) -> tessera_idp::federation::details::UpstreamOverrides {
        tessera_idp::federation::details::UpstreamOverrides {
            google_issuer: self.federation.google_issuer.clone(),
            allow_loopback_http: self.federation.allow_loopback_http,
            stand_ins: self.federation.stand_ins.clone(),
        }
    }

    /// How long authentication events are kept.
    pub fn audit_retention(&self) -> std::time::Duration {
        self.audit
            .retention_days
            .map_or(tessera_idp::directory::auth_event::RETENTION, |days| {
                std::time::Duration::from_secs(days.saturating_mul(24 * 3600))
            })
    }

    /// The audit stream `[audit] webhook_url` names, if any.
    pub fn audit_sink(
        &self,
        clock: std::sync::Arc<dyn tessera_core::Clock>,
        random: std::sync::Arc<dyn tessera_core::Random>,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn tessera_core::trigger::AuditSink>>> {
        let Some(url) = &self.audit.webhook_url else {
            return Ok(None);
        };
        let sink =
            tessera_triggers::AuditWebhook::new(url, &self.audit.webhook_secrets, clock, random)
                .map_err(|e| anyhow::anyhow!("[audit]: {e}"))?;
        Ok(Some(std::sync::Arc::new(sink)))
    }

    /// The `[rate_limits]` table, lowered.
    pub fn rate_limits(&self) -> tessera_idp::rate_limit::RateLimitConfig {
        let defaults = tessera_idp::rate_limit::RateLimitConfig::default();
        tessera_idp::rate_limit::RateLimitConfig {
            enabled: self.rate_limits.enabled,
            per_address: self.rate_limits.per_address.unwrap_or(defaults.per_address),
            per_user: self.rate_limits.per_user.unwrap_or(defaults.per_user),
        }
    }

    /// `[rate_limits] redis_url` and `redis_prefix`, when the limits are on and the windows go
    /// to Redis.
    pub fn rate_limits_redis(&self) -> Option<(&str, &str)> {
        let url = self.rate_limits.redis_url.as_deref()?;
        self.rate_limits.enabled.then_some((
            url,
            self.rate_limits
                .redis_prefix
                .as_deref()
                .unwrap_or("tessera"),
        ))
    }

    /// The trigger targets, in the order given.
    /// The `[identity]` table, lowered: a malformed policy stops the server at start.
    pub fn identity(&self) -> anyhow::Result<tessera_identity::config::Settings> {
        tessera_identity::config::Settings::from_config(&self.identity)
            .map_err(|error| anyhow::anyhow!("[identity]: {error}"))
    }

    pub fn triggers(&self) -> tessera_triggers::TriggersConfig {
        tessera_triggers::TriggersConfig {
            targets: self.triggers.clone(),
        }
    }

    /// The custom senders' keys, checked.
    pub fn sender_keys(&self) -> anyhow::Result<Vec<tessera_core::trigger::SenderKey>> {
        use base64::Engine;
        self.sender_keys
            .iter()
            .map(|declared| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(declared.key.trim())
                    .ok()
                    .filter(|bytes| bytes.len() == 32)
                    .with_context(|| {
                        format!(
                            "[[sender_keys]] {}: the key must be 32 bytes in base64",
                            declared.kms_key_id
                        )
                    })?;
                Ok(tessera_core::trigger::SenderKey::new(
                    declared.kms_key_id.clone(),
                    &bytes,
                )?)
            })
            .collect()
    }

    /// The argon2id cost, when the file sets one.
    pub fn passwords(&self) -> Option<PasswordCost> {
        self.passwords
    }

    /// The declared pools, for [`tessera_idp::pool::bootstrap::ensure`].
    pub fn pool_specs(&self) -> anyhow::Result<Vec<PoolSpec>> {
        self.pools
            .iter()
            .map(|pool| {
                Ok(PoolSpec {
                    id: pool.id.clone(),
                    name: pool.name.clone(),
                    settings: json_members(&pool.settings)?,
                    clients: pool
                        .clients
                        .iter()
                        .map(|client| {
                            Ok(ClientSpec {
                                id: client.id.clone(),
                                name: client.name.clone(),
                                secret: client.secret.clone(),
                                settings: json_members(&client.settings)?,
                            })
                        })
                        .collect::<anyhow::Result<_>>()?,
                })
            })
            .collect()
    }
}

/// A timeout given in seconds. Zero would refuse every connection, and the upper bound keeps
/// deadline arithmetic far from overflow while allowing any sensible value.
/// `--regions`: `*` for every region, or a comma-separated list.
fn regions(list: &str) -> anyhow::Result<tessera_idp::Regions> {
    if list.trim() == "*" {
        return Ok(tessera_idp::Regions::Any);
    }
    let names: Vec<String> = list
        .split(',')
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    anyhow::ensure!(
        !names.is_empty(),
        "--regions needs * or at least one region"
    );
    for name in &names {
        anyhow::ensure!(
            tessera_core::is_region_name(name),
            "{name:?} is not a region name such as us-east-1"
        );
    }
    Ok(tessera_idp::Regions::Only(names))
}

fn timeout(what: &str, seconds: u64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        (1..=86_400).contains(&seconds),
        "{what} must be between 1 and 86400 seconds"
    );
    Ok(Duration::from_secs(seconds))
}

/// The resolved settings.
#[derive(Debug)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub public_url: Option<String>,
    pub region: String,
    /// The regions answered.
    pub regions: tessera_idp::Regions,
    pub account_id: String,
    pub hosted_domain_suffix: String,
    pub log_format: String,
    pub connections: ConnectionLimits,
    /// How often expired sign-in state is swept.
    pub sweep_interval: Duration,
}

impl Settings {
    /// Settings for the commands that only open the data directory.
    pub fn resolve_common(args: &CommonArgs, file: &FileConfig) -> anyhow::Result<Self> {
        let data_dir = args
            .data_dir
            .clone()
            .or_else(|| file.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from("tessera-data"));
        let database_url = match args
            .database_url
            .clone()
            .or_else(|| file.database_url.clone())
        {
            Some(url) => url,
            None => {
                let path = data_dir.join("tessera.db");
                let path = path
                    .to_str()
                    .context("the data directory path must be UTF-8")?;
                format!("sqlite://{path}?mode=rwc")
            }
        };
        Ok(Self {
            data_dir,
            database_url,
            listen: "127.0.0.1:9229".into(),
            public_url: None,
            region: "us-east-1".into(),
            regions: tessera_idp::Regions::Any,
            account_id: "000000000000".into(),
            hosted_domain_suffix: "auth.localhost".into(),
            log_format: "text".into(),
            connections: ConnectionLimits::default(),
            sweep_interval: Duration::from_secs(60),
        })
    }

    /// Settings for `serve`.
    pub fn resolve(
        args: &CommonArgs,
        file: &FileConfig,
        serve: &ServeArgs,
    ) -> anyhow::Result<Self> {
        let mut settings = Self::resolve_common(args, file)?;
        let pick =
            |flag: &Option<String>, file: &Option<String>| flag.clone().or_else(|| file.clone());
        if let Some(listen) = pick(&serve.listen, &file.listen) {
            settings.listen = listen;
        }
        settings.public_url = pick(&serve.public_url, &file.public_url);
        // --region alone keeps a server to that one region, as before --regions existed;
        // without either it answers every region.
        let region = pick(&serve.region, &file.region);
        if let Some(region) = &region {
            anyhow::ensure!(
                tessera_core::is_region_name(region),
                "region must look like us-east-1"
            );
            settings.region = region.clone();
            settings.regions = tessera_idp::Regions::Only(vec![region.clone()]);
        }
        if let Some(list) = pick(&serve.regions, &file.regions) {
            settings.regions = regions(&list)?;
            if let (None, tessera_idp::Regions::Only(listed)) = (&region, &settings.regions) {
                settings.region = listed[0].clone();
            }
            anyhow::ensure!(
                settings.regions.serves(&settings.region),
                "the region {} is not among --regions",
                settings.region
            );
        }
        if let Some(account_id) = pick(&serve.account_id, &file.account_id) {
            anyhow::ensure!(
                account_id.len() == 12 && account_id.chars().all(|c| c.is_ascii_digit()),
                "account id must be 12 digits"
            );
            settings.account_id = account_id;
        }
        if let Some(suffix) = pick(&serve.hosted_domain_suffix, &file.hosted_domain_suffix) {
            let suffix = suffix.trim_matches('.').to_ascii_lowercase();
            anyhow::ensure!(
                !suffix.is_empty()
                    && suffix.split('.').all(|label| {
                        !label.is_empty()
                            && label
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    }),
                "hosted domain suffix must be a domain name such as auth.example.com"
            );
            settings.hosted_domain_suffix = suffix;
        }
        if let Some(format) = pick(&serve.log_format, &file.log_format) {
            settings.log_format = format;
        }
        if let Some(seconds) = serve.header_read_timeout.or(file.header_read_timeout) {
            settings.connections.header_read_timeout = timeout("header read timeout", seconds)?;
        }
        if let Some(seconds) = serve.keep_alive_timeout.or(file.keep_alive_timeout) {
            settings.connections.keep_alive_timeout = timeout("keep-alive timeout", seconds)?;
        }
        if let Some(count) = serve.max_connections.or(file.max_connections) {
            anyhow::ensure!(count >= 1, "max connections must be at least 1");
            settings.connections.max_connections = count;
        }
        if let Some(seconds) = serve.sweep_interval.or(file.sweep_interval) {
            settings.sweep_interval = timeout("sweep interval", seconds)?;
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser as _;

    use super::{FileConfig, Settings};
    use crate::{Cli, Command};

    /// Lowers `flags` (after `tessera serve`) and the TOML `file` to settings.
    fn resolve(flags: &[&str], file: &str) -> anyhow::Result<Settings> {
        let cli = Cli::try_parse_from(["tessera", "serve"].iter().chain(flags)).unwrap();
        let Command::Serve(serve) = cli.command else {
            unreachable!("parsed a serve command")
        };
        let file: FileConfig = toml::from_str(file).unwrap();
        Settings::resolve(&serve.common, &file, &serve)
    }

    #[test]
    fn connection_limits_have_safe_defaults() {
        let limits = resolve(&[], "").unwrap().connections;
        assert_eq!(limits.header_read_timeout, Duration::from_secs(10));
        assert_eq!(limits.keep_alive_timeout, Duration::from_secs(60));
        assert_eq!(limits.max_connections, 4096);
    }

    #[test]
    fn connection_limits_come_from_the_file_and_flags_win() {
        let file = "header_read_timeout = 5\nkeep_alive_timeout = 30\nmax_connections = 100\n";
        let limits = resolve(&[], file).unwrap().connections;
        assert_eq!(limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(limits.keep_alive_timeout, Duration::from_secs(30));
        assert_eq!(limits.max_connections, 100);

        let flags = [
            "--header-read-timeout",
            "2",
            "--keep-alive-timeout",
            "3",
            "--max-connections",
            "7",
        ];
        let limits = resolve(&flags, file).unwrap().connections;
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        assert_eq!(limits.keep_alive_timeout, Duration::from_secs(3));
        assert_eq!(limits.max_connections, 7);
    }

    #[test]
    fn connection_limits_that_would_refuse_everything_are_refused() {
        for (flags, message) in [
            (
                ["--header-read-timeout", "0"],
                "header read timeout must be between 1 and 86400 seconds",
            ),
            (
                ["--keep-alive-timeout", "86401"],
                "keep-alive timeout must be between 1 and 86400 seconds",
            ),
            (
                ["--max-connections", "0"],
                "max connections must be at least 1",
            ),
        ] {
            let error = resolve(&flags, "").unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        let error = resolve(&[], "max_connections = 0").unwrap_err();
        assert_eq!(error.to_string(), "max connections must be at least 1");
    }
}
