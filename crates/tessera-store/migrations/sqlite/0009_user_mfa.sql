-- MFA (issue 13). A user's MFA preferences are a document beside the attributes; the
-- software-token secrets (the verified one and one AssociateSoftwareToken handed out and
-- VerifySoftwareToken has not yet confirmed) are sealed with the master key, bound to the
-- user's row. The last software-token step accepted is kept apart from the versioned row:
-- one conditional UPDATE claims a step, so a code is accepted once on every node, and no
-- write of the user row can set it back.
ALTER TABLE users ADD COLUMN mfa TEXT;
ALTER TABLE users ADD COLUMN sealed_totp BLOB;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
