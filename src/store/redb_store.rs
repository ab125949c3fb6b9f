//! The redb engine: the vault's one database file. The only module that names redb.
//!
//! Every write transaction commits with redb's default immediate durability: when `commit`
//! returns, it is on disk (fdatasync), and a crash before that leaves the previous state.
//!
//! Several processes share one file (redb's multi-writer mode): each opens it for writing,
//! reads never wait, and write transactions take turns, each starting on the latest commit of
//! any process. Only compaction takes the file for itself.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::files::FileLock;
use crate::format::hex;

use redb::{Database, ReadOnlyDatabase, ReadableDatabase, ReadableTable, TableDefinition, TableError};

use super::aligned::AlignedFile;
use super::raw::{Entry, RawRead, RawWrite, Table, Visit, chunk_key, item_key};
use super::records::{AuditEntry, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord};
use super::typed::typed_store;
use super::{
    AuditVisit, BackupSummary, ChunkVisit, ItemVisit, ItemWriter, ReadTx, RecordVisit, Store, StoreError,
    WriteTx, codec,
};

/// redb's page cache: large enough for hot metadata, small enough to keep a server under a
/// large put within 64 MiB (it was 32 MiB: 80-93 MiB at the peak).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// redb's settings for every vault file: shared by any number of processes, or (`Alone`) held
/// by one, which every other open is refused while it lasts.
fn builder(sharing: Sharing) -> redb::Builder {
    let mut b = redb::Builder::new();
    b.set_cache_size(CACHE_BYTES);
    b.set_concurrency_mode(match sharing {
        Sharing::Shared => redb::ConcurrencyMode::MultiWriter,
        Sharing::Alone => redb::ConcurrencyMode::ExclusiveWriter,
    });
    b
}

/// Whether other processes may have the file open at the same time.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sharing {
    Shared,
    Alone,
}

