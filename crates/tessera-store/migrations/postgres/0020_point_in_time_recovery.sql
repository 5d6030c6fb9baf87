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
INSERT INTO recovery_journal (started_at) VALUES ((extract(epoch from clock_timestamp()) * 1000)::bigint);

-- The table's columns in its order, without its constraints.
CREATE TABLE users_history AS SELECT * FROM users WITH NO DATA;
ALTER TABLE users_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX users_history_by_time ON users_history (pool_id, journal_at);
CREATE INDEX users_history_by_key ON users_history (pool_id, username_key, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX users_history_by_age ON users_history (journal_at);

CREATE FUNCTION tessera_journal_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO users_history (pool_id, username_key, journal_at, absent)
        SELECT n.pool_id, n.username_key, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO users_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO users_history (pool_id, username_key, journal_at, absent)
        SELECT n.pool_id, n.username_key, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.username_key = n.username_key);
    ELSE
        INSERT INTO users_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_journal_insert AFTER INSERT ON users
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_users();
CREATE TRIGGER users_journal_update AFTER UPDATE ON users
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_users();
CREATE TRIGGER users_journal_delete AFTER DELETE ON users
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_users();

-- The table's columns in its order, without its constraints.
CREATE TABLE user_aliases_history AS SELECT * FROM user_aliases WITH NO DATA;
ALTER TABLE user_aliases_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX user_aliases_history_by_time ON user_aliases_history (pool_id, journal_at);
CREATE INDEX user_aliases_history_by_key ON user_aliases_history (pool_id, kind, value_key, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX user_aliases_history_by_age ON user_aliases_history (journal_at);

CREATE FUNCTION tessera_journal_user_aliases() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_aliases_history (pool_id, kind, value_key, journal_at, absent)
        SELECT n.pool_id, n.kind, n.value_key, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO user_aliases_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO user_aliases_history (pool_id, kind, value_key, journal_at, absent)
        SELECT n.pool_id, n.kind, n.value_key, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.kind = n.kind AND o.value_key = n.value_key);
    ELSE
        INSERT INTO user_aliases_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER user_aliases_journal_insert AFTER INSERT ON user_aliases
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_aliases();
CREATE TRIGGER user_aliases_journal_update AFTER UPDATE ON user_aliases
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_aliases();
CREATE TRIGGER user_aliases_journal_delete AFTER DELETE ON user_aliases
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_aliases();

-- The table's columns in its order, without its constraints.
CREATE TABLE user_index_history AS SELECT * FROM user_index WITH NO DATA;
ALTER TABLE user_index_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX user_index_history_by_time ON user_index_history (pool_id, journal_at);
CREATE INDEX user_index_history_by_key ON user_index_history (pool_id, attribute, value, username_key, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX user_index_history_by_age ON user_index_history (journal_at);

CREATE FUNCTION tessera_journal_user_index() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
        SELECT n.pool_id, n.attribute, n.value, n.username_key, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO user_index_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO user_index_history (pool_id, attribute, value, username_key, journal_at, absent)
        SELECT n.pool_id, n.attribute, n.value, n.username_key, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.attribute = n.attribute AND o.value = n.value AND o.username_key = n.username_key);
    ELSE
        INSERT INTO user_index_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER user_index_journal_insert AFTER INSERT ON user_index
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_index();
CREATE TRIGGER user_index_journal_update AFTER UPDATE ON user_index
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_index();
CREATE TRIGGER user_index_journal_delete AFTER DELETE ON user_index
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_index();

-- The table's columns in its order, without its constraints.
CREATE TABLE user_groups_history AS SELECT * FROM user_groups WITH NO DATA;
ALTER TABLE user_groups_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX user_groups_history_by_time ON user_groups_history (pool_id, journal_at);
CREATE INDEX user_groups_history_by_key ON user_groups_history (pool_id, name, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX user_groups_history_by_age ON user_groups_history (journal_at);

CREATE FUNCTION tessera_journal_user_groups() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO user_groups_history (pool_id, name, journal_at, absent)
        SELECT n.pool_id, n.name, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO user_groups_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO user_groups_history (pool_id, name, journal_at, absent)
        SELECT n.pool_id, n.name, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.name = n.name);
    ELSE
        INSERT INTO user_groups_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER user_groups_journal_insert AFTER INSERT ON user_groups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_groups();
CREATE TRIGGER user_groups_journal_update AFTER UPDATE ON user_groups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_groups();
CREATE TRIGGER user_groups_journal_delete AFTER DELETE ON user_groups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_user_groups();

-- The table's columns in its order, without its constraints.
CREATE TABLE group_members_history AS SELECT * FROM group_members WITH NO DATA;
ALTER TABLE group_members_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX group_members_history_by_time ON group_members_history (pool_id, journal_at);
CREATE INDEX group_members_history_by_key ON group_members_history (pool_id, group_name, username_key, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX group_members_history_by_age ON group_members_history (journal_at);

CREATE FUNCTION tessera_journal_group_members() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
        SELECT n.pool_id, n.group_name, n.username_key, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO group_members_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO group_members_history (pool_id, group_name, username_key, journal_at, absent)
        SELECT n.pool_id, n.group_name, n.username_key, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.group_name = n.group_name AND o.username_key = n.username_key);
    ELSE
        INSERT INTO group_members_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER group_members_journal_insert AFTER INSERT ON group_members
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_group_members();
CREATE TRIGGER group_members_journal_update AFTER UPDATE ON group_members
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_group_members();
CREATE TRIGGER group_members_journal_delete AFTER DELETE ON group_members
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_group_members();

-- The table's columns in its order, without its constraints.
CREATE TABLE webauthn_credentials_history AS SELECT * FROM webauthn_credentials WITH NO DATA;
ALTER TABLE webauthn_credentials_history
    ADD COLUMN journal_at BIGINT NOT NULL,
    ADD COLUMN absent BIGINT NOT NULL,
    ADD COLUMN journal_seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX webauthn_credentials_history_by_time ON webauthn_credentials_history (pool_id, journal_at);
CREATE INDEX webauthn_credentials_history_by_key ON webauthn_credentials_history (pool_id, credential_id, journal_seq);
-- The sweep deletes by age alone.
CREATE INDEX webauthn_credentials_history_by_age ON webauthn_credentials_history (journal_at);

CREATE FUNCTION tessera_journal_webauthn_credentials() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    stamp BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO webauthn_credentials_history (pool_id, credential_id, journal_at, absent)
        SELECT n.pool_id, n.credential_id, stamp, 1 FROM new_rows n;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO webauthn_credentials_history SELECT o.*, stamp, 0 FROM old_rows o;
        INSERT INTO webauthn_credentials_history (pool_id, credential_id, journal_at, absent)
        SELECT n.pool_id, n.credential_id, stamp, 1 FROM new_rows n
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.pool_id = n.pool_id AND o.credential_id = n.credential_id);
    ELSE
        INSERT INTO webauthn_credentials_history SELECT o.*, stamp, 0 FROM old_rows o;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER webauthn_credentials_journal_insert AFTER INSERT ON webauthn_credentials
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_webauthn_credentials();
CREATE TRIGGER webauthn_credentials_journal_update AFTER UPDATE ON webauthn_credentials
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_webauthn_credentials();
CREATE TRIGGER webauthn_credentials_journal_delete AFTER DELETE ON webauthn_credentials
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION tessera_journal_webauthn_credentials();

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
