//! Backup files: every record of every table, from one read snapshot, hash-chained.
//!
//! ```text
//! header  "LBXB" | version u8 = 1 | 3 reserved zero bytes
//! record  table u8 (1..=8) | key length u32 (1..=2048) | value length u32 (0..=16 MiB + 16)
//!         | key | value | chain (32)
//! trailer 0xFF | record count u64 | chain (32) = the last record's chain (or chain 0)
//! chain 0 = SHA-256("lockbox/v1 backup\0" || header)
//! chain n = SHA-256("lockbox/v1 backup\0" || chain n-1 || table || lengths || key || value)
//! ```
//! The chain makes any changed, removed, reordered or added record fail at its own offset; the
//! trailer makes a truncated file fail. Records are never secret: the vault holds none.

use std::io::{Read, Write};

use sha2::{Digest, Sha256};

use super::raw::{RawRead, RawWrite, Table};
use super::{RedbStore, StoreError};

const MAGIC: [u8; 4] = *b"LBXB";
const VERSION: u8 = 1;
const LABEL: &[u8] = b"lockbox/v1 backup\0";
const TRAILER: u8 = 0xFF;
/// Longest key in any table (tenant, NUL, 1024-byte item id, with margin).
pub const MAX_KEY_LEN: u32 = 2048;
/// Longest value: a chunk of the largest chunk size with its tag.
pub const MAX_VALUE_LEN: u32 = 16 * 1024 * 1024 + 16;

fn table_code(t: Table) -> u8 {
    t.index() as u8 + 1
}

fn table_of(code: u8) -> Option<Table> {
    Table::ALL.get((code as usize).checked_sub(1)?).copied()
}

fn header() -> [u8; 8] {
    [MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3], VERSION, 0, 0, 0]
}

fn link(prev: &[u8; 32], table: u8, key: &[u8], value: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(LABEL)
        .chain_update(prev)
        .chain_update([table])
        .chain_update((key.len() as u32).to_be_bytes())
        .chain_update((value.len() as u32).to_be_bytes())
        .chain_update(key)
        .chain_update(value)
        .finalize()
        .into()
}

/// What a backup or restore handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    /// Records written or restored.
    pub records: u64,
    /// Bytes of the backup file.
    pub bytes: u64,
}

/// Writes every table of `snapshot` (one consistent view) to `out`.
pub(super) fn write_backup(snapshot: &dyn RawRead, out: &mut dyn Write) -> Result<BackupSummary, StoreError> {
    let mut chain: [u8; 32] = Sha256::new().chain_update(LABEL).chain_update(header()).finalize().into();
    out.write_all(&header())?;
    let mut summary = BackupSummary { records: 0, bytes: 8 };
    for table in Table::ALL {
        let code = table_code(table);
        let mut failed = None;
        snapshot.scan(table, b"", None, &mut |k, v| {
            chain = link(&chain, code, k, v);
            let write = (|| {
                out.write_all(&[code])?;
                out.write_all(&(k.len() as u32).to_be_bytes())?;
                out.write_all(&(v.len() as u32).to_be_bytes())?;
                out.write_all(k)?;
                out.write_all(v)?;
                out.write_all(&chain)
            })();
            if let Err(e) = write {
                failed = Some(e);
                return Ok(false);
            }
            summary.records += 1;
            summary.bytes += 9 + k.len() as u64 + v.len() as u64 + 32;
            Ok(true)
        })?;
        if let Some(e) = failed {
            return Err(StoreError::Io(e));
        }
    }
    out.write_all(&[TRAILER])?;
    out.write_all(&summary.records.to_be_bytes())?;
    out.write_all(&chain)?;
    out.flush()?;
    summary.bytes += 41;
    Ok(summary)
}

