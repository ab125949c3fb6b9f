//! What an audit entry records: a typed event with one canonical encoding (docs/FORMAT.md,
//! "Audit events"). Checks read these fields and nothing else; the front end renders the text
//! a person reads.

use super::cursor::utf8;
use super::{
    FormatError, Len, MAX_ITEM_ID_LEN, MAX_MANIFEST_LEVELS, MAX_NAME_LEN, MAX_NOTE_LEN, Reader, Writer,
    check_item_id, check_name,
};

/// Largest encoded event, in bytes: with the entry's other fields it stays inside a record.
pub const MAX_EVENT_LEN: usize = 768 * 1024;
/// Longest free text in an event (a reason, a case id, a message, a path), in bytes.
pub const MAX_TEXT_LEN: usize = 16 * 1024;
/// Most bytes of item lines one event carries (32-byte hash, 2-byte length and the id, per
/// item); a longer list continues in the events that follow it in the same transaction.
pub const MAX_LOGGED_LEN: usize = 512 * 1024;
/// Most grant or request ids one removal event lists.
pub const MAX_CLOSED_IDS: usize = 16 * 1024;

/// One item a write stored: the SHA-256 of the header stored, and the item id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// SHA-256 of the stored envelope header.
    pub header: [u8; 32],
    /// The item id.
    pub item: String,
}

impl Logged {
    /// Bytes this line takes in an encoded event.
    pub(crate) fn encoded_len(&self) -> usize {
        32 + 2 + self.item.len()
    }
}

/// What a single item's write (`put`, `put.raw`) stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The item's level.
    pub level: String,
    /// The level's content epoch the item was written at.
    pub epoch: u32,
    /// Plaintext size in bytes.
    pub size: u64,
    /// Whether an item of that id was replaced.
    pub replaced: bool,
    /// SHA-256 of the signed manifest the writer wrote under.
    pub manifest: [u8; 32],
    /// SHA-256 of the stored envelope header.
    pub header: [u8; 32],
}

/// What a removal closed: active grants revoked, undecided requests denied. Each list holds
/// at most [`MAX_CLOSED_IDS`] ids; its total says how many were closed in all, so a removal
/// of more (an engineer who filed thousands of requests) is still one entry, and says so.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closed {
    /// Grants revoked (the first [`MAX_CLOSED_IDS`]).
    pub grants_revoked: Vec<[u8; 16]>,
    /// How many grants were revoked.
    pub grants_total: u64,
    /// Requests denied (the first [`MAX_CLOSED_IDS`]).
    pub requests_denied: Vec<[u8; 16]>,
    /// How many requests were denied.
    pub requests_total: u64,
}

impl Closed {
    /// The record of closing `grants` and `requests`: every id up to the limit, and the totals.
    pub fn of(grants: &[[u8; 16]], requests: &[[u8; 16]]) -> Closed {
        let first = |ids: &[[u8; 16]]| ids[..ids.len().min(MAX_CLOSED_IDS)].to_vec();
        Closed {
            grants_revoked: first(grants),
            grants_total: grants.len() as u64,
            requests_denied: first(requests),
            requests_total: requests.len() as u64,
        }
    }
}

/// The item ids an export wrote: the SHA-256 over them (each followed by a newline), and the
/// list itself when it fits in [`MAX_LOGGED_LEN`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// SHA-256 over the ids, each followed by `\n`.
    pub digest: [u8; 32],
    /// The ids, if they fit.
    pub list: Option<Vec<String>>,
}

