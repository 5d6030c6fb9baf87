-- Issue 16: the authentication events of users in pools with advanced security
-- (UserPoolAddOns.AdvancedSecurityMode AUDIT or ENFORCED), as AdminListUserAuthEvents answers
-- them: sign-ins, sign-ups, password changes and resets, each passed or failed, with the
-- feedback an administrator gave. Swept after the retention period.
CREATE TABLE auth_events (
    pool_id TEXT NOT NULL,
    username_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    response TEXT NOT NULL,
    challenges TEXT NOT NULL,
    feedback_value TEXT,
    feedback_provider TEXT,
    feedback_at BIGINT,
    PRIMARY KEY (pool_id, username_key, event_id)
);

CREATE INDEX auth_events_by_time ON auth_events (pool_id, username_key, created_at);
CREATE INDEX auth_events_by_age ON auth_events (created_at);
