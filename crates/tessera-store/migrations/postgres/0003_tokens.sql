-- Sign-in state: refresh tokens (stored as SHA-256 hashes of the opaque token), challenge
-- sessions (hashed likewise). Every access token names its sign-in session (origin_jti), whose
-- refresh token row says whether it was revoked.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    origin_jti TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL
);

CREATE INDEX refresh_tokens_by_origin ON refresh_tokens (origin_jti);
CREATE INDEX refresh_tokens_by_user ON refresh_tokens (pool_id, username_key);

CREATE TABLE auth_sessions (
    session_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    challenge TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);


-- Consecutive failed sign-ins per user, for Cognito's lockout.
CREATE TABLE sign_in_failures (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    failures BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key)
);

-- The SRP salt and verifier of the current password, sealed with the master key.
ALTER TABLE users ADD COLUMN sealed_srp BYTEA;