/// What happened. The tag byte of each kind is its position in this list, from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are described in docs/FORMAT.md, "Audit events"
pub enum AuditEvent {
    TenantCreate { levels: Vec<String> },
    TenantPolicy { max_access_secs: u64, request_ttl_secs: u64 },
    TenantDelete { items_erased: u64, closed: Closed },
    AcceptRestore { restored_seq: u64, lost_first: u64, lost_last: u64, levels_rotated: u32 },
    Manifest { note: String },
    LevelAdd { epoch: u32 },
    LevelRotate { epoch: u32, count: u64, items: Vec<Logged> },
    LevelRotateItems { items: Vec<Logged> },
    Put(Stored),
    PutRaw(Stored),
    Get { level: String, key_epoch: u32 },
    GetRaw,
    GetDenied { why: String },
    GetFailed { why: String },
    Rm,
    Import { level: String, epoch: u32, manifest: [u8; 32], count: u64, items: Vec<Logged> },
    ImportItems { items: Vec<Logged> },
    ImportSkipped { count: u64, dir: String },
    Export { total: u64, dir: String },
    ExportWritten { written: u64, total: u64, dir: String, ids: Ids },
    ExportSkipped { count: u64 },
    Backup { to: String },
    BackupFailed { to: String, why: String },
    RequestCreate { levels: Vec<String>, case_id: String, duration_secs: u64, reason: String },
    RequestApprove { grant: [u8; 16], engineer: String, levels: Vec<(String, u32)>, duration_secs: u64 },
    RequestDeny { reason: String },
    GrantRevoke { engineer: String },
    EngineerEnroll { fingerprint: [u8; 16] },
    EngineerRemove { closed: Closed },
}

/// The action names, in tag order (tag = index + 1).
const ACTIONS: [&str; 29] = [
    "tenant.create",
    "tenant.policy",
    "tenant.delete",
    "tenant.accept-restore",
    "manifest",
    "level.add",
    "level.rotate",
    "level.rotate.items",
    "put",
    "put.raw",
    "get",
    "get.raw",
    "get.denied",
    "get.failed",
    "rm",
    "import",
    "import.items",
    "import.skipped",
    "export",
    "export.written",
    "export.skipped",
    "backup",
    "backup.failed",
    "request.create",
    "request.approve",
    "request.deny",
    "grant.revoke",
    "engineer.enroll",
    "engineer.remove",
];

const WHAT: &str = "audit event";

impl AuditEvent {
    fn tag(&self) -> u8 {
        use AuditEvent::*;
        match self {
            TenantCreate { .. } => 1,
            TenantPolicy { .. } => 2,
            TenantDelete { .. } => 3,
            AcceptRestore { .. } => 4,
            Manifest { .. } => 5,
            LevelAdd { .. } => 6,
            LevelRotate { .. } => 7,
            LevelRotateItems { .. } => 8,
            Put(_) => 9,
            PutRaw(_) => 10,
            Get { .. } => 11,
            GetRaw => 12,
            GetDenied { .. } => 13,
            GetFailed { .. } => 14,
            Rm => 15,
            Import { .. } => 16,
            ImportItems { .. } => 17,
            ImportSkipped { .. } => 18,
            Export { .. } => 19,
            ExportWritten { .. } => 20,
            ExportSkipped { .. } => 21,
            Backup { .. } => 22,
            BackupFailed { .. } => 23,
            RequestCreate { .. } => 24,
            RequestApprove { .. } => 25,
            RequestDeny { .. } => 26,
            GrantRevoke { .. } => 27,
            EngineerEnroll { .. } => 28,
            EngineerRemove { .. } => 29,
        }
    }

