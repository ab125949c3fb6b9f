//! Re-encryption: for the case a rewrap cannot cover, an engineer who kept the *data keys* they
//! unwrapped under a grant. The level moves to a new epoch; then each item still under an older
//! one is decrypted with the keyring and written again as a new `put` does: a fresh data key,
//! a fresh nonce, new content keys, wrapped to the new epoch, stored with the same durability
//! rules. Old data keys then open nothing in the live vault.
//!
//! The plaintext streams from the reader to the writer through a pipe in memory (never a
//! file). Each item is replaced atomically; a run that stops part-way leaves every item either
//! old or new, and running it again rotates once more and re-encrypts every item of the level.
//! An item written meanwhile is a conflict for that item (it is not overwritten).

use std::io::Read;
use std::sync::Arc;
use std::sync::mpsc;

use super::rotate::rotate_level;
use super::sync::tenant_keys;
use crate::crypto::tenant_fingerprint;
use crate::format::Header;
use crate::keyring::Keyring;
use crate::trust::Pins;
use crate::vault::{Error, Progress, Rotation, Vault};

/// Rotates `level` to a new epoch and re-encrypts every item of it under a fresh data key
/// wrapped to that epoch. `progress` gets the items done and their count.
pub fn reencrypt_level(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    progress: &mut Progress<'_>,
) -> Result<Rotation, Error> {
    reencrypt_level_with(vault, keyring, tenant, level, progress, &mut |writer, keyring, id, header, read| {
        copy_item(vault, writer, keyring, (tenant, id, level), header.chunk_size, read)
    })
}

/// How one item is re-encrypted: given the writer (a vault handle that trusts the manifest
/// just signed), the keyring, the item's id, its header as read, and that header's SHA-256
/// (the version a replacement may replace).
pub type CopyItem<'a> = dyn FnMut(&Vault, &Keyring, &str, &Header, [u8; 32]) -> Result<(), Error> + 'a;

/// [`reencrypt_level`], each item decrypted and written again by `copy` (through a server,
/// where the envelopes are not in `vault`).
pub fn reencrypt_level_with(
    vault: &Vault,
    keyring: &mut Keyring,
    tenant: &str,
    level: &str,
    progress: &mut Progress<'_>,
    copy: &mut CopyItem<'_>,
) -> Result<Rotation, Error> {
    let rotation = rotate_level(vault, keyring, tenant, level, false)?;
    // The customer writes under the manifest it has just signed: its own key is the pin.
    let signer = tenant_keys(keyring, vault, tenant)?.signing().public();
    let writer = vault.with_pins(Arc::new(Pins::in_memory()));
    writer.trust_tenant(tenant, tenant_fingerprint(&signer))?;
    let stale = vault.stale_items(tenant, level, rotation.epoch)?;
    let total = stale.len() as u64;
    let mut done = 0;
    for (id, header) in stale {
        if header.tenant != tenant || header.level != level || header.item != id {
            return Err(Error::integrity(format!(
                "item {id:?} of tenant {tenant:?} holds the header of another item, tenant or level: it was not re-encrypted"
            )));
        }
        let read = crate::crypto::sha256(&header.encode().map_err(Error::encoding)?);
        copy(&writer, keyring, &id, &header, read).map_err(|e| e.context(format!("re-encrypting {id:?}")))?;
        done += 1;
        progress(done, total);
    }
    Ok(Rotation { epoch: rotation.epoch, rewrapped: done })
}

/// Reads `id` with `keyring` on one thread and puts it again on this one. The writer sees the
/// end of its input only after the reader reported success: a reader that fails part-way makes
/// the put fail, never store a truncated item.
fn copy_item(
    reader: &Vault,
    writer: &Vault,
    keyring: &Keyring,
    (tenant, id, level): (&str, &str, &str),
    chunk_size: u32,
    read: [u8; 32],
) -> Result<(), Error> {
    let (pipe_in, mut pipe_out) =
        std::io::pipe().map_err(|e| Error::other(format!("cannot make a pipe: {e}")))?;
    let (done, outcome) = mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let result = reader.get(tenant, id, keyring, &mut pipe_out).map(|_| ());
            let _ = done.send(result);
            drop(pipe_out);
        });
        let mut input = Checked { pipe: pipe_in, outcome: &outcome, result: None };
        // Replaces only the version read: a write made meanwhile is a conflict, not lost.
        let put = writer.replace_if_unchanged(tenant, id, level, &mut input, chunk_size, read);
        // Closing the pipe stops a reader the put no longer listens to.
        drop(input.pipe);
        let read = input
            .result
            .take()
            .unwrap_or_else(|| outcome.recv().unwrap_or_else(|_| Err(Error::other("the reader stopped"))));
        match (read, put) {
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(_)) => Ok(()),
        }
    })
}

/// The reading end of the pipe; its end of input counts only if the reader succeeded.
struct Checked<'a> {
    pipe: std::io::PipeReader,
    outcome: &'a mpsc::Receiver<Result<(), Error>>,
    /// The reader's outcome, once the end of input made us wait for it.
    result: Option<Result<(), Error>>,
}

impl Read for Checked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let result = self.result.get_or_insert_with(|| {
                self.outcome.recv().unwrap_or_else(|_| Err(Error::other("the reader stopped")))
            });
            if let Err(e) = result {
                return Err(std::io::Error::other(e.message.clone()));
            }
        }
        Ok(n)
    }
}
