//! The typed contract on the byte level: how records are found, decoded and appended, for
//! every engine alike (used by [`super::raw::typed_store!`]).

use super::raw::{RawRead, RawWrite, Table, item_key, tenant_range};
use super::records::{
    AuditEntry, EngineerRecord, GrantRecord, ItemRecord, RequestRecord, TenantRecord, TokenRecord,
};
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

/// Every blob marked as being staged, in id order. A mark whose key is not a staging key of
/// a 16-byte id is damage.
pub(crate) fn staging(r: &(impl RawRead + ?Sized)) -> Result<Vec<[u8; 16]>, StoreError> {
    let prefix = &super::raw::STAGING_PREFIX[..];
    let mut end = prefix.to_vec();
    end[prefix.len() - 1] += 1;
    let mut blobs = Vec::new();
    r.scan(Table::Meta, prefix, Some(&end), &mut |k, _| {
        let blob = <[u8; 16]>::try_from(&k[prefix.len()..]).map_err(|_| StoreError::CorruptRecord {
            what: "staging mark",
            detail: format!("{} bytes of blob id instead of 16", k.len() - prefix.len()),
        })?;
        blobs.push(blob);
        Ok(true)
    })?;
    Ok(blobs)
}

/// Stages `chunks` of `blob` in `tx`: the `first` group marks the blob as being staged, and
/// every later one finds the mark still there (else [`StoreError::Swept`]: the groups before
/// were removed, and storing more would leave a record with holes).
pub(crate) fn stage(
    tx: &(impl RawWrite + ?Sized),
    blob: &[u8; 16],
    chunks: &[(u64, Vec<u8>)],
    first: bool,
) -> Result<(), StoreError> {
    let mark = super::raw::staging_key(blob);
    if first {
        tx.put(Table::Meta, &mark, b"")?;
    } else if tx.get(Table::Meta, &mark)?.is_none() {
        return Err(StoreError::Swept);
    }
    for (index, chunk) in chunks {
        tx.put(Table::Chunks, &super::raw::chunk_key(blob, *index), chunk)?;
    }
    Ok(())
}

/// Removes `blob`'s chunks and its staging mark in `tx`; whether the mark was there.
pub(crate) fn unstage(tx: &(impl RawWrite + ?Sized), blob: &[u8; 16]) -> Result<bool, StoreError> {
    let (from, to) = (super::raw::chunk_key(blob, 0), super::raw::chunk_key(blob, u64::MAX));
    tx.remove_range(Table::Chunks, &from, &to)?;
    tx.remove(Table::Meta, &super::raw::staging_key(blob))
}

