//! Unit tests of the identity service's logic: role resolution and principal tags. The
//! operations themselves are proved end to end (tests/e2e/test_identity_pools*.py).

use serde_json::{json, Map, Value};
use tessera_core::{IdentityPool, Login};

use crate::login::{LoginKind, VerifiedLogin};
use crate::role;

/// The identity service knows no HTTP: nothing in its dependency graph serves or sends HTTP,
/// so it cannot grow a dependency on requests, responses or status codes; the network is
/// reached only through `upstream::Upstream`. (The `http` types crate is in the graph only
/// through tessera-credentials' signed-request check, which the service does not call.) The graph is
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
        .and_then(|packages| packages.iter().find(|p| p["name"] == "tessera-identity"))
        .and_then(|p| p["id"].as_str())
        .expect("tessera-identity is in the workspace")
        .to_owned();
    // Walk the normal (non-dev, non-build) dependencies from tessera-identity.
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
        "http-body",
        "reqwest",
        "tower-http",
    ] {
        assert!(
            !names.contains(forbidden),
            "tessera-identity depends (directly or not) on {forbidden}; the service must know no HTTP"
        );
    }
}

fn pool(roles: Value) -> IdentityPool {
    IdentityPool {
        id: "us-east-1:00000000-0000-4000-8000-000000000000".into(),
        name: "p".into(),
        settings: Map::new(),
        roles: roles.as_object().cloned().unwrap_or_default(),
        principal_tags: Map::new(),
        created_at: std::time::UNIX_EPOCH,
        last_modified_at: std::time::UNIX_EPOCH,
        version: 0,
    }
}

fn login(claims: Value) -> VerifiedLogin {
    VerifiedLogin {
        login: Login {
            provider: "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc".into(),
            subject: "s".into(),
        },
        kind: LoginKind::UserPool,
        mapping_key: "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:client".into(),
        configured_name: "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc".into(),
        claims: claims.as_object().cloned().unwrap_or_default(),
        amr: Vec::new(),
    }
}

const AUTH: &str = "arn:aws:iam::123456789012:role/Auth";
const ADMIN: &str = "arn:aws:iam::123456789012:role/Admin";
const READER: &str = "arn:aws:iam::123456789012:role/Reader";

fn mapped(mapping: Value) -> IdentityPool {
    pool(json!({
        "Roles": {"authenticated": AUTH},
        "RoleMappings": {"cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:client": mapping},
    }))
}

#[test]
fn token_mapping_uses_the_preferred_role_and_custom_roles_from_the_token() {
    let pool = mapped(json!({"Type": "Token", "AmbiguousRoleResolution": "Deny"}));
    let claims = json!({"cognito:preferred_role": ADMIN, "cognito:roles": [ADMIN, READER]});
    assert_eq!(
        role::authenticated(&pool, &[login(claims.clone())], None).unwrap(),
        ADMIN
    );
    assert_eq!(
        role::authenticated(&pool, &[login(claims.clone())], Some(READER)).unwrap(),
        READER
    );
    let refused = role::authenticated(&pool, &[login(claims)], Some(AUTH)).unwrap_err();
    assert_eq!(refused.kind, "NotAuthorizedException");
    // The developer guide's comma-separated form is read too.
    let comma = json!({"cognito:roles": format!("{ADMIN},{READER}")});
    assert_eq!(
        role::authenticated(&pool, &[login(comma)], Some(READER)).unwrap(),
        READER
    );
}

#[test]
fn an_ambiguous_token_is_denied_or_gets_the_authenticated_role() {
    let deny = mapped(json!({"Type": "Token", "AmbiguousRoleResolution": "Deny"}));
    let error = role::authenticated(
        &deny,
        &[login(json!({"cognito:roles": [ADMIN, READER]}))],
        None,
    )
    .unwrap_err();
    assert_eq!(error.kind, "NotAuthorizedException");
    assert_eq!(
        error.message,
        "The ambiguous role mapping rules for: cognito-idp.us-east-1.amazonaws.com/us-east-1_abc:client denied this request."
    );
    let fallback = mapped(json!({"Type": "Token", "AmbiguousRoleResolution": "AuthenticatedRole"}));
    assert_eq!(
        role::authenticated(&fallback, &[login(json!({}))], None).unwrap(),
        AUTH
    );
}

