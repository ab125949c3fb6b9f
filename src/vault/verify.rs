//! `verify`: scan the whole vault and report every damaged record or item, without keys for
//! structure and with the keyring for a full decrypt of every item it can open.

use std::collections::BTreeSet;

use super::chunks::stored_chunks;
use super::envelope::{finish_chunks, open_chunk};
use super::{Error, LevelKeys, Progress, Vault, find_level, item_opener_with, valid_name};
use crate::audit::{self, Verdict};
use crate::crypto::fingerprint;
use crate::format::{Header, hex};
use crate::keyring::Keyring;
use crate::store::records::{ItemRecord, TenantRecord};
use crate::store::{Reads, StoreError};

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Items checked.
    pub items: u64,
    /// Items fully decrypted with the keyring.
    pub decrypted: u64,
    /// Items whose key the keyring did not hold (structure checked only).
    pub skipped: u64,
    /// Puts that were storing chunks when the check's snapshot was taken (their chunks are
    /// not orphans: the put is still writing, or died and is swept at the next open).
    pub staging: u64,
    /// Every problem found, one line each, naming the record or item.
    pub problems: Vec<String>,
}

impl Vault {
    /// Checks every record of the vault (or of one tenant). With a keyring, also decrypts every
    /// item whose key it holds. Never stops at the first problem.
    pub fn verify(&self, tenant: Option<&str>, keyring: Option<&Keyring>) -> Result<VerifyReport, Error> {
        self.verify_with_progress(tenant, keyring, &mut |_, _| {})
    }

    /// [`Vault::verify`], telling `progress` the items checked so far (total not known).
    pub fn verify_with_progress(
        &self,
        tenant: Option<&str>,
        keyring: Option<&Keyring>,
        progress: &mut Progress<'_>,
    ) -> Result<VerifyReport, Error> {
        if let Some(t) = tenant {
            valid_name("tenant", t)?;
        }
        let snapshot = self.store().begin_read()?;
        let mut report = VerifyReport::default();
        let mut tenants = Vec::new();
        snapshot.for_each_tenant(&mut |k, t| {
            match t {
                Ok(t) if t.name.as_bytes() == k => tenants.push(t),
                Ok(t) => {
                    report.problems.push(format!("tenant record {:?} is stored under another name", t.name))
                }
                Err(e) => report.problems.push(format!("tenant {:?}: {e}", String::from_utf8_lossy(k))),
            }
            Ok(true)
        })?;
        if let Some(t) = tenant
            && !tenants.iter().any(|r| r.name == t)
        {
            return Err(super::no_tenant(t));
        }
        let mut live_blobs = BTreeSet::new();
        for t in tenants.iter().filter(|r| tenant.is_none_or(|want| r.name == want)) {
            snapshot.for_each_item(&t.name, &mut |id, record| {
                report.items += 1;
                if report.items.is_multiple_of(256) {
                    progress(report.items, 0);
                }
                match record {
                    Err(e) => report.problems.push(format!("item {id:?} of tenant {:?}: {e}", t.name)),
                    Ok(record) => {
                        live_blobs.insert(record.blob);
                        if let Err(e) = check_item(&*snapshot, t, id, &record, keyring, &mut report) {
                            report.problems.push(e.message);
                        }
                    }
                }
                Ok(true)
            })?;
        }
        if tenant.is_none() {
            check_orphans(&*snapshot, &live_blobs, &mut report)?;
            let mut damaged = |what: &str, k: &[u8], e: StoreError| {
                report.problems.push(format!("{what} {}: {e}", hex(&k[..k.len().min(16)])));
            };
            snapshot.for_each_engineer(&mut |k, r| {
                Ok(r.map_err(|e| damaged("engineer", k, e)).map_or(true, |_| true))
            })?;
            snapshot.for_each_request(&mut |k, r| {
                Ok(r.map_err(|e| damaged("request", k, e)).map_or(true, |_| true))
            })?;
            snapshot.for_each_grant(&mut |k, r| {
                Ok(r.map_err(|e| damaged("grant", k, e)).map_or(true, |_| true))
            })?;
            if let Verdict::Broken { seq, why } = audit::verify(&*snapshot)? {
                report.problems.push(format!("audit log broken at entry {seq}: {why}"));
            }
        }
        Ok(report)
    }
}

