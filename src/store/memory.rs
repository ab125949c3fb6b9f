//! An engine in memory, for tests and fuzzing: the same contract as the database file, without
//! a disk. Snapshots share the committed tables; a write transaction works on its own copy and
//! publishes it at commit, so readers see all of a commit or none of it, and one writer at a
//! time holds the write lock (as in redb). Nothing survives the process: "durable" here means
//! visible to every later transaction. A write copies each table it changes (only those), so
//! it suits small vaults.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};

use super::raw::{Entry, RawRead, RawWrite, Table, Visit};
use super::records::{AuditEntry, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord};
use super::typed::typed_store;
use super::{
    AuditVisit, BackupSummary, ChunkVisit, ItemVisit, ItemWriter, ReadTx, RecordVisit, Store, StoreError,
    WriteTx, codec,
};

type Map = BTreeMap<Vec<u8>, Vec<u8>>;
/// One shared map per table: a transaction's copy clones a map only when it first changes it.
type Tables = [Arc<Map>; 8];

/// A vault store held in memory.
#[derive(Default)]
pub struct MemoryStore {
    committed: Mutex<Arc<Tables>>,
    writer: Mutex<()>,
    /// The blobs being staged (all by this one process).
    claims: Mutex<std::collections::HashSet<[u8; 16]>>,
    /// A copy of rows a server showed: no write transaction, only [`MemoryStore::reload`].
    mirror: bool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere never leaves the tables half-written: they are replaced whole.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MemoryStore {
    /// An empty store with the vault's schema.
    pub fn new() -> MemoryStore {
        let store = MemoryStore::default();
        let mut tables = Tables::default();
        let meta = Arc::make_mut(&mut tables[Table::Meta.index()]);
        meta.insert(b"schema".to_vec(), vec![super::SCHEMA_VERSION]);
        // Memory is only for tests and fuzzing: an unreadable random generator panics here.
        let id = super::redb_store::new_vault_id().expect("random vault id");
        meta.insert(b"vault_id".to_vec(), id.to_vec());
        *lock(&store.committed) = Arc::new(tables);
        store
    }

    /// An independent copy of everything committed so far (same vault id): fuzzing starts each
    /// input from one prepared vault. Cheap: the tables are shared until either side writes.
    pub fn fork(&self) -> MemoryStore {
        let store = MemoryStore::default();
        *lock(&store.committed) = self.snapshot();
        store
    }

    /// A read-only copy of `rows` (what a server showed of one tenant: see
    /// [`super::Reads::tenant_rows`]): every write transaction is refused with
    /// [`StoreError::Mirror`]. The rows are not checked here; readers decode them as they
    /// decode a vault file.
    pub fn mirror(rows: Vec<super::raw::Row>) -> MemoryStore {
        let store = MemoryStore { mirror: true, ..MemoryStore::default() };
        store.reload(rows);
        store
    }

    /// Replaces everything with `rows`, at once for every later reader.
    pub fn reload(&self, rows: Vec<super::raw::Row>) {
        let mut tables = Tables::default();
        for (table, key, value) in rows {
            Arc::make_mut(&mut tables[table.index()]).insert(key, value);
        }
        *lock(&self.committed) = Arc::new(tables);
    }

    fn snapshot(&self) -> Arc<Tables> {
        lock(&self.committed).clone()
    }

    /// A write transaction at the byte level.
    pub fn begin_raw_write(&self) -> MemWrite<'_> {
        let guard = lock(&self.writer);
        let tables = RefCell::new((*self.snapshot()).clone());
        MemWrite { store: self, _writer: guard, tables }
    }

    /// A read snapshot at the byte level.
    pub fn begin_raw_read(&self) -> MemRead {
        MemRead { tables: self.snapshot() }
    }
}

impl Store for MemoryStore {
    fn begin_read(&self) -> Result<ReadTx<'_>, StoreError> {
        Ok(Box::new(self.begin_raw_read()))
    }

    fn begin_write(&self) -> Result<WriteTx<'_>, StoreError> {
        if self.mirror {
            return Err(StoreError::Mirror);
        }
        Ok(Box::new(self.begin_raw_write()))
    }

    fn stage_chunks(&self, blob: &[u8; 16], chunks: &[(u64, Vec<u8>)]) -> Result<(), StoreError> {
        if self.mirror {
            return Err(StoreError::Mirror);
        }
        let tx = self.begin_raw_write();
        let first = lock(&self.claims).insert(*blob);
        super::typed::stage(&tx, blob, chunks, first)?;
        tx.commit()
    }

    fn discard_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
        let tx = self.begin_raw_write();
        if super::typed::unstage(&tx, blob)? {
            tx.commit()?;
        }
        self.release_staging(blob);
        Ok(())
    }

    /// One process holds a memory store: every claim is its own, and nothing dies apart.
    fn release_staging(&self, blob: &[u8; 16]) {
        lock(&self.claims).remove(blob);
    }

    fn sweep_staging(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    fn writeback(&self) -> Option<crate::writeback::Writeback> {
        None
    }

    fn backup_to(&self, out: &mut dyn Write) -> Result<BackupSummary, StoreError> {
        super::backup::write_backup(&self.begin_raw_read(), out)
    }
}

