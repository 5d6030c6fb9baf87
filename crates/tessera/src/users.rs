//! `tessera users import` and `tessera users export` (issue 16): users with their password
//! hashes, groups and attributes, one JSON object per line.
//!
//! A line of an import file:
//!
//! ```json
//! {"username": "alice", "attributes": {"email": "alice@example.com", "email_verified": "true"},
//!  "groups": ["admins"], "enabled": true, "status": "CONFIRMED",
//!  "password": {"format": "bcrypt", "hash": "$2b$10$…"}}
//! ```
//!
//! `password.format` is one of `bcrypt`, `argon2`, `scrypt`, `pbkdf2` (PHC strings, see
//! `tessera_core::ImportedHash`), `django` (Django's `pbkdf2_sha256$…`), `firebase`
//! (`hash`, `salt`, `signer_key`, `salt_separator`, `rounds`, `mem_cost`, as Firebase's
//! `auth:export` and its project settings give them), `keycloak` (a credential of a realm
//! export: `secretData` and `credentialData`) and `tessera` (what `export` writes: the stored
//! hash, and the SRP verifier with the pool it was made for). An export is such a file:
//! importing it into another tessera keeps every user able to sign in.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tessera_core::{
    AppClient, Group, ImportedHash, Pbkdf2Digest, SrpVerifier, User, UserPool, UserStatus,
};
use tessera_idp::directory::import::{import_user, Imported, ImportedUser};
use tessera_idp::directory::Directory;
use tessera_idp::Service;
use tessera_store::Store;

/// One line of an import or export file.
#[derive(Debug, Serialize, Deserialize)]
pub struct UserLine {
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<serde_json::Map<String, serde_json::Value>>,
}

fn enabled() -> bool {
    true
}

fn text<'a>(
    password: &'a serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> anyhow::Result<&'a str> {
    password
        .get(name)
        .and_then(serde_json::Value::as_str)
        .with_context(|| format!("password.{name} is missing"))
}

fn base64_field(
    password: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> anyhow::Result<Vec<u8>> {
    let value = text(password, name)?;
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(value))
        .with_context(|| format!("password.{name} is not Base64"))
}