    /// The action's stable name, e.g. `put`, `request.approve`.
    pub fn action(&self) -> &'static str {
        ACTIONS[usize::from(self.tag()) - 1]
    }

    /// Every action name, in tag order.
    pub fn actions() -> &'static [&'static str] {
        &ACTIONS
    }

    /// The items whose stored headers this event pins (writes and re-wraps), if any.
    pub fn logged_items(&self) -> &[Logged] {
        use AuditEvent::*;
        match self {
            LevelRotate { items, .. }
            | LevelRotateItems { items }
            | Import { items, .. }
            | ImportItems { items } => items,
            _ => &[],
        }
    }

    /// The canonical encoding: tag byte, then the kind's fields (docs/FORMAT.md).
    pub fn encode(&self) -> Result<Vec<u8>, FormatError> {
        use AuditEvent::*;
        let mut w = Writer::new();
        w.u8(self.tag());
        match self {
            TenantCreate { levels } => names(&mut w, levels)?,
            TenantPolicy { max_access_secs, request_ttl_secs } => {
                w.u64(*max_access_secs);
                w.u64(*request_ttl_secs);
            }
            TenantDelete { items_erased, closed } => {
                w.u64(*items_erased);
                put_closed(&mut w, closed)?;
            }
            AcceptRestore { restored_seq, lost_first, lost_last, levels_rotated } => {
                w.u64(*restored_seq);
                w.u64(*lost_first);
                w.u64(*lost_last);
                w.u32(*levels_rotated);
            }
            Manifest { note } => w.field("manifest note", Len::U32, MAX_NOTE_LEN, note.as_bytes())?,
            LevelAdd { epoch } => w.u32(*epoch),
            LevelRotate { epoch, count, items } => {
                w.u32(*epoch);
                w.u64(*count);
                put_logged(&mut w, items)?;
            }
            LevelRotateItems { items } | ImportItems { items } => put_logged(&mut w, items)?,
            Put(write) | PutRaw(write) => {
                name(&mut w, &write.level)?;
                w.u32(write.epoch);
                w.u64(write.size);
                w.u8(write.replaced.into());
                w.raw(&write.manifest);
                w.raw(&write.header);
            }
            Get { level, key_epoch } => {
                name(&mut w, level)?;
                w.u32(*key_epoch);
            }
            GetRaw | Rm => {}
            GetDenied { why } | GetFailed { why } => text(&mut w, why)?,
            Import { level, epoch, manifest, count, items } => {
                name(&mut w, level)?;
                w.u32(*epoch);
                w.raw(manifest);
                w.u64(*count);
                put_logged(&mut w, items)?;
            }
            ImportSkipped { count, dir } => {
                w.u64(*count);
                text(&mut w, dir)?;
            }
            Export { total, dir } => {
                w.u64(*total);
                text(&mut w, dir)?;
            }
            ExportWritten { written, total, dir, ids } => {
                w.u64(*written);
                w.u64(*total);
                text(&mut w, dir)?;
                w.raw(&ids.digest);
                match &ids.list {
                    None => w.u8(0),
                    Some(list) => {
                        w.u8(1);
                        let max = MAX_LOGGED_LEN / 3;
                        w.count("exported ids", list.len(), max)?;
                        for id in list {
                            item(&mut w, id)?;
                        }
                    }
                }
            }
            ExportSkipped { count } => w.u64(*count),
            Backup { to } => text(&mut w, to)?,
            BackupFailed { to, why } => {
                text(&mut w, to)?;
                text(&mut w, why)?;
            }
            RequestCreate { levels, case_id, duration_secs, reason } => {
                names(&mut w, levels)?;
                text(&mut w, case_id)?;
                w.u64(*duration_secs);
                text(&mut w, reason)?;
            }
            RequestApprove { grant, engineer, levels, duration_secs } => {
                w.raw(grant);
                name(&mut w, engineer)?;
                w.count("released levels", levels.len(), MAX_MANIFEST_LEVELS)?;
                for (level, epoch) in levels {
                    name(&mut w, level)?;
                    w.u32(*epoch);
                }
                w.u64(*duration_secs);
            }
            RequestDeny { reason } => text(&mut w, reason)?,
            GrantRevoke { engineer } => name(&mut w, engineer)?,
            EngineerEnroll { fingerprint } => w.raw(fingerprint),
            EngineerRemove { closed } => put_closed(&mut w, closed)?,
        }
        if w.len() > MAX_EVENT_LEN {
            let value = w.len() as u64;
            return Err(FormatError::OutOfRange {
                field: "audit event length",
                value,
                min: 1,
                max: MAX_EVENT_LEN as u64,
            });
        }
        Ok(w.into_bytes())
    }

    /// Decodes an event: the whole of `bytes`, canonical, every length within its limit.
    pub fn decode(bytes: &[u8]) -> Result<AuditEvent, FormatError> {
        use AuditEvent::*;
        super::cursor::in_range("audit event length", bytes.len() as u64, 1, MAX_EVENT_LEN as u64)?;
        let mut r = Reader::new(bytes, WHAT);
        let event = match r.u8()? {
            1 => TenantCreate { levels: get_names(&mut r)? },
            2 => TenantPolicy { max_access_secs: r.u64()?, request_ttl_secs: r.u64()? },
            3 => TenantDelete { items_erased: r.u64()?, closed: get_closed(&mut r)? },
            4 => AcceptRestore {
                restored_seq: r.u64()?,
                lost_first: r.u64()?,
                lost_last: r.u64()?,
                levels_rotated: r.u32()?,
            },
            5 => Manifest {
                note: utf8("manifest note", r.field("manifest note", Len::U32, MAX_NOTE_LEN)?)?.to_owned(),
            },
            6 => LevelAdd { epoch: r.u32()? },
            7 => LevelRotate { epoch: r.u32()?, count: r.u64()?, items: get_logged(&mut r)? },
            8 => LevelRotateItems { items: get_logged(&mut r)? },
            tag @ (9 | 10) => {
                let write = Stored {
                    level: get_name(&mut r, "level")?,
                    epoch: r.u32()?,
                    size: r.u64()?,
                    replaced: get_bool(&mut r)?,
                    manifest: r.array()?,
                    header: r.array()?,
                };
                if tag == 9 { Put(write) } else { PutRaw(write) }
            }
            11 => Get { level: get_name(&mut r, "level")?, key_epoch: r.u32()? },
            12 => GetRaw,
            13 => GetDenied { why: get_text(&mut r)? },
            14 => GetFailed { why: get_text(&mut r)? },
            15 => Rm,
            16 => Import {
                level: get_name(&mut r, "level")?,
                epoch: r.u32()?,
                manifest: r.array()?,
                count: r.u64()?,
                items: get_logged(&mut r)?,
            },
            17 => ImportItems { items: get_logged(&mut r)? },
            18 => ImportSkipped { count: r.u64()?, dir: get_text(&mut r)? },
            19 => Export { total: r.u64()?, dir: get_text(&mut r)? },
            20 => {
                let (written, total, dir, digest) = (r.u64()?, r.u64()?, get_text(&mut r)?, r.array()?);
                let list = match get_bool(&mut r)? {
                    false => None,
                    true => {
                        let n = r.count("exported ids", MAX_LOGGED_LEN / 3, 3)?;
                        let mut list = Vec::with_capacity(n);
                        for _ in 0..n {
                            list.push(get_item(&mut r)?);
                        }
                        Some(list)
                    }
                };
                ExportWritten { written, total, dir, ids: Ids { digest, list } }
            }
            21 => ExportSkipped { count: r.u64()? },
            22 => Backup { to: get_text(&mut r)? },
            23 => BackupFailed { to: get_text(&mut r)?, why: get_text(&mut r)? },
            24 => RequestCreate {
                levels: get_names(&mut r)?,
                case_id: get_text(&mut r)?,
                duration_secs: r.u64()?,
                reason: get_text(&mut r)?,
            },
            25 => {
                let grant = r.array()?;
                let engineer = get_name(&mut r, "engineer")?;
                let n = r.count("released levels", MAX_MANIFEST_LEVELS, 6)?;
                let mut levels = Vec::with_capacity(n);
                for _ in 0..n {
                    levels.push((get_name(&mut r, "level")?, r.u32()?));
                }
                RequestApprove { grant, engineer, levels, duration_secs: r.u64()? }
            }
            26 => RequestDeny { reason: get_text(&mut r)? },
            27 => GrantRevoke { engineer: get_name(&mut r, "engineer")? },
            28 => EngineerEnroll { fingerprint: r.array()? },
            29 => EngineerRemove { closed: get_closed(&mut r)? },
            tag => {
                return Err(FormatError::OutOfRange {
                    field: "audit event kind",
                    value: tag.into(),
                    min: 1,
                    max: ACTIONS.len() as u64,
                });
            }
        };
        r.finish()?;
        // Canonical: a logged list that is over its limit could not have been written.
        if event.logged_items().iter().map(Logged::encoded_len).sum::<usize>() > MAX_LOGGED_LEN {
            return Err(FormatError::NonCanonical {
                what: WHAT,
                why: "more logged items than one event holds",
            });
        }
        Ok(event)
    }
}

