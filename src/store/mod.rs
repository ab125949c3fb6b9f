//! The store: where the vault's records live, behind one contract.
//!
//! [`Store`] opens transactions; [`Reads`] and [`Writes`] are what a transaction can do, in
//! records (tenants, items, chunks, engineers, requests, grants, audit entries), never in
//! tables or keys. Three engines implement it: [`RedbStore`], the vault's database file,
//! [`MemoryStore`], for tests and fuzzing, and [`PgStore`], a PostgreSQL database that several
//! processes on several machines share. One suite (`tests/library/store_contract.rs`) holds
//! them to the contract below. Nothing above this module names an engine.
//!
//! # The contract
//! - **Atomicity.** A write transaction's changes become visible all at once when
//!   [`Writes::commit`] returns Ok, or not at all: dropping the transaction, an error, or a
//!   crash before `commit` returns leaves no trace.
//! - **Isolation.** At most one write transaction exists at a time, in all processes
//!   together ([`Store::begin_write`] waits for the current one, as redb does); so a write transaction's reads, and the checks
//!   the vault makes on them (the level's current epoch before a put, a request still pending
//!   at approval, the next audit sequence number), cannot be invalidated before it commits. A
//!   read transaction is a snapshot: it sees exactly the commits before it began.
//! - **Durability.** When `commit` returns Ok, the transaction survives a crash or power loss
//!   ([`RedbStore`]: fdatasync; [`MemoryStore`]: until the process ends).
//! - **Many processes.** Several processes may open one [`RedbStore`] and write to it; their
//!   write transactions take turns, and each begins on the latest commit of any of them.
//! - **Errors.** A record that does not decode is reported as [`StoreError::CorruptRecord`] for
//!   that record alone (the `for_each_*` visitors receive it and may go on); a damaged engine
//!   file is an error, never a panic.

mod aligned;
mod backup;
pub mod codec;
mod error;
mod memory;
mod pg_connect;
mod pg_store;
pub mod raw;
pub mod records;
mod redb_store;
pub mod retry;
mod typed;

use std::io::Write;

pub use backup::{BackupSummary, check_backup};

/// The version of the vault's records, in the meta table under `schema`: 3 since audit entries
/// hold typed events (docs/FORMAT.md). Another version is refused, never converted.
pub const SCHEMA_VERSION: u8 = 3;
pub use error::StoreError;
pub use memory::{MemRead, MemWrite, MemoryStore};
pub use pg_store::{PgRead, PgStore, PgWrite};
use records::{
    AuditEntry, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord, TokenRecord,
};
pub use redb_store::{RedbRead, RedbStore, RedbWrite, guarded};

/// Ciphertext bytes per staged transaction: within redb's write buffer (half its 16 MiB
/// cache), so that no page of it is written twice.
pub const STAGE_BYTES: usize = 4 * 1024 * 1024;

/// A read transaction of some engine.
pub type ReadTx<'a> = Box<dyn Reads + Send + Sync + 'a>;
/// A write transaction of some engine.
pub type WriteTx<'a> = Box<dyn Writes + 'a>;
/// A visitor of records of one kind: the record's key (its name or id) and the record, or why
/// it does not decode; returns whether to go on.
pub type RecordVisit<'a, T> = dyn FnMut(&[u8], Result<T, StoreError>) -> Result<bool, StoreError> + 'a;
/// An item id with its record, or why the record does not decode.
pub type StoredItem = (String, Result<ItemRecord, StoreError>);
/// A visitor of items: id and record (or why it does not decode); returns whether to go on.
pub type ItemVisit<'a> = dyn FnMut(&str, Result<ItemRecord, StoreError>) -> Result<bool, StoreError> + 'a;
/// A visitor of stored chunks: (blob id, chunk index), or why the chunk's key is malformed.
pub type ChunkVisit<'a> = dyn FnMut(Result<([u8; 16], u64), StoreError>) -> Result<bool, StoreError> + 'a;
/// A visitor of audit entries: the position it is stored under, and the entry.
pub type AuditVisit<'a> = dyn FnMut(u64, Result<AuditEntry, StoreError>) -> Result<bool, StoreError> + 'a;

