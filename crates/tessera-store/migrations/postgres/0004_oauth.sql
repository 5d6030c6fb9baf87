-- OAuth configuration of a pool: its hosted domains, resource servers (custom scopes) and the
-- customization of its hosted pages. Times are milliseconds since the Unix epoch.

-- A prefix domain (served as <prefix>.<hosted domain suffix>) or a custom domain (its own
-- FQDN). Domains are unique across every pool; a pool has at most one of each kind, which the
-- unique index on (pool_id, custom) holds even when two nodes create domains at once.
CREATE TABLE user_pool_domains (
    domain TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    custom BIGINT NOT NULL,
    settings TEXT NOT NULL,
    version TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX user_pool_domains_by_pool ON user_pool_domains (pool_id, custom);

-- Scopes is a JSON array of {ScopeName, ScopeDescription}, as the API gives it.
CREATE TABLE resource_servers (
    pool_id TEXT NOT NULL,
    identifier TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, identifier)
);

-- client_id is 'ALL' for the pool's default. The logo is kept with the content type sniffed
-- from its bytes.
CREATE TABLE ui_customizations (
    pool_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    css TEXT,
    image BYTEA,
    image_type TEXT,
    css_version TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, client_id)
);
