-- Optimistic concurrency for users: every save names the version it read and writes the
-- next one, so a write prepared from an old read (over slow password hashing, say) is
-- refused rather than silently undoing a write that landed in between.
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

-- Attempts at one-time codes, counted per user, purpose and action apart from the codes
-- themselves, so that issuing a new code does not reset them. `guess` counts guesses at a
-- code (a slot is taken before the comparison; a right guess clears the count); `issue`
-- counts codes sent. A count covers a window that opens with its first attempt; the first
-- attempt after the window has passed opens a new one.
CREATE TABLE code_attempts (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    purpose TEXT NOT NULL,
    action TEXT NOT NULL,
    used BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    PRIMARY KEY (pool_id, username_key, purpose, action)
);

-- Wrong guesses are counted in code_attempts now; the per-code count went with each code.
ALTER TABLE user_codes DROP COLUMN failed_attempts;
