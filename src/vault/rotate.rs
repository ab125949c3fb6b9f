//! Level rotation: a new epoch key, and optionally every existing item's data key re-wrapped
//! to it (content is not re-encrypted: the payload binds the content epoch, the wrap binds the
//! key epoch; see docs/DESIGN.md).

use super::envelope::Unwrappers;
use super::tenants::{epoch_record, find_level, new_epoch_key, no_tenant};
use super::{Error, Vault, now, valid_name};
use crate::crypto::{PublicKey, Purpose, Wrapped, Wrapper, fingerprint};
use crate::format::Header;
use crate::keyring::Keyring;
use crate::store::records::TenantRecord;
use crate::store::{Reads, WriteTx};

/// The outcome of a rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The level's new current epoch.
    pub epoch: u32,
    /// Items whose data key was re-wrapped to it.
    pub rewrapped: u64,
}

impl Vault {
    /// Starts a new epoch of `level`: its key is saved in `keyring` before it is registered.
    /// With `rewrap`, every item of the level is re-wrapped to the new epoch in the same
    /// transaction, so keys of older epochs no longer open anything in the vault.
    pub fn rotate_level(
        &self,
        tenant: &str,
        level: &str,
        keyring: &mut Keyring,
        rewrap: bool,
    ) -> Result<Rotation, Error> {
        valid_name("tenant", tenant)?;
        valid_name("level", level)?;
        let tx = self.store().begin_write()?;
        let mut record = tx.tenant(tenant)?.ok_or_else(|| no_tenant(tenant))?;
        let epoch = self.advance_epochs(&mut record, &[level.to_owned()], keyring)?[0];
        tx.put_tenant(&record)?;
        let rewrapped = if rewrap { rewrap_level(&tx, &record, level, epoch, keyring)? } else { 0 };
        let detail = format!("new epoch {epoch}; {rewrapped} item(s) re-wrapped");
        self.record(&tx, "level.rotate", tenant, level, &detail)?;
        tx.commit()?;
        Ok(Rotation { epoch, rewrapped })
    }

    /// Adds a new epoch to each of `levels` in `record` (in memory) and saves the keyring
    /// durably; the caller registers `record` in its transaction. Returns the new epochs.
    pub(crate) fn advance_epochs(
        &self,
        record: &mut TenantRecord,
        levels: &[String],
        keyring: &mut Keyring,
    ) -> Result<Vec<u32>, Error> {
        let time = now();
        let mut epochs = Vec::with_capacity(levels.len());
        for level in levels {
            let current = find_level(record, level)?.epochs.last().map_or(0, |e| e.epoch);
            let next = current
                .checked_add(1)
                .ok_or_else(|| Error::conflict(format!("level {level:?} has run out of epochs")))?;
            let public = new_epoch_key(keyring, &record.name, level, next)?;
            let entry = record
                .levels
                .iter_mut()
                .find(|l| &l.name == level)
                .ok_or_else(|| Error::not_found(level.clone()))?;
            entry.epochs.push(epoch_record(next, public, time));
            epochs.push(next);
        }
        keyring.save()?;
        Ok(epochs)
    }
}

/// Re-wraps the data key of every item of `level` held under an older epoch.
fn rewrap_level(
    tx: &WriteTx,
    record: &TenantRecord,
    level: &str,
    epoch: u32,
    keyring: &Keyring,
) -> Result<u64, Error> {
    let target =
        find_level(record, level)?.epochs.last().map(|e| e.public).ok_or_else(|| Error::not_found(level))?;
    // The items to re-wrap, by id and header only: records (which may hold a chunk inline)
    // are read again one at a time, so memory does not grow with their content.
    let mut stale: Vec<(String, Header)> = Vec::new();
    let mut damaged = None;
    tx.for_each_item(&record.name, &mut |id, item| {
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
    if let Some(e) = damaged {
        return Err(e);
    }
    let wrapper = Wrapper::new(&PublicKey(target))?;
    let mut unwrappers = Unwrappers::default();
    let mut w = tx.item_writer()?;
    let mut count = 0;
    for (id, mut header) in stale {
        let unwrapper = unwrappers.for_header(keyring, &header)?;
        if unwrapper.public().fingerprint() != header.fingerprint {
            return Err(Error::integrity(format!("item {id:?} names a key other than the keyring's")));
        }
        let wrapped = Wrapped { ephemeral: header.ephemeral, ciphertext: header.wrapped_dek };
        let dek = unwrapper.unwrap(Purpose::DataKey, &header.wrap_context(), &wrapped).map_err(|_| {
            Error::integrity(format!("cannot re-wrap item {id:?}: its data key does not unwrap"))
        })?;
        header.key_epoch = epoch;
        header.fingerprint = fingerprint(&target);
        let rewrapped = wrapper.wrap(Purpose::DataKey, &header.wrap_context(), &dek)?;
        header.ephemeral = rewrapped.ephemeral;
        header.wrapped_dek = rewrapped.ciphertext;
        let mut item = w.item(&record.name, &id)?.ok_or_else(|| Error::not_found(format!("item {id:?}")))?;
        item.header = header.encode();
        w.put_item(&record.name, &id, &item)?;
        count += 1;
    }
    Ok(count)
}
