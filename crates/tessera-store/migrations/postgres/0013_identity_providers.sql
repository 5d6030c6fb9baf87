-- Identity providers of a user pool (issue 15): upstream OpenID Connect, social and SAML
-- providers. Their ProviderDetails hold client secrets and Apple's private keys, so the whole
-- document is sealed with the master key, bound to its pool and name. `version` makes every
-- replacement conditional on the read it edits.
CREATE TABLE identity_providers (
    pool_id TEXT NOT NULL,
    name TEXT NOT NULL,
    provider_type TEXT NOT NULL,
    sealed_details BYTEA NOT NULL,
    attribute_mapping TEXT NOT NULL,
    acr_mapping TEXT,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

-- IdP identifiers (e-mail domains and names that route a sign-in to a provider): unique
-- across the user pool.
CREATE TABLE identity_provider_identifiers (
    pool_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

CREATE INDEX identity_provider_identifiers_by_name ON identity_provider_identifiers (pool_id, name);
