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

/// What whoever sees an error could do about it, as a fact: a front end words it (the CLI
/// names the command and its flags; a server, its endpoint). Library messages state what is
/// wrong and never name a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remedy {
    /// No vault exists there yet: create one.
    CreateVault,
    /// Something of that name exists (an item, a file): ask to replace it.
    Replace,
    /// The vault was rolled back; if it was restored from a backup on purpose, the customer
    /// accepts the restore.
    AcceptRestore {
        /// The tenant.
        tenant: String,
    },
    /// The keyring is older than the vault: bring it up to date from the vault.
    Resync {
        /// The tenant.
        tenant: String,
    },
    /// A level's current key was released: rotate the level.
    Rotate {
        /// The tenant.
        tenant: String,
        /// The level.
        level: String,
    },
    /// The full request id is needed: list or show requests to find it.
    FullRequestId,
    /// Re-pin an engineer's key, once its fingerprint is checked with the engineer.
    TrustEngineer {
        /// The tenant.
        tenant: String,
        /// The engineer.
        engineer: String,
    },
    /// Pin the tenant key, with the fingerprint the customer gives.
    TrustTenant {
        /// The tenant.
        tenant: String,
    },
    /// Pin the tenant in the audit monitor, with the fingerprint the customer gives.
    TrustMonitor {
        /// The tenant.
        tenant: String,
    },
    /// The customer names this monitor key in the tenant's manifest.
    NameMonitor {
        /// The tenant.
        tenant: String,
        /// The monitor key, hex.
        key: String,
    },
    /// The customer refreshes the tenant's manifest.
    RefreshManifest {
        /// The tenant.
        tenant: String,
    },
    /// The tenant's policy allows less; the customer sets the policy.
    Policy {
        /// The tenant.
        tenant: String,
    },
    /// This vault or key file cannot be converted: move the items to a new vault (export with
    /// the lockbox that made it, then import).
    MoveItems,
}

/// A vault operation failed.
#[derive(Debug, Clone)]
pub struct Error {
    /// What sort of failure.
    pub kind: ErrorKind,
    /// What went wrong, for a person: complete in itself (it already says what the cause
    /// says), so a reporter prints it alone. It names no command or flag: see [`Remedy`].
    pub message: String,
    /// What could be done about it, if something can.
    pub remedy: Option<Remedy>,
    /// The lower layer's error this one came from, for code that needs more than the kind.
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), remedy: None, source: None }
    }

    /// The same error (kind and cause) with another message.
    pub(crate) fn reworded(self, message: impl Into<String>) -> Error {
        Error { message: message.into(), ..self }
    }

    /// The same error, its message prefixed with `what` (a file, an item) and ": ".
    pub fn context(self, what: impl std::fmt::Display) -> Error {
        Error { message: format!("{what}: {}", self.message), ..self }
    }

    /// The same error, with what could be done about it.
    pub fn with_remedy(self, remedy: Remedy) -> Error {
        Error { remedy: Some(remedy), ..self }
    }

    fn caused_by(kind: ErrorKind, cause: impl std::error::Error + Send + Sync + 'static) -> Error {
        Error { kind, message: cause.to_string(), remedy: None, source: Some(Arc::new(cause)) }
    }
}

/// An [`Error`] inside an I/O error, put there on purpose ([`Error::carried`]).
#[derive(Debug)]
struct Carried(Error);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Carried {}

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

    /// A value too long for its field in an encoding (a name, an id, a list): the input was
    /// refused, nothing was cut to fit.
    pub(crate) fn encoding(e: crate::format::FormatError) -> Error {
        Error::caused_by(ErrorKind::Usage, e)
    }

    /// Failure to read the input being stored or opened. An input that knows what its failure
    /// means (an envelope a server cut short, say) says so with [`Error::carried`], and that
    /// error is the one returned.
    pub(crate) fn input(e: std::io::Error) -> Error {
        let e = match e.downcast::<Carried>() {
            Ok(meant) => return meant.0,
            Err(e) => e,
        };
        Error { message: format!("cannot read input: {e}"), ..Error::caused_by(ErrorKind::Other, e) }
    }

    /// An I/O error that carries `self` to whoever reads the input that failed with it: the
    /// library's readers return `self` as their error, not "cannot read input".
    pub fn carried(self) -> std::io::Error {
        std::io::Error::other(Carried(self))
    }

    /// The error an I/O error carries ([`Error::carried`]), if it carries one.
    pub fn uncarried(e: std::io::Error) -> Result<Error, std::io::Error> {
        e.downcast::<Carried>().map(|c| c.0)
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
            StoreError::InUse { .. } | StoreError::Unavailable(_) | StoreError::Retry(_) => ErrorKind::InUse,
            StoreError::Missing { .. } => ErrorKind::NotFound,
            StoreError::Exists { .. } | StoreError::Swept => ErrorKind::Conflict,
            StoreError::Schema { .. }
            | StoreError::Corrupt { .. }
            | StoreError::CorruptRecord { .. }
            | StoreError::BadBackup { .. } => ErrorKind::Integrity,
            StoreError::ReadOnly { .. } | StoreError::Refused(_) => ErrorKind::AccessDenied,
            StoreError::Mirror | StoreError::BadLocation(_) => ErrorKind::Usage,
            StoreError::Encode { .. }
            | StoreError::Io(_)
            | StoreError::File { .. }
            | StoreError::Engine(_) => ErrorKind::Other,
        };
        let remedy = match &e {
            StoreError::Missing { .. } => Some(Remedy::CreateVault),
            StoreError::Schema { found, .. } if found[..] == [2] => Some(Remedy::MoveItems),
            _ => None,
        };
        Error { remedy, ..Error::caused_by(kind, e) }
    }
}

impl From<crate::files::TreeError> for Error {
    fn from(e: crate::files::TreeError) -> Error {
        use crate::files::TreeErrorKind;
        let kind = match e.kind {
            TreeErrorKind::NotFound => ErrorKind::NotFound,
            TreeErrorKind::Usage => ErrorKind::Usage,
            TreeErrorKind::Conflict => ErrorKind::Conflict,
            TreeErrorKind::Other => ErrorKind::Other,
        };
        Error::new(kind, e.message)
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
            | KeyringError::TooLarge { .. }
            | KeyringError::Replaced { .. }
            | KeyringError::Tenant { .. } => ErrorKind::Conflict,
            KeyringError::WrongPassphrase { .. } => ErrorKind::AccessDenied,
            KeyringError::Malformed { .. } => ErrorKind::Integrity,
            KeyringError::WrongKind { .. } | KeyringError::Outdated { .. } => ErrorKind::Usage,
            KeyringError::Io { .. } | KeyringError::Crypto(_) => ErrorKind::Other,
        };
        let remedy = matches!(e, KeyringError::Outdated { .. }).then_some(Remedy::MoveItems);
        Error { remedy, ..Error::caused_by(kind, e) }
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
