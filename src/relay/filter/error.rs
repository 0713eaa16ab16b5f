//! Why a filter ended a session.

/// Why a filter ended a session.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A message the filter cannot frame or must not pass, with the reason for the log.
    #[error("message refused: {0}")]
    Refused(String),
}
