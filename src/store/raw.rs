//! The byte level beneath the contract: tables of (key, value) bytes, which each backend
//! engine provides, and the key layout, written once here. The typed contract
//! ([`super::Reads`], [`super::Writes`]) is implemented on top of these by `typed_store!`
//! (src/store/typed.rs), so the codec, the key layout and the audit append rule are the same
//! for every engine.
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
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// A visitor of (key, value) entries; returns whether to go on.
pub type Visit<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;
/// A stored row: its table, key and value.
pub type Row = (Table, Vec<u8>, Vec<u8>);
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

/// Where the meta table indexes position `chain` of `tenant`'s audit chain (value: the
/// entry's u64 BE sequence number): `audit_chain\0` || tenant || `\0` || u64 BE. A name holds
/// no NUL, so one tenant's keys never run into another's.
pub fn audit_chain_key(tenant: &str, chain: u64) -> Vec<u8> {
    [&b"audit_chain\0"[..], tenant.as_bytes(), b"\0", &chain.to_be_bytes()].concat()
}

/// Where the meta table marks a blob whose chunks are being staged by a put that has not
/// stored its record yet: `staging\0` || blob id (value empty). The record's transaction
/// removes the mark; a mark left by a process that died names chunks to sweep.
pub fn staging_key(blob: &[u8; 16]) -> Vec<u8> {
    [&STAGING_PREFIX[..], blob].concat()
}

/// The prefix of every staging mark.
pub const STAGING_PREFIX: &[u8; 8] = b"staging\0";

/// The key of chunk `index` of blob `blob`.
pub fn chunk_key(blob: &[u8; 16], index: u64) -> [u8; 24] {
    let mut key = [0u8; 24];
    key[..16].copy_from_slice(blob);
    key[16..].copy_from_slice(&index.to_be_bytes());
    key
}

/// Where the meta table keeps webhook `id`: `webhook\0` || id (8 bytes) -> webhook record.
pub fn webhook_key(id: &[u8; 8]) -> Vec<u8> {
    [&b"webhook\0"[..], id].concat()
}

/// Where the meta table keeps a notice for webhook `webhook`: `delivery\0` || webhook (8) ||
/// notice id (16) -> delivery record.
pub fn delivery_key(webhook: &[u8; 8], id: &[u8; 16]) -> Vec<u8> {
    [&b"delivery\0"[..], webhook, id].concat()
}

/// Where the meta table keeps the sequence number of the last audit entry the server turned
/// into notices (u64 BE).
pub const WEBHOOK_CURSOR: &[u8] = b"webhook_cursor";