/// A store of vault records: opens transactions. Shared by every thread of a process.
pub trait Store: Send + Sync {
    /// A snapshot of every commit so far. Any number may be open, beside a write transaction.
    fn begin_read(&self) -> Result<ReadTx<'_>, StoreError>;

    /// The write transaction: waits until no other is open, in this process or another.
    fn begin_write(&self) -> Result<WriteTx<'_>, StoreError>;

    /// Stores `chunks` (index, ciphertext) of `blob` in a durable transaction of their own,
    /// ahead of the record that will name them, and marks the blob as being staged (see
    /// [`Reads::staging`]). The first call for a blob also takes this process's claim on it,
    /// which it holds until [`Store::discard_chunks`] or [`Store::release_staging`]: while a
    /// claim is held, no other process sweeps the blob. Used for a large item's chunks (see
    /// docs/DESIGN.md).
    fn stage_chunks(&self, blob: &[u8; 16], chunks: &[(u64, Vec<u8>)]) -> Result<(), StoreError>;
    /// Removes the chunks staged for a blob whose record will not be stored, and its mark,
    /// durably; then lets its claim go.
    fn discard_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError>;
    /// Lets the claim on a staged blob go, once the transaction that stored its record (and
    /// ended its staging with [`Writes::end_staging`]) has committed.
    fn release_staging(&self, blob: &[u8; 16]);
    /// Removes the chunks and marks of blobs whose staging process died (it holds no claim),
    /// each in a transaction that finds the mark still there. Returns how many.
    fn sweep_staging(&self) -> Result<u64, StoreError>;
    /// Ciphertext bytes a large put stages per transaction: [`STAGE_BYTES`] unless the engine
    /// prefers another size.
    fn stage_bytes(&self) -> usize {
        STAGE_BYTES
    }

    /// A thread that pushes the engine's file to disk when nudged, while a large put goes on
    /// (an optimisation only: durability still comes from commits). `None` if the engine has
    /// no file.
    fn writeback(&self) -> Option<crate::writeback::Writeback>;

    /// Writes a backup of one snapshot of every record to `out` (docs/FORMAT.md).
    fn backup_to(&self, out: &mut dyn Write) -> Result<BackupSummary, StoreError>;
}

