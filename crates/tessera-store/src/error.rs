/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database refused or failed a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations could not be applied.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A sealed secret could not be opened, or a stored key could not be parsed.
    #[error("stored secret is unreadable: {0}")]
    Crypto(#[from] tessera_core::CoreError),
    /// A stored document is not valid JSON.
    #[error("stored document is corrupt: {0}")]
    Corrupt(String),
    /// The database URL names no supported backend.
    #[error("unsupported database url (expected sqlite: or postgres:)")]
    UnsupportedUrl,
    /// A row with this key already exists.
    #[error("already exists")]
    Conflict,
    /// The row changed since it was read: another write landed in between. Nothing was
    /// written; read it again and redo the change.
    #[error("the row changed since it was read")]
    Stale,
    /// The backend cannot do this (a SQLite snapshot of a PostgreSQL database).
    #[error("{0}")]
    Unsupported(&'static str),
    /// Another user of the pool already has this alias (`email`, `phone_number`, …).
    #[error("alias {0} belongs to another user")]
    AliasTaken(String),
    /// Redis (the rate windows' optional home) could not be reached or refused.
    #[error("redis error: {0}")]
    Redis(String),
    /// A write names a group the pool does not have.
    #[error("no group {0}")]
    NoGroup(String),
}
