-- Passkeys (issue 13): a user's WebAuthn credentials. The credential document is what
-- webauthn-rs verifies assertions with (the public key, the signature counter, the
-- user-verification policy it was registered under); it holds no secret. The credential id
-- is unique within a pool, so an assertion names its user.
CREATE TABLE webauthn_credentials (
    pool_id TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    credential TEXT NOT NULL,
    name TEXT NOT NULL,
    relying_party_id TEXT NOT NULL,
    attachment TEXT,
    transports TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, credential_id)
);

CREATE INDEX webauthn_credentials_by_user ON webauthn_credentials (pool_id, username_key, created_at);
