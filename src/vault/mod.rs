//! The vault: tenants, levels and items, on the store, with the customer's keys kept outside.
//!
//! The vault holds only public level keys, so it can write any item and read none. Reading
//! takes a [`LevelKeys`]: the customer's [`Keyring`](crate::keyring::Keyring), or an engineer's
//! grant (see [`crate::lockbox`]).

mod audit_log;
mod backup;
mod batch;
mod bulk;
mod caller;
mod chunks;
mod envelope;
mod error;
mod export;
mod items;
mod keys;
mod manifest;
mod pipeline;
mod remote;
mod restore;
mod retry;
mod rotate;
mod stage;
mod tenants;
mod tokens;
mod upstream;
mod verify;

use std::path::{Path, PathBuf};

pub use backup::BackupInfo;
pub use batch::{GroupRead, MAX_GROUP_BYTES, MAX_GROUP_ITEMS, MAX_GROUPED_ENVELOPE, RawGet, RawPut};
pub use bulk::{BulkReport, ItemFilter, import_sources};
pub use caller::Caller;
pub use chunks::Replace;
pub(crate) use envelope::Unwrappers;
pub use envelope::{
    ItemFields, item_opener, item_opener_with, open_envelope, open_envelope_of, seal_envelope, seal_header,
};
pub use error::{Error, ErrorKind, Remedy};
pub use export::ExportDir;
pub use items::{ItemInfo, PutOptions};
pub use keys::LevelKeys;
pub use manifest::{
    CLOCK_SKEW_SECS, MANIFEST_LIFETIME_SECS, MAX_MANIFEST_LIFETIME_SECS, MIN_MANIFEST_LIFETIME_SECS, Policy,
    manifest_hash, open_checkpoint, open_manifest, policy,
};
pub use pipeline::Threads;
pub use remote::{BatchSealer, MAX_STATE_ROWS, TenantState, TenantView};
pub use rotate::{Rewrapped, Rotation};
pub use tenants::{
    DEFAULT_MAX_ACCESS_SECS, DEFAULT_REQUEST_TTL_SECS, MAX_DURATION_SECS, MAX_LEVELS, NewEpoch,
};
pub(crate) use tenants::{current_epoch, epoch_record, find_level, no_tenant};
pub use tokens::{DEFAULT_TOKEN_SECS, MAX_TOKEN_SECS, NewToken, Principal, Role, Token, TokenInfo};
pub use upstream::{EpochBody, Note, Op, TenantBody, Upstream};
pub use verify::{StoredHeader, VerifyReport};

use crate::audit;
use crate::format::AuditEvent;
use crate::format::{check_item_id, check_item_path, check_name};
use std::sync::Arc;

use crate::store::{MemoryStore, RedbStore, Store, StoreError, Writes};
use crate::trust::Pins;

/// Name of the database file inside the vault directory.
pub const DB_FILE: &str = "vault.redb";

/// An open vault: a cheap handle that threads can clone and share. The database file stays
/// held (exclusively, against other processes) until the last clone is dropped.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn Store>,
    dir: PathBuf,
    caller: Caller,
    threads: Threads,
    id: [u8; 16],
    place: Arc<[u8]>,
    pins: Arc<Pins>,
    verified: Arc<manifest::Verified>,
    /// Where changes go when this handle is a copy of what a server showed.
    upstream: Option<Arc<dyn Upstream>>,
}

