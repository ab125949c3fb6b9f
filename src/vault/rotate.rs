//! Level rotation, the vault's half: a new epoch's public key registered, and optionally every
//! existing item's header replaced by one whose data key the customer re-wrapped to it (content
//! is not re-encrypted: the payload binds the content epoch, the wrap binds the key epoch; see
//! docs/DESIGN.md). The customer's half, with the keyring, is [`crate::customer::rotate_level`].

use super::tenants::{NewEpoch, current_epoch, epoch_record, no_tenant};
use super::{Error, Vault, valid_name};
use crate::format::{AuditEvent, Header};
use crate::store::Reads;

/// The outcome of a rotation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rotation {
    /// The level's new current epoch.
    pub epoch: u32,
    /// Items whose data key was re-wrapped to it.
    pub rewrapped: u64,
}

/// One item's header, re-wrapped by the customer to a new epoch.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rewrapped {
    /// Item id.
    pub item: String,
    /// The header the customer read and re-wrapped: the commit refuses if the item changed.
    pub old_header: Vec<u8>,
    /// The new header (same content keys, data key wrapped to the new epoch).
    pub header: Vec<u8>,
}

impl Vault {
    /// The current epoch of `level` of `tenant`.
    pub fn current_epoch(&self, tenant: &str, level: &str) -> Result<u32, Error> {
        let record = self.tenant(tenant)?;
        Ok(current_epoch(&record, level)?.epoch)
    }

    /// Every item of `level` whose data key is wrapped to an epoch before `epoch`, with its
    /// stored header (bytes and decoded), in id order: what a rewrap to `epoch` must cover.
    /// A header that does not decode stops the scan with an integrity error naming the item.
    pub fn stale_items(&self, tenant: &str, level: &str, epoch: u32) -> Result<Vec<(String, Header)>, Error> {
        valid_name("tenant", tenant)?;
        self.widen(tenant, u64::MAX, true)?;
        let snapshot = self.store().begin_read()?;
        stale_items(&*snapshot, tenant, level, epoch)
    }

    /// Registers epoch `new.epoch` of `new.level` (which must be the current epoch plus one) and
    /// stores the re-wrapped headers in the same transaction. With `rewrapped` given (even
    /// empty), it must cover every item still under an older epoch, each unchanged since the
    /// customer read it; otherwise the rotation is refused (exit 6) and nothing changes.
    /// `manifest` is the customer's next manifest, stating the new epoch.
    pub fn commit_rotation(
        &self,
        tenant: &str,
        new: &NewEpoch,
        rewrapped: Option<&[Rewrapped]>,
        manifest: &str,
    ) -> Result<Rotation, Error> {
        valid_name("tenant", tenant)?;
        valid_name("level", &new.level)?;
        let body = super::EpochBody {
            new: new.clone(),
            rewrapped: rewrapped.map(<[Rewrapped]>::to_vec),
            manifest: manifest.to_owned(),
        };
        if let Some(sent) = self.upstream_commit(tenant, super::Op::Rotate, &body) {
            let rotation: Rotation = sent?;
            let count = rewrapped.map_or(0, |r| r.len() as u64);
            if rotation.epoch != new.epoch || rotation.rewrapped != count {
                return Err(Error::integrity("the server answered the rotation with another epoch or count"));
            }
            return Ok(rotation);
        }
        let level = new.level.as_str();
        self.write(|tx| {
            let before = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
            let mut record = before.clone();
            let current = current_epoch(&record, level)?.epoch;
            if current.checked_add(1) != Some(new.epoch) {
                return Err(Error::conflict(format!(
                    "level {level:?} is at epoch {current}, so its next epoch is not {}; run the rotation again",
                    new.epoch
                )));
            }
            let entry =
                record.levels.iter_mut().find(|l| l.name == level).ok_or_else(|| Error::not_found(level))?;
            entry.epochs.push(epoch_record(new.epoch, new.public, self.now()));
            self.put_with_manifest(tx, &before, record, manifest)?;
            let mut count = 0;
            let mut lines = Vec::new();
            if let Some(rewrapped) = rewrapped {
                let stale = stale_items(tx, tenant, level, new.epoch)?;
                let changed = || Error::conflict("items of the level changed during the rotation; run it again");
                if stale.len() != rewrapped.len() {
                    return Err(changed());
                }
                let mut w = tx.item_writer()?;
                for ((id, header), r) in stale.iter().zip(rewrapped) {
                    if *id != r.item || header.encode().map_err(Error::encoding)? != r.old_header {
                        return Err(changed());
                    }
                    check_rewrap(tenant, id, header, &r.header, new)?;
                    let mut item = w.item(tenant, id)?.ok_or_else(changed)?;
                    item.header = r.header.clone();
                    w.put_item(tenant, id, &item)?;
                    lines.push(super::bulk::written(id, &item));
                    count += 1;
                }
            }
            let epoch = new.epoch;
            let first = |items| AuditEvent::LevelRotate { epoch, count, items };
            self.record_logged(tx, tenant, level, lines, first, |items| AuditEvent::LevelRotateItems {
                items,
            })?;
            Ok(Rotation { epoch: new.epoch, rewrapped: count })
        })
    }
}

/// A re-wrapped header may differ from the old one only in how its data key is wrapped: same
/// item, level, content epoch and content keys, now under the new epoch's key.
fn check_rewrap(tenant: &str, id: &str, old: &Header, new_bytes: &[u8], new: &NewEpoch) -> Result<(), Error> {
    let bad = |why: &str| Error::integrity(format!("the re-wrapped header of item {id:?} {why}"));
    let h = Header::decode(new_bytes).map_err(|e| bad(&format!("does not decode: {e}")))?;
    if h.tenant != tenant || h.item != id || h.level != new.level || h.key_epoch != new.epoch {
        return Err(bad("names another item, level or epoch"));
    }
    if h.fingerprint != crate::crypto::fingerprint(&new.public) {
        return Err(bad("is not wrapped to the new epoch's key"));
    }
    let mut same = old.clone();
    same.key_epoch = h.key_epoch;
    same.fingerprint = h.fingerprint;
    same.ephemeral = h.ephemeral;
    same.wrapped_dek = h.wrapped_dek;
    if same != h {
        return Err(bad("changes more than the wrapped data key"));
    }
    Ok(())
}

fn stale_items(
    reads: &dyn Reads,
    tenant: &str,
    level: &str,
    epoch: u32,
) -> Result<Vec<(String, Header)>, Error> {
    // By id and header only: records (which may hold a chunk inline) are not kept, so memory
    // does not grow with their content.
    let mut stale = Vec::new();
    let mut damaged = None;
    reads.for_each_item(tenant, &mut |id, item| {
        let header = item
            .map_err(|e| e.to_string())
            .and_then(|i| Header::decode(&i.header).map_err(|e| e.to_string()));
        match header {
            Ok(h) if h.level == level && h.key_epoch < epoch => stale.push((id.to_owned(), h)),
            Ok(_) => {}
            Err(e) => {
                damaged = Some(Error::integrity(format!("cannot re-wrap item {id:?}: {e}")));
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    damaged.map_or(Ok(stale), Err)
}