impl RedbStore {
    /// Creates a database at `path` from a backup, checking every record as it goes; on any
    /// problem nothing is committed and the error names the first bad offset.
    pub(crate) fn restore_from(
        path: &std::path::Path,
        input: &mut dyn Read,
    ) -> Result<(RedbStore, BackupSummary), StoreError> {
        let store = RedbStore::create_empty(path)?;
        let result = (|| {
            let tx = store.begin_raw_write()?;
            let summary = read_backup(input, &mut |table, k, v| tx.put(table, k, v))?;
            // A backup of another schema would restore into a vault no command can open.
            match tx.get(Table::Meta, b"schema")?.as_deref() {
                Some([super::SCHEMA_VERSION]) => {}
                other => {
                    let found = other.unwrap_or_default().to_vec();
                    return Err(StoreError::Schema { path: path.to_owned(), found });
                }
            }
            tx.commit()?;
            Ok(summary)
        })();
        match result {
            Ok(summary) => Ok((store, summary)),
            Err(e) => {
                drop(store);
                let _ = std::fs::remove_file(path);
                Err(e)
            }
        }
    }
}

/// Checks a backup without restoring it: every record, the chain and the trailer. The fuzz
/// target's entry point; `restore` runs the same reader.
#[doc(hidden)]
pub fn check_backup(input: &mut dyn Read) -> Result<BackupSummary, StoreError> {
    read_backup(input, &mut |_, _, _| Ok(()))
}

/// Receives each restored record.
pub(super) type Sink<'a> = dyn FnMut(Table, &[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// Reads and checks a backup, handing each record to `put`.
pub(super) fn read_backup(input: &mut dyn Read, put: &mut Sink<'_>) -> Result<BackupSummary, StoreError> {
    let mut offset = 0u64;
    let bad = |offset: u64, why: &str| StoreError::BadBackup { offset, detail: why.to_owned() };
    let mut read = |buf: &mut [u8], offset: &mut u64| -> Result<(), StoreError> {
        input.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(*offset, "the file ends early (truncated)"),
            _ => StoreError::Io(e),
        })?;
        *offset += buf.len() as u64;
        Ok(())
    };
    let mut head = [0u8; 8];
    read(&mut head, &mut offset)?;
    if head[..4] != MAGIC {
        return Err(bad(0, "not a lockbox backup (wrong magic)"));
    }
    if head[4] != VERSION {
        return Err(bad(4, &format!("unsupported backup version {}", head[4])));
    }
    if head[5..] != [0, 0, 0] {
        return Err(bad(5, "reserved bytes are set"));
    }
    let mut chain: [u8; 32] = Sha256::new().chain_update(LABEL).chain_update(head).finalize().into();
    let mut records = 0u64;
    loop {
        let start = offset;
        let mut code = [0u8; 1];
        read(&mut code, &mut offset)?;
        if code[0] == TRAILER {
            let mut count = [0u8; 8];
            read(&mut count, &mut offset)?;
            let mut last = [0u8; 32];
            read(&mut last, &mut offset)?;
            if u64::from_be_bytes(count) != records || last != chain {
                return Err(bad(start, "the trailer does not match the records (records missing or added)"));
            }
            let mut extra = [0u8; 1];
            if input.read(&mut extra)? != 0 {
                return Err(bad(offset, "bytes follow the trailer"));
            }
            return Ok(BackupSummary { records, bytes: offset });
        }
        let table = table_of(code[0]).ok_or_else(|| bad(start, &format!("unknown table {}", code[0])))?;
        let mut lens = [0u8; 8];
        read(&mut lens, &mut offset)?;
        let key_len = u32::from_be_bytes([lens[0], lens[1], lens[2], lens[3]]);
        let value_len = u32::from_be_bytes([lens[4], lens[5], lens[6], lens[7]]);
        if key_len == 0 || key_len > MAX_KEY_LEN || value_len > MAX_VALUE_LEN {
            return Err(bad(start, "a record length is outside its limit"));
        }
        let mut key = vec![0u8; key_len as usize];
        read(&mut key, &mut offset)?;
        let mut value = vec![0u8; value_len as usize];
        read(&mut value, &mut offset)?;
        let mut stored = [0u8; 32];
        read(&mut stored, &mut offset)?;
        chain = link(&chain, code[0], &key, &value);
        if stored != chain {
            return Err(bad(start, "record does not match its checksum (changed, removed or reordered)"));
        }
        put(table, &key, &value)?;
        records += 1;
    }
}