fn small_number<T: TryFrom<u64>>(
    password: &serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> anyhow::Result<T> {
    password
        .get(name)
        .and_then(serde_json::Value::as_u64)
        .and_then(|n| T::try_from(n).ok())
        .with_context(|| format!("password.{name} is missing or out of range"))
}

/// The stored hash and SRP verifier a line's `password` gives, for a pool whose SRP name is
/// `srp_pool` (a verifier made for another pool name is dropped: the first sign-in makes one).
fn stored_password(
    password: &serde_json::Map<String, serde_json::Value>,
    srp_pool: &str,
) -> anyhow::Result<(String, Option<SrpVerifier>)> {
    let format = text(password, "format")?;
    let stored = match format {
        "bcrypt" | "argon2" | "scrypt" | "pbkdf2" | "django" | "tessera" => {
            text(password, "hash")?.to_owned()
        }
        "firebase" => ImportedHash::FirebaseScrypt {
            mem_cost: small_number(password, "mem_cost")?,
            rounds: small_number(password, "rounds")?,
            salt_separator: base64_field(password, "salt_separator")?,
            signer_key: base64_field(password, "signer_key")?,
            salt: base64_field(password, "salt")?,
            hash: base64_field(password, "hash")?,
        }
        .to_stored(),
        "keycloak" => {
            // Keycloak's realm export keeps both halves as JSON inside strings.
            let secret: serde_json::Value = serde_json::from_str(text(password, "secretData")?)
                .context("password.secretData is not JSON")?;
            let data: serde_json::Value = serde_json::from_str(text(password, "credentialData")?)
                .context("password.credentialData is not JSON")?;
            let algorithm = data["algorithm"].as_str().unwrap_or("pbkdf2-sha256");
            let digest = Pbkdf2Digest::of_keycloak(algorithm)
                .with_context(|| format!("Keycloak algorithm {algorithm} is not supported"))?;
            let decode = |name: &str| -> anyhow::Result<Vec<u8>> {
                base64::engine::general_purpose::STANDARD
                    .decode(secret[name].as_str().unwrap_or(""))
                    .with_context(|| format!("secretData.{name} is not Base64"))
            };
            ImportedHash::Pbkdf2 {
                digest,
                iterations: data["hashIterations"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .context("credentialData.hashIterations is missing")?,
                salt: decode("salt")?,
                hash: decode("value")?,
                django: false,
            }
            .to_stored()
        }
        other => anyhow::bail!("password.format {other} is not supported"),
    };
    let verifier = match password.get("srp") {
        Some(srp) if srp["pool"].as_str() == Some(srp_pool) => {
            let hex_field = |name: &str| -> anyhow::Result<Vec<u8>> {
                hex::decode(srp[name].as_str().unwrap_or(""))
                    .with_context(|| format!("password.srp.{name} is not hex"))
            };
            Some(SrpVerifier {
                salt: hex_field("salt")?,
                verifier: hex_field("verifier")?,
            })
        }
        _ => None,
    };
    Ok((stored, verifier))
}

/// Counts of an import.
#[derive(Debug, Default)]
pub struct Report {
    pub created: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// Imports every line of `input` into `pool_id`, reporting each skipped or failed line on
/// standard error (`[SKIPPED] Line Number 3 - …`, the words of Cognito's import log).
pub async fn import(
    service: &Service,
    pool_id: &str,
    input: impl std::io::BufRead,
) -> anyhow::Result<Report> {
    let directory = Directory::load(service, pool_id)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let srp_pool = tessera_core::srp_pool_name(pool_id).to_owned();
    let mut report = Report::default();
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.context("reading the import file")?;
        if line.trim().is_empty() {
            continue;
        }
        if is_pool_line(&line) {
            continue;
        }
        let outcome = match read_line(&line, &srp_pool) {
            Ok(record) => import_user(service, &directory, record)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?,
            Err(error) => Imported::Failed(format!("{error:#}")),
        };
        match outcome {
            Imported::Created => report.created += 1,
            Imported::Skipped(reason) => {
                report.skipped += 1;
                eprintln!("[SKIPPED] Line Number {number} - {reason}");
            }
            Imported::Failed(reason) => {
                report.failed += 1;
                eprintln!("[FAILED] Line Number {number} - {reason}");
            }
        }
    }
    Ok(report)
}

fn read_line(line: &str, srp_pool: &str) -> anyhow::Result<ImportedUser> {
    let line: UserLine = serde_json::from_str(line).context("the line is not a user object")?;
    let (password_hash, srp_verifier) = match &line.password {
        Some(password) => {
            let (hash, verifier) = stored_password(password, srp_pool)?;
            (Some(hash), verifier)
        }
        None => (None, None),
    };
    let status = line
        .status
        .as_deref()
        .map(|status| {
            UserStatus::parse(status)
                .filter(|s| *s != UserStatus::ExternalProvider)
                .with_context(|| format!("status {status} cannot be imported"))
        })
        .transpose()?;
    Ok(ImportedUser {
        username: line.username,
        sub: line.sub,
        attributes: line.attributes.into_iter().collect(),
        enabled: line.enabled,
        status,
        password_hash,
        srp_verifier,
        groups: line.groups,
        created_at: line.created.map(|s| UNIX_EPOCH + Duration::from_secs(s)),
    })
}

/// Writes every user of `pool_id` (federated users excepted: they come back by signing in)
/// as lines `import` reads. Returns how many.
pub async fn export(
    store: &Store,
    pool_id: &str,
    mut output: impl std::io::Write,
) -> anyhow::Result<u64> {
    let pool = store
        .user_pool(pool_id)
        .await?
        .with_context(|| format!("no user pool {pool_id}"))?;
    serde_json::to_writer(&mut output, &pool_line(store, &pool).await?)?;
    output.write_all(b"\n")?;
    let srp_pool = tessera_core::srp_pool_name(pool_id);
    let mut after: Option<String> = None;
    let mut count = 0;
    loop {
        let page = store.list_users(pool_id, after.as_deref(), 500).await?;
        let Some((last, _)) = page.last() else { break };
        after = Some(last.clone());
        for (key, user) in page {
            if user.status == UserStatus::ExternalProvider {
                continue;
            }
            let groups = store
                .groups_of_user(pool_id, &key)
                .await?
                .into_iter()
                .map(|group| group.name)
                .collect();
            let line = export_line(&user, groups, srp_pool);
            serde_json::to_writer(&mut output, &line)?;
            output.write_all(b"\n")?;
            count += 1;
        }
    }
    output.flush()?;
    Ok(count)
}

fn export_line(user: &User, groups: Vec<String>, srp_pool: &str) -> UserLine {
    let password = user.password_hash.as_ref().map(|hash| {
        let mut password = serde_json::Map::new();
        password.insert("format".into(), "tessera".into());
        password.insert("hash".into(), hash.clone().into());
        if let Some(verifier) = &user.srp_verifier {
            password.insert(
                "srp".into(),
                serde_json::json!({
                    "pool": srp_pool,
                    "salt": hex::encode(&verifier.salt),
                    "verifier": hex::encode(&verifier.verifier),
                }),
            );
        }
        password
    });
    let mut attributes = user.attributes.clone();
    attributes.remove("sub");
    UserLine {
        username: user.username.clone(),
        sub: Some(user.sub.clone()),
        attributes,
        groups,
        enabled: user.enabled,
        status: Some(user.status.as_str().to_owned()),
        created: user
            .created_at
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs()),
        password,
    }
}

/// The first line of an export: the pool's configuration (its settings, app clients with
/// their secrets, and groups), so that `import` into another tessera recreates the pool under
/// the same id, where clients keep their ids and secrets and users their SRP verifiers. Not
/// carried: domains, resource servers, identity providers, UI customizations and signing keys
/// (the new pool signs with keys of its own).
async fn pool_line(store: &Store, pool: &UserPool) -> anyhow::Result<serde_json::Value> {
    let mut clients = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list_app_clients(&pool.id, after.as_deref(), 60)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.client_id.clone());
        for client in page {
            clients.push(json!({
                "client_id": client.client_id,
                "client_name": client.client_name,
                "secret": client.secret,
                "created": seconds(client.created_at),
                "settings": client.settings,
            }));
        }
    }
    let mut groups = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.list_groups(&pool.id, after.as_deref(), 60).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.name.clone());
        for group in page {
            groups.push(json!({
                "name": group.name,
                "description": group.description,
                "precedence": group.precedence,
                "role_arn": group.role_arn,
                "created": seconds(group.created_at),
            }));
        }
    }
    Ok(json!({
        "pool": {
            "id": pool.id,
            "name": pool.name,
            "created": seconds(pool.created_at),
            "settings": pool.settings,
        },
        "clients": clients,
        "groups": groups,
    }))
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn from_seconds(value: &serde_json::Value) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(value.as_u64().unwrap_or(0))
}

