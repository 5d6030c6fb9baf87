-- The user directory: users, their unique aliases, one-time codes, groups and memberships.
-- Booleans are integers (0/1) so that both backends read them alike.
CREATE TABLE users (
    pool_id TEXT NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    username TEXT NOT NULL,
    sub TEXT NOT NULL,
    status TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    attributes TEXT NOT NULL,
    password_hash TEXT,
    password_set_at BIGINT,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key)
);

CREATE UNIQUE INDEX users_by_sub ON users (pool_id, sub);

-- Values that identify a user besides the username (verified alias attributes, or the
-- e-mail or phone number that serves as username), unique within a pool.
CREATE TABLE user_aliases (
    pool_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    value_key TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, kind, value_key)
);

CREATE INDEX user_aliases_by_user ON user_aliases (pool_id, username_key);

CREATE TABLE user_codes (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    sealed_code BYTEA NOT NULL,
    expires_at BIGINT NOT NULL,
    failed_attempts BIGINT NOT NULL,
    pending_value TEXT,
    PRIMARY KEY (pool_id, username_key, purpose)
);

CREATE TABLE user_groups (
    pool_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    precedence BIGINT,
    role_arn TEXT,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, name)
);

CREATE TABLE group_members (
    pool_id TEXT NOT NULL,
    group_name TEXT NOT NULL,
    username_key TEXT NOT NULL,
    PRIMARY KEY (pool_id, group_name, username_key)
);

CREATE INDEX group_members_by_user ON group_members (pool_id, username_key);

-- The searchable values of every user (ListUsers filters), so that a filter is an index range
-- scan rather than a scan of the pool. Values compare byte-wise, so a prefix is a range.
CREATE TABLE user_index (
    pool_id TEXT NOT NULL,
    attribute TEXT NOT NULL,
    value TEXT COLLATE "C" NOT NULL,
    username_key TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (pool_id, attribute, value, username_key)
);

CREATE INDEX user_index_by_user ON user_index (pool_id, username_key);