#[test]
fn rules_match_in_order_on_strings_and_arrays() {
    let pool = mapped(json!({
        "Type": "Rules",
        "AmbiguousRoleResolution": "Deny",
        "RulesConfiguration": {"Rules": [
            {"Claim": "cognito:groups", "MatchType": "Contains", "Value": "admin", "RoleARN": ADMIN},
            {"Claim": "email", "MatchType": "StartsWith", "Value": "reader", "RoleARN": READER},
            {"Claim": "custom:tier", "MatchType": "NotEqual", "Value": "free", "RoleARN": AUTH},
        ]},
    }));
    let pick = |claims: Value| role::authenticated(&pool, &[login(claims)], None);
    assert_eq!(
        pick(json!({"cognito:groups": ["staff", "admins"]})).unwrap(),
        ADMIN
    );
    assert_eq!(
        pick(json!({"email": "reader@example.com"})).unwrap(),
        READER
    );
    assert_eq!(pick(json!({"custom:tier": "gold"})).unwrap(), AUTH);
    // NotEqual on an absent claim is not evaluated, so nothing matches: Deny.
    assert_eq!(pick(json!({})).unwrap_err().kind, "NotAuthorizedException");
    assert_eq!(
        pick(json!({"custom:tier": "free"})).unwrap_err().kind,
        "NotAuthorizedException"
    );
}

#[test]
fn without_a_mapping_the_default_roles_apply_and_a_missing_role_is_a_configuration_error() {
    let pool = pool(json!({"Roles": {"authenticated": AUTH}}));
    assert_eq!(
        role::authenticated(&pool, &[login(json!({}))], None).unwrap(),
        AUTH
    );
    let error = role::unauthenticated(&pool).unwrap_err();
    assert_eq!(error.kind, "InvalidIdentityPoolConfigurationException");
    assert_eq!(
        error.message,
        "Invalid identity pool configuration. Check assigned IAM roles for this pool."
    );
}

#[test]
fn principal_tags_read_the_mapped_claims() {
    let mut pool = pool(json!({}));
    pool.principal_tags.insert(
        "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc".into(),
        json!({"UseDefaults": true, "PrincipalTags": crate::pool::default_principal_tags()}),
    );
    let tags =
        crate::identity::principal_tags(&pool, &[login(json!({"sub": "u-1", "aud": "client"}))]);
    assert_eq!(
        Value::Object(tags),
        json!({"username": "u-1", "client": "client"})
    );
}

#[test]
fn trust_policies_match_federated_principals_and_conditions() {
    use std::collections::BTreeMap;

    use crate::config::TrustPolicy;

    let trust = TrustPolicy::parse(&json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "cognito-identity.amazonaws.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:pool"},
                "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"},
            },
        }, {
            "Effect": "Allow",
            "Principal": {"Federated": ["cognito-idp.us-east-1.amazonaws.com/*"]},
            "Action": "sts:AssumeRoleWithWebIdentity",
        }],
    }))
    .unwrap();
    let keys = |provider: &str, aud: &str, amr: &[&str]| {
        let mut keys = BTreeMap::new();
        keys.insert(format!("{provider}:aud"), vec![aud.to_owned()]);
        keys.insert(
            format!("{provider}:amr"),
            amr.iter().map(|a| (*a).to_owned()).collect(),
        );
        keys
    };
    let identity = "cognito-identity.amazonaws.com";
    let role = "arn:aws:iam::1:role/R";
    assert!(trust.allows(
        identity,
        role,
        keys(identity, "us-east-1:pool", &["authenticated", "x"])
    ));
    assert!(!trust.allows(
        identity,
        role,
        keys(identity, "us-east-1:pool", &["unauthenticated"])
    ));
    assert!(!trust.allows(
        identity,
        role,
        keys(identity, "us-east-1:other", &["authenticated"])
    ));
    let pool = "cognito-idp.us-east-1.amazonaws.com/us-east-1_abc";
    assert!(trust.allows(pool, role, keys(pool, "client", &[])));
    let elsewhere = "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc";
    assert!(!trust.allows(elsewhere, role, keys(elsewhere, "client", &[])));
    assert!(
        TrustPolicy::parse(&json!({"Statement": [{"Effect": "Allow", "Action": "*"}]})).is_err()
    );
}

#[test]
fn an_openid_provider_without_accepted_audiences_is_refused_at_start() {
    use crate::config::{IdentityConfig, OpenIdProviderConfig, Settings};

    let provider = |client_ids: Vec<String>| IdentityConfig {
        openid_providers: vec![OpenIdProviderConfig {
            arn: "arn:aws:iam::1:oidc-provider/login.example".into(),
            issuer: "https://login.example".into(),
            client_ids,
        }],
        ..IdentityConfig::default()
    };
    let error = Settings::from_config(&provider(Vec::new())).unwrap_err();
    assert!(error.contains("client_ids"), "{error}");
    let settings = Settings::from_config(&provider(vec!["app".into()])).unwrap();
    assert!(settings.openid_providers.contains_key("login.example"));
}