fn def(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// A vault database file, shared by every process that opens it (except while one compacts
/// it: others then get [`StoreError::InUse`]).
pub struct RedbStore {
    db: Db,
    path: PathBuf,
    /// This process's claims on the blobs it is staging (see [`Store::stage_chunks`]).
    claims: Mutex<HashMap<[u8; 16], FileLock>>,
}

/// The database, open for writing, or only for reading when its storage cannot be written.
enum Db {
    ReadWrite(Database),
    ReadOnly(ReadOnlyDatabase),
}

impl RedbStore {
    /// Creates a new, empty database file at `path`; refuses if one exists.
    pub fn create(path: &Path) -> Result<RedbStore, StoreError> {
        let store = RedbStore::create_as(path, Sharing::Shared)?;
        let tx = store.begin_raw_write()?;
        for table in Table::ALL {
            guard(|| tx.tx.open_table(def(table)).map(drop).map_err(StoreError::engine))?;
        }
        tx.put(Table::Meta, b"schema", &[super::SCHEMA_VERSION])?;
        tx.put(Table::Meta, b"vault_id", &new_vault_id()?)?;
        tx.commit()?;
        Ok(store)
    }

    /// A database file with no tables yet (a restore fills it; no other process may open it
    /// until this store is dropped).
    pub(super) fn create_empty(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::create_as(path, Sharing::Alone)
    }

    fn create_as(path: &Path, sharing: Sharing) -> Result<RedbStore, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists { path: path.to_owned() });
        }
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|source| StoreError::File { path: path.to_owned(), source })?;
        let db = AlignedFile::create(file)
            .and_then(|backend| builder(sharing).create_with_backend(backend))
            .map_err(|e| StoreError::open(path, e))?;
        Ok(RedbStore::new(Db::ReadWrite(db), path))
    }

    fn new(db: Db, path: &Path) -> RedbStore {
        RedbStore { db, path: path.to_owned(), claims: Mutex::default() }
    }

    /// Opens an existing database file, shared with any other process that has it open, and
    /// sweeps what puts that died left staged.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let store = RedbStore::open_as(path, Sharing::Shared)?;
        // Best effort: a sweep that fails (a staging directory this user cannot enter, a full
        // disk) leaves marked chunks for a later one, and must not keep the vault from opening.
        if matches!(store.db, Db::ReadWrite(_))
            && super::typed::staging(&store.begin_raw_read()?).is_ok_and(|marks| !marks.is_empty())
        {
            let _ = store.sweep_staging();
        }
        Ok(store)
    }

    /// Opens an existing database file for this process alone: refused ([`StoreError::InUse`])
    /// while another process has it open, and every other open is refused until this store is
    /// dropped. For compaction.
    pub fn open_alone(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_as(path, Sharing::Alone)
    }

    fn open_as(path: &Path, sharing: Sharing) -> Result<RedbStore, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing { path: path.to_owned() });
        }
        let file_error = |source| StoreError::File { path: path.to_owned(), source };
        // Storage this process cannot write (a read-only mount or snapshot, a file it may not
        // write) is opened for reading only: listing and showing work, changes say why not.
        let (file, writable) = match std::fs::OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => (file, true),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(30) => {
                (std::fs::File::open(path).map_err(file_error)?, false)
            }
            Err(e) => return Err(file_error(e)),
        };
        let db = guard(|| {
            // redb would initialise an empty file as a new database; an existing vault never is.
            let backend =
                AlignedFile::open(file).map_err(|e| StoreError::open(path, e))?.ok_or_else(|| {
                    StoreError::Corrupt { path: path.to_owned(), detail: "the file holds no database".into() }
                })?;
            match writable {
                true => builder(sharing).create_with_backend(backend).map(Db::ReadWrite),
                false => builder(sharing).open_read_only_with_backend(backend).map(Db::ReadOnly),
            }
            .map_err(|e| StoreError::open(path, e))
        })
        .map_err(|e| match e {
            StoreError::CorruptRecord { detail, .. } => StoreError::Corrupt { path: path.to_owned(), detail },
            e => e,
        })?;
        let store = RedbStore::new(db, path);
        match store.begin_raw_read()?.get(Table::Meta, b"schema")?.as_deref() {
            Some([super::SCHEMA_VERSION]) => Ok(store),
            Some(other) => Err(StoreError::Schema { path: path.to_owned(), found: other.to_vec() }),
            None => Err(StoreError::Schema { path: path.to_owned(), found: vec![] }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Gives the file's free pages back to the file system (redb moves live pages down and
    /// shortens the file), until nothing more moves. The caller must be the file's only user
    /// ([`RedbStore::open_alone`]), with no transaction live.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        guard(|| {
            let Db::ReadWrite(db) = &mut self.db else {
                return Err(StoreError::ReadOnly { path: self.path.clone() });
            };
            while db.compact().map_err(|e| StoreError::Engine(e.to_string()))? {}
            Ok(())
        })
    }

    /// A write transaction at the byte level, as the operator who edits the file would have.
    pub fn begin_raw_write(&self) -> Result<RedbWrite, StoreError> {
        let Db::ReadWrite(db) = &self.db else {
            return Err(StoreError::ReadOnly { path: self.path.clone() });
        };
        guard(|| Ok(RedbWrite { tx: db.begin_write().map_err(StoreError::engine)? }))
    }

    /// A read snapshot at the byte level.
    pub fn begin_raw_read(&self) -> Result<RedbRead, StoreError> {
        let tx = match &self.db {
            Db::ReadWrite(db) => guard(|| db.begin_read().map_err(StoreError::engine)),
            Db::ReadOnly(db) => guard(|| db.begin_read().map_err(StoreError::engine)),
        }?;
        Ok(RedbRead { tx })
    }

    /// Where this process's claims on staged blobs are: a directory beside the file.
    fn staging_dir(&self) -> PathBuf {
        let mut name = self.path.file_name().unwrap_or_default().to_owned();
        name.push(".staging");
        self.path.with_file_name(name)
    }

    fn claim_path(&self, blob: &[u8; 16]) -> PathBuf {
        self.staging_dir().join(hex(blob))
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 16], FileLock>> {
        self.claims.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the claim on a blob this process starts to stage: the lock file is held before
    /// the blob's mark is committed, so no sweep ever finds the mark of a live put unclaimed.
    /// Whether the claim is new (the blob's first group).
    fn claim(&self, blob: &[u8; 16]) -> Result<bool, StoreError> {
        let mut claims = self.claims();
        if claims.contains_key(blob) {
            return Ok(false);
        }
        let dir = self.staging_dir();
        let file_error = |path: &Path, source| StoreError::File { path: path.to_owned(), source };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| file_error(&dir, e))?;
        let path = self.claim_path(blob);
        let lock = FileLock::try_at(&path).map_err(|e| file_error(&path, e))?.ok_or_else(|| {
            StoreError::Engine(format!(
                "another process holds the claim on a fresh blob ({})",
                path.display()
            ))
        })?;
        claims.insert(*blob, lock);
        Ok(true)
    }
}

