-- Sign-in hardening (issue 11). A challenge session's state (the SRP server secret among it)
-- is sealed with the master key like every other secret, bound to its row by the session
-- hash; the sessions of the old layout held it in the clear and live three minutes, so they
-- are dropped rather than converted. Every short-lived sign-in row can be swept by its expiry.
DROP TABLE auth_sessions;

CREATE TABLE auth_sessions (
    session_hash TEXT PRIMARY KEY,
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    client_id TEXT NOT NULL,
    challenge TEXT NOT NULL,
    sealed_state BYTEA NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX auth_sessions_by_expiry ON auth_sessions (expires_at);
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX login_sessions_by_expiry ON login_sessions (expires_at);
CREATE INDEX sign_in_failures_by_time ON sign_in_failures (last_failure_at);
