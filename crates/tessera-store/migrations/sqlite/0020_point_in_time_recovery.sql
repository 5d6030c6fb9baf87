-- Issue 16: point-in-time recovery. Every write to a pool's user data (users with their
-- passwords and MFA settings, the aliases and search index kept with them, groups,
-- memberships, passkeys) leaves the row as it was in a journal, `<table>_history`: the old
-- row of an update or a delete (`absent` 0), or for an insert a row naming only the key
-- (`absent` 1: the row did not exist). The first entry after an instant T of each key
-- therefore holds that row as it was at T, which is what InitiatePointInTimeRecovery
-- previews and StartPointInTimeRecovery puts back (tessera-store's recovery.rs).
--
-- Triggers write the journal, in the write's own transaction, so that no write path can
-- skip it. Their timestamps (`journal_at`, milliseconds since the epoch) are the database's
-- clock, the one exception to "time comes from the service's Clock": a trigger has no other.
-- A history table has its table's columns in the same order, none required, then
-- `journal_at`, `absent` and `journal_seq` (the entry's order); a store test keeps them in
-- step with the tables.

-- When the journal began: no recovery point can be earlier.
CREATE TABLE recovery_journal (started_at BIGINT NOT NULL);
INSERT INTO recovery_journal (started_at) VALUES (CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER));

CREATE TABLE users_history (
    pool_id TEXT,
    username_key TEXT,
    username TEXT,
    sub TEXT,
    status TEXT,
    enabled BIGINT,
    attributes TEXT,
    password_hash TEXT,
    password_set_at BIGINT,
    created_at BIGINT,
    last_modified_at BIGINT,
    sealed_srp BLOB,
    version BIGINT,
    mfa TEXT,
    sealed_totp BLOB,
    totp_last_step BIGINT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX users_history_by_time ON users_history (pool_id, journal_at);
CREATE INDEX users_history_by_key ON users_history (pool_id, username_key, journal_seq);
CREATE INDEX users_history_by_age ON users_history (journal_at);

CREATE TRIGGER users_journal_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_history (pool_id, username_key, journal_at, absent)
    VALUES (NEW.pool_id, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER users_journal_update AFTER UPDATE ON users BEGIN
    INSERT INTO users_history (pool_id, username_key, username, sub, status, enabled, attributes, password_hash, password_set_at, created_at, last_modified_at, sealed_srp, version, mfa, sealed_totp, totp_last_step, journal_at, absent)
    VALUES (OLD.pool_id, OLD.username_key, OLD.username, OLD.sub, OLD.status, OLD.enabled, OLD.attributes, OLD.password_hash, OLD.password_set_at, OLD.created_at, OLD.last_modified_at, OLD.sealed_srp, OLD.version, OLD.mfa, OLD.sealed_totp, OLD.totp_last_step, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO users_history (pool_id, username_key, journal_at, absent)
    SELECT NEW.pool_id, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.username_key IS NOT OLD.username_key;
END;

CREATE TRIGGER users_journal_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_history (pool_id, username_key, username, sub, status, enabled, attributes, password_hash, password_set_at, created_at, last_modified_at, sealed_srp, version, mfa, sealed_totp, totp_last_step, journal_at, absent)
    VALUES (OLD.pool_id, OLD.username_key, OLD.username, OLD.sub, OLD.status, OLD.enabled, OLD.attributes, OLD.password_hash, OLD.password_set_at, OLD.created_at, OLD.last_modified_at, OLD.sealed_srp, OLD.version, OLD.mfa, OLD.sealed_totp, OLD.totp_last_step, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

CREATE TABLE user_aliases_history (
    pool_id TEXT,
    kind TEXT,
    value_key TEXT,
    username_key TEXT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX user_aliases_history_by_time ON user_aliases_history (pool_id, journal_at);
CREATE INDEX user_aliases_history_by_key ON user_aliases_history (pool_id, kind, value_key, journal_seq);
CREATE INDEX user_aliases_history_by_age ON user_aliases_history (journal_at);

CREATE TRIGGER user_aliases_journal_insert AFTER INSERT ON user_aliases BEGIN
    INSERT INTO user_aliases_history (pool_id, kind, value_key, journal_at, absent)
    VALUES (NEW.pool_id, NEW.kind, NEW.value_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER user_aliases_journal_update AFTER UPDATE ON user_aliases BEGIN
    INSERT INTO user_aliases_history (pool_id, kind, value_key, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.kind, OLD.value_key, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO user_aliases_history (pool_id, kind, value_key, journal_at, absent)
    SELECT NEW.pool_id, NEW.kind, NEW.value_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.kind IS NOT OLD.kind OR NEW.value_key IS NOT OLD.value_key;
END;

CREATE TRIGGER user_aliases_journal_delete AFTER DELETE ON user_aliases BEGIN
    INSERT INTO user_aliases_history (pool_id, kind, value_key, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.kind, OLD.value_key, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

CREATE TABLE user_index_history (
    pool_id TEXT,
    attribute TEXT,
    value TEXT,
    username_key TEXT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX user_index_history_by_time ON user_index_history (pool_id, journal_at);
CREATE INDEX user_index_history_by_key ON user_index_history (pool_id, attribute, value, username_key, journal_seq);
CREATE INDEX user_index_history_by_age ON user_index_history (journal_at);

CREATE TRIGGER user_index_journal_insert AFTER INSERT ON user_index BEGIN
    INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
    VALUES (NEW.pool_id, NEW.attribute, NEW.value, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER user_index_journal_update AFTER UPDATE ON user_index BEGIN
    INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.attribute, OLD.value, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
    SELECT NEW.pool_id, NEW.attribute, NEW.value, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.attribute IS NOT OLD.attribute OR NEW.value IS NOT OLD.value OR NEW.username_key IS NOT OLD.username_key;
END;

CREATE TRIGGER user_index_journal_delete AFTER DELETE ON user_index BEGIN
    INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.attribute, OLD.value, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

CREATE TABLE user_groups_history (
    pool_id TEXT,
    name TEXT,
    description TEXT,
    precedence BIGINT,
    role_arn TEXT,
    created_at BIGINT,
    last_modified_at BIGINT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX user_groups_history_by_time ON user_groups_history (pool_id, journal_at);
CREATE INDEX user_groups_history_by_key ON user_groups_history (pool_id, name, journal_seq);
CREATE INDEX user_groups_history_by_age ON user_groups_history (journal_at);

CREATE TRIGGER user_groups_journal_insert AFTER INSERT ON user_groups BEGIN
    INSERT INTO user_groups_history (pool_id, name, journal_at, absent)
    VALUES (NEW.pool_id, NEW.name, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER user_groups_journal_update AFTER UPDATE ON user_groups BEGIN
    INSERT INTO user_groups_history (pool_id, name, description, precedence, role_arn, created_at, last_modified_at, journal_at, absent)
    VALUES (OLD.pool_id, OLD.name, OLD.description, OLD.precedence, OLD.role_arn, OLD.created_at, OLD.last_modified_at, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO user_groups_history (pool_id, name, journal_at, absent)
    SELECT NEW.pool_id, NEW.name, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.name IS NOT OLD.name;
END;

CREATE TRIGGER user_groups_journal_delete AFTER DELETE ON user_groups BEGIN
    INSERT INTO user_groups_history (pool_id, name, description, precedence, role_arn, created_at, last_modified_at, journal_at, absent)
    VALUES (OLD.pool_id, OLD.name, OLD.description, OLD.precedence, OLD.role_arn, OLD.created_at, OLD.last_modified_at, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

CREATE TABLE group_members_history (
    pool_id TEXT,
    group_name TEXT,
    username_key TEXT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX group_members_history_by_time ON group_members_history (pool_id, journal_at);
CREATE INDEX group_members_history_by_key ON group_members_history (pool_id, group_name, username_key, journal_seq);
CREATE INDEX group_members_history_by_age ON group_members_history (journal_at);

CREATE TRIGGER group_members_journal_insert AFTER INSERT ON group_members BEGIN
    INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
    VALUES (NEW.pool_id, NEW.group_name, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER group_members_journal_update AFTER UPDATE ON group_members BEGIN
    INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.group_name, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
    SELECT NEW.pool_id, NEW.group_name, NEW.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.group_name IS NOT OLD.group_name OR NEW.username_key IS NOT OLD.username_key;
END;

CREATE TRIGGER group_members_journal_delete AFTER DELETE ON group_members BEGIN
    INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
    VALUES (OLD.pool_id, OLD.group_name, OLD.username_key, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

CREATE TABLE webauthn_credentials_history (
    pool_id TEXT,
    credential_id TEXT,
    username_key TEXT,
    credential TEXT,
    name TEXT,
    relying_party_id TEXT,
    attachment TEXT,
    transports TEXT,
    created_at BIGINT,
    journal_at BIGINT NOT NULL,
    absent BIGINT NOT NULL,
    journal_seq INTEGER PRIMARY KEY
);

CREATE INDEX webauthn_credentials_history_by_time ON webauthn_credentials_history (pool_id, journal_at);
CREATE INDEX webauthn_credentials_history_by_key ON webauthn_credentials_history (pool_id, credential_id, journal_seq);
CREATE INDEX webauthn_credentials_history_by_age ON webauthn_credentials_history (journal_at);

CREATE TRIGGER webauthn_credentials_journal_insert AFTER INSERT ON webauthn_credentials BEGIN
    INSERT INTO webauthn_credentials_history (pool_id, credential_id, journal_at, absent)
    VALUES (NEW.pool_id, NEW.credential_id, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1);
END;

CREATE TRIGGER webauthn_credentials_journal_update AFTER UPDATE ON webauthn_credentials BEGIN
    INSERT INTO webauthn_credentials_history (pool_id, credential_id, username_key, credential, name, relying_party_id, attachment, transports, created_at, journal_at, absent)
    VALUES (OLD.pool_id, OLD.credential_id, OLD.username_key, OLD.credential, OLD.name, OLD.relying_party_id, OLD.attachment, OLD.transports, OLD.created_at, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
    INSERT INTO webauthn_credentials_history (pool_id, credential_id, journal_at, absent)
    SELECT NEW.pool_id, NEW.credential_id, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 1 WHERE NEW.pool_id IS NOT OLD.pool_id OR NEW.credential_id IS NOT OLD.credential_id;
END;

CREATE TRIGGER webauthn_credentials_journal_delete AFTER DELETE ON webauthn_credentials BEGIN
    INSERT INTO webauthn_credentials_history (pool_id, credential_id, username_key, credential, name, relying_party_id, attachment, transports, created_at, journal_at, absent)
    VALUES (OLD.pool_id, OLD.credential_id, OLD.username_key, OLD.credential, OLD.name, OLD.relying_party_id, OLD.attachment, OLD.transports, OLD.created_at, CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER), 0);
END;

-- The recoveries of a pool (InitiatePointInTimeRecovery and after): the recovery point and
-- when it was asked for (milliseconds, the service's clock), Cognito's RestoreStatus, and the
-- preview (a JSON list of RestorePreview entries). At most one recovery of a pool is active.
CREATE TABLE point_in_time_recoveries (
    pool_id TEXT NOT NULL,
    restore_id TEXT NOT NULL,
    status TEXT NOT NULL,
    restore_at BIGINT NOT NULL,
    triggered_at BIGINT NOT NULL,
    completed_at BIGINT,
    preview TEXT NOT NULL,
    PRIMARY KEY (pool_id, restore_id)
);

CREATE INDEX point_in_time_recoveries_by_time ON point_in_time_recoveries (pool_id, triggered_at);

CREATE UNIQUE INDEX point_in_time_recoveries_active ON point_in_time_recoveries (pool_id)
    WHERE status IN ('PREVIEW_GENERATING', 'PREVIEW_GENERATED', 'RESTORING');
