-- Issue 16: on PostgreSQL this migration adds the triggers that tell every node of a write
-- (NOTIFY on `tessera_cache`). A SQLite database has one writer, which invalidates its own
-- cache, so there is nothing to add here; the file keeps the two backends' migrations in step.
SELECT 1;
