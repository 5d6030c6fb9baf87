-- Issue 16: user import jobs (CreateUserImportJob … StopUserImportJob). The uploaded CSV is
-- kept sealed with the master key until the job has run: it holds users' attributes (and,
-- with PasswordHashingAlgorithm, their password hashes). The pre-signed URL's token is kept
-- only as its SHA-256.
CREATE TABLE user_import_jobs (
    pool_id TEXT NOT NULL,
    job_id TEXT NOT NULL,
    job_name TEXT NOT NULL,
    role_arn TEXT NOT NULL,
    hashing_algorithm TEXT,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    completed_at BIGINT,
    completion_message TEXT,
    imported BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    upload_token TEXT NOT NULL,
    upload_expires_at BIGINT NOT NULL,
    sealed_csv BYTEA,
    PRIMARY KEY (pool_id, job_id)
);

CREATE UNIQUE INDEX user_import_jobs_by_id ON user_import_jobs (job_id);
CREATE INDEX user_import_jobs_by_time ON user_import_jobs (pool_id, created_at);