fn name(w: &mut Writer, name: &str) -> Result<(), FormatError> {
    // What the decoder refuses is never written: an entry that could not be read back would
    // break every later read of the log.
    check_name("name", name)?;
    w.field("name", Len::U8, MAX_NAME_LEN, name.as_bytes())
}

fn item(w: &mut Writer, id: &str) -> Result<(), FormatError> {
    check_item_id(id)?;
    w.field("item id", Len::U16, MAX_ITEM_ID_LEN, id.as_bytes())
}

fn names(w: &mut Writer, list: &[String]) -> Result<(), FormatError> {
    w.count("levels", list.len(), MAX_MANIFEST_LEVELS)?;
    list.iter().try_for_each(|n| name(w, n))
}

fn text(w: &mut Writer, text: &str) -> Result<(), FormatError> {
    w.field("audit text", Len::U32, MAX_TEXT_LEN, text.as_bytes())
}

fn put_logged(w: &mut Writer, items: &[Logged]) -> Result<(), FormatError> {
    let len: usize = items.iter().map(Logged::encoded_len).sum();
    if len > MAX_LOGGED_LEN {
        let value = len as u64;
        return Err(FormatError::OutOfRange {
            field: "logged items",
            value,
            min: 0,
            max: MAX_LOGGED_LEN as u64,
        });
    }
    w.count("logged items", items.len(), MAX_LOGGED_LEN)?;
    for l in items {
        w.raw(&l.header);
        item(w, &l.item)?;
    }
    Ok(())
}

