//! The only module that touches redb. Everything the vault keeps lives in one redb file;
//! records are encoded by [`codec`], item chunks are stored as they are (already ciphertext).
//!
//! Every write goes through one [`WriteTx`], committed with redb's default immediate
//! durability: when `commit` returns, the transaction is on disk (fdatasync), and a crash
//! before that leaves the previous state. The one exception is [`Store::stage_chunks`], which
//! commits a large item's chunks ahead of its record without an fsync (see there).

mod backup;
pub mod codec;
mod error;
pub mod records;

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, TableError};

pub use backup::{BackupSummary, check_backup};
pub use error::StoreError;
use records::{EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord};

/// The tables of the vault. All keys and values are bytes; keys sort as documented per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// Vault metadata: `"schema"` -> schema version.
    Meta,
    /// Tenant name -> [`TenantRecord`].
    Tenants,
    /// tenant || 0x00 || item id -> [`ItemRecord`].
    Items,
    /// blob id (16) || chunk index (u64 BE) -> chunk ciphertext.
    Chunks,
    /// Engineer name -> engineer record.
    Engineers,
    /// Request id (16) -> request record.
    Requests,
    /// Grant id (16) -> grant record.
    Grants,
    /// Sequence number (u64 BE) -> audit entry.
    Audit,
}

impl Table {
    const ALL: [Table; 8] = [
        Table::Meta,
        Table::Tenants,
        Table::Items,
        Table::Chunks,
        Table::Engineers,
        Table::Requests,
        Table::Grants,
        Table::Audit,
    ];

    fn def(self) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
        TableDefinition::new(match self {
            Table::Meta => "meta",
            Table::Tenants => "tenants",
            Table::Items => "items",
            Table::Chunks => "chunks",
            Table::Engineers => "engineers",
            Table::Requests => "requests",
            Table::Grants => "grants",
            Table::Audit => "audit",
        })
    }
}

const SCHEMA_VERSION: u8 = 1;
/// redb's page cache: large enough for hot metadata, small enough to keep the process small.
const CACHE_BYTES: usize = 32 * 1024 * 1024;
/// Ciphertext bytes per staged transaction: well inside redb's write buffer (half the cache),
/// so that no page of it is written twice.
pub const STAGE_BYTES: usize = 8 * 1024 * 1024;

