-- The authorization-code flow: codes handed to a client's callback and the browser sign-in
-- sessions behind single sign-on. Only SHA-256 hashes of codes and session cookies are kept.
-- Times are milliseconds since the Unix epoch.

-- A code is single use: consumed_at is set when it is redeemed (or burned by a failed
-- redemption), and origin_jti then names the sign-in session its tokens belong to, so that a
-- replay can revoke them.
CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT,
    code_challenge TEXT,
    username_key TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    origin_jti TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT
);

CREATE INDEX authorization_codes_by_pool ON authorization_codes (pool_id, username_key);

-- A browser's sign-in at the hosted pages (the tessera-sso cookie), for single sign-on across
-- the pool's clients until it expires or the user signs out.
CREATE TABLE login_sessions (
    session_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked BIGINT NOT NULL
);

CREATE INDEX login_sessions_by_user ON login_sessions (pool_id, username_key);

-- The scopes a refresh token was granted (space-separated); NULL for the API sign-in flows,
-- whose tokens carry aws.cognito.signin.user.admin.
ALTER TABLE refresh_tokens ADD COLUMN scope TEXT;
