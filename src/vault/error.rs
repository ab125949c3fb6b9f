//! The vault layer's error: a kind (what sort of failure; the CLI maps it to an exit code), a
//! message for the person at the terminal, and the lower layer's error it came from, if any.
//! None carries key material.

use std::sync::Arc;

use crate::keyring::KeyringError;
use crate::store::StoreError;

/// What sort of failure (the CLI's exit codes follow it: src/cli/mod.rs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Anything else (I/O, the OS random generator).
    Other,
    /// A bad argument or input.
    Usage,
    /// Unknown tenant, level, item, request, grant or engineer; no vault.
    NotFound,
    /// No key for this item, wrong passphrase, grant does not cover it.
    AccessDenied,
    /// Tampered or corrupt data.
    Integrity,
    /// Already exists, or wrong state.
    Conflict,
    /// The vault is open in another process.
    InUse,
    /// The reader of our output went away; the CLI exits quietly.
    BrokenPipe,
}

impl ErrorKind {
    /// A stable snake_case name, used in JSON output.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Other => "other",
            ErrorKind::Usage => "usage",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AccessDenied => "access_denied",
            ErrorKind::Integrity => "integrity",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InUse => "in_use",
            ErrorKind::BrokenPipe => "broken_pipe",
        }
    }
}

/// A vault operation failed.
#[derive(Debug, Clone)]
pub struct Error {
    /// What sort of failure.
    pub kind: ErrorKind,
    /// What went wrong, for a person: complete in itself (it already says what the cause
    /// says), so a reporter prints it alone.
    pub message: String,
    /// The lower layer's error this one came from, for code that needs more than the kind.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), source: None }
    }

    /// The same error (kind and cause) with another message.
    pub fn reworded(self, message: impl Into<String>) -> Error {
        Error { message: message.into(), ..self }
    }

    /// The same error, its message prefixed with `what` (a file, an item) and ": ".
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        Error { message: format!("{what}: {}", self.message), ..self }
    }

    fn caused_by(kind: ErrorKind, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error { kind, message: cause.to_string(), source: Some(Arc::new(cause)) }
    }
}

/// Equal when the kind and the message are: the cause is not compared.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for Error {}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

macro_rules! constructors {
    ($($name:ident => $kind:ident),*) => {$(
        #[doc = concat!("An error of kind [`ErrorKind::", stringify!($kind), "`].")]
        pub fn $name(message: impl Into<String>) -> Error {
            Error::new(ErrorKind::$kind, message)
        }
    )*};
}

impl Error {
    constructors!(other => Other, usage => Usage, not_found => NotFound,
        denied => AccessDenied, integrity => Integrity, conflict => Conflict);

    /// Failure to read the input being stored.
    pub fn input(e: std::io::Error) -> Error {
        Error { message: format!("cannot read input: {e}"), ..Error::caused_by(ErrorKind::Other, e) }
    }

    /// Failure to write output; a closed pipe is quiet.
    pub fn output(e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        };
        Error { message: format!("cannot write output: {e}"), ..Error::caused_by(kind, e) }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        let kind = match &e {
            StoreError::InUse { .. } => ErrorKind::InUse,
            StoreError::Missing { .. } => ErrorKind::NotFound,
            StoreError::Exists { .. } => ErrorKind::Conflict,
            StoreError::Schema { .. }
            | StoreError::Corrupt { .. }
            | StoreError::CorruptRecord { .. }
            | StoreError::BadBackup { .. } => ErrorKind::Integrity,
            StoreError::ReadOnly { .. } => ErrorKind::AccessDenied,
            StoreError::Encode { .. }
            | StoreError::Io(_)
            | StoreError::File { .. }
            | StoreError::Engine(_) => ErrorKind::Other,
        };
        Error::caused_by(kind, e)
    }
}

impl From<crate::trust::TrustError> for Error {
    fn from(e: crate::trust::TrustError) -> Error {
        let kind = match &e {
            crate::trust::TrustError::Malformed { .. } | crate::trust::TrustError::Swapped { .. } => {
                ErrorKind::Integrity
            }
            crate::trust::TrustError::Full { .. } => ErrorKind::Conflict,
            crate::trust::TrustError::Io { .. } => ErrorKind::Other,
        };
        Error::caused_by(kind, e)
    }
}

impl From<KeyringError> for Error {
    fn from(e: KeyringError) -> Error {
        let kind = match &e {
            KeyringError::NotFound { .. } => ErrorKind::NotFound,
            KeyringError::Exists { .. }
            | KeyringError::Full { .. }
            | KeyringError::Replaced { .. }
            | KeyringError::Tenant { .. } => ErrorKind::Conflict,
            KeyringError::WrongPassphrase { .. } => ErrorKind::AccessDenied,
            KeyringError::Malformed { .. } => ErrorKind::Integrity,
            KeyringError::WrongKind { .. } | KeyringError::Outdated { .. } => ErrorKind::Usage,
            KeyringError::Io { .. } | KeyringError::Crypto(_) | KeyringError::NoVault => ErrorKind::Other,
        };
        Error::caused_by(kind, e)
    }
}

impl From<crate::crypto::CryptoError> for Error {
    fn from(e: crate::crypto::CryptoError) -> Error {
        let kind = match e {
            crate::crypto::CryptoError::Unauthentic => ErrorKind::Integrity,
            _ => ErrorKind::Other,
        };
        Error::caused_by(kind, e)
    }
}