use std::os::unix::fs::DirBuilderExt;

impl Store for RedbStore {
    fn begin_read(&self) -> Result<ReadTx<'_>, StoreError> {
        Ok(Box::new(self.begin_raw_read()?))
    }

    fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        Ok(Box::new(self.begin_raw_write()?))
    }

    fn stage_chunks(&self, blob: &[u8; 16], chunks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        let first = self.claim(blob)?;
        let tx = self.begin_raw_write()?;
        super::typed::stage(&tx, blob, chunks, first)?;
        tx.commit()
    }

    /// Only while the blob is still marked: a record whose commit reported an error but
    /// landed has ended the mark, and its chunks are the item's.
    fn discard_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
        let tx = self.begin_raw_write()?;
        if super::typed::unstage(&tx, blob)? {
            tx.commit()?;
        }
        self.release_staging(blob);
        Ok(())
    }

    /// The claim file is removed before the lock is let go: a sweep that takes the lock
    /// between the two finds the mark already gone.
    fn release_staging(&self, blob: &[u8; 16]) {
        if let Some(lock) = self.claims().remove(blob) {
            let _ = std::fs::remove_file(self.claim_path(blob));
            drop(lock);
        }
    }

    fn sweep_staging(&self) -> Result<u64, StoreError> {
        let mut swept = 0;
        for blob in super::typed::staging(&self.begin_raw_read()?)? {
            if self.claims().contains_key(&blob) {
                continue;
            }
            let path = self.claim_path(&blob);
            let lock = match FileLock::try_at(&path) {
                Ok(Some(lock)) => Some(lock),
                // A live put holds it.
                Ok(None) => continue,
                // No staging directory: a put makes it before it marks a blob, so nobody
                // could be holding a claim in it.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(StoreError::File { path, source }),
            };
            let tx = self.begin_raw_write()?;
            if super::typed::unstage(&tx, &blob)? {
                tx.commit()?;
                swept += 1;
            }
            let _ = std::fs::remove_file(&path);
            drop(lock);
        }
        Ok(swept)
    }

    fn writeback(&self) -> Option<crate::writeback::Writeback> {
        std::fs::File::open(&self.path).ok().map(crate::writeback::Writeback::new)
    }

    fn backup_to(&self, out: &mut dyn Write) -> Result<BackupSummary, StoreError> {
        super::backup::write_backup(&self.begin_raw_read()?, out)
    }
}

/// A read-only snapshot.
pub struct RedbRead {
    tx: redb::ReadTransaction,
}

/// A write transaction. Dropped without `commit`, it leaves no trace.
pub struct RedbWrite {
    tx: redb::WriteTransaction,
}

impl RedbWrite {
    /// Makes the transaction durable: when this returns Ok, it survives a crash.
    pub fn commit(self) -> Result<(), StoreError> {
        guard(|| self.tx.commit().map_err(StoreError::engine))
    }

    fn commit_tx(self) -> Result<(), StoreError> {
        self.commit()
    }

