//! One item through a server, sealed or opened on this machine as it streams: the envelope
//! is made while it is sent, and read while it is decrypted, so memory stays flat whatever
//! the item's size.

use std::io::{self, BufWriter, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lockbox::vault::{Error, ErrorKind, ItemInfo, LevelKeys, Replace, Vault};

use super::remote::Remote;

/// Seals `input` as item `item` of `level`, under the level's current key as `view` (checked
/// against this machine's pins) names it, and sends the envelope to the server as it is made.
/// Every check is made before the first byte goes out.
#[allow(clippy::too_many_arguments)]
pub fn upload_sealed(
    remote: &Remote,
    view: &Vault,
    tenant: &str,
    item: &str,
    level: &str,
    chunk_size: Option<u32>,
    input: Box<dyn Read + Send>,
    replace: Replace,
) -> Result<ItemInfo, Error> {
    // Sealed as the upload reads it: no second thread, no pipe.
    let sealing = view.sealing_reader(tenant, item, level, chunk_size, input)?;
    let failure = sealing.failure();
    let sent = remote.put_raw(tenant, item, Box::new(sealing), replace);
    // A sealing error (the input, say) says more than the server's refusal of the envelope
    // it cut short.
    match failure.lock().unwrap_or_else(|p| p.into_inner()).take() {
        Some(e) => Err(e),
        None => sent,
    }
}

/// Runs `f` with the plaintext of item `item`, decrypted with `keys` on another thread as the
/// server streams its envelope: `f` reads it from a pipe whose end counts only if the whole
/// envelope opened. A decryption error wins over what `f` made of the cut input. Returns what
/// `f` did and the envelope's header.
pub fn with_decrypted<T>(
    remote: &Remote,
    tenant: &str,
    item: &str,
    keys: &(dyn LevelKeys + Sync),
    f: impl FnOnce(Box<dyn Read + Send>) -> Result<T, Error>,
) -> Result<(T, lockbox::format::Header), Error> {
    let mut envelope = remote.envelope(tenant, item).map_err(|e| super::remote::withheld(item, e))?;
    let (pipe_out, pipe_in) = io::pipe().map_err(|e| Error::other(format!("cannot make a pipe: {e}")))?;
    let opened_whole = Arc::new(AtomicBool::new(false));
    let plain = WholeOrFailed { pipe: pipe_out, whole: opened_whole.clone() };
    std::thread::scope(|scope| {
        let opening = scope.spawn(move || {
            let mut out = BufWriter::with_capacity(256 * 1024, pipe_in);
            let header = lockbox::vault::open_envelope_of(tenant, item, &mut envelope, keys, &mut out)?;
            out.flush().map_err(Error::output)?;
            opened_whole.store(true, Ordering::SeqCst);
            Ok(header)
        });
        let used = f(Box::new(plain));
        let opened = opening.join().unwrap_or_else(|_| Err(Error::other("the decrypting thread stopped")));
        match (opened, used) {
            (Err(e), _) if e.kind != ErrorKind::BrokenPipe => Err(e),
            (Ok(header), Ok(used)) => Ok((used, header)),
            (_, Err(e)) | (Err(e), Ok(_)) => Err(e),
        }
    })
}

/// The reading end of a pipe fed by another thread: its end is the data's end only if that
/// thread finished; one that failed (or panicked) part-way makes the read fail, so nothing
/// cut short is ever taken as whole.
pub struct WholeOrFailed {
    pipe: io::PipeReader,
    whole: Arc<AtomicBool>,
}

impl Read for WholeOrFailed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.pipe.read(buf)? {
            0 if !buf.is_empty() && !self.whole.load(Ordering::SeqCst) => {
                Err(io::Error::other("the item could not be processed to the end"))
            }
            n => Ok(n),
        }
    }
}
