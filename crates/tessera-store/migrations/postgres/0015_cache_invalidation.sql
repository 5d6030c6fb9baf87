-- Issue 16: every node keeps the read cache (users, pools, app clients, group lists, resource
-- servers, live sign-in sessions) and learns of other nodes' writes through NOTIFY on the
-- channel `tessera_cache`. The notifications are sent by triggers, so they belong to the
-- write's own transaction: PostgreSQL delivers them when, and only if, it commits, and in
-- commit order. No write path can forget one, and a write made by hand in psql is seen too.
--
-- A payload is a kind and the keys of what changed, separated by tabs (the last field may be
-- any text): `u` pool, username key (a user); `U` pool (every user of the pool); `g` pool,
-- username key (a user's group list); `G` pool (every group list of the pool); `p` pool;
-- `P` pool (deleted, with everything in it); `c` client id; `r` pool, identifier (a resource
-- server); `o` origin jti (a revoked sign-in session). `h` is the nodes' heartbeat, sent by
-- each node to itself (see the store's cache.rs). A node that reads a kind it does not know
-- empties its cache.

-- Users: statement-level, so that deleting a pool of a million users sends one notification
-- rather than a million.
CREATE FUNCTION tessera_forget_users() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row record;
BEGIN
    IF (SELECT count(*) FROM changed) > 64 THEN
        FOR row IN SELECT DISTINCT pool_id FROM changed LOOP
            PERFORM pg_notify('tessera_cache', 'U' || chr(9) || row.pool_id);
        END LOOP;
    ELSE
        FOR row IN SELECT pool_id, username_key FROM changed LOOP
            PERFORM pg_notify('tessera_cache', 'u' || chr(9) || row.pool_id || chr(9) || row.username_key);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

-- A new user is not announced: the cache never holds an absent user.
CREATE TRIGGER users_updated_forget AFTER UPDATE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_forget_users();
CREATE TRIGGER users_deleted_forget AFTER DELETE ON users
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_forget_users();

-- Memberships: a user's cached group list changes when one is added or removed.
CREATE FUNCTION tessera_forget_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row record;
BEGIN
    IF (SELECT count(*) FROM changed) > 64 THEN
        FOR row IN SELECT DISTINCT pool_id FROM changed LOOP
            PERFORM pg_notify('tessera_cache', 'G' || chr(9) || row.pool_id);
        END LOOP;
    ELSE
        FOR row IN SELECT pool_id, username_key FROM changed LOOP
            PERFORM pg_notify('tessera_cache', 'g' || chr(9) || row.pool_id || chr(9) || row.username_key);
        END LOOP;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER group_members_added_forget AFTER INSERT ON group_members
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_forget_memberships();
CREATE TRIGGER group_members_removed_forget AFTER DELETE ON group_members
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION tessera_forget_memberships();

-- A group's precedence, role or existence is part of every member's list.
CREATE FUNCTION tessera_forget_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_cache', 'G' || chr(9) || OLD.pool_id);
    RETURN NULL;
END $$;

CREATE TRIGGER user_groups_changed_forget AFTER UPDATE OR DELETE ON user_groups
    FOR EACH ROW EXECUTE FUNCTION tessera_forget_groups();

CREATE FUNCTION tessera_forget_pool() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tessera_cache', 'P' || chr(9) || OLD.id);
    ELSE
        PERFORM pg_notify('tessera_cache', 'p' || chr(9) || OLD.id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER user_pools_changed_forget AFTER UPDATE OR DELETE ON user_pools
    FOR EACH ROW EXECUTE FUNCTION tessera_forget_pool();

CREATE FUNCTION tessera_forget_client() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_cache', 'c' || chr(9) || OLD.client_id);
    RETURN NULL;
END $$;

CREATE TRIGGER app_clients_changed_forget AFTER UPDATE OR DELETE ON app_clients
    FOR EACH ROW EXECUTE FUNCTION tessera_forget_client();

-- Absent resource servers are cached too, so a new one is announced.
CREATE FUNCTION tessera_forget_resource_server() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed resource_servers;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := NEW;
    ELSE
        changed := OLD;
    END IF;
    PERFORM pg_notify('tessera_cache', 'r' || chr(9) || changed.pool_id || chr(9) || changed.identifier);
    RETURN NULL;
END $$;

CREATE TRIGGER resource_servers_changed_forget AFTER INSERT OR UPDATE OR DELETE ON resource_servers
    FOR EACH ROW EXECUTE FUNCTION tessera_forget_resource_server();

-- Only live sign-in sessions are cached: a refresh token becoming revoked (1) ends one.
-- Rotation marks a token 2 and leaves its session live.
CREATE FUNCTION tessera_forget_origin() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tessera_cache', 'o' || chr(9) || NEW.origin_jti);
    RETURN NULL;
END $$;

CREATE TRIGGER refresh_tokens_revoked_forget AFTER UPDATE OF revoked ON refresh_tokens
    FOR EACH ROW WHEN (NEW.revoked = 1 AND OLD.revoked <> 1) EXECUTE FUNCTION tessera_forget_origin();
CREATE TRIGGER refresh_tokens_stored_revoked_forget AFTER INSERT ON refresh_tokens
    FOR EACH ROW WHEN (NEW.revoked = 1) EXECUTE FUNCTION tessera_forget_origin();
