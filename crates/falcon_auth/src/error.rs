//! The crate's one error type.

/// Errors of key management and verification.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    #[error("missing API key: send `Authorization: Bearer <key>`")]
    Missing,
    /// Malformed, unknown, or wrong key (deliberately not distinguished).
    #[error("invalid API key")]
    Invalid,
    /// A correct key that was revoked.
    #[error("API key {0} has been revoked")]
    Revoked(String),
    /// A route that needs an admin key was called with another key.
    #[error("this route requires an admin API key")]
    NotAdmin,
    /// The key store's database failed.
    #[error("key store: {0}")]
    Store(#[from] falcon_log::LogError),
    /// A bad `--rate` (or similar) argument.
    #[error("{0}")]
    InvalidArgument(String),
}
