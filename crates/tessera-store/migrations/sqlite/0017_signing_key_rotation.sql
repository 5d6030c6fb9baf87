-- Issue 16: a pool's signing keys rotate (a new key of each use is added; the newest signs,
-- the others stay in the JWKS until the tokens they signed have expired, then are swept). On
-- PostgreSQL a trigger announces key changes to every node; SQLite has one writer.
CREATE INDEX signing_keys_by_use ON signing_keys (pool_id, key_use, created_at);
