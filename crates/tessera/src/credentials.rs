//! The AWS shared-credentials file tessera writes for its root access key.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Writes `contents` to a file only its owner can read.
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().ok();
    Ok(())
}

/// Writes a credentials file with one `default` profile.
pub fn write_profile(
    path: &Path,
    access_key_id: &str,
    secret_access_key: &str,
) -> anyhow::Result<()> {
    write_private(
        path,
        &format!("[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {secret_access_key}\n"),
    )
}
