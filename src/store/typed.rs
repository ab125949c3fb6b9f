//! The typed contract on the byte level: how records are found, decoded and appended, for
//! every engine alike (used by [`super::raw::typed_store!`]).

use super::raw::{RawRead, RawWrite, Table, item_key, tenant_range};
use super::records::{AuditEntry, ItemRecord, TenantRecord};
use super::{AuditVisit, ChunkVisit, ItemVisit, RecordVisit, StoreError, codec};

pub(crate) fn one<T: serde::de::DeserializeOwned>(
    r: &(impl RawRead + ?Sized),
    table: Table,
    key: &[u8],
    what: &'static str,
) -> Result<Option<T>, StoreError> {
    r.get(table, key)?.map(|b| codec::decode(what, &b)).transpose()
}

pub(crate) fn tenant(r: &(impl RawRead + ?Sized), name: &str) -> Result<Option<TenantRecord>, StoreError> {
    one(r, Table::Tenants, name.as_bytes(), "tenant record")
}

pub(crate) fn item(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
    id: &str,
) -> Result<Option<ItemRecord>, StoreError> {
    one(r, Table::Items, &item_key(tenant, id), "item record")
}

pub(crate) fn for_each<T: serde::de::DeserializeOwned>(
    r: &(impl RawRead + ?Sized),
    table: Table,
    what: &'static str,
    visit: &mut RecordVisit<'_, T>,
) -> Result<(), StoreError> {
    r.scan(table, b"", None, &mut |k, v| visit(k, codec::decode(what, v)))
}

pub(crate) fn for_each_item(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
    visit: &mut ItemVisit<'_>,
) -> Result<(), StoreError> {
    let (from, to) = tenant_range(tenant);
    r.scan(Table::Items, &from, Some(&to), &mut |k, v| {
        let id = String::from_utf8_lossy(&k[from.len()..]);
        visit(&id, codec::decode("item record", v))
    })
}

pub(crate) fn for_each_chunk(
    r: &(impl RawRead + ?Sized),
    visit: &mut ChunkVisit<'_>,
) -> Result<(), StoreError> {
    r.scan(Table::Chunks, b"", None, &mut |k, _| {
        let key = <[u8; 24]>::try_from(k).map_err(|_| StoreError::CorruptRecord {
            what: "chunk key",
            detail: format!("{} bytes instead of 24", k.len()),
        });
        visit(key.map(|k| {
            let (blob, index) = k.split_at(16);
            (blob.try_into().unwrap_or([0; 16]), u64::from_be_bytes(index.try_into().unwrap_or([0; 8])))
        }))
    })
}

pub(crate) fn last_audit(r: &(impl RawRead + ?Sized)) -> Result<Option<AuditEntry>, StoreError> {
    r.last(Table::Audit)?.map(|(_, v)| codec::decode("audit entry", &v)).transpose()
}

pub(crate) fn for_each_audit(
    r: &(impl RawRead + ?Sized),
    visit: &mut AuditVisit<'_>,
) -> Result<(), StoreError> {
    r.scan(Table::Audit, b"", None, &mut |k, v| {
        let position = <[u8; 8]>::try_from(k).map(u64::from_be_bytes).unwrap_or(0);
        visit(position, codec::decode("audit entry", v))
    })
}

/// Appends `entry` as the next one: its sequence number must follow the last entry's (from 1).
/// With one writer at a time, two appends can never claim the same number.
pub(crate) fn append_audit(w: &(impl RawWrite + ?Sized), entry: &AuditEntry) -> Result<(), StoreError> {
    let next = last_audit(w)?.map_or(1, |last| last.seq.saturating_add(1));
    if entry.seq != next {
        return Err(StoreError::Engine(format!("audit entry {} appended where {next} is next", entry.seq)));
    }
    w.put(Table::Audit, &entry.seq.to_be_bytes(), &codec::encode("audit entry", entry)?)
}
