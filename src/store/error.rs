use std::path::PathBuf;

use thiserror::Error;

/// A failure of the vault database.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Another process has the vault open.
    #[error("the vault {} is in use by another process", path.display())]
    InUse {
        /// The database file.
        path: PathBuf,
    },
    /// No database at the path.
    #[error("no vault at {}", path.display())]
    Missing {
        /// The database file.
        path: PathBuf,
    },
    /// A database already exists at the path.
    #[error("a vault already exists at {}", path.display())]
    Exists {
        /// The database file.
        path: PathBuf,
    },
    /// The file is not a lockbox vault, or one of another schema version.
    #[error("{}", schema_message(path, found))]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The schema bytes found.
        found: Vec<u8>,
    },
    /// redb found the file damaged.
    #[error("the vault database {} is damaged: {detail} (restore it from a backup)", path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What redb said.
        detail: String,
    },
    /// A record does not decode.
    #[error("a damaged {what} in the vault: {detail}")]
    CorruptRecord {
        /// What kind of record.
        what: &'static str,
        /// Why it does not decode.
        detail: String,
    },
    /// A record could not be encoded.
    #[error("cannot encode {what}: {detail}")]
    Encode {
        /// What kind of record.
        what: &'static str,
        /// Why.
        detail: String,
    },
    /// A backup file that does not check out.
    #[error("the backup is damaged at byte offset {offset}: {detail}")]
    BadBackup {
        /// Offset of the first bad record or field.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// The vault file could not be opened or read.
    #[error("cannot open the vault file {}: {source}", path.display())]
    File {
        /// The database file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The vault is on storage this process cannot write (a read-only mount, a snapshot, a
    /// file it may not write): it was opened for reading, and this is a change.
    #[error(
        "the vault {} is on read-only storage (or not writable by this user): only commands that change nothing work; every read with a key is logged in the vault first, so it needs a writable vault too",
        path.display()
    )]
    ReadOnly {
        /// The database file.
        path: PathBuf,
    },
    /// A copy of what a server showed: it takes no change of its own (changes go to the
    /// server, which commits them to the vault).
    #[error(
        "this is a copy of what a lockbox server showed of the vault: it takes no change of its own, and this change has no operation on the server"
    )]
    Mirror,
    /// The chunks a put was staging were removed under it (by a process that found no live
    /// put claiming them): the put must store nothing.
    #[error(
        "the chunks this put had stored were removed meanwhile (another process found no live put holding them); nothing was stored"
    )]
    Swept,
    /// An I/O error.
    #[error("vault I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The database server could not be reached, or the connection broke (it restarted, say):
    /// nothing of the transaction was committed, and the same request may be sent again.
    #[error(
        "the vault's database cannot be reached now ({0}); try again (a change cut off during its commit may have been saved: look before repeating it)"
    )]
    Unavailable(String),
    /// The database ended the transaction to keep concurrent ones serializable, or to break a
    /// deadlock: nothing of it was committed, and the same work may be run again at once.
    #[error(
        "the vault's database ended a transaction that conflicted with a concurrent one ({0}); nothing of it was saved; try again"
    )]
    Retry(String),
    /// Where the vault is cannot be used as given: a URL, or a file it names, is unusable.
    #[error("{0}")]
    BadLocation(String),
    /// The database refused this process: its credentials, or a certificate that does not
    /// prove the database is the one named. Trying again will not help.
    #[error("the vault's database refused the connection: {0}")]
    Refused(String),
    /// Any other failure of the storage engine.
    #[error("vault database error: {0}")]
    Engine(String),
}

impl StoreError {
    pub(super) fn open(path: &std::path::Path, e: redb::DatabaseError) -> StoreError {
        let path = path.to_owned();
        match e {
            // Held by one process alone (compacting it), or by a lockbox whose redb shares files
            // another way.
            redb::DatabaseError::DatabaseAlreadyOpen | redb::DatabaseError::LockProtocolMismatch => {
                StoreError::InUse { path }
            }
            redb::DatabaseError::Storage(redb::StorageError::Corrupted(detail)) => {
                StoreError::Corrupt { path, detail }
            }
            redb::DatabaseError::Storage(redb::StorageError::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock =>
            {
                StoreError::InUse { path }
            }
            // A file too short for its header, or without redb's magic, is damaged too.
            redb::DatabaseError::Storage(redb::StorageError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                StoreError::Corrupt { path, detail: e.to_string() }
            }
            other => StoreError::engine(other),
        }
    }

    pub(super) fn engine(e: impl Into<redb::Error>) -> StoreError {
        match e.into() {
            redb::Error::Io(e) => StoreError::Io(e),
            redb::Error::Corrupted(detail) => StoreError::CorruptRecord { what: "database page", detail },
            other => StoreError::Engine(other.to_string()),
        }
    }
}

fn schema_message(path: &std::path::Path, found: &[u8]) -> String {
    let path = path.display();
    let this = super::SCHEMA_VERSION;
    match found {
        [] => format!("{path} is not a lockbox vault (it names no schema)"),
        [2] => format!(
            "{path} was made by an earlier lockbox (schema 2, whose audit log is text); this lockbox reads schema {this} and does not convert vaults"
        ),
        [n] => format!("{path} is a lockbox vault of schema {n}; this lockbox reads schema {this}"),
        _ => format!("{path} is not a lockbox vault (its schema mark is {found:?})"),
    }
}