/// What a transaction can read: a snapshot, or a write transaction's own view (its writes
/// included).
pub trait Reads {
    /// A tenant.
    fn tenant(&self, name: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// Visits every tenant in name order until `visit` returns false.
    fn for_each_tenant(&self, visit: &mut RecordVisit<'_, TenantRecord>) -> Result<(), StoreError>;
    /// An item.
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError>;
    /// Visits every item of a tenant in id order, without holding them all in memory, until
    /// `visit` returns false. One damaged record does not hide the others.
    fn for_each_item(&self, tenant: &str, visit: &mut ItemVisit<'_>) -> Result<(), StoreError>;
    /// The position in `ids` of the first item of `tenant` that exists.
    fn first_item_present(
        &self,
        tenant: &str,
        ids: &mut dyn Iterator<Item = &str>,
    ) -> Result<Option<usize>, StoreError>;
    /// An engineer.
    fn engineer(&self, name: &str) -> Result<Option<EngineerRecord>, StoreError>;
    /// Visits every engineer in name order.
    fn for_each_engineer(&self, visit: &mut RecordVisit<'_, EngineerRecord>) -> Result<(), StoreError>;
    /// A request.
    fn request(&self, id: &[u8; 16]) -> Result<Option<RequestRecord>, StoreError>;
    /// Visits every request in id order.
    fn for_each_request(&self, visit: &mut RecordVisit<'_, RequestRecord>) -> Result<(), StoreError>;
    /// A grant.
    fn grant(&self, id: &[u8; 16]) -> Result<Option<GrantRecord>, StoreError>;
    /// Visits every grant in id order.
    fn for_each_grant(&self, visit: &mut RecordVisit<'_, GrantRecord>) -> Result<(), StoreError>;
    /// One chunk of an item's ciphertext into `buf` (replacing its content, reusing its
    /// allocation); whether it is there.
    fn chunk_into(&self, blob: &[u8; 16], index: u64, buf: &mut Vec<u8>) -> Result<bool, StoreError>;
    /// Visits every stored chunk, by blob id and index, in that order.
    fn for_each_chunk(&self, visit: &mut ChunkVisit<'_>) -> Result<(), StoreError>;
    /// The vault's id: 16 random bytes set when the store was created, never changed (a
    /// backup restores it). Part of every signed statement's origin.
    fn vault_id(&self) -> Result<[u8; 16], StoreError>;
    /// The position in its own chain and the hash of `tenant`'s newest audit entry.
    fn tenant_audit_head(&self, tenant: &str) -> Result<Option<(u64, [u8; 32])>, StoreError>;
    /// The last audit checkpoint of `tenant` that its monitor signed (a signed note), if any.
    fn monitor_checkpoint(&self, tenant: &str) -> Result<Option<String>, StoreError>;
    /// The audit entry appended last.
    fn last_audit(&self) -> Result<Option<AuditEntry>, StoreError>;
    /// The server's API token with id `id`.
    fn token(&self, id: &[u8; 8]) -> Result<Option<TokenRecord>, StoreError>;
    /// Visits every API token, in id order.
    fn for_each_token(&self, visit: &mut RecordVisit<'_, TokenRecord>) -> Result<(), StoreError>;
    /// The blobs whose chunks a put is staging (or was, if it died), in id order.
    fn staging(&self) -> Result<Vec<[u8; 16]>, StoreError>;
    /// Visits every audit entry in the order stored, with the position stored under.
    fn for_each_audit(&self, visit: &mut AuditVisit<'_>) -> Result<(), StoreError>;
    /// Calls `visit` with `tenant`'s entries from position `from` of its own chain on, in
    /// order (with each one's position), until it returns false: a tenant's reader reads its
    /// recent entries without reading the whole log. What it gets is only what the store
    /// claims; the reader checks positions, links and hashes.
    fn for_each_tenant_audit(
        &self,
        tenant: &str,
        from: u64,
        visit: &mut AuditVisit<'_>,
    ) -> Result<(), StoreError>;

    /// The rows that hold what a party of `tenant` reads (docs/FORMAT.md, "Tenant state"): the
    /// vault's id and schema, the tenant's record, monitor checkpoint and audit head, every
    /// engineer, the tenant's requests and grants, its audit entries from position
    /// `audit_from` of its chain on (with their index), and its item records if `items`.
    /// With `engineer`, only that engineer's record, requests and grants. Bytes as stored:
    /// whoever loads them decodes them as it decodes the vault file.
    fn tenant_rows(
        &self,
        tenant: &str,
        audit_from: u64,
        items: bool,
        engineer: Option<&str>,
    ) -> Result<Vec<raw::Row>, StoreError>;

    /// The metadata rows whose keys start with `prefix`, in key order (see
    /// [`raw::webhook_key`] and its neighbours for what is kept there).
    fn meta_rows(&self, prefix: &[u8]) -> Result<Vec<raw::Entry>, StoreError>;

    /// Visits the audit entries from sequence number `from` on, in order.
    fn for_each_audit_from(&self, from: u64, visit: &mut AuditVisit<'_>) -> Result<(), StoreError>;

    /// Every tenant, by name; the first damaged record is an error.
    fn tenants(&self) -> Result<Vec<TenantRecord>, StoreError> {
        collect(|v| self.for_each_tenant(v))
    }
    /// Every item of a tenant, by id, each with its record or why it does not decode.
    fn items(&self, tenant: &str) -> Result<Vec<StoredItem>, StoreError> {
        let mut out = Vec::new();
        self.for_each_item(tenant, &mut |id, record| {
            out.push((id.to_owned(), record));
            Ok(true)
        })?;
        Ok(out)
    }
    /// Every engineer, by name.
    fn engineers(&self) -> Result<Vec<EngineerRecord>, StoreError> {
        collect(|v| self.for_each_engineer(v))
    }
    /// Every request, by id.
    fn requests(&self) -> Result<Vec<RequestRecord>, StoreError> {
        collect(|v| self.for_each_request(v))
    }
    /// Every grant, by id.
    fn grants(&self) -> Result<Vec<GrantRecord>, StoreError> {
        collect(|v| self.for_each_grant(v))
    }
    /// One chunk of an item's ciphertext.
    fn chunk(&self, blob: &[u8; 16], index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let mut buf = Vec::new();
        Ok(self.chunk_into(blob, index, &mut buf)?.then_some(buf))
    }
}

fn collect<T>(
    each: impl FnOnce(&mut RecordVisit<'_, T>) -> Result<(), StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    each(&mut |_, record| {
        out.push(record?);
        Ok(true)
    })?;
    Ok(out)
}

/// What a write transaction can change. Nothing is visible to others before
/// [`Writes::commit`].
pub trait Writes: Reads {
    /// Stores a tenant record under its name.
    fn put_tenant(&self, tenant: &TenantRecord) -> Result<(), StoreError>;
    /// Stores an item record. Its chunks are stored in the same transaction, or staged before
    /// it ([`Store::stage_chunks`]).
    fn put_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError>;
    /// Removes an item record alone (one that does not decode names no blob); whether it was
    /// there.
    fn remove_item_record(&self, tenant: &str, id: &str) -> Result<bool, StoreError>;
    /// Removes an item record and every chunk of its blob.
    fn remove_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError>;
    /// Removes a tenant record (its items are removed one by one with [`Writes::remove_item`]);
    /// whether it was there.
    fn remove_tenant(&self, name: &str) -> Result<bool, StoreError>;
    /// Removes an engineer record; whether it was there.
    fn remove_engineer(&self, name: &str) -> Result<bool, StoreError>;
    /// Stores an engineer record under its name.
    fn put_engineer(&self, engineer: &EngineerRecord) -> Result<(), StoreError>;
    /// Stores a request record under its id.
    fn put_request(&self, request: &RequestRecord) -> Result<(), StoreError>;
    /// Stores a grant record under its id.
    fn put_grant(&self, grant: &GrantRecord) -> Result<(), StoreError>;
    /// Stores chunk `index` of `blob`.
    fn put_chunk(&self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError>;
    /// Removes every chunk of a blob.
    fn remove_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError>;
    /// Stores an API token record under its id.
    fn put_token(&self, token: &TokenRecord) -> Result<(), StoreError>;
    /// Ends the staging of `blob`, in the transaction that stores the record naming it:
    /// whether it was still marked (false: a sweep removed its chunks, so the record must not
    /// be stored).
    fn end_staging(&self, blob: &[u8; 16]) -> Result<bool, StoreError>;
    /// Appends an audit entry. Its sequence number must be the last entry's plus one (1 for
    /// the first), else nothing is written and an error returned: with one writer at a time,
    /// the log has no gaps and no two entries share a number. An entry of a tenant must also
    /// be the next of that tenant's chain (its `chain` one more than the tenant's head, its
    /// `chain_prev` the head's hash), and becomes the head; an entry of no tenant has chain 0.
    fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Replaces `tenant`'s monitor checkpoint (it adds no audit entry: it states the log).
    fn put_monitor_checkpoint(&self, tenant: &str, note: &str) -> Result<(), StoreError>;
    /// Stores a metadata row (webhooks, their deliveries and cursor: [`raw::webhook_key`]).
    fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Removes a metadata row; whether it was there.
    fn remove_meta(&self, key: &[u8]) -> Result<bool, StoreError>;
    /// A writer for many items and chunks in this transaction (an engine may keep its tables
    /// open in it: bulk commands write thousands of items through one).
    fn item_writer(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError>;
    /// Makes every change of the transaction visible and durable at once.
    fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

/// Items and chunks written within a write transaction. While one is alive, write items and
/// chunks through it only, not through the transaction's own methods (redb keeps those tables
/// open in it).
pub trait ItemWriter {
    /// An item, if present.
    fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError>;
    /// Stores chunk `index` of `blob`.
    fn put_chunk(&mut self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError>;
    /// Stores an item record.
    fn put_item(&mut self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError>;
    /// Removes every chunk of a blob.
    fn remove_chunks(&mut self, blob: &[u8; 16]) -> Result<(), StoreError>;
}