/// An open vault database. Only one process may hold it at a time.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Creates a new, empty database file at `path`; refuses if one exists.
    pub fn create(path: &Path) -> Result<Store, StoreError> {
        let store = Store::create_empty(path)?;
        let tx = store.begin_write()?;
        for table in Table::ALL {
            tx.tx.open_table(table.def()).map_err(StoreError::engine)?;
        }
        tx.put(Table::Meta, b"schema", &[SCHEMA_VERSION])?;
        tx.commit()?;
        Ok(store)
    }

    /// A database file with no tables yet (a restore fills it).
    fn create_empty(path: &Path) -> Result<Store, StoreError> {
        if path.exists() {
            return Err(StoreError::Exists { path: path.to_owned() });
        }
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::open(path, e))?;
        Ok(Store { db, path: path.to_owned() })
    }

    /// Opens an existing database file.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing { path: path.to_owned() });
        }
        let db = guard(|| {
            redb::Builder::new().set_cache_size(CACHE_BYTES).open(path).map_err(|e| StoreError::open(path, e))
        })
        .map_err(|e| match e {
            StoreError::CorruptRecord { detail, .. } => StoreError::Corrupt { path: path.to_owned(), detail },
            e => e,
        })?;
        let store = Store { db, path: path.to_owned() };
        match store.begin_read()?.get(Table::Meta, b"schema")?.as_deref() {
            Some([SCHEMA_VERSION]) => Ok(store),
            Some(other) => Err(StoreError::Schema { path: path.to_owned(), found: other.to_vec() }),
            None => Err(StoreError::Schema { path: path.to_owned(), found: vec![] }),
        }
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts the (only) write transaction.
    pub fn begin_write(&self) -> Result<WriteTx, StoreError> {
        guard(|| Ok(WriteTx { tx: self.db.begin_write().map_err(StoreError::engine)? }))
    }

    /// Stores `chunks` (index, ciphertext) of `blob` in a transaction of their own that is
    /// committed without an fsync: visible at once, durable with the next durable commit. A
    /// crash before that one loses them, as redb recovers to its last durable commit.
    ///
    /// Why: redb keeps a transaction's dirty pages in a buffer of half its cache; a larger
    /// transaction spills pages to the file and writes each a second time when it finalises
    /// their checksums at commit (a 256 MiB put in one transaction wrote 513 MiB and read 256
    /// MiB back). Groups smaller than [`STAGE_BYTES`] are written once.
    pub fn stage_chunks(&self, blob: &[u8; 16], chunks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        guard(|| {
            let mut tx = self.db.begin_write().map_err(StoreError::engine)?;
            tx.set_durability(redb::Durability::None).map_err(|e| StoreError::Engine(e.to_string()))?;
            {
                let mut t = tx.open_table(Table::Chunks.def()).map_err(StoreError::engine)?;
                for (index, chunk) in chunks {
                    t.insert(&chunk_key(blob, *index)[..], &chunk[..]).map_err(StoreError::engine)?;
                }
            }
            tx.commit().map_err(StoreError::engine)
        })
    }

    /// A thread that syncs the database file when nudged: a large put nudges it after each
    /// staged group, so the disk writes while the put encrypts (see [`crate::writeback`]).
    pub fn writeback(&self) -> Option<crate::writeback::Writeback> {
        std::fs::File::open(&self.path).ok().map(crate::writeback::Writeback::new)
    }

    /// Removes chunks staged for an item whose record was never stored (also without an
    /// fsync: if it is lost in a crash, so are the staged chunks, unless a durable commit
    /// intervened, in which case `verify` reports them as orphans).
    pub fn discard_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
        let mut tx = self.begin_write()?;
        guard(|| {
            tx.tx.set_durability(redb::Durability::None).map_err(|e| StoreError::Engine(e.to_string()))
        })?;
        tx.remove_chunks(blob)?;
        tx.commit()
    }

    /// Starts a read transaction: a consistent snapshot.
    pub fn begin_read(&self) -> Result<ReadTx, StoreError> {
        guard(|| Ok(ReadTx { tx: self.db.begin_read().map_err(StoreError::engine)? }))
    }
}

/// A write transaction. Dropped without [`WriteTx::commit`], it leaves no trace.
pub struct WriteTx {
    tx: redb::WriteTransaction,
}

/// A read-only snapshot.
pub struct ReadTx {
    tx: redb::ReadTransaction,
}

