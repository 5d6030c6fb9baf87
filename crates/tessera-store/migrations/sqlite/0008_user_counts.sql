-- How many users each pool has: DescribeUserPool's EstimatedNumberOfUsers. Every insert and
-- delete of a user moves the count in its own transaction, so the answer is a small read
-- instead of a count over the pool's users. A pool's count is spread over a few rows (a
-- user's row follows from its lookup key) so that concurrent sign-ups in one pool do not all
-- queue for one row lock on PostgreSQL; only the sum of a pool's rows has a meaning, and a
-- single row may go negative.
CREATE TABLE user_counts (
    pool_id TEXT NOT NULL,
    shard BIGINT NOT NULL,
    users BIGINT NOT NULL,
    PRIMARY KEY (pool_id, shard)
);

-- The users that exist already are counted once, in the first row of their pool.
INSERT INTO user_counts (pool_id, shard, users)
SELECT pool_id, 0, COUNT(*) FROM users GROUP BY pool_id;
