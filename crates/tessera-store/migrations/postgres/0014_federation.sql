-- Federation (issue 15), the state a sign-in through an upstream identity provider needs.

-- IdpIdentifiers are a list: Describe returns them in the order they were given.
ALTER TABLE identity_provider_identifiers ADD COLUMN position BIGINT NOT NULL DEFAULT 0;

-- A pool's SAML signing key: AuthnRequests and LogoutRequests are signed with it, and
-- GetSigningCertificate returns its certificate (DER). The private key is sealed with the
-- master key, bound to the pool.
CREATE TABLE saml_signing_keys (
    pool_id TEXT PRIMARY KEY,
    sealed_private_key BYTEA NOT NULL,
    certificate BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

-- A sign-in sent to an upstream provider that has not come back yet, found by the SHA-256 of
-- the state (OIDC) or RelayState (SAML) tessera sent. The request (the app's authorization
-- request, the nonce, the PKCE verifier, the browser binding, the AuthnRequest id) is sealed:
-- it holds secrets for a few minutes. Consumed once.
CREATE TABLE federation_requests (
    state_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    sealed_request BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);

CREATE INDEX federation_requests_by_expiry ON federation_requests (expires_at);

-- SAML assertions already accepted, kept until they expire, so that none is accepted twice.
CREATE TABLE saml_assertions (
    pool_id TEXT NOT NULL,
    assertion_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, assertion_id)
);

CREATE INDEX saml_assertions_by_expiry ON saml_assertions (expires_at);

-- Upstream identities linked to a user (AdminLinkProviderForUser): a sign-in through the
-- provider whose attribute has this value lands on the user. `Cognito_Subject` links by the
-- provider's subject; other names by a mapped attribute. Gone with the user.
CREATE TABLE federated_links (
    pool_id TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    attribute_name TEXT NOT NULL,
    attribute_value TEXT NOT NULL,
    username_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, provider_name, attribute_name, attribute_value)
);

CREATE INDEX federated_links_by_user ON federated_links (pool_id, username_key);

-- A user's last sign-in through a SAML provider: the NameID and SessionIndex a
-- LogoutRequest names when the user signs out (IDPSignout). Gone with the user.
CREATE TABLE saml_sessions (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    provider_name TEXT NOT NULL,
    name_id TEXT NOT NULL,
    session_index TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key, provider_name)
);