/// Whether `location` names a PostgreSQL database (`postgres://` or `postgresql://`) rather
/// than a vault directory.
pub fn is_database(location: &Path) -> bool {
    location.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

impl Vault {
    /// Creates a new vault in `dir` (created if needed, mode 0700), or in the PostgreSQL
    /// database it names ([`is_database`]).
    pub fn init(dir: &Path) -> Result<Vault, Error> {
        if let Some(url) = dir.to_str().filter(|_| is_database(dir)) {
            let store = crate::store::PgStore::create(url).map_err(|e| match e {
                StoreError::Exists { path } => {
                    Error::conflict(format!("a vault already exists in {}", path.display()))
                }
                e => e.into(),
            })?;
            let place = store.shown().as_bytes().to_vec();
            return Vault::on_place(Arc::new(store), dir, place.into());
        }
        create_private_dir(dir).map_err(|e| Error::other(format!("cannot create {}: {e}", dir.display())))?;
        let store = RedbStore::create(&dir.join(DB_FILE)).map_err(|e| match e {
            StoreError::Exists { .. } => {
                Error::conflict(format!("a vault already exists at {}", dir.display()))
            }
            e => e.into(),
        })?;
        Vault::on(Arc::new(store), dir)
    }

    /// A new, empty vault held in memory only (tests, fuzzing): the same behaviour without a
    /// disk; [`Vault::dir`] is empty.
    pub fn in_memory() -> Vault {
        Vault::on_memory(Arc::new(MemoryStore::new()))
    }

    /// A vault on `store` held in memory (a fork of a prepared one, for fuzzing).
    pub fn on_memory(store: Arc<MemoryStore>) -> Vault {
        // A memory store's id read back from memory cannot fail.
        Vault::on(store, Path::new("")).unwrap_or_else(|_| unreachable!())
    }

    /// Opens the vault in `dir`, or in the PostgreSQL database it names ([`is_database`]).
    pub fn open(dir: &Path) -> Result<Vault, Error> {
        if let Some(url) = dir.to_str().filter(|_| is_database(dir)) {
            let store = crate::store::PgStore::open(url).map_err(|e| match e {
                StoreError::Missing { path } => {
                    Error::not_found(format!("no vault in {} yet", path.display()))
                        .with_remedy(Remedy::CreateVault)
                }
                e => e.into(),
            })?;
            let place = store.shown().as_bytes().to_vec();
            return Vault::on_place(Arc::new(store), dir, place.into());
        }
        let store = RedbStore::open(&dir.join(DB_FILE)).map_err(|e| match e {
            StoreError::Missing { .. } => {
                Error::not_found(format!("no vault at {}", dir.display())).with_remedy(Remedy::CreateVault)
            }
            e @ StoreError::InUse { .. } => {
                let message = format!(
                    "the vault at {} is held by another lockbox process alone (compacting it)",
                    dir.display()
                );
                Error::from(e).reworded(message)
            }
            e => e.into(),
        })?;
        Vault::on(Arc::new(store), dir)
    }

    /// Compacts the vault file in `dir`: space freed by removed items goes back to the file
    /// system. Refused (in use) while another process has the vault open. Returns the file's
    /// size before and after.
    pub fn compact(dir: &Path) -> Result<(u64, u64), Error> {
        if is_database(dir) {
            return Err(Error::usage(
                "a vault in PostgreSQL has no file to compact: its database gives space back with VACUUM, run by the database's operator",
            ));
        }
        let path = dir.join(DB_FILE);
        let size = || std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let before = size();
        let mut store = RedbStore::open_alone(&path).map_err(|e| match e {
            StoreError::Missing { .. } => {
                Error::not_found(format!("no vault at {}", dir.display())).with_remedy(Remedy::CreateVault)
            }
            e @ StoreError::InUse { .. } => {
                let message = format!(
                    "the vault at {} is open in another lockbox process; compacting needs it alone",
                    dir.display()
                );
                Error::from(e).reworded(message)
            }
            e => e.into(),
        })?;
        store.compact()?;
        drop(store);
        Ok((before, size()))
    }

    fn on(store: Arc<dyn Store>, dir: &Path) -> Result<Vault, Error> {
        // Where this vault was found, for the trust store: the path the caller named, made
        // absolute but with symbolic links left unresolved. Resolving them would let whoever
        // controls a link in the path point it at another vault the caller also pinned, and
        // the place would then follow the link to where that vault is bound.
        let place: Arc<[u8]> = if dir.as_os_str().is_empty() {
            Arc::from(&b"memory"[..])
        } else {
            use std::os::unix::ffi::OsStrExt;
            let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
            Arc::from(absolute.as_os_str().as_bytes())
        };
        Vault::on_place(store, dir, place)
    }

    /// A vault on `store`, found at `place` (a database vault: its URL without user or
    /// password).
    fn on_place(store: Arc<dyn Store>, dir: &Path, place: Arc<[u8]>) -> Result<Vault, Error> {
        let id = store.begin_read()?.vault_id()?;
        Ok(Vault {
            store,
            dir: dir.to_owned(),
            caller: Caller::default(),
            threads: Threads::Two,
            id,
            place,
            pins: Arc::new(Pins::in_memory()),
            verified: Arc::default(),
            upstream: None,
        })
    }

    /// The vault's id: part of the origin of every statement signed for its tenants.
    pub fn id(&self) -> [u8; 16] {
        self.id
    }

    /// Where this vault was found (its directory's absolute path, links unresolved; `memory`
    /// for a vault in memory): what the trust store binds its pins to.
    pub fn place(&self) -> &[u8] {
        &self.place
    }

    /// This handle checking manifests against `pins` (a writer's trust store) instead of the
    /// empty in-memory store a vault opens with.
    pub fn with_pins(&self, pins: Arc<Pins>) -> Vault {
        Vault { pins, ..self.clone() }
    }

    /// Names who is acting, for the audit log (on the same clock).
    pub fn set_actor(&mut self, actor: &str) {
        self.caller = self.caller.with_actor(actor);
    }

    /// This handle for another caller: same vault, another actor or clock. Cheap (a server
    /// makes one per request).
    pub fn acting_as(&self, caller: Caller) -> Vault {
        Vault { caller, ..self.clone() }
    }

    /// This handle running every pipeline on one thread (or on two, the default): the same
    /// results, for tests and one-core machines.
    pub fn with_threads(&self, threads: Threads) -> Vault {
        Vault { threads, ..self.clone() }
    }

    pub(crate) fn threads(&self) -> Threads {
        self.threads
    }

    /// Who acts, and by which clock.
    pub(crate) fn caller(&self) -> &Caller {
        &self.caller
    }

    /// Who is acting.
    pub fn actor(&self) -> &str {
        self.caller.actor()
    }

    /// The time now, by the caller's clock.
    pub fn now(&self) -> u64 {
        self.caller.now()
    }

    /// The vault directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Records an event in a transaction of its own.
    pub(crate) fn audit_only(
        &self,
        actor: Option<&str>,
        tenant: &str,
        subject: &str,
        event: AuditEvent,
    ) -> Result<(), Error> {
        self.write(|tx| {
            self.record_as(tx, actor.unwrap_or(self.actor()), tenant, subject, event.clone())?;
            Ok(())
        })
    }

    /// Appends an audit entry to `tx` as the current actor.
    pub(crate) fn record(
        &self,
        tx: &dyn Writes,
        tenant: &str,
        subject: &str,
        event: AuditEvent,
    ) -> Result<(), Error> {
        self.record_as(tx, self.caller.actor(), tenant, subject, event)
    }

    /// Appends an audit entry to `tx` as `actor`.
    pub(crate) fn record_as(
        &self,
        tx: &dyn Writes,
        actor: &str,
        tenant: &str,
        subject: &str,
        event: AuditEvent,
    ) -> Result<(), Error> {
        audit::append(tx, self.now(), audit::About { actor, tenant, subject }, event)?;
        Ok(())
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Told how far a long command has got: (done, total), total 0 when not known in advance.
pub type Progress<'a> = dyn FnMut(u64, u64) + 'a;

/// Reports the bytes that pass through a reader or writer to a [`Progress`], about every MiB.
pub(crate) struct Counted<'a, T> {
    inner: T,
    done: u64,
    total: u64,
    progress: &'a mut Progress<'a>,
}

impl<'a, T> Counted<'a, T> {
    pub(crate) fn new(inner: T, total: u64, progress: &'a mut Progress<'a>) -> Self {
        Counted { inner, done: 0, total, progress }
    }

    /// Bytes that passed so far.
    pub(crate) fn done(&self) -> u64 {
        self.done
    }

    fn count(&mut self, n: usize) {
        let before = self.done >> 20;
        self.done += n as u64;
        if self.done >> 20 != before {
            (self.progress)(self.done, self.total);
        }
    }
}

impl<T: std::io::Read> std::io::Read for Counted<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl<T: std::io::Write> std::io::Write for Counted<'_, T> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count(n);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Checks a tenant, level or engineer name given by the user.
pub(crate) fn valid_name(kind: &'static str, name: &str) -> Result<(), Error> {
    check_name(kind, name).map_err(|e| Error::usage(e.to_string()))
}

/// Checks the id of an item being written (put, put --raw, import): a relative path export can
/// write.
pub(crate) fn valid_new_item_id(id: &str) -> Result<(), Error> {
    check_item_path(id).map_err(|e| Error::usage(e.to_string()))
}

/// Checks an item id given by the user.
pub(crate) fn valid_item_id(id: &str) -> Result<(), Error> {
    check_item_id(id).map_err(|e| Error::usage(e.to_string()))
}