/// The vault id, set when the store was created.
pub(crate) fn vault_id(r: &(impl RawRead + ?Sized)) -> Result<[u8; 16], StoreError> {
    let bytes = r.get(Table::Meta, b"vault_id")?.unwrap_or_default();
    <[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| StoreError::CorruptRecord {
        what: "vault id",
        detail: format!("{} bytes instead of 16", bytes.len()),
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

pub(crate) fn for_each_audit_from(
    r: &(impl RawRead + ?Sized),
    from: u64,
    visit: &mut AuditVisit<'_>,
) -> Result<(), StoreError> {
    r.scan(Table::Audit, &from.to_be_bytes(), None, &mut |k, v| {
        let position = <[u8; 8]>::try_from(k).map(u64::from_be_bytes).unwrap_or(0);
        visit(position, codec::decode("audit entry", v))
    })
}

pub(crate) fn meta_rows(
    r: &(impl RawRead + ?Sized),
    prefix: &[u8],
) -> Result<Vec<super::raw::Entry>, StoreError> {
    let mut end = prefix.to_vec();
    // The first key after every key that starts with `prefix` (prefixes here end in a NUL).
    let last = end.pop();
    let bounded = last.and_then(|b| b.checked_add(1)).map(|b| {
        end.push(b);
        end
    });
    let mut rows = Vec::new();
    r.scan(Table::Meta, prefix, bounded.as_deref(), &mut |k, v| {
        if k.starts_with(prefix) {
            rows.push((k.to_vec(), v.to_vec()));
        }
        Ok(true)
    })?;
    Ok(rows)
}

/// Appends `entry` as the next one: its sequence number must follow the last entry's (from 1).
/// With one writer at a time, two appends can never claim the same number.
pub(crate) fn append_audit(w: &(impl RawWrite + ?Sized), entry: &AuditEntry) -> Result<(), StoreError> {
    let next = last_audit(w)?.map_or(1, |last| last.seq.saturating_add(1));
    if entry.seq != next {
        return Err(StoreError::Engine(format!("audit entry {} appended where {next} is next", entry.seq)));
    }
    if !entry.tenant.is_empty() {
        let (chain, head) = tenant_audit_head(w, &entry.tenant)?.unwrap_or((0, [0; 32]));
        if entry.chain != chain.saturating_add(1) || entry.chain_prev != head {
            return Err(StoreError::Engine(format!(
                "audit entry {} is not the next of tenant {:?}'s chain",
                entry.seq, entry.tenant
            )));
        }
        let mut value = entry.chain.to_be_bytes().to_vec();
        value.extend_from_slice(&entry.hash);
        w.put(Table::Meta, &head_key(&entry.tenant), &value)?;
        w.put(
            Table::Meta,
            &super::raw::audit_chain_key(&entry.tenant, entry.chain),
            &entry.seq.to_be_bytes(),
        )?;
    } else if entry.chain != 0 || entry.chain_prev != [0; 32] {
        return Err(StoreError::Engine(format!(
            "audit entry {} of no tenant names a tenant chain",
            entry.seq
        )));
    }
    w.put(Table::Audit, &entry.seq.to_be_bytes(), &codec::encode("audit entry", entry)?)
}

fn monitor_key(tenant: &str) -> Vec<u8> {
    [&b"monitor\0"[..], tenant.as_bytes()].concat()
}

/// The last audit checkpoint `tenant`'s monitor signed (a signed note), if any.
pub(crate) fn monitor_checkpoint(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
) -> Result<Option<String>, StoreError> {
    let Some(value) = r.get(Table::Meta, &monitor_key(tenant))? else { return Ok(None) };
    String::from_utf8(value)
        .map(Some)
        .map_err(|_| StoreError::CorruptRecord { what: "monitor checkpoint", detail: "not UTF-8".into() })
}

pub(crate) fn put_monitor_checkpoint(
    w: &(impl RawWrite + ?Sized),
    tenant: &str,
    note: &str,
) -> Result<(), StoreError> {
    w.put(Table::Meta, &monitor_key(tenant), note.as_bytes())
}

/// Where the meta table keeps the API token with id `id`.
fn token_key(id: &[u8; 8]) -> Vec<u8> {
    [&b"token\0"[..], id].concat()
}

pub(crate) fn token(r: &(impl RawRead + ?Sized), id: &[u8; 8]) -> Result<Option<TokenRecord>, StoreError> {
    one(r, Table::Meta, &token_key(id), "token record")
}

pub(crate) fn for_each_token(
    r: &(impl RawRead + ?Sized),
    visit: &mut RecordVisit<'_, TokenRecord>,
) -> Result<(), StoreError> {
    r.scan(Table::Meta, b"token\0", Some(b"token\x01"), &mut |k, v| {
        visit(k, codec::decode("token record", v))
    })
}

pub(crate) fn put_token(w: &(impl RawWrite + ?Sized), t: &TokenRecord) -> Result<(), StoreError> {
    w.put(Table::Meta, &token_key(&t.id), &codec::encode("token record", t)?)
}

fn head_key(tenant: &str) -> Vec<u8> {
    [&b"audit_head\0"[..], tenant.as_bytes()].concat()
}

/// `tenant`'s entries from position `from` of its chain on, in order, through the index the
/// append keeps. The index proves nothing: the reader checks what it gets (positions, links,
/// hashes). One with its newest keys missing reads as a chain cut back after the reader's
/// checkpoint, which is what the operator could show by cutting the log itself (the audit
/// monitor bounds that).
pub(crate) fn for_each_tenant_audit(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
    from: u64,
    visit: &mut AuditVisit<'_>,
) -> Result<(), StoreError> {
    let start = super::raw::audit_chain_key(tenant, from);
    let end = [&b"audit_chain\0"[..], tenant.as_bytes(), b"\x01"].concat();
    let mut value = Vec::new();
    r.scan(Table::Meta, &start, Some(&end), &mut |k, v| {
        let position = k.get(k.len().saturating_sub(8)..).and_then(|p| <[u8; 8]>::try_from(p).ok());
        let seq = <[u8; 8]>::try_from(v).ok();
        let (Some(position), Some(seq)) = (position, seq) else {
            return visit(
                0,
                Err(StoreError::CorruptRecord { what: "audit index", detail: format!("{} bytes", v.len()) }),
            );
        };
        let entry = match r.get_into(Table::Audit, &seq, &mut value) {
            Ok(true) => codec::decode("audit entry", &value),
            Ok(false) => Err(StoreError::CorruptRecord {
                what: "audit index",
                detail: format!(
                    "position {} names entry {} that is not there",
                    u64::from_be_bytes(position),
                    u64::from_be_bytes(seq)
                ),
            }),
            Err(e) => Err(e),
        };
        visit(u64::from_be_bytes(position), entry)
    })
}

/// See [`super::Reads::tenant_rows`]. Requests and grants are chosen by the tenant their
/// record names; one that does not decode is left out (whoever reads the rows could not use it).
pub(crate) fn tenant_rows(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
    audit_from: u64,
    items: bool,
    engineer: Option<&str>,
) -> Result<Vec<super::raw::Row>, StoreError> {
    let mut rows = Vec::new();
    let mut copy = |table: Table, key: &[u8]| -> Result<(), StoreError> {
        if let Some(value) = r.get(table, key)? {
            rows.push((table, key.to_vec(), value));
        }
        Ok(())
    };
    for key in [&b"schema"[..], b"vault_id", &monitor_key(tenant), &head_key(tenant)] {
        copy(Table::Meta, key)?;
    }
    copy(Table::Tenants, tenant.as_bytes())?;
    let all = |table: Table, from: &[u8], to: Option<&[u8]>, keep: &dyn Fn(&[u8]) -> bool| {
        let mut found = Vec::new();
        r.scan(table, from, to, &mut |k, v| {
            if keep(v) {
                found.push((table, k.to_vec(), v.to_vec()));
            }
            Ok(true)
        })?;
        Ok::<_, StoreError>(found)
    };
    let mine = |name: &str| engineer.is_none_or(|e| e == name);
    let enrolled =
        |v: &[u8]| codec::decode::<EngineerRecord>("engineer record", v).is_ok_and(|e| mine(&e.name));
    rows.extend(all(Table::Engineers, b"", None, &enrolled)?);
    let of_tenant_request = |v: &[u8]| {
        codec::decode::<RequestRecord>("request record", v)
            .is_ok_and(|r| r.tenant == tenant && mine(&r.engineer))
    };
    rows.extend(all(Table::Requests, b"", None, &of_tenant_request)?);
    let of_tenant_grant = |v: &[u8]| {
        codec::decode::<GrantRecord>("grant record", v).is_ok_and(|g| g.tenant == tenant && mine(&g.engineer))
    };
    rows.extend(all(Table::Grants, b"", None, &of_tenant_grant)?);
    if items {
        let (from, to) = super::raw::tenant_range(tenant);
        rows.extend(all(Table::Items, &from, Some(&to), &|_| true)?);
    }
    let start = super::raw::audit_chain_key(tenant, audit_from.max(1));
    let end = [&b"audit_chain\0"[..], tenant.as_bytes(), b"\x01"].concat();
    let index = all(Table::Meta, &start, Some(&end), &|_| true)?;
    for (_, key, seq) in index {
        if let Some(entry) = r.get(Table::Audit, &seq)? {
            rows.push((Table::Audit, seq.clone(), entry));
        }
        rows.push((Table::Meta, key, seq));
    }
    Ok(rows)
}

/// The position and hash of `tenant`'s newest audit entry, if it has any.
pub(crate) fn tenant_audit_head(
    r: &(impl RawRead + ?Sized),
    tenant: &str,
) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    let Some(value) = r.get(Table::Meta, &head_key(tenant))? else { return Ok(None) };
    let bad = || StoreError::CorruptRecord {
        what: "audit head",
        detail: format!("{} bytes instead of 40", value.len()),
    };
    let chain = u64::from_be_bytes(value.get(..8).ok_or_else(bad)?.try_into().map_err(|_| bad())?);
    let hash = value.get(8..).ok_or_else(bad)?.try_into().map_err(|_| bad())?;
    Ok(Some((chain, hash)))
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
            fn vault_id(&self) -> Result<[u8; 16], StoreError> {
                $crate::store::typed::vault_id(self)
            }
            fn tenant_audit_head(&self, tenant: &str) -> Result<Option<(u64, [u8; 32])>, StoreError> {
                $crate::store::typed::tenant_audit_head(self, tenant)
            }
            fn monitor_checkpoint(&self, tenant: &str) -> Result<Option<String>, StoreError> {
                $crate::store::typed::monitor_checkpoint(self, tenant)
            }
            fn token(&self, id: &[u8; 8]) -> Result<Option<$crate::store::records::TokenRecord>, StoreError> {
                $crate::store::typed::token(self, id)
            }
            fn for_each_token(&self, visit: &mut RecordVisit<'_, $crate::store::records::TokenRecord>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_token(self, visit)
            }
            fn staging(&self) -> Result<Vec<[u8; 16]>, StoreError> {
                $crate::store::typed::staging(self)
            }
            fn for_each_audit(&self, visit: &mut AuditVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_audit(self, visit)
            }
            fn for_each_tenant_audit(&self, tenant: &str, from: u64, visit: &mut AuditVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_tenant_audit(self, tenant, from, visit)
            }
            fn tenant_rows(&self, tenant: &str, audit_from: u64, items: bool, engineer: Option<&str>) -> Result<Vec<$crate::store::raw::Row>, StoreError> {
                $crate::store::typed::tenant_rows(self, tenant, audit_from, items, engineer)
            }
            fn meta_rows(&self, prefix: &[u8]) -> Result<Vec<$crate::store::raw::Entry>, StoreError> {
                $crate::store::typed::meta_rows(self, prefix)
            }
            fn for_each_audit_from(&self, from: u64, visit: &mut AuditVisit<'_>) -> Result<(), StoreError> {
                $crate::store::typed::for_each_audit_from(self, from, visit)
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
            fn put_token(&self, t: &$crate::store::records::TokenRecord) -> Result<(), StoreError> {
                $crate::store::typed::put_token(self, t)
            }
            fn end_staging(&self, blob: &[u8; 16]) -> Result<bool, StoreError> {
                self.remove(Table::Meta, &$crate::store::raw::staging_key(blob))
            }
            fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
                $crate::store::typed::append_audit(self, entry)
            }
            fn put_monitor_checkpoint(&self, tenant: &str, note: &str) -> Result<(), StoreError> {
                $crate::store::typed::put_monitor_checkpoint(self, tenant, note)
            }
            fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
                self.put(Table::Meta, key, value)
            }
            fn remove_meta(&self, key: &[u8]) -> Result<bool, StoreError> {
                self.remove(Table::Meta, key)
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
