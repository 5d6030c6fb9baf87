//! Checks of the crate's own invariants.

mod directory;

/// The service knows no HTTP: nothing in its dependency graph is an HTTP crate, so the
/// operations cannot grow a dependency on requests, responses or status codes. The graph is
/// read from `Cargo.lock` through `cargo metadata`, as cargo resolves it.
#[test]
fn depends_on_no_http_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        // Not `--offline`: the graph names crates of every platform, and a fresh machine has
        // fetched only those its own build needs.
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata is JSON");
    let nodes = metadata["resolve"]["nodes"]
        .as_array()
        .expect("a resolved graph");
    let name_of = |id: &str| {
        metadata["packages"]
            .as_array()
            .and_then(|packages| packages.iter().find(|p| p["id"] == id))
            .and_then(|p| p["name"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let root = metadata["packages"]
        .as_array()
        .and_then(|packages| packages.iter().find(|p| p["name"] == "tessera-idp"))
        .and_then(|p| p["id"].as_str())
        .expect("tessera-idp is in the workspace")
        .to_owned();
    // Walk the normal (non-dev, non-build) dependencies from tessera-idp.
    let mut seen = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let node = nodes
            .iter()
            .find(|n| n["id"] == id.as_str())
            .expect("node in graph");
        for dep in node["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null());
            if normal {
                stack.push(dep["pkg"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let names: std::collections::BTreeSet<String> = seen.iter().map(|id| name_of(id)).collect();
    assert!(
        names.contains("tessera-store"),
        "the walk reached the store: {names:?}"
    );
    for forbidden in [
        "axum",
        "axum-core",
        "hyper",
        "hyper-util",
        "http",
        "http-body",
        "reqwest",
        "tower-http",
    ] {
        assert!(
            !names.contains(forbidden),
            "tessera-idp depends (directly or not) on {forbidden}; the service must know no HTTP"
        );
    }
}