fn check_item(
    r: &dyn Reads,
    tenant: &TenantRecord,
    id: &str,
    record: &ItemRecord,
    keyring: Option<&Keyring>,
    report: &mut VerifyReport,
) -> Result<(), Error> {
    let bad = |why: String| Error::integrity(format!("item {id:?} of tenant {:?}: {why}", tenant.name));
    let header = Header::decode(&record.header).map_err(|e| bad(format!("damaged header: {e}")))?;
    if header.tenant != tenant.name || header.item != id {
        return Err(bad("its envelope names another item (it was moved)".into()));
    }
    let level = find_level(tenant, &header.level).map_err(|e| bad(e.message))?;
    let registered = level.epochs.iter().find(|e| e.epoch == header.key_epoch);
    match registered {
        Some(e) if fingerprint(&e.public) == header.fingerprint => {}
        _ => {
            return Err(bad(format!("it is wrapped to a key not registered for epoch {}", header.key_epoch)));
        }
    }
    if record.chunks == 0 {
        return Err(bad("it has no chunks".into()));
    }
    let unwrapper = keyring.and_then(|k| k.unwrapper(&header).ok());
    let Some(mut unwrapper) = unwrapper else {
        stored_chunks(r, record, &header, |_, _, _| Ok(()))?;
        report.skipped += u64::from(keyring.is_some());
        return Ok(());
    };
    let mut opener = item_opener_with(&header, &mut *unwrapper)?;
    stored_chunks(r, record, &header, |index, chunk, last| {
        open_chunk(&mut opener, &header, index, chunk, last)
    })?;
    finish_chunks(&opener, &header)?;
    report.decrypted += 1;
    Ok(())
}

/// Chunks whose blob no item references and no put is staging: left by nothing lockbox does,
/// so damage.
fn check_orphans(r: &dyn Reads, live: &BTreeSet<[u8; 16]>, report: &mut VerifyReport) -> Result<(), Error> {
    let staging: BTreeSet<[u8; 16]> = r.staging()?.into_iter().collect();
    report.staging = staging.len() as u64;
    let mut orphans = BTreeSet::new();
    r.for_each_chunk(&mut |chunk| {
        match chunk {
            Ok((blob, _)) if live.contains(&blob) || staging.contains(&blob) => {}
            Ok((blob, _)) => {
                orphans.insert(blob);
            }
            Err(_) => report.problems.push("a chunk key of the wrong length".into()),
        }
        Ok(true)
    })?;
    for blob in orphans {
        report.problems.push(format!("orphan chunks of blob {} (no item refers to them)", hex(&blob)));
    }
    Ok(())
}

/// An item id, the SHA-256 of its stored header, and the header decoded (none if it does not).
pub type StoredHeader = (String, [u8; 32], Option<crate::format::Header>);

impl Vault {
    /// SHA-256 of every stored item header of `tenant`, by id, with the header decoded (none
    /// if it does not decode): what the audit log's write entries are compared with, and where
    /// a write's level and key epoch are read (`verify --keyring`).
    pub(crate) fn stored_headers(&self, tenant: &str) -> Result<Vec<StoredHeader>, Error> {
        valid_name("tenant", tenant)?;
        headers_in(&*self.store().begin_read()?, tenant)
    }

    /// `tenant`'s audit entries and its items' stored headers, from one snapshot: a write
    /// that lands between two reads would show as an item its log does not explain.
    pub(crate) fn audit_and_headers(
        &self,
        tenant: &str,
    ) -> Result<(Vec<crate::audit::Entry>, Vec<StoredHeader>), Error> {
        valid_name("tenant", tenant)?;
        self.widen(tenant, 1, true)?;
        let snapshot = self.store().begin_read()?;
        let entries = crate::audit::entries(&*snapshot, Some(tenant))?;
        Ok((entries, headers_in(&*snapshot, tenant)?))
    }
}

fn headers_in(snapshot: &dyn Reads, tenant: &str) -> Result<Vec<StoredHeader>, Error> {
    let mut out = Vec::new();
    snapshot.for_each_item(tenant, &mut |id, record| {
        let hash = record.as_ref().map(|r| crate::crypto::sha256(&r.header)).unwrap_or([0; 32]);
        let header = record.ok().and_then(|r| crate::format::Header::decode(&r.header).ok());
        out.push((id.to_owned(), hash, header));
        Ok(true)
    })?;
    Ok(out)
}