fn put_closed(w: &mut Writer, closed: &Closed) -> Result<(), FormatError> {
    for (ids, total) in
        [(&closed.grants_revoked, closed.grants_total), (&closed.requests_denied, closed.requests_total)]
    {
        if !listed_as_canonical(ids.len(), total) {
            return Err(FormatError::NonCanonical { what: WHAT, why: "closed ids do not match their total" });
        }
        w.u64(total);
        w.count("closed ids", ids.len(), MAX_CLOSED_IDS)?;
        ids.iter().for_each(|id| w.raw(id));
    }
    Ok(())
}

/// A closed list holds every id up to the limit: all of them, or exactly the first limit.
fn listed_as_canonical(listed: usize, total: u64) -> bool {
    listed as u64 == total.min(MAX_CLOSED_IDS as u64)
}

fn get_name(r: &mut Reader<'_>, kind: &'static str) -> Result<String, FormatError> {
    let name = utf8(kind, r.field("name", Len::U8, MAX_NAME_LEN)?)?;
    check_name(kind, name)?;
    Ok(name.to_owned())
}

fn get_names(r: &mut Reader<'_>) -> Result<Vec<String>, FormatError> {
    let n = r.count("levels", MAX_MANIFEST_LEVELS, 2)?;
    (0..n).map(|_| get_name(r, "level")).collect()
}

fn get_text(r: &mut Reader<'_>) -> Result<String, FormatError> {
    Ok(utf8("audit text", r.field("audit text", Len::U32, MAX_TEXT_LEN)?)?.to_owned())
}

fn get_item(r: &mut Reader<'_>) -> Result<String, FormatError> {
    let id = utf8("item id", r.field("item id", Len::U16, MAX_ITEM_ID_LEN)?)?;
    check_item_id(id)?;
    Ok(id.to_owned())
}

