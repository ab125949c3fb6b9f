//! The byte level beneath the contract: tables of (key, value) bytes, which each backend
//! engine provides, and the key layout, written once here. The typed contract
//! ([`super::Reads`], [`super::Writes`]) is implemented on top of these by [`typed_store!`],
//! so the codec, the key layout and the audit append rule are the same for every engine.
//!
//! Above the store nothing uses this module: it is public for the backup format, for fuzzing,
//! and for tests that act as the operator who edits the database file byte by byte.

use super::StoreError;

/// The tables of the vault. All keys and values are bytes; keys sort as documented per table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// Vault metadata: `"schema"` -> schema version.
    Meta,
    /// Tenant name -> tenant record.
    Tenants,
    /// tenant || 0x00 || item id -> item record.
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
    /// Every table, in backup order.
    pub const ALL: [Table; 8] = [
        Table::Meta,
        Table::Tenants,
        Table::Items,
        Table::Chunks,
        Table::Engineers,
        Table::Requests,
        Table::Grants,
        Table::Audit,
    ];

    /// The table's name in an engine that names tables.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Tenants => "tenants",
            Table::Items => "items",
            Table::Chunks => "chunks",
            Table::Engineers => "engineers",
            Table::Requests => "requests",
            Table::Grants => "grants",
            Table::Audit => "audit",
        }
    }

    /// Position in [`Table::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A visitor of (key, value) entries; returns whether to go on.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;
/// A stored (key, value) pair.
pub type Entry = (Vec<u8>, Vec<u8>);

/// Byte-level reads of one transaction's view.
pub trait RawRead {
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

    /// The value under `key`.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut value = Vec::new();
        Ok(self.get_into(table, key, &mut value)?.then_some(value))
    }
}