/// Whether a line is an export's pool line rather than a user.
pub fn is_pool_line(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line).is_ok_and(|value| value.get("pool").is_some())
}

/// A pool as an export's first line describes it.
pub struct PoolConfiguration {
    pub pool: UserPool,
    pub clients: Vec<AppClient>,
    pub groups: Vec<Group>,
}

/// The pool a file's first line describes, with its clients and groups, if it has one.
pub fn read_pool_line(line: &str) -> anyhow::Result<Option<PoolConfiguration>> {
    let value: serde_json::Value = match serde_json::from_str(line) {
        Ok(value) => value,
        Err(_) => return Ok(None),
    };
    let Some(pool) = value.get("pool") else {
        return Ok(None);
    };
    let text = |v: &serde_json::Value, name: &str| -> anyhow::Result<String> {
        v.get(name)
            .and_then(serde_json::Value::as_str)
            .map(String::from)
            .with_context(|| format!("the pool line has no {name}"))
    };
    let object = |v: &serde_json::Value| -> serde_json::Map<String, serde_json::Value> {
        v.get("settings")
            .and_then(serde_json::Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let id = text(pool, "id")?;
    let now = SystemTime::now();
    let user_pool = UserPool {
        id: id.clone(),
        name: text(pool, "name")?,
        created_at: from_seconds(&pool["created"]),
        last_modified_at: now,
        settings: object(pool),
    };
    let clients = value["clients"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|client| {
            Ok(AppClient {
                user_pool_id: id.clone(),
                client_id: text(client, "client_id")?,
                client_name: text(client, "client_name")?,
                secret: client["secret"].as_str().map(String::from),
                created_at: from_seconds(&client["created"]),
                last_modified_at: now,
                settings: object(client),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let groups = value["groups"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|group| {
            Ok(Group {
                pool_id: id.clone(),
                name: text(group, "name")?,
                description: group["description"].as_str().map(String::from),
                precedence: group["precedence"].as_i64(),
                role_arn: group["role_arn"].as_str().map(String::from),
                created_at: from_seconds(&group["created"]),
                last_modified_at: now,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(PoolConfiguration {
        pool: user_pool,
        clients,
        groups,
    }))
}

/// Reads an import file from a path, `-` being standard input.
pub fn open_input(path: &std::path::Path) -> anyhow::Result<Box<dyn std::io::BufRead>> {
    if path == std::path::Path::new("-") {
        return Ok(Box::new(std::io::BufReader::new(std::io::stdin())));
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    Ok(Box::new(std::io::BufReader::new(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycloak_credentials_become_pbkdf2_hashes() {
        let mut password = serde_json::Map::new();
        password.insert("format".into(), "keycloak".into());
        password.insert(
            "secretData".into(),
            r#"{"value":"Cr70F0FfvjJIOyjLNfbhRUPn6a//b1kdpHCq1U0WLNnbbRy4qR+KuX6aOt+mQXNnNgj4X6W6RQB44efpWObV0g==","salt":"TmFDbE5hQ2w=","additionalParameters":{}}"#.into(),
        );
        password.insert(
            "credentialData".into(),
            r#"{"hashIterations":1000,"algorithm":"pbkdf2-sha256","additionalParameters":{}}"#
                .into(),
        );
        let (stored, verifier) = stored_password(&password, "Abc").unwrap();
        assert!(verifier.is_none());
        assert!(ImportedHash::parse(&stored)
            .unwrap()
            .verify("Correct-h0rse"));
    }

    #[test]
    fn a_verifier_for_another_pool_is_dropped() {
        let password: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
            r#"{"format":"tessera","hash":"$argon2id$x","srp":{"pool":"Old","salt":"00","verifier":"01"}}"#,
        )
        .unwrap();
        assert!(stored_password(&password, "New").unwrap().1.is_none());
        assert!(stored_password(&password, "Old").unwrap().1.is_some());
    }

    #[test]
    fn unknown_formats_and_statuses_are_refused() {
        assert!(read_line(
            r#"{"username":"a","password":{"format":"md5","hash":"x"}}"#,
            "P"
        )
        .is_err());
        assert!(read_line(r#"{"username":"a","status":"EXTERNAL_PROVIDER"}"#, "P").is_err());
        assert!(read_line("not json", "P").is_err());
    }
}