/// A snapshot of the committed tables.
pub struct MemRead {
    tables: Arc<Tables>,
}

/// A write transaction: a private copy of the tables, published by `commit`.
pub struct MemWrite<'s> {
    store: &'s MemoryStore,
    _writer: MutexGuard<'s, ()>,
    tables: RefCell<Tables>,
}

impl MemWrite<'_> {
    /// Publishes the transaction to every later reader and writer.
    pub fn commit(self) -> Result<(), StoreError> {
        *lock(&self.store.committed) = Arc::new(self.tables.into_inner());
        Ok(())
    }

    fn commit_tx(self) -> Result<(), StoreError> {
        self.commit()
    }

    fn items_tx(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError> {
        Ok(Box::new(MemItems(self)))
    }

    /// `table`'s map in this transaction, copied first if it is still shared with a snapshot.
    fn table_mut(&self, table: Table) -> Result<std::cell::RefMut<'_, Map>, StoreError> {
        // Only a write from inside a scan's visitor could find the tables borrowed.
        let tables = self
            .tables
            .try_borrow_mut()
            .map_err(|_| StoreError::Engine("a write during a scan of the same transaction".into()))?;
        Ok(std::cell::RefMut::map(tables, |t| Arc::make_mut(&mut t[table.index()])))
    }
}

fn read_tables(tables: &Tables, table: Table, key: &[u8], buf: &mut Vec<u8>) -> bool {
    buf.clear();
    match tables[table.index()].get(key) {
        Some(v) => {
            buf.extend_from_slice(v);
            true
        }
        None => false,
    }
}

fn scan_tables(
    tables: &Tables,
    table: Table,
    from: &[u8],
    to: Option<&[u8]>,
    visit: &mut Visit<'_>,
) -> Result<(), StoreError> {
    let map = &tables[table.index()];
    let range: Box<dyn Iterator<Item = (&Vec<u8>, &Vec<u8>)>> = match to {
        Some(to) if to <= from => return Ok(()),
        Some(to) => Box::new(map.range(from.to_vec()..to.to_vec())),
        None => Box::new(map.range(from.to_vec()..)),
    };
    for (k, v) in range {
        if !visit(k, v)? {
            break;
        }
    }
    Ok(())
}

macro_rules! impl_mem_read {
    ($ty:ty, $tables:ident => $get:expr) => {
        impl RawRead for $ty {
            fn get_into(&self, table: Table, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, StoreError> {
                let $tables = self;
                Ok(read_tables(&$get, table, key, buf))
            }

            fn first_present(
                &self,
                table: Table,
                keys: &mut dyn Iterator<Item = Vec<u8>>,
            ) -> Result<Option<usize>, StoreError> {
                let $tables = self;
                let t = $get;
                Ok(keys.enumerate().find(|(_, k)| t[table.index()].contains_key(k)).map(|(i, _)| i))
            }

            fn scan(
                &self,
                table: Table,
                from: &[u8],
                to: Option<&[u8]>,
                visit: &mut Visit<'_>,
            ) -> Result<(), StoreError> {
                let $tables = self;
                scan_tables(&$get, table, from, to, visit)
            }

            fn last(&self, table: Table) -> Result<Option<Entry>, StoreError> {
                let $tables = self;
                Ok($get[table.index()].last_key_value().map(|(k, v)| (k.clone(), v.clone())))
            }
        }
    };
}

impl_mem_read!(MemRead, s => &*s.tables);
impl_mem_read!(MemWrite<'_>, s => s.tables.borrow());
typed_store!(reads: MemRead, MemWrite<'_>);
typed_store!(writes: MemWrite<'_>);

impl RawWrite for MemWrite<'_> {
    fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.table_mut(table)?.insert(key.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove(&self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.table_mut(table)?.remove(key).is_some())
    }

    fn remove_range(&self, table: Table, from: &[u8], to: &[u8]) -> Result<(), StoreError> {
        let mut map = self.table_mut(table)?;
        let doomed: Vec<Vec<u8>> = map.range(from.to_vec()..=to.to_vec()).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            map.remove(&k);
        }
        Ok(())
    }
}

/// Items and chunks through the transaction itself.
struct MemItems<'a, 's>(&'a MemWrite<'s>);

impl ItemWriter for MemItems<'_, '_> {
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
        super::Reads::item(self.0, tenant, id)
    }

    fn put_chunk(&mut self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError> {
        super::Writes::put_chunk(self.0, blob, index, ciphertext)
    }

    fn put_item(&mut self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
        super::Writes::put_item(self.0, tenant, id, item)
    }

    fn remove_chunks(&mut self, blob: &[u8; 16]) -> Result<(), StoreError> {
        super::Writes::remove_chunks(self.0, blob)
    }
}
