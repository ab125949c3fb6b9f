//! The vault layer's error: a kind (which decides the exit code) and a message for the person
//! at the terminal. Lower layers' errors convert into it; none carries key material.

use crate::keyring::KeyringError;
use crate::store::StoreError;

/// What sort of failure, and so which exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Anything else (I/O, the OS random generator): exit 1.
    Other,
    /// A bad argument or input: exit 2.
    Usage,
    /// Unknown tenant, level, item, request, grant or engineer; no vault: exit 3.
    NotFound,
    /// No key for this item, wrong passphrase, grant does not cover it: exit 4.
    AccessDenied,
    /// Tampered or corrupt data: exit 5.
    Integrity,
    /// Already exists, or wrong state: exit 6.
    Conflict,
    /// The vault is open in another process: exit 7.
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

    /// The process exit code for this kind.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Other => 1,
            ErrorKind::Usage => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::AccessDenied => 4,
            ErrorKind::Integrity => 5,
            ErrorKind::Conflict => 6,
            ErrorKind::InUse => 7,
            ErrorKind::BrokenPipe => 0,
        }
    }
}

/// A vault operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What sort of failure.
    pub kind: ErrorKind,
    /// What went wrong, for a person.
    pub message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

macro_rules! constructors {
    ($($name:ident => $kind:ident),*) => {$(
        #[doc = concat!("An error of kind [`ErrorKind::", stringify!($kind), "`].")]
        pub fn $name(message: impl Into<String>) -> Error {
            Error { kind: ErrorKind::$kind, message: message.into() }
        }
    )*};
}

impl Error {
    constructors!(other => Other, usage => Usage, not_found => NotFound,
        denied => AccessDenied, integrity => Integrity, conflict => Conflict);

    /// Failure to read the input being stored.
    pub fn input(e: std::io::Error) -> Error {
        Error::other(format!("cannot read input: {e}"))
    }

    /// Failure to write output; a closed pipe is quiet.
    pub fn output(e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::BrokenPipe => ErrorKind::BrokenPipe,
            _ => ErrorKind::Other,
        };
        Error { kind, message: format!("cannot write output: {e}") }
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
            StoreError::Encode { .. } | StoreError::Io(_) | StoreError::Engine(_) => ErrorKind::Other,
        };
        Error { kind, message: e.to_string() }
    }
}

impl From<KeyringError> for Error {
    fn from(e: KeyringError) -> Error {
        let kind = match &e {
            KeyringError::NotFound { .. } => ErrorKind::NotFound,
            KeyringError::Exists { .. } | KeyringError::Full { .. } => ErrorKind::Conflict,
            KeyringError::WrongPassphrase { .. } => ErrorKind::AccessDenied,
            KeyringError::Malformed { .. } => ErrorKind::Integrity,
            KeyringError::WrongKind { .. } => ErrorKind::Usage,
            KeyringError::Io { .. } | KeyringError::Crypto(_) => ErrorKind::Other,
        };
        Error { kind, message: e.to_string() }
    }
}

impl From<crate::crypto::CryptoError> for Error {
    fn from(e: crate::crypto::CryptoError) -> Error {
        match e {
            crate::crypto::CryptoError::Unauthentic => Error::integrity(e.to_string()),
            _ => Error::other(e.to_string()),
        }
    }
}
