-- Remembered devices (issue 13). A device is issued at sign-in (NewDeviceMetadata) and
-- confirmed by ConfirmDevice with the SRP verifier of a device password only the client
-- knows; the verifier is sealed with the master key, bound to the pool, user and device.
-- A refresh token issued to a device names it, so forgetting the device ends the tokens.
CREATE TABLE devices (
    pool_id TEXT NOT NULL,
    device_key TEXT NOT NULL,
    username_key TEXT NOT NULL,
    group_key TEXT NOT NULL,
    sealed_verifier BYTEA,
    name TEXT,
    remembered BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL,
    last_authenticated_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, device_key)
);

CREATE INDEX devices_by_user ON devices (pool_id, username_key, device_key);

ALTER TABLE refresh_tokens ADD COLUMN device_key TEXT;
