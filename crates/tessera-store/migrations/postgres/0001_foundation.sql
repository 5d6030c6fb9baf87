-- Foundation: access keys, user pools with their signing keys, app clients.
-- Times are milliseconds since the Unix epoch. Secrets are sealed with the master key.
CREATE TABLE access_keys (
    id TEXT PRIMARY KEY,
    sealed_secret BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE user_pools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    settings TEXT NOT NULL
);

CREATE TABLE signing_keys (
    pool_id TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    kid TEXT NOT NULL,
    key_use TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    sealed_private_key BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, kid)
);

CREATE TABLE app_clients (
    client_id TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL REFERENCES user_pools (id) ON DELETE CASCADE,
    client_name TEXT NOT NULL,
    sealed_secret BYTEA,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    settings TEXT NOT NULL
);

CREATE INDEX app_clients_by_pool ON app_clients (pool_id, client_id);