    fn items_tx(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError> {
        guard(|| {
            Ok(Box::new(RedbItems {
                items: self.tx.open_table(def(Table::Items)).map_err(StoreError::engine)?,
                chunks: self.tx.open_table(def(Table::Chunks)).map_err(StoreError::engine)?,
            }) as Box<dyn ItemWriter + '_>)
        })
    }
}

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a guarded storage call, so that a panic hook can stay quiet
/// about a panic that `guard` turns into an error.
pub fn guarded() -> bool {
    GUARDED.with(|g| g.get())
}

/// Runs a storage call, turning a panic inside the storage engine (which redb can raise on a
/// damaged file) into an integrity error: no input makes lockbox panic.
fn guard<T>(f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let was = GUARDED.with(|g| g.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(was));
    result.unwrap_or_else(|_| {
        Err(StoreError::CorruptRecord {
            what: "database page",
            detail: "the storage engine stopped on damaged data".into(),
        })
    })
}

macro_rules! impl_raw_read {
    ($ty:ty) => {
        impl RawRead for $ty {
            fn first_present(
                &self,
                table: Table,
                keys: &mut dyn Iterator<Item = Vec<u8>>,
            ) -> Result<Option<usize>, StoreError> {
                guard(|| {
                    let t = match self.tx.open_table(def(table)) {
                        Ok(t) => t,
                        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                        Err(e) => return Err(StoreError::engine(e)),
                    };
                    for (i, key) in keys.enumerate() {
                        if t.get(&key[..]).map_err(StoreError::engine)?.is_some() {
                            return Ok(Some(i));
                        }
                    }
                    Ok(None)
                })
            }

            fn get_into(&self, table: Table, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, StoreError> {
                guard(|| {
                    let t = match self.tx.open_table(def(table)) {
                        Ok(t) => t,
                        Err(TableError::TableDoesNotExist(_)) => return Ok(false),
                        Err(e) => return Err(StoreError::engine(e)),
                    };
                    buf.clear();
                    match t.get(key).map_err(StoreError::engine)? {
                        Some(v) => {
                            buf.extend_from_slice(v.value());
                            Ok(true)
                        }
                        None => Ok(false),
                    }
                })
            }

            fn last(&self, table: Table) -> Result<Option<Entry>, StoreError> {
                guard(|| {
                    let t = match self.tx.open_table(def(table)) {
                        Ok(t) => t,
                        Err(TableError::TableDoesNotExist(_)) => return Ok(None),
                        Err(e) => return Err(StoreError::engine(e)),
                    };
                    let last = t.last().map_err(StoreError::engine)?;
                    Ok(last.map(|(k, v)| (k.value().to_vec(), v.value().to_vec())))
                })
            }

            fn scan(
                &self,
                table: Table,
                from: &[u8],
                to: Option<&[u8]>,
                visit: &mut Visit<'_>,
            ) -> Result<(), StoreError> {
                guard(|| {
                    let t = match self.tx.open_table(def(table)) {
                        Ok(t) => t,
                        Err(TableError::TableDoesNotExist(_)) => return Ok(()),
                        Err(e) => return Err(StoreError::engine(e)),
                    };
                    let range = match to {
                        Some(to) => t.range(from..to),
                        None => t.range(from..),
                    };
                    for entry in range.map_err(StoreError::engine)? {
                        let (k, v) = entry.map_err(StoreError::engine)?;
                        if !visit(k.value(), v.value())? {
                            break;
                        }
                    }
                    Ok(())
                })
            }
        }
    };
}

impl_raw_read!(RedbRead);
impl_raw_read!(RedbWrite);
typed_store!(reads: RedbRead, RedbWrite);
typed_store!(writes: RedbWrite);

impl RawWrite for RedbWrite {
    fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(def(table)).map_err(StoreError::engine)?;
            t.insert(key, value).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    fn remove(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(def(table)).map_err(StoreError::engine)?;
            Ok(t.remove(key).map_err(StoreError::engine)?.is_some())
        })
    }

    fn remove_range(&self, table: Table, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(def(table)).map_err(StoreError::engine)?;
            t.retain_in(from..=to, |_, _| false).map_err(StoreError::engine)?;
            Ok(())
        })
    }
}

/// Items and chunks written with both tables kept open: bulk commands write thousands of
/// items through one.
struct RedbItems<'tx> {
    items: redb::Table<'tx, &'static [u8], &'static [u8]>,
    chunks: redb::Table<'tx, &'static [u8], &'static [u8]>,
}

impl ItemWriter for RedbItems<'_> {
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
        guard(|| {
            let value = self.items.get(&item_key(tenant, id)[..]).map_err(StoreError::engine)?;
            value.map(|v| codec::decode("item record", v.value())).transpose()
        })
    }

    fn put_chunk(&mut self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError> {
        guard(|| {
            self.chunks.insert(&chunk_key(blob, index)[..], ciphertext).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    fn put_item(&mut self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        guard(|| {
            let bytes = codec::encode("item record", item)?;
            self.items.insert(&item_key(tenant, id)[..], &bytes[..]).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    fn remove_chunks(&mut self, blob: &[u8; 16]) -> Result<(), StoreError> {
        guard(|| {
            let (from, to) = (chunk_key(blob, 0), chunk_key(blob, u64::MAX));
            self.chunks.retain_in(&from[..]..=&to[..], |_, _| false).map_err(StoreError::engine)?;
            Ok(())
        })
    }
}

/// A fresh random vault id.
pub(super) fn new_vault_id() -> Result<[u8; 16], StoreError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
    Ok(id)
}
