-- Issue 16: a pool's signing keys rotate (a new key of each use is added; the newest signs,
-- the others stay in the JWKS until the tokens they signed have expired, then are swept).
-- Every node keeps its pools' keys opened in memory, so a new or removed key is announced on
-- the cache channel (see 0015): `k` pool.
CREATE FUNCTION tessera_forget_signing_keys() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed signing_keys;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changed := NEW;
    ELSE
        changed := OLD;
    END IF;
    PERFORM pg_notify('tessera_cache', 'k' || chr(9) || changed.pool_id);
    RETURN NULL;
END $$;

CREATE TRIGGER signing_keys_changed_forget AFTER INSERT OR DELETE ON signing_keys
    FOR EACH ROW EXECUTE FUNCTION tessera_forget_signing_keys();

CREATE INDEX signing_keys_by_use ON signing_keys (pool_id, key_use, created_at);
