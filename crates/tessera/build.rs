//! Puts the git revision the binary is built from into `tessera --version`, so that a
//! running server (or a container image) says exactly which source it is.
//!
//! `TESSERA_GIT_REVISION` overrides it (a build from a source archive has no `.git`);
//! without either, the revision is `unknown`.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=TESSERA_GIT_REVISION");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A commit moves HEAD or the branch it names; either makes the revision stale.
    for path in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let revision = std::env::var("TESSERA_GIT_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .current_dir(&root)
                .output()
                .ok()
                .filter(|out| out.status.success())
                .and_then(|out| String::from_utf8(out.stdout).ok())
                .map(|text| text.trim().to_owned())
                .filter(|r| !r.is_empty())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TESSERA_REVISION={revision}");
}
