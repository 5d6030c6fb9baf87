-- Identity pools (issue 14). A pool is kept as the model-validated Cognito document
-- (IdentityPool members), with its roles and role mappings (SetIdentityPoolRoles) and its
-- principal-tag maps (by provider) as documents of their own, because each is replaced whole
-- by its own operation. `version` makes every replacement conditional on the read it edits.
CREATE TABLE identity_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    settings TEXT NOT NULL,
    roles TEXT NOT NULL,
    principal_tags TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    version BIGINT NOT NULL
);

-- An identity of a pool. `authenticated` is set when its first login is linked and never
-- cleared: an identity whose last login was unlinked is inaccessible, not a guest again.
CREATE TABLE identities (
    id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    authenticated BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);

CREATE INDEX identities_by_pool ON identities (pool_id, id);

-- The logins linked to identities: one (provider, subject) belongs to at most one identity
-- of a pool, which is what makes GetId stable and linking conflicts detectable.
CREATE TABLE identity_logins (
    pool_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    identity_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, provider, subject)
);

CREATE INDEX identity_logins_by_identity ON identity_logins (identity_id, provider);

-- The keys of tessera's identity issuer (GetOpenIdToken), sealed like pools' keys.
CREATE TABLE identity_signing_keys (
    kid TEXT PRIMARY KEY,
    public_jwk TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