fn get_bool(r: &mut Reader<'_>) -> Result<bool, FormatError> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(FormatError::NonCanonical { what: WHAT, why: "a flag is neither 0 nor 1" }),
    }
}

fn get_logged(r: &mut Reader<'_>) -> Result<Vec<Logged>, FormatError> {
    let n = r.count("logged items", MAX_LOGGED_LEN, 35)?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        items.push(Logged { header: r.array()?, item: get_item(r)? });
    }
    Ok(items)
}

fn get_closed(r: &mut Reader<'_>) -> Result<Closed, FormatError> {
    let mut list = || -> Result<(Vec<[u8; 16]>, u64), FormatError> {
        let total = r.u64()?;
        let n = r.count("closed ids", MAX_CLOSED_IDS, 16)?;
        if !listed_as_canonical(n, total) {
            return Err(FormatError::NonCanonical { what: WHAT, why: "closed ids do not match their total" });
        }
        Ok(((0..n).map(|_| r.array()).collect::<Result<_, _>>()?, total))
    };
    let (grants_revoked, grants_total) = list()?;
    let (requests_denied, requests_total) = list()?;
    Ok(Closed { grants_revoked, grants_total, requests_denied, requests_total })
}

/// One event of every kind, in tag order (tests and test vectors).
#[doc(hidden)]
pub fn samples() -> Vec<AuditEvent> {
    use AuditEvent::*;
    let write = Stored {
        level: "secret".into(),
        epoch: 2,
        size: 5,
        replaced: true,
        manifest: [1; 32],
        header: [2; 32],
    };
    let items = vec![
        Logged { header: [3; 32], item: "a/b.txt".into() },
        Logged { header: [4; 32], item: "c".into() },
    ];
    let closed = Closed::of(&[[5; 16]], &[[6; 16], [7; 16]]);
    vec![
        TenantCreate { levels: vec!["internal".into(), "secret".into()] },
        TenantPolicy { max_access_secs: 14_400, request_ttl_secs: 86_400 },
        TenantDelete { items_erased: 3, closed: closed.clone() },
        AcceptRestore { restored_seq: 4, lost_first: 5, lost_last: 6, levels_rotated: 2 },
        Manifest { note: "lockbox manifest\n\n— sig\n".into() },
        LevelAdd { epoch: 1 },
        LevelRotate { epoch: 3, count: 2, items: items.clone() },
        LevelRotateItems { items: items.clone() },
        Put(write.clone()),
        PutRaw(write),
        Get { level: "internal".into(), key_epoch: 1 },
        GetRaw,
        GetDenied { why: "level \"secret\" is not released".into() },
        GetFailed { why: "the item failed authentication".into() },
        Rm,
        Import { level: "internal".into(), epoch: 1, manifest: [8; 32], count: 2, items: items.clone() },
        ImportItems { items },
        ImportSkipped { count: 1, dir: "/srv/in".into() },
        Export { total: 2, dir: "/srv/out".into() },
        ExportWritten {
            written: 2,
            total: 2,
            dir: "/srv/out".into(),
            ids: Ids { digest: [9; 32], list: Some(vec!["a/b.txt".into(), "c".into()]) },
        },
        ExportSkipped { count: 0 },
        Backup { to: "vault.lbxb".into() },
        BackupFailed { to: "-".into(), why: "broken pipe".into() },
        RequestCreate {
            levels: vec!["secret".into()],
            case_id: "CASE-1".into(),
            duration_secs: 3600,
            reason: "disk full".into(),
        },
        RequestApprove {
            grant: [10; 16],
            engineer: "eve".into(),
            levels: vec![("secret".into(), 2)],
            duration_secs: 3600,
        },
        RequestDeny { reason: String::new() },
        GrantRevoke { engineer: "eve".into() },
        EngineerEnroll { fingerprint: [11; 16] },
        EngineerRemove { closed },
    ]
}

#[cfg(test)]
#[path = "audit_tests.rs"]
mod tests;
