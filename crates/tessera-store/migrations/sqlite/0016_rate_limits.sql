-- Issue 16: request-rate quotas shared by every node. A window is one second of one scope (a
-- category of one pool, a source address, a user); nodes lease requests from it in batches
-- (tessera_core::rate_limit). Old windows are swept.
CREATE TABLE rate_windows (
    scope TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (scope, window_start)
);

CREATE INDEX rate_windows_by_start ON rate_windows (window_start);

-- The rates UpdateProvisionedLimit set, per region and category (requests per second).
CREATE TABLE provisioned_limits (
    region TEXT NOT NULL,
    category TEXT NOT NULL,
    rate BIGINT NOT NULL,
    PRIMARY KEY (region, category)
);