thread_local! {
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a guarded storage call, so that a panic hook can stay quiet
/// about a panic that [`guard`] turns into an error.
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

/// A visitor of (key, value) entries; returns whether to go on.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;
/// An item id with its record, or why the record does not decode.
pub type StoredItem = (String, Result<ItemRecord, StoreError>);
/// A visitor of items: id and record (or why it does not decode); returns whether to go on.
pub type ItemVisit<'a> = dyn FnMut(&str, Result<ItemRecord, StoreError>) -> Result<bool, StoreError> + 'a;
/// A stored (key, value) pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Reads shared by both kinds of transaction, and the typed accessors built on them.
pub trait Reads {
    /// The value under `key`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut value = Vec::new();
        Ok(self.get_into(table, key, &mut value)?.then_some(value))
    }

    /// The value under `key` into `buf` (replacing its content, reusing its allocation);
    /// whether there was one.
    fn get_into(&self, table: Table, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, StoreError>;

    /// The position in `keys` of the first key present in `table`, with the table opened once.
    fn first_present(
        &self,
        table: Table,
        keys: &mut dyn Iterator<Item = Vec<u8>>,
    ) -> Result<Option<usize>, StoreError>;

    /// Calls `visit` for each entry with `from <= key < to` in key order, until it returns false.
    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: Option<&[u8]>,
        visit: &mut Visit<'_>,
    ) -> Result<(), StoreError>;

    /// The entry with the greatest key.
    fn last(&self, table: Table) -> Result<Option<Entry>, StoreError>;

    /// A tenant.
    fn tenant(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.get(Table::Tenants, name.as_bytes())?.map(|b| codec::decode("tenant record", &b)).transpose()
    }

    /// Every tenant, by name.
    fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let mut out = Vec::new();
        self.scan(Table::Tenants, b"", None, &mut |_, v| {
            out.push(codec::decode("tenant record", v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// An item.
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
        let key = item_key(tenant, id);
        self.get(Table::Items, &key)?.map(|b| codec::decode("item record", &b)).transpose()
    }

    /// Every item of a tenant, by id. A record that does not decode is returned as its error,
    /// so one damaged item does not hide the others.
    fn items(&self, tenant: &str) -> Result<Vec<StoredItem>, StoreError> {
        let mut out = Vec::new();
        self.for_each_item(tenant, &mut |id, record| {
            out.push((id.to_owned(), record));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Visits every item of a tenant in id order without holding them all in memory, until
    /// `visit` returns false.
    fn for_each_item(&self, tenant: &str, visit: &mut ItemVisit<'_>) -> Result<(), StoreError> {
        let (from, to) = tenant_range(tenant);
        self.scan(Table::Items, &from, Some(&to), &mut |k, v| {
            let id = String::from_utf8_lossy(&k[from.len()..]);
            visit(&id, codec::decode("item record", v))
        })
    }

    /// An engineer.
    fn engineer(&self, name: &str) -> Result<Option<EngineerRecord>, StoreError> {
        self.get(Table::Engineers, name.as_bytes())?.map(|b| codec::decode("engineer record", &b)).transpose()
    }

    /// Every engineer, by name.
    fn engineers(&self) -> Result<Vec<EngineerRecord>, StoreError> {
        self.all(Table::Engineers, "engineer record")
    }

    /// A request.
    fn request(&self, id: &[u8; 16]) -> Result<Option<RequestRecord>, StoreError> {
        self.get(Table::Requests, id)?.map(|b| codec::decode("request record", &b)).transpose()
    }

    /// Every request, by id.
    fn requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        self.all(Table::Requests, "request record")
    }

    /// A grant.
    fn grant(&self, id: &[u8; 16]) -> Result<Option<GrantRecord>, StoreError> {
        self.get(Table::Grants, id)?.map(|b| codec::decode("grant record", &b)).transpose()
    }

    /// Every grant, by id.
    fn grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        self.all(Table::Grants, "grant record")
    }

    /// Every record of a table, decoded.
    fn all<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        what: &'static str,
    ) -> Result<Vec<T>, StoreError> {
        let mut out = Vec::new();
        self.scan(table, b"", None, &mut |_, v| {
            out.push(codec::decode(what, v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// One chunk of an item's ciphertext.
    fn chunk(&self, blob: &[u8; 16], index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.get(Table::Chunks, &chunk_key(blob, index))
    }

    /// [`Reads::chunk`] into a buffer the caller recycles; whether the chunk is there.
    fn chunk_into(&self, blob: &[u8; 16], index: u64, buf: &mut Vec<u8>) -> Result<bool, StoreError> {
        self.get_into(Table::Chunks, &chunk_key(blob, index), buf)
    }
}

/// The key of an item: tenant || 0x00 || id. Tenant names hold no 0x00, so a tenant's items
/// form one contiguous range.
pub fn item_key(tenant: &str, id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(tenant.len() + 1 + id.len());
    key.extend_from_slice(tenant.as_bytes());
    key.push(0);
    key.extend_from_slice(id.as_bytes());
    key
}

fn tenant_range(tenant: &str) -> (Vec<u8>, Vec<u8>) {
    let mut from = tenant.as_bytes().to_vec();
    let mut to = from.clone();
    from.push(0);
    to.push(1);
    (from, to)
}

/// The key of chunk `index` of blob `blob`.
pub fn chunk_key(blob: &[u8; 16], index: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(blob);
    key[16..].copy_from_slice(&index.to_be_bytes());
    key
}

macro_rules! impl_reads {
    ($ty:ty) => {
        impl Reads for $ty {
            fn first_present(
                &self,
                table: Table,
                keys: &mut dyn Iterator<Item = Vec<u8>>,
            ) -> Result<Option<usize>, StoreError> {
                guard(|| {
                    let t = match self.tx.open_table(table.def()) {
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
                    let t = match self.tx.open_table(table.def()) {
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
                    let t = match self.tx.open_table(table.def()) {
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
                    let t = match self.tx.open_table(table.def()) {
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

impl_reads!(ReadTx);
impl_reads!(WriteTx);

impl WriteTx {
    /// Stores `value` under `key`.
    pub fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(table.def()).map_err(StoreError::engine)?;
            t.insert(key, value).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    /// Removes `key`; whether it was there.
    pub fn remove(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(table.def()).map_err(StoreError::engine)?;
            Ok(t.remove(key).map_err(StoreError::engine)?.is_some())
        })
    }

    /// Stores a tenant record.
    pub fn put_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError> {
        self.put(Table::Tenants, tenant.name.as_bytes(), &codec::encode("tenant record", tenant)?)
    }

    /// Stores an item record (its chunks must be stored in the same transaction).
    pub fn put_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        self.put(Table::Items, &item_key(tenant, id), &codec::encode("item record", item)?)
    }

    /// Stores an engineer record.
    pub fn put_engineer(&self, e: &EngineerRecord) -> Result<(), StoreError> {
        self.put(Table::Engineers, e.name.as_bytes(), &codec::encode("engineer record", e)?)
    }

    /// Stores a request record.
    pub fn put_request(&self, r: &RequestRecord) -> Result<(), StoreError> {
        self.put(Table::Requests, &r.id, &codec::encode("request record", r)?)
    }

    /// Stores a grant record.
    pub fn put_grant(&self, g: &GrantRecord) -> Result<(), StoreError> {
        self.put(Table::Grants, &g.id, &codec::encode("grant record", g)?)
    }

    /// Removes an item record and all its chunks.
    pub fn remove_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        self.remove(Table::Items, &item_key(tenant, id))?;
        self.remove_chunks(&item.blob)
    }

    /// Removes every chunk of a blob.
    pub fn remove_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
        guard(|| {
            let mut t = self.tx.open_table(Table::Chunks.def()).map_err(StoreError::engine)?;
            let (from, to) = (chunk_key(blob, 0), chunk_key(blob, u64::MAX));
            t.retain_in(&from[..]..=&to[..], |_, _| false).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    /// A writer for items and their chunks that keeps both tables open: bulk commands write
    /// thousands of items through one.
    pub fn item_writer(&self) -> Result<ItemWriter<'_>, StoreError> {
        guard(|| {
            Ok(ItemWriter {
                items: self.tx.open_table(Table::Items.def()).map_err(StoreError::engine)?,
                chunks: self.tx.open_table(Table::Chunks.def()).map_err(StoreError::engine)?,
            })
        })
    }

    /// Makes the transaction durable: when this returns Ok, it survives a crash.
    pub fn commit(self) -> Result<(), StoreError> {
        guard(|| self.tx.commit().map_err(StoreError::engine))
    }
}

/// Writes items and chunks within a write transaction, with both tables open.
pub struct ItemWriter<'tx> {
    items: redb::Table<'tx, &'static [u8], &'static [u8]>,
    chunks: redb::Table<'tx, &'static [u8], &'static [u8]>,
}

impl ItemWriter<'_> {
    /// An item, if present.
    pub fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
        guard(|| {
            let value = self.items.get(&item_key(tenant, id)[..]).map_err(StoreError::engine)?;
            value.map(|v| codec::decode("item record", v.value())).transpose()
        })
    }

    /// Stores chunk `index` of `blob`.
    pub fn put_chunk(&mut self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError> {
        guard(|| {
            self.chunks.insert(&chunk_key(blob, index)[..], ciphertext).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    /// Stores an item record.
    pub fn put_item(&mut self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        guard(|| {
            let bytes = codec::encode("item record", item)?;
            self.items.insert(&item_key(tenant, id)[..], &bytes[..]).map_err(StoreError::engine)?;
            Ok(())
        })
    }

    /// Removes every chunk of a blob.
    pub fn remove_chunks(&mut self, blob: &[u8; 16]) -> Result<(), StoreError> {
        guard(|| {
            let (from, to) = (chunk_key(blob, 0), chunk_key(blob, u64::MAX));
            self.chunks.retain_in(&from[..]..=&to[..], |_, _| false).map_err(StoreError::engine)?;
            Ok(())
        })
    }
}