/// Byte-level writes of a write transaction.
pub trait RawWrite: RawRead {
    /// Stores `value` under `key`.
    fn put(&self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;

    /// Removes `key`; whether it was there.
    fn remove(&self, table: Table, key: &[u8]) -> Result<bool, StoreError>;

    /// Removes every key from `from` to `to`, both included.
    fn remove_range(&self, table: Table, from: &[u8], to: &[u8]) -> Result<(), StoreError>;
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

/// The range of keys holding `tenant`'s items: `[from, to)`.
pub fn tenant_range(tenant: &str) -> (Vec<u8>, Vec<u8>) {
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

/// Implements the typed contract ([`super::Reads`], and with a second type
/// [`super::Writes`]) for engine transaction types that implement [`RawRead`]/[`RawWrite`].
/// The write type must also have `fn commit_tx(self) -> Result<(), StoreError>` and
/// `fn items_tx(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError>`.
macro_rules! typed_store {
    (reads: $($ty:ty),*) => {$(
        impl $crate::store::Reads for $ty {
            fn tenant(&self, name: &str) -> Result<Option<TenantRecord>, StoreError> {
                $crate::store::typed::tenant(self, name)
            }
            fn for_each_tenant(&self, visit: &mut RecordVisit<'_, TenantRecord>) -> Result<(), StoreError> {
                $crate::store::typed::for_each(self, Table::Tenants, "tenant record", visit)
            }
            fn item(&self, tenant: &str, id: &str) -> Result<Option<ItemRecord>, StoreError> {
                $crate::store::typed::item(self, tenant, id)
            }
            fn for_each_item(&self, tenant: &str, visit: &mut ItemVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_item(self, tenant, visit)
            }
            fn first_item_present(
                &self,
                tenant: &str,
                ids: &mut dyn Iterator<Item = &str>,
            ) -> Result<Option<usize>, StoreError> {
                self.first_present(Table::Items, &mut ids.map(|id| $crate::store::raw::item_key(tenant, id)))
            }
            fn engineer(&self, name: &str) -> Result<Option<EngineerRecord>, StoreError> {
                $crate::store::typed::one(self, Table::Engineers, name.as_bytes(), "engineer record")
            }
            fn for_each_engineer(&self, visit: &mut RecordVisit<'_, EngineerRecord>) -> Result<(), StoreError> {
                $crate::store::typed::for_each(self, Table::Engineers, "engineer record", visit)
            }
            fn request(&self, id: &[u8; 16]) -> Result<Option<RequestRecord>, StoreError> {
                $crate::store::typed::one(self, Table::Requests, id, "request record")
            }
            fn for_each_request(&self, visit: &mut RecordVisit<'_, RequestRecord>) -> Result<(), StoreError> {
                $crate::store::typed::for_each(self, Table::Requests, "request record", visit)
            }
            fn grant(&self, id: &[u8; 16]) -> Result<Option<GrantRecord>, StoreError> {
                $crate::store::typed::one(self, Table::Grants, id, "grant record")
            }
            fn for_each_grant(&self, visit: &mut RecordVisit<'_, GrantRecord>) -> Result<(), StoreError> {
                $crate::store::typed::for_each(self, Table::Grants, "grant record", visit)
            }
            fn chunk_into(&self, blob: &[u8; 16], index: u64, buf: &mut Vec<u8>) -> Result<bool, StoreError> {
                self.get_into(Table::Chunks, &$crate::store::raw::chunk_key(blob, index), buf)
            }
            fn for_each_chunk(&self, visit: &mut ChunkVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_chunk(self, visit)
            }
            fn last_audit(&self) -> Result<Option<AuditEntry>, StoreError> {
                $crate::store::typed::last_audit(self)
            }
            fn for_each_audit(&self, visit: &mut AuditVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_audit(self, visit)
            }
        }
    )*};
    (writes: $($ty:ty),*) => {$(
        impl $crate::store::Writes for $ty {
            fn put_tenant(&self, t: &TenantRecord) -> Result<(), StoreError> {
                self.put(Table::Tenants, t.name.as_bytes(), &codec::encode("tenant record", t)?)
            }
            fn put_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
                self.put(Table::Items, &$crate::store::raw::item_key(tenant, id), &codec::encode("item record", item)?)
            }
            fn remove_item_record(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
                self.remove(Table::Items, &$crate::store::raw::item_key(tenant, id))
            }
            fn remove_item(&self, tenant: &str, id: &str, item: &ItemRecord) -> Result<(), StoreError> {
                self.remove_item_record(tenant, id)?;
                self.remove_chunks(&item.blob)
            }
            fn remove_tenant(&self, name: &str) -> Result<bool, StoreError> {
                self.remove(Table::Tenants, name.as_bytes())
            }
            fn remove_engineer(&self, name: &str) -> Result<bool, StoreError> {
                self.remove(Table::Engineers, name.as_bytes())
            }
            fn put_engineer(&self, e: &EngineerRecord) -> Result<(), StoreError> {
                self.put(Table::Engineers, e.name.as_bytes(), &codec::encode("engineer record", e)?)
            }
            fn put_request(&self, r: &RequestRecord) -> Result<(), StoreError> {
                self.put(Table::Requests, &r.id, &codec::encode("request record", r)?)
            }
            fn put_grant(&self, g: &GrantRecord) -> Result<(), StoreError> {
                self.put(Table::Grants, &g.id, &codec::encode("grant record", g)?)
            }
            fn put_chunk(&self, blob: &[u8; 16], index: u64, ciphertext: &[u8]) -> Result<(), StoreError> {
                self.put(Table::Chunks, &$crate::store::raw::chunk_key(blob, index), ciphertext)
            }
            fn remove_chunks(&self, blob: &[u8; 16]) -> Result<(), StoreError> {
                let (from, to) = ($crate::store::raw::chunk_key(blob, 0), $crate::store::raw::chunk_key(blob, u64::MAX));
                self.remove_range(Table::Chunks, &from, &to)
            }
            fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                $crate::store::typed::append_audit(self, entry)
            }
            fn item_writer(&self) -> Result<Box<dyn ItemWriter + '_>, StoreError> {
                self.items_tx()
            }
            fn commit(self: Box<Self>) -> Result<(), StoreError> {
                (*self).commit_tx()
            }
        }
    )*};
}
pub(crate) use typed_store;
