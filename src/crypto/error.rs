use thiserror::Error;

/// A cryptographic failure. Deliberately opaque: which check failed is not revealed.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// Authentication failed: wrong key, or data altered, truncated, reordered or moved.
    #[error("authentication failed: the data was altered, truncated or does not belong here")]
    Unauthentic,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Randomness,
    /// The passphrase key derivation could not run with the stored parameters.
    #[error("the passphrase key derivation failed")]
    Kdf,
}
