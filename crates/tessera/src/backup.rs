//! `tessera backup` and `tessera restore` (issue 16): a consistent online snapshot of a SQLite
//! installation, and its restoration into a fresh data directory.
//!
//! A backup is a directory holding `tessera.db` (the snapshot) and `backup.json` (when, from
//! which tessera, and the master key's fingerprint). The master key itself is not in it: a
//! backup and the key that opens its secrets should not travel together. `restore` needs the
//! same key (the new data directory's `master.key`, `--master-key-file`, or
//! `TESSERA_MASTER_KEY`) and refuses any other, so a restored installation never starts with
//! secrets it cannot open.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::json;
use tessera_core::MasterKey;

/// The file names inside a backup directory.
const DATABASE: &str = "tessera.db";
const MANIFEST: &str = "backup.json";
const FORMAT: &str = "tessera-backup-1";

/// A public fingerprint of the master key: 8 bytes of a key derived for this purpose alone,
/// which says whether two keys are the same and nothing about either.
pub fn fingerprint(key: &MasterKey) -> String {
    key.derive("backup-fingerprint")[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes the snapshot and the manifest into `output`, which must not exist yet.
pub async fn backup(
    store: &tessera_store::Store,
    key_fingerprint: &str,
    key_source: &str,
    output: &Path,
) -> anyhow::Result<()> {
    if output.exists() {
        bail!(
            "{} already exists; a backup goes into a new directory",
            output.display()
        );
    }
    std::fs::create_dir_all(output).with_context(|| format!("creating {}", output.display()))?;
    let database = output.join(DATABASE);
    store
        .snapshot_into(&database)
        .await
        .context("taking the snapshot")?;
    let manifest = json!({
        "format": FORMAT,
        "created_at_unix_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis()),
        "tessera": crate::VERSION,
        "database": DATABASE,
        "master_key_fingerprint": key_fingerprint,
        "master_key_source": key_source,
    });
    std::fs::write(
        output.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )
    .with_context(|| format!("writing {}", output.join(MANIFEST).display()))?;
    Ok(())
}

/// What `restore` checks of a backup before copying it.
pub struct Backup {
    pub database: PathBuf,
    pub fingerprint: String,
}

/// Reads a backup directory's manifest.
pub fn open(from: &Path) -> anyhow::Result<Backup> {
    let manifest_path = from.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", manifest_path.display()))?;
    if manifest["format"] != FORMAT {
        bail!("{} is not a tessera backup ({FORMAT})", from.display());
    }
    let database = from.join(manifest["database"].as_str().unwrap_or(DATABASE));
    if !database.is_file() {
        bail!("the backup has no database ({})", database.display());
    }
    Ok(Backup {
        database,
        fingerprint: manifest["master_key_fingerprint"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    })
}
